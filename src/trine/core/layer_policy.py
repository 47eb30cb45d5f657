"""The dtype policy a layer takes from its `dtype` argument."""
from __future__ import annotations

from trine import config


def resolve_policy(dtype, layer):
    """A layer's DTypePolicy from its `dtype` argument (None: the global policy)."""
    if dtype is None:
        return config.dtype_policy()
    if isinstance(dtype, config.DTypePolicy):
        return dtype
    quantized = (isinstance(dtype, str) and "_from_" in dtype) or (
        isinstance(dtype, dict) and dtype.get("class_name") not in (None, "DTypePolicy",
                                                                    "FloatDTypePolicy"))
    if quantized:  # a quantized policy or a policy map, by name or Keras record
        from trine import dtype_policies
        try:
            return dtype_policies.get(dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Layer {type(layer).__name__}: invalid dtype={dtype!r}: {e}") from None
    if isinstance(dtype, dict) and isinstance(dtype.get("config"), dict):  # Keras's policy dict
        dtype = dtype["config"].get("name")
    try:
        return config.DTypePolicy(dtype)
    except ValueError as e:
        raise ValueError(f"Layer {type(layer).__name__}: invalid dtype={dtype!r}: {e}") from None
