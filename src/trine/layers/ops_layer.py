"""Operators on symbolic tensors (`x + y`, `x[:, 0]`) recorded as graph nodes."""
from __future__ import annotations

import operator

import jax.numpy as jnp

from trine import registry
from trine.registry.errors import UnsafeFileError
from trine.core import symbolic
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
_LITERALS = (str, int, float, bool, type(None))


def _check_literal(value, where, depth=0):
    """Keyword arguments read from a file must be JSON literals (no objects, no code)."""
    if depth > 16:
        raise ValueError(f"{where}: op_kwargs nested too deeply.")
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_literal(v, where, depth + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: op_kwargs keys must be strings, received {k!r}.")
            _check_literal(v, where, depth + 1)
    elif not isinstance(value, _LITERALS):
        raise ValueError(f"{where}: op_kwargs must hold JSON literals, received "
                         f"{type(value).__name__}.")


class OpLayer(Layer):
    """A stateless layer for one operator applied to symbolic tensors."""

    def __init__(self, op: str, op_kwargs=None, **kwargs):
        super().__init__(name=kwargs.pop("name", None), **kwargs)
        if not isinstance(op, str) or (op not in _OPS and not (
                op.startswith("ops.") and op[4:].isidentifier())):
            raise ValueError(
                f"OpLayer '{self.name}': unknown op {op!r}; expected one of {sorted(_OPS)} "
                "or 'ops.<name>' of a trine.ops function.")
        self.op = op
        self.op_kwargs = dict(op_kwargs or {})
        self.built = True

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild from a file: only operators and allow-listed ops, with literal kwargs.

        Raises:
            ValueError (`UnsafeFileError` through load_model): for an op not on the allow-list
                of `trine.registry.allowlist.OPS_LAYER_FUNCTIONS`.
        """
        config = dict(config)
        op = config.get("op")
        where = f"OpLayer '{config.get('name', '?')}'"
        if not isinstance(op, str) or not (op in _OPS or (
                op.startswith("ops.") and registry.is_allowed_op(op[4:]))):
            raise UnsafeFileError(
                f"{where}: refused to load op {op!r}: only the tensor operators "
                f"{sorted(_OPS)} and the pure ops listed in trine.registry.allowlist "
                "(OPS_LAYER_FUNCTIONS) may be named in a model file.")
        _check_literal(config.get("op_kwargs") or {}, where)
        return cls(**config)

    def call(self, x, *others):
        if self.op.startswith("ops."):
            fn = registry.resolve_op(self.op[4:])
            if fn is None:  # an op built in code (not from a file) that files may not name
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


def _record(name, args, kwargs):
    return OpLayer(name, op_kwargs=kwargs)(*args)


symbolic.register_op_recorder(_record)
