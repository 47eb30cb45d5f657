"""The base of the random image layers (preprocessing and augmentation): an optional
integer seed, a fresh key each call, and a data format."""
from __future__ import annotations

import jax
import numpy as np

from trine.core.layer import Layer
from trine.core.random import LazySeed
from trine.layers.preprocessing._utils import standardize_data_format


class SeededImageLayer(Layer):
    """A layer that draws a new random key each call, from its own seed if it has one."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(
                f"{type(self).__name__} layer '{self.name}' expected seed to be an integer or "
                f"None, received seed={seed!r}.")
        self.seed = seed
        if seed is not None:
            self._seed_gen = LazySeed(seed)
        self.data_format = standardize_data_format(self.name, data_format)

    def build(self, input_shape):
        self._seed_gen.index  # take this layer's draw index now, in build order
        self.built = True

    def _key(self):
        key = self.rng_key()
        if self.seed is not None:
            # Under fit, rng_key() folds in only the layer's index (0 for explicit seeds);
            # fold the seed in too so that different seeds give different streams.
            key = jax.random.fold_in(key, int(self.seed) % (2**31))
        return key
