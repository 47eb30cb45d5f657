"""Explicit randomness: one global seed, keys derived by position, never hidden state.

`set_random_seed(s)` fixes the seed and restarts the stream of *draw indices*. Each layer
(or initializer without its own seed) takes the next index the first time it needs randomness
(when it creates its weights), so the same layers built in the same order get the same keys
whichever API built them. Keys are `fold_in(key(seed), index)`, further folded per weight.
"""
from __future__ import annotations

import os
import random as _py_random

import numpy as np

_SEED: int | None = None
_COUNTER = 0
GENERATION = 0  # how many times set_random_seed was called: global generators restart


def set_random_seed(seed: int) -> None:
    """Seed trine, Python's `random` and NumPy's global generator.

    Args:
        seed: a non-negative integer.

    Raises:
        TypeError: if `seed` is not an integer.

    Example:
        >>> import trine
        >>> trine.utils.set_random_seed(42)
    """
    global _SEED, _COUNTER, GENERATION
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"set_random_seed expected an integer seed, received {seed!r} "
            f"of type {type(seed).__name__}. Pass e.g. set_random_seed(42).")
    _SEED = int(seed) % (2**32)
    _COUNTER = 0
    GENERATION += 1
    _py_random.seed(_SEED)
    np.random.seed(_SEED)


def global_seed() -> int:
    """The global seed; drawn from OS entropy once if `set_random_seed` was never called."""
    global _SEED
    if _SEED is None:
        _SEED = int.from_bytes(os.urandom(4), "little")
    return _SEED


def next_index() -> int:
    """Take the next draw index from the global stream."""
    global _COUNTER
    global_seed()
    i = _COUNTER
    _COUNTER += 1
    return i


def key_for(seed: int, *path: int):
    """A JAX key for `seed` folded with each integer of `path`."""
    import jax

    k = jax.random.key(int(seed) % (2**32))
    for p in path:
        k = jax.random.fold_in(k, int(p))
    return k


class LazySeed:
    """A seed of a layer or initializer: (global seed, draw index), taken lazily (the public
    `trine.random.SeedGenerator` draws its keys from one).

    `key(*fold)` gives the key for one use (e.g. weight number within the layer).
    An explicit integer `seed` bypasses the global stream, as Keras's `seed=` arguments do.
    """

    def __init__(self, seed: int | None = None):
        self._explicit = None if seed is None else int(seed)
        self._drawn: tuple[int, int] | None = None

    @property
    def index(self) -> tuple[int, int]:
        if self._drawn is None:
            if self._explicit is not None:
                self._drawn = (self._explicit, 0)
            else:
                self._drawn = (global_seed(), next_index() + 1)
        return self._drawn

    def key(self, *fold: int):
        s, i = self.index
        return key_for(s, i, *fold)
