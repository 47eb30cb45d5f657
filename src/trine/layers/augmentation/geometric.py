"""Geometric augmentations: RandomShear, RandomPerspective, RandomErasing (Keras 3's
semantics; one random draw per image)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine import ops_image
from trine.layers.augmentation._base import check_value_range
from trine.layers.augmentation._two_phase import TwoPhaseLayer, keras_factor

__all__ = ["RandomErasing", "RandomPerspective", "RandomShear"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _check_choice(layer, arg, value, allowed):
    if value not in allowed:
        raise NotImplementedError(
            f"{type(layer).__name__} layer '{layer.name}': unknown {arg}={value!r}. Expected "
            f"one of {list(allowed)}.")


def _probability_flags(key, n, factor):
    k1, k2 = jax.random.split(key)
    p = jax.random.uniform(k1, (n,), minval=factor[0], maxval=factor[1])
    return jax.random.uniform(k2, (n,)) < p


class RandomShear(TwoPhaseLayer):
    """Shear each image along x and y by random amounts during training.

    Each image draws `sx` from `x_factor`, `sy` from `y_factor` and one random sign for both;
    output pixel (x, y) samples the input at (x + sx * y, sy * x + y).

    Args:
        x_factor, y_factor: a number `f` in [0, 1] (the range `(-f, f)`) or a pair in [0, 1].
        interpolation: "bilinear" (default) or "nearest".
        fill_mode: "reflect" (default), "wrap", "constant" or "nearest".
        fill_value: the value outside the image with `fill_mode="constant"`.
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad factor. NotImplementedError: for an unknown fill_mode or
            interpolation (as Keras).

    Example:
        >>> y = RandomShear(0.2, 0.2, seed=0)(np.random.rand(2, 8, 8, 3), training=True)
    """

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.x_factor = self._factor(x_factor, "x_factor")
        self.y_factor = self._factor(y_factor, "y_factor")
        _check_choice(self, "fill_mode", fill_mode, _FILL_MODES)
        _check_choice(self, "interpolation", interpolation, _INTERPOLATIONS)
        self.fill_mode, self.fill_value, self.interpolation = fill_mode, fill_value, interpolation

    def _factor(self, f, arg):
        # a pair may be negative: it is what get_config stores for a number (Keras's own
        # check refuses that, so Keras cannot reload its RandomShear configs; trine can)
        pair = isinstance(f, (tuple, list))
        vals = f if pair else (f,)
        low = -1.0 if pair else 0.0
        if (pair and len(f) != 2) or any(
                isinstance(v, bool) or not isinstance(v, (int, float, np.number))
                or not low <= v <= 1 for v in vals):
            raise ValueError(
                f"RandomShear layer '{self.name}' expected {arg} to be a number in [0, 1] or a "
                f"pair in [-1, 1], received {arg}={f!r}.")
        if isinstance(f, (tuple, list)):
            return tuple(sorted(float(v) for v in f))
        return -abs(float(f)), abs(float(f))

    def _draw(self, key, x):
        n = x.shape[0]
        k1, k2, k3 = jax.random.split(key, 3)
        sign = jnp.where(jax.random.uniform(k1, (n, 1)) > 0.5, -1.0, 1.0)
        sy = jax.random.uniform(k2, (n, 1), minval=self.y_factor[0], maxval=self.y_factor[1])
        sx = jax.random.uniform(k3, (n, 1), minval=self.x_factor[0], maxval=self.x_factor[1])
        return {"shear_factor": jnp.concatenate([sx, sy], axis=1) * sign}

    def _apply(self, x, t):
        s = t["shear_factor"].astype(jnp.float32)
        one, zero = jnp.ones_like(s[:, 0]), jnp.zeros_like(s[:, 0])
        m = jnp.stack([one, s[:, 0], zero, s[:, 1], one, zero, zero, zero], axis=1)
        return ops_image.affine_transform(x, m, self.interpolation, self.fill_mode,
                                          self.fill_value, "channels_last").astype(x.dtype)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"x_factor": self.x_factor, "y_factor": self.y_factor,
                    "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                    "fill_value": self.fill_value})
        return cfg


class RandomPerspective(TwoPhaseLayer):
    """Warp each image by a random perspective, with a probability drawn from `factor`.

    Corners (x, y) move to `(x, y) * (1 + d)` with `d` uniform in `[-scale/2, scale/2]` per
    coordinate (so, as in Keras, the top-left corner stays put).

    Args:
        factor: a number `f` in [0, 1] (the range `(0, f)`) or a pair: the probability.
        scale: the distortion size in [0, 1] (default 1.0).
        interpolation: "bilinear" (default) or "nearest".
        fill_value: the value outside the source image.
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad factor or scale. NotImplementedError: unknown interpolation.
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0,
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= 1:
            raise ValueError(f"RandomPerspective layer '{self.name}' expected scale to be a "
                             f"number in [0, 1], received scale={scale!r}.")
        _check_choice(self, "interpolation", interpolation, _INTERPOLATIONS)
        self.scale, self.interpolation, self.fill_value = scale, interpolation, fill_value

    def _draw(self, key, x):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        k1, k2 = jax.random.split(key)
        d = jax.random.uniform(k2, (n, 4, 2), minval=-0.5 * self.scale, maxval=0.5 * self.scale)
        start = jnp.broadcast_to(jnp.asarray(
            [[0.0, 0.0], [w - 1, 0.0], [0.0, h - 1], [w - 1, h - 1]], jnp.float32), (n, 4, 2))
        return {"apply_perspective": _probability_flags(k1, n, self.factor),
                "start_points": start, "end_points": start + start * d}

    def _apply(self, x, t):
        y = ops_image.perspective_transform(x, t["start_points"], t["end_points"],
                                            self.interpolation, self.fill_value, "channels_last")
        return jnp.where(t["apply_perspective"][:, None, None, None], y.astype(x.dtype), x)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "scale": self.scale,
                    "interpolation": self.interpolation, "fill_value": self.fill_value})
        return cfg


class RandomErasing(TwoPhaseLayer):
    """Erase a random rectangle of each image, with a probability drawn from `factor`.

    Each image draws the rectangle's width and height as `sqrt(u) * size`, `u` uniform in
    `scale`, at a uniform position; its pixels become `fill_value` (None: Gaussian noise times
    `value_range[1]`), clipped to `value_range`.

    Args:
        factor: a number `f` in [0, 1] (the range `(0, f)`) or a pair: the probability.
        scale: a number or pair in [0, 1]: the fraction of each side (squared) erased.
        fill_value: None, a number, or 3 numbers (one per channel).
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad factor, scale, fill_value or value_range.
    """

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255),
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        self.scale = keras_factor(self, scale, (0.0, 1.0), arg="scale")
        if fill_value is not None and not (
                (isinstance(fill_value, (int, float)) and not isinstance(fill_value, bool)) or
                (isinstance(fill_value, (tuple, list)) and len(fill_value) == 3)):
            raise ValueError(
                f"RandomErasing layer '{self.name}' expected fill_value to be None, a number or "
                f"a list of three numbers, received fill_value={fill_value!r}.")
        self.fill_value = fill_value
        self.value_range = tuple(check_value_range(self, value_range))

    def _draw(self, key, x):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        ks = jax.random.split(key, 5)
        ratio = jnp.sqrt(jax.random.uniform(ks[0], (n, 2), minval=self.scale[0],
                                            maxval=self.scale[1]))

        def bounds(k, length, r):
            size = r * length
            start = jax.random.uniform(k, (n,)) * (length - size)
            return start, start + size
        x0, x1 = bounds(ks[1], w, ratio[:, 0])
        y0, y1 = bounds(ks[2], h, ratio[:, 1])
        gy, gx = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32),
                              indexing="ij")
        inside = ((gx[None] >= x0[:, None, None]) & (gx[None] < x1[:, None, None]) &
                  (gy[None] >= y0[:, None, None]) & (gy[None] < y1[:, None, None]))
        if self.fill_value is None:
            fill = jax.random.normal(ks[4], x.shape, x.dtype) * self.value_range[1]
        else:
            fill = jnp.broadcast_to(jnp.asarray(self.fill_value, x.dtype), x.shape)
        return {"apply_erasing": _probability_flags(ks[3], n, self.factor),
                "batch_masks": inside[..., None],
                "fill_value": jnp.clip(fill, self.value_range[0], self.value_range[1])}

    def _apply(self, x, t):
        erased = jnp.where(t["batch_masks"], t["fill_value"].astype(x.dtype), x)
        return jnp.where(t["apply_erasing"][:, None, None, None], erased, x)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "scale": self.scale, "fill_value": self.fill_value,
                    "value_range": self.value_range})
        return cfg
