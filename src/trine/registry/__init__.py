"""The registry: what a name written in a config or model file may resolve to.

Everything a file can name goes through here: classes by kind (`resolve_class`), functions by
kind (`resolve_function`), the functions a `Lambda` may name (`resolve_lambda_function`) and
the ops an ops-layer node may apply (`resolve_op`). Each resolves only names listed in
`trine.registry.allowlist`, looked up as attributes of a fixed table of trine / JAX modules;
no module name from a file is ever imported.
"""
from __future__ import annotations

import importlib
import inspect
import types

from trine.registry.allowlist import (CLASSES, FUNCTIONS, LAMBDA_FUNCTIONS,
                                      OPS_LAYER_FUNCTIONS)

# kind -> the trine module whose attributes the kind's names are (a fixed table).
MODULES = {
    "layers": "trine.layers", "models": "trine.models", "optimizers": "trine.optimizers",
    "schedules": "trine.optimizers.schedules", "losses": "trine.losses",
    "metrics": "trine.metrics", "initializers": "trine.initializers",
    "regularizers": "trine.regularizers", "constraints": "trine.constraints",
    "activations": "trine.activations",
}
_BASES = {
    "layers": ("trine.core.layer", "Layer"), "models": ("trine.models.model", "Model"),
    "losses": ("trine.losses", "Loss"), "metrics": ("trine.metrics", "Metric"),
}


def _module(name: str):
    if name == "trine.optimizers.schedules":
        return getattr(importlib.import_module("trine.optimizers"), "schedules")
    return importlib.import_module(name)  # names from the fixed tables above only


def preload() -> None:
    """Import every module the allow-list resolves names in (the fixed tables above), so a
    later load imports nothing."""
    for name in set(MODULES.values()) | set(LAMBDA_FUNCTIONS) | {"trine.ops"}:
        _module(name)
    for entry in _BASES.values():
        importlib.import_module(entry[0])
    importlib.import_module("trine.layers.ops_layer")


def _base(kind):
    entry = _BASES.get(kind)
    return getattr(importlib.import_module(entry[0]), entry[1]) if entry else None


def resolve_class(kind: str, name: str):
    """The class `name` of `kind` ("layers", "losses", ...) if it is allow-listed, else None."""
    if kind not in CLASSES or not isinstance(name, str) or name not in CLASSES[kind]:
        return None
    if kind == "layers" and name == "OpLayer":  # graph operators; its ops are checked too
        return importlib.import_module("trine.layers.ops_layer").OpLayer
    obj = getattr(_module(MODULES[kind]), name, None)
    if not inspect.isclass(obj):
        # the initializers' and regularizers' snake-case names are classes' aliases
        return obj if kind in ("initializers", "regularizers") and callable(obj) else None
    base = _base(kind)
    if base is not None and not issubclass(obj, base):
        return None
    return obj


def resolve_function(kind: str, name: str):
    """The function `name` of `kind` ("activations", "losses", "metrics") if allow-listed."""
    if kind not in FUNCTIONS or not isinstance(name, str) or name not in FUNCTIONS[kind]:
        return None
    obj = getattr(_module(MODULES[kind]), name, None)
    return obj if isinstance(obj, types.FunctionType) else None


_cache: dict = {}


def _resolved_once(names: dict, resolve, kind: str) -> dict:
    """`{name: object}` of the names of `kind` in `names` that `resolve` finds, cached."""
    key = (resolve.__name__, kind)
    if key not in _cache:
        found = {name: resolve(kind, name) for name in names.get(kind, ())}
        _cache[key] = {name: obj for name, obj in found.items() if obj is not None}
    return _cache[key]


def allowed_classes(kind: str) -> dict:
    """`{name: class}` of every allow-listed class of `kind` (resolvable now)."""
    return _resolved_once(CLASSES, resolve_class, kind)


def allowed_functions(kind: str) -> dict:
    """`{name: function}` of every allow-listed function of `kind`."""
    return _resolved_once(FUNCTIONS, resolve_function, kind)


def resolve_lambda_function(module: str, name: str):
    """The pure tensor function `module.name` a Lambda may name, or None."""
    names = LAMBDA_FUNCTIONS.get(module) if isinstance(module, str) else None
    if names is None or not isinstance(name, str) or name not in names:
        return None
    obj = getattr(_module(module), name, None)
    return obj if callable(obj) and not inspect.isclass(obj) else None


def lambda_function_location(fn):
    """`(module, name)` under which `fn` is allow-listed for a Lambda, or None."""
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        return None
    for module in LAMBDA_FUNCTIONS:
        if resolve_lambda_function(module, name) is fn:
            return module, name
    return None


def resolve_op(name: str):
    """The `trine.ops` function an ops-layer node named `ops.<name>` may apply, or None."""
    if not isinstance(name, str) or name not in OPS_LAYER_FUNCTIONS:
        return None
    obj = getattr(_module("trine.ops"), name, None)
    return obj if callable(obj) and not inspect.isclass(obj) else None


def is_allowed_op(name: str) -> bool:
    """Whether `ops.<name>` may be recorded in (and loaded from) a model file."""
    return isinstance(name, str) and name in OPS_LAYER_FUNCTIONS


__all__ = ["MODULES", "allowed_classes", "preload", "allowed_functions", "is_allowed_op",
           "lambda_function_location", "resolve_class", "resolve_function",
           "resolve_lambda_function", "resolve_op"]
