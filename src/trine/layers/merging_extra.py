"""`Dot`: the batched dot product of two tensors along given axes, and its function `dot`."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _l2_normalize(x, axis):
    inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x * jnp.minimum(inv, 1.0 / 1e-7)


class Dot(Layer):
    """Dot product of two samples-batched tensors along `axes`.

    For inputs `a` of shape `(batch, n)` and `b` of shape `(batch, n)` and `axes=1`, the
    output is `(batch, 1)`, each entry `sum(a[i] * b[i])`. In general the output holds, per
    sample, the remaining axes of `a` followed by the remaining axes of `b` (Keras
    `batch_dot`); a result with only the batch axis gets a trailing axis of size 1.

    Args:
        axes: int (the same axis of both inputs) or a pair `(axis_a, axis_b)`; never 0 (the
            batch axis).
        normalize: L2-normalize both inputs along `axes` first, so the result is the cosine
            similarity (default False).

    Returns (when called on `[a, b]`):
        The batched dot product.

    Raises:
        TypeError / ValueError: on invalid `axes`, a call on other than two inputs, or axes
            of different sizes.

    Example:
        >>> Dot(axes=1)([jnp.ones((2, 3)), jnp.ones((2, 3))])
        Array([[3.],
               [3.]], dtype=float32)
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        label = f"Dot layer '{self.name}'"
        if _is_int(axes):
            axes = int(axes)
        elif isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(_is_int(a) for a in axes):
                raise ValueError(
                    f"{label}: argument `axes` must be an int or a pair of ints, received "
                    f"axes={axes!r}.")
            axes = [int(a) for a in axes] if isinstance(axes, list) else tuple(int(a) for a in axes)
        else:
            raise TypeError(
                f"{label}: argument `axes` must be an int or a pair of ints, received "
                f"axes={axes!r}.")
        self.axes = axes
        self.normalize = bool(normalize)
        self.supports_masking = True

    def _resolve_axes(self, shapes):
        pair = [self.axes, self.axes] if _is_int(self.axes) else list(self.axes)
        return [a % len(s) if a < 0 else a for a, s in zip(pair, shapes)]

    def build(self, input_shape):
        if (not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2
                or not isinstance(input_shape[0], (list, tuple))):
            raise ValueError(
                f"Dot layer '{self.name}' must be called on a list of exactly 2 inputs, "
                f"received input shape(s) {input_shape}. Call it as Dot(axes)([a, b]).")
        s1, s2 = (tuple(s) for s in input_shape)
        if len(s1) < 2 or len(s2) < 2:
            raise ValueError(
                f"Dot layer '{self.name}' needs inputs of rank >= 2 (a batch axis and at least "
                f"one more), received shapes {s1} and {s2}.")
        a1, a2 = self._resolve_axes([s1, s2])
        if a1 == 0 or a2 == 0 or a1 >= len(s1) or a2 >= len(s2):
            raise ValueError(
                f"Dot layer '{self.name}': axes={self.axes} are invalid for inputs of shapes "
                f"{s1} and {s2}; use non-batch axes (>= 1) within each input's rank.")
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(
                f"Dot layer '{self.name}': the dot product axes differ in size: axis {a1} of "
                f"shape {s1} is {s1[a1]} but axis {a2} of shape {s2} is {s2[a2]}.")
        self.built = True

    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(
                f"Dot layer '{self.name}' must be called on exactly 2 inputs, received "
                f"{len(inputs)}.")
        x, y = inputs
        a1, a2 = self._resolve_axes([x.shape, y.shape])
        if self.normalize:
            x, y = _l2_normalize(x, a1), _l2_normalize(y, a2)
        out = jax.lax.dot_general(x, y, (((a1,), (a2,)), ((0,), (0,))))
        if out.ndim == 1:
            out = out[:, None]
        return out

    def compute_output_shape(self, input_shape):
        s1, s2 = (list(s) for s in input_shape)
        a1, a2 = self._resolve_axes([s1, s2])
        s1.pop(a1)
        s2.pop(a2)
        out = s1 + s2[1:]
        return tuple(out + [1] if len(out) == 1 else out)

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"axes": self.axes, "normalize": self.normalize})
        return cfg


def dot(inputs, axes=-1, **kwargs):
    """Functional interface to `Dot`: `Dot(axes=axes, **kwargs)(inputs)`.

    Args:
        inputs: a list of two tensors.
        axes: int or pair of ints (default -1, the last axes).
        **kwargs: other `Dot` arguments (normalize, name).

    Returns:
        The batched dot product.

    Example:
        >>> dot([jnp.ones((2, 3)), jnp.ones((2, 3))], axes=1).shape
        (2, 1)
    """
    return Dot(axes=axes, **kwargs)(inputs)


__all__ = ["Dot", "dot"]
