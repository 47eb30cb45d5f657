"""The loss base classes and what every loss shares: weighting, masking and reduction.

`Loss` reduces the per-sample values its `call` returns; `LossFunctionWrapper` wraps a
per-sample function; the family modules (regression, hinge, probabilistic, ...) register
their built-in functions here so a config can name them.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from trine._util.keras_names import keras_snake_case
from trine.core.context import get_mask
from trine.core.variable import Variable
from trine.ops import divide_no_nan

EPSILON = 1e-7  # Keras's backend.epsilon()


_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ------------------------------------------------------------------------ helpers
def as_array(x, dtype=None):
    if isinstance(x, Variable):
        x = x.value
    return jnp.asarray(x, dtype=dtype)


def _float_pred(y_pred):
    y_pred = as_array(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(jnp.float32)
    return y_pred


def _float_pair_same_rank(y_true, y_pred):
    """`y_pred` as floats, `y_true` cast to its dtype, both brought to the same rank."""
    y_pred = _float_pred(y_pred)
    return squeeze_or_expand_to_same_rank(as_array(y_true, y_pred.dtype), y_pred)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Make two arrays whose ranks differ by one trailing size-1 axis the same rank.

    As Keras: when one has an extra last axis of size 1, it is squeezed, except that a
    rank-1 partner is expanded instead (when `expand_rank_1`).

    Args:
        x1, x2: arrays.
        expand_rank_1: expand a rank-1 partner rather than squeeze the other.

    Returns:
        The pair `(x1, x2)`, possibly reshaped.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = jnp.expand_dims(x2, -1)
        else:
            x1 = jnp.squeeze(x1, -1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = jnp.expand_dims(x1, -1)
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def _standardize_reduction(reduction, who: str):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"{who} received reduction={reduction!r}; expected one of {list(_REDUCTIONS)}. "
            "'sum_over_batch_size' (the default) averages over all loss elements.")
    return reduction


def apply_mask(sample_weight, mask, dtype, reduction):
    """Fold a boolean mask into the sample weights, as Keras does."""
    if mask is None:
        return sample_weight
    mask = jnp.asarray(mask)
    if reduction in ("mean", "sum_over_batch_size"):
        # valid entries weigh total/valid so the average runs over valid entries only
        total = jnp.asarray(mask.size, dtype)
        valid = jnp.sum(mask.astype(dtype))
        float_mask = jnp.where(mask.astype(bool), divide_no_nan(total, valid),
                               jnp.zeros((), dtype))
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    sample_weight = jnp.asarray(sample_weight, dtype)
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def _reduce_values(values, sample_weight, reduction):
    if reduction is None or reduction == "none" or values.shape in ((), (0,)):
        return values
    total = jnp.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = jnp.sum(sample_weight).astype(total.dtype)
    else:
        divisor = jnp.asarray(values.size, total.dtype)
    return divide_no_nan(total, divisor)


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction: str | None = "sum_over_batch_size", dtype=None):
    """Weight per-sample loss values and reduce them (Keras 3's rule).

    Args:
        values: the per-sample losses.
        sample_weight: weights broadcastable to `values` (after the rank fix-up), or None.
        mask: a boolean mask of valid entries, or None.
        reduction: "sum_over_batch_size" / "mean" (sum of weighted values divided by the
            number of elements), "sum", "mean_with_sample_weight" (divided by the sum of the
            weights), or "none" / None (the weighted values).
        dtype: the computation dtype (default: that of `values`).

    Returns:
        The reduced loss.
    """
    reduction = _standardize_reduction(reduction, "reduce_weighted_values")
    values = jnp.asarray(values, dtype)
    dtype = values.dtype
    if sample_weight is not None:
        sample_weight = as_array(sample_weight, dtype)
    sample_weight = apply_mask(sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        sample_weight = sample_weight.astype(dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    return _reduce_values(values, sample_weight, reduction)



# name -> built-in per-sample loss function: the families register theirs as they define them
BUILTIN_FUNCTIONS: dict[str, Callable] = {}


def builtin_function(fn: Callable) -> Callable:
    """Register `fn` as a built-in loss function, resolvable by its name in configs."""
    BUILTIN_FUNCTIONS[fn.__name__] = fn
    return fn


def keras_class_record(obj, keras_module: str, builtins: dict) -> dict:
    """The saved record of a loss or metric object: a built-in class (`builtins`: name ->
    class) under `keras_module`, any other under its own module and class name."""
    cls = type(obj)
    builtin = builtins.get(cls.__name__) is cls
    return {"module": keras_module if builtin else cls.__module__, "class_name": cls.__name__,
            "config": obj.get_config(), "registered_name": None if builtin else cls.__name__}


def wrapped_function_from_config(config: dict, functions: dict, who: str):
    """A function wrapper's config split into its function (a name resolved in `functions`)
    and the remaining constructor arguments.

    Raises:
        ValueError: for a function name not in `functions`.
    """
    config = dict(config)
    fn = config.pop("fn", None)
    if isinstance(fn, str):
        resolved = functions.get(fn)
        if resolved is None:
            raise ValueError(
                f"{who} config names an unknown function {fn!r}. Valid "
                f"names: {sorted(functions)}.")
        fn = resolved
    return fn, config



# ------------------------------------------------------------------------ classes
class Loss:
    """Base class of losses: subclasses implement `call(y_true, y_pred)` (per-sample values).

    Calling the loss casts both inputs to its dtype, computes `call`, weights the values
    by `sample_weight` and reduces them.

    Args:
        name: the loss's name (default: the class name in snake_case).
        reduction: "sum_over_batch_size" (default; the weighted sum divided by the number of
            loss elements), "sum", "mean" (same as "sum_over_batch_size" in Keras 3),
            "mean_with_sample_weight" (divided by the sum of the weights), or "none" / None.
        dtype: the computation dtype (default float32).

    Raises:
        ValueError: for an unknown reduction.

    Example:
        >>> class Scaled(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return 2.0 * jnp.mean(jnp.square(y_true - y_pred), axis=-1)
    """

    sparse_labels = False  # True for a loss that takes integer class labels

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype=None):
        self.name = name or keras_snake_case(type(self).__name__)
        self.reduction = _standardize_reduction(reduction, f"{type(self).__name__}")
        self._dtype = jnp.dtype("float32" if dtype is None else dtype).name

    @property
    def dtype(self) -> str:
        """The computation dtype."""
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss.

        Args:
            y_true: targets (cast to the loss's dtype).
            y_pred: predictions (cast to the loss's dtype).
            sample_weight: per-sample weights broadcastable to the per-sample losses, or None.

        Returns:
            A scalar (or the weighted per-sample losses for reduction "none").
        """
        in_mask = get_mask(y_pred)
        y_pred = jax.tree_util.tree_map(lambda x: as_array(x, self._dtype), y_pred)
        y_true = jax.tree_util.tree_map(lambda x: as_array(x, self._dtype), y_true)
        values, out_mask = self._call_with_mask(y_true, y_pred)
        if in_mask is not None and out_mask is not None:
            mask = jnp.asarray(in_mask, bool) & jnp.asarray(out_mask, bool)
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(values, sample_weight=sample_weight, mask=mask,
                                      reduction=self.reduction, dtype=self._dtype)

    def _call_with_mask(self, y_true, y_pred):
        values = self.call(y_true, y_pred)
        return values, get_mask(values)

    def call(self, y_true, y_pred):
        """Per-sample loss values; subclasses implement it.

        Args:
            y_true: targets.
            y_pred: predictions.

        Returns:
            The per-sample losses.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement call(self, y_true, y_pred) returning the "
            "per-sample losses.")

    def get_config(self) -> dict:
        """The constructor arguments."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> "Loss":
        """Rebuild the loss from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def call_with_mask(fn, fn_kwargs: dict, y_true, y_pred):
    """The per-sample values of `fn(y_true, y_pred, **fn_kwargs)` and their mask (or None)."""
    values_and_mask = getattr(fn, "values_and_mask", None)  # a function that knows its mask
    if values_and_mask is not None:
        return values_and_mask(y_true, y_pred, fn_kwargs)
    values = fn(y_true, y_pred, **fn_kwargs)
    return values, get_mask(values)


def _apply_fn(fn, fn_kwargs, y_true, y_pred):
    """Per-sample values of `fn` after Keras's rank fix-up, and their mask (or None)."""
    if isinstance(y_true, jax.Array) and isinstance(y_pred, jax.Array):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return call_with_mask(fn, fn_kwargs, y_true, y_pred)


class LossFunctionWrapper(Loss):
    """A `Loss` around a per-sample function `fn(y_true, y_pred, **kwargs)`.

    Args:
        fn: the per-sample loss function.
        reduction: see `Loss`.
        name: the loss's name (default: `fn.__name__`).
        dtype: see `Loss`.
        **kwargs: extra keyword arguments passed to `fn`.

    Example:
        >>> loss = LossFunctionWrapper(huber, delta=0.5)
    """

    def __init__(self, fn: Callable, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(
                f"LossFunctionWrapper expected fn to be a callable (y_true, y_pred) -> "
                f"per-sample losses, received {fn!r}.")
        super().__init__(name=name or keras_snake_case(getattr(fn, "__name__", type(fn).__name__)),
                         reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = dict(kwargs)

    def __getattr__(self, item):
        # expose fn's keyword arguments (e.g. `ignore_class`) as attributes
        kwargs = self.__dict__.get("_fn_kwargs")
        if kwargs is not None and item in kwargs:
            return kwargs[item]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {item!r}")

    @property
    def sparse_labels(self) -> bool:
        """Whether the wrapped function takes integer class labels."""
        return getattr(self.fn, "sparse_labels", False)

    def _call_with_mask(self, y_true, y_pred):
        return _apply_fn(self.fn, self._fn_kwargs, y_true, y_pred)

    def call(self, y_true, y_pred):
        return self._call_with_mask(y_true, y_pred)[0]

    def get_config(self):
        config = super().get_config()
        config["fn"] = getattr(self.fn, "__name__", None)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        fn, config = wrapped_function_from_config(config, BUILTIN_FUNCTIONS, "LossFunctionWrapper")
        return cls(fn, **config)

    def __repr__(self):
        fn = getattr(self.fn, "__name__", self.fn)
        return f"<LossFunctionWrapper({fn}, kwargs={self._fn_kwargs})>"


class BuiltinWrapperConfig:
    """The config of a built-in class around a fixed function (a loss or a metric class): its
    constructor arguments, that is `_CONFIG_BASE`'s config plus the function arguments named
    in `_CONFIG_KEYS`, without the function itself."""

    _CONFIG_BASE: type
    _CONFIG_KEYS: tuple = ()

    def get_config(self):
        config = self._CONFIG_BASE.get_config(self)
        config.update({k: self._fn_kwargs[k] for k in self._CONFIG_KEYS})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _BuiltinLoss(BuiltinWrapperConfig, LossFunctionWrapper):
    """A built-in loss class: config is the constructor arguments, without `fn`."""

    _CONFIG_BASE = Loss
