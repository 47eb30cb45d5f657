"""Operators on symbolic tensors (`x + y`, `x[:, 0]`) recorded as graph nodes."""
from __future__ import annotations

import operator

import jax.numpy as jnp

from trine.core.layer import Layer

_OPS = {
    "add": operator.add, "radd": lambda a, b: b + a,
    "subtract": operator.sub, "rsubtract": lambda a, b: b - a,
    "multiply": operator.mul, "rmultiply": lambda a, b: b * a,
    "divide": operator.truediv, "rdivide": lambda a, b: b / a,
    "matmul": jnp.matmul, "rmatmul": lambda a, b: jnp.matmul(b, a),
    "power": operator.pow, "negative": operator.neg, "absolute": jnp.abs,
    "getitem": lambda a, idx: a[idx],
}


class OpLayer(Layer):
    """A stateless layer for one operator applied to symbolic tensors."""

    def __init__(self, op: str, op_kwargs=None, **kwargs):
        super().__init__(name=kwargs.pop("name", None), **kwargs)
        if op not in _OPS and not (op.startswith("ops.") and op[4:].isidentifier()):
            raise ValueError(
                f"OpLayer '{self.name}': unknown op {op!r}; expected one of {sorted(_OPS)} "
                "or 'ops.<name>' of a trine.ops function.")
        self.op = op
        self.op_kwargs = dict(op_kwargs or {})
        self.built = True

    def call(self, x, *others):
        if self.op.startswith("ops."):
            from trine import ops
            try:
                fn = getattr(ops, self.op[4:])
            except AttributeError as e:
                raise ValueError(f"OpLayer '{self.name}': {e}") from None
            return fn(x, *others, **self.op_kwargs)
        return _OPS[self.op](x, *others)

    def get_config(self):
        cfg = super().get_config()
        cfg["op"] = self.op
        if self.op_kwargs:
            cfg["op_kwargs"] = self.op_kwargs
        return cfg


def op_call(name, x, *others):
    return OpLayer(name)(x, *others)
