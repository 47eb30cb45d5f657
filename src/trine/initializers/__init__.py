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

from typing import Any, Callable

import jax
import numpy as np

from trine._util.function_records import custom_function, named_function_record
from trine.core import registration
from trine.core.naming import to_snake_case
from trine.initializers.base import Initializer
from trine.initializers.constant import Constant, Identity, Ones, Zeros, _ArrayInitializer
from trine.initializers.random_initializers import (GlorotNormal, GlorotUniform, HeNormal,
                                                    HeUniform, LecunNormal, LecunUniform,
                                                    Orthogonal, RandomInitializer, RandomNormal,
                                                    RandomUniform, TruncatedNormal,
                                                    VarianceScaling, compute_fans)
from trine.initializers.stft import STFT

__all__ = [
    "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal",
    "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros", "compute_fans",
    "deserialize", "get", "serialize",
    "constant", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity",
    "lecun_normal", "lecun_uniform", "ones", "orthogonal", "random_normal", "random_uniform",
    "truncated_normal", "variance_scaling", "zeros",
    "IdentityInitializer", "OrthogonalInitializer", "STFT", "STFTInitializer", "stft",
]


# ------------------------------------------------------------------------ lookup
_CLASSES = (Constant, Identity, Ones, Zeros, GlorotNormal, GlorotUniform, HeNormal, HeUniform,
            LecunNormal, LecunUniform, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
            VarianceScaling, STFT)


_BY_NAME: dict[str, type] = {}
for _cls in _CLASSES:
    _BY_NAME[_cls.__name__] = _cls
    _BY_NAME[to_snake_case(_cls.__name__)] = _cls
_BY_NAME.update({"IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
                 "STFTInitializer": STFT, "normal": RandomNormal, "uniform": RandomUniform,
                 "one": Ones, "zero": Zeros})
del _cls

# Keras also exports the snake_case names as the classes themselves.
constant, identity, ones, zeros = Constant, Identity, Ones, Zeros
glorot_normal, glorot_uniform = GlorotNormal, GlorotUniform
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
orthogonal, random_normal, random_uniform = Orthogonal, RandomNormal, RandomUniform
truncated_normal, variance_scaling = TruncatedNormal, VarianceScaling
stft = STFTInitializer = STFT
# Keras's compatibility names for the same classes
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal


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
    record = named_function_record(initializer)
    if record is not None:
        return record
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
        return custom_function(config, custom_objects, "initializer")
    if custom_objects and isinstance(config, dict) and config.get("class_name") in custom_objects:
        return custom_objects[config["class_name"]].from_config(config.get("config") or {})
    return get(config)


registration.register_getter("initializer", get)
