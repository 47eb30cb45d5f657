"""RandAugment: apply `num_ops` operations picked at random from a fixed list (Keras 3)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.layers.augmentation._base import AugmentationLayer, check_value_range
from trine.layers.augmentation._two_phase import keras_factor
from trine.layers.augmentation.color import (AutoContrast, RandomBrightness,
                                             RandomColorDegeneration, RandomPosterization,
                                             Solarization)
from trine.layers.augmentation.filters import Equalization, RandomSharpness
from trine.layers.augmentation.geometric import RandomShear
from trine.layers.preprocessing.image import RandomContrast, RandomRotation, RandomTranslation

__all__ = ["RandAugment"]


class RandAugment(AugmentationLayer):
    """RandAugment (Cubuk et al., 2019): `num_ops` times, one operation drawn uniformly from
    shear, translation, rotation, brightness, colour degeneration, contrast, sharpness,
    posterization, solarization, auto-contrast and equalization is applied to the whole batch,
    each with strength `factor`.

    Args:
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        num_ops: the number of operations applied (default 2).
        factor: a number `f` in [0, 1] (the range `(0, f)`) or a pair (default 0.5).
        interpolation: "bilinear" (default) or "nearest", for the geometric operations.
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad factor, num_ops or value_range.

    Example:
        >>> y = RandAugment(seed=0)(np.random.rand(2, 16, 16, 3) * 255, training=True)
    """

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear",
                 seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = tuple(check_value_range(self, value_range))
        if isinstance(num_ops, bool) or not isinstance(num_ops, (int, np.integer)) or num_ops < 0:
            raise ValueError(f"RandAugment layer '{self.name}' expected num_ops to be a "
                             f"non-negative integer, received num_ops={num_ops!r}.")
        self.num_ops = int(num_ops)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        self.interpolation = interpolation
        f, vr, df = self.factor, self.value_range, self.data_format
        kw = {"seed": seed}
        # the operations act on the channels-last batch this layer hands them
        self._ops = [
            RandomShear(f, f, interpolation=interpolation, data_format="channels_last", **kw),
            RandomTranslation(f, f, interpolation=interpolation, data_format=df, **kw),
            RandomRotation(f, interpolation=interpolation, data_format=df, **kw),
            RandomBrightness(f, value_range=vr, **kw),
            RandomColorDegeneration(f, value_range=vr, data_format="channels_last", **kw),
            RandomContrast(f, value_range=vr, **kw),
            RandomSharpness(f, value_range=vr, data_format="channels_last", **kw),
            RandomPosterization(max(1, int(8 * f[1])), value_range=vr,
                                data_format="channels_last", **kw),
            Solarization(f, f, value_range=vr, **kw),
            AutoContrast(value_range=vr),
            Equalization(value_range=vr, data_format="channels_last"),
        ]

    def call(self, inputs, training=False):
        x = self._images(inputs)
        if not training:
            return x
        key = self._key()
        picks = jax.random.randint(key, (self.num_ops,), 0, len(self._ops))
        for i in range(self.num_ops):
            # the preprocessing layers take their key from the call context, which a switch
            # branch cannot reach: run them before it and let their branches pick the result
            done = tuple(op(x, training=True).astype(x.dtype) if not hasattr(op, "_augment")
                         else None for op in self._ops)
            branches = [self._branch(j, op) for j, op in enumerate(self._ops)]
            x = jax.lax.switch(picks[i], branches, x, jax.random.fold_in(key, i + 1),
                               tuple(d for d in done if d is not None))
        return x

    def _branch(self, j, op):
        slot = sum(not hasattr(o, "_augment") for o in self._ops[:j])

        def run(x, key, done):
            if hasattr(op, "_augment"):  # the augmentation layers: channels-last maths
                return self._channels_last(op._augment, x, key).astype(x.dtype)
            return done[slot]
        return run

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"value_range": self.value_range, "num_ops": self.num_ops,
                    "factor": self.factor, "interpolation": self.interpolation})
        return cfg
