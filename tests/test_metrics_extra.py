"""Keras's IoU and correlation metrics against Keras's numbers, configs, errors, a tiny fit."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import trine  # noqa: E402
from trine import metrics  # noqa: E402


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


def _batches(kind, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(3):
        if kind == "sparse":
            y_true = rng.integers(-1, 5, (4, 3))  # -1: out of range, not counted
            y_pred = rng.integers(0, 4, (4, 3))
            sw = rng.integers(0, 3, (4, 3)).astype("float32")
        elif kind == "binary":
            y_true = rng.integers(0, 2, (6,))
            y_pred = rng.random(6).astype("float32")
            sw = rng.random(6).astype("float32") * 3
        elif kind == "onehot":
            y_true = np.eye(4, dtype="float32")[rng.integers(0, 4, 8)]
            y_pred = rng.random((8, 4)).astype("float32")
            sw = rng.integers(1, 3, 8).astype("float32")
        else:  # regression pairs
            y_true = rng.normal(size=(5, 6)).astype("float32")
            y_pred = (y_true + rng.normal(size=(5, 6)) * 0.7).astype("float32")
            sw = rng.random(5).astype("float32")
        out.append((y_true, y_pred, sw))
    return out


CASES = [
    ("IoU", {"num_classes": 4, "target_class_ids": [0, 2]}, "sparse"),
    ("IoU", {"num_classes": 4, "target_class_ids": [1], "ignore_class": 3,
             "dtype": "float32"}, "sparse"),
    ("MeanIoU", {"num_classes": 4}, "sparse"),
    ("MeanIoU", {"num_classes": 4, "ignore_class": 0, "dtype": "float32"}, "sparse"),
    ("MeanIoU", {"num_classes": 4, "sparse_y_true": False, "sparse_y_pred": False}, "onehot"),
    ("BinaryIoU", {}, "binary"),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3, "dtype": "float32"}, "binary"),
    ("OneHotIoU", {"num_classes": 4, "target_class_ids": [0, 3]}, "onehot"),
    ("OneHotMeanIoU", {"num_classes": 4}, "onehot"),
    ("OneHotMeanIoU", {"num_classes": 4, "ignore_class": 2, "dtype": "float32"}, "onehot"),
    ("PearsonCorrelation", {}, "regression"),
    ("ConcordanceCorrelation", {}, "regression"),
    ("ConcordanceCorrelation", {"axis": 0}, "regression"),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


# axis=0 gives one value per column, which per-row sample weights do not fit
WEIGHTED = [(c, w) for c in CASES for w in (False, True) if not (w and c[1].get("axis") == 0)]


@pytest.mark.parametrize("case,weighted", WEIGHTED,
                         ids=[f"{c[0]}-{CASES.index(c)}-{w}" for c, w in WEIGHTED])
def test_matches_keras(keras, case, weighted):
    name, kwargs, kind = case
    ours = getattr(metrics, name)(**kwargs)
    theirs = getattr(keras.metrics, name)(**kwargs)
    state = ours.stateless_reset_state()
    update = jax.jit(ours.stateless_update_state)
    for y_true, y_pred, sw in _batches(kind):
        w = sw if weighted else None
        ours.update_state(y_true, y_pred, sample_weight=w)
        theirs.update_state(y_true, y_pred, sample_weight=w)
        state = update(state, y_true, y_pred, sample_weight=w)
        np.testing.assert_allclose(float(ours.result()), float(theirs.result()),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(ours.stateless_result(state)), float(theirs.result()),
                               rtol=1e-5, atol=1e-6)
    ours.reset_state()
    theirs.reset_state()
    np.testing.assert_allclose(float(ours.result()), float(theirs.result()), atol=1e-7)


@pytest.mark.parametrize("name", ["pearson_correlation", "concordance_correlation"])
def test_functions_match_keras(keras, name):
    y_true, y_pred, _ = _batches("regression")[0]
    for axis in (-1, 0):
        np.testing.assert_allclose(
            np.asarray(getattr(metrics, name)(y_true, y_pred, axis=axis)),
            np.asarray(getattr(keras.metrics, name)(y_true, y_pred, axis=axis)), rtol=1e-5,
            atol=1e-6)


def test_metric_function_aliases(keras):
    y_true, y_pred, _ = _batches("binary")[0]
    y_true = y_true.astype("float32")
    for name in ("binary_focal_crossentropy", "huber"):
        np.testing.assert_allclose(np.asarray(getattr(metrics, name)(y_true, y_pred)),
                                   np.asarray(getattr(keras.metrics, name)(y_true, y_pred)),
                                   rtol=1e-5)
    t = np.eye(3, dtype="float32")[[0, 2]]
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], "float32")
    np.testing.assert_allclose(np.asarray(metrics.categorical_focal_crossentropy(t, p)),
                               np.asarray(keras.metrics.categorical_focal_crossentropy(t, p)),
                               rtol=1e-5)


@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=IDS)
def test_config_round_trip(keras, name, kwargs, kind):
    ours = getattr(metrics, name)(name="m", **kwargs)
    theirs = getattr(keras.metrics, name)(name="m", **kwargs)
    assert ours.get_config() == theirs.get_config()
    again = metrics.deserialize(metrics.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


def test_default_names(keras):
    assert metrics.IoU(3, [0]).name.startswith("io_u")
    assert metrics.MeanIoU(3).name.startswith("mean_io_u")
    assert metrics.OneHotMeanIoU(3).name.startswith("one_hot_mean_io_u")
    assert metrics.get("pearson_correlation").name == "pearson_correlation"


def test_bad_arguments():
    with pytest.raises(ValueError, match="out of range"):
        metrics.IoU(num_classes=2, target_class_ids=[0, 2])
    with pytest.raises(ValueError, match="target_class_ids"):
        metrics.IoU(num_classes=2, target_class_ids=[])
    with pytest.raises(ValueError, match="num_classes"):
        metrics.MeanIoU(num_classes=0)
    with pytest.raises(ValueError, match="labels"):
        metrics.MeanIoU(3).update_state([0, 1, 2], [0, 1])


def test_compile_fit_with_iou_and_correlation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0)
    model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=[metrics.MeanIoU(3, sparse_y_pred=False), metrics.IoU(
                      3, [1], sparse_y_pred=False, name="iou1")])
    hist = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    assert 0.0 <= hist["mean_io_u"][-1] <= 1.0 and 0.0 <= hist["iou1"][-1] <= 1.0
    ev = model.evaluate(x, y, verbose=0, return_dict=True)
    ref = metrics.MeanIoU(3, sparse_y_pred=False)
    ref.update_state(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(ev["mean_io_u"], float(ref.result()), rtol=1e-5)

    yr = x @ rng.normal(size=(4, 3)).astype("float32")
    model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse", metrics=["pearson_correlation",
                                                         metrics.ConcordanceCorrelation()])
    hist = model.fit(x, yr, epochs=2, batch_size=8, verbose=0).history
    assert np.isfinite(hist["pearson_correlation"][-1])
    assert np.isfinite(hist["concordance_correlation"][-1])


def test_compile_fit_with_binary_and_one_hot_iou():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 4)).astype("float32")
    yb = (x[:, :1] > 0).astype("float32")
    model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=[metrics.BinaryIoU(target_class_ids=[1], threshold=0.5)])
    hist = model.fit(x, yb, epochs=2, batch_size=8, verbose=0).history
    assert 0.0 <= hist["binary_io_u"][-1] <= 1.0

    yc = np.eye(3, dtype="float32")[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)]
    model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=[metrics.OneHotIoU(3, [0, 2], name="ohiou"),
                           metrics.OneHotMeanIoU(3, name="ohmiou")])
    model.fit(x, yc, epochs=2, batch_size=8, verbose=0)
    ev = model.evaluate(x, yc, verbose=0, return_dict=True)
    ref = metrics.OneHotMeanIoU(3)
    ref.update_state(yc, model.predict(x, verbose=0))
    np.testing.assert_allclose(ev["ohmiou"], float(ref.result()), rtol=1e-5)
    assert 0.0 <= ev["ohiou"] <= 1.0
