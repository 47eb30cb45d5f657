"""The optimizer base classes: `Optimizer` (Keras's arguments, the optax transformation, the
stateless and stateful Keras APIs, config), `OptaxOptimizer` around a raw optax
transformation, and the table that `serialize` / `deserialize` resolve classes in."""
from __future__ import annotations

import re
from typing import Any, Callable, Optional, Union

import jax
import jax.numpy as jnp

from trine._util.keras_names import keras_snake_case
from trine.optimizers import schedules
from trine.optimizers import variables as keras_variables
from trine.optimizers.learning_rate import _is_lr_state, _is_scheduled, set_learning_rate
from trine.optimizers.rules import _clip_transform, _value_rule
from trine.optimizers.schedules import LearningRateSchedule


LearningRate = Union[float, Callable[[Any], Any]]


def _check_number(owner: str, arg: str, value, low=None, high=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
            hasattr(value, "shape") and getattr(value, "shape", None) == ()):
        raise TypeError(f"{owner}: {arg} must be a number, received {value!r} "
                        f"({type(value).__name__}).")
    value = float(value)
    if (low is not None and value < low) or (high is not None and value > high):
        rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{owner}: {arg} must be {rng}, received {arg}={value}.")
    return value


class Optimizer:
    """Base class of the Keras-named optimizers.

    Args:
        learning_rate: a float, or a schedule (a callable `step -> lr`, such as
            `trine.optimizers.schedules.ExponentialDecay` or an optax schedule).
        weight_decay: if set, decoupled weight decay `p <- p - p * weight_decay * lr` applied
            before each update, as in Keras.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to `[-clipvalue, clipvalue]`.
        global_clipnorm: clip all gradients together to this global L2 norm.
        use_ema, ema_momentum, ema_overwrite_frequency: Keras's weight moving average; only
            `use_ema=False` is supported (the other two are then ignored).
        loss_scale_factor: Keras's loss scaling; only None is supported.
        gradient_accumulation_steps: Keras's gradient accumulation; only None is supported.
        name: the optimizer's name (default: the class name in snake case).

    Raises:
        ValueError: for more than one clipping argument, or unknown keyword arguments.
        NotImplementedError: for `use_ema=True`, `loss_scale_factor` or
            `gradient_accumulation_steps`.

    The optimizer does not hold state: `to_optax()` returns the optax transformation that the
    trainer `init`s and `update`s.
    """

    def __init__(self, learning_rate: LearningRate, weight_decay: Optional[float] = None,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: Optional[int] = None,
                 loss_scale_factor: Optional[float] = None,
                 gradient_accumulation_steps: Optional[int] = None, name: Optional[str] = None,
                 **kwargs):
        owner = type(self).__name__
        kwargs.pop("decay", None)  # Keras 3 accepts and ignores the legacy `decay`
        if kwargs:
            raise ValueError(
                f"{owner}: argument(s) not recognized: {sorted(kwargs)}. Valid keyword "
                "arguments are the optimizer's own plus weight_decay, clipnorm, clipvalue, "
                "global_clipnorm and name.")
        if use_ema:
            raise NotImplementedError(
                f"{owner}: use_ema=True (an exponential moving average of the weights) is not "
                "supported by trine yet. Remove use_ema, or wrap an optax transformation with "
                "optax.ema yourself.")
        if loss_scale_factor is not None:
            raise NotImplementedError(
                f"{owner}: loss_scale_factor={loss_scale_factor} is not supported; trine trains "
                "in the parameters' dtype. Remove loss_scale_factor.")
        if gradient_accumulation_steps is not None:
            raise NotImplementedError(
                f"{owner}: gradient_accumulation_steps={gradient_accumulation_steps} is not "
                "supported yet. Use a larger batch size, or pass "
                "optax.MultiSteps(opt.to_optax(), every_k_schedule=k) as the optimizer.")
        n_clips = sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm))
        if n_clips > 1:
            raise ValueError(
                f"{owner}: only one of clipnorm, clipvalue and global_clipnorm can be set; "
                f"received clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}. Keep one of them.")
        self.name = name if name is not None else keras_snake_case(owner)
        self.weight_decay = _check_number(owner, "weight_decay", weight_decay, allow_none=True)
        self.clipnorm = _check_number(owner, "clipnorm", clipnorm, allow_none=True)
        self.clipvalue = _check_number(owner, "clipvalue", clipvalue, allow_none=True)
        self.global_clipnorm = _check_number(owner, "global_clipnorm", global_clipnorm,
                                             allow_none=True)
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = None
        self.gradient_accumulation_steps = None
        self._decay_exclude_patterns: list = []
        self._learning_rate = self._validate_lr(learning_rate)

    # ------------------------------------------------------------ learning rate
    def _validate_lr(self, value):
        if callable(value):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
                getattr(value, "shape", None) == ()):
            raise TypeError(
                f"{type(self).__name__}: learning_rate must be a float or a schedule (a callable "
                f"step -> lr, e.g. trine.optimizers.schedules.ExponentialDecay); received "
                f"{value!r} ({type(value).__name__}).")
        return float(value)

    @property
    def learning_rate(self) -> LearningRate:
        """The learning rate: a float, or the schedule the optimizer was created with.

        Setting a float changes the rate the trainer uses from the next step on, without
        recompiling (the trainer writes it into the optax state with `set_learning_rate`).

        Raises:
            TypeError: on setting a float when the optimizer was created with a schedule, or
                setting something that is neither a number nor a callable.
        """
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        if not callable(value) and callable(self._learning_rate):
            raise TypeError(
                f"{type(self).__name__} '{self.name}' was created with a learning-rate schedule "
                f"({self._learning_rate!r}), so its learning rate is not settable to "
                f"{value!r}. Create the optimizer with a float learning_rate if it must change "
                "during training.")
        self._learning_rate = self._validate_lr(value)
        if getattr(self, "_variables", None) is not None and not callable(value):
            keras_variables.set_learning_rate_variable(self, self._learning_rate)

    # ------------------------------------------------------------ weight decay
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Excludes variables from weight decay.

        Args:
            var_list: Variables (matched by their `path`, or `name`) to exclude.
            var_names: regular expressions; a parameter whose path (e.g. "dense/bias")
                contains a match is excluded.
        """
        pats = [re.escape(getattr(v, "path", None) or getattr(v, "name", str(v))) + "$"
                for v in (var_list or [])]
        pats += list(var_names or [])
        self._decay_exclude_patterns = pats

    def _decay_excluded(self):
        if not self._decay_exclude_patterns:
            return None
        regex = re.compile("|".join(f"(?:{p})" for p in self._decay_exclude_patterns))
        return lambda path: regex.search(path) is not None

    # ------------------------------------------------------------ optax
    def _rule(self, learning_rate):
        raise NotImplementedError(f"{type(self).__name__} must implement _rule(learning_rate).")

    def to_optax(self):
        """Returns the optax transformation implementing this optimizer's Keras update rule.

        The learning rate is an injected hyperparameter (`optax.inject_hyperparams`), so
        `get_learning_rate` / `set_learning_rate` read and change it in the state.

        Returns:
            An `optax.GradientTransformation`; call `update(grads, state, params)`.
        """
        import optax

        clip = _clip_transform(self.clipnorm, self.clipvalue, self.global_clipnorm)

        def keras_update(learning_rate):
            rule = self._rule(learning_rate)
            return optax.chain(clip, rule) if clip is not None else rule

        return optax.inject_hyperparams(keras_update)(learning_rate=self._learning_rate)

    # ------------------------------------------------------------ stateless use
    def build(self, variables, paths=None) -> None:
        """Bind the optimizer to the variables it will update (as Keras's `build`).

        Records their paths (the optax state is keyed by them, so weight-decay exclusions and
        inspection see names) and constraints (applied after each update).

        Args:
            variables: the model's trainable Variables, in order.
            paths: their unique paths; default each Variable's `path`.
        """
        self._paths = list(paths) if paths is not None else [v.path for v in variables]
        self._constraints = [getattr(v, "constraint", None) for v in variables]
        self._overwritten = [bool(getattr(v, "overwrite_with_gradient", False))
                             for v in variables]
        self._tx = self.to_optax()
        self._bound = list(variables)  # what apply() updates when given no variables
        self._variables = None  # Keras's optimizer.variables, made on first use
        self._pending_state = None

    def _require_built(self):
        if getattr(self, "_tx", None) is None:
            raise RuntimeError(
                f"Optimizer '{self.name}' is not built: call optimizer.build(variables) (fit and "
                "compile do this) before stateless_apply / init_state.")

    def init_state(self, trainable_values):
        """The optimizer state (a pytree) for these values, aligned with `build`'s variables."""
        self._require_built()
        return self._tx.init(dict(zip(self._paths, trainable_values)))

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """One update, purely: returns `(new_trainable_values, new_optimizer_variables)`.

        Args:
            optimizer_variables: the state from `init_state` or the previous call.
            grads: gradients, a list aligned with `trainable_variables`.
            trainable_variables: current values (a list), as in Keras 3's JAX trainer.
        """
        import optax
        self._require_built()
        if isinstance(optimizer_variables, list) or type(optimizer_variables) is tuple and (
                hasattr(self, "_slot_layout")):  # Keras's form: the flat optimizer.variables
            values = [getattr(v, "value", v) for v in trainable_variables]
            template = self._tx.init(dict(zip(self._paths, values)))
            state = keras_variables.list_to_state(self, list(optimizer_variables), template,
                                                  self._paths)
            new, state = self.stateless_apply(state, list(grads), values)
            return new, keras_variables.state_to_list(self, state, self._paths)
        if len(grads) != len(self._paths) or len(trainable_variables) != len(self._paths):
            raise ValueError(
                f"Optimizer '{self.name}'.stateless_apply expected {len(self._paths)} gradients "
                f"and values (one per trainable variable), received {len(grads)} and "
                f"{len(trainable_variables)}.")
        overwritten = getattr(self, "_overwritten", None) or [False] * len(grads)
        p = dict(zip(self._paths, trainable_variables))
        # a variable the optimizer overwrites takes its "gradient" as is; the rule sees zero
        g = {k: (jnp.zeros_like(gr) if o else gr)
             for k, gr, o in zip(self._paths, grads, overwritten)}
        updates, new_state = self._tx.update(g, optimizer_variables, p)
        new = optax.apply_updates(p, updates)
        out = [new[k] for k in self._paths]
        out = [c(v) if c is not None else v for c, v in zip(self._constraints, out)]
        out = [self._overwrite_value(gr, optimizer_variables).astype(v.dtype) if o else v
               for v, gr, o in zip(out, grads, overwritten)]
        return out, new_state

    def _overwrite_value(self, grad, optimizer_variables):
        """The value an `overwrite_with_gradient` variable takes from its gradient."""
        return grad

    # ------------------------------------------------------------ Keras's stateful surface
    @property
    def variables(self) -> list:
        """The optimizer's state as Keras's list of Variables (iteration, learning_rate,
        slots variable by variable); `build` first. Assigning them changes the state that
        `apply` continues from."""
        return keras_variables.optimizer_variables(self)

    @property
    def iterations(self):
        """The number of updates applied, a scalar int32 Variable (Keras's `iterations`)."""
        return keras_variables.iterations(self)

    def apply(self, grads, trainable_variables=None) -> None:
        """Applies gradients eagerly and updates the Variables (Keras's `apply`).

        Args:
            grads: a list of gradients.
            trainable_variables: the Variables they belong to; default those of `build`
                (the first call builds the optimizer on them).
        """
        keras_variables.apply(self, grads, trainable_variables)

    def apply_gradients(self, grads_and_vars) -> None:
        """Applies `(gradient, variable)` pairs eagerly (Keras's `apply_gradients`)."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def _mirror_state(self, state) -> None:
        """The trainer's state after a sync point: `variables` show it when next read."""
        self._pending_state = state

    # ------------------------------------------------------------ config
    def _own_config(self) -> dict:
        return {}

    def get_config(self) -> dict:
        """Returns the constructor arguments as a dict (Keras's keys).

        A trine schedule is serialised as a dict; any other callable learning rate is stored
        as the object itself (not JSON-serialisable).
        """
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        config = {
            "name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue, "use_ema": False, "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": None, "gradient_accumulation_steps": None,
        }
        config.update(self._own_config())
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: Optional[dict] = None) -> "Optimizer":
        """Creates an optimizer from the output of `get_config()`."""
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = schedules.deserialize(lr)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self._learning_rate!r}>"


# the base arguments a _ValueRuleOptimizer subclass passes through to Optimizer
_COMMON = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
           "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
           "gradient_accumulation_steps", "name")


class _ValueRuleOptimizer(Optimizer):
    """Shared plumbing: the decay lookup Keras's base class applies to every variable."""

    def _decay_for(self) -> Optional[Callable]:
        if self.weight_decay is None:
            return None
        excluded, wd = self._decay_excluded(), self.weight_decay
        return lambda path, ndim: None if excluded is not None and excluded(path) else wd

    def _build_rule(self, learning_rate, slot_inits, leaf_step):
        return _value_rule(learning_rate, slot_inits=slot_inits, leaf_step=leaf_step,
                           decay_for=self._decay_for())


def _base_kwargs(local: dict) -> dict:
    return {k: local[k] for k in _COMMON}


class OptaxOptimizer(Optimizer):
    """Wraps any optax `GradientTransformation` so that `compile(optimizer=...)` accepts it.

    If the transformation was built with `optax.inject_hyperparams(...)(learning_rate=x)`
    with a float `x`, `learning_rate` reads that value and setting it takes effect (through
    the optax state) without recompiling; otherwise `learning_rate` is None and setting it
    raises.

    Args:
        transform: an `optax.GradientTransformation`.
        name: a name. Default "optax_optimizer".

    Raises:
        TypeError: if `transform` is not an optax GradientTransformation.

    Example:
        >>> import optax
        >>> opt = OptaxOptimizer(optax.inject_hyperparams(optax.sgd)(learning_rate=0.1))
        >>> opt.learning_rate
        0.10000000149011612
    """

    def __init__(self, transform, name: Optional[str] = None):
        import optax
        if not isinstance(transform, optax.GradientTransformation):
            raise TypeError(
                "OptaxOptimizer: transform must be an optax.GradientTransformation, received "
                f"{type(transform).__name__}. Build one with optax, e.g. optax.adam(1e-3).")
        self.transform = transform
        self.name = name or "optax_optimizer"
        self.weight_decay = self.clipnorm = self.clipvalue = self.global_clipnorm = None
        self._decay_exclude_patterns = []
        self._lr_override: Optional[float] = None
        self._probed = False
        self._initial_lr: Optional[float] = None
        self._has_lr = False

    def _probe(self):
        """Reads the initial learning rate by initialising the transform on a dummy param."""
        if self._probed:
            return
        self._probed = True
        try:
            state = self.transform.init({"probe": jnp.zeros((), jnp.float32)})
        except (TypeError, ValueError, AttributeError, KeyError, IndexError):
            return
        found = [x for x in jax.tree_util.tree_leaves(state, is_leaf=_is_lr_state)
                 if _is_lr_state(x)]
        if found and not _is_scheduled(found[0]):
            self._has_lr = True
            self._initial_lr = float(found[0].hyperparams["learning_rate"])

    @property
    def learning_rate(self) -> Optional[float]:
        """The injected float learning rate, or None when the transform has none."""
        if self._lr_override is not None:
            return self._lr_override
        self._probe()
        return self._initial_lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._probe()
        if not self._has_lr:
            raise ValueError(
                f"OptaxOptimizer '{self.name}': the wrapped transformation has no settable "
                "learning_rate hyperparameter. Build it with optax.inject_hyperparams, e.g. "
                "optax.inject_hyperparams(optax.adam)(learning_rate=1e-3), and a float rate.")
        if callable(value):
            raise TypeError(
                f"OptaxOptimizer '{self.name}': learning_rate can only be set to a float here, "
                f"received {value!r}. Put the schedule in the optax transformation instead.")
        self._lr_override = self._validate_lr(value)

    def to_optax(self):
        """Returns the wrapped transformation (with the learning rate set, if it was)."""
        import optax
        if self._lr_override is None:
            return self.transform
        inner, lr = self.transform, self._lr_override

        def init_fn(params):
            return set_learning_rate(inner.init(params), lr)

        return optax.GradientTransformationExtraArgs(init_fn, inner.update)

    def get_config(self) -> dict:
        """Returns `{"name": ..., "transform": <the optax object>}` (not JSON-serialisable)."""
        return {"name": self.name, "transform": self.transform}

    @classmethod
    def from_config(cls, config: dict, custom_objects: Optional[dict] = None):
        """Creates the wrapper from `get_config()`'s output."""
        return cls(config["transform"], name=config.get("name"))

    def __repr__(self):
        return f"<OptaxOptimizer name={self.name!r}>"


# What configs and names resolve to; the modules defining the optimizers register theirs.
_CLASSES: dict[str, type] = {}  # class name -> class
_BY_NAME: dict[str, type] = {}  # lowercase name -> class, for those a bare name can make


def register_builtin(*classes: type, by_name: bool = True) -> None:
    """Make built-in optimizer classes resolvable by class name in configs and, with
    `by_name`, by lowercase name in `get` ("adamw")."""
    for cls in classes:
        _CLASSES[cls.__name__] = cls
        if by_name:
            _BY_NAME[cls.__name__.lower()] = cls


def serialize(optimizer: Optimizer) -> dict:
    """Returns `{"module", "class_name", "config"}` for an optimizer."""
    return {"module": "trine.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config()}


def deserialize(config: dict, custom_objects: Optional[dict] = None) -> Optimizer:
    """Creates an optimizer from `serialize()`'s output (or `{"class_name": "Adam"}`).

    Raises:
        ValueError: for an unknown class name.
    """
    name = config.get("class_name")
    classes = dict(_CLASSES, OptaxOptimizer=OptaxOptimizer, **(custom_objects or {}))
    cls = classes.get(name) or (_BY_NAME.get(name.lower()) if isinstance(name, str) else None)
    if cls is None:
        raise ValueError(
            f"Unknown optimizer class_name={name!r}. Valid names: {sorted(_BY_NAME)} "
            f"(or the classes {sorted(_CLASSES)}).")
    return cls.from_config(dict(config.get("config") or {}))
