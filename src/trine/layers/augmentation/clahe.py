"""ContrastLimitedAdaptiveHistogramEqualization (CLAHE): per-tile histogram equalization with
clipped histograms, blended bilinearly between neighbouring tiles."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine.layers.augmentation._base import AugmentationLayer, check_value_range, to_range

__all__ = ["ContrastLimitedAdaptiveHistogramEqualization"]


def _tile_luts(tiles, clip_limit, tile_pixels):
    """Clipped, redistributed histogram -> equalization table per tile: `(..., 256)`."""
    levels = jnp.clip(tiles.astype(jnp.int32), 0, 255)
    hist = jnp.sum(levels[..., None] == jnp.arange(256), axis=-2).astype(jnp.float32)
    if clip_limit > 0:
        limit = jnp.float32(clip_limit * tile_pixels / 256.0)
        clipped = jnp.clip(hist, 0, limit)
        # what the clip removed is spread evenly over all 256 levels
        hist = clipped + jnp.sum(hist - clipped, axis=-1, keepdims=True) / 256.0
    cdf = jnp.cumsum(hist, axis=-1)
    cdf_min = jnp.min(cdf, axis=-1, keepdims=True)
    denom = jnp.float32(tile_pixels) - cdf_min
    denom = jnp.where(denom == 0, jnp.ones_like(denom), denom)
    return jnp.clip((cdf - cdf_min) * 255.0 / denom, 0, 255)


def clahe(images, clip_limit, grid):
    """CLAHE of channels-last float images on the 0-255 scale, `(batch, h, w, c)`."""
    batch, height, width, channels = images.shape
    gh, gw = grid
    th, tw = -(-height // gh), -(-width // gw)
    ph, pw = th * gh - height, tw * gw - width
    x = images
    if ph or pw:  # tiles cover the image exactly after mirror padding of the far edges
        x = jnp.pad(x, [(0, 0), (0, ph), (0, pw), (0, 0)], mode="symmetric")
    tiles = x.reshape(batch, gh, th, gw, tw, channels).transpose(0, 1, 3, 5, 2, 4)
    luts = _tile_luts(tiles.reshape(batch, gh, gw, channels, th * tw), clip_limit, th * tw)
    # one extra tile of each edge's table on every side, so border pixels blend with themselves
    luts = jnp.pad(luts, [(0, 0), (1, 1), (1, 1), (0, 0), (0, 0)], mode="edge")
    ys = (jnp.arange(th * gh, dtype=jnp.float32) - th / 2.0) / th + 1.0
    xs = (jnp.arange(tw * gw, dtype=jnp.float32) - tw / 2.0) / tw + 1.0
    y0, x0 = jnp.floor(ys), jnp.floor(xs)
    wy, wx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    y0i, y1i = (jnp.clip(v, 0, gh + 1).astype(jnp.int32) for v in (y0, y0 + 1))
    x0i, x1i = (jnp.clip(v, 0, gw + 1).astype(jnp.int32) for v in (x0, x0 + 1))
    level = jnp.clip(x, 0, 255).astype(jnp.int32)
    b = jnp.arange(batch)[:, None, None, None]
    c = jnp.arange(channels)[None, None, None, :]

    def look(yi, xi):
        return luts[b, yi[None, :, None, None], xi[None, None, :, None], c, level]

    top = look(y0i, x0i) * (1.0 - wx) + look(y0i, x1i) * wx
    bottom = look(y1i, x0i) * (1.0 - wx) + look(y1i, x1i) * wx
    out = top * (1.0 - wy) + bottom * wy
    return out[:, :height, :width, :]


class ContrastLimitedAdaptiveHistogramEqualization(AugmentationLayer):
    """Contrast Limited Adaptive Histogram Equalization, in training and inference (Keras).

    The image is cut into `tile_grid_size` tiles; each tile's 256-level histogram is clipped at
    `clip_limit * tile_pixels / 256` (the excess spread evenly), turned into an equalization
    table, and every pixel blends the tables of its four nearest tiles bilinearly.

    Args:
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        clip_limit: contrast limit; 0 or less disables clipping (plain adaptive HE).
        tile_grid_size: `(rows, cols)` of tiles (default (8, 8)).
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape and dtype.

    Raises:
        ValueError: for a bad value_range, clip_limit or tile_grid_size.

    Example:
        >>> y = ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2))(
        ...     np.random.rand(1, 8, 8, 3) * 255)
    """

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8),
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        label = f"ContrastLimitedAdaptiveHistogramEqualization layer '{self.name}'"
        if isinstance(clip_limit, bool) or not isinstance(clip_limit, (int, float, np.number)):
            raise ValueError(f"{label} expected clip_limit to be a number, received "
                             f"clip_limit={clip_limit!r}.")
        if not (isinstance(tile_grid_size, (tuple, list)) and len(tile_grid_size) == 2 and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                for v in tile_grid_size)):
            raise ValueError(f"{label} expected tile_grid_size to be a pair of positive "
                             f"integers, received tile_grid_size={tile_grid_size!r}.")
        self.value_range = check_value_range(self, value_range)
        self.clip_limit = clip_limit
        self.tile_grid_size = tuple(int(v) for v in tile_grid_size)

    def _equalize(self, x, key=None):
        dtype = x.dtype
        y = to_range(x.astype(jnp.float32), self.value_range, (0, 255))
        y = clahe(y, float(self.clip_limit), self.tile_grid_size)
        return to_range(y, (0, 255), self.value_range).astype(dtype)

    def _augment(self, x, key):
        return self._equalize(x)

    def _inference(self, x):
        return self._equalize(x)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("seed")
        cfg.update({"value_range": self.value_range, "clip_limit": self.clip_limit,
                    "tile_grid_size": self.tile_grid_size})
        return cfg
