"""Image operations of `keras.ops.image` beyond resize / grayscale / map_coordinates.

Reached as `trine.ops.image.<name>` (symbolic-aware there); the maths lives here so that
`trine.ops` stays one file of general array ops. Images are rank 3 (one image) or rank 4
(a batch), laid out by `data_format` ("channels_last" by default, see
`trine.config.set_image_data_format`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.config import standardize_data_format
from trine.ops.convolution import convolve

_ORDER = {"nearest": 0, "bilinear": 1}
_FILL = ("constant", "nearest", "wrap", "mirror", "reflect")
_SCALE_METHODS = ("linear", "bilinear", "trilinear", "cubic", "bicubic", "tricubic",
                  "lanczos3", "lanczos5")


def _check_rank(x, op, name="images", ranks=(3, 4)):
    if x.ndim not in ranks:
        what = " or ".join(str(r) for r in ranks)
        raise ValueError(f"image.{op}: expected `{name}` of rank {what} (one image or a batch), "
                         f"received shape {tuple(x.shape)}.")


def _check_choice(op, arg, value, allowed):
    if value not in allowed:
        raise ValueError(f"image.{op}: argument `{arg}` must be one of {sorted(allowed)}, "
                         f"received {arg}={value!r}.")


def _batched_last(x, df):
    """(images as NHWC, undo) so the maths is written once for channels_last batches."""
    single = x.ndim == 3
    if single:
        x = x[None]
    if df == "channels_first":
        x = jnp.transpose(x, (0, 2, 3, 1))

    def undo(y):
        if df == "channels_first":
            y = jnp.transpose(y, (0, 3, 1, 2))
        return y[0] if single else y
    return x, undo


def _images_and_height_axis(images, data_format, op):
    """`op`'s images, checked, and their height axis (the width axis follows it)."""
    df = standardize_data_format(data_format, f"image.{op}")
    x = jnp.asarray(images)
    _check_rank(x, op)
    return x, (x.ndim - 3 if df == "channels_last" else x.ndim - 2)


def _channels_last_batch(images, data_format, op):
    """`op`'s images, checked, as a channels-last batch, and the function that undoes that."""
    df = standardize_data_format(data_format, f"image.{op}")
    x = jnp.asarray(images)
    _check_rank(x, op)
    return _batched_last(x, df)


def _float_images(x, op):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise ValueError(f"image.{op}: expected float images, received dtype {x.dtype}. "
                         "Cast them first, e.g. ops.cast(images, 'float32') / 255.")
    return x


# --------------------------------------------------------------------------- colour spaces
def _colour_channels(images, data_format, op):
    """`op`'s checked float images, their channel axis, and their three channels."""
    df = standardize_data_format(data_format, f"image.{op}")
    x = _float_images(images, op)
    _check_rank(x, op)
    axis = -1 if df == "channels_last" else -3
    return x, axis, tuple(jnp.take(x, i, axis=axis) for i in range(3))


def rgb_to_hsv(images, data_format=None):
    """RGB float images to HSV, each channel in [0, 1] (hue as a fraction of a turn).

    Args:
        images: float images, rank 3 or 4, with 3 channels.
        data_format: "channels_last" / "channels_first"; None reads the global setting.

    Returns:
        The HSV images, same shape and dtype.

    Raises:
        ValueError: for a rank other than 3 or 4, or integer images.
    """
    x, axis, channels = _colour_channels(images, data_format, "rgb_to_hsv")
    eps = jnp.finfo(x.dtype).eps
    r, g, b = (jnp.where(jnp.abs(c) < eps, 0.0, c).astype(x.dtype) for c in channels)
    value = jnp.maximum(jnp.maximum(r, g), b)
    spread = value - jnp.minimum(jnp.minimum(r, g), b)
    # safe denominators: grey pixels (spread 0) and black ones (value 0) get hue/saturation 0
    sat = jnp.where(value > 0, spread / jnp.where(value > 0, value, 1.0), 0.0)
    inv = 1.0 / (6.0 * jnp.where(spread > 0, spread, 1.0))
    hue = jnp.where(value == g, inv * (b - r) + 2.0 / 6.0, inv * (r - g) + 4.0 / 6.0)
    hue = jnp.where(value == r, inv * (g - b), hue)
    hue = jnp.where(spread > 0, hue, 0.0) + (hue < 0.0).astype(hue.dtype)
    return jnp.stack([hue, sat, value], axis=axis).astype(x.dtype)


def hsv_to_rgb(images, data_format=None):
    """HSV float images (channels in [0, 1]) back to RGB.

    Args:
        images: float images, rank 3 or 4, with 3 channels (hue, saturation, value).
        data_format: "channels_last" / "channels_first"; None reads the global setting.

    Returns:
        The RGB images, same shape and dtype.

    Raises:
        ValueError: for a rank other than 3 or 4, or integer images.
    """
    x, axis, (h, s, v) = _colour_channels(images, data_format, "hsv_to_rgb")
    dh = jnp.mod(h, 1.0) * 6.0
    dr = jnp.clip(jnp.abs(dh - 3.0) - 1.0, 0.0, 1.0)
    dg = jnp.clip(2.0 - jnp.abs(dh - 2.0), 0.0, 1.0)
    db = jnp.clip(2.0 - jnp.abs(dh - 4.0), 0.0, 1.0)
    grey = 1.0 - s
    rgb = [v * (grey + s * d) for d in (dr, dg, db)]
    return jnp.stack(rgb, axis=axis).astype(x.dtype)


# ------------------------------------------------------------------------ crop and pad
def _fill_two_of_three(op, names, values, size):
    """Keras's rule: of (start, end, target) exactly two are given; returns (start, end)."""
    start, end, target = values
    given = [v is not None for v in values]
    if sum(given) != 2:
        raise ValueError(f"image.{op}: give exactly two of {', '.join(names)}; received "
                         + ", ".join(f"{n}={v}" for n, v in zip(names, values)) + ".")
    for n, v in zip(names, values):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))
                              or v < 0):
            raise ValueError(f"image.{op}: `{n}` must be an integer >= 0, received {n}={v!r}.")
    return start, end, target


def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None,
               right_padding=None, target_height=None, target_width=None, data_format=None):
    """Zero-pad images; per axis give two of (top, bottom, target_height), likewise width.

    Returns:
        The padded images.

    Raises:
        ValueError: when not exactly two of each triple are given, or a padding would be
            negative (the target is smaller than the image).
    """
    x, h_ax = _images_and_height_axis(images, data_format, "pad_images")
    pads = [(0, 0)] * x.ndim
    for ax, names, vals in (
            (h_ax, ("top_padding", "bottom_padding", "target_height"),
             (top_padding, bottom_padding, target_height)),
            (h_ax + 1, ("left_padding", "right_padding", "target_width"),
             (left_padding, right_padding, target_width))):
        a, b, t = _fill_two_of_three("pad_images", names, vals, x.shape[ax])
        a = t - b - x.shape[ax] if a is None else a
        b = t - a - x.shape[ax] if b is None else b
        for n, v in ((names[0], a), (names[1], b)):
            if v < 0:
                raise ValueError(f"image.pad_images: {n} must be >= 0, received {n}={v} (the "
                                 f"target {names[2]}={t} is smaller than the image's "
                                 f"{x.shape[ax]} plus the other padding).")
        pads[ax] = (int(a), int(b))
    return jnp.pad(x, pads)


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None,
                right_cropping=None, target_height=None, target_width=None, data_format=None):
    """Crop images; per axis give two of (top, bottom, target_height), likewise width.

    Returns:
        The cropped images.

    Raises:
        ValueError: when not exactly two of each triple are given, or the crop does not fit.
    """
    x, h_ax = _images_and_height_axis(images, data_format, "crop_images")
    for ax, names, vals in (
            (h_ax, ("top_cropping", "bottom_cropping", "target_height"),
             (top_cropping, bottom_cropping, target_height)),
            (h_ax + 1, ("left_cropping", "right_cropping", "target_width"),
             (left_cropping, right_cropping, target_width))):
        a, b, t = _fill_two_of_three("crop_images", names, vals, x.shape[ax])
        n = x.shape[ax]
        a = n - t - b if a is None else a
        t = n - b - a if t is None else t
        if a < 0 or t < 0 or a + t > n:
            raise ValueError(f"image.crop_images: a crop of {names[2]}={t} starting at "
                             f"{names[0]}={a} does not fit in the image's size {n} on that "
                             "axis; reduce the cropping or the target.")
        x = jax.lax.slice_in_dim(x, int(a), int(a + t), axis=ax)
    return x


# ------------------------------------------------------------------------------ patches
def _patches(op, x, size, rank, strides, dilation_rate, padding, data_format):
    from trine import ops
    df = standardize_data_format(data_format, f"image.{op}")
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size),) * rank
    if not isinstance(size, (tuple, list)) or len(size) != rank:
        raise ValueError(f"image.{op}: argument `size` must be an int or a tuple of {rank} "
                         f"ints, received size={size!r}.")
    _check_rank(x, op, "images" if rank == 2 else "volumes", (rank + 1, rank + 2))
    single = x.ndim == rank + 1
    if single:
        x = x[None]
    channels = x.shape[-1] if df == "channels_last" else x.shape[1]
    out_dim = int(np.prod(size)) * channels
    # an identity kernel: output feature k is the k-th entry of the flattened (spatial..., c) patch
    kernel = jnp.eye(out_dim, dtype=x.dtype).reshape(tuple(size) + (channels, out_dim))
    y = ops.conv(x, kernel, strides=strides or tuple(size), padding=padding, data_format=df,
                 dilation_rate=dilation_rate)
    return y[0] if single else y


def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid",
                    data_format=None):
    """Patches of `size` from images, each flattened into the channel axis.

    Args:
        images: rank 3 or 4 images (a 3-tuple `size` extracts 3-D patches from volumes).
        size: patch size, an int or (height, width).
        strides: step between patches; None means `size` (non-overlapping).
        dilation_rate: spacing of the pixels inside a patch.
        padding: "valid" or "same".
        data_format: "channels_last" / "channels_first"; None reads the global setting.

    Returns:
        (batch, out_h, out_w, size_h * size_w * channels) for channels_last.

    Raises:
        ValueError: for a bad `size`, rank or padding.
    """
    if isinstance(size, (tuple, list)) and len(size) == 3:
        return extract_patches_3d(images, size, strides, dilation_rate, padding, data_format)
    if not isinstance(size, (int, np.integer, tuple, list)):
        raise TypeError(f"image.extract_patches: argument `size` must be an int or a tuple, "
                        f"received size={size!r} of type {type(size).__name__}.")
    return _patches("extract_patches", jnp.asarray(images), size, 2, strides, dilation_rate,
                    padding, data_format)


def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid",
                       data_format=None):
    """Patches of `size` (depth, height, width) from volumes (rank 4 or 5), flattened into
    the channel axis; `strides=None` means `size`.

    Raises:
        ValueError: for a bad `size`, rank or padding.
    """
    return _patches("extract_patches_3d", jnp.asarray(volumes), size, 3, strides,
                    dilation_rate, padding, data_format)


# ------------------------------------------------------------------- geometric transforms
def _sample(image, rows, cols, order, fill_mode, fill_value):
    """One HWC image sampled at float (rows, cols) grids, channel by channel."""
    def one(channel):
        return jax.scipy.ndimage.map_coordinates(channel, [rows, cols], order=order,
                                                 mode=fill_mode, cval=fill_value)
    return jnp.moveaxis(jax.vmap(one)(jnp.moveaxis(image, -1, 0)), 0, -1)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):
    """Apply projective transforms `[a0, a1, a2, b0, b1, b2, c0, c1]` to images.

    Each output pixel (x, y) takes the input at ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)
    with k = c0 x + c1 y + 1 (TensorFlow's and Keras's convention).

    Args:
        images: rank 3 or 4 images.
        transform: shape (8,) or (batch, 8).
        interpolation: "nearest" or "bilinear".
        fill_mode: "constant", "nearest", "wrap", "mirror" or "reflect".
        fill_value: the value outside the image when `fill_mode="constant"`.
        data_format: "channels_last" / "channels_first"; None reads the global setting.

    Returns:
        The transformed images, same shape.

    Raises:
        ValueError: for a bad interpolation, fill mode, or rank of images or transform.
    """
    df = standardize_data_format(data_format, "image.affine_transform")
    _check_choice("affine_transform", "interpolation", interpolation, _ORDER)
    _check_choice("affine_transform", "fill_mode", fill_mode, _FILL)
    x, t = jnp.asarray(images), jnp.asarray(transform)
    _check_rank(x, "affine_transform")
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError("image.affine_transform: expected `transform` of shape (8,) or "
                         f"(batch, 8), received {tuple(t.shape)}.")
    x, undo = _batched_last(x, df)
    t = jnp.broadcast_to(t.reshape(-1, 8), (x.shape[0], 8)).astype(
        jnp.result_type(t.dtype, jnp.float32))
    return undo(_projective_warp(x, t, _ORDER[interpolation], fill_mode, fill_value))


def _projective_warp(x, coeffs, order, fill_mode, fill_value):
    """Resample each image of the NHWC batch `x` through its 8 coefficients `m`: output
    pixel (col, row) reads the input at `((m0 col + m1 row + m2) / k, (m3 col + m4 row + m5)
    / k)`, `k = m6 col + m7 row + 1` (Keras's transform convention)."""
    yy, xx = jnp.meshgrid(jnp.arange(x.shape[1], dtype=coeffs.dtype),
                          jnp.arange(x.shape[2], dtype=coeffs.dtype), indexing="ij")

    def one(image, m):
        k = m[6] * xx + m[7] * yy + 1.0
        cols = (m[0] * xx + m[1] * yy + m[2]) / k
        rows = (m[3] * xx + m[4] * yy + m[5]) / k
        return _sample(image, rows, cols, order, fill_mode, fill_value)
    return jax.vmap(one)(x, coeffs)


def _homography(start, end):
    """The 8 coefficients mapping `end` corners to `start` corners (a solve per batch item)."""
    sx, sy, ex, ey = start[..., 0], start[..., 1], end[..., 0], end[..., 1]
    zero, one = jnp.zeros_like(ex), jnp.ones_like(ex)
    rows_x = jnp.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)
    rows_y = jnp.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
    a = jnp.concatenate([rows_x, rows_y], axis=-2)
    b = jnp.concatenate([sx, sy], axis=-1)[..., None]
    return jnp.linalg.solve(a, b)[..., 0]


def perspective_transform(images, start_points, end_points, interpolation="bilinear",
                          fill_value=0, data_format=None):
    """Warp images so that the 4 `start_points` (x, y) land on the 4 `end_points`.

    Args:
        images: rank 3 or 4 images.
        start_points, end_points: shape (4, 2) or (batch, 4, 2), corners as (x, y).
        interpolation: "nearest" or "bilinear".
        fill_value: the value outside the source image.
        data_format: "channels_last" / "channels_first"; None reads the global setting.

    Returns:
        The warped images, same shape.

    Raises:
        ValueError: for a bad interpolation, rank, or point shapes.
    """
    df = standardize_data_format(data_format, "image.perspective_transform")
    _check_choice("perspective_transform", "interpolation", interpolation, _ORDER)
    x = jnp.asarray(images)
    _check_rank(x, "perspective_transform")
    s = jnp.asarray(start_points, jnp.float32)
    e = jnp.asarray(end_points, jnp.float32)
    for name, p in (("start_points", s), ("end_points", e)):
        if p.ndim not in (2, 3) or p.shape[-2:] != (4, 2):
            raise ValueError(f"image.perspective_transform: expected `{name}` of shape (4, 2) "
                             f"or (batch, 4, 2), received {tuple(p.shape)}.")
    if s.shape != e.shape:
        raise ValueError("image.perspective_transform: start_points and end_points must have "
                         f"the same shape, received {tuple(s.shape)} and {tuple(e.shape)}.")
    x, undo = _batched_last(x, df)
    m = jnp.broadcast_to(_homography(s.reshape(-1, 4, 2), e.reshape(-1, 4, 2)),
                         (x.shape[0], 8))
    return undo(_projective_warp(x, m, _ORDER[interpolation], "constant", fill_value))


def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method,
                        antialias=True):
    """Resample `images` to `output_shape`, scaling and translating `spatial_dims`
    (`jax.image.scale_and_translate`).

    Raises:
        ValueError: for an unknown `method`.
    """
    _check_choice("scale_and_translate", "method", method, _SCALE_METHODS)
    return jax.image.scale_and_translate(
        jnp.asarray(images), tuple(int(d) for d in output_shape), tuple(spatial_dims),
        jnp.asarray(scale), jnp.asarray(translation), method, antialias)


# ------------------------------------------------------------------------------ filters
def _depthwise_same(x, kernel2d):
    """Each channel of NHWC `x` convolved with one (kh, kw) kernel, zero "same" padding."""
    c = x.shape[-1]
    k = jnp.tile(kernel2d[:, :, None, None], (1, 1, 1, c)).astype(x.dtype)
    return convolve(x, k, (1, 1), "same", (1, 1), "channels_last", groups=c)


def _gauss1d(size, sigma, dtype):
    t = jnp.arange(size, dtype=dtype) - (size - 1) / 2
    k = jnp.exp(-0.5 * (t / sigma) ** 2)
    return k / jnp.sum(k)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Blur images with a Gaussian kernel (zero "same" padding).

    Args:
        images: rank 3 or 4 float images.
        kernel_size: (size along width, size along height), as Keras orders them.
        sigma: (sigma along width, sigma along height).
        data_format: "channels_last" / "channels_first"; None reads the global setting.

    Returns:
        The blurred images, same shape.

    Raises:
        ValueError: for a rank other than 3 or 4.
    """
    x, undo = _channels_last_batch(images, data_format, "gaussian_blur")
    ks = (kernel_size, kernel_size) if np.isscalar(kernel_size) else tuple(kernel_size)
    sg = jnp.broadcast_to(jnp.asarray(sigma, x.dtype), (2,))
    kernel = jnp.outer(_gauss1d(int(ks[1]), sg[1], x.dtype), _gauss1d(int(ks[0]), sg[0], x.dtype))
    return undo(_depthwise_same(x, kernel))


def sobel_edges(images, data_format=None):
    """Sobel gradients of each channel: the last axis holds (d/dy, d/dx).

    Returns:
        The images' shape plus a trailing axis of 2.

    Raises:
        ValueError: for a rank other than 3 or 4.
    """
    x, undo = _channels_last_batch(images, data_format, "sobel_edges")
    kx = jnp.asarray([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], x.dtype)
    return jnp.stack([undo(_depthwise_same(x, kx.T)), undo(_depthwise_same(x, kx))], axis=-1)


def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear",
                      fill_mode="reflect", fill_value=0.0, seed=None, data_format=None):
    """Randomly distort images with a smooth displacement field (Simard et al., 2003).

    A normal field drawn from `seed` and blurred by a Gaussian of `sigma` moves each pixel by
    `alpha` times the field; as in Keras, the same draw serves both axes.

    Args:
        images: rank 3 or 4 float images.
        alpha: displacement scale.
        sigma: smoothness of the field (blur kernel size `int(6 * sigma) | 1`).
        interpolation: "nearest" or "bilinear".
        fill_mode: "constant", "nearest", "wrap", "mirror" or "reflect".
        fill_value: the value outside the image when `fill_mode="constant"`.
        seed: an int, a `trine.random.SeedGenerator`, a key, or None.
        data_format: "channels_last" / "channels_first"; None reads the global setting.

    Returns:
        The distorted images, same shape and dtype.

    Raises:
        ValueError: for a bad interpolation, fill mode or rank.
    """
    from trine import random as _random
    df = standardize_data_format(data_format, "image.elastic_transform")
    _check_choice("elastic_transform", "interpolation", interpolation, _ORDER)
    _check_choice("elastic_transform", "fill_mode", fill_mode, _FILL)
    x = jnp.asarray(images)
    _check_rank(x, "elastic_transform")
    x, undo = _batched_last(x, df)
    n, h, w, _ = x.shape
    size = int(6 * float(sigma)) | 1
    field = _random.normal((n, h, w), dtype=x.dtype, seed=seed) * jnp.asarray(sigma, x.dtype)
    field = _depthwise_same(field[..., None], jnp.outer(_gauss1d(size, sigma, x.dtype),
                                                        _gauss1d(size, sigma, x.dtype)))[..., 0]
    yy, xx = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
    rows = yy[None] + alpha * field
    cols = xx[None] + alpha * field

    def one(image, r, c):
        return _sample(image, r, c, _ORDER[interpolation], fill_mode, fill_value)
    return undo(jax.vmap(one)(x, rows, cols).astype(x.dtype))


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
         data_format=None):
    """Structural similarity of two images (a Gaussian-windowed SSIM, "valid" windows),
    averaged over pixels and channels.

    Returns:
        One value per image: shape (batch,) for batches, a scalar for one image.

    Raises:
        ValueError: for a rank other than 3 or 4.
    """
    df = standardize_data_format(data_format, "image.ssim")
    a, b = jnp.asarray(image1), jnp.asarray(image2)
    _check_rank(a, "ssim", "image1")
    _check_rank(b, "ssim", "image2")
    out_dtype = a.dtype
    dt = jnp.result_type(a.dtype, jnp.float32) if not jnp.issubdtype(
        a.dtype, jnp.floating) else a.dtype
    a, _ = _batched_last(a.astype(dt), df)
    b, _ = _batched_last(b.astype(dt), df)
    g = _gauss1d(filter_size, jnp.asarray(filter_sigma, dt), dt)
    kernel = jnp.outer(g, g)

    def blur(t):  # per-channel Gaussian means over "valid" windows
        c = t.shape[-1]
        k = jnp.tile(kernel[:, :, None, None], (1, 1, 1, c))
        return convolve(t, k, (1, 1), "valid", (1, 1), "channels_last", groups=c)
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mu1, mu2 = blur(a), blur(b)
    s11 = blur(a * a) - mu1 * mu1
    s22 = blur(b * b) - mu2 * mu2
    s12 = blur(a * b) - mu1 * mu2
    smap = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (s11 + s22 + c2))
    per_image = jnp.mean(smap, axis=(1, 2, 3))
    if jnp.asarray(image1).ndim == 3:
        per_image = per_image[0]
    return per_image.astype(out_dtype)
