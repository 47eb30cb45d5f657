"""Helpers shared by the preprocessing layers: argument checks, categorical encoding,
host-side (NumPy) input handling and the guard that keeps host layers out of jit."""
from __future__ import annotations

import numpy as np

import jax

from trine.core.layer import Layer
from trine.core.symbolic import KerasTensor, any_symbolic

ENCODE_MODES = ("one_hot", "multi_hot", "count")


def adapt_batches(data, steps=None):
    """The batches `adapt` reads from an iterable: at most `steps` of them, each reduced to
    its inputs (the first item of an `(x, y, ...)` tuple)."""
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            break
        yield batch[0] if isinstance(batch, tuple) else batch


def reject_sparse(layer, sparse) -> None:
    """Refuse `sparse=True`: trine has no sparse tensors to return.

    Raises:
        ValueError: naming the layer, when `sparse` is true.
    """
    if sparse:
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}': sparse=True is not supported by "
            "trine (it has no sparse tensors). Use sparse=False.")


def standardize_data_format(layer_name: str, data_format) -> str:
    """`None` means the global `trine.config.image_data_format()`."""
    if data_format is None:
        from trine.config import image_data_format
        return image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f"Layer '{layer_name}' expected data_format 'channels_last' or 'channels_first', "
            f"received data_format={data_format!r}.")
    return data_format


def check_choice(layer_name: str, arg: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(
            f"Layer '{layer_name}' expected {arg} to be one of {list(allowed)}, received "
            f"{arg}={value!r}.")


def is_int_like(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def is_traced(x) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def one_hot(xp, idx, depth: int, dtype):
    """One-hot along a new last axis; indices outside [0, depth) give all-zero rows."""
    return (idx[..., None] == xp.arange(depth, dtype=idx.dtype)).astype(dtype)


def encode_categorical(xp, idx, output_mode: str, depth: int, dtype, count_weights=None):
    """Encode integer indices as Keras's `encode_categorical_inputs` does.

    - scalars become one sample;
    - "one_hot": a trailing axis of size 1 is replaced by the encoding, otherwise a new axis
      is added;
    - "multi_hot" / "count": axis 1 (axis 0 for rank-1 input) is reduced, so a rank-1 input
      is one sample and a (batch, n) input gives (batch, depth).

    `xp` is `numpy` (host layers) or `jax.numpy` (device layers).
    """
    idx = xp.asarray(idx)
    if idx.ndim == 0:
        idx = idx[None]
    if output_mode == "one_hot":
        if idx.ndim > 1 and idx.shape[-1] == 1:
            idx = idx[..., 0]
        return one_hot(xp, idx, depth, dtype)
    reduce_axis = 1 if idx.ndim > 1 else 0
    enc = one_hot(xp, idx, depth, dtype)
    if output_mode == "multi_hot":
        return enc.max(axis=reduce_axis)
    if count_weights is not None:
        enc = enc * xp.asarray(count_weights, dtype)[..., None]
    return enc.sum(axis=reduce_axis)


def encoded_shape(input_shape, output_mode: str, depth):
    """The output shape of `encode_categorical` for an input shape (None dims allowed)."""
    shape = tuple(input_shape)
    if len(shape) == 0:
        shape = (1,)
    if output_mode == "int":
        return tuple(input_shape)
    if output_mode == "one_hot":
        if len(shape) > 1 and shape[-1] == 1:
            shape = shape[:-1]
        return shape + (depth,)
    if len(shape) == 1:
        return (depth,)
    return (shape[0],) + shape[2:] + (depth,)


# --------------------------------------------------------------------------------------
# host layers
def to_numpy_strings(x, encoding: str = "utf-8"):
    """Lists / NumPy arrays of str or bytes -> a NumPy array of Python `str` (dtype object)."""
    arr = np.asarray(x, dtype=object) if not isinstance(x, np.ndarray) else x
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, encoding).astype(object)
    elif arr.dtype.kind == "U":
        arr = arr.astype(object)
    elif arr.dtype.kind == "O":
        flat = [v.decode(encoding) if isinstance(v, bytes) else v for v in arr.reshape(-1)]
        arr = np.array(flat + [None], dtype=object)[:-1].reshape(arr.shape)
    return arr


class HostLayer(Layer):
    """Base of the layers that run on the host (NumPy / Python), before the device step.

    They work on strings (or hash values with 64-bit arithmetic), which JAX cannot hold,
    so they cannot be traced by `jax.jit` and cannot be part of a Functional graph. Apply
    them to the data before `fit` (`x = layer(texts)`), or in the input pipeline.
    `_runs_on_host = True` marks them for the trainer and the docs.
    """

    _runs_on_host = True

    def _host_guard(self, inputs):
        if isinstance(inputs, KerasTensor) or any_symbolic(inputs):
            raise TypeError(
                f"Layer '{self.name}' ({type(self).__name__}) runs on the host on NumPy/Python "
                "data (strings), so it cannot be called on a symbolic Input inside a "
                "Functional or Sequential model. Apply it to your data before fit instead: "
                f"`x = {type(self).__name__.lower()}_layer(raw_data)`, then feed `x` to a "
                "model that starts after this layer.")
        if is_traced(inputs):
            raise TypeError(
                f"Layer '{self.name}' ({type(self).__name__}) runs on the host and cannot be "
                "traced by jax.jit (received a traced array). JAX has no string arrays, and "
                "this layer's lookups happen in Python. Apply it to the data before fit or "
                "predict, outside any jitted function.")

    def __call__(self, inputs, *args, **kwargs):
        self._host_guard(inputs)
        kwargs.pop("training", None)
        kwargs.pop("mask", None)
        if not self.built:
            self.build(None)
            self.built = True
        return self.call(inputs, *args, **kwargs)

    def build(self, input_shape=None):
        self.built = True
