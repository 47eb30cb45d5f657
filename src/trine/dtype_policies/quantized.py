"""Quantized dtype policies: "<mode>_from_<source policy>", e.g. "int8_from_float32".

The mode decides which variables a layer builds (an int8 kernel and its scale, a packed int4
kernel, float8 scales and histories); the source policy gives the compute and variable dtypes
of everything else. Saved in a layer's config, the policy makes the loaded layer build the
quantized variables, so the saved weights fit.
"""
from __future__ import annotations

from trine.config import DTypePolicy, dtype_policy

QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")


class QuantizedDTypePolicy(DTypePolicy):
    """A policy of quantized weights.

    Args:
        mode: "int8", "float8", "int4", "gptq" or "awq".
        source_name: the policy of the float computation (default the global policy's).

    Raises:
        ValueError: for an unknown mode, or int8 with a float16 compute dtype.
    """

    def __init__(self, mode, source_name=None):
        if source_name is None:
            source_name = dtype_policy().name
        source = DTypePolicy(source_name)
        base_mode = mode.split("/")[0] if isinstance(mode, str) else mode
        if base_mode not in QUANTIZATION_MODES:
            raise ValueError(f"{type(self).__name__}: invalid quantization mode {mode!r}, "
                             f"expected one of {QUANTIZATION_MODES}.")
        if base_mode == "int8" and source.compute_dtype == "float16":
            raise ValueError(
                "Quantization mode='int8' does not work well with compute_dtype='float16'; "
                "use a 'bfloat16' or 'float32' source policy.")
        self._compute, self._variable = source.compute_dtype, source.variable_dtype
        self._name = f"{mode}_from_{source_name}"
        self._source_name = source_name
        self._quantization_mode = base_mode

    quantization_mode = property(lambda self: self._quantization_mode)
    source_name = property(lambda self: self._source_name)

    def get_config(self):
        return {"mode": self._quantization_mode, "source_name": self._source_name}

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<{type(self).__name__} "{self._name}">'


class QuantizedFloat8DTypePolicy(QuantizedDTypePolicy):
    """The float8 policy; `amax_history_length` is the window of delayed scaling.

    Raises:
        TypeError: when amax_history_length is not an integer.
    """

    default_amax_history_length = 1024

    def __init__(self, mode, source_name=None, amax_history_length=1024):
        super().__init__(mode, source_name)
        if isinstance(amax_history_length, bool) or not isinstance(amax_history_length, int):
            raise TypeError("QuantizedFloat8DTypePolicy: amax_history_length must be an integer, "
                            f"received {amax_history_length!r}.")
        self._amax_history_length = amax_history_length

    @property
    def amax_history_length(self):
        return self._amax_history_length

    def get_config(self):
        return {**super().get_config(), "amax_history_length": self._amax_history_length}


class _NumberedModePolicy(QuantizedDTypePolicy):
    """A quantized policy whose mode carries integers: "<algorithm>/<n>[/<m>]"."""

    algorithm = ""
    fields: tuple = ()

    def __init__(self, mode, source_name=None):
        cls = type(self).__name__
        parts = mode.split("/") if isinstance(mode, str) else []
        layout = "/".join([self.algorithm] + [f"<{f}>" for f in self.fields])
        if len(parts) != len(self.fields) + 1 or parts[0] != self.algorithm:
            raise ValueError(f"{cls}: invalid mode {mode!r}, expected the form '{layout}'.")
        try:
            numbers = [int(p) for p in parts[1:]]
        except ValueError:
            raise ValueError(f"{cls}: the numbers of mode {mode!r} must be integers, as in "
                             f"'{layout}'.") from None
        for field, value in zip(self.fields, numbers):
            setattr(self, field, value)
            problem = self._problem(field, value)
            if problem:
                raise ValueError(f"{cls}: {field} {problem}, received {value} from mode {mode!r}.")
        super().__init__(mode, source_name)
        self.mode = self.algorithm

    def _problem(self, field, value):
        """Why `value` is not a valid `field`, or None (sizes: -1 or a positive integer)."""
        return "must be -1 or a positive integer" if value < -1 or value == 0 else None

    def get_config(self):
        mode = "/".join([self.algorithm] + [str(getattr(self, f)) for f in self.fields])
        return {**super().get_config(), "mode": mode}


class Int4DTypePolicy(_NumberedModePolicy):
    """int4 with its block size: mode "int4/<block_size>" (-1: one scale per channel)."""

    algorithm, fields = "int4", ("block_size",)


class GPTQDTypePolicy(_NumberedModePolicy):
    """GPTQ: mode "gptq/<weight_bits>/<group_size>", bits in 2, 3, 4, 8."""

    algorithm, fields = "gptq", ("weight_bits", "group_size")

    def _problem(self, field, value):
        if field == "weight_bits":
            return None if value in (2, 3, 4, 8) else "must be 2, 3, 4 or 8"
        return super()._problem(field, value)


class AWQDTypePolicy(_NumberedModePolicy):
    """AWQ: mode "awq/4/<group_size>" (AWQ is 4-bit only)."""

    algorithm, fields = "awq", ("weight_bits", "group_size")

    def _problem(self, field, value):
        if field == "weight_bits":
            return None if value == 4 else "must be 4 (AWQ quantizes to 4 bits only)"
        return super()._problem(field, value)


def quantized_policy_from_name(name):
    """The quantized policy a name such as "int8_from_float32" or "int4/128_from_bfloat16"
    stands for.

    Raises:
        ValueError: for a name without exactly one "_from_" or of an unknown mode.
    """
    parts = name.split("_from_")
    if len(parts) != 2 or not parts[0].startswith(QUANTIZATION_MODES):
        raise ValueError(f"Cannot read {name!r} as a quantized dtype policy: expected "
                         "'<mode>_from_<policy>', e.g. 'int8_from_float32'.")
    mode, source = parts
    if mode.startswith("int4/"):
        return Int4DTypePolicy(mode, source)
    cls = {"gptq": GPTQDTypePolicy, "awq": AWQDTypePolicy,
           "float8": QuantizedFloat8DTypePolicy}.get(mode.split("/")[0], QuantizedDTypePolicy)
    return cls(mode, source)
