"""Probabilistic metrics: the running means of KL divergence, Poisson and the cross-entropies."""
from __future__ import annotations

from trine.losses import (binary_crossentropy, categorical_crossentropy, kl_divergence, poisson,
                          sparse_categorical_crossentropy)
from trine.metrics.base import _BuiltinWrapper


class KLDivergence(_BuiltinWrapper):
    """Running mean of `kl_divergence`.

    Args:
        name: default "kl_divergence".
        dtype: default float32.
    """

    def __init__(self, name: str = "kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


class Poisson(_BuiltinWrapper):
    """Running mean of `poisson`.

    Args:
        name: default "poisson".
        dtype: default float32.
    """

    def __init__(self, name: str = "poisson", dtype=None):
        super().__init__(poisson, name=name, dtype=dtype)




class BinaryCrossentropy(_BuiltinWrapper):
    """Running mean of `binary_crossentropy`.

    Args:
        name: default "binary_crossentropy".
        dtype: default float32.
        from_logits: whether predictions are logits (default False).
        label_smoothing: in [0, 1] (default 0).
    """

    _CONFIG_KEYS = ("from_logits", "label_smoothing")

    def __init__(self, name: str = "binary_crossentropy", dtype=None, from_logits: bool = False,
                 label_smoothing: float = 0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(_BuiltinWrapper):
    """Running mean of `categorical_crossentropy`.

    Args:
        name: default "categorical_crossentropy".
        dtype: default float32.
        from_logits: whether predictions are logits (default False).
        label_smoothing: in [0, 1] (default 0).
        axis: the class axis (default -1).
    """

    _CONFIG_KEYS = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name: str = "categorical_crossentropy", dtype=None,
                 from_logits: bool = False, label_smoothing: float = 0, axis: int = -1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_BuiltinWrapper):
    """Running mean of `sparse_categorical_crossentropy`.

    Args:
        name: default "sparse_categorical_crossentropy".
        dtype: default float32.
        from_logits: whether predictions are logits (default False).
        ignore_class: a label value to leave out (its entries count as 0, and are left out
            of the count only when sample weights are given, as in Keras).
        axis: the class axis (default -1).
    """

    _CONFIG_KEYS = ("from_logits", "ignore_class", "axis")

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype=None,
                 from_logits: bool = False, ignore_class: int | None = None, axis: int = -1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)


