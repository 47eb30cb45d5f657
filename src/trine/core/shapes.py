"""Shape structures shared by layers and models."""
from __future__ import annotations


def unbatched(shape):
    """Replace the batch dimension of (a structure of) shapes by None."""
    if isinstance(shape, dict):
        return {k: unbatched(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [unbatched(s) for s in shape]
    shape = tuple(shape)
    return (None,) + shape[1:] if shape else shape
