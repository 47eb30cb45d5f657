"""Metrics (Keras `keras.metrics`) with a pure, jit-safe core.

A metric keeps its running state in `variables` (trine `Variable`s made by
`add_variable`). The jitted trainer never touches them: it threads plain arrays through

    state = metric.stateless_reset_state()
    state = metric.stateless_update_state(state, y_true, y_pred, sample_weight)
    value = metric.stateless_result(state)

(the names of Keras 3's JAX stateless API). The stateful Keras API (`update_state`,
`result`, `reset_state`, calling the metric) is built on the same functions and stores the
state in the variables.

A subclass written the Keras way (create variables with `add_variable` in `__init__`,
implement `update_state` with `variable.assign_add(...)` and `result`) gets the stateless
methods for free: they run its code under a `StatelessScope` that swaps arrays in for the
variables and collects the assignments.

Example:
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state(jnp.array([0, 1]), jnp.array([[0.9, 0.1], [0.8, 0.2]]))
    >>> float(m.result())
    0.5
"""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from trine.core import context as _context
from trine.core.variable import StatelessScope, Variable
from trine.losses import (BUILTIN_FUNCTIONS, binary_crossentropy, categorical_crossentropy, categorical_hinge,
                          cosine_similarity, hinge, kl_divergence, log_cosh,
                          mean_absolute_error, mean_absolute_percentage_error,
                          mean_squared_error, mean_squared_logarithmic_error, poisson,
                          sparse_categorical_crossentropy, squared_hinge,
                          squeeze_or_expand_to_same_rank)
from trine import ops as _ops
from trine.losses import base as _loss_base

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "RootMeanSquaredError",
    "CosineSimilarity", "LogCoshError", "Hinge", "SquaredHinge", "CategoricalHinge",
    "KLDivergence", "Poisson", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "hinge", "squared_hinge", "categorical_hinge",
    "kl_divergence", "poisson", "log_cosh", "cosine_similarity",
    "get", "serialize", "deserialize", "resolve_accuracy",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "Precision",
    "Recall", "AUC", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
    "SpecificityAtSensitivity", "FBetaScore", "F1Score", "R2Score",
]


def _snake(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def _arr(x, dtype=None):
    if isinstance(x, Variable):
        x = x.value
    return jnp.asarray(x, dtype=dtype)


# ------------------------------------------------------------------------ per-sample fns
def accuracy(y_true, y_pred):
    """1.0 where `y_true == y_pred` exactly, else 0.0.

    Args:
        y_true: targets.
        y_pred: predictions (compared as they are, no thresholding).

    Returns:
        Float32 matches, the common shape.
    """
    y_pred = _arr(y_pred)
    y_true = _arr(y_true, y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return (y_true == y_pred).astype(jnp.float32)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """1.0 where `(y_pred > threshold) == y_true`, else 0.0.

    Args:
        y_true: 0/1 targets.
        y_pred: probabilities (or scores).
        threshold: the decision threshold (default 0.5).

    Returns:
        Float32 matches per entry.
    """
    y_pred = _arr(y_pred)
    y_true = _arr(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    pred = (y_pred > threshold).astype(y_true.dtype)
    return (y_true == pred).astype(jnp.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_true) == argmax(y_pred)` on the last axis, else 0.0.

    Args:
        y_true: one-hot targets.
        y_pred: scores or probabilities, same shape.

    Returns:
        Float32 matches, the batch shape.
    """
    y_pred = _arr(y_pred)
    true_idx = jnp.argmax(_arr(y_true), axis=-1).astype(y_pred.dtype)
    pred_idx = jnp.argmax(y_pred, axis=-1).astype(y_pred.dtype)
    return (true_idx == pred_idx).astype(jnp.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer label equals `argmax(y_pred)`, else 0.0.

    Args:
        y_true: integer labels of shape `y_pred.shape[:-1]` (or with a trailing axis of 1).
        y_pred: scores or probabilities.

    Returns:
        Float32 matches, shape of the labels without a trailing axis of size 1.
    """
    y_pred = _arr(y_pred)
    y_true = _arr(y_true, y_pred.dtype)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, -1)
    pred_idx = jnp.argmax(y_pred, axis=-1).astype(y_true.dtype)
    return (y_true == pred_idx).astype(jnp.float32)


def _in_top_k(targets, predictions, k):
    """Whether each target's score is among the `k` largest (ties count in its favour)."""
    at_label = jnp.take_along_axis(predictions, targets[..., None], axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    rank = 1 + jnp.sum(predictions > at_label, axis=-1)
    return rank <= k


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """1.0 where the one-hot target's class is among the `k` highest scores, else 0.0.

    Args:
        y_true: one-hot targets.
        y_pred: scores, same shape.
        k: how many top classes count (default 5).

    Returns:
        Float32 matches, the batch shape.
    """
    y_pred = _arr(y_pred)
    labels = jnp.argmax(_arr(y_true, y_pred.dtype), axis=-1).astype(jnp.int32)
    return _in_top_k(labels, y_pred, k).astype(jnp.float32)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5,
                                      from_sorted_ids: bool = False):
    """1.0 where the integer label is among the `k` highest scores, else 0.0.

    Args:
        y_true: integer labels of shape `y_pred.shape[:-1]`.
        y_pred: scores; or, with `from_sorted_ids=True`, class ids sorted by score.
        k: how many top classes count (default 5).
        from_sorted_ids: whether `y_pred` holds sorted class ids rather than scores.

    Returns:
        Float32 matches, the shape of the labels.
    """
    y_pred = _arr(y_pred)
    y_true = _arr(y_true, y_pred.dtype if from_sorted_ids else jnp.int32)
    shape = y_true.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    if y_true.ndim > 1:
        y_true = y_true.reshape(-1)
    if from_sorted_ids:
        matches = jnp.any(y_true[:, None] == y_pred[:, :k], axis=1)
    else:
        matches = _in_top_k(y_true, y_pred, k)
    return matches.astype(jnp.float32).reshape(shape)


# ------------------------------------------------------------------------ base class
class Metric:
    """Base class of metrics.

    Create state in `__init__` with `self.add_variable(shape, initializer, dtype, name)`;
    implement `update_state(y_true, y_pred, sample_weight=None)` and `result()` on those
    variables (Keras style), and optionally `reset_state()` (default: all variables to 0).
    The stateless methods then work under jit by running that code on arrays.

    Args:
        dtype: the dtype of the state and result (default float32).
        name: the metric's name (default: the class name in snake_case).

    Example:
        >>> class Total(Metric):
        ...     def __init__(self, name="total", dtype=None):
        ...         super().__init__(name=name, dtype=dtype)
        ...         self.total = self.add_variable((), "zeros", name="total")
        ...     def update_state(self, values, sample_weight=None):
        ...         self.total.assign_add(jnp.sum(values))
        ...     def result(self):
        ...         return self.total.value
    """

    def __init__(self, dtype=None, name: str | None = None):
        object.__setattr__(self, "_variables", [])
        object.__setattr__(self, "_metrics", [])
        self.name = name or _snake(type(self).__name__)
        self._dtype = jnp.dtype("float32" if dtype is None else dtype).name

    def __setattr__(self, key, value):
        if isinstance(value, Metric) and value is not self:
            metrics = self.__dict__.get("_metrics")
            if metrics is None:
                raise RuntimeError(
                    f"{type(self).__name__} assigned a sub-metric before calling "
                    "super().__init__(). Call super().__init__(name=..., dtype=...) first.")
            if not any(m is value for m in metrics):
                metrics.append(value)
        object.__setattr__(self, key, value)

    @property
    def dtype(self) -> str:
        """The dtype of the state and result."""
        return self._dtype

    # -- state --------------------------------------------------------------------------
    def add_variable(self, shape, initializer, dtype=None, aggregation: str = "sum",
                     name: str | None = None) -> Variable:
        """Create a (non-trainable) state variable of this metric.

        Args:
            shape: its shape, e.g. `()`.
            initializer: a name ("zeros"), an Initializer or a callable `(shape, dtype)`.
            dtype: default the metric's dtype.
            aggregation: accepted for Keras compatibility.
            name: its name.

        Returns:
            The `Variable`.

        Raises:
            RuntimeError: if `super().__init__()` was not called first.
        """
        if "_variables" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.add_variable was called before super().__init__(). "
                "Call super().__init__(name=..., dtype=...) first in __init__.")
        from trine import initializers
        init = initializers.get(initializer)
        dtype = jnp.dtype(dtype or self._dtype).name
        with jax.ensure_compile_time_eval():
            value = jnp.asarray(init(tuple(shape), dtype), dtype)
        var = Variable(value, dtype=dtype, trainable=False,
                       name=name or f"variable_{len(self._variables)}", aggregation=aggregation)
        var.path = f"{self.name}/{var.name}"
        self._variables.append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None) -> Variable:
        """Alias of `add_variable` (Keras's older name)."""
        return self.add_variable(shape, initializer or "zeros", dtype=dtype, name=name)

    @property
    def variables(self) -> list[Variable]:
        """This metric's state variables, then those of its sub-metrics."""
        out = list(self._variables)
        for m in self._metrics:
            out.extend(m.variables)
        return out

    def _check_state(self, metric_variables, what):
        if len(metric_variables) != len(self.variables):
            raise ValueError(
                f"{type(self).__name__}.{what} expected metric_variables to be a list of "
                f"{len(self.variables)} arrays aligned with metric.variables, received "
                f"{len(metric_variables)}. Start from metric.stateless_reset_state().")

    # -- the pure core (built-in metrics implement _update / _result) --------------------
    _update = None   # (state list, *args, **kwargs) -> new state list
    _result = None   # (state list) -> value

    def _pure_update(self) -> bool:
        return (type(self).update_state is Metric.update_state
                and type(self)._update is not None)

    def _pure_result(self) -> bool:
        return type(self).result is Metric.result and type(self)._result is not None

    def stateless_update_state(self, metric_variables: Sequence, *args, **kwargs) -> list:
        """Accumulate a batch into the state, purely (jit-safe).

        Args:
            metric_variables: the current state, arrays aligned with `variables`.
            *args, **kwargs: what `update_state` takes (e.g. y_true, y_pred, sample_weight).

        Returns:
            The new state, a list of arrays.

        Raises:
            ValueError: if the state has the wrong number of entries.
        """
        self._check_state(metric_variables, "stateless_update_state")
        if self._pure_update():
            return list(self._update(list(metric_variables), *args, **kwargs))
        variables = self.variables
        with StatelessScope(dict(zip(variables, metric_variables))) as scope:
            self.update_state(*args, **kwargs)
        return [scope.get(v) for v in variables]

    def stateless_result(self, metric_variables: Sequence):
        """The metric's value for a state, purely.

        Args:
            metric_variables: the state, arrays aligned with `variables`.

        Returns:
            The value (a scalar for the built-in metrics).
        """
        self._check_state(metric_variables, "stateless_result")
        if self._pure_result():
            return self._result(list(metric_variables))
        with StatelessScope(dict(zip(self.variables, metric_variables)),
                            collect_assignments=False):
            return self.result()

    def stateless_reset_state(self) -> list:
        """The initial state (what `reset_state` sets), as a list of arrays."""
        variables = self.variables
        if type(self).reset_state is Metric.reset_state:
            return [jnp.zeros(v.shape, v.dtype) for v in variables]
        with StatelessScope({v: v.value for v in variables}) as scope:
            self.reset_state()
        return [scope.get(v) for v in variables]

    # -- the stateful Keras API -------------------------------------------------------------
    def update_state(self, *args, **kwargs) -> None:
        """Accumulate a batch into the variables (Keras API).

        Args:
            y_true, y_pred, sample_weight: for most metrics; `values, sample_weight` for
                `Mean` and `Sum`.
        """
        if type(self)._update is None:
            raise NotImplementedError(
                f"{type(self).__name__} must implement update_state(self, y_true, y_pred, "
                "sample_weight=None).")
        variables = self.variables
        new = self._update([v.value for v in variables], *args, **kwargs)
        for v, x in zip(variables, new):
            v.assign(x)

    def result(self):
        """The current value (Keras API)."""
        if type(self)._result is None:
            raise NotImplementedError(f"{type(self).__name__} must implement result(self).")
        return self._result([v.value for v in self.variables])

    def reset_state(self) -> None:
        """Set every state variable to 0 (Keras's default)."""
        for v in self.variables:
            v.assign(jnp.zeros(v.shape, v.dtype))

    def __call__(self, *args, **kwargs):
        """`update_state(...)` then `result()`."""
        self.update_state(*args, **kwargs)
        return self.result()

    # -- config ---------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> "Metric":
        """Rebuild the metric from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


# ------------------------------------------------------------------------ reductions
def _samplewise(values, sample_weight, reduce_fn, dtype, mask=None):
    """Keras's reduce-to-samplewise rule: weight `values`, reduce non-batch axes.

    Returns the per-sample values and the per-sample weights (or None).
    """
    values = jnp.asarray(values).astype(dtype)
    if sample_weight is not None:
        sample_weight = _arr(sample_weight, dtype)
        if mask is not None:
            sample_weight = _loss_base.apply_mask(sample_weight, mask, dtype, "sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim, v_ndim = sample_weight.ndim, values.ndim
        if v_ndim > w_ndim:
            values = reduce_fn(values, axis=tuple(range(w_ndim, v_ndim)))
        sample_weight = jnp.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """Running (weighted) sum of values.

    Args:
        name: default "sum".
        dtype: default float32.

    Example:
        >>> m = Sum()
        >>> m.update_state([1.0, 3.0, 5.0])
        >>> float(m.result())
        9.0
    """

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", dtype=self.dtype, name="total")

    def _update(self, state, values, sample_weight=None):
        values, _ = _samplewise(values, sample_weight, jnp.sum, self.dtype)
        return [state[0] + jnp.sum(values).astype(self.dtype)]

    def _result(self, state):
        return state[0].astype(self.dtype)


class Mean(Metric):
    """Running (weighted) mean of values: `sum(values * w) / sum(w)`.

    Values with more axes than the weights are first averaged over the extra axes; with
    no weights every sample weighs 1.

    Args:
        name: default "mean".
        dtype: default float32.

    Example:
        >>> m = Mean()
        >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
        >>> float(m.result())
        2.0
    """

    def __init__(self, name: str = "mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", dtype=self.dtype, name="total")
        self.count = self.add_variable((), "zeros", dtype=self.dtype, name="count")

    def _accumulate(self, state, values, sample_weight=None, mask=None):
        values, sample_weight = _samplewise(values, sample_weight, jnp.mean, self.dtype, mask)
        total = state[0] + jnp.sum(values).astype(self.dtype)
        if sample_weight is not None:
            n = jnp.sum(sample_weight)
        elif values.ndim >= 1:
            n = values.shape[0]
        else:
            n = 1
        return [total, state[1] + jnp.asarray(n, self.dtype)]

    def _update(self, state, values, sample_weight=None):
        return self._accumulate(state, values, sample_weight)

    def _result(self, state):
        return _ops.divide_no_nan(state[0], state[1].astype(self.dtype))


def _fn_name(fn) -> str | None:
    for name, f in _FUNCTIONS.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", None)


class MeanMetricWrapper(Mean):
    """The running mean of a per-sample function `fn(y_true, y_pred, **kwargs)`.

    Args:
        fn: the per-sample function (e.g. a loss function or `binary_accuracy`).
        name: the metric's name (default: `fn.__name__`).
        dtype: default float32.
        **kwargs: extra keyword arguments passed to `fn`.

    Example:
        >>> m = MeanMetricWrapper(mean_absolute_error, name="mae")
        >>> float(m(jnp.zeros((2, 1)), jnp.ones((2, 1))))
        1.0
    """

    def __init__(self, fn: Callable, name: str | None = None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(
                f"MeanMetricWrapper expected fn to be a callable (y_true, y_pred) -> "
                f"per-sample values, received {fn!r}.")
        super().__init__(name=name or _snake(getattr(fn, "__name__", type(fn).__name__)),
                         dtype=dtype)
        self._fn = fn
        self._fn_kwargs = dict(kwargs)

    def _update(self, state, y_true, y_pred, sample_weight=None):
        mask = _context.get_mask(y_pred)
        values, out_mask = _loss_base.call_with_mask(self._fn, self._fn_kwargs, y_true, y_pred)
        if mask is not None:
            sample_weight = _loss_base.apply_mask(sample_weight, mask, self.dtype, "sum")
        # as Keras: a mask on the values only weighs in when there are sample weights
        return self._accumulate(state, values, sample_weight, mask=out_mask)

    def get_config(self):
        config = {**super().get_config(), "fn": _fn_name(self._fn)}
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.pop("fn", None)
        if isinstance(fn, str):
            resolved = _FUNCTIONS.get(fn)
            if resolved is None:
                raise ValueError(
                    f"MeanMetricWrapper config names an unknown function {fn!r}. Valid "
                    f"names: {sorted(_FUNCTIONS)}.")
            fn = resolved
        return cls(fn, **config)


class _BuiltinWrapper(MeanMetricWrapper):
    """A built-in MeanMetricWrapper: config is its constructor arguments."""

    _CONFIG_KEYS: tuple = ()

    def get_config(self):
        config = Metric.get_config(self)
        config.update({k: self._fn_kwargs[k] for k in self._CONFIG_KEYS})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Accuracy(_BuiltinWrapper):
    """How often predictions equal the labels exactly (see `accuracy`).

    Args:
        name: default "accuracy".
        dtype: default float32.
    """

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_BuiltinWrapper):
    """How often thresholded predictions match binary labels (see `binary_accuracy`).

    Args:
        name: default "binary_accuracy".
        dtype: default float32.
        threshold: the decision threshold (default 0.5).
    """

    _CONFIG_KEYS = ("threshold",)

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(_BuiltinWrapper):
    """How often the argmax matches a one-hot label (see `categorical_accuracy`).

    Args:
        name: default "categorical_accuracy".
        dtype: default float32.
    """

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_BuiltinWrapper):
    """How often the argmax matches an integer label (see `sparse_categorical_accuracy`).

    Args:
        name: default "sparse_categorical_accuracy".
        dtype: default float32.
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(_BuiltinWrapper):
    """How often a one-hot label is among the top `k` predictions.

    Args:
        k: how many top classes count (default 5).
        name: default "top_k_categorical_accuracy".
        dtype: default float32.
    """

    _CONFIG_KEYS = ("k",)

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(_BuiltinWrapper):
    """How often an integer label is among the top `k` predictions.

    Args:
        k: how many top classes count (default 5).
        name: default "sparse_top_k_categorical_accuracy".
        dtype: default float32.
        from_sorted_ids: whether predictions are class ids sorted by score.
    """

    _CONFIG_KEYS = ("k",)

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype=None,
                 from_sorted_ids: bool = False):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self):
        config = super().get_config()
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


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


class Hinge(_BuiltinWrapper):
    """Running mean of `hinge`.

    Args:
        name: default "hinge".
        dtype: default float32.
    """

    def __init__(self, name: str = "hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)


class SquaredHinge(_BuiltinWrapper):
    """Running mean of `squared_hinge`.

    Args:
        name: default "squared_hinge".
        dtype: default float32.
    """

    def __init__(self, name: str = "squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(_BuiltinWrapper):
    """Running mean of `categorical_hinge`.

    Args:
        name: default "categorical_hinge".
        dtype: default float32.
    """

    def __init__(self, name: str = "categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)


class KLDivergence(_BuiltinWrapper):
    """Running mean of `kl_divergence`.

    Args:
        name: default "kl_divergence".
        dtype: default float32.
    """

    def __init__(self, name: str = "kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


class Poisson(_BuiltinWrapper):
    """Running mean of `poisson`.

    Args:
        name: default "poisson".
        dtype: default float32.
    """

    def __init__(self, name: str = "poisson", dtype=None):
        super().__init__(poisson, name=name, dtype=dtype)


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
        self.axis = axis


class BinaryCrossentropy(_BuiltinWrapper):
    """Running mean of `binary_crossentropy`.

    Args:
        name: default "binary_crossentropy".
        dtype: default float32.
        from_logits: whether predictions are logits (default False).
        label_smoothing: in [0, 1] (default 0).
    """

    _CONFIG_KEYS = ("from_logits", "label_smoothing")

    def __init__(self, name: str = "binary_crossentropy", dtype=None, from_logits: bool = False,
                 label_smoothing: float = 0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(_BuiltinWrapper):
    """Running mean of `categorical_crossentropy`.

    Args:
        name: default "categorical_crossentropy".
        dtype: default float32.
        from_logits: whether predictions are logits (default False).
        label_smoothing: in [0, 1] (default 0).
        axis: the class axis (default -1).
    """

    _CONFIG_KEYS = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name: str = "categorical_crossentropy", dtype=None,
                 from_logits: bool = False, label_smoothing: float = 0, axis: int = -1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(_BuiltinWrapper):
    """Running mean of `sparse_categorical_crossentropy`.

    Args:
        name: default "sparse_categorical_crossentropy".
        dtype: default float32.
        from_logits: whether predictions are logits (default False).
        ignore_class: a label value to leave out (its entries count as 0, and are left out
            of the count only when sample weights are given, as in Keras).
        axis: the class axis (default -1).
    """

    _CONFIG_KEYS = ("from_logits", "ignore_class", "axis")

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype=None,
                 from_logits: bool = False, ignore_class: int | None = None, axis: int = -1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


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
        y_true = _arr(y_true, self.dtype)
        y_pred = _arr(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self._accumulate(state, jnp.square(y_pred - y_true), sample_weight)

    def _result(self, state):
        return jnp.sqrt(Mean._result(self, state))


# ------------------------------------------------------------------------ confusion-matrix metrics
# (their own module; it needs only Metric and the helpers above, and imports nothing heavy)
from trine.metrics_confusion import (AUC, F1Score, FalseNegatives,  # noqa: E402
                                     FalsePositives, FBetaScore, Precision, PrecisionAtRecall,
                                     R2Score, Recall, RecallAtPrecision,
                                     SensitivityAtSpecificity, SpecificityAtSensitivity,
                                     TrueNegatives, TruePositives)

# ------------------------------------------------------------------------ lookup
_FUNCTIONS: dict[str, Callable] = {**BUILTIN_FUNCTIONS} | {
    fn.__name__: fn for fn in (
        accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
        top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, mean_squared_error,
        mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error,
        hinge, squared_hinge, categorical_hinge, kl_divergence, poisson, log_cosh,
        cosine_similarity, binary_crossentropy, categorical_crossentropy,
        sparse_categorical_crossentropy)
}

_CLASS_LIST = (Mean, Sum, MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError,
               MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity,
               LogCoshError, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson,
               BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
               Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
               TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
               TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall,
               AUC, F1Score, FBetaScore, R2Score)
# Keras lists these names too, but the classes need their target value, so a bare name
# cannot make one: `get` explains that instead of failing on the missing argument.
_NEED_TARGET = {PrecisionAtRecall: "recall", RecallAtPrecision: "precision",
                SensitivityAtSpecificity: "specificity", SpecificityAtSensitivity: "sensitivity"}
_BY_NAME: dict[str, type] = {}
for _c in _CLASS_LIST:
    _BY_NAME[_c.__name__] = _c
    _BY_NAME[_snake(_c.__name__)] = _c
_NEED_TARGET_NAMES = {n: c for c in _NEED_TARGET for n in (c.__name__, _snake(c.__name__))}
_BY_NAME.update({
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "acc": Accuracy,
})
del _c
_ALL_CLASSES = {c.__name__: c for c in _CLASS_LIST + tuple(_NEED_TARGET)
                + (Metric, MeanMetricWrapper)}


def _valid_names() -> list[str]:
    return sorted(_BY_NAME)


def get(identifier: Any) -> Metric | None:
    """Resolve a metric identifier to a `Metric`.

    A name gives an instance of the class it names, named with the string given (as
    `compile(metrics=[...])` names it, so the logs say "mae"): e.g. "mse",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy", "MeanAbsoluteError".
    "accuracy" given here means exact-match `Accuracy`; `compile` resolves "accuracy" /
    "acc" from the shapes instead, with `resolve_accuracy`.

    Args:
        identifier: None, a name, a config dict, a Metric class or instance, or a callable
            `(y_true, y_pred) -> per-sample values` (wrapped in a MeanMetricWrapper named
            after it).

    Returns:
        A `Metric`, or None for None.

    Raises:
        ValueError: for an unknown name (the valid names are listed) or an identifier of
            another kind.

    Example:
        >>> get("mae").name
        'mae'
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None and identifier in _NEED_TARGET_NAMES:
            need = _NEED_TARGET_NAMES[identifier]
            arg = _NEED_TARGET[need]
            raise ValueError(
                f"Metric {identifier!r} needs its target {arg}, which a name cannot give. "
                f"Pass an instance instead, e.g. metrics.{need.__name__}({arg}=0.5).")
        if cls is None:
            raise ValueError(
                f"Unknown metric {identifier!r}. Valid names: {_valid_names()} (and "
                "'accuracy' / 'acc', resolved from the loss and shapes by compile). Pass one "
                "of these, a Metric instance, or a callable (y_true, y_pred) -> values.")
        return cls(name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        name = getattr(identifier, "name", None)
        if not isinstance(name, str):
            name = _snake(getattr(identifier, "__name__", type(identifier).__name__))
        return MeanMetricWrapper(identifier, name=name)
    raise ValueError(
        f"Could not interpret metric {identifier!r} of type {type(identifier).__name__}: "
        f"expected a name (one of {_valid_names()}), a Metric or a callable.")


def resolve_accuracy(name: str, loss: Any, y_true_shape: Sequence | None,
                     y_pred_shape: Sequence) -> Metric:
    """Resolve "accuracy" / "acc" (or "crossentropy" / "ce") for one output, as Keras 3 does.

    Keras picks from the shapes: a last `y_pred` axis of size 1 means binary; a `y_true` of
    lower rank than `y_pred`, or a last `y_true` axis of size 1 with more than one class,
    means sparse labels; otherwise one-hot labels. When `y_true_shape` is unknown (None),
    a sparse categorical loss means sparse labels. The loss's `from_logits` is carried over
    to the crossentropy metrics.

    Args:
        name: "accuracy", "acc", "crossentropy" or "ce" (any case); the metric keeps it as
            its name.
        loss: the output's loss (a Loss, a function or None).
        y_true_shape: the shape of the targets, or None if unknown.
        y_pred_shape: the shape of the predictions.

    Returns:
        A BinaryAccuracy / SparseCategoricalAccuracy / CategoricalAccuracy (or the matching
        crossentropy metric) named `name`.

    Raises:
        ValueError: for another name.

    Example:
        >>> resolve_accuracy("accuracy", None, (32,), (32, 10)).__class__.__name__
        'SparseCategoricalAccuracy'
    """
    key = str(name).lower()
    if key not in ("accuracy", "acc", "crossentropy", "ce"):
        raise ValueError(
            f"resolve_accuracy expected 'accuracy', 'acc', 'crossentropy' or 'ce', received "
            f"{name!r}. Use metrics.get({name!r}) for other metrics.")
    y_pred_shape = tuple(y_pred_shape)
    p_last = y_pred_shape[-1] if y_pred_shape else None
    is_binary = p_last == 1
    if y_true_shape is not None:
        y_true_shape = tuple(y_true_shape)
        t_last = y_true_shape[-1] if y_true_shape else None
        is_sparse = (len(y_true_shape) < len(y_pred_shape)
                     or (t_last == 1 and p_last is not None and p_last > 1))
    else:
        lname = str(getattr(loss, "name", None) or getattr(getattr(loss, "fn", None),
                                                            "__name__", None)
                    or getattr(loss, "__name__", "")).lower()
        is_sparse = "sparse" in lname or getattr(loss, "sparse_labels", False)
    if key in ("accuracy", "acc"):
        if is_binary:
            return BinaryAccuracy(name=str(name))
        if is_sparse:
            return SparseCategoricalAccuracy(name=str(name))
        return CategoricalAccuracy(name=str(name))
    from_logits = bool(getattr(loss, "from_logits", False))
    if is_binary:
        return BinaryCrossentropy(name=str(name), from_logits=from_logits)
    if is_sparse:
        return SparseCategoricalCrossentropy(name=str(name), from_logits=from_logits)
    return CategoricalCrossentropy(name=str(name), from_logits=from_logits)


def serialize(metric: Metric | None) -> dict | None:
    """A Keras-format config dict for a metric.

    Args:
        metric: a Metric (or None).

    Returns:
        `{"module": "keras.metrics", "class_name": ..., "config": {...},
        "registered_name": None}`, or None for None.

    Raises:
        ValueError: for something that is not a Metric.
    """
    if metric is None:
        return None
    if isinstance(metric, Metric):
        builtin = _ALL_CLASSES.get(type(metric).__name__) is type(metric)
        return {"module": "keras.metrics" if builtin else type(metric).__module__,
                "class_name": type(metric).__name__, "config": metric.get_config(),
                "registered_name": None if builtin else type(metric).__name__}
    raise ValueError(
        f"Cannot serialize metric {metric!r}: it is not a Metric. Wrap a function with "
        "MeanMetricWrapper(fn, name=...) first.")


def deserialize(config: dict | str, custom_objects: dict | None = None) -> Metric:
    """Rebuild a metric from `serialize`'s output (or a name).

    Args:
        config: a config dict or a name.
        custom_objects: extra class_name -> class entries to look in first.

    Returns:
        The Metric.

    Raises:
        ValueError: for an unknown class name.
    """
    if isinstance(config, str):
        return get(config)
    name = config.get("class_name") if isinstance(config, dict) else None
    cls = (custom_objects or {}).get(name) or _ALL_CLASSES.get(name)
    if cls is None or cls is Metric:
        raise ValueError(
            f"Unknown metric class {name!r} in config {config!r}. Valid names: "
            f"{sorted(set(_ALL_CLASSES) - {'Metric'})}.")
    return cls.from_config(dict(config.get("config") or {}))


# ------------------------------------------------------------------------ Keras's other metrics
# Correlations and IoU live in their own module; registered here for get/deserialize. The
# IoU classes need num_classes, so a bare name cannot make one: only configs resolve them.
from trine.losses import (binary_focal_crossentropy,  # noqa: E402
                          categorical_focal_crossentropy, huber)
from trine.metrics_extra import (BinaryIoU, ConcordanceCorrelation, IoU,  # noqa: E402
                                 MeanIoU, OneHotIoU, OneHotMeanIoU, PearsonCorrelation,
                                 concordance_correlation, pearson_correlation)
from trine.metrics_extra import _NEW_FUNCTIONS, _NEW_METRICS  # noqa: E402

_FUNCTIONS.update({fn.__name__: fn for fn in _NEW_FUNCTIONS})
for _c in (PearsonCorrelation, ConcordanceCorrelation):
    _BY_NAME[_c.__name__] = _BY_NAME[_snake(_c.__name__)] = _c
_ALL_CLASSES.update({c.__name__: c for c in _NEW_METRICS})
del _c
__all__ += [c.__name__ for c in _NEW_METRICS] + [
    "binary_focal_crossentropy", "categorical_focal_crossentropy", "concordance_correlation",
    "huber", "pearson_correlation"]
