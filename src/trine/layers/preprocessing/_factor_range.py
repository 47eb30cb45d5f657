"""Keras's rule for the `factor` arguments of the random image layers: a number `f` means
the range `(-f, f)`, a pair is the range itself, every value within the layer's bounds."""
from __future__ import annotations

import numpy as np


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)


def check_factor(layer, factor, bounds=(-1.0, 1.0), arg="factor", zero_low=False,
                 low_open=False):
    """The `(low, high)` range that `factor` stands for: a pair, sorted; a number `f`,
    `(-f, f)` clipped to the lower bound (`(0, f)` with `zero_low`).

    Raises:
        ValueError: naming the layer and `arg`, for anything but a number or a pair of
            numbers within `bounds` (the lower bound excluded with `low_open`).
    """
    def bad():
        opening = "(" if low_open else "["
        return ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected {arg} to be a number or a "
            f"pair of numbers in {opening}{bounds[0]}, {bounds[1]}], received {arg}={factor!r}.")

    def within(v) -> bool:
        return bounds[0] <= v <= bounds[1] and not (low_open and v == bounds[0])

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_is_number(f) for f in factor):
            raise bad()
        lo, hi = sorted(float(f) for f in factor)
        if not (within(lo) and within(hi)):
            raise bad()
        return lo, hi
    if not _is_number(factor) or not within(factor):
        raise bad()
    f = abs(float(factor))
    return (0.0 if zero_low else max(-f, bounds[0])), f
