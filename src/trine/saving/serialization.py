"""Configs in Keras 3's format, and the allow-list that turns them back into objects.

`serialize_keras_object(obj)` writes the dict Keras 3 writes for the same object
(`{"module", "class_name", "config", "registered_name"}`, plus `build_config` /
`compile_config` for layers and models); `deserialize_keras_object(config)` reverses it.

Loading never imports a module named in a file and never evaluates code. A class or
function named in a config resolves only to:

1. an object the caller passed in `custom_objects` or a `custom_object_scope`;
2. an object registered with `register_serializable` (alias `register_keras_serializable`);
3. a class or function on the explicit allow-list in `trine.registry.allowlist` (trine's own
   layers, models, optimizers, losses, metrics, initializers, regularizers, constraints and
   activations, listed by name).

The "module" field of a config only selects which of trine's namespaces to look in. Anything
else raises `UnsafeFileError` naming the module and class. A Python lambda stored as bytecode
(Keras's `__lambda__`) is refused unless the *caller* passes `safe_mode=False`; nothing in a
file can change that (an outer `safe_mode=True` wins over any nested request).

A class added to trine later is loadable only once it is added to that list.
"""
from __future__ import annotations

import contextlib
import contextvars
import inspect
import threading
import types
import warnings

import numpy as np

from trine.core import allocation
from trine.saving.errors import SavingError, UnsafeFileError
from trine.saving.weights import overrides as _weights_overrides

# ====================================================================== registry
# Registration lives in core (every layer of the package may need it); re-exported here.
from trine.core.registration import (CustomObjectScope, _NAMES, _REGISTERED,  # noqa: E402
                                     _scope_dict, custom_object_scope, get_custom_objects,
                                     get_registered_name, get_registered_object,
                                     register_keras_serializable, register_serializable)


# ====================================================================== safe mode
_SAFE_MODE: contextvars.ContextVar = contextvars.ContextVar("trine_safe_mode", default=None)


@contextlib.contextmanager
def _safe_mode_scope(value: bool):
    outer = _SAFE_MODE.get()
    # An enclosing safe scope can never be switched off from inside.
    effective = True if outer is True else bool(value)
    token = _SAFE_MODE.set(effective)
    try:
        yield effective
    finally:
        _SAFE_MODE.reset(token)


def in_safe_mode() -> bool:
    """Whether deserialization currently refuses code: True unless the caller passed
    safe_mode=False, or called trine.config.enable_unsafe_deserialization() (Keras's global
    switch, which only code in your process can reach; nothing a file names can)."""
    from trine import config
    v = _SAFE_MODE.get()
    return (True if v is None else v) and not config.unsafe_deserialization_enabled()


# ====================================================================== allow-list
# kind -> (trine module, Keras module written in files)
_KINDS = {
    "layers": ("trine.layers", "keras.layers"),
    "models": ("trine.models", "keras"),
    "optimizers": ("trine.optimizers", "keras.optimizers"),
    "schedules": ("trine.optimizers.schedules", "keras.optimizers.schedules"),
    "losses": ("trine.losses", "keras.losses"),
    "metrics": ("trine.metrics", "keras.metrics"),
    "initializers": ("trine.initializers", "keras.initializers"),
    "regularizers": ("trine.regularizers", "keras.regularizers"),
    "constraints": ("trine.constraints", "keras.constraints"),
    "activations": ("trine.activations", "keras.activations"),
}


def _allowlist(kind: str) -> dict:
    """`{name: class or function}` a file may name for `kind` (the registry's explicit list)."""
    from trine import registry
    out = dict(registry.allowed_classes(kind))
    out.update(registry.allowed_functions(kind))
    return out


def _kind_of_module(module) -> list:
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


def _builtin_kind(obj):
    """(kind, name) if `obj` (an instance, class or function) is one of trine's own."""
    cls = obj if inspect.isclass(obj) or isinstance(obj, types.FunctionType) else type(obj)
    for kind in _KINDS:
        for name, c in _allowlist(kind).items():
            if c is cls:
                return kind, name
    return None


# ====================================================================== serialize
_PLAIN = (str, int, float, bool)

# Keras layer classes that are marked built at construction, so Keras writes no build_config.
_KERAS_PREBUILT = frozenset({
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


def _dtype_policy(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}


def _kerasify(value):
    """Rewrite trine module names inside nested configs to the Keras ones."""
    if isinstance(value, dict):
        out = {k: _kerasify(v) for k, v in value.items()}
        mod = out.get("module")
        if "class_name" in out and "config" in out and isinstance(mod, str) and mod.startswith("trine."):
            out["module"] = "keras." + mod[len("trine."):]
            out.setdefault("registered_name", None)
        return out
    if isinstance(value, list):
        return [_kerasify(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_kerasify(v) for v in value)
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

    if obj is None or isinstance(obj, _PLAIN):
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
    entry = _NAMES.get(id(fn))
    if entry is not None and entry[0] is fn:
        return {"module": fn.__module__, "class_name": "function", "config": entry[1],
                "registered_name": entry[1]}
    bk = _builtin_kind(fn)
    if bk is not None:
        return {"module": _KINDS[bk[0]][1], "class_name": "function", "config": fn.__name__,
                "registered_name": fn.__name__}
    raise TypeError(
        f"Cannot serialize function {getattr(fn, '__name__', fn)!r} (module "
        f"{getattr(fn, '__module__', None)}): it is not one of trine's and not registered. "
        "Register it with trine.saving.register_serializable().")


def _class_record(obj, config):
    cls = type(obj)
    entry = _NAMES.get(id(cls))
    if entry is not None and entry[0] is cls:
        module = cls.__module__ if cls.__module__ != "__main__" else None
        return {"module": module, "class_name": cls.__name__, "config": config,
                "registered_name": entry[1]}
    bk = _builtin_kind(obj)
    if bk is not None:
        kind, _ = bk
        if kind == "models" and cls.__name__ == "Functional":
            return {"module": "keras.src.models.functional", "class_name": "Functional",
                    "config": config, "registered_name": "Functional"}
        return {"module": _KINDS[kind][1], "class_name": cls.__name__, "config": config,
                "registered_name": None}
    module = cls.__module__ if cls.__module__ != "__main__" else None
    return {"module": module, "class_name": cls.__name__, "config": config,
            "registered_name": cls.__name__}


def _serialize_configurable(obj):
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"{type(obj).__name__}.get_config() must return a dict, returned "
                        f"{type(config).__name__}.")
    return _class_record(obj, _kerasify(serialize_keras_object(config)))


def _normalize_layer_config(layer, config):
    """trine's layer config -> the keys and value forms Keras 3 writes."""
    from trine.layers.core import InputLayer
    config = dict(config)
    config.pop("batch_input_shape", None)
    if isinstance(layer, InputLayer):
        out = {"batch_shape": config.get("batch_shape"), "dtype": config.get("dtype"),
               "sparse": bool(config.get("sparse", False)), "ragged": False,
               "name": config.get("name", layer.name),
               "optional": bool(config.get("optional", getattr(layer, "optional", False)))}
        for k, v in config.items():
            out.setdefault(k, v)
        return out
    if isinstance(config.get("dtype"), str):
        config["dtype"] = _dtype_policy(config["dtype"])
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
    record = _class_record(layer, _kerasify(serialize_keras_object(config)))
    from trine.models.model import Model
    if isinstance(layer, Model):
        bc = _model_build_config(layer)
        if _weights_overrides(layer, "get_build_config"):
            bc = serialize_keras_object(layer.get_build_config())
        if bc is not None:
            record["build_config"] = bc
        record["compile_config"] = (serialize_keras_object(layer.get_compile_config())
                                    if _weights_overrides(layer, "get_compile_config")
                                    else get_compile_config(layer))
    return record


def _model_build_config(model):
    from trine.models.functional import Functional
    from trine.models.sequential import Sequential
    if isinstance(model, Functional):
        return {"input_shape": None}
    if isinstance(model, Sequential):
        if model._functional is None:
            return None
        return {"input_shape": tuple(model._input_layer.batch_shape)}
    shape = getattr(model, "_build_input_shape", None)
    if shape is None:
        return None
    return {"input_shape": _shape_to_json(shape)}


def _shape_to_json(shape):
    if isinstance(shape, dict):
        return {k: _shape_to_json(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [_shape_to_json(s) for s in shape]
    return tuple(None if d is None else int(d) for d in shape)


def _json_to_shape(shape):
    if isinstance(shape, dict):
        return {k: _json_to_shape(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [_json_to_shape(s) for s in shape]
    if not isinstance(shape, (list, tuple)):
        raise SavingError(f"Invalid shape {shape!r} in the file's build_config.")
    for d in shape:
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 0):
            raise SavingError(f"Invalid shape {shape!r} in the file's build_config.")
    return tuple(shape)


# ====================================================================== deserialize
_MAX_DEPTH = 200


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """Rebuild an object from `serialize_keras_object`'s output (or a Keras 3 config).

    Args:
        config: the config (dict, list or plain value).
        custom_objects: `{name: class or function}` for objects that are not trine's own.
        safe_mode: refuse code stored in the config (Keras `__lambda__` bytecode). Only the
            caller can pass False; an enclosing safe load cannot be switched off.

    Returns:
        The object.

    Raises:
        UnsafeFileError: for a class or function not on the allow-list, or a lambda in safe mode.
        SavingError: for a malformed config.
    """
    custom = dict(_scope_dict())
    custom.update(custom_objects or {})
    if isinstance(config, str) and config in custom:
        return custom[config]
    with _safe_mode_scope(safe_mode), custom_object_scope(custom_objects or {}), \
            allocation.allocation_budget("the config"):
        try:
            return _deserialize(config, custom, 0)
        except RecursionError as e:
            raise SavingError("The config is nested too deeply to load.") from e
        except allocation.LoadRefused as e:
            raise UnsafeFileError(str(e)) from e


def _deserialize(config, custom, depth):
    if depth > _MAX_DEPTH:
        raise SavingError(f"The config is nested deeper than {_MAX_DEPTH} levels.")
    if config is None or isinstance(config, _PLAIN):
        return config
    if isinstance(config, (list, tuple)):
        return [_deserialize(x, custom, depth + 1) for x in config]
    if not isinstance(config, dict):
        raise SavingError(f"Could not parse config entry {config!r} ({type(config).__name__}).")
    if "class_name" not in config or "config" not in config:
        return {k: _deserialize(v, custom, depth + 1) for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if not isinstance(class_name, str):
        raise SavingError(f"Invalid class_name {class_name!r} in the config.")
    special = _deserialize_special(class_name, inner, config, custom, depth)
    if special is not _NOT_SPECIAL:
        return special
    if class_name == "function":
        return _resolve_function(config, custom)
    if not isinstance(inner, dict):
        raise SavingError(f"Expected the 'config' of {class_name} to be a dict, received "
                          f"{type(inner).__name__}.")
    cls = _resolve_class(config, custom)
    return _instantiate(cls, config, inner, custom)


_NOT_SPECIAL = object()


def _deserialize_special(class_name, inner, config, custom, depth):
    if class_name == "__keras_tensor__":
        from trine.core.symbolic import KerasTensor
        try:
            t = KerasTensor(_json_to_shape(inner["shape"]), inner.get("dtype") or "float32")
        except (KeyError, TypeError, ValueError) as e:
            raise SavingError(f"Invalid symbolic tensor record {config!r}: {e}.") from e
        t._pre_serialization_keras_history = inner.get("keras_history")
        return t
    if class_name in ("__numpy__", "__tensor__"):
        return _array_from_config(inner)
    if class_name == "__bytes__":
        v = inner.get("value") if isinstance(inner, dict) else None
        if not isinstance(v, str):
            raise SavingError("Invalid __bytes__ record in the config.")
        return v.encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        if not isinstance(inner, dict):
            raise SavingError("Invalid __slice__ record in the config.")
        parts = [_deserialize(inner.get(k), custom, depth + 1) for k in ("start", "stop", "step")]
        for p in parts:
            if p is not None and (isinstance(p, bool) or not isinstance(p, int)):
                raise SavingError(f"Invalid slice bound {p!r} in the config.")
        return slice(*parts)
    if class_name == "__lambda__":
        return _load_lambda(inner, config)
    if class_name == "__typespec__":
        raise UnsafeFileError(
            "Refused to load a TensorFlow TypeSpec record (__typespec__): trine does not "
            "resolve TensorFlow classes from files.")
    if class_name.startswith("__"):
        raise SavingError(f"Unknown special record {class_name!r} in the config.")
    return _NOT_SPECIAL


_ARRAY_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "bfloat16"}
_MAX_ARRAY_ELEMENTS = 1 << 24


def _array_from_config(inner):
    if not isinstance(inner, dict) or inner.get("dtype") not in _ARRAY_DTYPES:
        raise SavingError(
            f"Invalid array record in the config (dtype must be one of {sorted(_ARRAY_DTYPES)}).")
    value = inner.get("value")
    count = [0]

    def check(v, d=0):
        if d > 32:
            raise SavingError("Array record nested too deeply.")
        if isinstance(v, list):
            for e in v:
                check(e, d + 1)
        elif isinstance(v, (int, float, bool)) or v is None:
            count[0] += 1
            if count[0] > _MAX_ARRAY_ELEMENTS:
                raise UnsafeFileError(
                    f"Refused to load an array record of more than {_MAX_ARRAY_ELEMENTS} values "
                    "from the config.")
        else:
            raise SavingError(f"Invalid array element {v!r} in the config.")

    check(value)
    dtype = inner["dtype"]
    if dtype == "bfloat16":
        import ml_dtypes
        dtype = ml_dtypes.bfloat16
    try:
        return np.array(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise SavingError(f"Invalid array record in the config: {e}.") from e


def _load_lambda(inner, config):
    """A Keras `__lambda__` record: bytecode, loaded only when the caller disabled safe mode."""
    code = inner.get("value") if isinstance(inner, dict) else None
    if code is None and isinstance(inner, dict):
        code = inner.get("code")
    if code is None:
        # trine's own record of an unsaved lambda: no code to load; the layer asks for it.
        return dict(config)
    if in_safe_mode():
        raise UnsafeFileError(
            "Refused to load a Python lambda stored as bytecode in the model file (Keras "
            "__lambda__ record): loading it would run code from the file. If you trust the "
            "file, pass safe_mode=False to load_model(); better, rebuild the Lambda with a "
            "named, registered function.")
    import base64
    import marshal
    if isinstance(code, (list, tuple)):
        code, defaults, closure = (list(code) + [None, None])[:3]
    else:
        defaults, closure = inner.get("defaults"), inner.get("closure")
    try:
        raw = base64.b64decode(code.encode("ascii") if isinstance(code, str) else code)
        fn_code = marshal.loads(raw)
    except (ValueError, TypeError, EOFError) as e:
        raise SavingError(f"The lambda's bytecode in the file cannot be read ({e}); it was "
                          "probably written by another Python version.") from e
    if not isinstance(fn_code, types.CodeType):
        raise SavingError("The lambda record in the file does not hold a code object.")

    def cell(v):
        return (lambda: v).__closure__[0]

    cl = tuple(cell(v) for v in closure) if closure else None
    import trine
    globs = {"__builtins__": __builtins__, "trine": trine}
    return types.FunctionType(fn_code, globs, fn_code.co_name,
                              tuple(defaults) if defaults else None, cl)


def _refuse_name(what, name, module, registered):
    reg = f", registered_name {registered!r}" if registered else ""
    return UnsafeFileError(
        f"Refused to load {what} {name!r} (module {module!r}{reg}): it is not on trine's "
        "allow-list. Files may only name trine's own layers, models, optimizers, losses, "
        "metrics, initializers, regularizers, constraints and activations, or objects you "
        "register with trine.saving.register_serializable() or pass in custom_objects= "
        "(or a custom_object_scope). No module is ever imported from a file.")


def _resolve_function(config, custom):
    name = config.get("config")
    registered = config.get("registered_name")
    module = config.get("module")
    if not isinstance(name, str):
        raise SavingError(f"Invalid function record {config!r}: 'config' must be its name.")
    for key in (registered, name):
        if isinstance(key, str):
            obj = get_registered_object(key, custom)
            if obj is not None:
                return obj
    kinds = _kind_of_module(module)
    if module == "builtins" or not kinds:
        kinds = ["activations", "losses", "metrics"] if module in ("builtins", None) else []
    for kind in kinds:
        if kind not in ("activations", "losses", "metrics"):
            continue
        from trine import registry
        allowed = registry.allowed_functions(kind)
        fn = allowed.get(name)
        if fn is None and kind == "activations":
            from trine import activations
            try:
                fn = activations.get(name)  # Keras's aliases ("swish"), checked against the list
            except ValueError:
                fn = None
            if not any(fn is f for f in allowed.values()):
                fn = None
        if fn is not None:
            return fn
    raise _refuse_name("function", name, module, registered)


_FUNCTION_NAMESPACES = ("keras", "trine", "jax")


def _check_function_namespace(record):
    """Refuse a function record that names a module outside Keras / trine / JAX (or a
    `builtins` name that is not one of trine's activations, losses or metrics)."""
    module = record.get("module")
    name = record.get("config")
    if module is None:
        return
    if not isinstance(module, str) or not isinstance(name, str):
        raise SavingError(f"Invalid function record {record!r} in the config.")
    head = module.split(".")[0]
    if head in _FUNCTION_NAMESPACES:
        return
    if module == "builtins" and any(name in _allowlist(k) for k in
                                    ("activations", "losses", "metrics")):
        return
    raise _refuse_name("function", name, module, record.get("registered_name"))


def _resolve_class(config, custom):
    class_name = config["class_name"]
    registered = config.get("registered_name")
    module = config.get("module")
    for key in (registered, class_name):
        if isinstance(key, str):
            obj = get_registered_object(key, custom)
            if obj is not None:
                if key == registered and key != class_name and getattr(
                        obj, "__name__", None) != class_name:
                    raise SavingError(
                        f"The config's registered_name {registered!r} names "
                        f"{getattr(obj, '__name__', obj)!r}, but its class_name says "
                        f"{class_name!r}: the record is inconsistent (edited by hand, or a "
                        "different class was registered under that name).")
                return obj
    from trine import registry
    for kind in _kind_of_module(module):
        cls = registry.allowed_classes(kind).get(class_name)
        if cls is not None:
            return cls
    raise _refuse_name("class", class_name, module, registered)


def _policy_to_dtype(policy, where):
    if isinstance(policy, str) or policy is None:
        return policy
    if isinstance(policy, dict):
        name = policy.get("config", {}).get("name") if isinstance(policy.get("config"), dict) else None
        if policy.get("class_name") in ("DTypePolicy", "FloatDTypePolicy", "Policy") and isinstance(name, str):
            return name  # "mixed_bfloat16" etc. are trine policies too
    raise SavingError(f"{where}: unsupported dtype policy {policy!r}.")


_LAYER_BASE_KWARGS = {"name", "dtype", "trainable", "autocast", "activity_regularizer",
                      "input_shape", "input_dim", "batch_input_shape", "batch_size",
                      "input_length"}


def _accepted_kwargs(cls):
    """Constructor keywords `cls` accepts (None: it takes anything)."""
    from trine.core.layer import Layer
    # keys a class's get_config writes and its __init__ pops from **kwargs
    accepted = set(getattr(cls, "_CONFIG_ONLY_KEYS", ()))
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is Layer:
            return accepted | _LAYER_BASE_KWARGS
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            return None
        var_kw = False
        for p in params.values():
            if p.kind == p.VAR_KEYWORD:
                var_kw = True
            elif p.kind != p.VAR_POSITIONAL:
                accepted.add(p.name)
        if not var_kw:
            return accepted
    return None


def _neutral(v):
    return v is None or v is False or v == {} or v == []


def _prepare_config(cls, inner, custom):
    """Turn a (Keras or trine) config into constructor arguments for trine class `cls`."""
    from trine.core.layer import Layer
    config = dict(inner)
    where = f"{cls.__name__} '{config.get('name', '?')}'"
    if "dtype" in config and isinstance(config["dtype"], dict):
        config["dtype"] = _policy_to_dtype(config["dtype"], where)
    config.pop("shared_object_id", None)
    # Code stored in a config (Keras `__lambda__`) is refused here in safe mode, wherever it is.
    config = _strip_code(config, 0)
    # Functions named in a config that the caller registered or passed resolve here; others
    # are left to the class's own from_config (trine's resolve names against allow-lists).
    for k, v in list(config.items()):
        if isinstance(v, dict) and v.get("class_name") == "function":
            for key in (v.get("registered_name"), v.get("config")):
                obj = get_registered_object(key, custom) if isinstance(key, str) else None
                if obj is not None:
                    config[k] = obj
                    break
            else:
                _check_function_namespace(v)
    from trine.models.model import Model
    builtin = _builtin_kind(cls) is not None
    if builtin and inspect.isclass(cls) and issubclass(cls, Layer) and not issubclass(cls, Model):
        accepted = _accepted_kwargs(cls)
        if accepted is not None:
            for k in list(config):
                if k in accepted:
                    continue
                if _neutral(config[k]):
                    del config[k]
                else:
                    raise SavingError(
                        f"{where}: the file sets {k}={config[k]!r}, an option trine's "
                        f"{cls.__name__} does not support.")
    return config


def _strip_code(value, depth):
    if depth > 64:
        raise SavingError("The config is nested too deeply to load.")
    if isinstance(value, dict):
        if value.get("class_name") == "__lambda__":
            return _load_lambda(value.get("config") or {}, value)
        return {k: _strip_code(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_code(v, depth + 1) for v in value]
    return value


def _call_from_config(cls, config, custom):
    fc = getattr(cls, "from_config", None)
    if fc is None:
        raise SavingError(f"Class {cls.__name__} has no from_config() and cannot be rebuilt.")
    try:
        params = inspect.signature(fc).parameters
    except (TypeError, ValueError):
        params = {}
    if "custom_objects" in params:
        return fc(config, custom_objects=custom)
    return fc(config)


def _instantiate(cls, record, inner, custom):
    from trine.core.layer import Layer
    from trine.models.model import Model
    config = _prepare_config(cls, inner, custom)
    name = config.get("name") if isinstance(config.get("name"), str) else "?"
    try:
        with allocation.loading(f"{cls.__name__} '{name}'"):
            instance = _call_from_config(cls, config, custom)
    except (SavingError, UnsafeFileError, allocation.LoadRefused):
        raise
    except TypeError as e:
        raise SavingError(
            f"Could not rebuild {cls.__name__} from the file's config: {e}. If it is your own "
            "class, check that get_config() returns exactly its constructor arguments "
            "(and that from_config() rebuilds nested objects).") from e
    build_config = record.get("build_config")
    if isinstance(instance, Layer) and isinstance(build_config, dict) and not instance.built:
        with allocation.loading(f"{cls.__name__} '{name}'"):
            if _weights_overrides(instance, "build_from_config") or "shapes_dict" in build_config:
                _call_hook(instance, "build_from_config", build_config)
            else:
                shape = build_config.get("input_shape")
                if shape is not None:
                    _build_from_shape(instance, _json_to_shape(shape))
    compile_config = record.get("compile_config")
    if isinstance(instance, Model) and compile_config and _COMPILE.get():
        if _weights_overrides(instance, "compile_from_config"):
            _call_hook(instance, "compile_from_config", compile_config)
        else:
            compile_from_config(instance, compile_config, custom)
    return instance


def _call_hook(obj, method, config):
    """Call a user's saving hook; its errors become a SavingError naming the object."""
    try:
        getattr(obj, method)(config)
    except (SavingError, allocation.LoadRefused):
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise SavingError(f"{type(obj).__name__} '{getattr(obj, 'name', '?')}': its "
                          f"{method}() failed on the file's config: {type(e).__name__}: {e}") from e


def _build_from_shape(layer, shape):
    import jax
    from trine.models.model import Model
    if isinstance(layer, Model):
        layer.build(shape)
        return
    with jax.ensure_compile_time_eval():
        layer.build(shape)
    layer.built = True


_COMPILE: contextvars.ContextVar = contextvars.ContextVar("trine_compile_on_load", default=True)
_COMPILE_EXTRAS: contextvars.ContextVar = contextvars.ContextVar("trine_compile_extras",
                                                                 default=None)


@contextlib.contextmanager
def _compile_scope(value: bool, extras=None):
    token = _COMPILE.set(bool(value))
    token2 = _COMPILE_EXTRAS.set(extras if isinstance(extras, dict) else None)
    try:
        yield
    finally:
        _COMPILE.reset(token)
        _COMPILE_EXTRAS.reset(token2)


def trine_compile_extras(model) -> dict:
    """Compile settings Keras's compile_config cannot hold (kept in metadata.json)."""
    spe = getattr(model, "steps_per_execution", 1) if getattr(model, "compiled", False) else 1
    if isinstance(spe, str):
        return {"steps_per_execution": spe}
    return {}


# ====================================================================== compile config
def get_compile_config(model) -> dict:
    """The `compile_config` Keras 3 writes for a compiled model ({} if not compiled)."""
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return {}
    try:
        optimizer = serialize_keras_object(model.optimizer)
        import json
        json.dumps(optimizer)
    except (TypeError, ValueError):
        warnings.warn(
            f"The optimizer of model '{model.name}' ({type(model.optimizer).__name__}) cannot be "
            "written as a Keras config, so the file records no compile settings; compile the "
            "model again after loading.", stacklevel=3)
        return {}

    cfg = optimizer.get("config") if isinstance(optimizer, dict) else None
    if isinstance(cfg, dict) and isinstance(cfg.get("learning_rate"), float):
        # Keras keeps the rate in a float32 variable and writes that value back
        cfg["learning_rate"] = float(np.float32(cfg["learning_rate"]))

    def ser(v):
        return _kerasify(serialize_keras_object(v))

    spe = getattr(model, "steps_per_execution", 1)
    return {
        "optimizer": optimizer,
        "loss": ser(getattr(model, "_loss_arg", None)),
        "loss_weights": ser(getattr(model, "_loss_weights_arg", None)),
        "metrics": ser(getattr(model, "_metrics_arg", None)),
        "weighted_metrics": ser(getattr(model, "_weighted_metrics_arg", None)),
        "run_eagerly": bool(getattr(model, "_run_eagerly", False)),
        "steps_per_execution": spe if isinstance(spe, int) and not isinstance(spe, bool) else 1,
        "jit_compile": not bool(getattr(model, "_run_eagerly", False)),
    }


def _compile_arg(value, custom, kind):
    """A loss/metric entry of a compile config -> what `compile` accepts."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_compile_arg(v, custom, kind) for v in value]
    if isinstance(value, dict):
        if "class_name" in value and "config" in value:
            if value["class_name"] == "function":
                try:
                    return _resolve_function(value, custom)
                except UnsafeFileError:
                    name = value.get("config")
                    if isinstance(name, str) and _kind_of_module(value.get("module")) in (
                            ["losses"], ["metrics"]):
                        return name  # compile() resolves Keras names itself
                    raise
            return _deserialize(value, custom, 0)
        return {k: _compile_arg(v, custom, kind) for k, v in value.items()}
    return value


def compile_from_config(model, config: dict, custom_objects=None) -> None:
    """Compile `model` from a Keras 3 `compile_config`."""
    custom = dict(_scope_dict())
    custom.update(custom_objects or {})
    if not isinstance(config, dict):
        raise SavingError(f"Invalid compile_config {config!r}: expected a dict.")
    opt = config.get("optimizer")
    if isinstance(opt, dict):
        from trine import optimizers
        cls_name = opt.get("class_name")
        reg = get_registered_object(opt.get("registered_name"), custom) if opt.get(
            "registered_name") else None
        if reg is not None:
            opt = _deserialize(opt, custom, 0)
        else:
            if cls_name not in _allowlist("optimizers"):
                raise _refuse_name("optimizer class", cls_name, opt.get("module"),
                                   opt.get("registered_name"))
            inner = dict(opt.get("config") or {})
            lr = inner.get("learning_rate")
            if isinstance(lr, dict) and "class_name" in lr:
                if lr.get("class_name") not in _allowlist("schedules"):
                    reg_lr = get_registered_object(lr.get("registered_name"), custom)
                    if reg_lr is None:
                        raise _refuse_name("learning-rate schedule", lr.get("class_name"),
                                           lr.get("module"), lr.get("registered_name"))
                    inner["learning_rate"] = _deserialize(lr, custom, 0)
            try:
                opt = optimizers.deserialize({"class_name": cls_name, "config": inner})
            except (TypeError, ValueError) as e:
                raise SavingError(f"Could not rebuild optimizer {cls_name} from the file: {e}.") from e
    elif opt is not None and not isinstance(opt, str):
        raise SavingError(f"Invalid optimizer entry {opt!r} in compile_config.")
    spe = config.get("steps_per_execution", 1)
    extras = _COMPILE_EXTRAS.get() or {}
    if extras.get("steps_per_execution") in ("auto", "epoch"):
        spe = extras["steps_per_execution"]
    if not (spe in ("auto", "epoch") or (isinstance(spe, int) and not isinstance(spe, bool)
                                         and spe >= 1)):
        raise SavingError(f"Invalid steps_per_execution {spe!r} in compile_config.")
    kwargs = dict(
        optimizer=opt if opt is not None else "rmsprop",
        loss=_compile_arg(config.get("loss"), custom, "losses"),
        loss_weights=config.get("loss_weights"),
        metrics=_compile_arg(config.get("metrics"), custom, "metrics"),
        weighted_metrics=_compile_arg(config.get("weighted_metrics"), custom, "metrics"),
        run_eagerly=bool(config.get("run_eagerly", False)),
        steps_per_execution=spe,
    )
    try:
        model.compile(**kwargs)
    except (TypeError, ValueError) as e:
        raise SavingError(f"Could not compile model '{model.name}' from the file's "
                          f"compile_config: {e}") from e


# ====================================================================== functional graphs
def _is_input_layer(layer):
    from trine.layers.core import InputLayer
    return isinstance(layer, InputLayer)


def _graph(model):
    """(layers in Keras 3's order, ids of the nodes that belong to `model`)."""
    outputs = list(model._output_tensors)
    inputs = list(model._input_tensors)
    finished, post_order, op_index = set(), [], {}
    for out in outputs:
        stack = [(out, False)]
        while stack:
            t, expanded = stack.pop()
            hist = t._keras_history
            if hist is None:
                continue
            layer, ni, _ = hist
            node = layer._inbound_nodes[ni]
            if expanded:
                if id(node) not in finished:
                    finished.add(id(node))
                    post_order.append(node)
                continue
            if id(node) in finished:
                continue
            op_index.setdefault(id(layer), (len(op_index), layer))
            stack.append((t, True))
            if not _is_input_layer(layer):
                for parent in reversed(node.input_tensors):
                    stack.append((parent, False))
    node_depth, op_depth = {}, {}
    in_graph = {id(n) for n in post_order}
    for node in reversed(post_order):
        d = node_depth.setdefault(id(node), 0)
        d = max(d, op_depth.get(id(node.layer), 0))
        op_depth[id(node.layer)] = d
        node_depth[id(node)] = d
        if _is_input_layer(node.layer):
            continue
        for t in node.input_tensors:
            pl, pni, _ = t._keras_history
            parent = pl._inbound_nodes[pni]
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(d + 1, node_depth.get(id(parent), 0))
    own = set(in_graph)
    for t in inputs:
        layer, ni, _ = t._keras_history
        if id(layer) not in op_depth:
            op_depth[id(layer)] = 0
            op_index[id(layer)] = (-1, layer)
            own.add(id(layer._inbound_nodes[ni]))
    layers = sorted((op_index[k][1] for k in op_depth),
                    key=lambda l: (-op_depth[id(l)], op_index[id(l)][0]))
    return layers, own


def keras_layer_order(model) -> list:
    """The layers of a Functional model in the order Keras 3 lists them (`model.layers`)."""
    return _graph(model)[0]


def _is_functional(layer):
    from trine.models.functional import Functional
    return isinstance(layer, Functional)


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
    if type(layer).__name__ in _KERAS_PREBUILT or not layer.built:
        return None
    if _weights_overrides(layer, "get_build_config"):  # e.g. MultiHeadAttention, a custom build()
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
    layers, own = _graph(model)
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
           "dtype": _dtype_policy(model.dtype), "layers": layers}
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
    layer = _deserialize(entry, custom, 1)
    from trine.core.layer import Layer
    if not isinstance(layer, Layer):
        raise SavingError(f"The model config lists {type(layer).__name__}, which is not a layer.")
    if (isinstance(build_config, dict) and not layer.built
            and _weights_overrides(layer, "build_from_config")):
        with allocation.loading(f"{type(layer).__name__} '{layer.name}'"):
            _call_hook(layer, "build_from_config", build_config)
    return layer


def sequential_from_config(cls, config: dict, custom_objects=None):
    """`Sequential.from_config`: rebuild the stack (and its graph, when the shape is known)."""
    custom = dict(_scope_dict())
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
        model.build(_json_to_shape(shape))
    if config.get("trainable") is False:
        model.trainable = False
    return model


def functional_from_config(cls, config: dict, custom_objects=None):
    """`Functional.from_config`: recreate the layers, replay the calls, rebuild the model."""
    from trine.core.symbolic import KerasTensor
    custom = dict(_scope_dict())
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
        return _deserialize(value, custom, depth)
    if isinstance(value, dict):
        return {k: _node_literal(v, custom, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_node_literal(v, custom, depth + 1) for v in value]
    if value is None or isinstance(value, _PLAIN):
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


__all__ = [
    "CustomObjectScope", "compile_from_config", "custom_object_scope",
    "deserialize_keras_object", "functional_config", "functional_from_config",
    "get_compile_config", "get_registered_name", "get_registered_object", "in_safe_mode",
    "keras_layer_order", "register_keras_serializable", "register_serializable",
    "sequential_config", "sequential_from_config", "serialize_keras_object",
]
