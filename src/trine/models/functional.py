"""Functional models: a DAG of layer calls from `Input` tensors to outputs."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer
from trine.core.symbolic import KerasTensor, is_symbolic
from trine.graph.functional_config import functional_config, functional_from_config
from trine.graph.topology import execution_order
from trine.layers.core import InputLayer
from trine.models.input_checks import adjust_rank, incompatible_input
from trine.models.model import Model
from trine.training.trainer import Trainer


def _flatten(struct):
    return jax.tree_util.tree_flatten(struct, is_leaf=is_symbolic)


class Functional(Model):
    """A model defined by its inputs and outputs (`Model(inputs, outputs)`).

    Args:
        inputs: a KerasTensor from `Input`, or a list / dict of them.
        outputs: KerasTensor(s) computed from `inputs`, single, list or dict.
        name: model name.

    Raises:
        ValueError: if an input does not come from `Input`, if the outputs depend on an
            input that is not listed ("graph disconnected"), or two layers share a name.
    """

    # Keras numbers a Functional model's calls from 1 in configs (node 0: its own creation)
    _is_functional_graph = True

    # the graph's bookkeeping: its layers are reached through `layers`, never these
    _machinery_attrs = frozenset({
        "_graph_layers", "_in_treedef", "_input_tensors", "_inputs_struct", "_nodes",
        "_out_treedef", "_output_tensors", "_outputs_struct"})

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        Trainer.__init__(self)
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        flat_in, self._in_treedef = _flatten(inputs)
        flat_out, self._out_treedef = _flatten(outputs)
        for t in flat_in:
            if not isinstance(t, KerasTensor) or not isinstance(
                    t._keras_history[0] if t._keras_history else None, InputLayer):
                raise ValueError(
                    f"Model '{self.name}': every input must be a tensor returned by "
                    f"keras.Input(...), received {t!r}. Pass the Input tensors themselves, not "
                    "tensors computed from them.")
        for t in flat_out:
            if not isinstance(t, KerasTensor):
                raise ValueError(
                    f"Model '{self.name}': every output must be a symbolic tensor computed from "
                    f"the inputs, received {type(t).__name__}.")
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._input_tensors = flat_in
        self._output_tensors = flat_out
        self._nodes = execution_order(flat_in, flat_out, f"Model '{self.name}'")
        layers = []
        for t in flat_in:
            layers.append(t._keras_history[0])
        for node in self._nodes:
            if node.layer not in layers:
                layers.append(node.layer)
        names = {}
        for l in layers:
            names[l.name] = names.get(l.name, 0) + 1
        dup = [n for n, c in names.items() if c > 1]
        if dup:
            raise ValueError(
                f"Model '{self.name}': the name '{dup[0]}' is used by {names[dup[0]]} layers. "
                "All layer names in a model must be unique; pass distinct name= arguments.")
        self._graph_layers = layers
        self.built = True

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list:
        return list(self._graph_layers)

    @property
    def inputs(self):
        return list(self._input_tensors)

    @property
    def outputs(self):
        return list(self._output_tensors)

    @property
    def input_names(self):
        return [t._keras_history[0].name for t in self._input_tensors]

    @property
    def output_names(self):
        return [t._keras_history[0].name for t in self._output_tensors]

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        s = [t.shape for t in self._input_tensors]
        return s[0] if len(s) == 1 else s

    @property
    def output_shape(self):
        s = [t.shape for t in self._output_tensors]
        return s[0] if len(s) == 1 else s

    def build(self, input_shape=None):
        self.built = True

    # ------------------------------------------------------------------ inputs
    def _flatten_inputs(self, inputs):
        names = self.input_names
        n = len(self._input_tensors)
        if isinstance(inputs, dict):
            if isinstance(self._inputs_struct, dict):
                keys = list(self._inputs_struct.keys())
                flat_keys = jax.tree_util.tree_flatten(
                    {k: k for k in keys})[0]
                want = flat_keys
            else:
                want = names
            missing = [k for k in want if k not in inputs]
            unknown = [k for k in inputs if k not in want]
            if missing or unknown:
                raise ValueError(
                    f"Model '{self.name}' expects inputs with keys {want}; "
                    + (f"missing {missing}" if missing else "")
                    + ("; " if missing and unknown else "")
                    + (f"unknown {unknown}" if unknown else "")
                    + ". Pass a dict with exactly the model's input names as keys.")
            return [inputs[k] for k in want]
        if isinstance(inputs, (list, tuple)):
            if n == 1 and len(inputs) != 1:
                return [inputs]
            if len(inputs) != n:
                raise ValueError(
                    f"Model '{self.name}' expects {n} input(s) {names}, received a "
                    f"{type(inputs).__name__} of {len(inputs)}.")
            return list(inputs)
        if n != 1:
            raise ValueError(
                f"Model '{self.name}' expects {n} inputs {names}, received a single tensor. "
                "Pass a list, or a dict keyed by input name.")
        return [inputs]

    def _check_and_cast(self, flat):
        out = []
        for i, (t, x) in enumerate(zip(self._input_tensors, flat)):
            if not isinstance(x, KerasTensor):
                x = adjust_rank(t.shape, x)
            shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
            ok = len(shape) == len(t.shape) and all(
                a is None or b is None or a == b for a, b in zip(t.shape, shape))
            if not ok:
                raise incompatible_input(self, i, t, shape)
            if isinstance(x, KerasTensor):
                out.append(x)
            else:
                x = jnp.asarray(x)
                if x.dtype != jnp.dtype(t.dtype):
                    x = x.astype(t.dtype)
                out.append(x)
        return out

    # ------------------------------------------------------------------ run
    def call(self, inputs, training=None, mask=None):
        flat = self._check_and_cast(self._flatten_inputs(inputs))
        values = {id(t): v for t, v in zip(self._input_tensors, flat)}
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            node.replay(values, training=training)
        return jax.tree_util.tree_unflatten(
            self._out_treedef, [values[id(t)] for t in self._output_tensors])

    def _maybe_build(self, first_arg):
        self.built = True

    def _check_inputs(self, first_arg):
        pass

    def get_config(self) -> dict:
        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return functional_from_config(cls, config, custom_objects=custom_objects)

    def _saved_build_config(self):
        return {"input_shape": None}


Model._functional_class = Functional
