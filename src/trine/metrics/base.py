"""The metric base classes and what every metric shares: state, the stateless API, the
running sum and mean, the function wrapper, and state sized by the first batch."""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from trine import initializers
from trine._util.keras_names import keras_snake_case
from trine.core.context import get_mask
from trine.core.naming import unique_name
from trine.core.variable import StatelessScope, Variable, current_scope
from trine.losses import BUILTIN_FUNCTIONS as LOSS_FUNCTIONS
from trine.losses.base import (BuiltinWrapperConfig, apply_mask, as_array, call_with_mask,
                               squeeze_or_expand_to_same_rank, wrapped_function_from_config)
from trine.ops import divide_no_nan

# name -> per-sample function a MeanMetricWrapper config may name: the losses' functions and
# those the metric families register as they define them
BUILTIN_FUNCTIONS: dict[str, Callable] = dict(LOSS_FUNCTIONS)


def builtin_function(fn: Callable) -> Callable:
    """Register `fn` as a built-in metric function, resolvable by its name in configs."""
    BUILTIN_FUNCTIONS[fn.__name__] = fn
    return fn


def _auto_name(cls_name: str) -> str:
    """Keras's naming for `name=None`: the snake-case class name, then `_1`, `_2`, ..."""
    return unique_name(keras_snake_case(cls_name))



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
        self.name = name or keras_snake_case(type(self).__name__)
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
        sample_weight = as_array(sample_weight, dtype)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, dtype, "sum")
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
        return divide_no_nan(state[0], state[1].astype(self.dtype))


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
        super().__init__(name=name or keras_snake_case(getattr(fn, "__name__", type(fn).__name__)),
                         dtype=dtype)
        self._fn = fn
        self._fn_kwargs = dict(kwargs)

    def _update(self, state, y_true, y_pred, sample_weight=None):
        mask = get_mask(y_pred)
        values, out_mask = call_with_mask(self._fn, self._fn_kwargs, y_true, y_pred)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, self.dtype, "sum")
        # as Keras: a mask on the values only weighs in when there are sample weights
        return self._accumulate(state, values, sample_weight, mask=out_mask)

    def get_config(self):
        config = {**super().get_config(), "fn": getattr(self._fn, "__name__", None)}
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        fn, config = wrapped_function_from_config(config, BUILTIN_FUNCTIONS, "MeanMetricWrapper")
        return cls(fn, **config)


class _BuiltinWrapper(BuiltinWrapperConfig, MeanMetricWrapper):
    """A built-in MeanMetricWrapper: config is its constructor arguments, which it also keeps
    as attributes (`metric.from_logits`, `metric.k`, ...), as Keras's classes do."""

    _CONFIG_BASE = Metric

    def __init__(self, fn: Callable, name: str | None = None, dtype=None, **kwargs):
        super().__init__(fn, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)



# ------------------------------------------------------------------------ lazily built state
class _LazyShapeMetric(Metric):
    """A metric whose state shape comes from the first batch (as in Keras).

    The first eager `update_state` creates the variables. Inside a jitted step (compiled
    `fit` / `evaluate`, or the stateless API) they must exist already: call
    `metric.build(y_true_shape, y_pred_shape)` (or one eager `update_state`) beforehand.
    """

    _built = False

    def _build(self, y_true_shape, y_pred_shape):
        raise NotImplementedError

    def _matrix_width(self, y_true_shape, y_pred_shape, what: str) -> int:
        """The known last-axis size of rank-2 inputs `(batch_size, num_<what>)`.

        Raises:
            ValueError: for inputs of another rank or an unknown last axis.
        """
        who, shapes = type(self).__name__, (f"y_true.shape={tuple(y_true_shape)} and "
                                            f"y_pred.shape={tuple(y_pred_shape)}")
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(f"{who} expects rank-2 inputs of shape (batch_size, num_{what}), "
                             f"received {shapes}.")
        if y_pred_shape[-1] is None or y_true_shape[-1] is None:
            raise ValueError(f"{who} needs a known number of {what} (last axis), received "
                             f"{shapes}.")
        return int(y_pred_shape[-1])

    def build(self, y_true_shape, y_pred_shape) -> None:
        """Create the state for inputs of these shapes (does nothing once built).

        Args:
            y_true_shape: the shape of the labels (None: same as `y_pred_shape`).
            y_pred_shape: the shape of the predictions.
        """
        if not self._built:
            y_pred_shape = None if y_pred_shape is None else tuple(y_pred_shape)
            self._build(y_pred_shape if y_true_shape is None else tuple(y_true_shape),
                        y_pred_shape)
            self._built = True

    def _require_built(self, what: str):
        if not self._built:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' has no state yet: its size comes from "
                f"the data and it has not seen any. {what} needs it to exist; call "
                f"metric.build(y_true_shape, y_pred_shape) (or update_state once, outside "
                f"jit) first{self._build_hint}.")

    _build_hint = ""

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if not self._built:
            traced = any(isinstance(a, jax.core.Tracer) for a in (y_true, y_pred))
            if current_scope() is not None or traced:
                self._require_built("update_state inside a jitted step")
            y_pred_a = as_array(y_pred)
            self.build(jnp.shape(as_array(y_true)) if y_true is not None else None,
                       y_pred_a.shape)
        Metric.update_state(self, y_true, y_pred, sample_weight)

    def result(self):
        self._require_built("result()")
        return Metric.result(self)

    def stateless_result(self, metric_variables):
        self._require_built("stateless_result")
        return self._result(list(metric_variables))

    def stateless_update_state(self, metric_variables, *args, **kwargs):
        self._require_built("stateless_update_state")
        self._check_state(metric_variables, "stateless_update_state")
        return list(self._update(list(metric_variables), *args, **kwargs))

