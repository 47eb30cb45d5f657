"""Image preprocessing and augmentation layers, on the device (`jax.numpy`, `jax.image`,
`jax.scipy.ndimage.map_coordinates`): Resizing, CenterCrop, RandomFlip, RandomRotation,
RandomZoom, RandomTranslation, RandomContrast.

Inputs are a batch `(batch, height, width, channels)` or one image `(height, width,
channels)` ("channels_last"; "channels_first" puts channels before height).

The random layers change their inputs only when called with `training=True` (inside
`fit`, or explicitly); otherwise they return the input (as float). Their randomness
comes from `self.rng_key()`: under `fit` / `stateless_call(..., rng=key)` it is derived
from the step key, so runs are reproducible under a seed; eagerly each call draws a new key.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer
from trine.layers._int_args import positive_int_arg
from trine.layers.preprocessing._factor_range import check_factor
from trine.layers.preprocessing._image_inputs import check_image_rank, float_images
from trine.layers.preprocessing._seeded_image import SeededImageLayer
from trine.layers.preprocessing._utils import check_choice, standardize_data_format

_RESIZE_METHODS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")
_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_AFFINE_INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


def _image_axes(data_format, ndim):
    """(height_axis, width_axis) for an image or batch of images."""
    if data_format == "channels_last":
        return ndim - 3, ndim - 2
    return ndim - 2, ndim - 1


def _height_width(x, data_format):
    """The height and width of an image or batch of images."""
    h_ax, w_ax = _image_axes(data_format, x.ndim)
    return x.shape[h_ax], x.shape[w_ax]


def _saturate_cast(x, dtype):
    dtype = jnp.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.integer):
        info = jnp.iinfo(dtype)
        x = jnp.clip(jnp.round(x), info.min, info.max)
    return x.astype(dtype)


@functools.partial(jax.jit, static_argnames=("height", "width", "method", "antialias",
                                             "data_format", "crop_to_aspect_ratio",
                                             "pad_to_aspect_ratio", "fill_value"))
def _resize(images, height, width, method, antialias, data_format, crop_to_aspect_ratio=False,
            pad_to_aspect_ratio=False, fill_value=0.0):
    """Resize (optionally centre-cropping or padding to the target aspect ratio first)."""
    h_ax, w_ax = _image_axes(data_format, images.ndim)
    h, w = images.shape[h_ax], images.shape[w_ax]
    if crop_to_aspect_ratio:
        ch = max(min(h, int(float(w * height) / width)), 1)
        cw = max(min(w, int(float(h * width) / height)), 1)
        top, left = int(float(h - ch) / 2), int(float(w - cw) / 2)
        images = jax.lax.slice_in_dim(images, top, top + ch, axis=h_ax)
        images = jax.lax.slice_in_dim(images, left, left + cw, axis=w_ax)
    elif pad_to_aspect_ratio:
        ph = max(h, int(float(w * height) / width))
        pw = max(w, int(float(h * width) / height))
        top, left = int(float(ph - h) / 2), int(float(pw - w) / 2)
        pads = [(0, 0)] * images.ndim
        if top > 0:
            pads[h_ax] = (top, top)
        elif left > 0:
            pads[w_ax] = (left, left)
        images = jnp.pad(images, pads, constant_values=fill_value)
    shape = list(images.shape)
    shape[h_ax], shape[w_ax] = height, width
    return jax.image.resize(images, tuple(shape), method=method, antialias=antialias)


@functools.partial(jax.jit, static_argnames=("interpolation", "fill_mode", "fill_value",
                                             "data_format"))
def _affine_transform(images, transforms, interpolation, fill_mode, fill_value, data_format):
    """Apply one projective transform per image (Keras/TF 8-number convention).

    `transforms[b] = [a0, a1, a2, b0, b1, b2, c0, c1]` maps an output pixel (x, y) to the
    input point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1.
    Sampling is `jax.scipy.ndimage.map_coordinates` (order 0 or 1) with `fill_mode`.
    """
    if data_format == "channels_first":
        images = jnp.moveaxis(images, 1, -1)
    _, h, w, _ = images.shape
    ys, xs = jnp.meshgrid(jnp.arange(h, dtype=images.dtype), jnp.arange(w, dtype=images.dtype),
                          indexing="ij")
    t = transforms.astype(images.dtype)
    order = _AFFINE_INTERPOLATIONS[interpolation]

    def one_image(img, tr):
        k = tr[6] * xs + tr[7] * ys + 1.0
        src_x = (tr[0] * xs + tr[1] * ys + tr[2]) / k
        src_y = (tr[3] * xs + tr[4] * ys + tr[5]) / k

        def one_channel(plane):
            return jax.scipy.ndimage.map_coordinates(plane, [src_y, src_x], order=order,
                                                     mode=fill_mode, cval=fill_value)

        return jax.vmap(one_channel, in_axes=-1, out_axes=-1)(img)

    out = jax.vmap(one_image)(images, t)
    if data_format == "channels_first":
        out = jnp.moveaxis(out, -1, 1)
    return out


def _batched(x):
    """(images as a batch, undo function)."""
    if x.ndim == 3:
        return x[None], lambda y: y[0]
    return x, lambda y: y


# --------------------------------------------------------------------------------------
class Resizing(Layer):
    """Resize images to `(height, width)` with `jax.image.resize`.

    Runs on the device, in training and at inference. Integer images are rounded and
    saturated back to their dtype; other inputs become float32.

    Args:
        height, width: target size.
        interpolation: "bilinear" (default), "nearest", "bicubic", "lanczos3", "lanczos5".
        crop_to_aspect_ratio: centre-crop to the target aspect ratio first (no distortion).
        pad_to_aspect_ratio: pad (with `fill_value`) to the target aspect ratio first.
        fill_mode: only "constant" (the padding mode).
        fill_value: padding value with `pad_to_aspect_ratio`.
        antialias: antialias when downsampling.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of spatial size `(height, width)`.

    Raises:
        ValueError: on invalid sizes, interpolation, fill_mode, both aspect-ratio options,
            or inputs that are not rank 3/4.

    Example:
        >>> Resizing(32, 32)(np.zeros((2, 64, 48, 3))).shape
        (2, 32, 32, 3)
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        height = positive_int_arg(self, "height", height)
        width = positive_int_arg(self, "width", width)
        check_choice(self.name, "interpolation", interpolation, _RESIZE_METHODS)
        check_choice(self.name, "fill_mode", fill_mode, ("constant",))
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                f"Resizing layer '{self.name}': pass crop_to_aspect_ratio=True or "
                "pad_to_aspect_ratio=True, not both.")
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)
        self.data_format = standardize_data_format(self.name, data_format)

    def call(self, inputs):
        x = jnp.asarray(inputs)
        check_image_rank(self, x)
        in_dtype = x.dtype
        out = _resize(x.astype(self.compute_dtype), self.height, self.width, self.interpolation,
                      self.antialias, self.data_format, self.crop_to_aspect_ratio,
                      self.pad_to_aspect_ratio, float(self.fill_value))
        if jnp.issubdtype(in_dtype, jnp.integer):
            return _saturate_cast(out, in_dtype)
        return out

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "height": self.height, "width": self.width, "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
            "fill_value": self.fill_value, "antialias": self.antialias,
            "data_format": self.data_format,
        })
        return cfg


class CenterCrop(Layer):
    """Crop the central `(height, width)` region of images.

    If an image is smaller than the target on either side, it is instead resized to the
    target (centre-cropped to the target aspect ratio first, bilinear), as in Keras.
    Runs on the device; outputs float32.

    Args:
        height, width: target size.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of spatial size `(height, width)`.

    Raises:
        ValueError: on non-positive sizes or inputs that are not rank 3/4.

    Example:
        >>> CenterCrop(24, 24)(np.zeros((2, 32, 32, 3))).shape
        (2, 24, 24, 3)
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        height = positive_int_arg(self, "height", height)
        width = positive_int_arg(self, "width", width)
        self.height, self.width = int(height), int(width)
        self.data_format = standardize_data_format(self.name, data_format)

    def call(self, inputs):
        x = float_images(self, inputs)
        h_ax, w_ax = _image_axes(self.data_format, x.ndim)
        h, w = x.shape[h_ax], x.shape[w_ax]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            x = jax.lax.slice_in_dim(x, top, top + self.height, axis=h_ax)
            return jax.lax.slice_in_dim(x, left, left + self.width, axis=w_ax)
        return _resize(x, self.height, self.width, "bilinear", False, self.data_format,
                       crop_to_aspect_ratio=True)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"data_format": self.data_format, "height": self.height, "width": self.width})
        return cfg


# --------------------------------------------------------------------------------------
# The augmentations are pure functions of (images, key, *numbers, *modes), jitted with the
# modes static and the numbers traced: eager calls compile once per shape and mode, and
# under an outer jit (fit) they are inlined.
@functools.partial(jax.jit, static_argnums=(0, 1))
def _run_augmentation(fn, static, x, key, dynamic):
    return fn(x, key, *dynamic, *static)


def _flip(x, key, mode, data_format):
    h_ax, w_ax = _image_axes(data_format, x.ndim)
    kh, kv = jax.random.split(key)
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    if mode in ("horizontal", "horizontal_and_vertical"):
        x = jnp.where(jax.random.uniform(kh, shape) <= 0.5, jnp.flip(x, axis=w_ax), x)
    if mode in ("vertical", "horizontal_and_vertical"):
        x = jnp.where(jax.random.uniform(kv, shape) <= 0.5, jnp.flip(x, axis=h_ax), x)
    return x


def _rotate(x, key, lower, upper, interpolation, fill_mode, fill_value, data_format):
    h, w = _height_width(x, data_format)
    angle = jax.random.uniform(key, (x.shape[0],), minval=lower * 360.0, maxval=upper * 360.0)
    theta = angle * (math.pi / 180.0)
    cx, cy = 0.5 * (w - 1), 0.5 * (h - 1)
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    a0, a1, b0, b1 = cos, -sin, sin, cos
    zeros = jnp.zeros_like(cos)
    tr = jnp.stack([a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1,
                    zeros, zeros], axis=1)
    return _affine_transform(x, tr, interpolation, fill_mode, fill_value, data_format)


def _zoom(x, key, h_range, w_range, interpolation, fill_mode, fill_value, data_format):
    h, w = _height_width(x, data_format)
    n = x.shape[0]
    kh, kw = jax.random.split(key)
    zy = jax.random.uniform(kh, (n,), minval=1.0 + h_range[0], maxval=1.0 + h_range[1])
    zx = (zy if w_range is None else
          jax.random.uniform(kw, (n,), minval=1.0 + w_range[0], maxval=1.0 + w_range[1]))
    zeros = jnp.zeros_like(zx)
    tr = jnp.stack([zx, zeros, (w - 1.0) / 2.0 * (1.0 - zx),
                    zeros, zy, (h - 1.0) / 2.0 * (1.0 - zy), zeros, zeros], axis=1)
    return _affine_transform(x, tr, interpolation, fill_mode, fill_value, data_format)


def _translate(x, key, h_range, w_range, interpolation, fill_mode, fill_value, data_format):
    h, w = _height_width(x, data_format)
    n = x.shape[0]
    kh, kw = jax.random.split(key)
    ty = jax.random.uniform(kh, (n,), minval=h_range[0], maxval=h_range[1]) * h
    tx = jax.random.uniform(kw, (n,), minval=w_range[0], maxval=w_range[1]) * w
    ones, zeros = jnp.ones_like(tx), jnp.zeros_like(tx)
    tr = jnp.stack([ones, zeros, -tx, zeros, ones, -ty, zeros, zeros], axis=1)
    return _affine_transform(x, tr, interpolation, fill_mode, fill_value, data_format)


def _contrast(x, key, lower, upper, low, high, data_format):
    h_ax, w_ax = _image_axes(data_format, x.ndim)
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    c = jax.random.uniform(key, shape, minval=1.0 - lower, maxval=1.0 + upper).astype(x.dtype)
    mean = jnp.mean(x, axis=(h_ax, w_ax), keepdims=True)
    return jnp.clip((x - mean) * c + mean, low, high)


class _RandomImageLayer(SeededImageLayer):
    """Shared plumbing: seed, per-call key, training switch, config."""

    def call(self, inputs, training=False):
        x = float_images(self, inputs)
        if not training:
            return x
        xb, undo = _batched(x)
        fn, static, dynamic = self._augmentation()
        return undo(_run_augmentation(fn, static, xb, self._key(), dynamic))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["data_format"] = self.data_format
        return cfg


def _check_fill_and_interp(layer, fill_mode, interpolation):
    if fill_mode not in _FILL_MODES:
        raise NotImplementedError(
            f"{type(layer).__name__} layer '{layer.name}': unknown fill_mode={fill_mode!r}. "
            f"Expected one of {list(_FILL_MODES)}.")
    if interpolation not in _AFFINE_INTERPOLATIONS:
        raise NotImplementedError(
            f"{type(layer).__name__} layer '{layer.name}': unknown interpolation="
            f"{interpolation!r}. Expected one of {list(_AFFINE_INTERPOLATIONS)}.")


class RandomFlip(_RandomImageLayer):
    """Randomly flip images left-right and/or top-bottom during training.

    Each image is flipped with probability 1/2 (per direction). Identity (cast to float)
    unless called with `training=True` (which `fit` does).

    Args:
        mode: "horizontal", "vertical" or "horizontal_and_vertical" (default).
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape.

    Raises:
        ValueError: on an unknown `mode`.

    Note:
        With "horizontal_and_vertical" the two flips are drawn independently (as documented
        by Keras and done by Keras 2). Keras 3.15's code draws one coin for both, so an image
        is either unchanged or rotated 180 degrees there.

    Example:
        >>> layer = RandomFlip("horizontal", seed=0)
        >>> y = layer(np.random.rand(8, 32, 32, 3), training=True)
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        check_choice(self.name, "mode", mode, ("horizontal", "vertical", "horizontal_and_vertical"))
        self.mode = mode

    def _augmentation(self):
        return _flip, (self.mode, self.data_format), ()

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"seed": self.seed, "mode": self.mode})
        return cfg


class _RandomAffineLayer(_RandomImageLayer):
    """A random affine transform of the images: its fill and interpolation arguments."""

    def _init_fill(self, fill_mode, interpolation, fill_value):
        _check_fill_and_interp(self, fill_mode, interpolation)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def _transform_args(self):
        """The static arguments of `_rotate` / `_zoom` / `_translate` after the ranges."""
        return self.interpolation, self.fill_mode, float(self.fill_value), self.data_format


class _HeightWidthAffineLayer(_RandomAffineLayer):
    """A random affine transform drawn from a height and a width factor (zoom, translation)."""

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"height_factor": self.height_factor, "width_factor": self.width_factor,
                    "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                    "seed": self.seed, "fill_value": self.fill_value})
        return cfg


class RandomRotation(_RandomAffineLayer):
    """Randomly rotate images about their centre during training.

    Args:
        factor: fraction of a full turn: `f` gives angles in `[-f*360, f*360]` degrees,
            `(lo, hi)` gives `[lo*360, hi*360]`; positive is counter-clockwise.
        fill_mode: "reflect" (default; `d c b a | a b c d | d c b a`), "wrap", "constant"
            or "nearest" — how points outside the image are filled.
        interpolation: "bilinear" (default) or "nearest".
        seed: optional integer seed.
        fill_value: the value used with fill_mode="constant".
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape (float32).

    Raises:
        ValueError: if factor is outside [-1, 1].
        NotImplementedError: on an unknown fill_mode or interpolation (as Keras).

    Example:
        >>> layer = RandomRotation(0.1, fill_mode="constant")
        >>> y = layer(np.random.rand(4, 28, 28, 1), training=True)
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(self, factor, (-1, 1), "factor")
        self._init_fill(fill_mode, interpolation, fill_value)

    def _augmentation(self):
        return _rotate, self._transform_args(), (self.factor[0], self.factor[1])

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "fill_mode": self.fill_mode,
                    "fill_value": self.fill_value, "interpolation": self.interpolation,
                    "seed": self.seed})
        return cfg


class RandomZoom(_HeightWidthAffineLayer):
    """Randomly zoom images in or out during training, about their centre.

    Args:
        height_factor: `f` or `(lo, hi)` in (-1, 1]: the vertical zoom is drawn from
            `[1 + lo, 1 + hi]`; positive values zoom out, negative zoom in.
        width_factor: the same for the horizontal axis; None (default) keeps the aspect
            ratio (the vertical zoom is used for both axes).
        fill_mode, interpolation, seed, fill_value, data_format: as in `RandomRotation`.

    Returns:
        Images of the input's shape (float32).

    Raises:
        ValueError: if a factor is outside (-1, 1].
        NotImplementedError: on an unknown fill_mode or interpolation.

    Example:
        >>> layer = RandomZoom(0.2, seed=1)
        >>> y = layer(np.random.rand(4, 28, 28, 1), training=True)
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = check_factor(
            self, height_factor, (-1, 1), "height_factor", low_open=True)
        self.width_factor = width_factor
        if width_factor is not None:
            self.width_lower, self.width_upper = check_factor(
                self, width_factor, (-1, 1), "width_factor", low_open=True)
        self._init_fill(fill_mode, interpolation, fill_value)

    def _augmentation(self):
        w_range = (None if self.width_factor is None
                   else (self.width_lower, self.width_upper))
        return _zoom, self._transform_args(), ((self.height_lower, self.height_upper), w_range)


class RandomTranslation(_HeightWidthAffineLayer):
    """Randomly shift images during training.

    Args:
        height_factor: `f` or `(lo, hi)` in [-1, 1], fractions of the height: the vertical
            shift is drawn from `[lo * height, hi * height]` pixels (positive moves down).
        width_factor: the same for the horizontal shift (positive moves right).
        fill_mode, interpolation, seed, fill_value, data_format: as in `RandomRotation`.

    Returns:
        Images of the input's shape (float32).

    Raises:
        ValueError: if a factor is outside [-1, 1].
        NotImplementedError: on an unknown fill_mode or interpolation.

    Example:
        >>> layer = RandomTranslation(0.1, 0.1, fill_mode="constant")
        >>> y = layer(np.random.rand(4, 28, 28, 1), training=True)
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                 seed=None, fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = check_factor(
            self, height_factor, (-1, 1), "height_factor")
        self.width_factor = width_factor
        self.width_lower, self.width_upper = check_factor(
            self, width_factor, (-1, 1), "width_factor")
        self._init_fill(fill_mode, interpolation, fill_value)

    def _augmentation(self):
        return (_translate, self._transform_args(),
                ((self.height_lower, self.height_upper), (self.width_lower, self.width_upper)))


class RandomContrast(_RandomImageLayer):
    """Randomly adjust the contrast of each image during training.

    For each image a factor `c` is drawn and each channel becomes
    `(x - mean) * c + mean` (mean over height and width), clipped to `value_range`.

    Args:
        factor: `f` in [0, 1] draws `c` from `[1 - f, 1 + f]`; `(lo, hi)` draws from
            `[1 - lo, 1 + hi]`.
        value_range: `(low, high)` range of the pixel values, for clipping (default (0, 255)).
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape (float32).

    Raises:
        ValueError: if factor is outside [0, 1] or value_range is not a pair.

    Note:
        Keras 3.15's code turns a single `f` into the range `[1, 1 + f]` (it never lowers
        contrast), contradicting its own docstring; trine follows the documented
        `[1 - f, 1 + f]` (Keras 2's behaviour). The config stores `factor` as the pair
        `(f, f)`, which Keras 3 reads with the same meaning.

    Example:
        >>> layer = RandomContrast(0.2, value_range=(0, 1))
        >>> y = layer(np.random.rand(4, 28, 28, 3), training=True)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)

        def bad():
            return ValueError(
                f"RandomContrast layer '{self.name}' expected factor to be a number or a pair of "
                f"numbers in [0, 1], received factor={factor!r}.")

        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or any(isinstance(f, bool) or not isinstance(f, (int, float, np.number))
                                       for f in factor):
                raise bad()
            if factor[0] > 1 or factor[1] < 0:
                raise bad()
            self.factor = tuple(sorted(float(f) for f in factor))
        elif isinstance(factor, (int, float, np.number)) and not isinstance(factor, bool):
            if not 0 <= factor <= 1:
                raise bad()
            self.factor = (abs(float(factor)), abs(float(factor)))
        else:
            raise bad()
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(
                f"RandomContrast layer '{self.name}' expected value_range to be a pair "
                f"(low, high), received value_range={value_range!r}.")
        self.value_range = value_range

    def _augmentation(self):
        return (_contrast, (self.data_format,),
                (self.factor[0], self.factor[1], float(self.value_range[0]),
                 float(self.value_range[1])))

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "value_range": self.value_range, "seed": self.seed})
        return cfg
