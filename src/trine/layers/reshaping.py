"""Reshaping layers: Permute, RepeatVector, Cropping1D/2D/3D, ZeroPadding1D/2D/3D,
UpSampling1D/2D/3D. (`Flatten` and `Reshape` live in layers/core.py.)
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.layer import InputSpec, Layer
from trine.core.naming import layer_label
from trine.ops.convolution import normalize_data_format, normalize_tuple


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _pairs(value, n: int, arg: str, layer: str) -> tuple:
    """An int, a tuple of `n` ints (symmetric) or a tuple of `n` pairs -> `n` (low, high)
    pairs of non-negative ints."""
    if _is_int(value):
        value = (value,) * n
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(
            f"{layer}: argument `{arg}` must be an int, a tuple of {n} ints, or a tuple of {n} "
            f"(before, after) pairs, received {arg}={value!r}.")
    return tuple(normalize_tuple(v, 2, f"{arg}[{i}]", layer, allow_zero=True)
                 for i, v in enumerate(value))


def _spatial_axes(ndim: int, data_format: str) -> list[int]:
    return list(range(1, ndim - 1)) if data_format == "channels_last" else list(range(2, ndim))


# --------------------------------------------------------------------------------------
class Permute(Layer):
    """Permute the non-batch axes of the input.

    Args:
        dims: a permutation of `1..rank-1` (the batch axis 0 is left in place); e.g. `(2, 1)`
            swaps the two axes of `(batch, a, b)` inputs.

    Returns (when called):
        The permuted tensor.

    Raises:
        ValueError: if `dims` is not a permutation of `1..len(dims)`.

    Example:
        >>> Permute((2, 1))(jnp.ones((2, 3, 4))).shape
        (2, 4, 3)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (list, tuple)) or not all(_is_int(d) for d in dims) or sorted(
                int(d) for d in dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                f"{layer_label(self)}: argument `dims` must be a permutation of 1..N (the batch "
                f"axis 0 is not permuted), received dims={dims!r}. Example: dims=(2, 1).")
        self.dims = tuple(int(d) for d in dims)
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return jnp.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        cfg = super().get_config()
        cfg["dims"] = self.dims
        return cfg


class RepeatVector(Layer):
    """Repeat a `(batch, features)` input `n` times: `(batch, n, features)`.

    Args:
        n: the number of repetitions, a positive integer.

    Returns (when called):
        `(batch, n, features)`.

    Raises:
        TypeError / ValueError: if `n` is not a positive integer.

    Example:
        >>> RepeatVector(3)(jnp.ones((2, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n):
            raise TypeError(f"{layer_label(self)}: argument `n` must be an integer, received n={n!r}.")
        if n <= 0:
            raise ValueError(f"{layer_label(self)}: argument `n` must be positive, received n={n}.")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return jnp.repeat(inputs[:, None, :], self.n, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        cfg = super().get_config()
        cfg["n"] = self.n
        return cfg


# --------------------------------------------------------------------------------------
class _Cropping(Layer):
    rank = 1

    def _crop(self, inputs, crops, axes):
        for a, (lo, hi), n in zip(axes, crops, [inputs.shape[a] for a in axes]):
            if lo + hi >= n:
                raise ValueError(
                    f"{layer_label(self)}: cropping {tuple(crops)} leaves nothing of inputs of shape "
                    f"{tuple(inputs.shape)} (axis {a} has size {n}). Crop less.")
        index = [slice(None)] * inputs.ndim
        for a, (lo, hi) in zip(axes, crops):
            index[a] = slice(lo, inputs.shape[a] - hi)
        return inputs[tuple(index)]


class Cropping1D(_Cropping):
    """Crop `(batch, steps, features)` inputs along the steps axis.

    Args:
        cropping: int (same at both ends) or `(start, end)` (default (1, 1)).

    Returns (when called):
        `(batch, steps - start - end, features)`.

    Raises:
        ValueError: on a negative cropping, or one that leaves nothing.

    Example:
        >>> Cropping1D((1, 2))(jnp.ones((2, 6, 3))).shape
        (2, 3, 3)
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = normalize_tuple(cropping, 2, "cropping", layer_label(self), allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return self._crop(inputs, [self.cropping], [1])

    def get_config(self):
        cfg = super().get_config()
        cfg["cropping"] = self.cropping
        return cfg


class Cropping2D(_Cropping):
    """Crop images along height and width.

    Args:
        cropping: int (all sides), `(sym_height, sym_width)`, or
            `((top, bottom), (left, right))` (default no cropping).
        data_format: "channels_last" (default) or "channels_first".

    Returns (when called):
        The cropped images.

    Raises:
        ValueError: on invalid arguments, or a cropping that leaves nothing.

    Example:
        >>> Cropping2D(((1, 1), (2, 0)))(jnp.ones((1, 5, 5, 3))).shape
        (1, 3, 3, 3)
    """

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, layer_label(self))
        self.cropping = _pairs(cropping, self.rank, "cropping", layer_label(self))
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        return self._crop(inputs, self.cropping, _spatial_axes(inputs.ndim, self.data_format))

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"cropping": self.cropping, "data_format": self.data_format})
        return cfg


class Cropping3D(Cropping2D):
    """Crop volumes `(batch, d1, d2, d3, channels)` along the three spatial axes.

    Args:
        cropping: int, a tuple of 3 ints (symmetric), or 3 `(before, after)` pairs
            (default ((1, 1), (1, 1), (1, 1))).
        data_format: "channels_last" (default) or "channels_first".

    Returns (when called):
        The cropped volumes.

    Raises:
        ValueError: on invalid arguments, or a cropping that leaves nothing.

    Example:
        >>> Cropping3D(1)(jnp.ones((1, 4, 4, 4, 2))).shape
        (1, 2, 2, 2, 2)
    """

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping=cropping, data_format=data_format, **kwargs)


# --------------------------------------------------------------------------------------
class ZeroPadding1D(Layer):
    """Pad `(batch, steps, features)` inputs with zeros along the steps axis.

    Args:
        padding: int (both ends) or `(start, end)` (default 1).
        data_format: "channels_last" (default) or "channels_first".

    Returns (when called):
        `(batch, steps + start + end, features)` (channels_last).

    Raises:
        ValueError: on a negative padding.

    Example:
        >>> ZeroPadding1D(2)(jnp.ones((2, 3, 4))).shape
        (2, 7, 4)
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, layer_label(self))
        self.padding = normalize_tuple(padding, 2, "padding", layer_label(self), allow_zero=True)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        pads = [(0, 0)] * 3
        pads[1 if self.data_format == "channels_last" else 2] = self.padding
        return jnp.pad(inputs, pads)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"padding": self.padding, "data_format": self.data_format})
        return cfg


class ZeroPadding2D(Layer):
    """Pad images with zeros along height and width.

    Args:
        padding: int (all sides), `(sym_height, sym_width)` (default (1, 1)), or
            `((top, bottom), (left, right))`.
        data_format: "channels_last" (default) or "channels_first".

    Returns (when called):
        The padded images.

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> ZeroPadding2D(1)(jnp.ones((1, 3, 3, 2))).shape
        (1, 5, 5, 2)
    """

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, layer_label(self))
        self.padding = _pairs(padding, self.rank, "padding", layer_label(self))
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def call(self, inputs):
        pads = [(0, 0)] * inputs.ndim
        for a, p in zip(_spatial_axes(inputs.ndim, self.data_format), self.padding):
            pads[a] = p
        return jnp.pad(inputs, pads)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"padding": self.padding, "data_format": self.data_format})
        return cfg


class ZeroPadding3D(ZeroPadding2D):
    """Pad volumes `(batch, d1, d2, d3, channels)` with zeros along the three spatial axes.

    Args:
        padding: int, a tuple of 3 ints (symmetric), or 3 `(before, after)` pairs
            (default ((1, 1), (1, 1), (1, 1))).
        data_format: "channels_last" (default) or "channels_first".

    Returns (when called):
        The padded volumes.

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> ZeroPadding3D(1)(jnp.ones((1, 2, 2, 2, 1))).shape
        (1, 4, 4, 4, 1)
    """

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding=padding, data_format=data_format, **kwargs)


# --------------------------------------------------------------------------------------
class UpSampling1D(Layer):
    """Repeat each step of `(batch, steps, features)` inputs `size` times.

    Args:
        size: the repetition factor, a positive integer (default 2).

    Returns (when called):
        `(batch, steps * size, features)`.

    Raises:
        TypeError / ValueError: if `size` is not a positive integer.

    Example:
        >>> UpSampling1D(3)(jnp.ones((2, 4, 5))).shape
        (2, 12, 5)
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(size):
            raise TypeError(
                f"{layer_label(self)}: argument `size` must be an integer, received size={size!r}.")
        if size <= 0:
            raise ValueError(
                f"{layer_label(self)}: argument `size` must be positive, received size={size}.")
        self.size = int(size)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return jnp.repeat(inputs, self.size, axis=1)

    def get_config(self):
        cfg = super().get_config()
        cfg["size"] = self.size
        return cfg


_INTERPOLATIONS = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic",
                   "lanczos3": "lanczos3", "lanczos5": "lanczos5"}


class UpSampling2D(Layer):
    """Upsample images by integer factors along height and width.

    Args:
        size: int or `(height_factor, width_factor)` (default (2, 2)).
        data_format: "channels_last" (default) or "channels_first".
        interpolation: "nearest" (repeat pixels, default), "bilinear", "bicubic",
            "lanczos3" or "lanczos5" (through `jax.image.resize`).

    Returns (when called):
        `(batch, height * size[0], width * size[1], channels)` (channels_last).

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> UpSampling2D(2, interpolation="bilinear")(jnp.ones((1, 3, 3, 2))).shape
        (1, 6, 6, 2)
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        label = layer_label(self)
        self.data_format = normalize_data_format(data_format, label)
        self.size = normalize_tuple(size, 2, "size", label)
        if not isinstance(interpolation, str) or interpolation.lower() not in _INTERPOLATIONS:
            raise ValueError(
                f"{label}: argument `interpolation` must be one of {sorted(_INTERPOLATIONS)}, "
                f"received interpolation={interpolation!r}.")
        self.interpolation = interpolation.lower()
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        ax = _spatial_axes(4, self.data_format)
        if self.interpolation == "nearest":
            x = inputs
            for a, s in zip(ax, self.size):
                x = jnp.repeat(x, s, axis=a)
            return x
        shape = list(inputs.shape)
        for a, s in zip(ax, self.size):
            shape[a] *= s
        x = inputs if jnp.issubdtype(inputs.dtype, jnp.floating) else inputs.astype("float32")
        return jax.image.resize(x, tuple(shape), method=self.interpolation, antialias=False)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"size": self.size, "data_format": self.data_format,
                    "interpolation": self.interpolation})
        return cfg


class UpSampling3D(Layer):
    """Upsample volumes by repeating values along the three spatial axes.

    Args:
        size: int or a tuple of 3 ints (default (2, 2, 2)).
        data_format: "channels_last" (default) or "channels_first".

    Returns (when called):
        The upsampled volumes.

    Raises:
        ValueError: on invalid arguments.

    Example:
        >>> UpSampling3D(2)(jnp.ones((1, 2, 2, 2, 1))).shape
        (1, 4, 4, 4, 1)
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, layer_label(self))
        self.size = normalize_tuple(size, 3, "size", layer_label(self))
        self.input_spec = InputSpec(ndim=5)

    def call(self, inputs):
        x = inputs
        for a, s in zip(_spatial_axes(5, self.data_format), self.size):
            x = jnp.repeat(x, s, axis=a)
        return x

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"size": self.size, "data_format": self.data_format})
        return cfg


__all__ = ["Cropping1D", "Cropping2D", "Cropping3D", "Permute", "RepeatVector", "UpSampling1D",
           "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]
