"""F-scores: F-beta and F1 over thresholded predictions, per class or averaged."""
from __future__ import annotations

import jax.numpy as jnp

from trine.losses.base import EPSILON, as_array
from trine.metrics.base import _LazyShapeMetric


class FBetaScore(_LazyShapeMetric):
    """The F-beta score, `(1 + beta^2) * p * r / (beta^2 * p + r)`, per class or averaged.

    Inputs are rank 2, `(batch, num_classes)`: one-hot (or multi-hot) labels and scores.

    Args:
        average: None (one score per class), "micro" (from the counts summed over
            classes), "macro" (unweighted mean of the class scores) or "weighted" (mean
            weighted by each class's support).
        beta: the weight of recall relative to precision, a float > 0 (default 1.0).
        threshold: a float in (0, 1]: scores above it count as positive. None (default):
            the highest score of each sample counts as positive.
        name: default "fbeta_score".
        dtype: default float32.

    Raises:
        ValueError: for an unknown average, beta not a float > 0, or a threshold outside
            (0, 1].

    Example:
        >>> m = FBetaScore(beta=2.0, threshold=0.5)
        >>> m.update_state([[1, 1, 0]], [[0.9, 0.2, 0.7]])
        >>> [round(float(v), 4) for v in m.result()]
        [1.0, 0.0, 0.0]
    """

    def __init__(self, average: str | None = None, beta: float = 1.0,
                 threshold: float | None = None, name: str = "fbeta_score", dtype=None):
        who = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"{who} expected average to be one of None, 'micro', 'macro' or 'weighted', "
                f"received average={average!r}.")
        if not isinstance(beta, float):
            raise ValueError(
                f"{who} expected beta to be a Python float > 0, received beta={beta!r} of "
                f"type {type(beta).__name__}. Pass e.g. beta=2.0.")
        if beta <= 0.0:
            raise ValueError(f"{who} expected beta to be a float > 0, received beta={beta!r}.")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(
                    f"{who} expected threshold to be None or a Python float in (0, 1], "
                    f"received threshold={threshold!r} of type {type(threshold).__name__}.")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(f"{who} expected threshold in (0, 1], received "
                                 f"threshold={threshold!r}.")
        super().__init__(name=name, dtype=dtype)
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0

    def _build(self, y_true_shape, y_pred_shape):
        num_classes = self._matrix_width(y_true_shape, y_pred_shape, "classes")
        shape = () if self.average == "micro" else (num_classes,)
        for var in ("true_positives", "false_positives", "false_negatives",
                    "intermediate_weights"):
            setattr(self, var, self.add_variable(shape, "zeros", name=var))

    def _update(self, state, y_true, y_pred, sample_weight=None):
        y_true = as_array(y_true).astype(self.dtype)
        y_pred = as_array(y_pred).astype(self.dtype)
        if self.threshold is None:
            top = jnp.max(y_pred, axis=-1, keepdims=True)
            y_pred = (y_pred >= top) & (jnp.abs(y_pred) > 1e-9)
        else:
            y_pred = y_pred > self.threshold
        y_pred = y_pred.astype(self.dtype)
        sw = None if sample_weight is None else as_array(sample_weight).astype(self.dtype)

        def wsum(v):
            if sw is not None:
                v = v * jnp.expand_dims(sw, 1)
            return jnp.sum(v, axis=self.axis)

        return [state[0] + wsum(y_pred * y_true), state[1] + wsum(y_pred * (1 - y_true)),
                state[2] + wsum((1 - y_pred) * y_true), state[3] + wsum(y_true)]

    def _result(self, state):
        tp, fp, fn, support = state
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            weights = support / (jnp.sum(support) + EPSILON)
            return jnp.sum(score * weights)
        if self.average is not None:
            return jnp.mean(score)
        return score

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F1 score, `2 * p * r / (p + r)` (an `FBetaScore` with beta=1).

    Args:
        average: None, "micro", "macro" or "weighted" (see `FBetaScore`).
        threshold: None (the top score counts as positive) or a float in (0, 1].
        name: default "f1_score".
        dtype: default float32.

    Example:
        >>> m = F1Score(threshold=0.5)
        >>> m.update_state([[1, 1, 0]], [[0.9, 0.2, 0.7]])
        >>> [round(float(v), 4) for v in m.result()]
        [1.0, 0.0, 0.0]
    """

    def __init__(self, average: str | None = None, threshold: float | None = None,
                 name: str = "f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


