"""Dtype policies (Keras `keras.dtype_policies`): float policies ("float32",
"mixed_bfloat16", ...), quantized ones ("int8_from_float32", "int4/128_from_float32",
"float8_from_bfloat16", ...) and `DTypePolicyMap` (policies by layer path).

`trine.config.DTypePolicy` is the one float policy class; `FloatDTypePolicy` is its Keras
alias. A policy is saved as a Keras record and loads back only through this module's list.
"""
from __future__ import annotations

from trine.config import DTypePolicy, dtype_policy
from trine.dtype_policies.policy_map import DTypePolicyMap
from trine.dtype_policies.quantized import (QUANTIZATION_MODES, AWQDTypePolicy, GPTQDTypePolicy,
                                            Int4DTypePolicy, QuantizedDTypePolicy,
                                            QuantizedFloat8DTypePolicy,
                                            quantized_policy_from_name)

__all__ = ["AWQDTypePolicy", "DTypePolicy", "DTypePolicyMap", "FloatDTypePolicy",
           "GPTQDTypePolicy", "Int4DTypePolicy", "QUANTIZATION_MODES", "QuantizedDTypePolicy",
           "QuantizedFloat8DTypePolicy", "RECORD_CLASSES", "deserialize", "get", "serialize"]


class FloatDTypePolicy(DTypePolicy):
    """Keras's name for a float policy: the same as `DTypePolicy`."""

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'


_CLASSES = (DTypePolicy, FloatDTypePolicy, QuantizedDTypePolicy, QuantizedFloat8DTypePolicy,
            Int4DTypePolicy, GPTQDTypePolicy, AWQDTypePolicy, DTypePolicyMap)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
# the policy records a model file may hold besides a float policy's name
RECORD_CLASSES = frozenset(_BY_NAME) - {"DTypePolicy", "FloatDTypePolicy"}
# the Keras module each class is written under (where Keras exports it first)
_MODULE = {"DTypePolicy": "keras", "FloatDTypePolicy": "keras"}


def serialize(policy) -> dict:
    """The Keras record of a dtype policy.

    Raises:
        ValueError: for anything but a DTypePolicy.
    """
    if not isinstance(policy, DTypePolicy):
        raise ValueError(f"dtype_policies.serialize expected a DTypePolicy, received {policy!r}.")
    name = type(policy).__name__
    if _BY_NAME.get(name) is not type(policy):
        from trine.core import registration
        return registration.object_record(policy, "keras.dtype_policies", _BY_NAME)
    return {"module": _MODULE.get(name, "keras.dtype_policies"), "class_name": name,
            "config": policy.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """The policy a Keras record names (one of this module's classes, a registered one, or
    one in `custom_objects`).

    Raises:
        ValueError: for a record naming anything else.
    """
    if not isinstance(config, dict):
        raise ValueError(f"dtype_policies.deserialize expected a record dict, received {config!r}.")
    name = config.get("class_name")
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    else:
        from trine.core import registration
        try:
            cls = registration.resolve_class(config, _BY_NAME, DTypePolicy, "dtype policy")
        except ValueError:
            cls = None
        if cls is None:
            raise ValueError(f"Unknown dtype policy class {name!r}; expected one of "
                             f"{sorted(_BY_NAME)} (or a registered class).")
    inner = dict(config.get("config") or {})
    if cls is DTypePolicyMap:
        return DTypePolicyMap.from_config(inner, custom_objects)
    return cls.from_config(inner)


def get(identifier):
    """A policy from None (the global policy), a policy, a record, or a name ("float32",
    "mixed_bfloat16", "int8_from_float32", ...).

    Raises:
        ValueError: for anything else.
    """
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.startswith(QUANTIZATION_MODES):
        return quantized_policy_from_name(identifier)
    try:
        return DTypePolicy(identifier)
    except (TypeError, ValueError):
        raise ValueError(f"Cannot interpret dtype={identifier!r}: expected a policy name such as "
                         "'float32' or 'int8_from_float32', a record, or a DTypePolicy.") from None
