"""Activation functions (Keras `keras.activations`), on `jax.nn`.

Every function takes an array (or anything `jnp.asarray` accepts, or a trine `Variable`) and
returns an array of the same shape. Names, arguments and defaults follow Keras 3, so
`Dense(10, activation="relu")` and `activations.get("gelu")` mean what they mean in Keras.

Example:
    >>> from trine import activations
    >>> activations.relu([-1.0, 0.5, 8.0], max_value=6.0)
    Array([0. , 0.5, 6. ], dtype=float32)
    >>> activations.get("swish") is activations.silu
    True
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from trine import ops
from trine.core import registration
from trine.core.variable import Variable

__all__ = [
    "celu", "elu", "exponential", "gelu", "get", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid",
    "log_softmax", "mish", "relu", "relu6", "selu", "serialize", "deserialize", "sigmoid",
    "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax",
    "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
]


def _arr(x):
    """`x` as a JAX array (reads a trine Variable's current value)."""
    if isinstance(x, Variable):
        return x.value
    return jnp.asarray(x)


def relu(x, negative_slope: float = 0.0, max_value: float | None = None,
         threshold: float = 0.0):
    """Rectified linear unit, with Keras's optional leak, ceiling and threshold.

    With the defaults this is `max(x, 0)`. Otherwise: values above `threshold` pass
    through (clipped to `max_value` when given), and values below it become
    `negative_slope * (x - threshold)`.

    Args:
        x: input array.
        negative_slope: slope for values below `threshold` (default 0).
        max_value: largest value returned, or None for no ceiling.
        threshold: values at or below it are damped (default 0).

    Returns:
        An array of the same shape and dtype as `x`.

    Example:
        >>> relu([-10.0, -5.0, 0.0, 5.0, 10.0], negative_slope=0.5)
        Array([-5. , -2.5,  0. ,  5. , 10. ], dtype=float32)
    """
    x = _arr(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return jax.nn.leaky_relu(x, negative_slope=negative_slope)
    below = None
    if negative_slope != 0.0:
        below = jax.nn.relu(threshold - x) if threshold != 0 else jax.nn.relu(-x)
    clip = max_value is not None
    if threshold != 0:
        out = jnp.where(x > jnp.asarray(threshold, x.dtype), x, jnp.zeros((), x.dtype))
    elif max_value == 6:
        out = jax.nn.relu6(x)
        clip = False
    else:
        out = jax.nn.relu(x)
    if clip:
        out = jnp.clip(out, jnp.asarray(0, out.dtype), jnp.asarray(max_value, out.dtype))
    if below is not None:
        out = out - negative_slope * below
    return out


def leaky_relu(x, negative_slope: float = 0.2):
    """`x` if `x >= 0` else `negative_slope * x`.

    Args:
        x: input array.
        negative_slope: slope of the negative part (Keras default 0.2).

    Returns:
        An array like `x`.
    """
    return jax.nn.leaky_relu(_arr(x), negative_slope=negative_slope)


def relu6(x):
    """`min(max(x, 0), 6)`.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.relu6(_arr(x))


def softmax(x, axis: int = -1):
    """`exp(x) / sum(exp(x))` along `axis`, computed stably.

    Args:
        x: input array (logits).
        axis: the axis (or tuple of axes) normalised over (default -1).

    Returns:
        Probabilities of the same shape as `x`, summing to 1 along `axis`.
    """
    return jax.nn.softmax(_arr(x), axis=axis)


def log_softmax(x, axis: int = -1):
    """`log(softmax(x))` along `axis`, computed stably.

    Args:
        x: input array (logits).
        axis: the axis normalised over (default -1).

    Returns:
        Log-probabilities of the same shape as `x`.
    """
    return jax.nn.log_softmax(_arr(x), axis=axis)


def elu(x, alpha: float = 1.0):
    """Exponential linear unit: `x` if `x > 0` else `alpha * (exp(x) - 1)`.

    Args:
        x: input array.
        alpha: scale of the negative part (default 1.0).

    Returns:
        An array like `x`.
    """
    return jax.nn.elu(_arr(x), alpha=alpha)


def selu(x):
    """Scaled exponential linear unit (Klambauer et al., 2017), fixed alpha and scale.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.selu(_arr(x))


def celu(x, alpha: float = 1.0):
    """Continuously differentiable ELU: `max(x, 0) + alpha * min(exp(x / alpha) - 1, 0)`.

    Args:
        x: input array.
        alpha: the ELU scale (default 1.0).

    Returns:
        An array like `x`.
    """
    return jax.nn.celu(_arr(x), alpha=alpha)


def gelu(x, approximate: bool = False):
    """Gaussian error linear unit, `x * P(X <= x)` for a standard normal `X`.

    Keras 3's default is the exact (erf) form; `jax.nn.gelu` defaults to the tanh
    approximation, so the default here is passed explicitly.

    Args:
        x: input array.
        approximate: use the tanh approximation (default False).

    Returns:
        An array like `x`.
    """
    return jax.nn.gelu(_arr(x), approximate=approximate)


def glu(x, axis: int = -1):
    """Gated linear unit: split `x` in two halves `a, b` along `axis`; `a * sigmoid(b)`.

    Args:
        x: input array; its size along `axis` must be even.
        axis: the axis split (default -1).

    Returns:
        An array with `axis` halved.

    Raises:
        ValueError: if the size of `x` along `axis` is odd.
    """
    x = _arr(x)
    if x.shape[axis] % 2:
        raise ValueError(
            f"glu expected an even size along axis={axis}, received shape {tuple(x.shape)}. "
            "Give the layer before it an even number of units.")
    return jax.nn.glu(x, axis=axis)


def tanh(x):
    """Hyperbolic tangent.

    Args:
        x: input array.

    Returns:
        An array like `x`, in (-1, 1).
    """
    return jax.nn.tanh(_arr(x))


def sigmoid(x):
    """Logistic sigmoid `1 / (1 + exp(-x))`.

    Args:
        x: input array.

    Returns:
        An array like `x`, in (0, 1).
    """
    return jax.nn.sigmoid(_arr(x))


def log_sigmoid(x):
    """`log(sigmoid(x))`, computed stably.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.log_sigmoid(_arr(x))


def linear(x):
    """The identity (the activation of a layer given `activation=None`).

    Args:
        x: input array.

    Returns:
        `x` unchanged.
    """
    return x


def silu(x):
    """Sigmoid linear unit, also called swish: `x * sigmoid(x)`.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.silu(_arr(x))


swish = silu


def hard_sigmoid(x):
    """Piecewise-linear sigmoid: `0` below -3, `1` above 3, `x / 6 + 0.5` between.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.hard_sigmoid(_arr(x))


def hard_silu(x):
    """Hard swish: `x * hard_sigmoid(x)`.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.hard_silu(_arr(x))


hard_swish = hard_silu


def hard_tanh(x):
    """`-1` below -1, `1` above 1, `x` between.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.hard_tanh(_arr(x))


def softplus(x):
    """`log(exp(x) + 1)`, computed stably.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.softplus(_arr(x))


def softsign(x):
    """`x / (abs(x) + 1)`.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.soft_sign(_arr(x))


def squareplus(x, b: float = 4):
    """`(x + sqrt(x**2 + b)) / 2`, a smooth ReLU.

    Args:
        x: input array.
        b: smoothness (default 4).

    Returns:
        An array like `x`.
    """
    return jax.nn.squareplus(_arr(x), b=b)


def sparse_plus(x):
    """`0` below -1, `x` above 1, `(x + 1)**2 / 4` between.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.sparse_plus(_arr(x))


def sparse_sigmoid(x):
    """`0` below -1, `1` above 1, `(x + 1) / 2` between.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.sparse_sigmoid(_arr(x))


def exponential(x):
    """`exp(x)`.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jnp.exp(_arr(x))


def mish(x):
    """Mish (Misra, 2019): `x * tanh(softplus(x))`.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return jax.nn.mish(_arr(x))


def tanh_shrink(x):
    """`x - tanh(x)`.

    Args:
        x: input array.

    Returns:
        An array like `x`.
    """
    return ops.tanh_shrink(x)


def soft_shrink(x, threshold: float = 0.5):
    """Move values toward 0 by `threshold`, zeroing those within it.

    Args:
        x: input array.
        threshold: the shrinkage (default 0.5).

    Returns:
        An array like `x`.
    """
    return ops.soft_shrink(x, threshold)


def hard_shrink(x, threshold: float = 0.5):
    """Zero the values with `abs(x) <= threshold`, keep the others.

    Args:
        x: input array.
        threshold: the cut (default 0.5).

    Returns:
        An array like `x`.
    """
    return ops.hard_shrink(x, threshold)


def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value`.

    Args:
        x: input array.
        threshold: the cut.
        default_value: the value given to entries at or below the cut.

    Returns:
        An array like `x`.
    """
    return ops.threshold(x, threshold, default_value)


def sparsemax(x, axis: int = -1):
    """Sparsemax (Martins & Astudillo, 2016): the Euclidean projection onto the simplex.

    `max(x - tau, 0)` along `axis`, with `tau` chosen so the outputs sum to 1; unlike softmax,
    many outputs are exactly 0. (Keras 3.15's JAX and NumPy backends compute `tau` from the
    sum of all partial sums and return all zeros once two or more entries are in the support;
    this follows the paper and agrees with Keras where Keras's outputs sum to 1.)

    Args:
        x: input array.
        axis: the axis normalised over. Default -1.

    Returns:
        An array like `x`, non-negative, summing to 1 along `axis`.

    Example:
        >>> sparsemax(jnp.array([1.0, 1.2, 0.0]))
    """
    return ops.sparsemax(x, axis=axis)


_BY_NAME: dict[str, Callable] = {
    fn.__name__: fn for fn in (
        relu, leaky_relu, relu6, softmax, log_softmax, elu, selu, celu, gelu, glu, tanh,
        sigmoid, log_sigmoid, linear, silu, hard_sigmoid, hard_silu, hard_tanh, softplus,
        softsign, squareplus, sparse_plus, sparse_sigmoid, exponential, mish, tanh_shrink,
        soft_shrink, hard_shrink, threshold, sparsemax)
}
_ALIASES = {"swish": silu, "hard_swish": hard_silu}
_NAME_OF = {id(fn): name for name, fn in _BY_NAME.items()}


def _valid_names() -> list[str]:
    return sorted(set(_BY_NAME) | set(_ALIASES))


def get(identifier: Any) -> Callable:
    """Resolve an activation identifier to a function.

    Args:
        identifier: None (gives `linear`), a name such as "relu" or "swish", a Keras
            config (the name, or a dict whose "config" is the name), or a callable,
            returned unchanged.

    Returns:
        The activation function.

    Raises:
        ValueError: for an unknown name (the valid names are listed) or an identifier
            that is neither a name nor a callable.

    Example:
        >>> get("relu") is relu
        True
        >>> get(None) is linear
        True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        cfg = identifier.get("config", identifier.get("class_name"))
        if not isinstance(cfg, str):
            raise ValueError(
                f"Could not interpret the activation config {identifier!r}: expected a dict "
                "whose 'config' is an activation name, e.g. {'class_name': 'function', "
                "'config': 'relu'}.")
        identifier = cfg
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier) or _ALIASES.get(identifier)
        if fn is None:
            fn = registration.get_registered_object(identifier)  # registered or in a scope
        if fn is None or not callable(fn):
            raise ValueError(
                f"Unknown activation {identifier!r}. Valid names: {_valid_names()}. "
                "Pass one of these or a callable, or register your function with "
                "@trine.saving.register_keras_serializable() (or pass it in custom_objects).")
        return fn
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret activation {identifier!r} of type {type(identifier).__name__}: "
        f"expected None, a name (one of {_valid_names()}) or a callable.")


def serialize(activation: Callable | None) -> str | dict:
    """An activation as Keras 3 writes it in a config.

    Args:
        activation: an activation function (or None, read as `linear`).

    Returns:
        A built-in's name, e.g. "relu" (aliases give the canonical name: `swish` gives
        "silu"); for any other function Keras's function record
        `{"module": "builtins", "class_name": "function", "config": name,
        "registered_name": "function"}`, where `name` is the `"package>name"` it was
        registered under, or its `__name__` (loading then needs it registered or passed in
        `custom_objects`, and says so; it never falls back to another activation).

    Raises:
        ValueError: for a Python lambda or a callable without a name.

    Example:
        >>> serialize(get("swish"))
        'silu'
    """
    if activation is None:
        return "linear"
    name = _NAME_OF.get(id(activation))
    if name is not None:
        return name
    key = registration.registered_name_of(activation)
    if key is None:
        key = getattr(activation, "__name__", None)
        if not isinstance(key, str) or key == "<lambda>":
            raise ValueError(
                f"Cannot serialize the activation {activation!r}: it is not a trine activation "
                "and has no name to save (a lambda or a callable object). Use a named function "
                "and register it with @trine.saving.register_keras_serializable().")
    return {"module": "builtins", "class_name": "function", "config": key,
            "registered_name": "function"}


def deserialize(config: Any, custom_objects: dict | None = None) -> Callable:
    """The activation named by `config` (the inverse of `serialize`).

    Args:
        config: a name or a Keras config dict.
        custom_objects: extra name -> callable entries to look in first.

    Returns:
        The activation function.

    Raises:
        ValueError: for an unknown name.
    """
    if custom_objects and isinstance(config, str) and config in custom_objects:
        return custom_objects[config]
    return get(config)
