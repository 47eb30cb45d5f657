"""trine.losses: per-sample functions and Loss classes against Keras 3 (JAX backend)."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trine import losses as L

B, C = 6, 5
RTOL = ATOL = 1e-6


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _data(seed=0):
    """Targets and predictions with edge cases: probabilities at / near 0 and 1, huge logits."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(B, C)).astype(np.float32) * 3
    logits[0] = [100.0, -100.0, 0.0, 50.0, -50.0]
    logits[1] = [1e3, 0.0, 0.0, 0.0, -1e3]
    e = np.exp(logits - logits.max(-1, keepdims=True))
    probs = (e / e.sum(-1, keepdims=True)).astype(np.float32)
    probs[2] = [1.0, 0.0, 0.0, 0.0, 0.0]          # exact 0 and 1
    probs[3] = [1 - 1e-8, 1e-9, 1e-9, 0.0, 0.0]   # near 0 and 1
    probs[4] = probs[4] * 3.0                      # not normalised: Keras renormalises
    labels = rng.integers(0, C, size=(B,)).astype(np.int32)
    labels[2], labels[3] = 1, 0                    # a certain miss and a near-certain hit
    onehot = np.eye(C, dtype=np.float32)[labels]
    bin_true = rng.integers(0, 2, size=(B, C)).astype(np.float32)
    bin_logits = logits
    bin_probs = (0.5 * (1 + np.tanh(logits / 2))).astype(np.float32)  # sigmoid, no overflow
    bin_probs[2] = [0.0, 1.0, 1e-9, 1 - 1e-9, 0.5]
    reg_true = rng.normal(size=(B, C)).astype(np.float32)
    reg_pred = rng.normal(size=(B, C)).astype(np.float32) * 2
    reg_pred[0] = [40.0, -40.0, 0.0, 1e-3, 3.0]    # large errors (log_cosh overflow path)
    reg_true[1] = 0.0                               # mape's divide-by-zero guard, zero vector
    return dict(logits=logits, probs=probs, labels=labels, onehot=onehot, bin_true=bin_true,
                bin_logits=bin_logits, bin_probs=bin_probs, reg_true=reg_true,
                reg_pred=reg_pred)


D = _data()

# (function, kwargs, y_true key, y_pred key)
FUNCTION_CASES = [
    ("mean_squared_error", {}, "reg_true", "reg_pred"),
    ("mean_absolute_error", {}, "reg_true", "reg_pred"),
    ("mean_absolute_percentage_error", {}, "reg_true", "reg_pred"),
    ("mean_squared_logarithmic_error", {}, "reg_true", "reg_pred"),
    ("huber", {}, "reg_true", "reg_pred"),
    ("huber", {"delta": 0.3}, "reg_true", "reg_pred"),
    ("log_cosh", {}, "reg_true", "reg_pred"),
    ("cosine_similarity", {}, "reg_true", "reg_pred"),
    ("cosine_similarity", {"axis": 0}, "reg_true", "reg_pred"),
    ("kl_divergence", {}, "onehot", "probs"),
    ("kl_divergence", {}, "probs", "probs"),
    ("poisson", {}, "bin_true", "bin_probs"),
    ("hinge", {}, "bin_true", "reg_pred"),
    ("hinge", {}, "reg_true", "reg_pred"),
    ("squared_hinge", {}, "bin_true", "reg_pred"),
    ("categorical_hinge", {}, "onehot", "reg_pred"),
    ("categorical_crossentropy", {}, "onehot", "probs"),
    ("categorical_crossentropy", {"from_logits": True}, "onehot", "logits"),
    ("categorical_crossentropy", {"label_smoothing": 0.1}, "onehot", "probs"),
    ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.2}, "onehot", "logits"),
    ("sparse_categorical_crossentropy", {}, "labels", "probs"),
    ("sparse_categorical_crossentropy", {"from_logits": True}, "labels", "logits"),
    ("sparse_categorical_crossentropy", {"ignore_class": 1}, "labels", "probs"),
    ("sparse_categorical_crossentropy", {"from_logits": True, "ignore_class": 0}, "labels",
     "logits"),
    ("binary_crossentropy", {}, "bin_true", "bin_probs"),
    ("binary_crossentropy", {"from_logits": True}, "bin_true", "bin_logits"),
    ("binary_crossentropy", {"label_smoothing": 0.1}, "bin_true", "bin_probs"),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.3}, "bin_true",
     "bin_logits"),
    ("binary_crossentropy", {"axis": 0}, "bin_true", "bin_probs"),
]


def _ids(cases):
    return [f"{c[0]}-{c[1]}-{c[2]}" for c in cases]


@pytest.mark.parametrize("fn,kwargs,t,p", FUNCTION_CASES, ids=_ids(FUNCTION_CASES))
def test_functions_match_keras(keras, fn, kwargs, t, p):
    y_true, y_pred = D[t], D[p]
    ours = np.asarray(getattr(L, fn)(y_true, y_pred, **kwargs))
    theirs = np.asarray(getattr(keras.losses, fn)(y_true, y_pred, **kwargs))
    assert ours.shape == theirs.shape
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def test_numpy_oracles():
    t, p = D["reg_true"], D["reg_pred"]
    np.testing.assert_allclose(L.mse(t, p), ((t - p) ** 2).mean(-1), rtol=1e-6)
    np.testing.assert_allclose(L.mae(t, p), np.abs(t - p).mean(-1), rtol=1e-6)
    probs = np.clip(D["probs"] / D["probs"].sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(L.categorical_crossentropy(D["onehot"], D["probs"]),
                               -(D["onehot"] * np.log(probs)).sum(-1), rtol=1e-6)
    np.testing.assert_allclose(
        L.sparse_categorical_crossentropy(D["labels"], D["probs"]),
        -np.log(probs[np.arange(B), D["labels"]]), rtol=1e-6)
    q = np.clip(D["bin_probs"], 1e-7, 1 - 1e-7)
    y = D["bin_true"]
    np.testing.assert_allclose(L.binary_crossentropy(y, D["bin_probs"]),
                               -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(-1), rtol=1e-5)


def test_rank3_and_label_shapes(keras):
    rng = np.random.default_rng(1)
    t3, p3 = rng.normal(size=(2, 3, 4)).astype(np.float32), rng.normal(size=(2, 3, 4)).astype(
        np.float32)
    assert L.mse(t3, p3).shape == (2, 3)
    np.testing.assert_allclose(L.mse(t3, p3), keras.losses.mean_squared_error(t3, p3), rtol=1e-6)
    # (B,) targets against (B, 1) predictions are expanded, as Keras does
    t1, p1 = D["reg_true"][:, 0], D["reg_pred"][:, :1]
    np.testing.assert_allclose(L.mse(t1, p1), keras.losses.mean_squared_error(t1, p1), rtol=1e-6)
    assert L.mse(t1, p1).shape == (B,)
    # sparse labels with a trailing axis of 1, or as floats
    lab = D["labels"]
    ref = np.asarray(L.sparse_categorical_crossentropy(lab, D["probs"]))
    np.testing.assert_allclose(L.sparse_categorical_crossentropy(lab[:, None], D["probs"]), ref)
    np.testing.assert_allclose(L.sparse_categorical_crossentropy(lab.astype(np.float32),
                                                                 D["probs"]), ref)


# class, kwargs, y_true key, y_pred key
CLASS_CASES = [
    ("MeanSquaredError", {}, "reg_true", "reg_pred"),
    ("MeanAbsoluteError", {}, "reg_true", "reg_pred"),
    ("MeanAbsolutePercentageError", {}, "reg_true", "reg_pred"),
    ("MeanSquaredLogarithmicError", {}, "reg_true", "reg_pred"),
    ("CosineSimilarity", {}, "reg_true", "reg_pred"),
    ("Huber", {"delta": 0.5}, "reg_true", "reg_pred"),
    ("LogCosh", {}, "reg_true", "reg_pred"),
    ("Hinge", {}, "bin_true", "reg_pred"),
    ("SquaredHinge", {}, "bin_true", "reg_pred"),
    ("CategoricalHinge", {}, "onehot", "reg_pred"),
    ("KLDivergence", {}, "onehot", "probs"),
    ("Poisson", {}, "bin_true", "bin_probs"),
    ("BinaryCrossentropy", {}, "bin_true", "bin_probs"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "bin_true",
     "bin_logits"),
    ("CategoricalCrossentropy", {}, "onehot", "probs"),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot", "logits"),
    ("SparseCategoricalCrossentropy", {}, "labels", "probs"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels", "logits"),
]

SW = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0], np.float32)


@pytest.mark.parametrize("cls,kwargs,t,p", CLASS_CASES, ids=_ids(CLASS_CASES))
def test_classes_match_keras(keras, cls, kwargs, t, p):
    y_true, y_pred = D[t], D[p]
    ours_cls, theirs_cls = getattr(L, cls), getattr(keras.losses, cls)
    for sw in (None, SW):
        ours = ours_cls(**kwargs)(y_true, y_pred, sample_weight=sw)
        theirs = theirs_cls(**kwargs)(y_true, y_pred, sample_weight=sw)
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)
    ours_cfg, theirs_cfg = ours_cls(**kwargs).get_config(), theirs_cls(**kwargs).get_config()
    # Keras's keys and values, plus the arguments Keras 3 forgets (Huber's delta, axis)
    assert {k: ours_cfg[k] for k in theirs_cfg} == theirs_cfg
    assert set(ours_cfg) - set(theirs_cfg) <= {"delta", "axis"}
    assert theirs_cls.from_config(ours_cfg).get_config() == theirs_cfg  # Keras can read it
    assert ours_cls(**kwargs).name == theirs_cls(**kwargs).name


REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]
WEIGHTS = {"none": None, "vector": SW, "column": SW[:, None], "scalar": np.float32(2.5),
           "zeros": np.zeros(B, np.float32)}


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_every_reduction_and_weight_shape(keras, reduction):
    for cls, kwargs, t, p in [("MeanSquaredError", {}, "reg_true", "reg_pred"),
                              ("SparseCategoricalCrossentropy", {"from_logits": True}, "labels",
                               "logits"),
                              ("BinaryCrossentropy", {}, "bin_true", "bin_probs")]:
        for wname, sw in WEIGHTS.items():
            ours = getattr(L, cls)(reduction=reduction, **kwargs)(D[t], D[p], sample_weight=sw)
            theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)(
                D[t], D[p], sample_weight=sw)
            np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{cls} {wname}")


def test_reduction_definitions():
    t, p = D["reg_true"], D["reg_pred"]
    per = np.asarray(L.mse(t, p))
    assert float(L.MeanSquaredError()(t, p)) == pytest.approx(per.mean(), rel=1e-6)
    assert float(L.MeanSquaredError(reduction="sum")(t, p, SW)) == pytest.approx(
        (per * SW).sum(), rel=1e-6)
    # sum_over_batch_size divides by the number of elements, not by the weights
    assert float(L.MeanSquaredError()(t, p, SW)) == pytest.approx((per * SW).sum() / B, rel=1e-6)
    assert float(L.MeanSquaredError(reduction="mean")(t, p, SW)) == pytest.approx(
        (per * SW).sum() / B, rel=1e-6)
    assert float(L.MeanSquaredError(reduction="mean_with_sample_weight")(t, p, SW)) == \
        pytest.approx((per * SW).sum() / SW.sum(), rel=1e-6)
    np.testing.assert_allclose(L.MeanSquaredError(reduction="none")(t, p, SW), per * SW,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="reduction='avg'.*'sum_over_batch_size'"):
        L.MeanSquaredError(reduction="avg")


def test_weighted_rank3(keras):
    rng = np.random.default_rng(2)
    t, p = rng.normal(size=(4, 3, 2)).astype(np.float32), rng.normal(size=(4, 3, 2)).astype(
        np.float32)
    for sw in (rng.random((4, 3)).astype(np.float32), rng.random((4, 1)).astype(np.float32),
               np.float32(0.5)):
        for red in ("sum_over_batch_size", "none"):
            np.testing.assert_allclose(
                L.MeanSquaredError(reduction=red)(t, p, sw),
                keras.losses.MeanSquaredError(reduction=red)(t, p, sw), rtol=1e-6, atol=1e-7)


def test_ignore_class_matches_keras_and_has_finite_gradients(keras):
    lab = D["labels"].copy()
    lab[[0, 4]] = -1
    for kwargs, p, red, sw in [({}, "probs", "sum_over_batch_size", None),
                               ({}, "probs", "sum", SW),
                               ({"from_logits": True}, "logits", "sum_over_batch_size", SW),
                               ({"from_logits": True}, "logits", "none", None)]:
        ours = L.SparseCategoricalCrossentropy(ignore_class=-1, reduction=red, **kwargs)(
            lab, D[p], sample_weight=sw)
        theirs = keras.losses.SparseCategoricalCrossentropy(
            ignore_class=-1, reduction=red, **kwargs)(lab, D[p], sample_weight=sw)
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)
    # the average runs over the valid entries only
    per = np.asarray(L.sparse_categorical_crossentropy(lab, D["probs"], ignore_class=-1))
    assert per[0] == 0 and per[4] == 0
    loss = L.SparseCategoricalCrossentropy(ignore_class=-1)
    assert float(loss(lab, D["probs"])) == pytest.approx(per.sum() / 4, rel=1e-6)
    g = jax.jit(jax.grad(lambda q: loss(lab, q)))(jnp.asarray(D["probs"]) + 0.01)
    assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[[0, 4]] == 0)
    assert loss.ignore_class == -1
    # the wrapper form (what compile builds from a function) behaves the same
    wrapped = L.LossFunctionWrapper(L.sparse_categorical_crossentropy, ignore_class=-1)
    assert float(wrapped(lab, D["probs"])) == pytest.approx(float(loss(lab, D["probs"])), rel=1e-6)
    assert wrapped.ignore_class == -1


def test_jit_matches_eager():
    cases = [(L.SparseCategoricalCrossentropy(from_logits=True), "labels", "logits"),
             (L.CategoricalCrossentropy(label_smoothing=0.1), "onehot", "probs"),
             (L.BinaryCrossentropy(), "bin_true", "bin_probs"),
             (L.Huber(), "reg_true", "reg_pred"),
             (L.get("mse"), "reg_true", "reg_pred"),
             (L.Hinge(), "bin_true", "reg_pred")]

    def all_losses(sw):  # one program for every case keeps the test fast
        return [loss(D[t], D[p], sample_weight=sw) for loss, t, p in cases]

    for eager, jitted in zip(all_losses(SW), jax.jit(all_losses)(SW)):
        np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-7)
    g = jax.jit(jax.grad(lambda q: L.CategoricalCrossentropy(from_logits=True)(D["onehot"], q)))(
        jnp.asarray(D["logits"]))
    assert np.all(np.isfinite(g))


def test_aliases():
    assert L.mse is L.MSE is L.mean_squared_error
    assert L.mae is L.MAE is L.mean_absolute_error
    assert L.mape is L.MAPE is L.mean_absolute_percentage_error
    assert L.msle is L.MSLE is L.mean_squared_logarithmic_error
    assert L.kld is L.KLD is L.kl_divergence
    assert L.bce is L.binary_crossentropy


def test_get(keras):
    m = L.get("mse")
    assert isinstance(m, L.LossFunctionWrapper) and m.name == "mse" and m.fn is L.mse
    t, p = D["reg_true"], D["reg_pred"]
    assert float(m(t, p)) == pytest.approx(float(L.MeanSquaredError()(t, p)), rel=1e-7)
    scce = L.get("sparse_categorical_crossentropy")
    assert scce.name == "sparse_categorical_crossentropy"
    assert isinstance(L.get("MeanSquaredError"), L.MeanSquaredError)
    assert isinstance(L.get(L.Huber), L.Huber)
    inst = L.Huber(delta=2.0)
    assert L.get(inst) is inst and L.get(None) is None
    from keras.src.losses import ALL_OBJECTS_DICT
    for name in ALL_OBJECTS_DICT:
        if name in L._valid_names():
            assert isinstance(L.get(name), L.Loss), name
    for alias in ["mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
                  "bce", "BCE", "binary_crossentropy", "categorical_crossentropy", "huber"]:
        assert alias in ALL_OBJECTS_DICT and isinstance(L.get(alias), L.Loss)

    def my_loss(y_true, y_pred):
        return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)

    w = L.get(my_loss)
    assert isinstance(w, L.LossFunctionWrapper) and w.name == "my_loss"
    assert float(w(t, p, sample_weight=SW)) == pytest.approx(
        float(L.MeanAbsoluteError()(t, p, sample_weight=SW)), rel=1e-6)
    cfg = {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}
    assert L.get(cfg).get_config()["from_logits"] is True
    ks = keras.losses.serialize(keras.losses.BinaryCrossentropy(label_smoothing=0.2))
    assert L.get(ks).get_config() == keras.losses.BinaryCrossentropy(
        label_smoothing=0.2).get_config()
    with pytest.raises(ValueError, match="Unknown loss 'msee'.*'mean_squared_error'.*'mse'"):
        L.get("msee")
    with pytest.raises(ValueError, match="Unknown loss class 'Nope'"):
        L.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="Could not interpret loss 3"):
        L.get(3)


def test_crossentropy_by_shapes(keras):
    """loss="crossentropy" / "ce" picks the crossentropy as Keras's compile does."""
    from keras.src.trainers.compile_utils import get_loss
    cases = [("labels", "probs"), ("onehot", "probs")]
    bin_t, bin_p = D["bin_true"][:, :1], D["bin_probs"][:, :1]
    for name in ("crossentropy", "ce"):
        ours = L.get(name)
        assert ours.name == name
        for t, p in [(D[a], D[b]) for a, b in cases] + [(bin_t, bin_p),
                                                        (D["labels"][:, None], D["probs"])]:
            theirs = get_loss(name, t, p)
            np.testing.assert_allclose(ours(t, p, sample_weight=SW), theirs(t, p, sample_weight=SW),
                                       rtol=RTOL, atol=ATOL)


def test_config_round_trip():
    for cls, kwargs, _, _ in CLASS_CASES + [("SparseCategoricalCrossentropy",
                                             {"ignore_class": 3, "reduction": "sum"}, 0, 0)]:
        loss = getattr(L, cls)(**kwargs)
        again = type(loss).from_config(loss.get_config())
        assert again.get_config() == loss.get_config()
        ser = L.serialize(loss)
        assert ser["class_name"] == cls and ser["module"] == "keras.losses"
        assert L.deserialize(ser).get_config() == loss.get_config()
    assert L.Huber.from_config(L.Huber(delta=0.3).get_config())._fn_kwargs["delta"] == 0.3
    w = L.LossFunctionWrapper(L.huber, name="h", delta=0.3)
    again = L.LossFunctionWrapper.from_config(w.get_config())
    assert again.fn is L.huber and again._fn_kwargs == {"delta": 0.3} and again.name == "h"
    assert L.serialize(L.mse) == "mean_squared_error"
    with pytest.raises(ValueError, match="neither a Loss nor a named function"):
        L.serialize(lambda a, b: a)

    def my_loss(y_true, y_pred):
        return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)

    ser = L.serialize(my_loss)
    assert ser["class_name"] == "function" and ser["config"] == "my_loss"
    back = L.deserialize(ser, custom_objects={"my_loss": my_loss})
    assert isinstance(back, L.LossFunctionWrapper) and back.fn is my_loss
    with pytest.raises(ValueError, match="custom loss function 'my_loss'.*custom_objects"):
        L.deserialize(ser)


def test_custom_subclass_and_casting():
    class Scaled(L.Loss):
        def call(self, y_true, y_pred):
            return 2.0 * jnp.mean(jnp.square(y_true - y_pred), axis=-1)

    s = Scaled()
    assert s.name == "scaled" and s.reduction == "sum_over_batch_size"
    t, p = D["reg_true"], D["reg_pred"]
    assert float(s(t, p)) == pytest.approx(2 * float(L.MeanSquaredError()(t, p)), rel=1e-6)
    # integer targets are cast to the loss dtype, as Keras does
    yi = np.array([[1, 0], [0, 1]], np.int32)
    out = L.MeanSquaredError()(yi, np.array([[0.5, 0.5], [0.0, 1.0]], np.float32))
    assert out.dtype == jnp.float32 and float(out) == pytest.approx(0.125)
    with pytest.raises(NotImplementedError, match="must implement call"):
        L.Loss()(t, p)


def test_shape_errors():
    with pytest.raises(ValueError, match="same shape.*\\(6,\\).*\\(6, 5\\).*sparse_categorical"):
        L.categorical_crossentropy(D["labels"].astype(np.float32), D["probs"])
    with pytest.raises(ValueError, match="y_pred.shape\\[:-1\\].*\\(6, 5\\).*categorical_cross"):
        L.sparse_categorical_crossentropy(D["onehot"], D["probs"])
    with pytest.raises(ValueError, match="binary_crossentropy expected.*same shape"):
        L.binary_crossentropy(D["bin_true"], D["bin_probs"][:, :2])
