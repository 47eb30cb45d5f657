"""Colour augmentations in HSV and their combination: RandomSaturation, RandomHue,
RandomColorJitter (Keras 3's semantics; one random draw per image)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine import config, ops_image
from trine.layers.augmentation._base import AugmentationLayer, check_value_range, to_range
from trine.layers.augmentation._two_phase import TwoPhaseLayer, keras_factor
from trine.layers.augmentation.color import RandomBrightness

__all__ = ["RandomColorJitter", "RandomHue", "RandomSaturation"]


def _uniform(key, n, rng):
    return jax.random.uniform(key, (n,), minval=rng[0], maxval=rng[1])


class RandomSaturation(TwoPhaseLayer):
    """Scale each image's HSV saturation by a random amount during training.

    Each image draws `f` uniformly from `factor` and its saturation is multiplied by
    `f / (1 - f)`: 0.5 keeps it, 0 (or below) turns the image gray, towards 1 saturates fully.
    Keras clips the new saturation to `value_range`, which with (0, 255) lets saturation pass 1
    and gives negative pixels; trine clips it to the intersection of `value_range` and [0, 1],
    the same numbers wherever Keras's are valid colours.

    Args:
        factor: a number `f` in [0, 1] (the range `(-f, f)`, Keras's rule) or a pair.
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        RGB images of the input's shape (float).

    Raises:
        ValueError: for a bad factor or value_range.

    Example:
        >>> y = RandomSaturation((0.3, 0.7), seed=1)(np.random.rand(2, 8, 8, 3) * 255, training=True)
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, factor, (-1.0, 1.0))
        self.value_range = check_value_range(self, value_range)

    def _draw(self, key, x):
        f = _uniform(key, x.shape[0], self.factor)
        return {"factor": f / (1.0 - f + config.epsilon())}

    def _apply(self, x, t):
        hsv = ops_image.rgb_to_hsv(x, data_format="channels_last")
        f = t["factor"].astype(x.dtype)[:, None, None]
        lo, hi = max(self.value_range[0], 0.0), min(self.value_range[1], 1.0)
        s = jnp.clip(hsv[..., 1] * f, lo, hi)
        hsv = jnp.stack([hsv[..., 0], s, hsv[..., 2]], axis=-1)
        return ops_image.hsv_to_rgb(hsv, data_format="channels_last").astype(x.dtype)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "value_range": self.value_range})
        return cfg


class RandomHue(TwoPhaseLayer):
    """Rotate each image's hue by a random amount during training.

    Each image draws `f` from `factor` and a random sign; its hue (a fraction of a turn)
    moves by `sign * f / 2`, wrapping around.

    Args:
        factor: a number `f` in [0, 1] (the range `(0, f)`) or a pair.
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        RGB images of the input's shape (float), clipped to `value_range`.

    Raises:
        ValueError: for a bad factor or value_range.
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        self.value_range = tuple(check_value_range(self, value_range))

    def _draw(self, key, x):
        k1, k2 = jax.random.split(key)
        sign = jnp.where(jax.random.uniform(k1, (x.shape[0],)) > 0.5, -1.0, 1.0)
        return {"factor": sign * _uniform(k2, x.shape[0], self.factor) * 0.5}

    def _apply(self, x, t):
        y = to_range(x, self.value_range, (0.0, 1.0))
        hsv = ops_image.rgb_to_hsv(y, data_format="channels_last")
        h = hsv[..., 0] + t["factor"].astype(x.dtype)[:, None, None]
        h = jnp.where(h > 1.0, h - 1.0, h)
        h = jnp.where(h < 0.0, h + 1.0, h)
        y = ops_image.hsv_to_rgb(jnp.stack([h, hsv[..., 1], hsv[..., 2]], axis=-1),
                                 data_format="channels_last")
        return to_range(jnp.clip(y, 0.0, 1.0), (0.0, 1.0), self.value_range).astype(x.dtype)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "value_range": self.value_range})
        return cfg


class _Contrast(TwoPhaseLayer):
    """Keras 3's RandomContrast maths (`[1 - lo, 1 + hi]` per image) for RandomColorJitter."""

    def __init__(self, factor, value_range, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        self.value_range = value_range

    def _draw(self, key, x):
        return {"contrast_factor": jax.random.uniform(
            key, (x.shape[0],), minval=1.0 - self.factor[0], maxval=1.0 + self.factor[1])}

    def _apply(self, x, t):
        c = t["contrast_factor"].astype(x.dtype)[:, None, None, None]
        mean = jnp.mean(x, axis=(1, 2), keepdims=True)
        return jnp.clip((x - mean) * c + mean, self.value_range[0], self.value_range[1])


class RandomColorJitter(AugmentationLayer):
    """Randomly change brightness, contrast, saturation and hue, in that order.

    Each factor left None skips that step; a given one means what it means for
    RandomBrightness, RandomContrast, RandomSaturation and RandomHue.

    Args:
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        brightness_factor, contrast_factor, saturation_factor, hue_factor: the factors.
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad factor or value_range.

    Example:
        >>> jit = RandomColorJitter(brightness_factor=0.2, hue_factor=0.1, seed=0)
        >>> y = jit(np.random.rand(2, 8, 8, 3) * 255, training=True)
    """

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None,
                 saturation_factor=None, hue_factor=None, seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = tuple(check_value_range(self, value_range))
        self.brightness_factor = brightness_factor
        self.contrast_factor = contrast_factor
        self.saturation_factor = saturation_factor
        self.hue_factor = hue_factor
        vr, cl = self.value_range, "channels_last"  # sub-steps see channels-last batches
        sub = lambda i: seed  # noqa: E731 -- the steps only check arguments; keys come from here
        self._steps = [s for s in (
            None if brightness_factor is None else
            RandomBrightness(brightness_factor, value_range=vr, seed=sub(1), name=f"{self.name}_b"),
            None if contrast_factor is None else
            _Contrast(contrast_factor, vr, seed=sub(2), data_format=cl, name=f"{self.name}_c"),
            None if saturation_factor is None else
            RandomSaturation(saturation_factor, value_range=vr, seed=sub(3), data_format=cl,
                             name=f"{self.name}_s"),
            None if hue_factor is None else
            RandomHue(hue_factor, value_range=vr, seed=sub(4), data_format=cl,
                      name=f"{self.name}_h"),
        ) if s is not None]

    def _augment(self, x, key):
        for i, step in enumerate(self._steps):  # one key per step, all from this layer's key
            x = step._augment(x, jax.random.fold_in(key, i))
        return x

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"value_range": self.value_range, "brightness_factor": self.brightness_factor,
                    "contrast_factor": self.contrast_factor,
                    "saturation_factor": self.saturation_factor, "hue_factor": self.hue_factor})
        return cfg
