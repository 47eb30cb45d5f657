"""trine.metrics: stateless core vs stateful API, jit, weights, and numbers against Keras 3."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trine import losses as L
from trine import metrics as M

B, C = 8, 5


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _batches(seed=0, n=3):
    """A few batches of every kind of target/prediction, with ties and edge values."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        logits = rng.normal(size=(B, C)).astype(np.float32)
        logits[0, :] = 1.0                        # all tied
        probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        labels = rng.integers(0, C, size=(B,)).astype(np.int32)
        onehot = np.eye(C, dtype=np.float32)[labels]
        bin_true = rng.integers(0, 2, size=(B, 1)).astype(np.float32)
        bin_prob = rng.random((B, 1)).astype(np.float32)
        bin_prob[0, 0] = 0.5                      # exactly at the threshold
        reg_true = rng.normal(size=(B, 3)).astype(np.float32)
        reg_pred = rng.normal(size=(B, 3)).astype(np.float32)
        sw = rng.random(B).astype(np.float32)
        sw[1] = 0.0
        out.append(dict(probs=probs.astype(np.float32), labels=labels, onehot=onehot,
                        bin_true=bin_true, bin_prob=bin_prob, reg_true=reg_true,
                        reg_pred=reg_pred, sw=sw, labels_col=labels[:, None],
                        exact_true=rng.integers(0, 3, size=(B, 2)).astype(np.float32),
                        exact_pred=rng.integers(0, 3, size=(B, 2)).astype(np.float32)))
    return out


BATCHES = _batches()

# class name, kwargs, y_true key, y_pred key
CASES = [
    ("Accuracy", {}, "exact_true", "exact_pred"),
    ("BinaryAccuracy", {}, "bin_true", "bin_prob"),
    ("BinaryAccuracy", {"threshold": 0.7}, "bin_true", "bin_prob"),
    ("CategoricalAccuracy", {}, "onehot", "probs"),
    ("SparseCategoricalAccuracy", {}, "labels", "probs"),
    ("SparseCategoricalAccuracy", {}, "labels_col", "probs"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot", "probs"),
    ("TopKCategoricalAccuracy", {}, "onehot", "probs"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "labels", "probs"),
    ("SparseTopKCategoricalAccuracy", {"k": 1}, "labels_col", "probs"),
    ("MeanSquaredError", {}, "reg_true", "reg_pred"),
    ("MeanAbsoluteError", {}, "reg_true", "reg_pred"),
    ("RootMeanSquaredError", {}, "reg_true", "reg_pred"),
    ("MeanAbsolutePercentageError", {}, "reg_true", "reg_pred"),
    ("CosineSimilarity", {}, "reg_true", "reg_pred"),
    ("LogCoshError", {}, "reg_true", "reg_pred"),
    ("Hinge", {}, "bin_true", "bin_prob"),
    ("KLDivergence", {}, "onehot", "probs"),
    ("BinaryCrossentropy", {}, "bin_true", "bin_prob"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot", "probs"),
    ("SparseCategoricalCrossentropy", {}, "labels", "probs"),
]


@pytest.mark.parametrize("cls,kwargs,t,p", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_matches_keras_over_batches(keras, cls, kwargs, t, p):
    for weighted in (False, True):
        ours, theirs = getattr(M, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
        for b in BATCHES:
            sw = b["sw"] if weighted else None
            ours.update_state(b[t], b[p], sample_weight=sw)
            theirs.update_state(b[t], b[p], sample_weight=sw)
            np.testing.assert_allclose(ours.result(), theirs.result(), rtol=1e-6, atol=1e-6)
    assert ours.name == theirs.name
    ours_cfg, theirs_cfg = ours.get_config(), theirs.get_config()
    assert {k: ours_cfg[k] for k in theirs_cfg} == theirs_cfg
    assert set(ours_cfg) - set(theirs_cfg) <= {"axis"}  # Keras 3 forgets CosineSimilarity's
    assert [v.shape for v in ours.variables] == [tuple(v.shape) for v in theirs.variables]


def _run_stateless(metric, batches, t, p, weighted, jit):
    update = jax.jit(metric.stateless_update_state) if jit else metric.stateless_update_state
    state = metric.stateless_reset_state()
    for b in batches:
        state = update(state, b[t], b[p], sample_weight=b["sw"] if weighted else None)
    return state, metric.stateless_result(state)


def test_stateless_equals_stateful_and_jit():
    for cls, kwargs, t, p in [CASES[i] for i in (4, 7, 12, 20)]:
        for weighted in (False, True):
            m = getattr(M, cls)(**kwargs)
            for b in BATCHES:
                m.update_state(b[t], b[p], sample_weight=b["sw"] if weighted else None)
            expected = float(m.result())
            fresh = getattr(M, cls)(**kwargs)
            state, eager = _run_stateless(fresh, BATCHES, t, p, weighted, jit=False)
            assert float(eager) == pytest.approx(expected, rel=1e-6), cls
            assert len(state) == len(m.variables)
            # the stateless calls left the metric's own variables alone
            assert all(float(jnp.sum(v.value)) == 0 for v in fresh.variables)
            if weighted or cls == "RootMeanSquaredError":  # jit: a few compiles suffice
                _, jitted = _run_stateless(fresh, BATCHES, t, p, weighted, jit=True)
                assert float(jitted) == pytest.approx(expected, rel=1e-6), cls


def test_reset_and_call():
    m = M.SparseCategoricalAccuracy()
    b = BATCHES[0]
    first = float(m(b["labels"], b["probs"]))
    m.update_state(BATCHES[1]["labels"], BATCHES[1]["probs"])
    m.reset_state()
    assert all(float(v.value) == 0 for v in m.variables)
    assert float(m.result()) == 0.0  # no samples yet: 0, not nan
    assert float(m(b["labels"], b["probs"])) == pytest.approx(first)
    assert [np.asarray(x).tolist() for x in m.stateless_reset_state()] == [0.0, 0.0]


def test_mean_and_sum_weighting_match_keras(keras):
    rng = np.random.default_rng(3)
    v2 = rng.normal(size=(4, 3)).astype(np.float32)
    # (values, sample_weight): weights of lower rank average the extra value axes first
    pairs = [(v2, None), (v2[:, 0], None), (v2, rng.random(4).astype(np.float32)),
             (v2, rng.random((4, 1)).astype(np.float32)), (v2, rng.random((4, 3)).astype(
                 np.float32)), (v2[:, 0], rng.random((4, 1)).astype(np.float32)),
             (v2, np.float32(2.0)), (v2[:, :1], rng.random(4).astype(np.float32))]
    for cls in ("Mean", "Sum"):
        ours, theirs = getattr(M, cls)(), getattr(keras.metrics, cls)()
        for values, sw in pairs:
            ours.update_state(values, sample_weight=sw)
            theirs.update_state(values, sample_weight=sw)
            np.testing.assert_allclose(ours.result(), theirs.result(), rtol=1e-6)
    m = M.Mean()
    m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    assert float(m.result()) == pytest.approx(2.0)  # sum(v*w) / sum(w)
    s = M.Sum()
    s.update_state([1.0, 3.0, 5.0])
    assert float(s.result()) == 9.0


def test_mean_metric_wrapper_and_get_callable():
    def abs_diff(y_true, y_pred):
        return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)

    m = M.get(abs_diff)
    assert isinstance(m, M.MeanMetricWrapper) and m.name == "abs_diff"
    ref = M.MeanAbsoluteError()
    for b in BATCHES:
        m.update_state(b["reg_true"], b["reg_pred"], sample_weight=b["sw"])
        ref.update_state(b["reg_true"], b["reg_pred"], sample_weight=b["sw"])
    assert float(m.result()) == pytest.approx(float(ref.result()), rel=1e-6)
    w = M.MeanMetricWrapper(L.huber, name="hub", delta=0.5)
    w.update_state(BATCHES[0]["reg_true"], BATCHES[0]["reg_pred"])
    assert float(w.result()) == pytest.approx(
        float(jnp.mean(L.huber(BATCHES[0]["reg_true"], BATCHES[0]["reg_pred"], delta=0.5))),
        rel=1e-6)
    cfg = w.get_config()
    assert cfg == {"name": "hub", "dtype": "float32", "fn": "huber", "delta": 0.5}
    again = M.MeanMetricWrapper.from_config(cfg)
    assert again._fn is L.huber and again._fn_kwargs == {"delta": 0.5}


def test_get_names(keras):
    mae = M.get("mae")
    assert isinstance(mae, M.MeanAbsoluteError) and mae.name == "mae"
    assert isinstance(M.get("mse"), M.MeanSquaredError) and M.get("mse").name == "mse"
    assert isinstance(M.get("sparse_categorical_accuracy"), M.SparseCategoricalAccuracy)
    assert isinstance(M.get("top_k_categorical_accuracy"), M.TopKCategoricalAccuracy)
    assert isinstance(M.get("sparse_top_k_categorical_accuracy"),
                      M.SparseTopKCategoricalAccuracy)
    assert isinstance(M.get("MeanAbsoluteError"), M.MeanAbsoluteError)
    assert isinstance(M.get(M.RootMeanSquaredError), M.RootMeanSquaredError)
    inst = M.Mean(name="x")
    assert M.get(inst) is inst and M.get(None) is None
    from keras.src.metrics import ALL_OBJECTS_DICT
    for name, cls in ALL_OBJECTS_DICT.items():
        if name in M._valid_names():
            assert type(M.get(name)).__name__ == cls.__name__, name
    assert isinstance(M.get({"class_name": "BinaryAccuracy", "config": {"threshold": 0.3}}),
                      M.BinaryAccuracy)
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'.*'accuracy'.*'mae'"):
        M.get("acuracy")
    with pytest.raises(ValueError, match="Unknown metric class 'Nope'"):
        M.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="Could not interpret metric 3"):
        M.get(3)


def test_resolve_accuracy_matches_keras(keras):
    from keras.src.trainers.compile_utils import get_metric
    cases = [((32,), (32, 10)), ((32, 1), (32, 10)), ((32, 10), (32, 10)), ((32, 1), (32, 1)),
             ((32,), (32, 1)), ((4, 7), (4, 7, 3)), ((4, 7, 3), (4, 7, 3))]
    for t_shape, p_shape in cases:
        for name in ("accuracy", "acc", "ACC"):
            ours = M.resolve_accuracy(name, None, t_shape, p_shape)
            theirs = get_metric(name, keras.KerasTensor(t_shape), keras.KerasTensor(p_shape))
            assert type(ours).__name__ == type(theirs).__name__, (t_shape, p_shape)
            assert ours.name == theirs.name == name
    # unknown target shape: the loss decides between sparse and one-hot labels
    assert isinstance(M.resolve_accuracy("accuracy", L.get("sparse_categorical_crossentropy"),
                                         None, (None, 10)), M.SparseCategoricalAccuracy)
    assert isinstance(M.resolve_accuracy("accuracy", L.CategoricalCrossentropy(), None,
                                         (None, 10)), M.CategoricalAccuracy)
    ce = M.resolve_accuracy("crossentropy", L.SparseCategoricalCrossentropy(from_logits=True),
                            (8,), (8, 5))
    assert isinstance(ce, M.SparseCategoricalCrossentropy) and ce.name == "crossentropy"
    assert ce.from_logits is True
    assert isinstance(M.resolve_accuracy("ce", None, (8, 1), (8, 1)), M.BinaryCrossentropy)
    with pytest.raises(ValueError, match="'accuracy', 'acc', 'crossentropy' or 'ce'.*'mae'"):
        M.resolve_accuracy("mae", None, (8,), (8, 5))


def test_custom_keras_style_subclass_is_stateless_and_jittable():
    class TruePositives(M.Metric):
        def __init__(self, name="tp", dtype=None):
            super().__init__(name=name, dtype=dtype)
            self.tp = self.add_variable((), "zeros", name="tp")
            self.seen = self.add_variable((), "zeros", name="seen")

        def update_state(self, y_true, y_pred, sample_weight=None):
            hit = (jnp.asarray(y_true) > 0.5) & (jnp.asarray(y_pred) > 0.5)
            self.tp.assign_add(jnp.sum(hit.astype(self.dtype)))
            self.seen.assign_add(jnp.asarray(hit.size, self.dtype))

        def result(self):
            return self.tp.value / self.seen.value

    m = TruePositives()
    assert [v.name for v in m.variables] == ["tp", "seen"]
    state = m.stateless_reset_state()
    update = jax.jit(m.stateless_update_state)
    for b in BATCHES:
        state = update(state, b["bin_true"], b["bin_prob"])
        m.update_state(b["bin_true"], b["bin_prob"])
    assert float(m.stateless_result(state)) == pytest.approx(float(m.result()))
    assert float(m.tp.value) == float(state[0])

    class RMSEOfHalf(M.Mean):  # overriding update_state and calling super(), as Keras's RMSE
        def update_state(self, y_true, y_pred, sample_weight=None):
            super().update_state(jnp.square(jnp.asarray(y_true) - jnp.asarray(y_pred)) / 2,
                                 sample_weight=sample_weight)

    r = RMSEOfHalf(name="r")
    s = jax.jit(r.stateless_update_state)(r.stateless_reset_state(), BATCHES[0]["reg_true"],
                                          BATCHES[0]["reg_pred"])
    r.update_state(BATCHES[0]["reg_true"], BATCHES[0]["reg_pred"])
    assert float(r.stateless_result(s)) == pytest.approx(float(r.result()), rel=1e-6)
    with pytest.raises(ValueError, match="list of 2 arrays.*received 1"):
        r.stateless_update_state([jnp.zeros(())], BATCHES[0]["reg_true"], BATCHES[0]["reg_pred"])


def test_functions():
    b = BATCHES[0]
    np.testing.assert_array_equal(M.sparse_categorical_accuracy(b["labels"], b["probs"]),
                                  (b["probs"].argmax(-1) == b["labels"]).astype(np.float32))
    np.testing.assert_array_equal(M.categorical_accuracy(b["onehot"], b["probs"]),
                                  (b["probs"].argmax(-1) == b["labels"]).astype(np.float32))
    np.testing.assert_array_equal(M.binary_accuracy(b["bin_true"], b["bin_prob"]),
                                  ((b["bin_prob"] > 0.5) == b["bin_true"]).astype(np.float32))
    np.testing.assert_array_equal(M.accuracy([1, 2, 3], [1, 0, 3]), [1.0, 0.0, 1.0])
    # ties count in the label's favour for top-k, as in Keras
    tied = [[1.0, 1.0, 1.0, 1.0, 1.0]]
    assert M.sparse_top_k_categorical_accuracy([4], tied, k=1).tolist() == [1.0]
    assert M.top_k_categorical_accuracy(b["onehot"], b["probs"], k=C).tolist() == [1.0] * B
    assert M.sparse_top_k_categorical_accuracy(b["labels"], b["probs"], k=C).shape == (B,)


def test_config_round_trip():
    for cls, kwargs, _, _ in CASES:
        m = getattr(M, cls)(**kwargs)
        again = type(m).from_config(m.get_config())
        assert again.get_config() == m.get_config() and again.name == m.name
        ser = M.serialize(m)
        assert ser["class_name"] == cls and ser["module"] == "keras.metrics"
        assert M.deserialize(ser).get_config() == m.get_config()
    m = M.BinaryAccuracy(name="bacc", threshold=0.2, dtype="float32")
    assert M.get(M.serialize(m)).threshold == 0.2
