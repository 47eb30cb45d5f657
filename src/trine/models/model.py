"""`Model`: a Layer that can be trained (compile / fit / evaluate / predict) and inspected.

`Model(inputs, outputs)` builds a Functional model; subclass `Model` and write `call` for the
subclassing API. Every model exposes the pure seam `stateless_call`.
"""
from __future__ import annotations

import inspect

import jax

from trine.core.layer import CallContext, Layer
from trine.core.shapes import placeholders, unbatched
from trine.core.symbolic import KerasTensor
from trine.core.variable import StatelessScope, Variable
from trine.models.compile_config import compile_from_config, get_compile_config
from trine.models.upper import upper
from trine.training.trainer import Trainer


class Model(Trainer, Layer):
    """A trainable model (Keras `keras.Model`).

    Two ways to make one:
    - Functional: `Model(inputs, outputs)` with symbolic tensors from `Input`.
    - Subclassing: subclass `Model`, create layers in `__init__`, write `call(inputs)`.

    Example:
        >>> inputs = Input(shape=(4,))
        >>> model = Model(inputs, Dense(2)(inputs))
    """

    # models.functional sets it: `Model(inputs, outputs)` builds one (Keras's dispatch)
    _functional_class = None

    # what Model and its trainer set on an instance: never a user's layers or variables
    _machinery_attrs = frozenset({
        "_ahead", "_auto_config", "_auto_k", "_batch_metric_state", "_compile_built",
        "_compiling", "_log_specs", "_losses", "_metrics_list", "_opt_state", "_policy",
        "_run_eagerly", "_session", "_step", "_trackers", "_traced_steps", "_tx", "compiled",
        "history", "loss", "stop_training", "trace_counts"})

    def __new__(cls, *args, **kwargs):
        if len(args) >= 2 or "inputs" in kwargs or "outputs" in kwargs:
            Functional = Model._functional_class
            if cls is Model:
                return Functional.__new__(Functional)
            inputs = kwargs["inputs"] if "inputs" in kwargs else args[0] if args else None
            if not issubclass(cls, Functional) and _all_symbolic(inputs):
                # `class CustomModel(Model)` (custom train_step, no call) built with
                # `CustomModel(inputs, outputs)`, as in Keras's guides: an explicit subclass
                # of both, so the user's methods win and Functional supplies the graph.
                return super().__new__(_functional_subclass(cls))
        obj = super().__new__(cls)
        # Keras's auto-config: a subclass without get_config() saves its constructor arguments
        object.__setattr__(obj, "_auto_config", _auto_config(cls, args, kwargs))
        return obj

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__ received inputs/outputs. A Model subclass that "
                "builds a graph should call it as Functional: `Model(inputs, outputs)`, or "
                "define call() and leave inputs/outputs out of super().__init__().")
        Layer.__init__(self, **kwargs)
        Trainer.__init__(self)

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list:
        return self._layers

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer with this name (or at this index in `layers`).

        Raises:
            ValueError: when no layer has the name (the valid names are listed).
        """
        if index is not None:
            layers = self.layers
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"Model '{self.name}' has {len(layers)} layers; index {index} is out of range.")
            return layers[index]
        if name is None:
            raise ValueError("get_layer needs name= or index=.")
        for layer in self._flatten_layers(include_self=False):
            if layer.name == name:
                return layer
        raise ValueError(
            f"No layer named '{name}' in model '{self.name}'. Layers: "
            f"{[l.name for l in self.layers]}.")

    def build(self, input_shape=None):
        """Create the weights by running `call` on symbolic inputs of `input_shape`."""
        if input_shape is None:
            raise ValueError(
                f"Model '{self.name}'.build() needs an input shape, e.g. "
                "model.build((None, 28, 28)).")
        input_shape = unbatched(input_shape)
        spec = placeholders(input_shape)
        self.compute_output_spec(spec)
        self._build_input_shape = input_shape
        self.built = True

    # ------------------------------------------------------------------ the pure seam
    def _path_map(self, weights=None):
        """Unique paths for all variables: [(path, Variable)], in `weights` order. `weights`:
        `self.weights` when the caller has it already (checking the cache walks the layers)."""
        cache = self.__dict__.get("_path_cache")
        weights = self.weights if weights is None else weights
        key = tuple(id(v) for v in weights)
        if cache is not None and cache[0] == key:
            return cache[1]
        owner = {}

        def rec(layer, prefix):
            for v in layer._direct_variables():
                owner.setdefault(id(v), f"{prefix}{v.name}")
            for sub in layer._layers:
                rec(sub, f"{prefix}{sub.name}/")

        rec(self, "")
        paths, used = [], set()
        for v in weights:
            p = owner.get(id(v), v.path)
            base, n = p, 1
            while p in used:
                p = f"{base}_{n}"
                n += 1
            used.add(p)
            paths.append((p, v))
        object.__setattr__(self, "_path_cache", (key, paths))
        return paths

    def get_params(self) -> dict:
        """Trainable values as a dict keyed by variable path (a pytree for jax.grad)."""
        trainable = {id(v) for v in self.trainable_weights}
        return {p: v.value for p, v in self._path_map() if id(v) in trainable}

    def get_state(self) -> dict:
        """Non-trainable values (e.g. BatchNorm statistics) as a dict keyed by path."""
        trainable = {id(v) for v in self.trainable_weights}
        return {p: v.value for p, v in self._path_map() if id(v) not in trainable}

    def set_params(self, params: dict) -> None:
        """Write values (from `get_params`/`get_state` or a trained pytree) into the Variables."""
        by_path = dict(self._path_map())
        unknown = [k for k in params if k not in by_path]
        if unknown:
            raise KeyError(
                f"Model '{self.name}' has no variables {unknown}. Its paths are "
                f"{sorted(by_path)}.")
        for k, v in params.items():
            by_path[k].assign(v)

    set_state = set_params

    def _mapping(self, variables, values, what):
        if values is None:
            return {}
        if isinstance(values, dict):
            paths = {id(v): p for p, v in self._path_map()}
            out = {}
            for v in variables:
                p = paths[id(v)]
                if p not in values:
                    raise KeyError(
                        f"stateless_call: {what} has no entry for variable '{p}'. Build it "
                        f"with model.get_{'params' if what == 'params' else 'state'}().")
                out[v] = _value_of(values[p])
            return out
        values = [_value_of(x) for x in values]
        if len(values) != len(variables):
            raise ValueError(
                f"stateless_call expected {len(variables)} {what} values (aligned with "
                f"model.{'trainable' if what == 'params' else 'non_trainable'}_variables), "
                f"received {len(values)}.")
        return dict(zip(variables, values))

    def stateless_call(self, params, state, *args, training: bool = False, rng=None,
                       return_losses: bool = False, **kwargs):
        """Run the model as a pure function of its variable values.

        Args:
            params: trainable values, a dict keyed by path (`get_params()`) or a list aligned
                with `trainable_variables` (Keras 3's convention).
            state: non-trainable values, same conventions (`get_state()`).
            *args: the model inputs.
            training: training mode (dropout on, BatchNorm batch statistics).
            rng: a JAX key for random layers; required under jit when training with them.
            return_losses: also return the list of added losses (regularization, add_loss).

        Returns:
            `(outputs, new_state)`, or `(outputs, new_state, losses)` with return_losses.
            `new_state` has the structure of `state`.

        Example:
            >>> params, state = model.get_params(), model.get_state()
            >>> y, state = jax.jit(model.stateless_call)(params, state, x)
        """
        if not self.built:
            raise ValueError(
                f"Model '{self.name}' is not built: call it on data or call "
                "model.build(input_shape) before stateless_call.")
        tv, ntv = self.trainable_variables, self.non_trainable_variables
        if rng is None:
            from trine.core.layer import current_context
            outer = current_context()
            rng = outer.rng if outer is not None else None
        mapping = self._mapping(tv, params, "params")
        mapping.update(self._mapping(ntv, state, "state"))
        with StatelessScope(mapping) as scope, CallContext(training=training, rng=rng,
                                                             collect_losses=True) as ctx:
            outputs = self(*args, training=training, **kwargs)
            losses = list(ctx.losses)
            for layer in self._flatten_layers():
                for var, reg in layer._regularized:
                    losses.append(reg(var.value))
            if isinstance(state, dict):
                paths = {id(v): p for p, v in self._path_map()}
                new_state = {paths[id(v)]: scope.get(v) for v in ntv}
            elif state is None:
                new_state = None
            else:
                new_state = [scope.get(v) for v in ntv]
        if return_losses:
            return outputs, new_state, losses
        return outputs, new_state

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print a table of the layers, their output shapes and parameter counts."""
        upper("summary").print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)

    def _saved_build_config(self):
        """The `build_config` a saved record holds: the input shape the model was built with."""
        shape = getattr(self, "_build_input_shape", None)
        if shape is None:
            return None
        return {"input_shape": _shape_to_json(shape)}

    def get_config(self) -> dict:
        """The constructor arguments (Keras's rule for a subclass without its own get_config:
        the plain values it was constructed with, plus `name` / `trainable` where `__init__`
        takes them).

        Raises:
            NotImplementedError: when the model was constructed with arguments that are not
                plain values, so its config cannot be generated: define get_config().
        """
        config = {"name": self.name, "trainable": self.trainable}
        auto = self.__dict__.get("_auto_config")
        if type(self) is Model or auto is None and not _takes_only_base_args(type(self)):
            if type(self) is not Model and auto is None:
                raise NotImplementedError(
                    f"Model {type(self).__name__} was built with constructor arguments that "
                    "are not plain values (numbers, strings, lists, dicts), so its config "
                    "cannot be generated. Define get_config() returning its constructor "
                    "arguments (and from_config() if they need rebuilding).")
            return config
        base_keys = set(config)
        config.update(auto or {})
        spec = inspect.getfullargspec(type(self).__init__)
        if spec.varkw is None:
            for key in base_keys - set(spec.args[1:]) - set(spec.kwonlyargs):
                config.pop(key, None)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """Rebuild a model from `get_config()` (Keras's rules).

        A Functional config (name, layers, input_layers, output_layers) is revived as a
        Functional graph when `cls` is `Model`, `Functional`, or a subclass whose constructor
        takes the Functional arguments (or `*args, **kwargs`); any other subclass is called
        with the config as keyword arguments.

        Raises:
            TypeError: when a subclass cannot be built from its config, saying how to fix
                its get_config().
        """
        Functional = Model._functional_class
        keys = ("name", "layers", "input_layers", "output_layers")
        if isinstance(config, dict) and all(k in config for k in keys):
            spec = inspect.getfullargspec(cls.__init__)
            functional_args = inspect.getfullargspec(Functional.__init__).args[1:]
            if (cls in (Model, Functional) or spec.args[1:] == functional_args
                    or (spec.varargs is not None and spec.varkw is not None)):
                return Functional.from_config.__func__(
                    Functional if cls is Model else cls, config, custom_objects=custom_objects)
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(
                f"Unable to rebuild model class {cls.__name__} from its config: {e}. Make "
                "get_config() return every argument its __init__ needs (and override "
                "from_config() to rebuild nested objects such as layers), as in Keras's guide "
                "on customizing saving.") from e

    def get_compile_config(self) -> dict:
        """What `compile` was called with, as the `compile_config` Keras writes ({} if not
        compiled). Override it with `compile_from_config` for a custom `compile` signature."""
        return get_compile_config(self)

    def compile_from_config(self, config: dict) -> None:
        """Compile from `get_compile_config()`'s dict (names and classes resolve through the
        allow-list and your registered objects)."""
        compile_from_config(self, config)

    def to_json(self, **kwargs) -> str:
        """The model's config (`serialize_keras_object(model)`) as JSON; kwargs go to
        `json.dumps`. Rebuild it with `trine.models.model_from_json`."""
        return upper("model_json").model_to_json(self, **kwargs)

    def quantize(self, mode=None, config=None, filters=None, **kwargs) -> None:
        """Quantize the weights of every layer that can ("int8", "int4", "float8"); see
        `trine.models.quantize.quantize_model`."""
        from trine.models.quantize import quantize_model
        quantize_model(self, mode, config, filters, **kwargs)

    # ------------------------------------------------------------------ files
    def save(self, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
        """Save architecture, weights and compile state to a `.keras` archive (Keras 3 layout)."""
        upper("saving").save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Save the weights to a `.weights.h5` file (Keras 3 layout)."""
        upper("saving").save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch: bool = False, **kwargs) -> None:
        """Load weights saved by `save_weights` (trine or Keras 3)."""
        upper("saving").load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_subclass(cls):
    """`cls` combined with Functional (cached per class), keeping cls's name and module."""
    Functional = Model._functional_class
    out = _FUNCTIONAL_SUBCLASSES.get(cls)
    if out is None:
        out = type(cls.__name__, (cls, Functional),
                   {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
        _FUNCTIONAL_SUBCLASSES[cls] = out
    return out


def _all_symbolic(struct) -> bool:
    """Whether `struct` is a KerasTensor or a non-empty list / tuple / dict of them."""
    leaves = jax.tree_util.tree_leaves(struct, is_leaf=lambda t: isinstance(t, KerasTensor))
    return bool(leaves) and all(isinstance(t, KerasTensor) for t in leaves)


def _shape_to_json(shape):
    if isinstance(shape, dict):
        return {k: _shape_to_json(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple, dict)):
        return [_shape_to_json(s) for s in shape]
    return tuple(None if d is None else int(d) for d in shape)


_PLAIN = (str, int, float, bool, type(None))


def _plain(value, depth=0) -> bool:
    if depth > 16:
        return False
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _auto_config(cls, args, kwargs):
    """The constructor arguments of a Model subclass by name, or None when they are not all
    plain values (or cannot be bound to its signature)."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    out = {}
    params = inspect.signature(cls.__init__).parameters
    for name, value in list(bound.arguments.items())[1:]:
        if params[name].kind == params[name].VAR_KEYWORD:
            out.update(value)
        elif params[name].kind == params[name].VAR_POSITIONAL:
            if value:
                return None
        else:
            out[name] = value
    return out if _plain(out) else None


def _takes_only_base_args(cls) -> bool:
    spec = inspect.getfullargspec(cls.__init__)
    return not [a for a in spec.args[1:] if a not in ("name", "trainable")]


def _value_of(x):
    """A Variable passed as a value stands for its current value (Keras: the guides pass
    `model.trainable_variables` itself to stateless_call)."""
    return x.value if isinstance(x, Variable) else x
