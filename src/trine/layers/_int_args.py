"""Checks of the positive-integer arguments of layers (units, filters, num_bins, ...)."""
from __future__ import annotations

import numpy as np


def is_positive_int(value) -> bool:
    """Whether `value` is an int or NumPy integer (not a bool) above 0."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0


def positive_int_arg(layer, arg: str, value, example=None) -> int:
    """`value` of argument `arg` as an int, which must be positive.

    Raises:
        ValueError: naming the layer and the argument, with an `example` value to pass.
    """
    if not is_positive_int(value):
        hint = "" if example is None else f" Pass e.g. {arg}={example}."
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected {arg} to be a positive "
            f"integer, received {arg}={value!r}.{hint}")
    return int(value)
