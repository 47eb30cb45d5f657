"""Confusion-matrix metrics (counts, Precision/Recall, AUC, X-at-Y, F-scores, R2): numbers
against Keras 3, state handling, config, lookup, and use inside compiled fit/evaluate."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine import layers
from trine import metrics as M

B, C = 16, 3


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _batches(seed=0, n=3):
    """Batches of binary (B, 1) and multi-column (B, C) data, with values on thresholds."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y2 = rng.integers(0, 2, size=(B, C)).astype(np.float32)
        p2 = rng.random((B, C)).astype(np.float32)
        p2[0, 0], p2[1, 1], p2[2, 2], p2[3, 0] = 0.5, 0.0, 1.0, 0.3
        onehot = np.eye(C, dtype=np.float32)[rng.integers(0, C, size=B)]
        y1 = rng.integers(0, 2, size=(B, 1)).astype(np.float32)
        p1 = rng.random((B, 1)).astype(np.float32)
        p1[0, 0], p1[1, 0] = 0.5, 0.0
        sw = rng.random(B).astype(np.float32)
        sw[2] = 0.0
        out.append(dict(y2=y2, p2=p2, onehot=onehot, y1=y1, p1=p1, sw=sw,
                        logits=rng.normal(size=(B, C)).astype(np.float32) * 3,
                        reg_t=rng.normal(size=(B, C)).astype(np.float32),
                        reg_p=rng.normal(size=(B, C)).astype(np.float32)))
    return out


BATCHES = _batches()

# class name, kwargs, y_true key, y_pred key
CASES = [
    ("TruePositives", {}, "y1", "p1"),
    ("TruePositives", {"thresholds": [0.0, 0.5, 1.0]}, "y2", "p2"),   # evenly spaced path
    ("FalsePositives", {"thresholds": 0.3}, "y2", "p2"),
    ("FalsePositives", {"thresholds": [0.1, 0.3, 0.9]}, "y1", "p1"),
    ("TrueNegatives", {}, "y2", "p2"),
    ("TrueNegatives", {"thresholds": [0.2, 0.7]}, "y1", "p1"),
    ("FalseNegatives", {}, "y1", "p1"),
    ("FalseNegatives", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "y2", "p2"),
    ("Precision", {}, "y1", "p1"),
    ("Precision", {"thresholds": [0.3, 0.5, 0.8]}, "y2", "p2"),
    ("Precision", {"top_k": 2}, "y2", "p2"),
    ("Precision", {"class_id": 1}, "y2", "p2"),
    ("Precision", {"top_k": 1, "class_id": 2, "thresholds": [0.2, 0.6]}, "onehot", "p2"),
    ("Recall", {}, "y2", "p2"),
    ("Recall", {"thresholds": [0.0, 0.5, 1.0]}, "y1", "p1"),
    ("Recall", {"top_k": 1}, "onehot", "p2"),
    ("Recall", {"class_id": 0, "thresholds": 0.4}, "y2", "p2"),
    ("AUC", {}, "y1", "p1"),
    ("AUC", {}, "y2", "p2"),
    ("AUC", {"curve": "PR"}, "y2", "p2"),
    ("AUC", {"curve": "pr", "num_thresholds": 7}, "y1", "p1"),
    ("AUC", {"summation_method": "minoring"}, "y2", "p2"),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, "y2", "p2"),
    ("AUC", {"curve": "PRGAIN"}, "y2", "p2"),
    ("AUC", {"thresholds": [0.7, 0.1, 0.4]}, "y2", "p2"),
    ("AUC", {"multi_label": True}, "y2", "p2"),
    ("AUC", {"multi_label": True, "num_labels": C, "curve": "PR"}, "y2", "p2"),
    ("AUC", {"multi_label": True, "label_weights": [1.0, 2.0, 0.5]}, "y2", "p2"),
    ("AUC", {"label_weights": [1.0, 0.0, 3.0]}, "y2", "p2"),
    ("AUC", {"from_logits": True}, "y2", "logits"),
    ("PrecisionAtRecall", {"recall": 0.5}, "y2", "p2"),
    ("PrecisionAtRecall", {"recall": 0.8, "num_thresholds": 11, "class_id": 1}, "y2", "p2"),
    ("RecallAtPrecision", {"precision": 0.6}, "y1", "p1"),
    ("RecallAtPrecision", {"precision": 0.4, "num_thresholds": 1}, "y2", "p2"),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, "y2", "p2"),
    ("SensitivityAtSpecificity", {"specificity": 0.9, "class_id": 2}, "y2", "p2"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.7}, "y1", "p1"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.3, "num_thresholds": 5}, "y2", "p2"),
    ("F1Score", {}, "onehot", "p2"),
    ("F1Score", {"average": "macro", "threshold": 0.5}, "y2", "p2"),
    ("F1Score", {"average": "micro"}, "onehot", "p2"),
    ("FBetaScore", {"beta": 2.0, "average": "weighted"}, "onehot", "p2"),
    ("FBetaScore", {"beta": 0.5, "average": "micro", "threshold": 0.3}, "y2", "p2"),
    ("FBetaScore", {"beta": 3.0}, "y2", "p2"),
    ("R2Score", {}, "reg_t", "reg_p"),
    ("R2Score", {"class_aggregation": None}, "reg_t", "reg_p"),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, "reg_t", "reg_p"),
    ("R2Score", {"num_regressors": 2}, "reg_t", "reg_p"),
]


def _close(ours, theirs, rtol=1e-6):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("cls,kwargs,t,p", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_keras_over_batches(keras, cls, kwargs, t, p, weighted):
    ours, theirs = getattr(M, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
    for b in BATCHES:
        sw = b["sw"] if weighted else None
        ours.update_state(b[t], b[p], sample_weight=sw)
        theirs.update_state(b[t], b[p], sample_weight=sw)
        _close(ours.result(), theirs.result())
    # the variables hold the same counts as Keras's, in the same order
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
    for a, k in zip(ours.variables, theirs.variables):
        _close(a.value, k.value, rtol=1e-5)


@pytest.mark.parametrize("cls,kwargs", [
    ("Precision", {}), ("Recall", {"thresholds": [0.2, 0.5]}), ("AUC", {}),
    ("AUC", {"curve": "PR", "multi_label": True}), ("TruePositives", {}),
    ("SensitivityAtSpecificity", {"specificity": 0.4})])
def test_per_entry_and_rank1_weights_match_keras(keras, cls, kwargs):
    """(B, C) weights per entry; rank-1 y_true / y_pred with (B,) weights; a scalar weight."""
    for t, p, sw in [("y2", "p2", "entry"), ("y1", "p1", "col"), ("y2", "p2", "scalar")]:
        if sw == "col" and kwargs.get("multi_label"):
            continue
        ours, theirs = getattr(M, cls)(**kwargs), getattr(keras.metrics, cls)(**kwargs)
        for i, b in enumerate(BATCHES):
            yt, yp = b[t], b[p]
            if sw == "entry":
                w = np.abs(b["reg_t"])
            elif sw == "col":
                yt, yp, w = yt[:, 0], yp[:, 0], b["sw"]
            else:
                w = 0.5 + i
            ours.update_state(yt, yp, sample_weight=w)
            theirs.update_state(yt, yp, sample_weight=w)
        _close(ours.result(), theirs.result())


def test_values_by_hand():
    tp = M.TruePositives(thresholds=[0.0, 0.5, 1.0])
    tp.update_state([0, 1, 1, 1], [1.0, 0.0, 0.6, 1.0])
    np.testing.assert_allclose(tp.result(), [2.0, 2.0, 0.0])
    p = M.Precision()
    p.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[1, 1, 2, 0])
    assert float(p.result()) == pytest.approx(2 / 3)
    assert float(M.Recall()(np.zeros(4), np.ones(4))) == 0.0      # no positives: 0, not nan
    auc = M.AUC(num_thresholds=3)
    auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert float(auc.result()) == pytest.approx(0.75)
    perfect = M.AUC()
    perfect.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert float(perfect.result()) == pytest.approx(1.0, abs=1e-6)
    r2 = M.R2Score()
    r2.update_state([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])
    assert float(r2.result()) == pytest.approx(0.5)


@pytest.mark.parametrize("cls,kwargs,t,p", [
    ("Precision", {"thresholds": [0.3, 0.6]}, "y2", "p2"), ("AUC", {"curve": "PR"}, "y1", "p1"),
    ("AUC", {"multi_label": True, "num_labels": C}, "y2", "p2"),
    ("RecallAtPrecision", {"precision": 0.5}, "y2", "p2"),
    ("FBetaScore", {"beta": 2.0, "average": "macro"}, "onehot", "p2"),
    ("R2Score", {}, "reg_t", "reg_p"), ("FalseNegatives", {}, "y1", "p1")])
def test_reset_state(cls, kwargs, t, p):
    m = getattr(M, cls)(**kwargs)
    fresh = getattr(M, cls)(**kwargs)
    m.update_state(BATCHES[0][t], BATCHES[0][p], sample_weight=BATCHES[0]["sw"])
    m.reset_state()
    assert all(float(jnp.abs(v.value).sum()) == 0.0 for v in m.variables)
    m.update_state(BATCHES[1][t], BATCHES[1][p])
    fresh.update_state(BATCHES[1][t], BATCHES[1][p])
    np.testing.assert_array_equal(np.asarray(m.result()), np.asarray(fresh.result()))
    assert [np.asarray(x).tolist() for x in m.stateless_reset_state()] == \
        [np.zeros(v.shape).tolist() for v in m.variables]


@pytest.mark.parametrize("cls,kwargs,t,p", [
    ("TruePositives", {"thresholds": [0.2, 0.5]}, "y2", "p2"),
    ("Precision", {"top_k": 2}, "y2", "p2"), ("Recall", {"class_id": 1}, "y2", "p2"),
    ("AUC", {"curve": "PR"}, "y2", "p2"), ("AUC", {"multi_label": True, "num_labels": C},
                                           "y2", "p2"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.5}, "y1", "p1"),
    ("F1Score", {"average": "weighted"}, "onehot", "p2"), ("R2Score", {}, "reg_t", "reg_p")])
def test_stateless_api_under_jit_equals_stateful(cls, kwargs, t, p):
    m = getattr(M, cls)(**kwargs)
    if hasattr(m, "build"):
        m.build(BATCHES[0][t].shape, BATCHES[0][p].shape)
    ref = getattr(M, cls)(**kwargs)

    @jax.jit
    def step(state, yt, yp, sw):
        return m.stateless_update_state(state, yt, yp, sample_weight=sw)

    state = m.stateless_reset_state()
    for b in BATCHES:
        state = step(state, b[t], b[p], b["sw"])
        ref.update_state(b[t], b[p], sample_weight=b["sw"])
    np.testing.assert_allclose(np.asarray(jax.jit(m.stateless_result)(state)),
                               np.asarray(ref.result()), rtol=1e-6, atol=1e-7)


CONFIG_CASES = [
    ("TruePositives", {"thresholds": [0.2, 0.6]}),
    ("FalsePositives", {}), ("TrueNegatives", {"thresholds": 0.3}), ("FalseNegatives", {}),
    ("Precision", {"thresholds": [0.4], "top_k": 2, "class_id": 1}),
    ("Recall", {"top_k": 3}),
    ("AUC", {}), ("AUC", {"num_thresholds": 50, "curve": "PR",
                          "summation_method": "minoring", "from_logits": True}),
    ("AUC", {"thresholds": [0.9, 0.2, 0.5]}),
    ("AUC", {"multi_label": True, "num_labels": 3, "label_weights": [1.0, 2.0, 0.5]}),
    ("PrecisionAtRecall", {"recall": 0.7, "num_thresholds": 20, "class_id": 0}),
    ("RecallAtPrecision", {"precision": 0.6}),
    ("SensitivityAtSpecificity", {"specificity": 0.5}),
    ("SpecificityAtSensitivity", {"sensitivity": 0.2, "num_thresholds": 10}),
    ("F1Score", {"average": "macro", "threshold": 0.4}),
    ("FBetaScore", {"beta": 2.0, "average": "weighted"}),
    ("R2Score", {"class_aggregation": None, "num_regressors": 1}),
]


def _plain(config):
    return {k: (np.asarray(v).tolist() if hasattr(v, "shape") else v)
            for k, v in config.items()}


@pytest.mark.parametrize("cls,kwargs", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_round_trip_and_matches_keras(keras, cls, kwargs):
    ours = getattr(M, cls)(name="m", **kwargs)
    config = ours.get_config()
    again = getattr(M, cls).from_config(config)
    assert type(again) is type(ours) and again.get_config() == config
    theirs = getattr(keras.metrics, cls)(name="m", **kwargs).get_config()
    assert _plain(config) == _plain(theirs)
    ser = M.serialize(ours)
    assert ser["class_name"] == cls and ser["module"] == "keras.metrics"
    back = M.deserialize(ser)
    assert type(back) is type(ours) and back.get_config() == config
    # the rebuilt metric computes the same thing
    b = BATCHES[0]
    t, p = (("reg_t", "reg_p") if cls == "R2Score" else ("y2", "p2"))
    ours.update_state(b[t], b[p])
    back.update_state(b[t], b[p])
    np.testing.assert_array_equal(np.asarray(ours.result()), np.asarray(back.result()))


NAMES = ["TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "Precision",
         "Recall", "AUC", "F1Score", "FBetaScore", "R2Score"]


def test_string_lookup_matches_keras(keras):
    from keras.src.metrics import ALL_OBJECTS_DICT
    confusion = set(NAMES) | {"PrecisionAtRecall", "RecallAtPrecision",
                              "SensitivityAtSpecificity", "SpecificityAtSensitivity"}
    keys = [k for k, c in ALL_OBJECTS_DICT.items() if c.__name__ in confusion]
    assert {"precision", "recall", "auc", "true_positives", "false_negatives", "f1_score",
            "f_beta_score", "r2_score", "AUC", "Precision"} <= set(keys)
    for key in keys:
        cls = getattr(M, ALL_OBJECTS_DICT[key].__name__)
        if ALL_OBJECTS_DICT[key].__name__ in NAMES:
            assert key in M._valid_names(), key
            m = M.get(key)
            assert type(m) is cls and m.name == key
        else:   # these need their target value (Keras's get fails on the missing argument)
            with pytest.raises(TypeError):
                keras.metrics.get(key)
            with pytest.raises(ValueError, match=f"Metric '{key}' needs its target .*"
                                                 f"metrics.{cls.__name__}\\("):
                M.get(key)
            made = cls(0.3, name="z")      # by class name, from a config, it works
            assert M.deserialize(M.serialize(made)).get_config() == made.get_config()
    # no invented aliases
    for alias in ("tp", "fp", "tn", "fn", "roc_auc", "f1"):
        with pytest.raises(ValueError, match=f"Unknown metric '{alias}'"):
            M.get(alias)
    assert isinstance(M.get({"class_name": "AUC", "config": {"curve": "PR"}}), M.AUC)
    assert M.get({"class_name": "AUC", "config": {"curve": "PR"}}).curve == "PR"
    assert isinstance(M.get(M.Recall), M.Recall)


def test_default_names_follow_keras(keras):
    from trine.core.layer import clear_session
    clear_session()
    keras.backend.clear_session()
    for cls in NAMES + ["PrecisionAtRecall"]:
        args = (0.5,) if cls == "PrecisionAtRecall" else ()
        for _ in range(2):
            assert getattr(M, cls)(*args).name == getattr(keras.metrics, cls)(*args).name
    clear_session()
    assert [M.AUC().name, M.AUC().name, M.AUC(name="x").name, M.AUC().name] == \
        ["auc", "auc_1", "x", "auc_2"]


def _binary_model():
    return trine.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])


def _binary_data(n=64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, :1] + 0.5 * rng.normal(size=(n, 1)) > 0).astype(np.float32)
    return x, y


def test_compiled_fit_and_evaluate_report_keras_names_and_values():
    from trine.core.layer import clear_session
    clear_session()
    x, y = _binary_data()
    model = _binary_model()
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=["accuracy", M.AUC(), "precision", "recall", M.AUC(curve="PR"),
                           M.TruePositives(), "true_negatives",
                           M.PrecisionAtRecall(0.5), M.SpecificityAtSensitivity(0.5)])
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert set(hist.history) == {
        "loss", "accuracy", "auc", "precision", "recall", "auc_1", "true_positives",
        "true_negatives", "precision_at_recall", "specificity_at_sensitivity"}
    assert all(len(v) == 2 and np.isfinite(v).all() for v in hist.history.values())
    # evaluate in one batch: each value equals the standalone metric on the predictions
    logs = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    pred = np.asarray(model.predict(x, batch_size=len(x), verbose=0))
    expected = {"auc": M.AUC(), "precision": M.Precision(), "recall": M.Recall(),
                "auc_1": M.AUC(curve="PR"), "true_positives": M.TruePositives(),
                "true_negatives": M.TrueNegatives(),
                "precision_at_recall": M.PrecisionAtRecall(0.5),
                "specificity_at_sensitivity": M.SpecificityAtSensitivity(0.5)}
    for name, m in expected.items():
        m.update_state(y, pred)
        assert logs[name] == pytest.approx(float(m.result()), rel=1e-5, abs=1e-6), name
    # evaluate over several batches accumulates like update_state over the same batches
    logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    auc = M.AUC()
    for i in range(0, len(x), 16):
        auc.update_state(y[i:i + 16], pred[i:i + 16])
    assert logs["auc"] == pytest.approx(float(auc.result()), rel=1e-5)


def test_compiled_fit_with_multiclass_and_lazily_sized_metrics():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    y = np.eye(C, dtype=np.float32)[rng.integers(0, C, size=48)]
    model = trine.Sequential([layers.Input((4,)), layers.Dense(C, activation="softmax")])
    # compile sizes the data-sized state from the first batch's shapes, as Keras does
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=[M.F1Score(average="macro"), M.R2Score(name="r2"),
                           M.AUC(multi_label=True, name="ml_auc"),
                           M.Precision(top_k=1, name="p_top1"),
                           M.Recall(class_id=2, name="r_c2")])
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert {"f1_score", "r2", "ml_auc", "p_top1", "r_c2"} <= set(hist.history)
    logs = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    pred = np.asarray(model.predict(x, batch_size=len(x), verbose=0))
    for name, m in {"f1_score": M.F1Score(average="macro"), "r2": M.R2Score(),
                    "ml_auc": M.AUC(multi_label=True), "p_top1": M.Precision(top_k=1),
                    "r_c2": M.Recall(class_id=2)}.items():
        m.update_state(y, pred)
        assert logs[name] == pytest.approx(float(m.result()), rel=1e-5, abs=1e-6), name


def test_array_valued_metrics_in_fit_history_and_progress_bar(capsys):
    """F1Score(average=None) and Precision with a list of thresholds give one value per class
    / threshold: History and evaluate keep the arrays, the progress bar shows their mean
    (as Keras's does)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    y = np.eye(C, dtype=np.float32)[rng.integers(0, C, size=48)]
    model = trine.Sequential([layers.Input((4,)), layers.Dense(C, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy",
                  metrics=[M.F1Score(), M.Precision(thresholds=[0.2, 0.5], name="p2")])
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=1)
    assert [np.shape(v) for v in hist.history["f1_score"]] == [(C,), (C,)]
    assert [np.shape(v) for v in hist.history["p2"]] == [(2,), (2,)]
    out = capsys.readouterr().out
    f1_last = hist.history["f1_score"][-1]
    assert f"f1_score: {float(np.mean(f1_last)):.4f}" in out
    logs = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)
    pred = np.asarray(model.predict(x, batch_size=len(x), verbose=0))
    ref = M.F1Score()
    ref.update_state(y, pred)
    np.testing.assert_allclose(logs["f1_score"], np.asarray(ref.result()), rtol=1e-5, atol=1e-6)


def test_multi_label_auc_without_num_labels_in_jit_says_how_to_fix():
    m = M.AUC(multi_label=True)
    assert m.variables == []
    with pytest.raises(ValueError, match="num_labels"):
        jax.jit(lambda s, t, p: m.stateless_update_state(s, t, p))(
            [], BATCHES[0]["y2"], BATCHES[0]["p2"])
    m.update_state(BATCHES[0]["y2"], BATCHES[0]["p2"])          # eager: builds
    assert [v.shape for v in m.variables] == [(200, C)] * 4


@pytest.mark.parametrize("make,match", [
    (lambda: M.AUC(curve="XYZ"), r"AUC expected curve.*'ROC', 'PR'.*received curve='XYZ'"),
    (lambda: M.AUC(summation_method="trapezoid"),
     r"summation_method.*'interpolation'.*received summation_method='trapezoid'"),
    (lambda: M.AUC(num_thresholds=1), r"num_thresholds to be an integer > 1.*received "
                                      r"num_thresholds=1"),
    (lambda: M.AUC(num_labels=3), r"num_labels=3 with multi_label=False"),
    (lambda: M.AUC(thresholds=[0.5, 1.2]), r"AUC expected every threshold in \[0, 1\]"),
    (lambda: M.Precision(thresholds=[0.5, 1.5]),
     r"Precision expected every threshold in \[0, 1\], received thresholds=\[0.5, 1.5\]"),
    (lambda: M.TruePositives(thresholds=-0.1),
     r"TruePositives expected every threshold in \[0, 1\].*-0.1"),
    (lambda: M.Recall(thresholds="high"), r"Recall expected thresholds to be a float"),
    (lambda: M.Recall(top_k=0), r"Recall expected top_k to be None or an integer >= 1, "
                                r"received top_k=0"),
    (lambda: M.Precision(class_id=-1), r"class_id to be None or an integer >= 0"),
    (lambda: M.PrecisionAtRecall(1.5), r"PrecisionAtRecall expected recall to be a number in "
                                       r"\[0, 1\], received recall=1.5"),
    (lambda: M.SensitivityAtSpecificity(0.5, num_thresholds=0),
     r"num_thresholds to be an integer > 0, received num_thresholds=0"),
    (lambda: M.FBetaScore(beta=0.0), r"FBetaScore expected beta to be a float > 0, received "
                                     r"beta=0.0"),
    (lambda: M.FBetaScore(beta=2), r"beta to be a Python float > 0, received beta=2 of type int"),
    (lambda: M.F1Score(average="samples"), r"average to be one of None, 'micro', 'macro' or "
                                           r"'weighted', received average='samples'"),
    (lambda: M.F1Score(threshold=1.5), r"threshold in \(0, 1\], received threshold=1.5"),
    (lambda: M.R2Score(class_aggregation="sum"), r"class_aggregation.*received "
                                                 r"class_aggregation='sum'"),
    (lambda: M.R2Score(num_regressors=-1), r"num_regressors to be an integer >= 0"),
])
def test_bad_arguments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="class_id=1.*y_pred must have shape"):
        M.Precision(class_id=1).update_state(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="class_id=5 is out of range.*3 classes"):
        M.Recall(class_id=5).update_state(BATCHES[0]["y2"], BATCHES[0]["p2"])
    with pytest.raises(ValueError, match="F1Score expects rank-2 inputs"):
        M.F1Score().update_state(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="multi_label=True needs y_pred of rank 2"):
        M.AUC(multi_label=True).update_state(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="has no state yet"):
        M.R2Score().result()


def test_import_is_light():
    """The confusion metrics add no import beyond jax/numpy (trine's own modules only)."""
    import sys
    import trine.metrics.confusion_metrics as mc
    src = open(mc.__file__).read()
    imports = {line.split()[1].split(".")[0] for line in src.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "warnings", "typing", "jax", "numpy", "trine"}
    assert "trine.metrics.confusion_metrics" in sys.modules and M.AUC is mc.AUC
