"""Image files as NumPy arrays and back (`keras.utils.load_img` and friends), with Pillow."""
from __future__ import annotations

import io
import os
import pathlib
import warnings
from typing import Optional, Tuple

import numpy as np

from trine.config import floatx, standardize_data_format

__all__ = ["array_to_img", "img_to_array", "load_img", "save_img"]

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("Image utilities need Pillow: `pip install pillow`.") from None
    return Image


def load_img(path, color_mode: str = "rgb", target_size: Optional[Tuple[int, int]] = None,
             interpolation: str = "nearest", keep_aspect_ratio: bool = False):
    """Load an image file as a PIL Image.

    Args:
        path: a path (str, bytes, pathlib.Path) or an `io.BytesIO`.
        color_mode: "grayscale", "rgb" or "rgba".
        target_size: `(height, width)` to resize to, or None to keep the size.
        interpolation: Pillow resampling filter: "nearest", "bilinear", "bicubic",
            "hamming", "box" or "lanczos".
        keep_aspect_ratio: crop the centre to the target aspect ratio before resizing.

    Returns:
        A `PIL.Image.Image`.

    Raises:
        TypeError: for a `path` of another type. ValueError: for a bad `color_mode` or
        `interpolation`, or a file that is not a readable image (naming the file).
    """
    Image = _pil()
    if isinstance(path, io.BytesIO):
        source, name = path, "<BytesIO>"
    elif isinstance(path, (str, bytes, pathlib.Path, os.PathLike)):
        name = os.fsdecode(path)
        with open(path, "rb") as f:
            source = io.BytesIO(f.read())
    else:
        raise TypeError(f"load_img: path must be a path or io.BytesIO, received "
                        f"{type(path).__name__}.")
    try:
        img = Image.open(source)
        img.load()
    except Exception as e:  # noqa: BLE001 - Pillow raises several types for bad files
        raise ValueError(f"load_img: {name!r} is not a readable image ({e}).") from e
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode in ("rgb", "rgba"):
        if img.mode != color_mode.upper():
            img = img.convert(color_mode.upper())
    else:
        raise ValueError(f"load_img: color_mode must be 'grayscale', 'rgb' or 'rgba', received "
                         f"{color_mode!r}.")
    if target_size is not None:
        wh = (int(target_size[1]), int(target_size[0]))
        if img.size != wh:
            if interpolation not in _INTERPOLATIONS:
                raise ValueError(f"load_img: interpolation must be one of {_INTERPOLATIONS}, "
                                 f"received {interpolation!r}.")
            resample = getattr(Image.Resampling, interpolation.upper())
            if keep_aspect_ratio:
                width, height = img.size
                crop_h = min(height, (width * wh[1]) // wh[0])
                crop_w = min(width, (height * wh[0]) // wh[1])
                top, left = (height - crop_h) // 2, (width - crop_w) // 2
                img = img.resize(wh, resample, box=(left, top, left + crop_w, top + crop_h))
            else:
                img = img.resize(wh, resample)
    return img


def img_to_array(img, data_format: Optional[str] = None, dtype: Optional[str] = None):
    """A PIL Image as a 3-D array (height, width, channels) of `dtype` (default floatx).

    Raises:
        ValueError: for an image that is not 2-D or 3-D.
    """
    data_format = standardize_data_format(data_format)
    x = np.asarray(img, dtype=dtype or floatx())
    if x.ndim == 2:
        x = x[..., None]
    elif x.ndim != 3:
        raise ValueError(f"img_to_array: expected a 2-D or 3-D image, received shape {x.shape}.")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x


def array_to_img(x, data_format: Optional[str] = None, scale: bool = True,
                 dtype: Optional[str] = None):
    """A 3-D array as a PIL Image; with `scale`, values are stretched to [0, 255] first.

    Raises:
        ValueError: for an array that is not 3-D or has a channel count other than 1, 3, 4.
    """
    Image = _pil()
    data_format = standardize_data_format(data_format)
    x = np.asarray(x, dtype=dtype or floatx())
    if x.ndim != 3:
        raise ValueError(f"array_to_img: expected one image of rank 3, received shape "
                         f"{x.shape}.")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255
    channels = x.shape[2]
    if channels in (3, 4):
        return Image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:  # more than 8 bits: a 32-bit integer grayscale image
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"array_to_img: unsupported channel count {channels} (shape {x.shape}); "
                     "expected 1, 3 or 4.")


def save_img(path, x, data_format: Optional[str] = None, file_format: Optional[str] = None,
             scale: bool = True, **kwargs) -> None:
    """Save a 3-D array as an image file (format from `file_format` or the file name).

    Raises:
        ValueError: as `array_to_img`.
    """
    img = array_to_img(x, data_format=data_format, scale=scale)
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = os.path.splitext(os.fspath(path))[1][1:] or None
    if file_format is not None:
        file_format = file_format.lower()
        if file_format == "jpg":
            file_format = "jpeg"
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("JPEG has no alpha channel: the RGBA image is saved as RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)
