"""Shared plumbing of the augmentation layers: seed, per-call key, training switch, checks.

A layer implements `_augment(images, key)` on a float batch `(batch, h, w, c)` (channels
last; channels_first inputs are moved there and back). Keys come from `Layer.rng_key()`:
under `fit` / `stateless_call(..., rng=key)` they derive from the step key (same seed, same
augmentations, fused or not); eagerly each call draws a new key. At inference
(`training` False or absent) the layer returns its input as float, unless it overrides
`_inference`.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine.layers.preprocessing._image_inputs import float_images
from trine.layers.preprocessing._seeded_image import SeededImageLayer


def check_value_range(layer, value_range):
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or any(
            isinstance(v, bool) or not isinstance(v, (int, float, np.number)) for v in value_range)):
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected value_range to be a pair "
            f"of numbers (low, high), received value_range={value_range!r}. Pass e.g. (0, 255).")
    return sorted(value_range)


def to_range(x, src, dst):
    """Map values linearly from range `src` to range `dst`."""
    if tuple(src) == tuple(dst):
        return x
    x = (x - src[0]) / (src[1] - src[0])
    return x * (dst[1] - dst[0]) + dst[0]


class AugmentationLayer(SeededImageLayer):
    """Base of the augmentation layers (see the module docstring)."""

    def _images(self, inputs):
        return float_images(self, inputs)

    def _channels_last(self, fn, x, *args):
        single = x.ndim == 3
        if single:
            x = x[None]
        if self.data_format == "channels_first":
            x = jnp.moveaxis(x, 1, -1)
        y = fn(x, *args)
        if self.data_format == "channels_first":
            y = jnp.moveaxis(y, -1, 1)
        return y[0] if single else y

    def _inference(self, x):
        return x

    def call(self, inputs, training=False):
        x = self._images(inputs)
        if not training:
            return self._channels_last(self._inference, x)
        return self._channels_last(self._augment, x, self._key())

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"seed": self.seed, "data_format": self.data_format})
        return cfg
