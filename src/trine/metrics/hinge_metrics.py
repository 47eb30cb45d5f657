"""Hinge metrics: the running means of the hinge losses."""
from __future__ import annotations

from trine.losses import categorical_hinge, hinge, squared_hinge
from trine.metrics.base import _BuiltinWrapper


class Hinge(_BuiltinWrapper):
    """Running mean of `hinge`.

    Args:
        name: default "hinge".
        dtype: default float32.
    """

    def __init__(self, name: str = "hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)


class SquaredHinge(_BuiltinWrapper):
    """Running mean of `squared_hinge`.

    Args:
        name: default "squared_hinge".
        dtype: default float32.
    """

    def __init__(self, name: str = "squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(_BuiltinWrapper):
    """Running mean of `categorical_hinge`.

    Args:
        name: default "categorical_hinge".
        dtype: default float32.
    """

    def __init__(self, name: str = "categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)


