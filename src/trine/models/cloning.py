"""`clone_model`: the same architecture on new layers (fresh weights), as Keras 3 clones it.

Sequential and Functional models are cloned layer by layer (`clone_function`, default
`layer.__class__.from_config(layer.get_config())`) and, for Functional models, re-called node
by node in the original topological order (`call_function`), so shared layers stay shared,
layers called several times are called as often, and nested models are cloned whole (or
recursively, with `recursive=True`). Other models are rebuilt from their config.
"""
from __future__ import annotations

import inspect

import jax

from trine.core.symbolic import KerasTensor, is_symbolic
from trine.layers.core import Input, InputLayer
from trine.models.functional import Functional
from trine.models.sequential import Sequential


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """Clone a Sequential or Functional model: new layers, freshly initialized weights.

    Args:
        model: the model to clone.
        input_tensors: optional `Input` tensors (same structure as `model.input`) to build
            the clone on; new `Input`s with the original names, shapes and dtypes otherwise.
        clone_function: `fn(layer) -> layer` applied once to every layer (not `Input`s);
            default `layer.__class__.from_config(layer.get_config())`. Return the layer
            itself to share it.
        call_function: `fn(layer, *args, **kwargs) -> outputs` used for every layer call of
            a Functional model (default `layer(*args, **kwargs)`).
        recursive: clone nested Sequential / Functional models with `clone_model` (same
            arguments) instead of `clone_function`.

    Returns:
        The clone (same class for Sequential / Functional; compiled like the original).

    Raises:
        ValueError: for unknown keyword arguments, `call_function` with a Sequential model,
            `clone_function` / `input_tensors` / `call_function` with a subclassed model,
            or `input_tensors` that are not `Input` tensors in `model.input`'s structure.

    Example:
        >>> new_model = trine.models.clone_model(model)
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"clone_model: unexpected keyword argument(s) {tuple(kwargs)}. "
                         "Accepted: input_tensors, clone_function, call_function, recursive.")
    if clone_function is not None and not callable(clone_function):
        raise ValueError("clone_model: clone_function must be a callable fn(layer) -> layer, "
                         f"received {clone_function!r}.")
    if call_function is not None and not callable(call_function):
        raise ValueError("clone_model: call_function must be a callable "
                         f"fn(layer, *args, **kwargs), received {call_function!r}.")
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "clone_model: call_function is not supported with Sequential models (their "
                "layers are listed, not called, when the model is made). Use it with "
                f"Functional models only. Received model '{model.name}' of type "
                f"'{type(model).__name__}'.")
        fn = _wrap_clone_function(clone_function, None, recursive, cache)
        return _clone_sequential(model, fn, input_tensors)
    if isinstance(model, Functional):
        fn = _wrap_clone_function(clone_function, call_function, recursive, cache)
        return _clone_functional(model, fn, input_tensors, call_function)
    if clone_function is not None or input_tensors is not None:
        raise ValueError(
            "clone_model: clone_function and input_tensors are only supported for Sequential "
            f"and Functional models; model '{getattr(model, 'name', model)}' is a "
            f"'{type(model).__name__}'. Subclassed models are cloned from their config: "
            "call clone_model(model) without them.")
    if call_function is not None:
        raise ValueError(
            "clone_model: call_function is only supported for Functional models; model "
            f"'{getattr(model, 'name', model)}' is a '{type(model).__name__}'.")
    from trine.registry.deserialize import deserialize_keras_object
    from trine.registry.serialize import serialize_keras_object
    config = serialize_keras_object(model)
    return deserialize_keras_object(config, custom_objects={type(model).__name__: type(model)})


def _default_clone(layer):
    return layer.__class__.from_config(layer.get_config())


def _wrap_clone_function(clone_function, call_function, recursive, cache):
    """One clone per original layer (so shared layers stay shared), recursing into nested
    Sequential / Functional models when asked."""
    base = clone_function if clone_function is not None else _default_clone
    cache = {} if cache is None else cache

    def wrapped(layer):
        if id(layer) in cache:
            return cache[id(layer)]
        if recursive and isinstance(layer, Sequential):
            clone = clone_model(layer, clone_function=base, recursive=True, cache=cache)
        elif recursive and isinstance(layer, Functional):
            clone = clone_model(layer, clone_function=base, call_function=call_function,
                                recursive=True, cache=cache)
        else:
            clone = base(layer)
        cache[id(layer)] = clone
        return clone

    return wrapped


def _input_of(t):
    hist = getattr(t, "_keras_history", None)
    return hist[0] if hist is not None and isinstance(hist[0], InputLayer) else None


def _clone_sequential(model, clone_function, input_tensors):
    new_layers = [clone_function(layer) for layer in model.layers]
    ref = model._input_layer
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("clone_model: input_tensors for a Sequential model must be a "
                                 f"single tensor, received {len(input_tensors)}.")
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, KerasTensor) or _input_of(input_tensors) is None:
            raise ValueError("clone_model: input_tensors must be a tensor returned by "
                             f"trine.Input(...), received {input_tensors!r}.")
        new_layers = [input_tensors] + new_layers
    elif ref is not None:
        new_layers = [Input(batch_shape=ref.batch_shape, dtype=ref.dtype, name=ref.name,
                            optional=ref.optional)] + new_layers
    clone = Sequential(new_layers, name=model.name, trainable=model.trainable)
    _copy_compile(model, clone)
    return clone


def _flatten(struct):
    return jax.tree_util.tree_flatten(struct, is_leaf=is_symbolic)


def _clone_functional(model, clone_function, input_tensors, call_function):
    ref_flat, ref_def = _flatten(model.input)
    if input_tensors is not None:
        if isinstance(input_tensors, tuple):
            input_tensors = list(input_tensors)
        flat, treedef = _flatten(input_tensors)
        bad = [t for t in flat if not isinstance(t, KerasTensor) or _input_of(t) is None]
        if bad:
            raise ValueError("clone_model: every entry of input_tensors must be a tensor "
                             f"returned by trine.Input(...); received {bad[0]!r}.")
        if treedef != ref_def and not (len(flat) == len(ref_flat) == 1):
            raise ValueError(
                "clone_model: input_tensors must have the same structure as model.input.\n"
                f"Reference structure: {model.input}\nReceived structure: {input_tensors}")
        if len(flat) == len(ref_flat) == 1:
            input_tensors = jax.tree_util.tree_unflatten(ref_def, flat)
    else:
        def new_input(t):
            layer = _input_of(t)
            return Input(batch_shape=t.shape, dtype=t.dtype, name=layer.name,
                         optional=layer.optional)
        input_tensors = jax.tree_util.tree_map(new_input, model.input, is_leaf=is_symbolic)
    new_flat = _flatten(input_tensors)[0]
    values = {id(old): new for old, new in zip(ref_flat, new_flat)}
    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        layer = clone_function(node.layer)
        args, kw = node.call_args
        args, kw = jax.tree_util.tree_map(
            lambda x: values[id(x)] if isinstance(x, KerasTensor) else x, (args, kw),
            is_leaf=is_symbolic)
        outputs = (call_function(layer, *args, **kw) if call_function is not None
                   else layer(*args, **kw))
        out_flat = _flatten(outputs)[0]
        if len(out_flat) != len(node.output_tensors):
            raise ValueError(
                f"clone_model: the clone of layer '{node.layer.name}' returned "
                f"{len(out_flat)} output(s) where the original returned "
                f"{len(node.output_tensors)}. clone_function / call_function must keep each "
                "call's output structure.")
        for old, new in zip(node.output_tensors, out_flat):
            values[id(old)] = new
    outputs = jax.tree_util.tree_map(lambda t: values[id(t)], model.output, is_leaf=is_symbolic)
    cls = type(model) if _functional_like(type(model)) else Functional
    clone = cls(input_tensors, outputs, name=model.name)
    _copy_compile(model, clone)
    return clone


def _functional_like(cls) -> bool:
    """Whether `cls(inputs, outputs, name=...)` builds a Functional graph (Keras keeps the
    class then; other subclasses come back as plain Functional, as in Keras)."""
    if cls is Functional or cls.__init__ is Functional.__init__:
        return True
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    return "inputs" in params and "outputs" in params


def _copy_compile(model, clone):
    if not getattr(model, "compiled", False):
        return
    from trine.models.compile_config import compile_from_config, get_compile_config
    config = get_compile_config(model)
    if config:
        compile_from_config(clone, config)


__all__ = ["clone_model"]
