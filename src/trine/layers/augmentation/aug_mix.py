"""AugMix (Hendrycks et al., 2020): mix several random augmentation chains with the original."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.layers._int_args import is_positive_int
from trine.layers.augmentation._base import AugmentationLayer, check_value_range
from trine.layers.augmentation._two_phase import keras_factor
from trine.layers.augmentation.color import (AutoContrast, RandomBrightness,
                                             RandomColorDegeneration, RandomPosterization,
                                             Solarization)
from trine.layers.augmentation.filters import Equalization, RandomSharpness
from trine.layers.augmentation.geometric import RandomShear
from trine.layers.preprocessing.image import RandomContrast, RandomRotation, RandomTranslation

__all__ = ["AugMix"]


class AugMix(AugmentationLayer):
    """Blend `num_chains` chains of random augmentations, then blend with the original.

    Each chain applies `chain_depth` steps, each an operation picked uniformly from the list
    (or, with equal chance, nothing, as Keras); chains are weighted by a Dirichlet(`alpha`)
    draw, and the result is `m * image + (1 - m) * mix` with `m ~ Beta(alpha, alpha)`,
    clipped to `value_range`. Training only; inference returns the images.

    Args:
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        num_chains: number of augmentation chains (default 3).
        chain_depth: operations per chain (default 3).
        factor: strength of the operations, a number or a pair in [0, 1] (default 0.3).
        alpha: concentration of the Dirichlet and Beta draws (default 1.0).
        all_ops: use all 11 operations (default True) or only the 7 geometric / tonal ones
            (shear, translation, rotation, posterization, solarization, auto contrast,
            equalization), excluding those that overlap common test-set corruptions.
        interpolation: "bilinear" (default) or "nearest" for the geometric operations.
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape.

    Raises:
        ValueError: for bad value_range, num_chains, chain_depth, factor or alpha.

    Example:
        >>> y = AugMix(seed=1)(np.random.rand(2, 16, 16, 3) * 255, training=True)
    """

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3,
                 alpha=1.0, all_ops=True, interpolation="bilinear", seed=None,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        label = f"AugMix layer '{self.name}'"
        for arg, v in (("num_chains", num_chains), ("chain_depth", chain_depth)):
            if not is_positive_int(v):
                raise ValueError(f"{label} expected {arg} to be a positive integer, received "
                                 f"{arg}={v!r}.")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) or alpha <= 0:
            raise ValueError(f"{label} expected alpha to be a positive number, received "
                             f"alpha={alpha!r}.")
        self.value_range = tuple(check_value_range(self, value_range))
        self.num_chains = int(num_chains)
        self.chain_depth = int(chain_depth)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        self.alpha = float(alpha)
        self.all_ops = bool(all_ops)
        self.interpolation = interpolation
        f, vr, df = self.factor, self.value_range, self.data_format
        kw = {"seed": seed}
        # Keras's order; the augmentation layers get channels-last batches from _channels_last
        ops = [
            RandomShear(f, f, interpolation=interpolation, data_format="channels_last", **kw),
            RandomTranslation(f, f, interpolation=interpolation, data_format=df, **kw),
            RandomRotation(f, interpolation=interpolation, data_format=df, **kw),
            RandomPosterization(max(1, int(8 * f[1])), value_range=vr,
                                data_format="channels_last", **kw),
            Solarization(f, f, value_range=vr, **kw),
            AutoContrast(value_range=vr),
            Equalization(value_range=vr, data_format="channels_last"),
        ]
        if self.all_ops:
            ops += [
                RandomBrightness(f, value_range=vr, **kw),
                RandomColorDegeneration(f, value_range=vr, data_format="channels_last", **kw),
                RandomContrast(f, value_range=vr, **kw),
                RandomSharpness(f, value_range=vr, data_format="channels_last", **kw),
            ]
        self._ops = ops

    def _branch(self, j, op):
        slot = sum(not hasattr(o, "_augment") for o in self._ops[:j])

        def run(x, key, done):
            if hasattr(op, "_augment"):
                return self._channels_last(op._augment, x, key).astype(x.dtype)
            return done[slot]
        return run

    def _step(self, x, pick, key):
        # preprocessing layers take their key from the call context, which a switch branch
        # cannot reach: run them first and let their branches pick the result
        done = tuple(op(x, training=True).astype(x.dtype) for op in self._ops
                     if not hasattr(op, "_augment"))
        branches = [self._branch(j, op) for j, op in enumerate(self._ops)]
        branches.append(lambda x, key, done: x)  # "no operation", one choice among the others
        return jax.lax.switch(pick, branches, x, key, done)

    def call(self, inputs, training=False):
        x = self._images(inputs)
        if not training:
            return x
        key = self._key()
        kw, km, kp = jax.random.split(key, 3)
        weights = jax.random.dirichlet(kw, jnp.full((self.num_chains,), self.alpha))
        m = jax.random.beta(km, self.alpha, self.alpha).astype(x.dtype)
        picks = jax.random.randint(kp, (self.num_chains, self.chain_depth), 0,
                                   len(self._ops) + 1)
        mix = jnp.zeros_like(x)
        for c in range(self.num_chains):
            y = x
            for d in range(self.chain_depth):
                y = self._step(y, picks[c, d], jax.random.fold_in(key, 1 + c * 64 + d))
            mix = mix + y * weights[c].astype(x.dtype)
        out = m * x + (1 - m) * mix
        return jnp.clip(out, self.value_range[0], self.value_range[1]).astype(x.dtype)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"value_range": self.value_range, "num_chains": self.num_chains,
                    "chain_depth": self.chain_depth, "factor": self.factor,
                    "alpha": self.alpha, "all_ops": self.all_ops,
                    "interpolation": self.interpolation})
        return cfg
