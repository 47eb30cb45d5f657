"""Quantization configs: which quantizers `quantize(mode, config=...)` uses for weights and
activations, one class per mode (GPTQ / AWQ: calibrated_configs)."""
from __future__ import annotations

from trine.core import registration
from trine.quantizers.quantizer import AbsMaxQuantizer, Quantizer

# the quantizers a config's record may name (besides registered ones)
QUANTIZER_CLASSES = {"Quantizer": Quantizer, "AbsMaxQuantizer": AbsMaxQuantizer}


def _record(quantizer):
    if quantizer is None:
        return None
    return registration.object_record(quantizer, "keras.quantizers", QUANTIZER_CLASSES)


def _object(record):
    if record is None:
        return None
    cls = registration.resolve_class(record, QUANTIZER_CLASSES, Quantizer, "quantizer")
    return cls.from_config(dict(record.get("config") or {}))


class QuantizationConfig:
    """Base of the quantization configs.

    Args:
        weight_quantizer: the Quantizer of the weights (None: the mode's default).
        activation_quantizer: the Quantizer of the inputs (None: inputs stay float).
    """

    def __init__(self, weight_quantizer=None, activation_quantizer=None):
        self.weight_quantizer = weight_quantizer
        self.activation_quantizer = activation_quantizer

    @property
    def mode(self) -> str:
        raise NotImplementedError(
            "QuantizationConfig is a base class: use Int8QuantizationConfig, "
            "Int4QuantizationConfig, Float8QuantizationConfig, GPTQConfig or AWQConfig.")

    def get_config(self) -> dict:
        return {"weight_quantizer": _record(self.weight_quantizer),
                "activation_quantizer": _record(self.activation_quantizer)}

    @classmethod
    def from_config(cls, config):
        return cls(weight_quantizer=_object(config.get("weight_quantizer")),
                   activation_quantizer=_object(config.get("activation_quantizer")))

    @staticmethod
    def weight_quantizer_or_default(config, default):
        """The config's weight quantizer, or `default` when there is none."""
        if config is not None and config.weight_quantizer is not None:
            return config.weight_quantizer
        return default

    @staticmethod
    def activation_quantizer_or_default(config, default):
        """The config's activation quantizer (None included), or `default` without a config."""
        return default if config is None else config.activation_quantizer


def _check_output_dtype(config_name, quantizer):
    if quantizer is not None and quantizer.output_dtype != "int8":
        raise ValueError(
            f"{config_name} needs a weight_quantizer with output_dtype='int8', received "
            f"output_dtype={quantizer.output_dtype!r}.")


class Int8QuantizationConfig(QuantizationConfig):
    """int8 weights (per output channel) and, by default, int8 inputs (per row).

    Args:
        weight_quantizer: default `AbsMaxQuantizer(axis=0)` at quantize time.
        activation_quantizer: "default" (an `AbsMaxQuantizer()`), a Quantizer, or None.
    """

    def __init__(self, weight_quantizer=None, activation_quantizer="default"):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = AbsMaxQuantizer()
        super().__init__(weight_quantizer, activation_quantizer)
        _check_output_dtype("Int8QuantizationConfig", self.weight_quantizer)

    @property
    def mode(self) -> str:
        return "int8"


class Int4QuantizationConfig(QuantizationConfig):
    """int4 weights, two a byte.

    Args:
        weight_quantizer: for per-channel mode, an `AbsMaxQuantizer` with value_range (-8, 7).
        activation_quantizer: "default" (None: inputs stay float), a Quantizer, or None.
        block_size: rows per group for sub-channel quantization with a zero point (default
            128); None or -1 for one symmetric scale per output channel.

    Raises:
        ValueError: for a block_size other than None, -1 or a positive integer; custom
            quantizers with sub-channel blocks; a weight quantizer of the wrong range or dtype.
    """

    def __init__(self, weight_quantizer=None, activation_quantizer="default", block_size=128):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = None
        super().__init__(weight_quantizer, activation_quantizer)
        if block_size is not None and block_size != -1 and block_size <= 0:
            raise ValueError(
                "Int4QuantizationConfig: block_size must be None, -1 or a positive integer, "
                f"received block_size={block_size}.")
        self.block_size = block_size
        custom = self.weight_quantizer is not None or self.activation_quantizer is not None
        if block_size is not None and block_size > 0 and custom:
            raise ValueError(
                "Int4QuantizationConfig: sub-channel quantization (block_size > 0) takes no "
                f"custom quantizers (received block_size={block_size}). Set block_size=None "
                "(or -1) for per-channel quantization, or drop the quantizer arguments.")
        if self.weight_quantizer is not None:
            if tuple(getattr(self.weight_quantizer, "value_range", ())) != (-8, 7):
                raise ValueError(
                    "Int4QuantizationConfig needs a weight_quantizer with value_range=(-8, 7), "
                    f"received {getattr(self.weight_quantizer, 'value_range', None)}.")
            _check_output_dtype("Int4QuantizationConfig", self.weight_quantizer)

    @property
    def mode(self) -> str:
        return "int4"

    def get_config(self) -> dict:
        return {**super().get_config(), "block_size": self.block_size}

    @classmethod
    def from_config(cls, config):
        return cls(weight_quantizer=_object(config.get("weight_quantizer")),
                   activation_quantizer=_object(config.get("activation_quantizer")),
                   block_size=config.get("block_size"))


class Float8QuantizationConfig(QuantizationConfig):
    """Float8 training (delayed scaling); it takes no custom quantizers."""

    def __init__(self):
        super().__init__(None, None)

    @property
    def mode(self) -> str:
        return "float8"

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls()
