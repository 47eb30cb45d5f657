"""Keras's default object names: the snake_case of a class or function name."""
from __future__ import annotations

import re


def keras_snake_case(name: str) -> str:
    """Keras's `to_snake_case`: losses, metrics and optimizers name themselves with it.

    It differs from `trine.core.naming.to_snake_case` (layer names) on purpose: it drops
    non-word characters ("<lambda>" -> "lambda") and splits before a capital only when
    lowercase letters follow ("MLP2" -> "mlp2"), as Keras does for these objects.

    Example:
        >>> keras_snake_case("SparseCategoricalCrossentropy")
        'sparse_categorical_crossentropy'
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
