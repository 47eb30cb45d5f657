"""`Layer`: weights created in `build`, maths in `call`, and the machinery around them.

A layer is called three ways, all through `__call__`:
- on symbolic tensors (Functional API): it is built from the symbolic shapes, its output
  spec is found with `jax.eval_shape`, and a `Node` records the call;
- on arrays, eagerly: built from the array shapes on first call, then `call` runs;
- inside a jitted pure function (`stateless_call`): as eagerly, with Variables reading the
  values swapped in by the active `StatelessScope`.
"""
from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from trine.core import allocation, registration
from trine.core.random import LazySeed
from trine.core.input_spec import InputSpec, check_input_spec  # noqa: F401  (re-exported)
from trine.core.layer_policy import resolve_policy
from trine.core.shapes import json_shape, placeholders, shape_of, shapes_tree, unbatched
from trine.core.symbolic import KerasTensor, Node, any_symbolic, is_symbolic
from trine.core.tracking import own_variables
from trine.core.variable import AutocastScope, StatelessScope, Variable

from trine.core.context import (  # noqa: F401  (re-exported: the names layers import)
    CallContext, CallRecorder, _record, current_context, get_mask, set_mask)
from trine.core.naming import clear_session, to_snake_case, unique_name  # noqa: F401


# Attributes of layers that hold other layers or variables without owning them
# (`_state_refs`, `_live_fit`: the variable lists and latest state of a fit call, see
# Trainer._prepare_training and Trainer.jax_state_sync;
# `_path_cache`: Model._path_map's (path, Variable) pairs: walked, it made every weight a
# direct, trainable weight of the model, so freezing a layer after a fit did nothing).
_UNTRACKED = frozenset({"_inbound_nodes", "_functional", "_parent", "_output_layers",
                        "_input_layers", "_compiled", "_trainer_cache", "_callbacks_model",
                        "optimizer", "_state_refs", "_path_cache", "_live_fit"})

# Attribute values the walk skips at once (most of a layer's attributes).
_LEAF_TYPES = frozenset({str, int, float, bool, type(None), bytes})


class Layer:
    """Base class of all layers (Keras `keras.layers.Layer`).

    Subclass it, create weights in `build(input_shape)` with `add_weight`, and write the
    maths in `call(inputs, training=None)` with `jax.numpy` (read a Variable's value with
    `.value` or use it in arithmetic).

    Args:
        trainable: whether the layer's weights are updated by training.
        name: a unique name; derived from the class name when omitted.
        dtype: the dtype of the weights and computations (default float32).
        input_shape / input_dim / batch_input_shape / batch_size: on the first layer of a
            Sequential model, the shape of one sample (without the batch axis).

    Example:
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        ...     def call(self, x):
        ...         return x * self.w
    """

    def __init__(self, *, activity_regularizer=None, trainable: bool = True, dtype=None,
                 autocast: bool = True, name: str | None = None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("input_length", None)
        if kwargs:
            raise TypeError(
                f"Layer {type(self).__name__} received unrecognized keyword argument(s) "
                f"{sorted(kwargs)}. Check the spelling against the layer's signature.")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Layer name must be a string, received {name!r}.")
        object.__setattr__(self, "_tracker_ready", False)
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._dtype_policy = resolve_policy(dtype, self)
        self.autocast = autocast
        self.built = False
        self._inbound_nodes: list[Node] = []
        self._own_variables: list[Variable] = []
        self._regularized: list = []
        self.input_spec = None
        self.supports_masking = False
        self._seed_gen = LazySeed()
        self._eager_rng_counter = 0
        self.activity_regularizer = registration.get_object("regularizer", activity_regularizer)
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + tuple(input_shape)
        else:
            self._batch_input_shape = None
        self._call_has_training = "training" in inspect.signature(self.call).parameters
        self._call_has_mask = "mask" in inspect.signature(self.call).parameters
        object.__setattr__(self, "_tracker_ready", True)

    # ---------------------------------------------------------------- dtype
    def _own_policy(self):
        """The policy this layer follows: its entry in a `DTypePolicyMap` once built (looked
        up by the layer's name, its path at a model's top level; Keras's layers have no path
        before), else its policy."""
        policy = self._dtype_policy
        if type(policy).__name__ == "DTypePolicyMap":
            return policy[self.name] if self.built else policy.default_policy
        return policy

    @property
    def dtype(self) -> str:
        """The dtype of the layer's variables (as Keras's `layer.dtype`)."""
        return self._own_policy().variable_dtype

    @property
    def compute_dtype(self) -> str:
        return self._own_policy().compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._own_policy().variable_dtype

    @property
    def dtype_policy(self):
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        self._dtype_policy = resolve_policy(value, self)

    def _config_dtype(self):
        """`dtype` in get_config: the policy's name ("mixed_bfloat16") or the dtype; the
        Keras record of a quantized policy or a policy map (it decides the build)."""
        policy = self._dtype_policy
        if policy.quantization_mode is None and type(policy).__name__ != "DTypePolicyMap":
            return policy.name
        from trine import dtype_policies
        return dtype_policies.serialize(policy)

    @property
    def quantization_mode(self):
        """The quantization mode of the weights ("int8", "int4", "float8"), None if float."""
        return self._own_policy().quantization_mode

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the weights in place; only some layers can (Dense, EinsumDense,
        Embedding: see `trine.quantizers`).

        Raises:
            NotImplementedError: here, for a layer that cannot.
        """
        raise NotImplementedError(
            f"Layer {type(self).__name__} ('{self.name}') does not support quantize(); "
            "Dense, EinsumDense and Embedding do. Model.quantize skips such layers.")

    def _autocast_dtype(self):
        """The dtype `call` sees inputs and weights in, or None to leave them as they are."""
        policy = self._own_policy()
        return policy.compute_dtype if (policy.is_mixed and self.autocast) else None

    # ---------------------------------------------------------------- tracking
    def __setattr__(self, name, value):
        # Tracking walks __dict__, so a sublayer set before super().__init__() is kept (Keras).
        object.__setattr__(self, name, value)

    def _walk(self, kind):
        """Direct children of type `kind` held in attributes (lists/tuples/dicts included)."""
        return self._walk_kinds((kind,))[0]

    def _walk_kinds(self, kinds):
        """`_walk` for several kinds in one pass over the attributes: a list per kind (an
        object goes to the first kind it is an instance of)."""
        outs = tuple([] for _ in kinds)
        seen = set()
        any_kind = tuple(kinds)

        def visit(v, depth=0):
            if isinstance(v, any_kind):
                if id(v) not in seen and v is not self:
                    seen.add(id(v))
                    for kind, out in zip(kinds, outs):
                        if isinstance(v, kind):
                            out.append(v)
                            break
            elif isinstance(v, (list, tuple)) and depth < 4:
                for e in v:
                    if type(e) not in _LEAF_TYPES:
                        visit(e, depth + 1)
            elif isinstance(v, dict) and depth < 4:
                for e in v.values():
                    if type(e) not in _LEAF_TYPES:
                        visit(e, depth + 1)

        for k, v in self.__dict__.items():
            if type(v) in _LEAF_TYPES or k in _UNTRACKED or k == "_own_variables":
                continue
            visit(v)
        return outs

    @property
    def _layers(self) -> list:
        return self._walk(Layer)

    def _flatten_layers(self, include_self=True, recursive=True):
        out, seen = [], set()

        def rec(layer):
            for sub in layer._layers:
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                out.append(sub)
                if recursive:
                    rec(sub)

        if include_self:
            out.append(self)
            seen.add(id(self))
        rec(self)
        return out

    def _direct_variables(self, walked=None):
        """Variables this layer owns (add_weight order), then ones held in attributes.
        `walked`: those attribute variables, when the caller walked them already."""
        own = list(self._own_variables)
        ids = {id(v) for v in own}
        for v in self._walk(Variable) if walked is None else walked:
            if id(v) not in ids:
                own.append(v)
                ids.add(id(v))
        return own

    def _layers_and_variables(self):
        """[(layer, its direct variables)] for this layer and every sublayer, in
        `_flatten_layers` order, walking each layer's attributes once (not once per kind and
        per list asked for: these walks are most of a small model's per-call cost)."""
        out, seen = [], {id(self)}

        def rec(layer):
            subs, variables = layer._walk_kinds((Layer, Variable))
            out.append((layer, layer._direct_variables(variables)))
            for sub in subs:
                if id(sub) not in seen:
                    seen.add(id(sub))
                    rec(sub)

        rec(self)
        return out

    def _weight_lists(self):
        """(trainable_weights, non_trainable_weights) from one walk of the layer tree."""
        trainable, frozen, every = [], [], []
        seen_t, seen_f, seen_all = set(), set(), set()
        for layer, variables in self._layers_and_variables():
            for v in variables:
                i = id(v)
                if i not in seen_all:
                    seen_all.add(i)
                    every.append(v)
                if v.trainable and layer._trainable:
                    if i not in seen_t:
                        seen_t.add(i)
                        trainable.append(v)
                elif i not in seen_f:
                    seen_f.add(i)
                    frozen.append(v)
        if not self._trainable:
            return [], every
        return trainable, frozen

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool):
        for layer in self._flatten_layers():
            layer._trainable = bool(value)

    @property
    def weights(self) -> list:
        """All weights in Keras 3's order: layer by layer (this layer, then its sublayers
        depth first), each layer's trainable variables before its non-trainable ones. Not
        every trainable weight of the model first: `get_weights` / `set_weights` lists must
        pair with Keras's (two BatchNormalizations in a row would otherwise swap their
        moving statistics with the second one's gamma and beta, shapes equal, silently)."""
        out, seen = [], set()
        for _, variables in self._layers_and_variables():
            for v in sorted(variables, key=lambda v: not v.trainable):  # stable: creation order
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def trainable_weights(self) -> list:
        return self._weight_lists()[0]

    @property
    def non_trainable_weights(self) -> list:
        return self._weight_lists()[1]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        """The weights' values as NumPy arrays, in `weights` order."""
        return [np.array(v.value) for v in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from a list of arrays in `weights` order.

        Raises:
            ValueError: on a count or shape mismatch (naming the layer and weight).
        """
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(
                f"Layer '{self.name}' expected {len(params)} weight arrays "
                f"({[v.path for v in params]}), received {len(weights)}.")
        for v, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(w.shape) != v.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{v.path}' has shape {v.shape}, received an "
                    f"array of shape {tuple(w.shape)}.")
        for v, w in zip(params, weights):
            v.assign(jnp.asarray(w, dtype=v.dtype))

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet, so it has no weights to count. Call it "
                "on data, or call build(input_shape), first.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # ---------------------------------------------------------------- weights
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable: bool = True,
                   autocast: bool = True, regularizer=None, constraint=None,
                   aggregation: str = "none", name: str | None = None):
        """Create a weight of this layer.

        Args:
            shape: its shape.
            initializer: a name ("glorot_uniform", "zeros", ...), an Initializer, or a
                callable `(shape, dtype) -> array`. Default: glorot_uniform for floats.
            dtype: default the layer's dtype.
            trainable: whether `fit` updates it.
            regularizer: a penalty added to the loss, e.g. "l2" or `L2(0.01)`.
            constraint: a projection applied after each optimizer update.
            name: short name, e.g. "kernel".

        Returns:
            The `Variable`.
        """
        shape = tuple(() if shape is None else shape)
        dtype = jnp.dtype(dtype).name if dtype is not None else self.dtype
        if initializer is None:
            initializer = "glorot_uniform" if jnp.issubdtype(jnp.dtype(dtype), jnp.floating) else "zeros"
        init = registration.get_object("initializer", initializer)
        index = len(self._own_variables)
        # a file's config is checked against the load budget before anything is allocated
        allocation.charge(shape, dtype, f"weight '{name or f'variable_{index}'}' of layer "
                                        f"'{self.name}' ({type(self).__name__})")
        with jax.ensure_compile_time_eval():
            if getattr(init, "accepts_key", False):
                if getattr(init, "seed", None) is not None:
                    value = init(shape, dtype)
                else:
                    value = init(shape, dtype, key=self._seed_gen.key(index))
            else:
                value = init(shape, dtype)
            value = jnp.asarray(value, dtype=dtype)
        var = Variable(value, dtype=dtype, trainable=trainable, name=name or f"variable_{index}",
                       aggregation=aggregation)
        var.autocast = bool(autocast)
        var.path = f"{self.name}/{var.name}"
        var.constraint = registration.get_object("constraint", constraint)
        reg = registration.get_object("regularizer", regularizer)
        if reg is not None:
            self._regularized.append((var, reg))
        self._own_variables.append(var)
        return var

    def add_variable(self, shape, initializer, dtype=None, trainable=True, name=None, **kwargs):
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype,
                               trainable=trainable, name=name, **kwargs)

    # ---------------------------------------------------------------- randomness
    def rng_key(self):
        """A key for this layer's random op in the current call.

        In `fit` and `stateless_call(..., rng=key)` it is derived from the step's key and
        this layer's seed index, so results are reproducible; in an eager call it advances
        a per-layer counter.
        """
        ctx = current_context()
        seed, idx = self._seed_gen.index
        if ctx is not None and ctx.rng is not None:
            key = jax.random.fold_in(ctx.rng, idx)
            if self._seed_gen._explicit is not None:  # seeded layers: the seed picks the stream
                key = jax.random.fold_in(key, seed)
            return key
        if isinstance(jnp.zeros(()), jax.core.Tracer):
            raise RuntimeError(
                f"Layer '{self.name}' needs a random key inside a jitted function, but none was "
                "given. Pass one explicitly: model.stateless_call(params, state, x, "
                "training=True, rng=jax.random.key(step)); fit does this for you.")
        from trine.core.random import key_for
        self._eager_rng_counter += 1
        return key_for(seed, idx, 1 << 20, self._eager_rng_counter)

    # ---------------------------------------------------------------- losses
    def add_loss(self, loss) -> None:
        """Add a scalar to the training loss (inside `call`: activity penalties, KL terms)."""
        ctx = current_context()
        if ctx is not None and ctx.losses is not None:
            ctx.losses.append(jnp.asarray(loss))
        else:
            if not hasattr(self, "_eager_losses"):
                object.__setattr__(self, "_eager_losses", [])
            self._eager_losses.append(jnp.asarray(loss))

    def _first_call_arg(self) -> str:
        """The name of call()'s first parameter ("inputs" for most layers)."""
        for p in inspect.signature(self.call).parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                return p.name
        return "inputs"

    def _clear_eager_losses(self) -> None:
        for layer in self._flatten_layers():
            eager = layer.__dict__.get("_eager_losses")
            if eager:
                eager.clear()

    @property
    def losses(self) -> list:
        """Regularization penalties of the current weight values plus eagerly added losses.

        Inside a training step (`compute_loss_and_updates`) it is the step's own list: the
        penalties and `add_loss` values collected by that forward pass.
        """
        override = self.__dict__.get("_losses_override")
        if override is not None:
            return list(override)
        out = []
        for layer in self._flatten_layers():
            for var, reg in layer._regularized:
                out.append(reg(var.value))
            out.extend(getattr(layer, "_eager_losses", []))
        return out

    # ---------------------------------------------------------------- masks
    def compute_mask(self, inputs, previous_mask=None):
        """The mask of this layer's output: passed through if the layer supports masking."""
        if self.supports_masking:
            if isinstance(previous_mask, (list, tuple)):
                ms = [m for m in previous_mask if m is not None]
                return ms[0] if ms else None
            return previous_mask
        return None

    # ---------------------------------------------------------------- build / call
    def build(self, input_shape=None) -> None:
        """Create the layer's weights for inputs of `input_shape`. Default: nothing to create."""
        if input_shape is not None and self.__dict__.get("_build_config_shape") is None:
            self._build_config_shape = json_shape(input_shape)  # what get_build_config saves
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not implement call(). Subclasses of Layer "
            "must define call(self, inputs, ...).")

    # ---------------------------------------------------------------- Keras's saving hooks
    def get_build_config(self):
        """What `build_from_config` needs to rebuild this layer: `{"input_shape": shape}` of
        its first build (Keras's default), or None when it was never built."""
        shape = self.__dict__.get("_build_config_shape")
        if not self.built or shape is None:
            return None
        return {"input_shape": shape}

    def build_from_config(self, config):
        """Build from `get_build_config()`'s dict (Keras's default: `build(input_shape)`)."""
        shape = config.get("input_shape") if isinstance(config, dict) else None
        if shape is not None:
            with jax.ensure_compile_time_eval():
                self.build(shape)
            self.built = True

    # what Layer's own machinery sets on an instance: never a user's variables (core.tracking)
    _machinery_attrs = _UNTRACKED | frozenset({
        "_batch_input_shape", "_call_has_mask", "_call_has_training", "_dtype_policy",
        "_eager_rng_counter", "_own_variables", "_regularized", "_seed_gen", "_tracker_ready",
        "_trainable", "activity_regularizer", "autocast", "built", "input_spec", "name",
        "supports_masking"})

    def save_own_variables(self, store):
        """Write this layer's own variables into `store` as "0", "1", ... (trainable first),
        as Keras does; override to save other state (and call super() for the variables)."""
        for i, v in enumerate(own_variables(self)):
            store[str(i)] = np.asarray(v.value)

    def load_own_variables(self, store):
        """Assign this layer's own variables from `store` (the inverse of save_own_variables).

        Raises:
            ValueError: when the store holds a different number of variables or shapes.
        """
        own = own_variables(self)
        if len(store.keys()) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expected {len(own)} variables "
                f"{[v.name for v in own]}, but received {len(store.keys())} during loading.")
        for i, v in enumerate(own):
            value = np.asarray(store[str(i)])
            if tuple(value.shape) != tuple(v.shape):
                raise ValueError(f"Layer '{self.name}': variable {v.name!r} has shape "
                                 f"{tuple(v.shape)}, the stored value {tuple(value.shape)}.")
            v.assign(value)

    def _maybe_build(self, first_arg):
        if self.built:
            return
        shapes = shapes_tree(first_arg)
        if self.__dict__.get("_build_config_shape") is None:
            self._build_config_shape = json_shape(shapes)
        if self.__dict__.get("_build_input_shape") is None:
            self._build_input_shape = unbatched(shapes)
        with jax.ensure_compile_time_eval():
            self.build(shapes)
        self.built = True

    def _check_inputs(self, first_arg):
        spec = self.input_spec
        if spec is None:
            return
        if isinstance(spec, (list, tuple)):
            if not isinstance(first_arg, (list, tuple)):
                return
            for s, x in zip(spec, first_arg):
                if s is not None:
                    check_input_spec(self, s, shape_of(x))
            return
        if isinstance(first_arg, (list, tuple, dict)):
            return
        check_input_spec(self, spec, shape_of(first_arg))

    def __call__(self, *args, **kwargs):
        if not args:  # the input given by keyword, under call()'s own name for it (Keras)
            key = self._first_call_arg()
            key = key if key in kwargs or "inputs" not in kwargs else "inputs"
            if key not in kwargs:
                raise TypeError(
                    f"Layer '{self.name}' was called without inputs. Pass them as the first "
                    f"argument, or as {key}=..., the name {type(self).__name__}.call gives "
                    "them.")
            args, kwargs = (kwargs.pop(key),), kwargs
        first = args[0]
        if any_symbolic((args, kwargs)):
            return self._symbolic_call(first, args, kwargs)
        first = _to_arrays(first)
        args = (first,) + tuple(args[1:])
        self._maybe_build(first)
        self._check_inputs(first)
        ctx = current_context()
        if ctx is None:  # the entry call: `losses` holds this call's add_loss values (Keras)
            self._clear_eager_losses()
        if self._call_has_training:
            if kwargs.get("training", None) is None:
                tr = ctx.training if ctx is not None else None
                if tr is not None:
                    kwargs["training"] = tr
                else:
                    kwargs.pop("training", None)
        else:
            kwargs.pop("training", None)
        mask = _given_or_carried_mask(first, kwargs.get("mask", None))
        if self._call_has_mask:
            if mask is not None:
                kwargs["mask"] = mask
        else:
            kwargs.pop("mask", None)
        training = kwargs.get("training", ctx.training if ctx else None)
        cast = self._autocast_dtype()
        if cast is not None:  # mixed precision: inputs and weights in the compute dtype
            args, kwargs = _cast_first_input(args, kwargs, cast)
        with AutocastScope(cast):
            if ctx is None or ctx.training != training:
                with CallContext(training=training, rng=ctx.rng if ctx else None) as c:
                    if ctx is not None:
                        c.losses = ctx.losses
                    outputs = self.call(*args, **kwargs)
            else:
                outputs = self.call(*args, **kwargs)
        _record(self, first, outputs)
        out_mask = self.compute_mask(first, mask)
        if all(get_mask(o) is not None for o in jax.tree_util.tree_leaves(outputs)):
            out_mask = None  # Keras: outputs that already carry masks keep them
        if out_mask is not None:
            if isinstance(outputs, (list, tuple)) and isinstance(out_mask, (list, tuple)):
                for o, m in zip(outputs, out_mask):
                    set_mask(o, m)
            elif not isinstance(outputs, (list, tuple, dict)):
                set_mask(outputs, out_mask)
        if self.activity_regularizer is not None:
            for o in jax.tree_util.tree_leaves(outputs):
                self.add_loss(self.activity_regularizer(o) / jnp.asarray(o.shape[0], o.dtype))
        return outputs

    # ---------------------------------------------------------------- symbolic
    def _symbolic_call(self, first, args, kwargs):
        if not self.built:
            self._maybe_build(first)
        self._check_inputs(first)
        kwargs = dict(kwargs)
        if not self._call_has_training:
            kwargs.pop("training", None)
        if not self._call_has_mask:
            kwargs.pop("mask", None)
        # Keras: the inputs' symbolic masks reach call and compute_mask, and the outputs carry
        # theirs as `_keras_mask`; the node records the call as written (masks are re-derived
        # when the graph runs).
        mask = _given_or_carried_mask(first, kwargs.get("mask", None))
        spec_kwargs = dict(kwargs, mask=mask) if self._call_has_mask and mask is not None \
            else kwargs
        outputs = self.compute_output_spec(*args, **spec_kwargs)
        Node(self, args, kwargs, outputs)
        self._symbolic_output_mask(first, mask, outputs)
        return outputs

    def _traced_compute_mask(self, inputs, mask):
        with CallContext(training=None, rng=jax.random.key(0)):
            return self.compute_mask(inputs, mask)

    def _symbolic_output_mask(self, first, mask, outputs):
        """Attach compute_mask's symbolic result to the symbolic `outputs` (Keras)."""
        if type(self).compute_mask is Layer.compute_mask and mask is None:
            return
        try:
            out_mask = _eval_symbolic(self._traced_compute_mask, (first, mask))
        except (TypeError, ValueError, NotImplementedError):
            return  # a compute_mask that needs concrete values: its mask appears when run
        if out_mask is None:
            return
        if isinstance(outputs, (list, tuple)) and isinstance(out_mask, (list, tuple)):
            for o, m in zip(outputs, out_mask):
                if isinstance(o, KerasTensor) and isinstance(m, KerasTensor):
                    o._keras_mask = m
        elif isinstance(outputs, KerasTensor) and isinstance(out_mask, KerasTensor):
            outputs._keras_mask = out_mask

    def compute_output_shape(self, input_shape):
        spec = self.compute_output_spec(placeholders(input_shape))
        return jax.tree_util.tree_map(lambda t: t.shape, spec, is_leaf=is_symbolic)

    def compute_output_spec(self, *args, **kwargs):
        """The symbolic outputs for symbolic inputs, found with `jax.eval_shape`.

        Unknown dimensions (None) are tried at two sizes; output dimensions that change
        between the two are unknown in the result.
        """
        cast = self._autocast_dtype()

        def traced_call(a, k):
            if cast is not None:
                a, k = _cast_first_input(a, k, cast)
            # Keras: a Variable.assign in call during the symbolic build changes nothing
            scratch = StatelessScope({v: v._value for v in self.variables})
            with CallContext(training=k.get("training", None), rng=jax.random.key(0),
                             collect_losses=True), AutocastScope(cast), scratch:
                return self.call(*a, **k)

        try:
            return _eval_symbolic(traced_call, (args, kwargs))
        except (TypeError, ValueError) as e:
            shapes = [leaf.shape for leaf in jax.tree_util.tree_leaves((args, kwargs),
                                                                       is_leaf=is_symbolic)
                      if isinstance(leaf, KerasTensor)]
            raise type(e)(
                f"Layer '{self.name}' could not be called on inputs of shape {shapes}: {e}"
            ) from e

    # ---------------------------------------------------------------- config
    def get_config(self) -> dict:
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": self._config_dtype()}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = list(self._batch_input_shape)
        return cfg

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # ---------------------------------------------------------------- graph helpers
    @property
    def input(self):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic inputs.")
        t = self._inbound_nodes[0].input_tensors
        return t[0] if len(t) == 1 else t

    @property
    def output(self):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic inputs.")
        n = self._inbound_nodes[0]
        return jax.tree_util.tree_unflatten(n._out_treedef, n.output_tensors)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _cast_first_input(args, kwargs, dtype):
    """Cast the floating arrays of a call's first input to `dtype` (Keras's autocast)."""
    def cast(x):
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != dtype:
            if isinstance(x, KerasTensor):
                return x
            return jnp.asarray(x).astype(dtype)
        return x

    if args:
        first = jax.tree_util.tree_map(cast, args[0], is_leaf=is_symbolic)
        return (first,) + tuple(args[1:]), kwargs
    if "inputs" in kwargs:
        kwargs = dict(kwargs)
        kwargs["inputs"] = jax.tree_util.tree_map(cast, kwargs["inputs"], is_leaf=is_symbolic)
    return args, kwargs


def _to_arrays(x):
    """NumPy inputs become JAX arrays; floats64 become float32 (JAX's default)."""
    def conv(a):
        if isinstance(a, np.ndarray) or isinstance(a, (list, float, int)) and not isinstance(a, bool):
            a = np.asarray(a)
            if a.dtype == np.float64:
                a = a.astype(np.float32)
            return jnp.asarray(a)
        if isinstance(a, Variable):
            return a.value
        return a
    if isinstance(x, (list, tuple)) and x and not isinstance(x[0], (int, float)):
        return type(x)(conv(e) if not isinstance(e, (list, tuple, dict)) else _to_arrays(e) for e in x)
    if isinstance(x, dict):
        return {k: _to_arrays(v) for k, v in x.items()}
    return conv(x)


def _given_or_carried_mask(first, mask):
    """The mask a call passes, else the one its first input carries (a list for a list of
    inputs); None when there is none."""
    if mask is not None:
        return mask
    if isinstance(first, (list, tuple)):
        mask = [get_mask(e) for e in first]
        return None if all(m is None for m in mask) else mask
    return get_mask(first)


def _eval_symbolic(fn, tree):
    """`fn(*tree)` on symbolic tensors, as KerasTensors: run with `jax.eval_shape` at two sizes
    for unknown dimensions (those that differ come back None). Non-array results give None."""
    leaves, treedef = jax.tree_util.tree_flatten(tree, is_leaf=is_symbolic)
    sym_pos = [i for i, l in enumerate(leaves) if isinstance(l, KerasTensor)]

    def run(fill):
        structs = [jax.ShapeDtypeStruct(tuple(fill if d is None else d for d in leaves[i].shape),
                                        leaves[i].dtype) for i in sym_pos]

        def f(*vals):
            ls = list(leaves)
            for i, v in zip(sym_pos, vals):
                ls[i] = v
            return fn(*jax.tree_util.tree_unflatten(treedef, ls))

        return jax.eval_shape(f, *structs)

    has_none = any(d is None for i in sym_pos for d in leaves[i].shape)
    out1 = run(7)
    out2 = run(11) if has_none else out1

    def mk(a, b):
        return KerasTensor(tuple(None if x != y else x for x, y in zip(a.shape, b.shape)), a.dtype)

    return jax.tree_util.tree_map(mk, out1, out2)
