"""What a layer accepts (Keras `InputSpec`) and the check of an input against it."""
from __future__ import annotations


class InputSpec:
    """What a layer accepts: rank limits and known axis sizes (Keras `InputSpec`)."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = dtype
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = dict(axes or {})
        self.name = name
        self.optional = optional


def format_shape(shape) -> str:
    """A shape as Keras prints it: `(None, 3)`, `(5,)`."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def check_input_spec(layer, spec: InputSpec, shape) -> None:
    shape = tuple(shape)
    name = layer.name
    if spec.ndim is not None and len(shape) != spec.ndim:
        raise ValueError(
            f"Layer '{name}' expected input of rank {spec.ndim}, received shape "
            f"{format_shape(shape)} (rank {len(shape)}). Reshape the input or change the layer "
            "feeding it.")
    if spec.min_ndim is not None and len(shape) < spec.min_ndim:
        raise ValueError(
            f"Layer '{name}' expected input of rank at least {spec.min_ndim}, received shape "
            f"{format_shape(shape)}. Add a batch axis or reshape the input.")
    if spec.max_ndim is not None and len(shape) > spec.max_ndim:
        raise ValueError(
            f"Layer '{name}' expected input of rank at most {spec.max_ndim}, received shape "
            f"{format_shape(shape)}. Add a Flatten or Reshape layer before it.")
    for axis, size in spec.axes.items():
        if size is None:
            continue
        try:
            got = shape[axis]
        except IndexError:
            got = None
        if got is not None and got != size:
            which = "last axis" if axis == -1 else f"axis {axis}"
            fix = (f"Add a Flatten layer before it, or pass input_shape=({size},)."
                   if axis == -1 and len(shape) > 2 else
                   f"Feed it inputs whose {which} is {size}, or use a new layer for the new shape.")
            raise ValueError(
                f"Layer '{name}' expected input with {which} {size}, received shape "
                f"{format_shape(shape)}. {fix}")
    if spec.shape is not None:
        for i, (want, got) in enumerate(zip(spec.shape, shape)):
            if want is not None and got is not None and want != got:
                raise ValueError(
                    f"Layer '{name}' expected input of shape {format_shape(spec.shape)}, "
                    f"received shape {format_shape(shape)} (axis {i} differs).")
