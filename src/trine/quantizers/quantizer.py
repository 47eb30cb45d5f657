"""`Quantizer`, the base of weight and activation quantizers, and `AbsMaxQuantizer`."""
from __future__ import annotations

from trine import config
from trine.quantizers.abs_max import abs_max_quantize


class Quantizer:
    """Base class: `__call__(x)` returns the quantized form of `x` (here: `x` unchanged).

    Args:
        output_dtype: the dtype of the quantized values (default "int8").
    """

    def __init__(self, output_dtype="int8"):
        self.output_dtype = output_dtype

    def __call__(self, x):
        return x

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"{type(self).__name__} does not implement get_config(); define it to return the "
            "constructor arguments so the quantizer can be saved.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class AbsMaxQuantizer(Quantizer):
    """Symmetric quantizer: `x * value_range[1] / max|x|` along `axis`, rounded and clipped.

    Args:
        axis: the reduction axis (deprecated here, pass it to `__call__`; default -1 there).
        value_range: the integer range `(low, high)` (default (-127, 127)).
        epsilon: added to `max|x|` so an all-zero slice does not divide by zero.
        output_dtype: dtype of the quantized values (default "int8").

    Raises:
        ValueError: for an int8 output whose `value_range` leaves [-128, 127].

    Example:
        >>> q, scale = AbsMaxQuantizer()(jnp.array([[1.0, -2.0]]))
        >>> q
        Array([[ 64, -127]], dtype=int8)
    """

    def __init__(self, axis=None, value_range=(-127, 127), epsilon=None, output_dtype="int8"):
        super().__init__(output_dtype=output_dtype)
        self.axis = None if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
        self.value_range = tuple(value_range)
        self.epsilon = config.epsilon() if epsilon is None else epsilon
        if output_dtype == "int8" and (self.value_range[0] < -128 or self.value_range[1] > 127):
            raise ValueError(
                "AbsMaxQuantizer with output_dtype='int8' needs value_range inside [-128, 127], "
                f"received value_range={value_range}. Narrow the range or widen output_dtype.")

    def __call__(self, x, axis=None, to_numpy=False):
        """`(quantized, scale)` of `x`; `axis` defaults to the constructor's, then -1."""
        axis = self.axis if axis is None else axis
        return abs_max_quantize(x, -1 if axis is None else axis, self.value_range,
                                self.output_dtype, self.epsilon, to_numpy)

    def get_config(self) -> dict:
        cfg = {"value_range": self.value_range, "epsilon": self.epsilon,
               "output_dtype": self.output_dtype}
        if self.axis is not None:
            cfg["axis"] = self.axis
        return cfg
