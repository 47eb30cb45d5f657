"""The three APIs are one model: same seed -> bit-identical weights, history, predictions."""
import numpy as np
import pytest

import trine
from trine.cli import build_models


@pytest.fixture(scope="module")
def small_fashion():
    from trine.datasets import fashion_mnist
    (x, y), (xt, yt) = fashion_mnist.load_data(fallback_to_sample=True)
    return (x[:3000] / 255.0, y[:3000]), (xt[:500] / 255.0, yt[:500])


def test_three_apis_bit_identical(small_fashion):
    (x, y), (xt, yt) = small_fashion
    runs = {}
    for name, make in build_models().items():
        trine.utils.set_random_seed(42)
        model = make()
        if name == "Subclassing":
            model.build((None, 28, 28))
        init = model.get_weights()
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                      metrics=["accuracy"])
        h = model.fit(x, y, epochs=2, batch_size=32, validation_split=0.1, verbose=0)
        runs[name] = (init, model.get_weights(), h.history, model.predict(xt, verbose=0),
                      model.evaluate(xt, yt, verbose=0))
    ref = runs["Sequential"]
    for name in ("Functional", "Subclassing"):
        init, w, hist, pred, ev = runs[name]
        assert len(init) == len(ref[0]) == 6
        assert all(np.array_equal(a, b) for a, b in zip(init, ref[0])), name
        assert all(np.array_equal(a, b) for a, b in zip(w, ref[1])), name
        assert hist == ref[2], name
        assert np.array_equal(pred, ref[3]), name
        assert ev == ref[4], name
    assert ref[4][1] > 0.6  # it learned something in two epochs on 2,700 images


def test_seed_changes_weights():
    make = build_models()["Sequential"]
    trine.utils.set_random_seed(1)
    a = make().get_weights()
    trine.utils.set_random_seed(2)
    b = make().get_weights()
    trine.utils.set_random_seed(1)
    c = make().get_weights()
    assert not np.array_equal(a[0], b[0])
    assert all(np.array_equal(p, q) for p, q in zip(a, c))


def test_subclass_builds_in_fit_with_same_weights(small_fashion):
    (x, y), _ = small_fashion
    models = build_models()
    trine.utils.set_random_seed(7)
    seq = models["Sequential"]()
    trine.utils.set_random_seed(7)
    sub = models["Subclassing"]()
    assert not sub.built
    for m in (seq, sub):
        m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        m.fit(x[:256], y[:256], epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(seq.get_weights(), sub.get_weights()))
