"""Keras 3 records of objects: `serialize_keras_object(obj)` writes the dict Keras 3 writes
for the same object (`{"module", "class_name", "config", "registered_name"}`, plus
`build_config` / `compile_config` for layers and models).

Which of trine's namespaces a record's "module" names, and whether an object is one of trine's
own, is read from the registry's allow-list; `trine.registry.deserialize` reverses the record.
"""
from __future__ import annotations

import inspect
import types

import numpy as np

from trine.core.registration import registered_name_of
from trine.core.tracking import overrides


# ====================================================================== allow-list
# kind -> the Keras module a record names (the trine modules are the registry's MODULES)
_KERAS_MODULES = {
    "layers": "keras.layers", "models": "keras", "optimizers": "keras.optimizers",
    "schedules": "keras.optimizers.schedules", "losses": "keras.losses",
    "metrics": "keras.metrics", "initializers": "keras.initializers",
    "regularizers": "keras.regularizers", "constraints": "keras.constraints",
    "activations": "keras.activations",
}


def allowlist_of(kind: str) -> dict:
    """`{name: class or function}` a file may name for `kind` (the registry's explicit list)."""
    from trine import registry
    out = dict(registry.allowed_classes(kind))
    out.update(registry.allowed_functions(kind))
    return out


def kinds_of_module(module) -> list:
    """Which trine namespaces a config's "module" field points at (most likely first)."""
    m = module if isinstance(module, str) else ""
    for prefix in ("keras.src.", "keras.", "trine.", "tf.keras.", "tensorflow.keras."):
        if m.startswith(prefix):
            m = m[len(prefix):]
            break
    else:
        if m in ("keras", "trine"):
            m = "models"
    head = m.split(".")[0]
    if head in ("optimizers",) and ".schedules" in ("." + m) or "learning_rate_schedule" in m:
        return ["schedules", "optimizers"]
    table = {"layers": ["layers", "models"], "models": ["models", "layers"],
             "engine": ["models", "layers"], "saving": [], "optimizers": ["optimizers", "schedules"],
             "losses": ["losses"], "metrics": ["metrics"], "initializers": ["initializers"],
             "regularizers": ["regularizers"], "constraints": ["constraints"],
             "activations": ["activations"], "dtype_policies": []}
    if head in table:
        return table[head]
    if not m:
        return ["layers", "models"]
    return []


def builtin_kind(obj):
    """(kind, name) if `obj` (an instance, class or function) is one of trine's own."""
    cls = obj if inspect.isclass(obj) or isinstance(obj, types.FunctionType) else type(obj)
    for kind in _KERAS_MODULES:
        for name, c in allowlist_of(kind).items():
            if c is cls:
                return kind, name
    return None



# ====================================================================== serialize
PLAIN_TYPES = (str, int, float, bool)

# Keras layer classes that are marked built at construction, so Keras writes no build_config.
KERAS_PREBUILT = frozenset({
    "Activation", "ActivityRegularization", "AlphaDropout", "AveragePooling1D",
    "AveragePooling2D", "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "Dropout",
    "ELU", "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
    "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Identity", "InputLayer", "LeakyReLU", "Masking",
    "MaxPool1D", "MaxPool2D", "MaxPool3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "ReLU",
    "Reshape", "Softmax", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
    "UnitNormalization", "OpLayer", "Lambda"})


# Keys Keras 3 always writes for these classes, with the value trine's layers imply.
_KERAS_DEFAULT_KEYS = {"Dense": {"quantization_config": None},
                       "EinsumDense": {"quantization_config": None},
                       "Embedding": {"quantization_config": None}}


def dtype_policy_record(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}


def kerasify(value):
    """Rewrite trine module names inside nested configs to the Keras ones."""
    if isinstance(value, dict):
        out = {k: kerasify(v) for k, v in value.items()}
        mod = out.get("module")
        if "class_name" in out and "config" in out and isinstance(mod, str) and mod.startswith("trine."):
            out["module"] = "keras." + mod[len("trine."):]
            out.setdefault("registered_name", None)
        return out
    if isinstance(value, list):
        return [kerasify(v) for v in value]
    if isinstance(value, tuple):
        return tuple(kerasify(v) for v in value)
    return value


def serialize_keras_object(obj):
    """The Keras 3 config dict of `obj` (layers, models, optimizers, losses, ...).

    Plain values pass through; lists and dicts are serialized element-wise; NumPy / JAX
    arrays, slices, bytes and symbolic tensors use Keras's special records.

    Raises:
        TypeError: for an object that cannot be serialized (no get_config, a lambda, ...).

    Example:
        >>> serialize_keras_object(trine.layers.Dense(3))["class_name"]
        'Dense'
    """
    from trine.core.layer import Layer
    from trine.core.symbolic import KerasTensor
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        out = [serialize_keras_object(x) for x in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {
            "start": serialize_keras_object(obj.start), "stop": serialize_keras_object(obj.stop),
            "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, KerasTensor):
        hist = obj._keras_history
        hist = [hist[0].name, hist[1], hist[2]] if hist else None
        return {"class_name": "__keras_tensor__",
                "config": {"shape": obj.shape, "dtype": obj.dtype, "keras_history": hist}}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray) or _is_jax_array(obj):
        arr = np.asarray(obj)
        if isinstance(obj, np.ndarray) and arr.ndim == 0:
            return arr.item()
        return {"class_name": "__numpy__" if isinstance(obj, np.ndarray) else "__tensor__",
                "config": {"value": arr.tolist(), "dtype": arr.dtype.name}}
    if isinstance(obj, Layer):
        return _serialize_layer(obj)
    if isinstance(obj, types.FunctionType) or (callable(obj) and not hasattr(obj, "get_config")
                                                and hasattr(obj, "__name__")):
        return _serialize_function(obj)
    if hasattr(obj, "get_config"):
        return _serialize_configurable(obj)
    raise TypeError(
        f"Cannot serialize {obj!r} of type {type(obj).__name__}: it has no get_config(). "
        "Give the class a get_config() method and register it with "
        "trine.saving.register_serializable().")


def _is_jax_array(x):
    try:
        import jax
        return isinstance(x, jax.Array)
    except ImportError:
        return False


def _serialize_function(fn):
    if getattr(fn, "__name__", None) == "<lambda>":
        raise TypeError(
            "Cannot serialize a Python lambda: trine never writes code into model files. Use a "
            "named function registered with trine.saving.register_serializable().")
    registered = registered_name_of(fn)
    if registered is not None:
        return {"module": fn.__module__, "class_name": "function", "config": registered,
                "registered_name": registered}
    bk = builtin_kind(fn)
    if bk is not None:
        return {"module": _KERAS_MODULES[bk[0]], "class_name": "function", "config": fn.__name__,
                "registered_name": fn.__name__}
    raise TypeError(
        f"Cannot serialize function {getattr(fn, '__name__', fn)!r} (module "
        f"{getattr(fn, '__module__', None)}): it is not one of trine's and not registered. "
        "Register it with trine.saving.register_serializable().")


def _class_record(obj, config):
    cls = type(obj)
    registered = registered_name_of(cls)
    if registered is not None:
        module = cls.__module__ if cls.__module__ != "__main__" else None
        return {"module": module, "class_name": cls.__name__, "config": config,
                "registered_name": registered}
    bk = builtin_kind(obj)
    if bk is not None:
        kind, _ = bk
        if kind == "models" and cls.__name__ == "Functional":
            return {"module": "keras.src.models.functional", "class_name": "Functional",
                    "config": config, "registered_name": "Functional"}
        return {"module": _KERAS_MODULES[kind], "class_name": cls.__name__, "config": config,
                "registered_name": None}
    module = cls.__module__ if cls.__module__ != "__main__" else None
    return {"module": module, "class_name": cls.__name__, "config": config,
            "registered_name": cls.__name__}


def _serialize_configurable(obj):
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"{type(obj).__name__}.get_config() must return a dict, returned "
                        f"{type(config).__name__}.")
    return _class_record(obj, kerasify(serialize_keras_object(config)))


def _normalize_layer_config(layer, config):
    """trine's layer config -> the keys and value forms Keras 3 writes."""
    config = dict(config)
    config.pop("batch_input_shape", None)
    if isinstance(layer, _input_layer_class()):
        out = {"batch_shape": config.get("batch_shape"), "dtype": config.get("dtype"),
               "sparse": bool(config.get("sparse", False)), "ragged": False,
               "name": config.get("name", layer.name),
               "optional": bool(config.get("optional", getattr(layer, "optional", False)))}
        for k, v in config.items():
            out.setdefault(k, v)
        return out
    if isinstance(config.get("dtype"), str):
        config["dtype"] = dtype_policy_record(config["dtype"])
    for key, value in _KERAS_DEFAULT_KEYS.get(type(layer).__name__, {}).items():
        config.setdefault(key, value)
    if "activity_regularizer" in config and config["activity_regularizer"] is None:
        del config["activity_regularizer"]  # Keras's Layer.get_config writes it only when set
    return config


def _serialize_layer(layer):
    config = layer.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"{type(layer).__name__}.get_config() must return a dict.")
    config = _normalize_layer_config(layer, config)
    record = _class_record(layer, kerasify(serialize_keras_object(config)))
    if is_model(layer):
        bc = layer._saved_build_config()
        if overrides(layer, "get_build_config"):
            bc = serialize_keras_object(layer.get_build_config())
        if bc is not None:
            record["build_config"] = bc
        compile_config = layer.get_compile_config()
        record["compile_config"] = (serialize_keras_object(compile_config)
                                    if overrides(layer, "get_compile_config") else compile_config)
    return record


def is_model(obj) -> bool:
    """Whether `obj` (an instance or a class) is a model: what has a compile config (Keras's
    Model API); the registry sits below the models, so it asks instead of importing Model."""
    return callable(getattr(obj, "get_compile_config", None))


def _input_layer_class():
    """InputLayer, through the registry's table (the registry sits below the layers)."""
    from trine import registry
    return registry.resolve_class("layers", "InputLayer")


