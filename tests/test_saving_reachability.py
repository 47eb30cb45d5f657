"""What a model file can reach is exactly the allow-list of `trine.registry.allowlist`.

Every string field of a config that is resolved to an object (class names by module, function
names, a Lambda's function, an ops-layer node's op, the names the layers' and compile's own
`get` functions take) is tried with every public name of trine's modules and of jax.numpy,
jax.nn, jax.lax, numpy, os and builtins; the objects those resolve to must be exactly the
listed ones, so a callable added to trine (or JAX) later is not loadable by accident.
"""
import builtins
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine import activations, constraints, initializers, losses, metrics, optimizers
from trine import regularizers, registry
from trine.layers.lambda_layer import deserialize_function
from trine.layers.ops_layer import _OPS, OpLayer
from trine.registry import allowlist
from trine.registry import deserialize as serialization


def _names():
    mods = [trine, trine.layers, trine.ops, trine.activations, trine.losses, trine.metrics,
            trine.optimizers, trine.initializers, trine.regularizers, trine.constraints,
            trine.saving, trine.utils, trine.backend, trine.random, trine.models, trine.config,
            trine.tree, jnp, jax.nn,
            jax.lax, jax, np, os, builtins]
    out = set()
    for m in mods:
        out.update(n for n in dir(m) if not n.startswith("__"))
    for ns in ("numpy", "nn", "linalg", "math", "core", "image"):
        out.update(dir(getattr(trine.ops, ns)))
    out.add("OpLayer")  # the graph's operator layer, named in files though not exported
    # every listed name is tried too (some ops load lazily and are not in dir() yet)
    out.update(allowlist.OPS_LAYER_FUNCTIONS)
    for names in allowlist.LAMBDA_FUNCTIONS.values():
        out.update(names)
    return sorted(out)


NAMES = _names()
MODULES = [None, "builtins", "os", "keras", "keras.layers", "keras.src.layers.core.dense",
           "keras.models", "keras.losses", "keras.metrics", "keras.optimizers",
           "keras.optimizers.schedules", "keras.initializers", "keras.regularizers",
           "keras.constraints", "keras.activations", "trine", "trine.layers", "trine.ops",
           "trine.activations", "trine.cli", "trine.__main__", "jax.debug", "jax.numpy.linalg",
           "trine.config", "trine.tree", "trine.registry",
           "trine.losses", "trine.metrics", "trine.optimizers", "trine.initializers",
           "trine.saving", "trine.backend", "trine.utils", "jax.numpy", "jax.nn", "jax.lax",
           "numpy"]
DANGEROUS = {"load", "save", "savez", "fromfile", "frombuffer", "fromstring", "fromiter",
             "vectorize", "frompyfunc", "piecewise", "fromfunction", "apply_along_axis",
             "set_printoptions", "printoptions", "cond", "scan", "while_loop", "fori_loop",
             "map", "switch", "custom_gradient", "vectorized_map", "convert_to_numpy", "eval",
             "exec", "system", "open", "enable_compilation_cache", "main", "load_model"}


def _try(fn, *args):
    try:
        return fn(*args)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def test_classes_reachable_from_files_are_exactly_the_allow_list():
    reached = set()
    for module in MODULES:
        for name in NAMES:
            obj = _try(serialization._resolve_class,
                       {"class_name": name, "module": module, "config": {}}, {})
            if obj is not None:
                reached.add(obj)
    expected = {obj for kind in registry.MODULES
                for obj in registry.allowed_classes(kind).values()}
    assert reached == expected, (sorted(map(repr, reached - expected)),
                                 sorted(map(repr, expected - reached)))
    for kind, names in allowlist.CLASSES.items():
        assert set(registry.allowed_classes(kind)) == set(names), kind  # none listed in vain


def test_functions_reachable_from_files_are_exactly_the_allow_list():
    reached = set()
    for module in MODULES:
        for name in NAMES:
            obj = _try(serialization.resolve_function_record,
                       {"class_name": "function", "module": module, "config": name}, {})
            if obj is not None:
                reached.add(obj)
    expected = {obj for kind in allowlist.FUNCTIONS
                for obj in registry.allowed_functions(kind).values()}
    assert reached == expected, sorted(map(repr, reached ^ expected))


def test_lambda_functions_reachable_from_files_are_exactly_the_allow_list():
    reached = set()
    for module in MODULES:
        for name in NAMES:
            fn = _try(deserialize_function, {"class_name": "function", "config": name,
                                             "module": module})
            if fn is not None:
                reached.add((module, name, fn))
    expected = {(m, n, registry.resolve_lambda_function(m, n))
                for m, names in allowlist.LAMBDA_FUNCTIONS.items() for n in names
                if registry.resolve_lambda_function(m, n) is not None}
    assert reached == expected, sorted((m, n) for m, n, _ in reached ^ expected)
    assert not {n for _, n, _ in reached} & DANGEROUS


def test_ops_reachable_from_files_are_exactly_the_allow_list():
    reached = set()
    for name in NAMES:
        for op in (name, f"ops.{name}"):
            layer = _try(OpLayer.from_config, {"op": op, "name": "n"})
            if layer is not None:
                reached.add(op)
    expected = set(_OPS) | {f"ops.{n}" for n in allowlist.OPS_LAYER_FUNCTIONS}
    assert reached == expected & ({*NAMES} | {f"ops.{n}" for n in NAMES})
    assert all(registry.resolve_op(n) is not None for n in allowlist.OPS_LAYER_FUNCTIONS)
    assert not set(allowlist.OPS_LAYER_FUNCTIONS) & DANGEROUS


def test_the_layers_own_name_tables_stay_inside_the_allow_list():
    """String arguments in layer and compile configs ("glorot_uniform", "l2", "adam", "mse",
    "relu") go through each module's `get`; what they give must be allow-listed too."""
    allowed_classes = {obj for kind in registry.MODULES
                       for obj in registry.allowed_classes(kind).values()}
    allowed_functions = {obj for kind in allowlist.FUNCTIONS
                         for obj in registry.allowed_functions(kind).values()}
    for get in (activations.get, initializers.get, regularizers.get, constraints.get,
                losses.get, metrics.get, optimizers.get):
        for name in NAMES:
            obj = _try(get, name)
            if obj is None or obj is name:
                continue
            ok = obj in allowed_functions or obj in allowed_classes or (
                type(obj) in allowed_classes) or isinstance(obj, (metrics.MeanMetricWrapper,
                                                                   losses.LossFunctionWrapper))
            assert ok, f"{get.__module__}.get({name!r}) gives {obj!r}, not on the allow-list"


def test_a_function_added_to_trine_later_is_not_loadable(monkeypatch):
    def fresh_op(x):
        return x

    monkeypatch.setattr(trine.ops, "fresh_op", fresh_op, raising=False)
    monkeypatch.setattr(trine.activations, "fresh_op", fresh_op, raising=False)
    with pytest.raises(ValueError, match="allow-list"):
        deserialize_function({"class_name": "function", "config": "fresh_op",
                              "module": "trine.ops"})
    with pytest.raises(ValueError, match="refused to load op 'ops.fresh_op'"):
        OpLayer.from_config({"op": "ops.fresh_op", "name": "n"})
    assert _try(serialization.resolve_function_record, {"class_name": "function",
                                                  "module": "keras.activations",
                                                  "config": "fresh_op"}, {}) is None


def test_every_public_class_and_function_is_reviewed():
    """A class or function added to a kind's module must be put on the allow-list (loadable)
    or on NOT_LOADABLE, after review: without that its models could not be reloaded."""
    import inspect
    import types
    bases = {"layers": trine.layers.Layer, "losses": losses.Loss, "metrics": metrics.Metric}
    unreviewed = []
    for kind, modname in registry.MODULES.items():
        mod = registry._module(modname)
        listed = (set(allowlist.CLASSES.get(kind, ())) | set(allowlist.FUNCTIONS.get(kind, ()))
                  | set(allowlist.NOT_LOADABLE.get(kind, ())))
        for name in dir(mod):
            if name.startswith("_") or name in listed:
                continue
            obj = getattr(mod, name)
            if inspect.isclass(obj) and (obj.__module__ or "").startswith("trine"):
                if kind in bases and not issubclass(obj, bases[kind]):
                    continue
                unreviewed.append(f"{kind}.{name}")
            elif (isinstance(obj, types.FunctionType) and kind in allowlist.FUNCTIONS
                  and (obj.__module__ or "").startswith("trine")):
                unreviewed.append(f"{kind}.{name}")
    assert not unreviewed, (
        f"{unreviewed}: add each to trine/registry/allowlist.py (CLASSES / FUNCTIONS if files "
        "may name it, NOT_LOADABLE if not)")
