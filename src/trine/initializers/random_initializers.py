"""Random initializers: normal, truncated normal, uniform, variance scaling (Glorot, He,
Lecun) and orthogonal, each drawing from an explicit key or its seed."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.random import LazySeed
from trine.initializers.base import (_TRUNCATED_STD, Initializer, _draw, _float_dtype,
                                     _shape)


class RandomInitializer(Initializer):
    """Base of the random initializers: resolves the key for each call.

    Args:
        seed: an integer for a deterministic initializer, or None to draw from the
            global stream (see the module docstring).

    Raises:
        ValueError: if `seed` is neither None nor an integer.
    """

    def __init__(self, seed: int | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(
                f"{type(self).__name__} expected seed to be an integer or None, received "
                f"{seed!r} of type {type(seed).__name__}. Pass e.g. seed=42.")
        self.seed = None if seed is None else int(seed)

    def _key(self, key):
        if key is not None:
            return key
        return LazySeed(self.seed).key()

    def get_config(self):
        return {"seed": self.seed}


class _NormalFamily(RandomInitializer):
    """A normal distribution given by `mean` and `stddev`; `_DIST` says which draw."""

    _DIST: str

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, key=None):
        d = _float_dtype(dtype, type(self).__name__)
        return _draw(self._DIST, self._key(key), _shape(shape), d, self.stddev, self.mean)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomNormal(_NormalFamily):
    """Normal distribution `N(mean, stddev**2)`.

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation (default 0.05).
        seed: see `RandomInitializer`.

    Example:
        >>> RandomNormal(stddev=0.01, seed=1)((3, 4))
    """

    _DIST = "normal"


class TruncatedNormal(_NormalFamily):
    """Normal distribution cut at two standard deviations (and not rescaled).

    Values are `mean + stddev * z` with `z` a unit normal truncated to [-2, 2], as
    Keras's `TruncatedNormal` (so the actual standard deviation is about 0.88*stddev).

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation before truncation (default 0.05).
        seed: see `RandomInitializer`.
    """

    _DIST = "truncated_normal"


class RandomUniform(RandomInitializer):
    """Uniform distribution on `[minval, maxval)`.

    Args:
        minval: the lower bound (default -0.05).
        maxval: the upper bound (default 0.05).
        seed: see `RandomInitializer`.
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, key=None):
        d = _float_dtype(dtype, "RandomUniform")
        return _draw("uniform", self._key(key), _shape(shape), d, self.minval, self.maxval)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """`(fan_in, fan_out)` of a weight shape, by Keras's rule.

    Args:
        shape: the weight's shape.
        input_axes / output_axes: explicit axes whose sizes multiply into each fan
            (both must be given to take effect).

    Returns:
        The two fans as integers.
    """
    shape = _shape(shape)
    if input_axes is not None and output_axes is not None:
        return (int(math.prod(shape[a] for a in input_axes)),
                int(math.prod(shape[a] for a in output_axes)))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(RandomInitializer):
    """Random values whose variance is `scale / n`, with `n` a fan of the shape.

    Args:
        scale: the variance scale, positive (default 1.0).
        mode: "fan_in", "fan_out" or "fan_avg" (default "fan_in").
        distribution: "truncated_normal" (alias "normal"), "untruncated_normal" or
            "uniform" (default "truncated_normal"). The truncated normal is cut at two
            standard deviations and rescaled so its variance is `scale / n`; the uniform
            one is on `[-sqrt(3 * scale / n), sqrt(3 * scale / n)]`.
        seed: see `RandomInitializer`.
        input_axes / output_axes: optional explicit axes for the fans (Keras 3.x).

    Raises:
        ValueError: for a non-positive scale or an unknown mode or distribution.

    Example:
        >>> VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=0)((64, 32))
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None,
                 input_axes=None, output_axes=None):
        if not isinstance(scale, (int, float, np.number)) or isinstance(scale, bool) or scale <= 0:
            raise ValueError(
                f"{type(self).__name__} expected scale to be a positive number, received "
                f"scale={scale!r}. Pass e.g. scale=1.0.")
        if mode not in self._MODES:
            raise ValueError(
                f"{type(self).__name__} expected mode to be one of {list(self._MODES)}, "
                f"received mode={mode!r}.")
        dist = str(distribution).lower()
        if dist == "normal":
            dist = "truncated_normal"
        if dist not in self._DISTRIBUTIONS:
            raise ValueError(
                f"{type(self).__name__} expected distribution to be one of "
                f"{list(self._DISTRIBUTIONS)} (or 'normal'), received "
                f"distribution={distribution!r}.")
        self.scale = scale
        self.mode = mode
        self.distribution = dist
        self.input_axes = None if input_axes is None else list(input_axes)
        self.output_axes = None if output_axes is None else list(output_axes)
        super().__init__(seed=seed)

    def _variance(self, shape) -> float:
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, n)

    def __call__(self, shape, dtype=None, key=None):
        shape = _shape(shape)
        d = _float_dtype(dtype, type(self).__name__)
        var = self._variance(shape)
        k = self._key(key)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(var) / _TRUNCATED_STD
            return _draw("truncated_normal", k, shape, d, stddev)
        if self.distribution == "untruncated_normal":
            return _draw("normal", k, shape, d, math.sqrt(var))
        limit = math.sqrt(3.0 * var)
        return _draw("uniform", k, shape, d, -limit, limit)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed scale, mode and distribution (the named schemes)."""

    _SCALE, _MODE, _DIST = 1.0, "fan_in", "truncated_normal"

    def __init__(self, seed: int | None = None, input_axes=None, output_axes=None):
        super().__init__(scale=self._SCALE, mode=self._MODE, distribution=self._DIST,
                         seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: `U(-limit, limit)`, `limit = sqrt(6 / (fan_in + fan_out))`.

    Args:
        seed: see `RandomInitializer`.
    """
    _SCALE, _MODE, _DIST = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with variance `2 / (fan_in + fan_out)`.

    Args:
        seed: see `RandomInitializer`.
    """
    _SCALE, _MODE, _DIST = 1.0, "fan_avg", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """He uniform: `U(-limit, limit)`, `limit = sqrt(6 / fan_in)`.

    Args:
        seed: see `RandomInitializer`.
    """
    _SCALE, _MODE, _DIST = 2.0, "fan_in", "uniform"


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal with variance `2 / fan_in`.

    Args:
        seed: see `RandomInitializer`.
    """
    _SCALE, _MODE, _DIST = 2.0, "fan_in", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: `U(-limit, limit)`, `limit = sqrt(3 / fan_in)`.

    Args:
        seed: see `RandomInitializer`.
    """
    _SCALE, _MODE, _DIST = 1.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal with variance `1 / fan_in`.

    Args:
        seed: see `RandomInitializer`.
    """
    _SCALE, _MODE, _DIST = 1.0, "fan_in", "truncated_normal"


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix (Saxe et al., 2014) times `gain`.

    The shape is flattened to `(prod(shape[:-1]), shape[-1])`; the rows or the columns
    (whichever are fewer) are orthonormal.

    Args:
        gain: multiplier (default 1.0).
        seed: see `RandomInitializer`.

    Raises:
        ValueError: when called with a shape of rank below 2.
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, key=None):
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal initializer needs a shape of rank >= 2, received shape={shape} "
                f"of rank {len(shape)}. Use another initializer for biases and scalars.")
        d = _float_dtype(dtype, "Orthogonal")
        # the QR factorisation has no half-precision kernels: draw in float32, then cast
        work = d if d.itemsize >= 4 else jnp.dtype("float32")
        q = jax.nn.initializers.orthogonal(scale=self.gain)(self._key(key), shape, work)
        return q.astype(d)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}
