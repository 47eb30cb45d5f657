"""Weight initializers (Keras `keras.initializers`), on `jax.nn.initializers` and `jax.random`.

An initializer is called as `init(shape, dtype=None, key=None)` and returns a JAX array.
Layers pass `key=` (derived from the global seed and the layer's position, see
`trine.core.random`), so weights depend only on the seed and the construction order. Called
without a key, an initializer with `seed=` uses that seed (the same values on every call,
as Keras does with an integer seed); one without a seed takes the next key of the global
stream, so `trine.utils.set_random_seed(s)` makes it reproducible.

Fans follow Keras: for a 2D kernel `(fan_in, fan_out)`; for a convolution kernel
`(*spatial, in, out)` both are multiplied by the receptive field; a 1D shape has
`fan_in = fan_out = shape[0]`, a scalar 1; the scale is divided by `max(1, fan)`.

Example:
    >>> from trine import initializers
    >>> init = initializers.get("glorot_uniform")
    >>> w = init((784, 128), key=jax.random.key(0))
    >>> initializers.serialize(init)["class_name"]
    'GlorotUniform'
"""
from __future__ import annotations

import functools
import math
import re
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from trine.core import registration
from trine.core.random import SeedGenerator

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal",
    "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros", "compute_fans",
    "deserialize", "get", "serialize",
    "constant", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity",
    "lecun_normal", "lecun_uniform", "ones", "orthogonal", "random_normal", "random_uniform",
    "truncated_normal", "variance_scaling", "zeros",
]

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it restores the
# requested variance after truncation (Keras and jax use the same constant).
_TRUNCATED_STD = 0.87962566103423978


def _dtype(dtype) -> jnp.dtype:
    return jnp.dtype("float32" if dtype is None else dtype)


def _float_dtype(dtype, who: str) -> jnp.dtype:
    d = _dtype(dtype)
    if not jnp.issubdtype(d, jnp.floating):
        raise ValueError(
            f"{who} draws random floats and needs a floating dtype, received dtype={d.name}. "
            "Use a float dtype (e.g. 'float32'), or 'zeros' / Constant(...) for integer "
            "weights.")
    return d



# Random draws go through three jitted samplers of *flat, bucketed* length (the next power
# of two): XLA compiles one program per bucket instead of one per weight shape, which
# dominated model-building time on CPU. Values are the first prod(shape) draws, reshaped.
@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _flat_draw(key, kind, n, dtype, a, b):
    if kind == "normal":
        return jax.random.normal(key, (n,), dtype) * a + b
    if kind == "truncated_normal":
        return jax.random.truncated_normal(key, -2.0, 2.0, (n,), dtype) * a + b
    return jnp.maximum(a, jax.random.uniform(key, (n,), dtype) * (b - a) + a)  # [a, b)


def _draw(kind, key, shape, dtype, a=1.0, b=0.0):
    """`a * z + b` for normal kinds; uniform on [a, b) for "uniform"; of `shape`."""
    n = int(math.prod(shape))
    bucket = max(256, 1 << max(0, n - 1).bit_length())
    flat = _flat_draw(key, kind, bucket, jnp.dtype(dtype).name, jnp.asarray(a, dtype),
                      jnp.asarray(b, dtype))
    if isinstance(flat, jax.core.Tracer):
        return flat[:n].reshape(shape)
    return jnp.asarray(np.asarray(flat)[:n].reshape(shape))  # host slice: no per-shape compile

def _shape(shape) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    try:
        return tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"Initializer expected shape to be a tuple of integers, received {shape!r}. "
            "Pass a fully known shape, e.g. (784, 128).") from None


class Initializer:
    """Base class of initializers: `__call__(shape, dtype=None, key=None) -> array`.

    Subclasses implement `__call__`; `get_config` returns the constructor arguments and
    `from_config` rebuilds the initializer from them.

    Example:
        >>> class Halves(Initializer):
        ...     def __call__(self, shape, dtype=None, key=None):
        ...         return jnp.full(shape, 0.5, dtype or "float32")
    """

    def __call__(self, shape, dtype=None, key=None):
        """Return an array of `shape` and `dtype` (default float32).

        Args:
            shape: the array's shape.
            dtype: its dtype (default float32).
            key: a JAX PRNG key for random initializers; ignored by constant ones.

        Returns:
            A JAX array.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(self, shape, dtype=None, key=None).")

    def get_config(self) -> dict:
        """The constructor arguments, as a JSON-serialisable dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        """Rebuild an initializer from `get_config()`'s output."""
        return cls(**config)

    def clone(self) -> "Initializer":
        """A new initializer with the same configuration."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# ------------------------------------------------------------------------ constants
class Zeros(Initializer):
    """All zeros.

    Example:
        >>> Zeros()((2, 3))
    """

    def __call__(self, shape, dtype=None, key=None):
        return jnp.zeros(_shape(shape), _dtype(dtype))


class Ones(Initializer):
    """All ones.

    Example:
        >>> Ones()((2, 3))
    """

    def __call__(self, shape, dtype=None, key=None):
        return jnp.ones(_shape(shape), _dtype(dtype))


class Constant(Initializer):
    """Every entry equal to `value`.

    Args:
        value: a Python scalar (default 0.0).

    Example:
        >>> Constant(0.1)((3,))
    """

    def __init__(self, value: float = 0.0):
        self.value = value

    def __call__(self, shape, dtype=None, key=None):
        d = _dtype(dtype)
        return jnp.asarray(self.value, d) * jnp.ones(_shape(shape), d)

    def get_config(self):
        v = self.value
        if isinstance(v, (np.generic,)):
            v = v.item()
        elif isinstance(v, (np.ndarray, jax.Array)):
            v = np.asarray(v).tolist()
        return {"value": v}


class Identity(Initializer):
    """`gain` times the identity matrix (2D shapes only; rectangular allowed).

    Args:
        gain: the diagonal value (default 1.0).

    Raises:
        ValueError: when called with a shape that is not 2D.
    """

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None, key=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(
                f"Identity initializer needs a 2D shape, received shape={shape} of rank "
                f"{len(shape)}. Use it for square or rectangular matrices only.")
        d = _dtype(dtype)
        return jnp.asarray(self.gain, d) * jnp.eye(*shape, dtype=d)

    def get_config(self):
        return {"gain": self.gain}


# ------------------------------------------------------------------------ random
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
        return SeedGenerator(self.seed).key()

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(RandomInitializer):
    """Normal distribution `N(mean, stddev**2)`.

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation (default 0.05).
        seed: see `RandomInitializer`.

    Example:
        >>> RandomNormal(stddev=0.01, seed=1)((3, 4))
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, key=None):
        d = _float_dtype(dtype, "RandomNormal")
        return _draw("normal", self._key(key), _shape(shape), d, self.stddev, self.mean)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal distribution cut at two standard deviations (and not rescaled).

    Values are `mean + stddev * z` with `z` a unit normal truncated to [-2, 2], as
    Keras's `TruncatedNormal` (so the actual standard deviation is about 0.88*stddev).

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation before truncation (default 0.05).
        seed: see `RandomInitializer`.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None, key=None):
        d = _float_dtype(dtype, "TruncatedNormal")
        return _draw("truncated_normal", self._key(key), _shape(shape), d, self.stddev,
                     self.mean)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


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


# ------------------------------------------------------------------------ lookup
_CLASSES = (Constant, Identity, Ones, Zeros, GlorotNormal, GlorotUniform, HeNormal, HeUniform,
            LecunNormal, LecunUniform, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
            VarianceScaling)


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


_BY_NAME: dict[str, type] = {}
for _cls in _CLASSES:
    _BY_NAME[_cls.__name__] = _cls
    _BY_NAME[_snake(_cls.__name__)] = _cls
_BY_NAME.update({"IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
                 "normal": RandomNormal, "uniform": RandomUniform, "one": Ones, "zero": Zeros})
del _cls

# Keras also exports the snake_case names as the classes themselves.
constant, identity, ones, zeros = Constant, Identity, Ones, Zeros
glorot_normal, glorot_uniform = GlorotNormal, GlorotUniform
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
orthogonal, random_normal, random_uniform = Orthogonal, RandomNormal, RandomUniform
truncated_normal, variance_scaling = TruncatedNormal, VarianceScaling


def _unknown(name) -> ValueError:
    return ValueError(
        f"Unknown initializer {name!r}. Valid names: {sorted(_BY_NAME)}. Pass one of these, "
        "an Initializer instance, or a callable (shape, dtype) -> array.")


def _registered_initializer(name):
    obj = registration.get_registered_object(name)
    return obj if isinstance(obj, type) and issubclass(obj, Initializer) else None


def get(identifier: Any) -> Initializer | Callable | None:
    """Resolve an initializer identifier.

    Args:
        identifier: None; a name ("glorot_uniform", "GlorotUniform", "zeros", "he_normal",
            ...); a config dict `{"class_name": ..., "config": {...}}`; an Initializer
            class (instantiated with defaults) or instance; a NumPy/JAX array (used as the
            value, its shape must match); or a callable `(shape, dtype) -> array`.

    Returns:
        An Initializer (or the callable given), or None for None.

    Raises:
        ValueError: for an unknown name or class_name (the valid names are listed), or an
            identifier of another kind.

    Example:
        >>> get("he_normal")
        HeNormal(seed=None, input_axes=None, output_axes=None)
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _registered_initializer(identifier)
        if cls is None:
            raise _unknown(identifier)
        return cls()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name == "function":
            return deserialize(identifier)
        cls = registration.resolve_class(identifier, _BY_NAME, Initializer, "initializer")
        config = identifier.get("config") or {}
        if not isinstance(config, dict):
            raise ValueError(
                f"Initializer config for {name!r} must be a dict of constructor arguments, "
                f"received {config!r}.")
        return cls.from_config(config)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, (np.ndarray, np.generic, jax.Array)):
        return _ArrayInitializer(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret initializer {identifier!r} of type {type(identifier).__name__}: "
        f"expected a name (one of {sorted(_BY_NAME)}), a config dict, an Initializer or a "
        "callable.")


class _ArrayInitializer(Initializer):
    """Use a given array as the value (what `get(array)` returns)."""

    def __init__(self, value):
        self.value = np.asarray(value)

    def __call__(self, shape, dtype=None, key=None):
        shape = _shape(shape)
        if shape != tuple(self.value.shape):
            raise ValueError(
                f"The array given as initializer has shape {tuple(self.value.shape)} but the "
                f"weight has shape {shape}. Pass an array of shape {shape}.")
        return jnp.asarray(self.value, _dtype(dtype))

    def get_config(self):
        return {"value": self.value.tolist()}


def serialize(initializer: Initializer | None) -> dict | None:
    """A Keras-format config dict for an initializer.

    Args:
        initializer: an Initializer (or None).

    Returns:
        `{"module": "keras.initializers", "class_name": ..., "config": {...},
        "registered_name": None}`; for a named function `{"class_name": "function",
        "config": its name, ...}` (load it with `custom_objects`); None for None.

    Raises:
        ValueError: for an unnamed callable (a lambda), which cannot be saved.

    Example:
        >>> serialize(Constant(0.5))["config"]
        {'value': 0.5}
    """
    if initializer is None:
        return None
    if isinstance(initializer, Initializer) and type(initializer) in _CLASSES:
        return {"module": "keras.initializers", "class_name": type(initializer).__name__,
                "config": initializer.get_config(), "registered_name": None}
    if isinstance(initializer, Initializer):
        return registration.object_record(initializer, "keras.initializers", _BY_NAME)
    name = getattr(initializer, "__name__", None)
    if callable(initializer) and isinstance(name, str) and name != "<lambda>":
        # a named function: saved by name, loadable with custom_objects={name: fn}
        return {"module": getattr(initializer, "__module__", None), "class_name": "function",
                "config": name, "registered_name": name}
    raise ValueError(
        f"Cannot serialize initializer {initializer!r}: it is neither an Initializer nor a "
        "named function. Subclass trine.initializers.Initializer and implement get_config() "
        "to make it serialisable.")


def deserialize(config: dict | str, custom_objects: dict | None = None) -> Initializer:
    """Rebuild an initializer from `serialize`'s output (or a name).

    Args:
        config: a config dict or a name.
        custom_objects: extra class_name -> class entries to look in first.

    Returns:
        The Initializer.

    Raises:
        ValueError: for an unknown class name, or a custom function not in `custom_objects`.
    """
    if isinstance(config, dict) and config.get("class_name") == "function":
        fn = (custom_objects or {}).get(config.get("config"))
        if fn is None:
            raise ValueError(
                f"The config names the custom initializer function {config.get('config')!r}. "
                "Pass it when loading: custom_objects={name: function}.")
        return fn
    if custom_objects and isinstance(config, dict) and config.get("class_name") in custom_objects:
        return custom_objects[config["class_name"]].from_config(config.get("config") or {})
    return get(config)


# ------------------------------------------------------------------------ STFT
# In its own module (one concept a file); registered here for get/serialize/deserialize.
from trine.initializers_stft import STFT  # noqa: E402

_CLASSES = _CLASSES + (STFT,)
_BY_NAME.update({"STFT": STFT, "stft": STFT, "STFTInitializer": STFT})
stft = STFTInitializer = STFT
# Keras's compatibility names for the same classes
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal
__all__ += ["IdentityInitializer", "OrthogonalInitializer", "STFT", "STFTInitializer", "stft"]
