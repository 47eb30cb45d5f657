"""Symbolic tensors and the nodes that record layer calls (the Functional graph)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine.core import allocation


# Recording an operation as a graph node needs the op layer, which sits above core: it
# registers itself here when trine.layers is imported.
_op_recorder = [None]


def register_op_recorder(recorder) -> None:
    """Install `recorder(name, args, kwargs)`, which turns an operation on symbolic tensors
    into a graph node and returns its symbolic output."""
    _op_recorder[0] = recorder


def record_op(name: str, args, kwargs=None):
    """Apply operation `name` (an operator such as "add", or "ops.<function>") to symbolic
    `args` as a node of the graph being built."""
    if _op_recorder[0] is None:
        raise RuntimeError("trine.layers is not imported: operations on symbolic tensors "
                           "cannot be recorded. Import trine (or trine.layers) first.")
    return _op_recorder[0](name, tuple(args), dict(kwargs or {}))


class KerasTensor:
    """A symbolic tensor: a shape (None for unknown dims), a dtype and the call that made it.

    `_keras_history` is `(layer, node_index, tensor_index)`: which layer call produced it.
    """

    def __init__(self, shape, dtype="float32", name=None, record_history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = jnp.dtype(dtype).name
        allocation.check_shape(self.shape, self.dtype, f"a tensor of shape {self.shape}")
        self.name = name or "keras_tensor"
        self._keras_history = record_history

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, "
                f"name={self.name}>")

    def __hash__(self):
        return id(self)

    def __bool__(self):
        raise TypeError(
            "A symbolic tensor has no truth value: Python control flow that depends on the "
            "values of a tensor cannot be recorded in a graph. Use jax.numpy.where or "
            "jax.lax.cond inside a layer's call instead.")

    def __len__(self):
        if self.shape and self.shape[0] is not None:
            return self.shape[0]
        raise TypeError(f"len() of a symbolic tensor with unknown first dimension {self.shape}.")

    # Operators record an op node, so `x + y` on symbolic tensors becomes part of the graph.
    def _op(self, name, *others):
        return record_op(name, (self,) + others)

    def __add__(self, o): return self._op("add", o)
    def __radd__(self, o): return self._op("radd", o)
    def __sub__(self, o): return self._op("subtract", o)
    def __rsub__(self, o): return self._op("rsubtract", o)
    def __mul__(self, o): return self._op("multiply", o)
    def __rmul__(self, o): return self._op("rmultiply", o)
    def __truediv__(self, o): return self._op("divide", o)
    def __rtruediv__(self, o): return self._op("rdivide", o)
    def __matmul__(self, o): return self._op("matmul", o)
    def __rmatmul__(self, o): return self._op("rmatmul", o)
    def __pow__(self, o): return self._op("power", o)
    def __neg__(self): return self._op("negative")
    def __abs__(self): return self._op("absolute")
    def __getitem__(self, idx): return self._op("getitem", idx)


def is_symbolic(x) -> bool:
    return isinstance(x, KerasTensor)


def any_symbolic(tree) -> bool:
    return any(isinstance(l, KerasTensor) for l in jax.tree_util.tree_leaves(tree, is_leaf=is_symbolic))


class Node:
    """One call of a layer on symbolic tensors.

    Holds the call's arguments with KerasTensors as leaves, so the call can be replayed on
    real values: `node.replay(values_by_tensor_id)`.
    """

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        leaves, self._treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=is_symbolic)
        self._leaves = leaves
        self.input_tensors = [l for l in leaves if isinstance(l, KerasTensor)]
        self._out_leaves, self._out_treedef = jax.tree_util.tree_flatten(outputs, is_leaf=is_symbolic)
        self.output_tensors = list(self._out_leaves)
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, t in enumerate(self.output_tensors):
            t._keras_history = (layer, self.index, i)

    @property
    def parent_nodes(self):
        out = []
        for t in self.input_tensors:
            layer, ni, _ = t._keras_history
            out.append(layer._inbound_nodes[ni])
        return out

    @property
    def call_args(self):
        return jax.tree_util.tree_unflatten(self._treedef, self._leaves)

    def replay(self, values: dict, training=None):
        leaves = [values[id(l)] if isinstance(l, KerasTensor) else l for l in self._leaves]
        args, kwargs = jax.tree_util.tree_unflatten(self._treedef, leaves)
        if training is not None and "training" not in kwargs and self.layer._call_has_training:
            kwargs = dict(kwargs, training=training)
        outputs = self.layer(*args, **kwargs)
        flat = jax.tree_util.tree_leaves(outputs)
        if len(flat) != len(self.output_tensors):
            raise RuntimeError(
                f"Layer '{self.layer.name}' returned {len(flat)} outputs when replayed, but "
                f"{len(self.output_tensors)} when the graph was built. A layer's call must "
                "return the same structure for the same inputs.")
        for t, v in zip(self.output_tensors, flat):
            values[id(t)] = v
        return outputs
