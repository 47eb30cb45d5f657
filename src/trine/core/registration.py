"""Registration of user classes and functions by name (Keras's `register_keras_serializable`).

The one table of objects a user made loadable by name: `register_serializable` adds to it,
`custom_object_scope` adds for a block, `get_registered_object` reads it. Every module that
turns names into objects (activations, initializers, losses, the model-file loader, ...) looks
here after its own built-ins, so a registered function or class round-trips everywhere.
"""
from __future__ import annotations

import contextlib
import inspect
import threading

_REGISTERED: dict[str, object] = {}
_NAMES: dict[int, tuple[object, str]] = {}
_scope = threading.local()


def register_serializable(package: str = "Custom", name: str | None = None):
    """Register a class or function so model files can refer to it by name.

    The object is registered as `"package>name"` (name defaults to the object's
    `__name__`), the key Keras 3 writes in `registered_name`. Classes need `get_config`.

    Args:
        package: a namespace for the name (no ">").
        name: the name within the package; default the object's name.

    Returns:
        A decorator that registers and returns its argument.

    Raises:
        ValueError: if `package` contains ">" or a class has no `get_config`.

    Example:
        >>> @register_serializable(package="demo")
        ... class Scale(trine.layers.Layer):
        ...     ...
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(
            f"register_serializable: package must be a string without '>', received {package!r}.")

    def decorator(arg):
        key = f"{package}>{name if name is not None else arg.__name__}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(
                f"register_serializable: class {arg.__name__} has no get_config() method, so "
                "it cannot be saved. Define get_config() returning its constructor arguments.")
        _REGISTERED[key] = arg
        _NAMES[id(arg)] = (arg, key)
        return arg

    return decorator


register_keras_serializable = register_serializable


def get_custom_objects() -> dict:
    """The live registry of custom objects (`{"package>name": object}`), as Keras's: entries
    added to it resolve by name in model files and in string arguments, like registered ones.

    Example:
        >>> trine.saving.get_custom_objects()["demo>Scale"] = Scale
    """
    return _REGISTERED


def get_registered_name(obj) -> str:
    """The name `obj` is registered under, or its `__name__` if it is not registered."""
    entry = _NAMES.get(id(obj))
    if entry is not None and entry[0] is obj:
        return entry[1]
    return getattr(obj, "__name__", type(obj).__name__)


def scope_objects() -> dict:
    """The objects of the active `custom_object_scope`s (inner scopes win), by name."""
    out = {}
    for d in getattr(_scope, "stack", []):
        out.update(d)
    return out


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or passed in a custom-object scope / `custom_objects`) as `name`.

    Returns:
        The object, or None when nothing is registered under `name`.
    """
    if not isinstance(name, str):
        return None
    scoped = scope_objects()
    if name in scoped:
        return scoped[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


@contextlib.contextmanager
def custom_object_scope(*dicts):
    """Make `{name: object}` entries resolvable by `deserialize_keras_object` / `load_model`.

    Example:
        >>> with custom_object_scope({"MyLayer": MyLayer}):
        ...     model = trine.models.load_model("m.keras")
    """
    for d in dicts:
        if d is not None and not isinstance(d, dict):
            raise TypeError(f"custom_object_scope expects dicts, received {type(d).__name__}.")
    stack = getattr(_scope, "stack", None)
    if stack is None:
        stack = _scope.stack = []
    stack.append({k: v for d in dicts if d for k, v in d.items()})
    try:
        yield
    finally:
        stack.pop()


CustomObjectScope = custom_object_scope



def registered_name_of(obj):
    """The `"package>name"` `obj` was registered under, or None if it is not registered."""
    entry = _NAMES.get(id(obj))
    if entry is not None and entry[0] is obj:
        return entry[1]
    return None


# Layers (in core) take initializers, regularizers and constraints by name; those modules
# sit above core, so each registers its `get` here when it is imported.
_GETTERS: dict = {}


def register_getter(kind: str, getter) -> None:
    """Install `getter(identifier)` as the way core resolves a `kind` ("initializer",
    "regularizer" or "constraint") given by name, config or object."""
    _GETTERS[kind] = getter


def get_object(kind: str, identifier):
    """`trine.<kind>s.get(identifier)`, without core importing that module."""
    getter = _GETTERS.get(kind)
    if getter is None:
        raise RuntimeError(f"trine.{kind}s is not imported, so a {kind} cannot be resolved; "
                           "import trine first.")
    return getter(identifier)


__all__ = ["CustomObjectScope", "custom_object_scope", "get_custom_objects",
           "get_registered_name", "get_registered_object", "register_keras_serializable",
           "register_serializable", "registered_name_of"]


def object_record(obj, keras_module: str, builtins) -> dict:
    """The Keras 3 record of a configurable object (an initializer, regularizer, ...).

    Built-in classes (`builtins`: name -> class) are written under `keras_module` with no
    registered name; any other class under its own module and the name it was registered
    under (or its class name, which then has to be passed in `custom_objects` to load).
    """
    cls = type(obj)
    builtin = builtins.get(cls.__name__) is cls
    return {"module": keras_module if builtin else cls.__module__, "class_name": cls.__name__,
            "config": obj.get_config(),
            "registered_name": None if builtin else (registered_name_of(cls) or cls.__name__)}


def resolve_class(identifier, builtins, base, what: str):
    """The class a record (or name) names: a custom object in scope or registered first (as
    Keras), then `builtins`. It must be a subclass of `base`.

    Raises:
        ValueError: for a name nothing resolves, saying how to make it resolvable, or a
            registered name that points at something that is not a `what`.
    """
    if isinstance(identifier, dict):
        names = (identifier.get("registered_name"), identifier.get("class_name"))
        shown = identifier.get("registered_name") or identifier.get("class_name")
    else:
        names, shown = (identifier,), identifier
    for key in names:
        if not isinstance(key, str):
            continue
        obj = get_registered_object(key)
        if obj is None:
            obj = builtins.get(key)
        if obj is None:
            continue
        if not (inspect.isclass(obj) and issubclass(obj, base)):
            raise ValueError(
                f"The {what} {shown!r} resolves to {obj!r}, which is not a {what} class "
                f"(a subclass of {base.__name__}).")
        return obj
    raise ValueError(
        f"Unknown {what} {shown!r}. Built-in names: {sorted(builtins)}. For your own class, "
        "register it with @trine.saving.register_keras_serializable() or pass it in "
        "custom_objects={...} (or a custom_object_scope) when loading.")


def get_configurable(identifier, builtins, base, kind: str):
    """Resolve None, a name, a config record, a `base` instance or a callable to a `kind`
    ("constraint", "regularizer", ...): names and records through `resolve_class`.

    Raises:
        TypeError: for anything else.
    """
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        return resolve_class(identifier, builtins, base, kind)()
    if isinstance(identifier, dict):
        cls = resolve_class(identifier, builtins, base, kind)
        return cls.from_config(identifier.get("config") or {})
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret {kind} {identifier!r}: expected a name, a config "
                    f"record, a {base.__name__} or a callable.")


def deserialize_configurable(config, custom_objects, builtins, base, kind: str, who: str):
    """Rebuild a `kind` from its record or name, `custom_objects` looked in first.

    Raises:
        ValueError: for something that is neither a record nor a name.
    """
    if isinstance(config, dict) and config.get("class_name") in (custom_objects or {}):
        return custom_objects[config["class_name"]].from_config(config.get("config") or {})
    if not isinstance(config, (dict, str)):
        raise ValueError(f"{who} expected a config dict or a name, received {config!r} "
                         f"({type(config).__name__}).")
    return get_configurable(config, builtins, base, kind)
