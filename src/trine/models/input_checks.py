"""What a model does with arrays that do not match its `Input`s, as Keras does it.

Rank: an array one axis short of an input whose last axis is 1 gains that axis, and one with
an extra trailing axis of size 1 loses it (Keras's Functional rule); any other difference is
an error. Errors name what the user wrote: a Sequential model's first layer and the model,
never the graph trine builds underneath.
"""
from __future__ import annotations

import jax.numpy as jnp

from trine.core.input_spec import format_shape


def adjust_rank(ref_shape, x):
    """`x` with Keras's one-axis rank adjustment towards `ref_shape`, or `x` unchanged."""
    shape = tuple(x.shape) if hasattr(x, "shape") else ()
    if len(shape) == len(ref_shape) + 1 and shape[-1] == 1:
        return jnp.squeeze(jnp.asarray(x), axis=-1)
    if len(shape) == len(ref_shape) - 1 and ref_shape[-1] == 1:
        return jnp.expand_dims(jnp.asarray(x), axis=-1)
    return x


def incompatible_input(model, index: int, tensor, shape) -> ValueError:
    """The error for input `index` of `model` received with `shape`.

    A model that stands for another (a Sequential's graph) reports as its owner: the
    message names the owner's first layer, as Keras's input-spec check does.
    """
    owner, first = getattr(model, "_reported_as", (None, None))
    expected = tuple(tensor.shape)
    if len(shape) != len(expected):
        detail = (f"expected ndim={len(expected)}, found ndim={len(shape)}. Full shape "
                  f"received: {format_shape(shape)}")
    else:
        axis = next(i for i, (a, b) in enumerate(zip(expected, shape))
                    if a is not None and a != b)
        name = -1 if axis == len(expected) - 1 else axis
        detail = (f"expected axis {name} of input shape to have value {expected[axis]}, but "
                  f"received input with shape {format_shape(shape)}")
    if owner is not None:
        return ValueError(
            f"Input {index} of layer '{first.name}' is incompatible with the layer: {detail}. "
            f"{type(owner).__name__} model '{owner.name}' takes inputs of shape "
            f"{format_shape(expected)}: pass arrays of that shape, or change the model's input "
            "shape (Input(shape=...) or the first layer's input_shape).")
    input_name = tensor._keras_history[0].name
    return ValueError(
        f"Input {index} with name '{input_name}' of layer '{model.name}' is incompatible with "
        f"the layer: expected shape={format_shape(expected)}, found shape={format_shape(shape)} "
        f"({detail}). "
        + ("Reshape the data, or add a Flatten/Reshape layer to the model."
           if len(shape) != len(expected) else
           "Check that you pass the right array for this input."))
