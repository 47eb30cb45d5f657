"""JaxLayer and FlaxLayer: a pure JAX model function, or a Flax module, as a trine layer.

The model's parameters become trainable Variables and its state non-trainable ones, so
`fit` differentiates them like any layer's weights and state updates flow through
`stateless_call`. Flax is imported only when a FlaxLayer is made (never by `import trine`).
"""
from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer
from trine.core.random import LazySeed
from trine.core.variable import current_scope
from trine.layers.lambda_layer import deserialize_function, serialize_function

__all__ = ["FlaxLayer", "JaxLayer"]

_CALL_ARGS = ("params", "state", "rng", "inputs", "training")
_INIT_ARGS = ("rng", "inputs", "training")


def _arguments(layer_cls, fn, fn_name, allowed):
    if not callable(fn):
        raise TypeError(f"{layer_cls}: `{fn_name}` must be a function, received {fn!r}.")
    names = list(inspect.signature(fn).parameters)
    if "inputs" not in names:
        raise ValueError(
            f"{layer_cls}: `{fn_name}` must take an argument named `inputs`, received a "
            f"function with arguments {names}. Rename its input argument to `inputs`.")
    for n in names:
        if n not in allowed:
            raise ValueError(
                f"{layer_cls}: unsupported argument `{n}` in `{fn_name}`; the supported "
                f"argument names are {', '.join(allowed)}.")
    return names


def _raw_key(key):
    """A `uint32[2]` key, as Keras passes (old-style `jax.random.PRNGKey`)."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key)
    return key


class JaxLayer(Layer):
    """Wrap a pure JAX model function as a layer whose params and state are its weights.

    `call_fn` takes some of the arguments `params`, `state`, `rng`, `inputs` (required)
    and `training`, by these names. With `state` it returns `(outputs, new_state)`.
    `init_fn(rng, inputs[, training])` returns `params` (or `(params, state)` when
    `call_fn` takes `state`) for placeholder `inputs` of the input shape (unknown sizes are
    1); or pass `params` / `state` already initialized. `rng` is a `uint32[2]` key in
    training and None in inference, as Keras.

    Args:
        call_fn: the model function.
        init_fn: the initializer function, or None when `params` / `state` are given.
        params: a pytree of initial trainable arrays.
        state: a pytree of initial non-trainable arrays.
        seed: optional integer for the `rng` stream.
        native_serialization_platforms: accepted for Keras compatibility (jax2tf only).

    Returns:
        Calling the layer returns `call_fn`'s outputs.

    Raises:
        ValueError: if a function has an unsupported or missing argument, or `call_fn`
            needs params/state and neither `init_fn` nor `params`/`state` is given.

    Example:
        >>> def call_fn(params, inputs):
        ...     return inputs @ params["w"]
        >>> def init_fn(rng, inputs):
        ...     return {"w": jax.random.normal(rng, (inputs.shape[-1], 3))}
        >>> JaxLayer(call_fn, init_fn)(jnp.ones((2, 4))).shape
        (2, 3)
    """

    def __init__(self, call_fn, init_fn=None, params=None, state=None, seed=None,
                 native_serialization_platforms=None, **kwargs):
        super().__init__(**kwargs)
        cls = f"{type(self).__name__} layer '{self.name}'"
        self.call_fn = call_fn
        self.init_fn = init_fn
        self.seed = None if seed is None else int(seed)
        if seed is not None:
            self._seed_gen = LazySeed(int(seed))
        self.native_serialization_platforms = native_serialization_platforms
        self.call_fn_arguments = _arguments(cls, call_fn, "call_fn", _CALL_ARGS)
        self.call_fn_has_params = "params" in self.call_fn_arguments
        self.call_fn_has_state = "state" in self.call_fn_arguments
        self.init_fn_arguments = (None if init_fn is None else
                                  _arguments(cls, init_fn, "init_fn", _INIT_ARGS))
        if init_fn is None and params is None and state is None and (
                self.call_fn_has_params or self.call_fn_has_state):
            raise ValueError(
                f"{cls}: call_fn takes `params` or `state`, so pass init_fn, or the initial "
                "params / state arrays.")
        self._params_tree = self._state_tree = None
        self._param_leaves, self._state_leaves = [], []
        if params is not None or state is not None:
            self._set_trees(params, state)
            self.built = True

    # -- weights -----------------------------------------------------------------------
    def _make_leaves(self, tree, trainable, prefix):
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        out = []
        for i, leaf in enumerate(leaves):
            if isinstance(leaf, (jax.Array, np.ndarray, np.generic, bool, int, float)):
                arr = jnp.asarray(leaf)
                # floating leaves follow the layer's dtype policy; integers keep theirs
                dtype = None if jnp.issubdtype(arr.dtype, jnp.floating) else arr.dtype
                out.append(self.add_weight(shape=arr.shape, initializer=lambda s, d=None, a=arr:
                                           a.astype(d) if d is not None else a,
                                           dtype=dtype, trainable=trainable,
                                           name=f"{prefix}_{i}"))
            else:
                out.append(leaf)  # configuration the model function reads, kept as is
        return treedef, out

    def _set_trees(self, params, state):
        self._params_tree, self._param_leaves = (
            (None, []) if params is None else self._make_leaves(params, True, "param"))
        self._state_tree, self._state_leaves = (
            (None, []) if state is None else self._make_leaves(state, False, "state"))

    @staticmethod
    def _values(treedef, leaves):
        if treedef is None:
            return None
        return treedef.unflatten([getattr(v, "value", v) if hasattr(v, "assign") else v
                                  for v in leaves])

    @property
    def params(self):
        """The params pytree with Variables as leaves (None before the layer is built)."""
        return None if self._params_tree is None else self._params_tree.unflatten(
            self._param_leaves)

    @property
    def state(self):
        """The state pytree with Variables as leaves (None before the layer is built)."""
        return None if self._state_tree is None else self._state_tree.unflatten(
            self._state_leaves)

    def _init_rng(self):
        return _raw_key(self._seed_gen.key(1 << 30))

    def _call_rng(self, training):
        return _raw_key(self.rng_key()) if training else None

    def build(self, input_shape):
        if self._params_tree is None and self._state_tree is None and (
                self.call_fn_has_params or self.call_fn_has_state):
            def placeholder(shape):
                return jnp.ones(tuple(1 if d is None else d for d in shape))

            shapes = input_shape
            is_shape = lambda s: isinstance(s, (tuple, list)) and all(
                d is None or isinstance(d, (int, np.integer)) for d in s)
            inputs = jax.tree_util.tree_map(placeholder, shapes, is_leaf=is_shape)
            args = {"rng": self._init_rng(), "inputs": inputs, "training": True}
            with jax.ensure_compile_time_eval():  # weights are concrete even when built in a trace
                result = self.init_fn(*[args[a] for a in self.init_fn_arguments])
            if self.call_fn_has_state:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise ValueError(
                        f"{type(self).__name__} layer '{self.name}': call_fn takes `state`, so "
                        "init_fn must return a tuple (params, state), received "
                        f"{type(result).__name__}.")
                self._set_trees(*result)
            else:
                self._set_trees(result, None)
        self.built = True

    # -- call ------------------------------------------------------------------------
    def call(self, inputs, training=False):
        values = {
            "params": self._values(self._params_tree, self._param_leaves),
            "state": self._values(self._state_tree, self._state_leaves),
            "inputs": inputs,
            "training": bool(training),
        }
        if "rng" in self.call_fn_arguments:
            values["rng"] = self._call_rng(training)
        result = self.call_fn(*[values[a] for a in self.call_fn_arguments])
        if not self.call_fn_has_state:
            return result
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': call_fn takes `state`, so it must "
                f"return a tuple (outputs, new_state), received {type(result).__name__}.")
        outputs, new_state = result
        new_leaves, new_def = jax.tree_util.tree_flatten(new_state)
        if new_def != self._state_tree:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': the state returned by call_fn has "
                f"structure {new_def}, expected the structure init gave, {self._state_tree}.")
        scope = current_scope()
        for var, value in zip(self._state_leaves, new_leaves):
            if not hasattr(var, "assign"):
                continue
            if isinstance(value, jax.core.Tracer) and (scope is None or scope.get(var) is None):
                continue  # a shape-only trace (symbolic call): nothing to keep
            var.assign(value)
        return outputs

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"call_fn": serialize_function(self.call_fn),
                    "init_fn": None if self.init_fn is None else serialize_function(self.init_fn),
                    "native_serialization_platforms": self.native_serialization_platforms})
        if self.seed is not None:
            cfg["seed"] = self.seed
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild from a config, resolving functions by registered or public name (no code)."""
        config = dict(config)
        label = f"{cls.__name__} layer '{config.get('name', '')}'"
        config["call_fn"] = deserialize_function(config["call_fn"], custom_objects,
                                                 what="call_fn", layer=label)
        if config.get("init_fn") is not None:
            config["init_fn"] = deserialize_function(config["init_fn"], custom_objects,
                                                     what="init_fn", layer=label)
        return cls(**config)


def _is_nnx(module) -> bool:
    """Flax NNX modules are stateful objects; Linen modules are dataclasses with `apply`."""
    return not hasattr(module, "apply") and hasattr(module, "__call__") and any(
        c.__module__.startswith("flax.nnx") for c in type(module).__mro__)


class FlaxLayer(JaxLayer):
    """Wrap a Flax module (Linen, or NNX) as a layer; its variables become trine weights.

    Linen: the "params" collection is trainable, every other collection (e.g.
    "batch_stats") is non-trainable state updated by `apply(..., mutable=...)`; `rngs` get a
    "params" and "dropout" key at init and a "dropout" key in training, as Keras. If the
    module's method takes `training`, it is passed. NNX: the module's `nnx.Param`s are
    trainable and its other variables state; the module is called as `module(inputs)` (or
    `module(inputs, training=...)` when it takes `training`).

    Args:
        module: a `flax.linen.Module` (unbound) or a `flax.nnx.Module` (already built).
        method: Linen only: the method to call (default `__call__`), a bound method or name.
        variables: Linen only: already-initialized variables `{"params": ..., ...}`.
        **kwargs: `JaxLayer` / base layer arguments (`seed`, `name`, `dtype`, ...).

    Returns:
        Calling the layer returns the module's outputs.

    Raises:
        ImportError: if flax is not installed.
        TypeError: if `module` is not a Flax module.

    Example:
        >>> import flax.linen as nn
        >>> FlaxLayer(nn.Dense(3))(jnp.ones((2, 4))).shape
        (2, 3)
    """

    def __init__(self, module, method=None, variables=None, **kwargs):
        try:
            import flax  # noqa: F401  (optional dependency, only for this layer)
        except ImportError:
            raise ImportError(
                "FlaxLayer needs flax: pip install flax (trine itself never imports it)."
            ) from None
        self.module = module
        self.method = getattr(module, method) if isinstance(method, str) else method
        self._nnx = _is_nnx(module)
        if self._nnx:
            call_fn, init_fn, params, state = self._nnx_fns(module)
        else:
            if not hasattr(module, "apply"):
                raise TypeError(
                    f"FlaxLayer expected a flax.linen.Module or flax.nnx.Module, received "
                    f"{type(module).__name__}.")
            call_fn, init_fn = self._linen_fns()
            params, state = self._split_variables(variables)
        super().__init__(call_fn=call_fn, init_fn=init_fn, params=params, state=state,
                         **kwargs)

    # -- Linen -----------------------------------------------------------------------
    def _linen_fns(self):
        from flax.linen import DenyList
        mutable = DenyList(["params"])
        target = self.method or self.module.__call__
        takes_training = "training" in inspect.signature(target).parameters

        def merged(params, state):
            return {**(params or {}), **(state or {})}

        if takes_training:
            def call_fn(params, state, rng, inputs, training):
                return self.module.apply(merged(params, state), inputs, rngs=rng,
                                         method=self.method, mutable=mutable, training=training)

            def init_fn(rng, inputs, training):
                return self._split_variables(self.module.init(rng, inputs, method=self.method,
                                                              training=training))
        else:
            def call_fn(params, state, rng, inputs):
                return self.module.apply(merged(params, state), inputs, rngs=rng,
                                         method=self.method, mutable=mutable)

            def init_fn(rng, inputs):
                return self._split_variables(self.module.init(rng, inputs, method=self.method))
        return call_fn, init_fn

    @staticmethod
    def _split_variables(variables):
        if variables is None:
            return None, None
        variables = dict(variables)
        params = {"params": variables.pop("params")} if "params" in variables else {}
        return params, variables

    def _init_rng(self):
        if self._nnx:
            return super()._init_rng()
        base = self._seed_gen.key(1 << 30)
        return {"params": _raw_key(jax.random.fold_in(base, 0)),
                "dropout": _raw_key(jax.random.fold_in(base, 1))}

    def _call_rng(self, training):
        if self._nnx:
            return None
        return {"dropout": _raw_key(self.rng_key())} if training else {}

    # -- NNX -------------------------------------------------------------------------
    def _nnx_fns(self, module):
        from flax import nnx
        graphdef, params, rest = nnx.split(module, nnx.Param, ...)
        takes_training = "training" in inspect.signature(type(module).__call__).parameters

        def call_fn(params, state, inputs, training):
            m = nnx.merge(graphdef, params, state)
            out = m(inputs, training=training) if takes_training else m(inputs)
            return out, nnx.split(m, nnx.Param, ...)[2]

        return call_fn, None, params, rest

    def get_config(self):
        raise NotImplementedError(
            f"FlaxLayer '{self.name}' holds a Flax module, which trine's model files cannot "
            "name (a file never runs code). Save the weights with save_weights() and rebuild "
            "the layer from the module in code.")
