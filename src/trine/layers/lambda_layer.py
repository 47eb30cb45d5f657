"""`Lambda`: wrap an arbitrary function of tensors as a layer.

A model file never runs code when it is loaded, so `get_config` records the function by
*name* only, and only where the name can be resolved safely on loading:

- a function registered for serialization (looked up in `trine.core.registration`);
- a pure tensor function on the explicit allow-list of `trine.registry.allowlist`
  (`LAMBDA_FUNCTIONS`: listed names of `jax.numpy`, `jax.nn`, `trine.ops`,
  `trine.activations`; no file I/O, no callables, no global state).

Any other function (a Python `lambda`, a local or unregistered function, `jax.numpy.load`) is
recorded with `"serializable": False` and no code; `from_config` rebuilds such a layer only
when the function is supplied again through `custom_objects` or was registered. Bytecode is
never stored or loaded.
"""
from __future__ import annotations

import inspect

import jax

from trine import registry
from trine.core.layer import Layer
from trine.core.registration import get_registered_name, get_registered_object
from trine.core.symbolic import KerasTensor
from trine.registry.errors import UnsafeFileError


def _registered_name(fn):
    try:
        name = get_registered_name(fn)
    except (TypeError, ValueError, AttributeError):
        return None
    if name and get_registered_object(name) is fn:
        return name
    return None


def _public_location(fn):
    """`(module, name)` if `fn` is an allow-listed pure tensor function."""
    return registry.lambda_function_location(fn)


def serialize_function(fn) -> dict:
    """The config of a function for `Lambda` (by name; never code).

    Returns:
        `{"module", "class_name": "function", "config": name, "registered_name"}` for
        registered or public functions; otherwise a record marked `"serializable": False`.
    """
    reg = _registered_name(fn)
    if reg is not None:
        return {"module": getattr(fn, "__module__", None), "class_name": "function",
                "config": reg, "registered_name": reg}
    loc = _public_location(fn)
    if loc is not None:
        return {"module": loc[0], "class_name": "function", "config": loc[1],
                "registered_name": None}
    name = getattr(fn, "__name__", type(fn).__name__)
    if name == "<lambda>":
        return {"class_name": "__lambda__", "config": {"code": None, "defaults": None,
                                                       "closure": None},
                "module": getattr(fn, "__module__", None), "name": "<lambda>",
                "serializable": False}
    return {"module": getattr(fn, "__module__", None), "class_name": "function",
            "config": name, "registered_name": None, "serializable": False}


def is_serializable(fn_config) -> bool:
    """Whether a function config written by `serialize_function` can be loaded by name."""
    return not (isinstance(fn_config, dict) and fn_config.get("serializable") is False)


def deserialize_function(fn_config, custom_objects=None, *, what="function", layer="Lambda"):
    """Resolve a function config by name: custom_objects, then registered functions, then the
    explicit allow-list of pure tensor functions. Never imports a module, never loads code.

    Raises:
        ValueError: when the function cannot be resolved by name.
    """
    if callable(fn_config):
        return fn_config
    custom_objects = dict(custom_objects or {})
    if isinstance(fn_config, str):
        fn_config = {"class_name": "function", "config": fn_config, "module": None}
    if not isinstance(fn_config, dict):
        raise ValueError(
            f"{layer}: cannot interpret the {what} config {fn_config!r}; expected a function "
            "record written by Lambda.get_config().")
    if fn_config.get("class_name") == "__lambda__":
        name = fn_config.get("name", "<lambda>")
        if name in custom_objects:
            return custom_objects[name]
        raise ValueError(
            f"{layer}: its {what} is a Python lambda, which is not stored in configs or model "
            "files (loading code is unsafe). Rebuild the layer in code, or use a named function "
            f"and pass it back with custom_objects={{'name': fn}} (or register it).")
    name = fn_config.get("config")
    reg = fn_config.get("registered_name")
    for key in (reg, name):
        if key and key in custom_objects:
            return custom_objects[key]
    for key in (reg, name):
        if key:
            obj = get_registered_object(key)
            if obj is not None:
                return obj
    module = fn_config.get("module") or ""
    if fn_config.get("serializable") is not False:
        obj = registry.resolve_lambda_function(module, name)
        if obj is not None:
            return obj
    raise _unresolved(
        f"{layer}: cannot load the {what} {name!r} (module {module or 'unknown'}): it is not "
        "a registered function and not on trine's allow-list of pure tensor functions "
        "(trine.registry.allowlist). Functions are saved by name only: pass it back with "
        "custom_objects={" + repr(name) + ": fn}, or register it with "
        "trine.saving.register_serializable() before loading.")


def _unresolved(message):
    """The error for a function a file names but trine will not resolve."""
    return UnsafeFileError(message)


def _accepts(fn, arg: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return arg in params


class Lambda(Layer):
    """Wrap a function of tensors as a layer: `Lambda(fn)(x)` is `fn(x)`.

    Prefer subclassing `Layer` for anything with weights or state; a Lambda is for stateless
    glue. Output shapes are inferred by tracing the function, unless `output_shape` is given.

    Args:
        function: the function; called as `function(inputs, **arguments)`, also with
            `mask=` and `training=` when it accepts them.
        output_shape: the output shape without the batch axis (a tuple, or a list of tuples
            for several outputs), or a function `input_shape -> output_shape` (with batch).
            Default: inferred.
        mask: the output mask: a tensor, or a function `(inputs, mask) -> mask`.
        arguments: a dict of extra keyword arguments for `function`.

    Config:
        The function is recorded by name only, for registered functions and the allow-listed
        pure tensor functions of `trine.registry.allowlist`; others (e.g. Python lambdas) are
        marked not serializable, and `from_config` needs them back through `custom_objects`.

    Returns (when called):
        `function(inputs, **arguments)`.

    Raises:
        TypeError: if `function` is not callable.
        ValueError (from_config): if the function cannot be resolved by name.

    Example:
        >>> import jax.numpy as jnp
        >>> Lambda(jnp.tanh)(jnp.zeros((2, 3))).shape
        (2, 3)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(
                f"Lambda layer '{self.name}': argument `function` must be callable, received "
                f"{function!r}.")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        if output_shape is not None and not callable(output_shape):
            output_shape = self._standardize_shape(output_shape)
        self._output_shape = output_shape
        self._fn_expects_training = _accepts(function, "training")
        self._fn_expects_mask = _accepts(function, "mask")

    @staticmethod
    def _standardize_shape(shape):
        if isinstance(shape, (list, tuple)) and shape and all(
                isinstance(s, (list, tuple)) for s in shape):
            return [tuple(None if d is None else int(d) for d in s) for s in shape]
        return tuple(None if d is None else int(d) for d in shape)

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask:
            kwargs["mask"] = mask
        if self._fn_expects_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, previous_mask=None):
        if callable(self.mask):
            return self.mask(inputs, previous_mask)
        return self.mask

    def compute_output_spec(self, *args, **kwargs):
        if self._output_shape is None:
            return super().compute_output_spec(*args, **kwargs)
        first = args[0] if args else kwargs["inputs"]
        leaves = jax.tree_util.tree_leaves(first, is_leaf=lambda t: isinstance(t, KerasTensor))
        dtype = leaves[0].dtype if leaves else self.dtype
        shape = self.compute_output_shape(jax.tree_util.tree_map(
            lambda t: tuple(t.shape), first, is_leaf=lambda t: isinstance(t, KerasTensor)))
        if isinstance(shape, list):
            return [KerasTensor(tuple(s), dtype) for s in shape]
        return KerasTensor(tuple(shape), dtype)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        first = input_shape
        while isinstance(first, (list, tuple)) and first and isinstance(first[0], (list, tuple)):
            first = first[0]
        batch = first[0] if first else None
        if isinstance(self._output_shape, list):
            return [(batch,) + s for s in self._output_shape]
        return (batch,) + self._output_shape

    @property
    def function_serializable(self) -> bool:
        """Whether `get_config` can record the function (and output_shape / mask functions)
        so that they load back by name."""
        cfg = self.get_config()
        return all(is_serializable(cfg.get(k)) for k in ("function", "output_shape", "mask"))

    def get_config(self):
        cfg = super().get_config()
        cfg["function"] = serialize_function(self.function)
        if self._output_shape is not None:
            cfg["output_shape"] = (serialize_function(self._output_shape)
                                   if callable(self._output_shape) else self._output_shape)
        if self.mask is not None:
            if callable(self.mask):
                cfg["mask"] = serialize_function(self.mask)
            else:
                cfg["mask"] = jax.tree_util.tree_map(lambda m: m.tolist() if hasattr(
                    m, "tolist") else m, self.mask)
        cfg["arguments"] = dict(self.arguments)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        """Rebuild a Lambda from its config, resolving functions by name (never code).

        Args:
            config: a dict from `get_config`.
            custom_objects: `{name: function}` for functions not resolvable otherwise.
            safe_mode: accepted for Keras compatibility; code is never loaded either way.

        Raises:
            ValueError: if a function cannot be resolved.
        """
        config = dict(config)
        label = f"Lambda layer '{config.get('name', 'lambda')}'"
        config["function"] = deserialize_function(config["function"], custom_objects,
                                                  what="function", layer=label)
        if "output_shape" in config:
            os_cfg = config["output_shape"]
            if isinstance(os_cfg, dict) or callable(os_cfg):
                config["output_shape"] = deserialize_function(os_cfg, custom_objects,
                                                              what="output_shape function",
                                                              layer=label)
        if isinstance(config.get("mask"), dict):
            config["mask"] = deserialize_function(config["mask"], custom_objects,
                                                  what="mask function", layer=label)
        return cls(**config)


__all__ = ["Lambda"]
