"""Augmentation layers (issue 23 part B): conformance harness, Keras's numbers on settings
that fix the randomness, the inference path, and reproducibility under a seed."""
import jax
import numpy as np
import pytest

import trine
from harness import check_layer
from trine import layers as L

X = (np.random.default_rng(0).random((2, 8, 6, 3)) * 255).astype(np.float32)

NEW_CLASSES = {c.__name__: c for c in (
    L.RandomBrightness, L.RandomGrayscale, L.RandomInvert, L.Solarization,
    L.RandomPosterization, L.AutoContrast, L.RandomCrop, L.Pipeline, L.RandomColorDegeneration)}

CASES = [
    lambda: L.RandomBrightness(0.2, seed=1),
    lambda: L.RandomGrayscale(0.5, seed=2),
    lambda: L.RandomInvert(0.5, seed=3),
    lambda: L.Solarization(0.3, 0.6, seed=4),
    lambda: L.RandomPosterization(6, seed=5),
    lambda: L.AutoContrast(),
    lambda: L.RandomCrop(4, 5, seed=6),
    lambda: L.RandomColorDegeneration(0.5, seed=9),
]


def _pipe():
    return L.Pipeline([L.RandomBrightness(0.1, seed=7), L.RandomInvert(0.5, seed=8)])


@pytest.mark.parametrize("training", [False, True])
def test_pipeline_conformance_and_order(training):
    # Keras's Pipeline augments when called eagerly without `training`; pass it explicitly
    with trine.saving.custom_object_scope(NEW_CLASSES):
        if training:
            check_layer(_pipe, X.shape, input_data=X, training=True, check_mixed=False)
        else:
            check_layer(_pipe, X.shape, input_data=X, call_kwargs={"training": False},
                        mixed_tol=2e-2)
    p = L.Pipeline([L.RandomBrightness((0.1, 0.1)), L.RandomInvert(1.0)])
    np.testing.assert_allclose(np.asarray(p(X)), 255.0 - np.minimum(X + 25.5, 255.0), atol=1e-3)
    np.testing.assert_array_equal(np.asarray(p(X, training=False)), X)


@pytest.mark.parametrize("make", CASES)
@pytest.mark.parametrize("training", [False, True])
def test_conformance(make, training):
    # Pipeline rebuilds its layers through the model-file allow-list; the scope keeps this
    # test independent of when the allow-list reviews each new class.
    with trine.saving.custom_object_scope(NEW_CLASSES):
        check_layer(make, X.shape, input_data=X, training=training, check_mixed=not training,
                    mixed_tol=2e-2)


# (trine layer, Keras layer) with the randomness pinned: a degenerate range or probability 1
PINNED = [
    ("RandomBrightness", dict(factor=(0.2, 0.2))),
    ("RandomBrightness", dict(factor=(-0.3, -0.3), value_range=(0, 1))),
    ("RandomGrayscale", dict(factor=1.0)),
    ("RandomInvert", dict(factor=(1.0, 1.0))),
    ("Solarization", dict(addition_factor=0.0, threshold_factor=0.0)),
    ("RandomPosterization", dict(factor=(3, 3))),
    ("AutoContrast", dict()),
    ("RandomColorDegeneration", dict(factor=(0.6, 0.6))),
    ("RandomColorDegeneration", dict(factor=(-0.4, -0.4), value_range=(0, 1))),
]


@pytest.mark.parametrize("name,kw", PINNED)
def test_pinned_randomness_matches_keras(name, kw):
    import keras
    x = X if kw.get("value_range") != (0, 1) else X / 255.0
    t = getattr(L, name)(**kw)
    k = getattr(keras.layers, name)(**kw)
    np.testing.assert_allclose(np.asarray(t(x, training=True)), np.asarray(k(x, training=True)),
                               rtol=1e-5, atol=1e-3)
    # inference: the input, except AutoContrast (not random, always applied)
    np.testing.assert_allclose(np.asarray(t(x, training=False)),
                               np.asarray(k(x, training=False)), rtol=1e-5, atol=1e-3)
    # Keras reads trine's config
    kk = getattr(keras.layers, name).from_config(t.get_config())
    np.testing.assert_allclose(np.asarray(kk(x, training=True)), np.asarray(k(x, training=True)),
                               rtol=1e-5, atol=1e-3)


def test_random_crop_training_windows_and_inference_centre():
    y = np.asarray(L.RandomCrop(4, 3, seed=0)(X, training=True))
    hits = [(i, j) for i in range(5) for j in range(4)
            if np.array_equal(X[:, i:i + 4, j:j + 3], y)]
    assert len(hits) == 1  # an exact window of the input
    yi = np.asarray(L.RandomCrop(4, 6)(X))  # aspect 4:6 on 8x6 -> centre 4x6 crop, no resize
    np.testing.assert_array_equal(yi, X[:, 2:6])
    assert L.RandomCrop(3, 3)(X).shape == (2, 3, 3, 3)
    with pytest.raises(ValueError, match="RandomCrop layer .* height"):
        L.RandomCrop(0, 3)


def test_statistics_of_random_draws():
    x = np.full((400, 2, 2, 3), 100.0, np.float32)
    y = np.asarray(L.RandomBrightness(0.2, seed=0)(x, training=True))[:, 0, 0, 0] - 100.0
    assert -51.0 <= y.min() < -40.0 and 40.0 < y.max() <= 51.0 and abs(y.mean()) < 6.0
    g = np.asarray(L.RandomGrayscale(0.25, seed=0)(X.repeat(100, 0), training=True))
    gray_frac = np.mean(np.all(np.isclose(g[..., 0], g[..., 1]) & np.isclose(g[..., 1], g[..., 2]),
                               axis=(1, 2)))
    assert 0.15 < gray_frac < 0.35
    inv = np.asarray(L.RandomInvert((0.5, 0.5), seed=0)(x, training=True))[:, 0, 0, 0]
    assert 0.4 < np.mean(inv == 155.0) < 0.6


@pytest.mark.parametrize("make", CASES[:5] + CASES[6:])
def test_same_seed_same_augmentations_eager_and_fused(make):
    a, b = make(), make()
    np.testing.assert_array_equal(np.asarray(a(X, training=True)), np.asarray(b(X, training=True)))
    inp = trine.Input(X.shape[1:])
    m = trine.Model(inp, make()(inp))
    fn = jax.jit(lambda x, k: m.stateless_call(m.get_params(), m.get_state(), x, training=True,
                                               rng=k)[0])
    key = jax.random.key(3)
    r1 = np.asarray(fn(X, key))
    r2 = np.asarray(m.stateless_call(m.get_params(), m.get_state(), X, training=True, rng=key)[0])
    np.testing.assert_allclose(r1, r2, rtol=1e-6, atol=1e-4)
    # inactive at inference
    if not isinstance(m.layers[-1], (L.AutoContrast, L.RandomCrop)):
        np.testing.assert_array_equal(np.asarray(m.predict(X, verbose=0)), X)


def test_augmentation_inside_fit_and_save_load(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.normal(size=(2, 1)).astype(np.float32)

    def run():
        trine.utils.set_random_seed(5)
        model = trine.Sequential([trine.Input(X.shape[1:]), L.RandomBrightness(0.2, seed=3),
                                  L.RandomCrop(4, 4, seed=4), L.Flatten(), L.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(X, y, epochs=2, batch_size=2, verbose=0)
        return model

    m1, m2 = run(), run()
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    path = tmp_path / "aug.keras"
    m1.save(path)
    loaded = trine.saving.load_model(path, custom_objects=NEW_CLASSES)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), m1.predict(X, verbose=0), atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="RandomBrightness layer .* factor"):
        L.RandomBrightness(1.5)
    with pytest.raises(ValueError, match="value_range"):
        L.RandomInvert(value_range=(0,))
    with pytest.raises(ValueError, match="RandomPosterization layer .* factor"):
        L.RandomPosterization(9)
    with pytest.raises(ValueError, match="RandomGrayscale layer .* factor"):
        L.RandomGrayscale(2.0)
    with pytest.raises(ValueError, match="rank 3"):
        L.RandomBrightness(0.1)(np.ones((4, 4)), training=True)
    with pytest.raises(TypeError, match="dict"):
        L.RandomInvert()({"images": X}, training=True)
    with pytest.raises(ValueError, match="Pipeline"):
        L.Pipeline([1, 2])
