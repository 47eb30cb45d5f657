"""The calling convention of attention layers, `layer(query, value, key=None, ...)`: building
from the inputs' shapes on first call, and Keras's build config of those shapes."""
from __future__ import annotations

import jax
import numpy as np


def input_shape_of(x):
    """The shape of an array, a KerasTensor or anything NumPy can read, as a tuple."""
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


class QueryValueKeyCall:
    """Mixin (before `Layer` in the bases) for a layer whose `build(query_shape, value_shape,
    key_shape=None)` records `self._build_shapes` with `_record_build_shapes`."""

    def _record_build_shapes(self, query_shape, value_shape, key_shape):
        # a key shape defaulted to the value's is not part of Keras's build config
        self._build_shapes = {"query_shape": query_shape, "value_shape": value_shape}
        if key_shape is not value_shape:
            self._build_shapes["key_shape"] = key_shape

    def compute_mask(self, inputs, previous_mask=None):
        # the output has the query's steps, so it keeps the query's mask
        return previous_mask

    def get_build_config(self):
        """Keras's build config: `{"shapes_dict": {"query_shape": ..., "value_shape": ...}}`."""
        if not self.built:
            return None
        return {"shapes_dict": {k: list(v) for k, v in self._build_shapes.items()}}

    def build_from_config(self, config):
        """Build from `get_build_config()`'s dict (as Keras's `load_model` does)."""
        if config and "shapes_dict" in config:
            with jax.ensure_compile_time_eval():
                self.build(**{k: tuple(v) for k, v in config["shapes_dict"].items()})

    def __call__(self, *args, **kwargs):
        if not self.built:
            names = ("query", "value", "key")
            got = dict(zip(names, args))
            got.update({k: kwargs[k] for k in names if k in kwargs})
            if got.get("query") is None or got.get("value") is None:
                raise TypeError(
                    f"{type(self).__name__} layer '{self.name}' must be called as "
                    "layer(query, value, key=None, ...), received "
                    f"{len(args)} positional argument(s) and keywords {sorted(kwargs)}.")
            key = got.get("key")
            with jax.ensure_compile_time_eval():
                self.build(input_shape_of(got["query"]), input_shape_of(got["value"]),
                           None if key is None else input_shape_of(key))
        return super().__call__(*args, **kwargs)
