"""Regression metrics: squared, absolute, percentage and logarithmic errors, log-cosh,
cosine similarity, RMSE, R2 and the Pearson / concordance correlations."""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

from trine.losses import (cosine_similarity, log_cosh, mean_absolute_error,
                          mean_absolute_percentage_error, mean_squared_error,
                          mean_squared_logarithmic_error)
from trine.core.variable import current_scope
from trine.losses.base import EPSILON, as_array, squeeze_or_expand_to_same_rank
from trine.metrics.base import Mean, _BuiltinWrapper, _LazyShapeMetric, builtin_function


class MeanSquaredError(_BuiltinWrapper):
    """Running mean of `mean_squared_error` (per sample: mean over the last axis).

    Args:
        name: default "mean_squared_error".
        dtype: default float32.
    """

    def __init__(self, name: str = "mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinWrapper):
    """Running mean of `mean_absolute_error`.

    Args:
        name: default "mean_absolute_error".
        dtype: default float32.
    """

    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_BuiltinWrapper):
    """Running mean of `mean_absolute_percentage_error`.

    Args:
        name: default "mean_absolute_percentage_error".
        dtype: default float32.
    """

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_BuiltinWrapper):
    """Running mean of `mean_squared_logarithmic_error`.

    Args:
        name: default "mean_squared_logarithmic_error".
        dtype: default float32.
    """

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(_BuiltinWrapper):
    """Running mean of `log_cosh`.

    Args:
        name: default "logcosh".
        dtype: default float32.
    """

    def __init__(self, name: str = "logcosh", dtype=None):
        super().__init__(log_cosh, name=name, dtype=dtype)




def _cosine_similarity(y_true, y_pred, axis=-1):
    """Cosine similarity (positive when aligned), the metric's per-sample value."""
    return -cosine_similarity(y_true, y_pred, axis=axis)


class CosineSimilarity(_BuiltinWrapper):
    """Running mean of the cosine similarity `sum(l2_normalize(y_true) * l2_normalize(y_pred))`.

    Unlike the loss of the same name, the metric is positive when the vectors align.

    Args:
        name: default "cosine_similarity".
        dtype: default float32.
        axis: the axis along which the similarity is computed (default -1).
    """

    _CONFIG_KEYS = ("axis",)  # Keras 3 leaves axis out of the config; trine keeps it

    def __init__(self, name: str = "cosine_similarity", dtype=None, axis: int = -1):
        super().__init__(_cosine_similarity, name=name, dtype=dtype, axis=axis)




class RootMeanSquaredError(Mean):
    """`sqrt` of the running (weighted) mean of squared errors.

    Args:
        name: default "root_mean_squared_error".
        dtype: default float32.

    Example:
        >>> m = RootMeanSquaredError()
        >>> float(m(jnp.zeros((2, 1)), jnp.full((2, 1), 2.0)))
        2.0
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _update(self, state, y_true, y_pred, sample_weight=None):
        y_true = as_array(y_true, self.dtype)
        y_pred = as_array(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self._accumulate(state, jnp.square(y_pred - y_true), sample_weight)

    def _result(self, state):
        return jnp.sqrt(Mean._result(self, state))




class R2Score(_LazyShapeMetric):
    """The coefficient of determination, `1 - SS_res / SS_tot`, per output column.

    Inputs are rank 2, `(batch, num_outputs)` (a rank-1 pair is treated as one column).

    Args:
        class_aggregation: "uniform_average" (default, the mean over columns),
            "variance_weighted_average" (weighted by each column's variance) or None (one
            score per column).
        num_regressors: the number of independent variables, for the adjusted R2 (default 0:
            plain R2).
        name: default "r2_score".
        dtype: default float32.

    Raises:
        ValueError: for an unknown class_aggregation or num_regressors < 0.

    Example:
        >>> m = R2Score()
        >>> m.update_state([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, class_aggregation: str | None = "uniform_average",
                 num_regressors: int = 0, name: str = "r2_score", dtype=None):
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(
                f"R2Score expected class_aggregation to be one of {valid}, received "
                f"class_aggregation={class_aggregation!r}.")
        if isinstance(num_regressors, bool) or not isinstance(
                num_regressors, (int, np.integer)) or num_regressors < 0:
            raise ValueError(f"R2Score expected num_regressors to be an integer >= 0, "
                             f"received num_regressors={num_regressors!r}.")
        super().__init__(name=name, dtype=dtype)
        self.class_aggregation = class_aggregation
        self.num_regressors = int(num_regressors)
        self.num_samples = self.add_variable((), "zeros", name="num_samples")

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if not self._built:
            yt, yp = as_array(y_true, self.dtype), as_array(y_pred, self.dtype)
            if not (current_scope() is not None or isinstance(yt, jax.core.Tracer)
                    or isinstance(yp, jax.core.Tracer)):
                yt, yp = squeeze_or_expand_to_same_rank(yt, yp)
                self.build(yt.shape, yp.shape)
        _LazyShapeMetric.update_state(self, y_true, y_pred, sample_weight)

    def _build(self, y_true_shape, y_pred_shape):
        shape = (self._matrix_width(y_true_shape, y_pred_shape, "outputs"),)
        self.squared_sum = self.add_variable(shape, "zeros", name="squared_sum")
        self.sum = self.add_variable(shape, "zeros", name="sum")
        self.total_mse = self.add_variable(shape, "zeros", name="residual")
        self.count = self.add_variable(shape, "zeros", name="count")

    def _update(self, state, y_true, y_pred, sample_weight=None):
        y_true = as_array(y_true, self.dtype)
        y_pred = as_array(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        num_samples, squared_sum, total, residual, count = state
        sw = jnp.asarray(1.0 if sample_weight is None else as_array(sample_weight), self.dtype)
        if sw.ndim == 1:
            sw = jnp.expand_dims(sw, 1)
        sw = jnp.broadcast_to(sw, y_true.shape)
        weighted = y_true * sw
        return [num_samples + jnp.asarray(y_true.size, self.dtype),
                squared_sum + jnp.sum(y_true * weighted, axis=0),
                total + jnp.sum(weighted, axis=0),
                residual + jnp.sum(jnp.square(y_true - y_pred) * sw, axis=0),
                count + jnp.sum(sw, axis=0)]

    def _result(self, state):
        num_samples, squared_sum, total, residual, count = state
        mean = total / count
        ss_tot = squared_sum - total * mean
        raw = 1 - residual / ss_tot
        raw = jnp.where(jnp.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = jnp.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = jnp.sum(ss_tot * raw) / jnp.sum(ss_tot)
        else:
            score = raw
        p = self.num_regressors
        if p == 0:
            return score
        n = num_samples.astype(jnp.float32)
        if not isinstance(n, jax.core.Tracer):
            if p > float(n) - 1:
                warnings.warn("R2Score: more regressors than data points for the adjusted R2; "
                              "returning the plain R2.", stacklevel=2)
            elif p == float(n) - 1:
                warnings.warn("R2Score: the adjusted R2 divides by zero (num_regressors == "
                              "num_samples - 1); returning the plain R2.", stacklevel=2)
        adjusted = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return jnp.where(p >= n - 1, score, adjusted)

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}





# ------------------------------------------------------------------------ correlations
def _pair(y_true, y_pred):
    y_pred = jnp.asarray(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(jnp.float32)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


@builtin_function
def pearson_correlation(y_true, y_pred, axis: int = -1):
    """Pearson's correlation coefficient between `y_true` and `y_pred` along `axis`.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.
        axis: the axis the correlation runs along. Default -1.

    Returns:
        The correlations, with `axis` reduced.

    Example:
        >>> float(pearson_correlation(jnp.array([[1.0, 2.0, 3.0]]), jnp.array([[2.0, 4.0, 7.0]]))[0])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    t = y_true - jnp.mean(y_true, axis=axis, keepdims=True)
    p = y_pred - jnp.mean(y_pred, axis=axis, keepdims=True)
    t = t / jnp.std(t, axis=axis, keepdims=True)
    p = p / jnp.std(p, axis=axis, keepdims=True)
    return jnp.mean(t * p, axis=axis)


@builtin_function
def concordance_correlation(y_true, y_pred, axis: int = -1):
    """Lin's concordance correlation coefficient along `axis`, with Keras's arithmetic.

    Args:
        y_true: targets.
        y_pred: predictions, same shape.
        axis: the axis it runs along. Default -1.

    Returns:
        The coefficients, with `axis` reduced.

    Example:
        >>> concordance_correlation(jnp.array([[1.0, 2.0, 3.0]]), jnp.array([[1.1, 2.0, 2.9]]))
    """
    y_true, y_pred = _pair(y_true, y_pred)
    t_mean = jnp.mean(y_true, axis=axis, keepdims=True)
    p_mean = jnp.mean(y_pred, axis=axis, keepdims=True)
    t_var = jnp.var(y_true - t_mean, axis=axis, keepdims=True)
    p_var = jnp.var(y_pred - p_mean, axis=axis, keepdims=True)
    # Keras centres y_true on the prediction mean here; kept for identical numbers
    covar = (y_true - p_mean) * (y_pred - p_mean)
    norm = t_var + p_var + jnp.square(t_mean - p_mean)
    return jnp.mean(2 * covar / (norm + EPSILON), axis=axis)


class PearsonCorrelation(_BuiltinWrapper):
    """The mean over samples of `pearson_correlation` along `axis`.

    Args:
        name: default "pearson_correlation".
        dtype: default float32.
        axis: Default -1.
    """

    _CONFIG_KEYS = ("axis",)

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)


class ConcordanceCorrelation(_BuiltinWrapper):
    """The mean over samples of `concordance_correlation` along `axis`.

    Args:
        name: default "concordance_correlation".
        dtype: default float32.
        axis: Default -1.
    """

    _CONFIG_KEYS = ("axis",)

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)


