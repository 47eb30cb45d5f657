"""Shape structures shared by layers and models."""
from __future__ import annotations

import numpy as np

from trine.core.symbolic import KerasTensor
from trine.core.variable import Variable


def unbatched(shape):
    """Replace the batch dimension of (a structure of) shapes by None."""
    if isinstance(shape, dict):
        return {k: unbatched(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [unbatched(s) for s in shape]
    shape = tuple(shape)
    return (None,) + shape[1:] if shape else shape


def shape_of(x):
    if isinstance(x, (KerasTensor, Variable)) or hasattr(x, "shape"):
        return tuple(x.shape)
    return tuple(np.shape(x))


def shapes_tree(x):
    """Shapes of the first call argument, in its structure (tuple for one tensor)."""
    if isinstance(x, (list, tuple)):
        return [shapes_tree(e) for e in x]
    if isinstance(x, dict):
        return {k: shapes_tree(v) for k, v in x.items()}
    return shape_of(x)


def json_shape(shape):
    """A shape (or a nest of shapes) as plain lists and ints, as configs hold it."""
    if isinstance(shape, dict):
        return {k: json_shape(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and any(isinstance(e, (list, tuple, dict)) for e in shape):
        return [json_shape(e) for e in shape]
    if isinstance(shape, (list, tuple)):
        return [None if d is None else int(d) for d in shape]
    return shape


def placeholders(shape):
    """Symbolic tensors of `shape` (a shape, or a list / dict of shapes), as Input would make."""
    if isinstance(shape, dict):
        return {k: placeholders(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [placeholders(s) for s in shape]
    return KerasTensor(tuple(shape))
