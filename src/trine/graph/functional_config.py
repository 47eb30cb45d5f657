"""The configs Keras 3 writes for a graph, and the graph rebuilt from them.

`functional_config` lists a Functional model's layers (Keras's order, see `topology`) with
their calls (`inbound_nodes`: the arguments of each call, graph tensors as references to the
call that produced them); `functional_from_config` recreates the layers and replays the calls.
A file's call arguments may only be graph tensors and JSON literals, checked against the
layer's call signature, and every replayed call is symbolic: nothing runs while loading.
`sequential_config` / `sequential_from_config` do the same for a stack of layers.
"""
from __future__ import annotations

import inspect

from trine.core import allocation
from trine.core.registration import custom_object_scope, scope_objects
from trine.core.tracking import overrides
from trine.graph.topology import keras_graph
from trine.registry.deserialize import call_saving_hook, deserialize_config, json_to_shape
from trine.registry.errors import SavingError, UnsafeFileError
from trine.registry.serialize import (KERAS_PREBUILT, PLAIN_TYPES, dtype_policy_record,
                                      serialize_keras_object)


def _is_functional(layer):
    """Keras numbers a Functional model's calls from 1 (node 0 is its own creation)."""
    return getattr(layer, "_is_functional_graph", False)


def _node_kwargs_keras(node, kwargs):
    """Add the call arguments Keras 3 records automatically (training default, mask)."""
    kwargs = dict(kwargs)
    try:
        params = inspect.signature(node.layer.call).parameters
    except (TypeError, ValueError):
        return kwargs
    tr = params.get("training")
    if tr is not None and "training" not in kwargs and tr.default not in (None, inspect._empty):
        kwargs["training"] = tr.default
    if "mask" in params and kwargs.get("mask") is None and "mask" not in kwargs:
        args, _ = node.call_args
        if len(args) == 1:
            kwargs["mask"] = None
    return kwargs


def _layer_build_config(layer, node):
    if type(layer).__name__ in KERAS_PREBUILT or not layer.built:
        return None
    if overrides(layer, "get_build_config"):  # e.g. MultiHeadAttention, a custom build()
        return serialize_keras_object(layer.get_build_config())
    if node is None:
        return None
    from trine.core.symbolic import KerasTensor
    args, kwargs = node.call_args
    first = args[0] if args else kwargs.get("inputs")

    def shp(x):
        if isinstance(x, KerasTensor):
            return tuple(x.shape)
        if isinstance(x, (list, tuple)):
            return [shp(e) for e in x]
        if isinstance(x, dict):
            return {k: shp(v) for k, v in x.items()}
        return None

    s = shp(first)
    return None if s is None else {"input_shape": s}


def functional_config(model) -> dict:
    """`Functional.get_config()`: the config Keras 3 writes for the same graph.

    Returns:
        `{"name", "trainable", "layers": [...], "input_layers", "output_layers"}`, each layer
        entry with its `name` and `inbound_nodes` (`{"args", "kwargs"}` per call).
    """
    layers, own = keras_graph(model)
    reindex = {}
    for layer in layers:
        kept = 1 if _is_functional(layer) else 0
        for i, node in enumerate(layer._inbound_nodes):
            if id(node) in own:
                reindex[(id(layer), i)] = kept
                kept += 1

    def tensor_record(x):
        from trine.core.symbolic import KerasTensor
        if isinstance(x, KerasTensor) and x._keras_history is not None:
            layer, ni, ti = x._keras_history
            skipped = sum(1 for j, n in enumerate(layer._inbound_nodes[:ni]) if id(n) not in own)
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": x.shape, "dtype": x.dtype,
                               "keras_history": [layer.name, ni - skipped, ti]}}
        if isinstance(x, (list, tuple)):
            out = [tensor_record(e) for e in x]
            return tuple(out) if isinstance(x, tuple) else out
        if isinstance(x, dict):
            return {k: tensor_record(v) for k, v in x.items()}
        return serialize_keras_object(x)

    entries = []
    for layer in layers:
        nodes = []
        first_node = None
        for i, node in enumerate(layer._inbound_nodes):
            if id(node) not in own or not node.input_tensors:
                continue
            first_node = first_node or node
            args, kwargs = node.call_args
            kwargs = _node_kwargs_keras(node, kwargs)
            nodes.append({"args": tensor_record(list(args)), "kwargs": tensor_record(kwargs)})
        entry = serialize_keras_object(layer)
        bc = _layer_build_config(layer, first_node)
        if bc is not None and "build_config" not in entry:
            entry["build_config"] = bc
        entry["name"] = layer.name
        entry["inbound_nodes"] = nodes
        entries.append(entry)

    def io_record(t):
        layer, ni, ti = t._keras_history
        return [layer.name, reindex.get((id(layer), ni), ni), ti]

    def io_struct(s):
        from trine.core.symbolic import KerasTensor
        if isinstance(s, KerasTensor):
            return io_record(s)
        if isinstance(s, dict):
            return {k: io_struct(v) for k, v in s.items()}
        if isinstance(s, tuple):
            return tuple(io_struct(v) for v in s)
        return [io_struct(v) for v in s]

    return {"name": model.name, "trainable": model.trainable, "layers": entries,
            "input_layers": io_struct(model._inputs_struct),
            "output_layers": io_struct(model._outputs_struct)}


def sequential_config(model) -> dict:
    """`Sequential.get_config()`: the config Keras 3 writes for the same stack of layers."""
    layers = []
    nodes = {}
    if model._functional is not None:
        for node in model._functional._nodes:
            nodes.setdefault(id(node.layer), node)
    if model._input_layer is not None and model._functional is not None:
        layers.append(serialize_keras_object(model._input_layer))
    for layer in model.layers:
        entry = serialize_keras_object(layer)
        bc = _layer_build_config(layer, nodes.get(id(layer)))
        if bc is not None and "build_config" not in entry:
            entry["build_config"] = bc
        layers.append(entry)
    cfg = {"name": model.name, "trainable": model.trainable,
           "dtype": dtype_policy_record(model.dtype), "layers": layers}
    if model._functional is not None:
        cfg["build_input_shape"] = tuple(model._input_layer.batch_shape)
    return cfg


def _unwrap_layer_entry(entry, custom):
    if not isinstance(entry, dict):
        raise SavingError(f"Invalid layer entry {entry!r} in the model config.")
    if "module" not in entry and "class_name" in entry and "config" in entry:
        entry = dict(entry, module=None)  # Keras 2 configs have no module
    # Layers inside a model are built by replaying the graph, in the model's order (so they
    # take their random-seed indices as in the original); from their build_config only when
    # their class defines how (Keras's build_from_config hook, e.g. a build() with extra args).
    build_config = entry.get("build_config")
    entry = {k: v for k, v in entry.items() if k != "build_config"}
    layer = deserialize_config(entry, custom, 1)
    from trine.core.layer import Layer
    if not isinstance(layer, Layer):
        raise SavingError(f"The model config lists {type(layer).__name__}, which is not a layer.")
    if (isinstance(build_config, dict) and not layer.built
            and overrides(layer, "build_from_config")):
        with allocation.loading(f"{type(layer).__name__} '{layer.name}'"):
            call_saving_hook(layer, "build_from_config", build_config)
    return layer


def sequential_from_config(cls, config: dict, custom_objects=None):
    """`Sequential.from_config`: rebuild the stack (and its graph, when the shape is known)."""
    custom = dict(scope_objects())
    custom.update(custom_objects or {})
    if not isinstance(config, dict) or "layers" not in config or not isinstance(
            config["layers"], list):
        raise SavingError("A Sequential config must be a dict with a 'layers' list.")
    name = config.get("name")
    model = cls(name=name) if isinstance(name, str) else cls()
    with custom_object_scope(custom_objects or {}):
        for entry in config["layers"]:
            model.add(_unwrap_layer_entry(entry, custom), rebuild=False)
    model._maybe_rebuild()
    shape = config.get("build_input_shape")
    if model._functional is None and shape:
        model.build(json_to_shape(shape))
    if config.get("trainable") is False:
        model.trainable = False
    return model


def functional_from_config(cls, config: dict, custom_objects=None):
    """`Functional.from_config`: recreate the layers, replay the calls, rebuild the model."""
    from trine.core.symbolic import KerasTensor
    custom = dict(scope_objects())
    custom.update(custom_objects or {})
    for key in ("layers", "input_layers", "output_layers"):
        if key not in config:
            raise SavingError(f"A Functional config needs '{key}'; the file's config has "
                              f"{sorted(config)}.")
    entries = config["layers"]
    if not isinstance(entries, list):
        raise SavingError("The Functional config's 'layers' must be a list.")
    created, pending, order = {}, {}, []
    with custom_object_scope(custom_objects or {}):
        for entry in entries:
            layer = _unwrap_layer_entry(entry, custom)
            lname = entry.get("name", layer.name)
            if not isinstance(lname, str) or lname in created:
                raise SavingError(f"The Functional config has a missing or repeated layer name "
                                  f"{lname!r}.")
            created[lname] = layer
            nodes = entry.get("inbound_nodes", [])
            if not isinstance(nodes, list):
                raise SavingError(f"Layer {lname!r}: 'inbound_nodes' must be a list.")
            pending[lname] = list(nodes)
            order.append(lname)

    def resolve(hist, offset):
        if not (isinstance(hist, (list, tuple)) and len(hist) == 3 and isinstance(hist[0], str)):
            raise SavingError(f"Invalid tensor reference {hist!r} in the Functional config.")
        lname, ni, ti = hist
        if not isinstance(ni, int) or not isinstance(ti, int) or ni < 0 or ti < 0:
            raise SavingError(f"Invalid tensor reference {hist!r} in the Functional config.")
        layer = created.get(lname)
        if layer is None:
            raise SavingError(f"The Functional config refers to an unknown layer {lname!r}.")
        ni -= offset if _is_functional(layer) else 0
        if ni < 0:
            raise SavingError(f"Invalid node index in tensor reference {hist!r}.")
        if ni >= len(layer._inbound_nodes):
            raise _NotYet()
        outs = layer._inbound_nodes[ni].output_tensors
        if ti >= len(outs):
            raise SavingError(f"Tensor reference {hist!r}: layer {lname!r} has only "
                              f"{len(outs)} outputs.")
        return outs[ti]

    def revive(v, depth=0):
        if depth > 64:
            raise SavingError("Node arguments nested too deeply.")
        if isinstance(v, KerasTensor):
            hist = getattr(v, "_pre_serialization_keras_history", None)
            if hist is None:
                raise UnsafeFileError(
                    "Refused a node argument that is a tensor not produced by the graph (a "
                    "__keras_tensor__ record without keras_history).")
            return resolve(hist, 0)
        if isinstance(v, list):
            return [revive(e, depth + 1) for e in v]
        if isinstance(v, tuple):
            return tuple(revive(e, depth + 1) for e in v)
        if isinstance(v, dict):
            return {k: revive(e, depth + 1) for k, e in v.items()}
        return v

    def node_call(layer, data):
        if isinstance(data, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
            tensors, kw = [], {}
            for item in data:
                if not isinstance(item, list) or len(item) not in (3, 4):
                    raise SavingError(f"Invalid inbound node {data!r} in the Functional config.")
                tensors.append(resolve(item[:3], 0))
                if len(item) == 4:
                    if not isinstance(item[3], dict):
                        raise SavingError(f"Invalid inbound node kwargs {item[3]!r}.")
                    kw = revive(_node_literal(item[3], custom, 1))
            return [tensors[0] if len(tensors) == 1 else tensors], kw
        if not isinstance(data, dict):
            raise SavingError(f"Invalid inbound node {data!r} in the Functional config.")
        args = revive(_node_literal(data.get("args", []), custom, 1))
        kwargs = revive(_node_literal(data.get("kwargs", {}), custom, 1))
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise SavingError(f"Invalid inbound node {data!r} in the Functional config.")
        return args, kwargs

    def clean_kwargs(layer, kwargs):
        kwargs = dict(kwargs)
        if kwargs.get("mask", 0) is None:
            kwargs.pop("mask")
        # Keras records `training` at graph-building time, but every call of the model
        # overrides it with the model's own training flag; trine's graph does the same when
        # the node leaves it out.
        kwargs.pop("training", None)
        return kwargs

    while any(pending.values()):
        progressed = False
        for lname in order:
            layer = created[lname]
            queue = pending[lname]
            while queue:
                try:
                    args, kwargs = node_call(layer, queue[0])
                except _NotYet:
                    break
                kwargs = clean_kwargs(layer, kwargs)
                _check_node_call(layer, lname, args, kwargs)
                try:
                    with allocation.loading(f"layer '{lname}' ({type(layer).__name__})"):
                        layer(*args, **kwargs)
                except (SavingError, UnsafeFileError, allocation.LoadRefused):
                    raise
                except (TypeError, ValueError) as e:
                    raise SavingError(f"Could not rebuild the call of layer {lname!r} from the "
                                      f"file: {e}") from e
                queue.pop(0)
                progressed = True
        if not progressed:
            stuck = sorted(k for k, v in pending.items() if v)
            raise SavingError(
                "Invalid Functional model config: the graph has loops or refers to missing "
                f"nodes; these layers' calls cannot be resolved: {stuck}.")

    def io_struct(s, depth=0):
        if depth > 32:
            raise SavingError("input_layers/output_layers nested too deeply.")
        if isinstance(s, (list, tuple)) and len(s) == 3 and isinstance(s[0], str):
            try:
                return resolve(s, 1)
            except _NotYet:
                raise SavingError(f"Input/output reference {s!r} points to a call that is not "
                                  "in the config.") from None
        if isinstance(s, dict):
            return {k: io_struct(v, depth + 1) for k, v in s.items()}
        if isinstance(s, (list, tuple)):
            return [io_struct(v, depth + 1) for v in s]
        raise SavingError(f"Invalid input/output reference {s!r} in the Functional config.")

    inputs = io_struct(config["input_layers"])
    outputs = io_struct(config["output_layers"])
    kwargs = {}
    if isinstance(config.get("name"), str):
        kwargs["name"] = config["name"]
    if isinstance(config.get("trainable"), bool):
        kwargs["trainable"] = config["trainable"]
    return cls(inputs, outputs, **kwargs)


# Records a node argument may hold besides graph tensors and JSON literals.
_NODE_RECORDS = ("__keras_tensor__", "__numpy__", "__tensor__", "__slice__", "__ellipsis__")


def _node_literal(value, custom, depth):
    """A node's arguments from a file: graph-tensor references and JSON literals only."""
    if depth > 64:
        raise SavingError("Node arguments nested too deeply.")
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        if value["class_name"] not in _NODE_RECORDS:
            raise UnsafeFileError(
                f"Refused a node argument naming {value['class_name']!r}: the arguments of a "
                "layer call in a model file may only be graph tensors and JSON literals "
                "(numbers, strings, lists, dicts, slices).")
        return deserialize_config(value, custom, depth)
    if isinstance(value, dict):
        return {k: _node_literal(v, custom, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_node_literal(v, custom, depth + 1) for v in value]
    if value is None or isinstance(value, PLAIN_TYPES):
        return value
    raise SavingError(f"Invalid node argument {value!r} in the Functional config.")


def _check_node_call(layer, lname, args, kwargs):
    """A call replayed from a file must be symbolic (so nothing runs eagerly while loading) and
    name only keyword arguments the layer's `call` takes."""
    from trine.core.symbolic import KerasTensor
    import jax
    leaves = jax.tree_util.tree_leaves((args, kwargs),
                                       is_leaf=lambda t: isinstance(t, KerasTensor))
    if not any(isinstance(t, KerasTensor) for t in leaves):
        raise UnsafeFileError(
            f"Refused the call of layer {lname!r} in the file: none of its arguments is a "
            "tensor of the graph, so it would run eagerly while loading.")
    try:
        params = inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        raise SavingError(
            f"The file calls layer {lname!r} ({type(layer).__name__}) with keyword arguments "
            f"{unknown} that its call() does not take (it takes {sorted(params)}).")


class _NotYet(Exception):
    """A node refers to a call that has not been replayed yet."""


__all__ = ["functional_config", "functional_from_config", "sequential_config",
           "sequential_from_config"]
