"""GPTQ and AWQ configs: quantization calibrated on data (the settings; trine does not run
the calibration yet, see `Model.quantize`)."""
from __future__ import annotations

from trine.quantizers.quantization_config import QuantizationConfig


def _check_common(name, num_samples, sequence_length, group_size):
    if num_samples <= 0:
        raise ValueError(f"{name}: num_samples must be a positive integer, received {num_samples}.")
    if sequence_length <= 0:
        raise ValueError(f"{name}: sequence_length must be a positive integer, received "
                         f"{sequence_length}.")
    if group_size < -1 or group_size == 0:
        raise ValueError(f"{name}: group_size must be -1 (one group) or a positive integer, "
                         f"received {group_size}.")


class _CalibratedConfig(QuantizationConfig):
    """A config of calibrated quantization; `_SAVED` lists the settings its record keeps
    (the dataset and tokenizer are never saved)."""

    _SAVED: tuple = ()

    def dtype_policy_string(self) -> str:
        return f"{self.mode}/{self.weight_bits}/{self.group_size}"

    def get_config(self) -> dict:
        return {"dataset": None, "tokenizer": None,
                **{name: getattr(self, name) for name in self._SAVED}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class GPTQConfig(_CalibratedConfig):
    """Settings of GPTQ post-training quantization.

    Args:
        dataset / tokenizer: the calibration data and its tokenizer (not saved).
        weight_bits: 2, 3, 4 or 8. num_samples / sequence_length: calibration size.
        per_channel, symmetric, activation_order: quantization options.
        hessian_damping: in [0, 1]. group_size: -1 or a positive integer.
        quantization_layer_structure: the model's blocks, as Keras describes them.
    """

    def __init__(self, dataset, tokenizer, *, weight_bits=4, num_samples=128, per_channel=True,
                 sequence_length=512, hessian_damping=0.01, group_size=128, symmetric=False,
                 activation_order=False, quantization_layer_structure=None):
        super().__init__()
        if weight_bits not in (2, 3, 4, 8):
            raise ValueError(
                f"GPTQConfig: weight_bits must be 2, 3, 4 or 8, received {weight_bits}.")
        _check_common("GPTQConfig", num_samples, sequence_length, group_size)
        if not 0 <= hessian_damping <= 1:
            raise ValueError(f"GPTQConfig: hessian_damping must be in [0, 1], received "
                             f"{hessian_damping}.")
        self.dataset, self.tokenizer = dataset, tokenizer
        self.weight_bits, self.num_samples = weight_bits, num_samples
        self.per_channel, self.sequence_length = per_channel, sequence_length
        self.hessian_damping, self.group_size = hessian_damping, group_size
        self.symmetric, self.activation_order = symmetric, activation_order
        self.quantization_layer_structure = quantization_layer_structure

    _SAVED = ("weight_bits", "num_samples", "per_channel", "sequence_length",
              "hessian_damping", "group_size", "symmetric", "activation_order",
              "quantization_layer_structure")

    @property
    def mode(self) -> str:
        return "gptq"


class AWQConfig(_CalibratedConfig):
    """Settings of AWQ (activation-aware) 4-bit post-training quantization.

    Args:
        dataset / tokenizer: the calibration data and its tokenizer (not saved).
        weight_bits: must be 4. num_samples / sequence_length: calibration size.
        group_size: -1 or a positive integer. num_grid_points: scale search resolution.
        quantization_layer_structure: the model's blocks, as Keras describes them.
    """

    def __init__(self, dataset, tokenizer, *, weight_bits=4, num_samples=128,
                 sequence_length=512, group_size=128, num_grid_points=20,
                 quantization_layer_structure=None):
        super().__init__()
        if weight_bits != 4:
            raise ValueError(f"AWQConfig: AWQ quantizes to 4 bits only, received "
                             f"weight_bits={weight_bits}.")
        _check_common("AWQConfig", num_samples, sequence_length, group_size)
        if num_grid_points <= 0:
            raise ValueError(f"AWQConfig: num_grid_points must be a positive integer, received "
                             f"{num_grid_points}.")
        self.dataset, self.tokenizer = dataset, tokenizer
        self.weight_bits, self.num_samples = weight_bits, num_samples
        self.sequence_length, self.group_size = sequence_length, group_size
        self.num_grid_points = num_grid_points
        self.quantization_layer_structure = quantization_layer_structure

    _SAVED = ("weight_bits", "num_samples", "sequence_length", "group_size",
              "num_grid_points", "quantization_layer_structure")

    @property
    def mode(self) -> str:
        return "awq"
