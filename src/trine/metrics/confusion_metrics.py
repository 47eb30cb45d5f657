"""Confusion-matrix metrics (Keras `keras.metrics` names): counts, precision / recall and AUC,
and the threshold counting the "X at Y" family shares.

Every metric keeps its counts in `Metric` variables and implements a pure
`_update(state, y_true, y_pred, sample_weight) -> state` and `_result(state)`, so it runs
inside the jitted training step like the other built-in metrics (see `trine.metrics`).

The counting follows Keras 3: predictions are compared with each threshold as
`y_pred > threshold`; a label counts as positive when it is non-zero; `sample_weight` is
broadcast against the predictions after an axis of size one is added at its end. When the
thresholds are evenly spaced over [0, 1] the counts are made by bucketing the predictions
(one pass instead of one comparison per threshold), as Keras does, which gives the same
counts for predictions exactly on a threshold.

Example:
    >>> m = Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> float(m.result())
    0.6666666...
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from trine.losses.base import EPSILON, as_array, squeeze_or_expand_to_same_rank
from trine.metrics.base import Metric, _LazyShapeMetric, _auto_name
from trine.ops import divide_no_nan

_NEG_INF = -1e10   # the threshold used with top_k: everything kept by top_k is above it
_KINDS = ("tp", "fp", "tn", "fn")


def _as_float_list(who: str, arg: str, value) -> list[float]:
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(np.asarray(value, dtype=object).reshape(-1))
    else:
        items = [value]
    out = []
    for t in items:
        try:
            f = float(t)
        except (TypeError, ValueError):
            raise ValueError(
                f"{who} expected {arg} to be a float or a list of floats in [0, 1], received "
                f"{value!r}.") from None
        out.append(f)
    return out


def _parse_thresholds(who: str, thresholds, default: float) -> list[float]:
    """Keras's `parse_init_thresholds`, with an error that names the metric."""
    if thresholds is None:
        return [default]
    values = _as_float_list(who, "thresholds", thresholds)
    if not values:
        raise ValueError(f"{who} expected at least one threshold, received thresholds=[].")
    bad = [t for t in values if not 0.0 <= t <= 1.0]
    if bad:
        raise ValueError(
            f"{who} expected every threshold in [0, 1], received thresholds={thresholds!r} "
            f"(out of range: {bad}). Pass probabilities, e.g. thresholds=[0.3, 0.5, 0.7].")
    return values


def _evenly_spaced(thresholds: Sequence[float]) -> bool:
    """Whether the thresholds are 0, 1/(n-1), ..., 1 (n >= 3), as Keras tests it."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(np.asarray(thresholds, dtype=np.float64), even, atol=EPSILON))


def _check_class_id(who: str, class_id):
    if class_id is not None and (isinstance(class_id, bool) or not isinstance(
            class_id, (int, np.integer)) or class_id < 0):
        raise ValueError(
            f"{who} expected class_id to be None or an integer >= 0 (the column of y_pred "
            f"to score), received class_id={class_id!r}.")


def _filter_top_k(x, k):
    """Keep the `k` largest entries of the last axis; set the others to `_NEG_INF`."""
    _, idx = jax.lax.top_k(x, k)
    mask = jnp.sum(jax.nn.one_hot(idx, x.shape[-1], dtype=x.dtype), axis=-2)
    return x * mask + _NEG_INF * (1 - mask)


def _confusion_counts(kinds, y_true, y_pred, thresholds, *, evenly: bool, top_k=None,
                      class_id=None, sample_weight=None, multi_label: bool = False,
                      label_weights=None, dtype="float32") -> dict:
    """The weighted counts of one batch at each threshold, purely.

    Args:
        kinds: which of "tp", "fp", "tn", "fn" to compute.
        y_true, y_pred: labels (non-zero = positive) and scores.
        thresholds: a sequence of Python floats.
        evenly: whether to use the bucketing algorithm (thresholds evenly spaced).
        top_k, class_id: as in `Precision`.
        sample_weight: optional weights, broadcast against `y_pred`.
        multi_label: keep a separate count per label (last axis of a rank-2 `y_pred`).
        label_weights: per-label weights (only when not `multi_label`).
        dtype: the count dtype.

    Returns:
        A dict kind -> counts of shape `(num_thresholds,)` (or `(num_thresholds,
        num_labels)` with `multi_label`).
    """
    y_true = as_array(y_true).astype(dtype)
    y_pred = as_array(y_pred).astype(dtype)
    thresholds = list(thresholds)
    with_epsilon = evenly and (thresholds[0] < 0.0 or thresholds[-1] > 1.0)
    thr = jnp.asarray(np.asarray(thresholds, dtype=np.float64), dtype)
    n = len(thresholds)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = jnp.expand_dims(as_array(sample_weight).astype(dtype), -1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight,
                                                          expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(
                f"With class_id={class_id}, y_pred must have shape (num_samples, num_classes); "
                f"received shape {tuple(y_pred.shape)}.")
        if class_id >= y_pred.shape[-1]:
            raise ValueError(
                f"class_id={class_id} is out of range for y_pred with {y_pred.shape[-1]} "
                "classes on its last axis.")
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    if multi_label and y_pred.ndim != 2:
        raise ValueError(
            f"multi_label counts need y_pred of rank 2 (batch, labels); received shape "
            f"{tuple(y_pred.shape)}.")

    weights = None
    if sample_weight is not None:
        weights = jnp.broadcast_to(sample_weight.astype(dtype), y_pred.shape)
    if label_weights is not None and not multi_label:
        lw = jnp.broadcast_to(jnp.asarray(label_weights, dtype)[None], y_pred.shape)
        weights = lw if weights is None else weights * lw
    if not multi_label:
        y_true = y_true.reshape(-1)
        y_pred = y_pred.reshape(-1)
        if weights is not None:
            weights = weights.reshape(-1)
    label_pos = y_true != 0
    out = {}
    if evenly:
        w = jnp.asarray(1.0, dtype) if weights is None else weights
        truth = label_pos.astype(dtype)
        true_labels = truth * w
        false_labels = (1.0 - truth) * w
        clipped = jnp.clip(y_pred, 0.0, 1.0)
        bucket = jnp.ceil(clipped * (jnp.asarray(n, dtype) - 1)) - 1
        if with_epsilon:
            bucket = jax.nn.relu(bucket)
        bucket = bucket.astype(jnp.int32)
        bucket = jnp.where(bucket < 0, n, bucket)       # below every threshold: dropped
        true_labels = jnp.broadcast_to(true_labels, bucket.shape)
        false_labels = jnp.broadcast_to(false_labels, bucket.shape)
        if multi_label:
            num_labels = bucket.shape[1]
            seg = bucket * num_labels + jnp.arange(num_labels, dtype=jnp.int32)[None]

            def per_bucket(v):
                s = jax.ops.segment_sum(v.reshape(-1), seg.reshape(-1),
                                        num_segments=(n + 1) * num_labels)
                return s.reshape(n + 1, num_labels)[:n]
        else:
            def per_bucket(v):
                return jax.ops.segment_sum(v, bucket, num_segments=n + 1)[:n]

        def above(v):
            return jnp.flip(jnp.cumsum(jnp.flip(per_bucket(v), 0), axis=0), 0)

        tp = above(true_labels) if {"tp", "fn"} & set(kinds) else None
        fp = above(false_labels) if {"fp", "tn"} & set(kinds) else None
        if "tp" in kinds:
            out["tp"] = tp
        if "fp" in kinds:
            out["fp"] = fp
        if "tn" in kinds:
            out["tn"] = jnp.sum(false_labels, axis=0) - fp
        if "fn" in kinds:
            out["fn"] = jnp.sum(true_labels, axis=0) - tp
        return out

    # one comparison per threshold: (T, N) or (T, batch, labels)
    thr_shape = (n, 1, 1) if multi_label else (n, 1)
    pred_pos = y_pred[None] > thr.reshape(thr_shape)
    label_pos = jnp.broadcast_to(label_pos[None], pred_pos.shape)

    def count(label, pred):
        both = jnp.logical_and(label, pred)
        if weights is None:
            return jnp.sum(both.astype(dtype), axis=1)
        return jnp.sum(jnp.where(both, jnp.broadcast_to(weights[None], both.shape), 0),
                       axis=1).astype(dtype)

    if "tp" in kinds:
        out["tp"] = count(label_pos, pred_pos)
    if "fp" in kinds:
        out["fp"] = count(~label_pos, pred_pos)
    if "tn" in kinds:
        out["tn"] = count(~label_pos, ~pred_pos)
    if "fn" in kinds:
        out["fn"] = count(label_pos, ~pred_pos)
    return out


# ------------------------------------------------------------------------ counts
class _ConfusionMatrixConditionCount(Metric):
    """One confusion-matrix count at each threshold (the base of TruePositives & co)."""

    _KIND = "tp"

    def __init__(self, thresholds=None, name: str | None = None, dtype=None):
        super().__init__(name=name or _auto_name(type(self).__name__), dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(type(self).__name__, thresholds, 0.5)
        self._thresholds_distributed_evenly = _evenly_spaced(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros",
                                             name="accumulator")

    def _update(self, state, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(
            (self._KIND,), y_true, y_pred, self.thresholds,
            evenly=self._thresholds_distributed_evenly, sample_weight=sample_weight,
            dtype=self.dtype)
        return [state[0] + counts[self._KIND]]

    def _result(self, state):
        return state[0][0] if len(self.thresholds) == 1 else state[0]

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of true positives: label non-zero and `y_pred > threshold`.

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5); with a list the
            result has one count per threshold.
        name: default "true_positives" (then "true_positives_1", ... as in Keras).
        dtype: default float32.

    Raises:
        ValueError: for thresholds outside [0, 1].

    Example:
        >>> m = TruePositives()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> float(m.result())
        2.0
    """

    _KIND = "tp"


class FalsePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of false positives: label zero and `y_pred > threshold`.

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5).
        name: default "false_positives".
        dtype: default float32.

    Example:
        >>> m = FalsePositives()
        >>> m.update_state([0, 1, 0, 0], [0, 0, 1, 1])
        >>> float(m.result())
        2.0
    """

    _KIND = "fp"


class TrueNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of true negatives: label zero and `y_pred <= threshold`.

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5).
        name: default "true_negatives".
        dtype: default float32.

    Example:
        >>> m = TrueNegatives()
        >>> m.update_state([0, 1, 0, 0], [1, 1, 0, 0])
        >>> float(m.result())
        2.0
    """

    _KIND = "tn"


class FalseNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of false negatives: label non-zero and `y_pred <= threshold`.

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5).
        name: default "false_negatives".
        dtype: default float32.

    Example:
        >>> m = FalseNegatives()
        >>> m.update_state([0, 1, 1, 1], [0, 1, 0, 0])
        >>> float(m.result())
        2.0
    """

    _KIND = "fn"


# ------------------------------------------------------------------------ precision / recall
class _PrecisionRecall(Metric):
    _OTHER = "fp"
    _OTHER_NAME = "false_positives"

    def __init__(self, thresholds=None, top_k: int | None = None, class_id: int | None = None,
                 name: str | None = None, dtype=None):
        who = type(self).__name__
        super().__init__(name=name or _auto_name(who), dtype=dtype)
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(
                top_k, (int, np.integer)) or top_k < 1):
            raise ValueError(
                f"{who} expected top_k to be None or an integer >= 1, received top_k={top_k!r}.")
        _check_class_id(who, class_id)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(who, thresholds,
                                            0.5 if top_k is None else _NEG_INF)
        self._thresholds_distributed_evenly = _evenly_spaced(self.thresholds)
        shape = (len(self.thresholds),)
        self.true_positives = self.add_variable(shape, "zeros", name="true_positives")
        setattr(self, self._OTHER_NAME, self.add_variable(shape, "zeros",
                                                          name=self._OTHER_NAME))

    def _update(self, state, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(
            ("tp", self._OTHER), y_true, y_pred, self.thresholds,
            evenly=self._thresholds_distributed_evenly, top_k=self.top_k,
            class_id=self.class_id, sample_weight=sample_weight, dtype=self.dtype)
        return [state[0] + counts["tp"], state[1] + counts[self._OTHER]]

    def _result(self, state):
        value = divide_no_nan(state[0], state[0] + state[1])
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """Precision, `tp / (tp + fp)`, accumulated over batches (0 when nothing is predicted).

    Args:
        thresholds: a float or a list of floats in [0, 1]; a prediction above it counts as
            positive. Default 0.5, or, with `top_k`, every prediction among the top k.
        top_k: score only the `top_k` highest predictions of each sample.
        class_id: score only this column of `y_pred` / `y_true` (a one-vs-rest precision).
        name: default "precision".
        dtype: default float32.

    Raises:
        ValueError: for thresholds outside [0, 1], a bad top_k or class_id.

    Example:
        >>> m = Precision()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _OTHER = "fp"
    _OTHER_NAME = "false_positives"


class Recall(_PrecisionRecall):
    """Recall, `tp / (tp + fn)`, accumulated over batches (0 when there is no positive).

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5, or the top k).
        top_k: score only the `top_k` highest predictions of each sample.
        class_id: score only this column of `y_pred` / `y_true`.
        name: default "recall".
        dtype: default float32.

    Raises:
        ValueError: for thresholds outside [0, 1], a bad top_k or class_id.

    Example:
        >>> m = Recall()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _OTHER = "fn"
    _OTHER_NAME = "false_negatives"


# ------------------------------------------------------------------------ AUC
_CURVES = {"ROC": "ROC", "roc": "ROC", "PR": "PR", "pr": "PR", "PRGAIN": "PRGAIN",
           "prgain": "PRGAIN"}
_SUMMATIONS = {"interpolation": "interpolation", "Interpolation": "interpolation",
               "majoring": "majoring", "Majoring": "majoring",
               "minoring": "minoring", "Minoring": "minoring"}


class AUC(_LazyShapeMetric):
    """Area under the ROC or precision-recall curve, by a Riemann sum over thresholds.

    Args:
        num_thresholds: how many thresholds to use, evenly spaced in [0, 1] (default 200;
            must be > 1).
        curve: "ROC" (default), "PR" or "PRGAIN" (lower case also accepted).
        summation_method: "interpolation" (default; for PR the interpolation of Davis &
            Goadrich), "minoring" or "majoring".
        name: default "auc" (then "auc_1", ... as in Keras).
        dtype: default float32.
        thresholds: explicit thresholds in [0, 1], used instead of `num_thresholds` (0 and 1,
            widened by epsilon, are added at the ends).
        multi_label: treat each column of a rank-2 `y_pred` as its own label, compute an AUC
            per label and average them (weighted by `label_weights`).
        num_labels: the number of labels with `multi_label=True`; needed to use the metric
            inside a compiled `fit` / `evaluate` before it has seen data.
        label_weights: per-label weights: they weight the data (single label) or the
            per-label AUCs (multi_label).
        from_logits: whether predictions are logits (a sigmoid is applied first).

    Raises:
        ValueError: for an unknown curve or summation_method, num_thresholds <= 1, thresholds
            outside [0, 1], or num_labels without multi_label.

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        >>> float(m.result())
        0.75
    """

    _build_hint = " (or pass num_labels= to AUC with multi_label=True)"

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None, dtype=None,
                 thresholds=None, multi_label: bool = False, num_labels: int | None = None,
                 label_weights=None, from_logits: bool = False):
        if not isinstance(curve, str) or curve not in _CURVES:
            raise ValueError(
                f"AUC expected curve to be one of 'ROC', 'PR' or 'PRGAIN' (or lower case), "
                f"received curve={curve!r}.")
        if not isinstance(summation_method, str) or summation_method not in _SUMMATIONS:
            raise ValueError(
                "AUC expected summation_method to be one of 'interpolation', 'minoring' or "
                f"'majoring', received summation_method={summation_method!r}.")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_parse_thresholds("AUC", thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
            self._thresholds_distributed_evenly = _evenly_spaced([0.0] + inner + [1.0])
        else:
            if isinstance(num_thresholds, bool) or not isinstance(
                    num_thresholds, (int, np.integer)) or num_thresholds <= 1:
                raise ValueError(
                    f"AUC expected num_thresholds to be an integer > 1, received "
                    f"num_thresholds={num_thresholds!r}.")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        if num_labels is not None and not multi_label:
            raise ValueError(
                f"AUC received num_labels={num_labels!r} with multi_label=False; num_labels is "
                "used only with multi_label=True. Drop num_labels or set multi_label=True.")
        if multi_label and num_labels is not None and (
                isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer))
                or num_labels < 1):
            raise ValueError(f"AUC expected num_labels to be None or an integer >= 1, "
                             f"received num_labels={num_labels!r}.")
        super().__init__(name=name or _auto_name("AUC"), dtype=dtype)
        self.curve = _CURVES[curve]
        self.summation_method = _SUMMATIONS[summation_method]
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        if label_weights is not None:
            label_weights = np.asarray(label_weights, dtype=self.dtype)
            if label_weights.ndim != 1 or (label_weights < 0).any():
                raise ValueError(
                    "AUC expected label_weights to be a list of non-negative numbers, one per "
                    f"label, received label_weights={label_weights.tolist()!r}.")
        self.label_weights = label_weights
        self._from_logits = bool(from_logits)
        if self.multi_label:
            if num_labels:
                self.build(None, (None, int(num_labels)))
        else:
            self.build(None, None)

    @property
    def thresholds(self) -> list:
        """The thresholds used, the epsilon-widened 0 and 1 included."""
        return list(self._thresholds)

    def _build(self, y_true_shape, y_pred_shape):
        if self.multi_label:
            if len(y_pred_shape) != 2:
                raise ValueError(
                    f"AUC with multi_label=True needs y_pred of rank 2 (batch, labels), "
                    f"received shape {tuple(y_pred_shape)}.")
            self._num_labels = int(y_pred_shape[1])
            shape = (self.num_thresholds, self._num_labels)
        else:
            shape = (self.num_thresholds,)
        for var in ("true_positives", "false_positives", "true_negatives", "false_negatives"):
            setattr(self, var, self.add_variable(shape, "zeros", name=var))

    def _update(self, state, y_true, y_pred, sample_weight=None):
        y_pred = as_array(y_pred).astype(self.dtype)
        if self._from_logits:
            y_pred = jax.nn.sigmoid(y_pred)
        c = _confusion_counts(
            _KINDS, y_true, y_pred, list(self._thresholds),
            evenly=self._thresholds_distributed_evenly, sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights, dtype=self.dtype)
        return [s + c[k] for s, k in zip(state, _KINDS)]

    def _by_label(self, terms):
        if not self.multi_label:
            return jnp.sum(terms)
        by_label = jnp.sum(terms, axis=0)
        if self.label_weights is None:
            return jnp.mean(by_label)
        lw = jnp.asarray(self.label_weights, self.dtype)
        return divide_no_nan(jnp.sum(by_label * lw), jnp.sum(lw))

    def _interpolate_pr_auc(self, tp, fp, fn):
        k = self.num_thresholds - 1
        dtp = tp[:k] - tp[1:]
        p = tp + fp
        dp = p[:k] - p[1:]
        slope = divide_no_nan(dtp, jnp.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = jnp.where((p[:k] > 0) & (p[1:] > 0),
                          divide_no_nan(p[:k], jnp.maximum(p[1:], 0)), jnp.ones_like(p[1:]))
        increments = divide_no_nan(slope * (dtp + intercept * jnp.log(ratio)),
                                    jnp.maximum(tp[1:] + fn[1:], 0))
        return self._by_label(increments)

    def _result(self, state):
        tp, fp, tn, fn = state
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc(tp, fp, fn)
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
            recall_gain = jnp.maximum(jnp.where(tp == 0, 0.0, recall_gain), 0.0)
            precision_gain = jnp.where(tp == 0, 1.0, precision_gain)
            x, y = recall_gain, precision_gain
        k = self.num_thresholds - 1
        if self.summation_method == "interpolation":
            heights = (y[:k] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = jnp.minimum(y[:k], y[1:])
        else:
            heights = jnp.maximum(y[:k], y[1:])
        return self._by_label((x[:k] - x[1:]) * heights)

    def get_config(self):
        lw = None if self.label_weights is None else [float(w) for w in self.label_weights]
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": lw, "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config


