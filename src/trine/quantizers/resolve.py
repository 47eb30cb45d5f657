"""`resolve_config`: the checked `(mode, config)` of a `quantize` call."""
from __future__ import annotations

from trine.dtype_policies import QUANTIZATION_MODES
from trine.quantizers.calibrated_configs import AWQConfig, GPTQConfig
from trine.quantizers.quantization_config import (Float8QuantizationConfig,
                                                  Int4QuantizationConfig, Int8QuantizationConfig,
                                                  QuantizationConfig)


def check_mode(mode):
    """Raise ValueError unless `mode` is None or a quantization mode."""
    if mode is not None and mode not in QUANTIZATION_MODES:
        raise ValueError(f"Invalid quantization mode {mode!r}: expected one of "
                         f"{QUANTIZATION_MODES}, e.g. model.quantize('int8').")


def resolve_config(mode, config):
    """The QuantizationConfig that `quantize(mode, config)` runs with: the mode's default
    when `config` is None; `mode` may be None when a config is given.

    Raises:
        ValueError: for an unknown mode, neither mode nor config, a config that is not a
            QuantizationConfig or contradicts `mode`, or gptq/awq without their config.
    """
    if isinstance(config, str):
        mode, config = config, None
    check_mode(mode)
    if config is None:
        defaults = {"int8": Int8QuantizationConfig, "int4": Int4QuantizationConfig,
                    "float8": Float8QuantizationConfig}
        if mode in ("gptq", "awq"):
            name = "GPTQConfig" if mode == "gptq" else "AWQConfig"
            raise ValueError(f"quantize: mode={mode!r} needs config=trine.quantizers.{name}(...) "
                             "(it calibrates on a dataset).")
        if mode is None:
            raise ValueError("quantize: pass a mode ('int8', 'int4', 'float8') or a config.")
        return defaults[mode]()
    if not isinstance(config, QuantizationConfig):
        raise ValueError(
            "quantize: config must be a trine.quantizers.QuantizationConfig, received "
            f"{config!r} (of type {type(config).__name__}).")
    if mode is not None and config.mode != mode:
        raise ValueError(f"quantize: contradictory arguments, mode={mode!r} but "
                         f"config.mode={config.mode!r}. Pass one of them, or matching ones.")
    check_mode(config.mode)
    expected = {"gptq": GPTQConfig, "awq": AWQConfig}.get(config.mode)
    if expected is not None and not isinstance(config, expected):
        raise ValueError(f"quantize: mode {config.mode!r} needs a {expected.__name__}, "
                         f"received {type(config).__name__}.")
    return config
