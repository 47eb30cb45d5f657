"""Adaptive average and max pooling 1D/2D/3D: pool to a fixed output size whatever the input
size (Keras `AdaptiveAveragePooling*D` / `AdaptiveMaxPooling*D`, PyTorch's windows)."""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer
from trine.layers.preprocessing._utils import standardize_data_format

__all__ = ["AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
           "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D"]


def _windows(n_in, n_out):
    """Window i covers [floor(i * n_in / n_out), ceil((i + 1) * n_in / n_out))."""
    return [(math.floor(i * n_in / n_out), math.ceil((i + 1) * n_in / n_out))
            for i in range(n_out)]


def _pool_axis(x, axis, n_out, mode):
    n_in = x.shape[axis]
    member = np.zeros((n_out, n_in), bool)
    for i, (s, e) in enumerate(_windows(n_in, n_out)):
        member[i, s:e] = True
    xm = jnp.moveaxis(x, axis, -1)
    if mode == "average":
        # a window mean is a matmul with a row-normalized membership matrix
        w = (member / member.sum(1, keepdims=True)).T.astype(np.float32)
        y = jnp.matmul(xm, jnp.asarray(w, xm.dtype))
    else:
        fill = jnp.asarray(-jnp.inf if jnp.issubdtype(xm.dtype, jnp.floating)
                           else jnp.iinfo(xm.dtype).min, xm.dtype)
        y = jnp.max(jnp.where(jnp.asarray(member), xm[..., None, :], fill), axis=-1)
    return jnp.moveaxis(y, -1, axis)


class _AdaptivePooling(Layer):
    _rank = 1
    _mode = "average"

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        sizes = (output_size,) * self._rank if isinstance(output_size, (int, np.integer)) \
            else output_size
        if (not isinstance(sizes, (tuple, list)) or len(sizes) != self._rank or any(
                isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                for s in sizes)):
            raise ValueError(
                f"{cls} layer '{self.name}' expected output_size to be a positive integer or a "
                f"tuple of {self._rank} positive integers, received output_size={output_size!r}.")
        self.output_size = tuple(int(s) for s in sizes)
        self.data_format = standardize_data_format(self.name, data_format)

    def _spatial_axes(self, ndim):
        if ndim != self._rank + 2:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expected inputs of rank "
                f"{self._rank + 2} (batch, {'spatial, ' * self._rank}channels), received rank "
                f"{ndim}.")
        first = 1 if self.data_format == "channels_last" else 2
        return range(first, first + self._rank)

    def call(self, inputs):
        x = jnp.asarray(inputs)
        for axis, n in zip(self._spatial_axes(x.ndim), self.output_size):
            x = _pool_axis(x, axis, n, self._mode)
        return x

    def compute_output_shape(self, input_shape):
        self._spatial_axes(len(input_shape))
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"output_size": self.output_size, "data_format": self.data_format})
        return cfg


_DOC = """Adaptive {mode} pooling over {rank} spatial axis(es) to a fixed `output_size`.

    Output position `i` pools input positions `[floor(i * n / m), ceil((i + 1) * n / m))`
    (n input size, m output size), as PyTorch and Keras do.

    Args:
        output_size: an int or a tuple of {rank} ints.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        `(batch, *output_size, channels)` (channels_last).

    Raises:
        ValueError: for a bad output_size, data_format or input rank.
"""


def _make(name, rank, mode):
    cls = type(name, (_AdaptivePooling,), {"_rank": rank, "_mode": mode, "__module__": __name__,
                                           "__doc__": _DOC.format(mode=mode, rank=rank)})
    return cls


AdaptiveAveragePooling1D = _make("AdaptiveAveragePooling1D", 1, "average")
AdaptiveAveragePooling2D = _make("AdaptiveAveragePooling2D", 2, "average")
AdaptiveAveragePooling3D = _make("AdaptiveAveragePooling3D", 3, "average")
AdaptiveMaxPooling1D = _make("AdaptiveMaxPooling1D", 1, "max")
AdaptiveMaxPooling2D = _make("AdaptiveMaxPooling2D", 2, "max")
AdaptiveMaxPooling3D = _make("AdaptiveMaxPooling3D", 3, "max")
