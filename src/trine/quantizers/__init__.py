"""Quantization (Keras `keras.quantizers`): quantizers, the maths they use, and the configs
that `Layer.quantize` / `Model.quantize` take.

    model.quantize("int8")                       # int8 kernels, int8 inputs, float outputs
    model.quantize(config=Int4QuantizationConfig(block_size=64))

A config or quantizer is saved as a Keras record and loads back only through this package's
allow-list (or a registered / `custom_objects` class).
"""
from __future__ import annotations

import inspect

from trine.core import registration
from trine.core.naming import to_snake_case
from trine.quantizers.abs_max import (abs_max_quantize, abs_max_quantize_grouped_with_zero_point,
                                      dequantize_grouped)
from trine.quantizers.calibrated_configs import AWQConfig, GPTQConfig
from trine.quantizers.fake_quant import fake_quant_with_min_max_vars
from trine.quantizers.float8 import (compute_float8_amax_history, compute_float8_scale,
                                     quantize_and_dequantize)
from trine.quantizers.int4_packing import pack_int4, unpack_int4
from trine.dtype_policies import QUANTIZATION_MODES
from trine.quantizers.quantization_config import (Float8QuantizationConfig,
                                                  Int4QuantizationConfig, Int8QuantizationConfig,
                                                  QuantizationConfig)
from trine.quantizers.quantized_ops import (float8_inputs, float8_output_gradient,
                                            quantized_contraction, with_float_kernel_gradient)
from trine.quantizers.quantizer import AbsMaxQuantizer, Quantizer
from trine.quantizers.resolve import check_mode, resolve_config

__all__ = [
    "AWQConfig", "AbsMaxQuantizer", "Float8QuantizationConfig", "GPTQConfig",
    "Int4QuantizationConfig", "Int8QuantizationConfig", "QuantizationConfig", "Quantizer",
    "abs_max_quantize", "abs_max_quantize_grouped_with_zero_point",
    "compute_float8_amax_history", "compute_float8_scale", "deserialize",
    "fake_quant_with_min_max_vars", "get", "pack_int4", "quantize_and_dequantize",
    "serialize", "unpack_int4",
    # trine's helpers for layers that quantize
    "QUANTIZATION_MODES", "check_mode", "dequantize_grouped", "float8_inputs",
    "float8_output_gradient", "quantized_contraction", "resolve_config",
    "with_float_kernel_gradient",
]

_CLASSES = (Quantizer, AbsMaxQuantizer, QuantizationConfig, Int8QuantizationConfig,
            Int4QuantizationConfig, Float8QuantizationConfig, GPTQConfig, AWQConfig)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
_BASES = (Quantizer, QuantizationConfig)


def serialize(obj) -> dict | None:
    """The Keras record of a quantizer or quantization config (None for None)."""
    if obj is None:
        return None
    if not isinstance(obj, _BASES):
        raise ValueError(f"trine.quantizers.serialize expected a Quantizer or QuantizationConfig, "
                         f"received {obj!r} (of type {type(obj).__name__}).")
    return registration.object_record(obj, "keras.quantizers", _BY_NAME)


def deserialize(config, custom_objects=None):
    """Rebuild a quantizer or config from `serialize`'s record.

    Raises:
        ValueError: for a record naming a class outside the allow-list that is neither
            registered nor in `custom_objects`.
    """
    if not isinstance(config, dict):
        raise ValueError(
            f"trine.quantizers.deserialize expected a config dict, received {config!r}.")
    name = config.get("class_name")
    cls = registration.get_registered_object(config.get("registered_name") or name,
                                             custom_objects) or _BY_NAME.get(name)
    if not (inspect.isclass(cls) and issubclass(cls, _BASES)):
        raise ValueError(
            f"Unknown quantizer {name!r}. Known: {sorted(c.__name__ for c in _CLASSES)}; "
            "register a custom class or pass it in custom_objects.")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier, **kwargs):
    """A quantizer or config from None, a record, a class name (instantiated with `kwargs`)
    or an instance.

    Raises:
        ValueError: for anything else.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    obj = _BY_NAME.get(identifier) if isinstance(identifier, str) else identifier
    if inspect.isclass(obj) and issubclass(obj, _BASES):
        return obj(**kwargs)
    if isinstance(obj, _BASES) or (obj is not None and callable(obj)):
        return obj
    raise ValueError(f"Could not interpret quantizer identifier {identifier!r}: expected a "
                     f"name in {sorted(_BY_NAME)}, a config dict or a Quantizer.")
