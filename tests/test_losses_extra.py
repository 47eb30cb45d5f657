"""Keras's focal, generalized, CTC, Dice, Tversky and Circle losses against Keras's numbers."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import trine  # noqa: E402
from trine import losses  # noqa: E402


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


def _inputs(kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "binary":
        y_true = (rng.random((6, 4)) > 0.5).astype("float32")
        return y_true, rng.random((6, 4)).astype("float32") * 0.98 + 0.01
    if kind == "logits":
        return (rng.random((6, 4)) > 0.5).astype("float32"), rng.normal(size=(6, 4)).astype(
            "float32")
    if kind == "onehot":
        y_true = np.eye(5, dtype="float32")[rng.integers(0, 5, 6)]
        p = rng.random((6, 5)).astype("float32") + 0.05
        return y_true, p / p.sum(-1, keepdims=True)
    if kind == "sparse":
        p = rng.random((6, 5)).astype("float32") + 0.05
        return rng.integers(0, 5, 6).astype("int32"), p / p.sum(-1, keepdims=True)
    if kind == "ctc":
        y_true = np.array([[1, 2, 2, 0], [3, 1, 0, 0], [2, 3, 1, 3], [1, 0, 0, 0],
                           [4, 4, 0, 0], [2, 0, 0, 0]], "int32")
        return y_true, rng.normal(size=(6, 9, 5)).astype("float32")
    if kind == "circle":
        e = rng.normal(size=(6, 3)).astype("float32")
        return np.array([0, 1, 0, 2, 1, 0], "int32"), e / np.linalg.norm(e, axis=1,
                                                                          keepdims=True)
    raise ValueError(kind)


CASES = [
    ("BinaryFocalCrossentropy", {}, "binary"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5,
                                 "label_smoothing": 0.1}, "binary"),
    ("BinaryFocalCrossentropy", {"from_logits": True, "reduction": "sum"}, "logits"),
    ("CategoricalFocalCrossentropy", {}, "onehot"),
    ("CategoricalFocalCrossentropy", {"alpha": 0.5, "gamma": 3.0, "label_smoothing": 0.2},
     "onehot"),
    ("CategoricalFocalCrossentropy", {"from_logits": True}, "logits"),
    ("CategoricalGeneralizedCrossEntropy", {}, "sparse"),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.2, "reduction": "none"}, "sparse"),
    ("CTC", {}, "ctc"),
    ("Dice", {}, "binary"),
    ("Dice", {"axis": -1}, "binary"),
    ("Tversky", {}, "binary"),
    ("Tversky", {"alpha": 0.7, "beta": 0.3, "axis": -1}, "binary"),
    ("Circle", {}, "circle"),
    ("Circle", {"gamma": 10.0, "margin": 0.25, "remove_diagonal": False}, "circle"),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=IDS)
def test_class_matches_keras(keras, name, kwargs, kind):
    y_true, y_pred = _inputs(kind)
    sw = np.linspace(0.2, 1.4, y_pred.shape[0]).astype("float32")
    ours = getattr(losses, name)(**kwargs)
    theirs = getattr(keras.losses, name)(**kwargs)
    for weight in (None, sw):
        got = np.asarray(ours(y_true, y_pred, sample_weight=weight))
        want = np.asarray(theirs(y_true, y_pred, sample_weight=weight))
        if kwargs.get("axis", -1) is None and weight is not None:
            continue  # a batch-wide loss: Keras rejects per-sample weights on a scalar
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    jitted = jax.jit(lambda t, p: ours(t, p))(y_true, y_pred)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(theirs(y_true, y_pred)),
                               rtol=2e-5, atol=1e-6)


FUNCS = [
    ("binary_focal_crossentropy", {"gamma": 1.0}, "binary"),
    ("categorical_focal_crossentropy", {}, "onehot"),
    ("categorical_generalized_cross_entropy", {"q": 0.7}, "sparse"),
    ("ctc", {}, "ctc"),
    ("dice", {"axis": -1}, "binary"),
    ("tversky", {"alpha": 0.2, "beta": 0.8}, "binary"),
    ("circle", {"margin": 0.3}, "circle"),
]


@pytest.mark.parametrize("name,kwargs,kind", FUNCS, ids=[f[0] for f in FUNCS])
def test_function_matches_keras(keras, name, kwargs, kind):
    y_true, y_pred = _inputs(kind, seed=1)
    got = getattr(losses, name)(y_true, y_pred, **kwargs)
    want = getattr(keras.losses, name)(y_true, y_pred, **kwargs)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=IDS)
def test_config_round_trip(keras, name, kwargs, kind):
    loss = getattr(losses, name)(**kwargs)
    config = loss.get_config()
    assert config == getattr(keras.losses, name)(**kwargs).get_config()
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == config


@pytest.mark.parametrize("name", [f[0] for f in FUNCS] + [c[0] for c in CASES])
def test_get_by_name(name):
    assert isinstance(losses.get(name), losses.Loss)


def test_bad_inputs():
    with pytest.raises(ValueError, match="q must be in"):
        losses.CategoricalGeneralizedCrossEntropy(q=1.5)
    with pytest.raises(ValueError, match="y_true.shape"):
        losses.ctc(np.zeros((2,), "int32"), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="y_pred.shape"):
        losses.ctc(np.zeros((2, 3), "int32"), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="same shape"):
        losses.binary_focal_crossentropy(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="axis"):
        losses.CategoricalFocalCrossentropy(axis=True)
    with pytest.raises(ValueError, match="y_pred.shape"):
        losses.circle(np.zeros((3,)), np.zeros((3,)))


@pytest.mark.parametrize("loss,units,labels", [
    ("binary_focal_crossentropy", 1, "binary"), (losses.CategoricalFocalCrossentropy(), 3,
                                                 "onehot"),
    ("CategoricalGeneralizedCrossEntropy", 3, "sparse"), ("dice", 1, "binary"),
    (losses.Tversky(alpha=0.7, beta=0.3), 1, "binary"),
])
def test_compile_fit(loss, units, labels):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    cls = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5)
    y = {"binary": (x[:, :1] > 0).astype("float32"), "onehot": np.eye(3, dtype="float32")[cls],
         "sparse": cls}[labels]
    act = "sigmoid" if units == 1 else "softmax"
    model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(units, activation=act)])
    model.compile(optimizer=trine.optimizers.Adam(0.05), loss=loss)
    hist = model.fit(x, y, epochs=5, batch_size=8, verbose=0).history["loss"]
    assert np.all(np.isfinite(hist)) and hist[-1] < hist[0]


def test_ctc_and_circle_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, 3)).astype("float32")
    y = np.tile(np.array([[1, 2, 0]], "int32"), (16, 1))
    model = trine.Sequential([trine.Input((6, 3)), trine.layers.Dense(4)])
    model.compile(optimizer=trine.optimizers.Adam(0.05), loss="ctc")
    hist = model.fit(x, y, epochs=4, batch_size=8, verbose=0).history["loss"]
    assert np.all(np.isfinite(hist)) and hist[-1] < hist[0]

    xe = rng.normal(size=(16, 5)).astype("float32")
    ye = (xe[:, 0] > 0).astype("int32")
    model = trine.Sequential([trine.Input((5,)), trine.layers.Dense(4),
                              trine.layers.UnitNormalization()])
    model.compile(optimizer=trine.optimizers.Adam(0.02), loss=losses.Circle(gamma=10.0))
    hist = model.fit(xe, ye, epochs=4, batch_size=16, verbose=0).history["loss"]
    assert np.all(np.isfinite(hist)) and hist[-1] < hist[0]
