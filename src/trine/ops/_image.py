"""The image operations written here (resize, grayscale, map_coordinates); the others are
in `trine.ops_image`."""
from __future__ import annotations

import builtins as _bi

import jax
import jax.numpy as jnp

from trine.ops import convolution as _convolution
from trine.ops._dispatch import _wrap


__all__ = [
]


_RESIZE = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")


def _image_resize(images, size, interpolation="bilinear", antialias=False,
                  crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, fill_mode="constant",
                  fill_value=0.0, data_format=None):
    """Resize images (rank 3 or 4) to `size = (height, width)`."""
    df = _convolution.normalize_data_format(data_format, "image.resize")
    if interpolation not in _RESIZE:
        raise ValueError(f"image.resize: argument `interpolation` must be one of {_RESIZE}, "
                         f"received interpolation={interpolation!r}.")
    if fill_mode != "constant":
        raise ValueError(f"image.resize: only fill_mode='constant' is supported, received "
                         f"fill_mode={fill_mode!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("image.resize: crop_to_aspect_ratio and pad_to_aspect_ratio cannot "
                         "both be True.")
    if len(size) != 2:
        raise ValueError(f"image.resize: argument `size` must be (height, width), received "
                         f"size={size!r}.")
    x = jnp.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"image.resize: expected images of rank 3 or 4, received shape "
                         f"{tuple(x.shape)}.")
    th, tw = (int(s) for s in size)
    hax = x.ndim - 3 if df == "channels_last" else x.ndim - 2
    h, w = x.shape[hax], x.shape[hax + 1]
    if crop_to_aspect_ratio:
        ch = _bi.max(_bi.min(h, int(w * th / tw)), 1)
        cw = _bi.max(_bi.min(w, int(h * tw / th)), 1)
        top, left = int((h - ch) / 2), int((w - cw) / 2)
        x = jax.lax.slice_in_dim(x, top, top + ch, axis=hax)
        x = jax.lax.slice_in_dim(x, left, left + cw, axis=hax + 1)
    elif pad_to_aspect_ratio:
        ph = int((_bi.max(h, int(w * th / tw)) - h) / 2)
        pw = int((_bi.max(w, int(h * tw / th)) - w) / 2)
        pads = [(0, 0)] * x.ndim
        if ph > 0:
            pads[hax] = (ph, ph)
        elif pw > 0:
            pads[hax + 1] = (pw, pw)
        x = jnp.pad(x, pads, constant_values=fill_value)
    shape = list(x.shape)
    shape[hax], shape[hax + 1] = th, tw
    return jax.image.resize(x, tuple(shape), method=interpolation, antialias=antialias)


def _image_rgb_to_grayscale(images, data_format=None):
    """Luma of RGB images (rank 3 or 4) as one channel; one-channel images pass through."""
    df = _convolution.normalize_data_format(data_format, "image.rgb_to_grayscale")
    x = jnp.asarray(images)
    axis = -1 if df == "channels_last" else -3
    if x.ndim not in (3, 4) or x.shape[axis] not in (1, 3):
        raise ValueError("image.rgb_to_grayscale: expected images of rank 3 or 4 with 1 or 3 "
                         f"channels, received shape {tuple(x.shape)}.")
    if x.shape[axis] == 1:
        return x
    xf = x.astype(jnp.result_type(x.dtype, jnp.float32))
    weights = jnp.asarray([0.2989, 0.5870, 0.1140], xf.dtype)
    gray = jnp.tensordot(xf, weights, axes=(axis % x.ndim, 0))
    return jnp.expand_dims(gray, axis).astype(x.dtype)


_MAP_FILL = ("constant", "nearest", "wrap", "mirror", "reflect")


def _image_map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """`inputs` sampled at `coordinates` (one row per axis of `inputs`), with spline `order`
    0 (nearest) or 1 (linear)."""
    x, c = jnp.asarray(inputs), jnp.asarray(coordinates)
    if c.ndim < 2 or c.shape[0] != x.ndim:
        raise ValueError(f"image.map_coordinates: expected coordinates of shape ({x.ndim}, "
                         f"...) for inputs of rank {x.ndim}, received {tuple(c.shape)}.")
    if fill_mode not in _MAP_FILL:
        raise ValueError(f"image.map_coordinates: fill_mode must be one of {_MAP_FILL}, "
                         f"received fill_mode={fill_mode!r}.")
    if order not in (0, 1):
        raise ValueError(f"image.map_coordinates: order must be 0 or 1, received order={order!r}.")
    return jax.scipy.ndimage.map_coordinates(x, c, order, mode=fill_mode, cval=fill_value)


_image_resize = _wrap(_image_resize, "_image_resize")
_image_rgb_to_grayscale = _wrap(_image_rgb_to_grayscale, "_image_rgb_to_grayscale")
_image_map_coordinates = _wrap(_image_map_coordinates, "_image_map_coordinates")
