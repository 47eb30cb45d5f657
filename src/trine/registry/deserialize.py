"""Objects rebuilt from Keras 3 records: `deserialize_keras_object(config)` reverses
`serialize_keras_object`, and reads the records Keras 3 writes.

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
import importlib
import inspect
import types

import numpy as np

from trine.core import allocation
from trine.core.registration import custom_object_scope, get_registered_object, scope_objects
from trine.core.tracking import overrides
from trine.registry.errors import SavingError, UnsafeFileError
from trine.registry.serialize import (PLAIN_TYPES, allowlist_of, builtin_kind, is_model,
                                      kinds_of_module)

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



def json_to_shape(shape):
    if isinstance(shape, dict):
        return {k: json_to_shape(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [json_to_shape(s) for s in shape]
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
    custom = dict(scope_objects())
    custom.update(custom_objects or {})
    if isinstance(config, str) and config in custom:
        return custom[config]
    with _safe_mode_scope(safe_mode), custom_object_scope(custom_objects or {}), \
            allocation.allocation_budget("the config"):
        try:
            return deserialize_config(config, custom, 0)
        except RecursionError as e:
            raise SavingError("The config is nested too deeply to load.") from e
        except allocation.LoadRefused as e:
            raise UnsafeFileError(str(e)) from e


def deserialize_config(config, custom, depth):
    if depth > _MAX_DEPTH:
        raise SavingError(f"The config is nested deeper than {_MAX_DEPTH} levels.")
    if config is None or isinstance(config, PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_config(x, custom, depth + 1) for x in config]
    if not isinstance(config, dict):
        raise SavingError(f"Could not parse config entry {config!r} ({type(config).__name__}).")
    if "class_name" not in config or "config" not in config:
        return {k: deserialize_config(v, custom, depth + 1) for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if not isinstance(class_name, str):
        raise SavingError(f"Invalid class_name {class_name!r} in the config.")
    special = _deserialize_special(class_name, inner, config, custom, depth)
    if special is not _NOT_SPECIAL:
        return special
    if class_name == "function":
        return resolve_function_record(config, custom)
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
            t = KerasTensor(json_to_shape(inner["shape"]), inner.get("dtype") or "float32")
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
        parts = [deserialize_config(inner.get(k), custom, depth + 1) for k in ("start", "stop", "step")]
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
    # the package the lambda was written against, by its fixed name (it is imported already)
    globs = {"__builtins__": __builtins__, "trine": importlib.import_module("trine")}
    return types.FunctionType(fn_code, globs, fn_code.co_name,
                              tuple(defaults) if defaults else None, cl)


def refuse_name(what, name, module, registered):
    reg = f", registered_name {registered!r}" if registered else ""
    return UnsafeFileError(
        f"Refused to load {what} {name!r} (module {module!r}{reg}): it is not on trine's "
        "allow-list. Files may only name trine's own layers, models, optimizers, losses, "
        "metrics, initializers, regularizers, constraints and activations, or objects you "
        "register with trine.saving.register_serializable() or pass in custom_objects= "
        "(or a custom_object_scope). No module is ever imported from a file.")


def resolve_function_record(config, custom):
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
    kinds = kinds_of_module(module)
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
    raise refuse_name("function", name, module, registered)


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
    if module == "builtins" and any(name in allowlist_of(k) for k in
                                    ("activations", "losses", "metrics")):
        return
    raise refuse_name("function", name, module, record.get("registered_name"))


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
    for kind in kinds_of_module(module):
        cls = registry.allowed_classes(kind).get(class_name)
        if cls is not None:
            return cls
    raise refuse_name("class", class_name, module, registered)


def _policy_to_dtype(policy, where):
    if isinstance(policy, str) or policy is None:
        return policy
    if isinstance(policy, dict):
        name = policy.get("config", {}).get("name") if isinstance(policy.get("config"), dict) else None
        if policy.get("class_name") in ("DTypePolicy", "FloatDTypePolicy", "Policy") and isinstance(name, str):
            return name  # "mixed_bfloat16" etc. are trine policies too
        from trine import dtype_policies
        if policy.get("class_name") in dtype_policies.RECORD_CLASSES:  # quantized, or a map
            try:
                return dtype_policies.deserialize(policy)
            except (TypeError, ValueError) as e:
                raise SavingError(f"{where}: invalid dtype policy {policy!r}: {e}") from None
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
    builtin = builtin_kind(cls) is not None
    if builtin and inspect.isclass(cls) and issubclass(cls, Layer) and not is_model(cls):
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
            if overrides(instance, "build_from_config") or "shapes_dict" in build_config:
                call_saving_hook(instance, "build_from_config", build_config)
            else:
                shape = build_config.get("input_shape")
                if shape is not None:
                    _build_from_shape(instance, json_to_shape(shape))
    compile_config = record.get("compile_config")
    if is_model(instance) and compile_config and _COMPILE.get():
        if overrides(instance, "compile_from_config"):
            call_saving_hook(instance, "compile_from_config", compile_config)
        else:
            instance.compile_from_config(compile_config)  # the custom objects are in scope
    return instance


def call_saving_hook(obj, method, config):
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
    if is_model(layer):
        layer.build(shape)
        return
    with jax.ensure_compile_time_eval():
        layer.build(shape)
    layer.built = True


_COMPILE: contextvars.ContextVar = contextvars.ContextVar("trine_compile_on_load", default=True)
COMPILE_EXTRAS: contextvars.ContextVar = contextvars.ContextVar("trine_compile_extras",
                                                                 default=None)


@contextlib.contextmanager
def compile_scope(value: bool, extras=None):
    token = _COMPILE.set(bool(value))
    token2 = COMPILE_EXTRAS.set(extras if isinstance(extras, dict) else None)
    try:
        yield
    finally:
        _COMPILE.reset(token)
        COMPILE_EXTRAS.reset(token2)


