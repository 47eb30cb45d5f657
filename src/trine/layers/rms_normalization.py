"""RMSNormalization: scale by the root mean square, no centering (Keras `RMSNormalization`)."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer

__all__ = ["RMSNormalization"]


class RMSNormalization(Layer):
    """`x / sqrt(mean(x ** 2, axis) + epsilon) * scale` (Zhang & Sennrich, 2019).

    Args:
        axis: the axis or list of axes to normalize over (default -1); `scale` has their shape.
        epsilon: added to the mean square (default 1e-6).

    Returns:
        A tensor of the input's shape and dtype.

    Raises:
        ValueError: if an axis is outside the input's rank or its size is unknown.

    Example:
        >>> RMSNormalization()(jnp.ones((2, 4))).shape
        (2, 4)
    """

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = epsilon
        self.supports_masking = True

    def _axes(self, rank):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -rank <= a < rank:
                raise ValueError(
                    f"RMSNormalization layer '{self.name}': axis={self.axis!r} is out of range "
                    f"for inputs of rank {rank}. Pass axes in [-{rank}, {rank - 1}].")
        return sorted(a % rank for a in axes)

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(
                f"RMSNormalization layer '{self.name}' needs known sizes on axis={self.axis!r}, "
                f"received input shape {tuple(input_shape)}.")
        if isinstance(self.axis, list):
            self.axis = sorted(self.axis)
        self._norm_axes = tuple(axes)
        self.scale = self.add_weight(shape=shape, initializer="ones", name="scale")
        self.built = True

    def call(self, inputs):
        x = jnp.asarray(inputs)
        dtype = x.dtype
        xf = x.astype(jnp.promote_types(dtype, jnp.float32))  # stable in half precision
        ms = jnp.mean(jnp.square(xf), axis=self._norm_axes, keepdims=True)
        bshape = [1] * x.ndim
        for a in self._norm_axes:
            bshape[a] = x.shape[a]
        y = xf * jnp.reciprocal(jnp.sqrt(ms + self.epsilon))
        y = y * jnp.reshape(self.scale.value.astype(xf.dtype), bshape)
        return y.astype(dtype)

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"axis": self.axis, "epsilon": self.epsilon})
        return cfg
