"""Colour augmentations: RandomBrightness, RandomColorDegeneration, RandomGrayscale, RandomInvert, Solarization,
RandomPosterization, AutoContrast (Keras 3's semantics; randomness per image)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.layers.augmentation._base import AugmentationLayer, check_value_range, to_range
from trine.layers.preprocessing._factor_range import check_factor

__all__ = ["RandomColorDegeneration", "RandomBrightness", "RandomGrayscale", "RandomInvert", "Solarization",
           "RandomPosterization", "AutoContrast"]

_GRAY = (0.2989, 0.5870, 0.1140)  # ITU-R 601 luma weights, as Keras's rgb_to_grayscale


def _per_image(x):
    return (x.shape[0], 1, 1, 1)


class RandomBrightness(AugmentationLayer):
    """Randomly add a brightness delta to each image during training.

    Args:
        factor: a number `f` in [0, 1] draws the delta from `[-f, f]`, a pair `(lo, hi)` in
            [-1, 1] from `[lo, hi]`; the delta is a fraction of the value range.
        value_range: `(low, high)` of the pixel values (default (0, 255)); outputs are
            clipped to it.
        seed: optional integer seed.

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a factor outside [-1, 1] or a bad value_range.

    Example:
        >>> y = RandomBrightness(0.2, seed=1)(np.random.rand(4, 8, 8, 3) * 255, training=True)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = check_factor(self, factor)
        self.value_range = check_value_range(self, value_range)

    def _augment(self, x, key):
        lo, hi = self.value_range
        delta = jax.random.uniform(key, _per_image(x), minval=self.factor[0],
                                   maxval=self.factor[1]) * (hi - lo)
        return jnp.clip(x + delta.astype(x.dtype), lo, hi)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "value_range": self.value_range})
        return cfg


class RandomGrayscale(AugmentationLayer):
    """Turn each image to grayscale (kept with its channel count) with probability `factor`.

    Args:
        factor: the probability in [0, 1] (default 0.5).
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a factor outside [0, 1] or images without 1 or 3 channels.
    """

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 <= factor <= 1:
            raise ValueError(
                f"RandomGrayscale layer '{self.name}' expected factor to be a probability in "
                f"[0, 1], received factor={factor!r}.")
        self.factor = factor

    def _augment(self, x, key):
        if x.shape[-1] not in (1, 3):
            raise ValueError(
                f"RandomGrayscale layer '{self.name}' expected 1 or 3 channels, received "
                f"images with {x.shape[-1]} channels.")
        gray = (x if x.shape[-1] == 1 else
                jnp.sum(x * jnp.asarray(_GRAY, x.dtype), axis=-1, keepdims=True))
        gray = jnp.broadcast_to(gray, x.shape)
        apply = jax.random.uniform(key, _per_image(x)) < self.factor
        return jnp.where(apply, gray, x)

    def get_config(self):
        cfg = super().get_config()
        cfg["factor"] = self.factor
        return cfg


class RandomInvert(AugmentationLayer):
    """Invert each image (`high - x`) with a probability drawn from `factor`.

    Args:
        factor: a number `f` in [0, 1] (the range `(0, f)`) or a pair; each image draws a
            probability from the range and is inverted if a uniform draw falls below it.
            Default 1.0 (always inverted).
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a factor outside [0, 1] or a bad value_range.
    """

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(self, factor, bounds=(0.0, 1.0))
        self.value_range = check_value_range(self, value_range)

    def _augment(self, x, key):
        k1, k2 = jax.random.split(key)
        p = jax.random.uniform(k1, _per_image(x), minval=self.factor[0], maxval=self.factor[1])
        apply = jax.random.uniform(k2, _per_image(x)) < p
        return jnp.where(apply, self.value_range[1] - x, x)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "value_range": self.value_range})
        return cfg


class Solarization(AugmentationLayer):
    """Invert the pixels above a random threshold, after adding a random amount.

    On the 0-255 scale, each image draws `addition` from `addition_factor * 255` and
    `threshold` from `threshold_factor * 255`; `y = clip(x + addition, 0, 255)` and pixels
    with `y >= threshold` become `255 - y`.

    Args:
        addition_factor: a number `f` in [0, 1] (range `(0, f)`) or a pair (default 0).
        threshold_factor: same for the threshold (default 0).
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        seed: optional integer seed.

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for factors outside [0, 1] or a bad value_range.
    """

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255),
                 seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.addition_factor = check_factor(self, addition_factor, (0.0, 1.0),
                                            "addition_factor", zero_low=True)
        self.threshold_factor = check_factor(self, threshold_factor, (0.0, 1.0),
                                             "threshold_factor", zero_low=True)
        self.value_range = check_value_range(self, value_range)

    def _augment(self, x, key):
        k1, k2 = jax.random.split(key)
        add = jax.random.uniform(k1, _per_image(x), minval=self.addition_factor[0] * 255,
                                 maxval=self.addition_factor[1] * 255).astype(x.dtype)
        thr = jax.random.uniform(k2, _per_image(x), minval=self.threshold_factor[0] * 255,
                                 maxval=self.threshold_factor[1] * 255).astype(x.dtype)
        y = jnp.clip(to_range(x, self.value_range, (0, 255)) + add, 0, 255)
        y = jnp.where(y < thr, y, 255 - y)
        return to_range(y, (0, 255), self.value_range)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"addition_factor": self.addition_factor,
                    "threshold_factor": self.threshold_factor, "value_range": self.value_range})
        return cfg


class RandomPosterization(AugmentationLayer):
    """Keep only the top `bits` bits of each 8-bit channel value, `bits` drawn per image.

    Args:
        factor: a number `f` in [1, 8] (bits drawn from `[1, f)`) or a pair `(lo, hi)` in
            [1, 8] (bits from `[lo, hi)`, or exactly `lo` when `lo == hi`).
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a factor outside [1, 8] or a bad value_range.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = tuple(int(f) for f in check_factor(self, factor, bounds=(1.0, 8.0)))
        self.value_range = check_value_range(self, value_range)

    def _augment(self, x, key):
        lo, hi = int(self.factor[0]), int(self.factor[1])
        n = x.shape[0]
        bits = (jax.random.randint(key, (n,), lo, hi) if lo != hi
                else jnp.full((n,), lo, jnp.int32)).astype(jnp.uint8)
        shift = (8 - bits).reshape(n, 1, 1, 1)
        y = to_range(x, self.value_range, (0, 255)).astype(jnp.uint8)
        y = jnp.left_shift(jnp.right_shift(y, shift), shift).astype(x.dtype)
        return to_range(y, (0, 255), self.value_range)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "value_range": self.value_range})
        return cfg


class AutoContrast(AugmentationLayer):
    """Stretch each image channel to the full value range (not random; also at inference).

    Each channel's minimum maps to `low` and maximum to `high`; a constant channel is left
    as it is.

    Args:
        value_range: `(low, high)` of the pixel values (default (0, 255)).

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad value_range.
    """

    def __init__(self, value_range=(0, 255), **kwargs):
        kwargs.pop("seed", None)
        super().__init__(**kwargs)
        self.value_range = check_value_range(self, value_range)

    def _contrast(self, x):
        y = to_range(x, self.value_range, (0, 255))
        low = jnp.min(y, axis=(1, 2), keepdims=True)
        high = jnp.max(y, axis=(1, 2), keepdims=True)
        flat = high == low
        scale = 255.0 / jnp.where(flat, 1.0, high - low)
        out = jnp.clip(y * scale - low * scale, 0.0, 255.0)
        out = jnp.where(flat, y, out)  # Keras's division by zero gives NaN there; keep the input
        return to_range(out, (0, 255), self.value_range)

    def _inference(self, x):
        return self._contrast(x)

    def _augment(self, x, key):
        return self._contrast(x)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("seed")
        cfg["value_range"] = self.value_range
        return cfg


class RandomColorDegeneration(AugmentationLayer):
    """Blend each image towards its grayscale version by a random amount.

    `y = clip(x + f * (gray(x) - x), value_range)` with `f` drawn per image from `factor`.

    Args:
        factor: a number `f` in [0, 1] (range `(-f, f)`, as Keras) or a pair in [-1, 1].
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a factor outside [-1, 1], a bad value_range, or images without
            3 channels.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = check_factor(self, factor)
        self.value_range = check_value_range(self, value_range)

    def _augment(self, x, key):
        if x.shape[-1] != 3:
            raise ValueError(
                f"RandomColorDegeneration layer '{self.name}' expected RGB images (3 channels), "
                f"received images with {x.shape[-1]} channels.")
        f = jax.random.uniform(key, _per_image(x), minval=self.factor[0],
                               maxval=self.factor[1]).astype(x.dtype)
        gray = jnp.sum(x * jnp.asarray(_GRAY, x.dtype), axis=-1, keepdims=True)
        return jnp.clip(x + f * (gray - x), self.value_range[0], self.value_range[1])

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "value_range": self.value_range})
        return cfg
