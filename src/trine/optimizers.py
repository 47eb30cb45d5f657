"""Optimizers with Keras 3 names, defaults and arithmetic, running as optax transformations.

Every optimizer here is a small configuration object. `to_optax()` turns it into an
`optax.GradientTransformation` whose update rule reproduces the Keras 3 update rule of the
same name (same order of operations, same epsilon placement, same bias correction), so a
model trained with `trine.optimizers.Adam()` follows the same trajectory as one trained with
`keras.optimizers.Adam()`.

The learning rate lives in the optax state (through `optax.inject_hyperparams`), so it can
change between steps without recompiling the jitted step::

    opt = trine.optimizers.Adam(1e-3)
    tx = opt.to_optax()
    opt_state = tx.init(params)
    updates, opt_state = tx.update(grads, opt_state, params)   # inside jit
    opt_state = trine.optimizers.set_learning_rate(opt_state, 1e-4)  # outside or inside jit
    get_learning_rate(opt_state)  # -> Array(1e-4, dtype=float32)

When the learning rate is a schedule (a callable `step -> lr`, e.g.
`trine.optimizers.schedules.ExponentialDecay` or any optax schedule), the step count comes
from the optax state, starting at 0 for the first update, as Keras's `iterations` does.

optax is imported inside functions so that `import trine` stays fast.
"""
from __future__ import annotations

import math
import re
import sys
import types
from typing import Any, Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp

__all__ = [
    "Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "OptaxOptimizer", "Optimizer", "RMSprop",
    "SGD", "deserialize", "get", "get_learning_rate", "schedules", "serialize",
    "set_learning_rate",
]

LearningRate = Union[float, Callable[[Any], Any]]


# ====================================================================== schedules
class LearningRateSchedule:
    """Base class for learning-rate schedules: callables `step -> learning rate`.

    Subclasses implement `__call__(step)` with `jax.numpy` so the schedule can be evaluated
    inside `jax.jit` on a traced integer step, and `get_config()` for serialisation.
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must implement __call__(step).")

    def get_config(self) -> dict:
        """Returns the constructor arguments as a dict.

        Raises:
            NotImplementedError: if the subclass does not override it.
        """
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override get_config() to be "
            "serialisable.")

    @classmethod
    def from_config(cls, config: dict) -> "LearningRateSchedule":
        """Creates a schedule from the output of `get_config()`."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _as_float32(x):
    return jnp.asarray(x, dtype=jnp.float32)


class ExponentialDecay(LearningRateSchedule):
    """`initial_learning_rate * decay_rate ** (step / decay_steps)`, as Keras computes it.

    Args:
        initial_learning_rate: the learning rate at step 0.
        decay_steps: positive number of steps over which the rate is multiplied by
            `decay_rate` once.
        decay_rate: the multiplicative decay.
        staircase: if True, `step / decay_steps` is floored, so the rate drops in steps.
        name: a name for the schedule.

    Raises:
        ValueError: if `decay_steps` is not positive.

    Example:
        >>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
        >>> float(s(10))
        0.05000000074505806
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError(
                f"ExponentialDecay: decay_steps must be > 0, received decay_steps={decay_steps}. "
                "Pass the number of steps over which the rate decays by decay_rate once.")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        lr0 = _as_float32(self.initial_learning_rate)
        p = _as_float32(step) / _as_float32(self.decay_steps)
        if self.staircase:
            p = jnp.floor(p)
        return lr0 * jnp.power(_as_float32(self.decay_rate), p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant learning rate per interval of steps.

    The result is `values[0]` while `step <= boundaries[0]`, `values[i]` while
    `boundaries[i-1] < step <= boundaries[i]`, and `values[-1]` after the last boundary.

    Args:
        boundaries: strictly increasing step numbers.
        values: one more value than boundaries.
        name: a name for the schedule.

    Raises:
        ValueError: if `len(values) != len(boundaries) + 1`.

    Example:
        >>> s = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
        >>> float(s(150))
        0.5
    """

    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: values must have exactly one more element than "
                f"boundaries; received {len(boundaries)} boundaries ({boundaries}) and "
                f"{len(values)} values ({values}).")
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step):
        step = jnp.asarray(step)
        values = jnp.asarray(self.values)
        if not jnp.issubdtype(values.dtype, jnp.floating):
            values = values.astype(jnp.float32)
        if not self.boundaries:
            return values[0]
        bounds = jnp.asarray(self.boundaries).astype(step.dtype)
        index = jnp.sum((step > bounds).astype(jnp.int32))
        return values[index]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warmup, with Keras's semantics.

    Without warmup (`warmup_target=None`) the rate goes from `initial_learning_rate` to
    `initial_learning_rate * alpha` over `decay_steps` steps. With warmup it first rises
    linearly from `initial_learning_rate` to `warmup_target` over `warmup_steps` steps, then
    decays from `warmup_target` to `warmup_target * alpha` over `decay_steps` steps.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of decay steps.
        alpha: the final rate as a fraction of the rate the decay starts from.
        name: a name for the schedule.
        warmup_target: the rate reached at the end of warmup, or None for no warmup.
        warmup_steps: number of warmup steps.

    Raises:
        ValueError: if `decay_steps` is not positive.

    Example:
        >>> s = CosineDecay(0.1, decay_steps=100)
        >>> round(float(s(50)), 6)
        0.05
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: Optional[float] = None,
                 warmup_steps: int = 0):
        if decay_steps <= 0:
            raise ValueError(
                f"CosineDecay: decay_steps must be > 0, received decay_steps={decay_steps}.")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, decay_steps, start):
        fraction = step / decay_steps
        cosine = 0.5 * (1.0 + jnp.cos(_as_float32(math.pi) * fraction))
        return start * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        lr0 = _as_float32(self.initial_learning_rate)
        decay_steps = _as_float32(self.decay_steps)
        step = _as_float32(step)
        if self.warmup_target is None:
            return self._decay(jnp.minimum(step, decay_steps), decay_steps, lr0)
        target = _as_float32(self.warmup_target)
        warmup_steps = _as_float32(self.warmup_steps)
        step = jnp.minimum(step, decay_steps + warmup_steps)
        # guard the unused branch against 0/0 so no NaN appears in either branch
        safe_warm = jnp.where(warmup_steps > 0, warmup_steps, 1.0)
        warm = (target - lr0) * (step / safe_warm) + lr0
        decayed = self._decay(step - warmup_steps, decay_steps, target)
        return jnp.where(step < warmup_steps, warm, decayed)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay)}


def _serialize_schedule(schedule: LearningRateSchedule) -> dict:
    """A schedule's Keras record (its registered name for your own classes)."""
    return registration.object_record(schedule, "keras.optimizers.schedules", _SCHEDULES)


def _deserialize_schedule(config: dict, custom_objects=None) -> LearningRateSchedule:
    """Rebuild a schedule from its record: built-in, registered, or in `custom_objects`.

    Raises:
        ValueError: for a schedule nothing resolves, saying how to make it resolvable.
    """
    if not isinstance(config, dict):
        raise ValueError(f"schedules.deserialize expects a schedule record (a dict with "
                         f"'class_name' and 'config'), received {config!r}.")
    with registration.custom_object_scope(custom_objects or {}):
        cls = registration.resolve_class(config, _SCHEDULES, LearningRateSchedule,
                                         "learning-rate schedule")
    return cls.from_config(dict(config.get("config") or {}))


schedules = types.ModuleType(
    "trine.optimizers.schedules",
    "Learning-rate schedules with Keras names: callables `step -> learning rate`.")
schedules.LearningRateSchedule = LearningRateSchedule
schedules.ExponentialDecay = ExponentialDecay
schedules.PiecewiseConstantDecay = PiecewiseConstantDecay
schedules.CosineDecay = CosineDecay
schedules.serialize = _serialize_schedule
schedules.deserialize = _deserialize_schedule
schedules.__all__ = ["CosineDecay", "ExponentialDecay", "LearningRateSchedule",
                     "PiecewiseConstantDecay", "deserialize", "serialize"]
sys.modules.setdefault("trine.optimizers.schedules", schedules)


# ====================================================================== lr in the optax state
def _is_lr_state(x) -> bool:
    hp = getattr(x, "hyperparams", None)
    return isinstance(x, tuple) and isinstance(hp, dict) and "learning_rate" in hp


def _is_scheduled(x) -> bool:
    states = getattr(x, "hyperparams_states", None)
    return isinstance(states, dict) and "learning_rate" in states


def _no_lr_error(fn: str, opt_state) -> ValueError:
    return ValueError(
        f"{fn}: the optimizer state has no 'learning_rate' hyperparameter (received a "
        f"{type(opt_state).__name__}). Build the transformation with "
        "optax.inject_hyperparams, e.g. optax.inject_hyperparams(optax.adam)(learning_rate=1e-3), "
        "or use a trine optimizer's to_optax().")


def get_learning_rate(opt_state) -> jax.Array:
    """Returns the learning rate stored in an optax state.

    Works for the state of every trine optimizer's `to_optax()` and for any transformation
    built with `optax.inject_hyperparams(...)(learning_rate=...)`, also when nested (chain,
    MultiSteps, ...); with several, the first one found is returned. For a scheduled learning
    rate this is the value the last update used (the schedule at step 0 before any update).

    Args:
        opt_state: an optax optimizer state.

    Returns:
        The learning rate as a scalar array.

    Raises:
        ValueError: if the state has no learning-rate hyperparameter.

    Example:
        >>> st = Adam(1e-3).to_optax().init({"w": jnp.zeros(3)})
        >>> float(get_learning_rate(st))
        0.0010000000474974513
    """
    found = [x for x in jax.tree_util.tree_leaves(opt_state, is_leaf=_is_lr_state)
             if _is_lr_state(x)]
    if not found:
        raise _no_lr_error("get_learning_rate", opt_state)
    return found[0].hyperparams["learning_rate"]


def set_learning_rate(opt_state, value) -> Any:
    """Returns a copy of `opt_state` whose learning rate is `value` (the input is unchanged).

    The new value keeps the dtype and shape of the stored one, so a jitted step that takes
    the state as an argument is not retraced. Pure: usable inside `jax.jit`.

    Args:
        opt_state: an optax state (see `get_learning_rate` for what is supported).
        value: the new learning rate (a Python float or a scalar array).

    Returns:
        The new optimizer state.

    Raises:
        ValueError: if the state has no learning-rate hyperparameter, or if the learning rate
            follows a schedule (the schedule would overwrite the value at the next step).
    """
    count = [0]

    def replace(x):
        if not _is_lr_state(x):
            return x
        if _is_scheduled(x):
            raise ValueError(
                "set_learning_rate: the learning rate in this optimizer state follows a "
                "schedule, so a value set here would be overwritten at the next step. Create "
                "the optimizer with a float learning_rate to change it during training.")
        count[0] += 1
        old = x.hyperparams["learning_rate"]
        old_arr = jnp.asarray(old)
        new = jnp.broadcast_to(jnp.asarray(value, dtype=old_arr.dtype), old_arr.shape)
        return x._replace(hyperparams={**x.hyperparams, "learning_rate": new})

    new_state = jax.tree_util.tree_map(replace, opt_state, is_leaf=_is_lr_state)
    if count[0] == 0:
        raise _no_lr_error("set_learning_rate", opt_state)
    return new_state


# ====================================================================== update rules
class KerasOptimizerState(NamedTuple):
    """State of a Keras-arithmetic update rule.

    Attributes:
        count: number of updates applied (Keras's `iterations`), int32 scalar.
        slots: one pytree shaped like the params per optimizer variable (e.g. Adam's m, v).
        extra: optimizer-wide scalars (Nadam's running product of momentum factors).
    """

    count: Any
    slots: tuple
    extra: tuple


def _path_str(path) -> str:
    parts = []
    for k in path:
        for attr in ("key", "name", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)


def _keras_rule(learning_rate, *, slot_inits: tuple, leaf_step: Callable,
                weight_decay: Optional[float] = None, decay_excluded: Callable = None,
                shared: Optional[Callable] = None, extra_init: Callable = None):
    """Builds an optax GradientTransformation from a per-variable Keras update rule.

    `leaf_step(g, slots, lr, t, ctx) -> (update_to_add, new_slots)` works on one variable,
    with `g` and `lr` already cast to the variable's dtype and `t` the 1-based step (int).
    `shared(t, extra) -> (ctx, new_extra)` computes optimizer-wide values once per step.
    Decoupled weight decay follows Keras: `p <- p - p * weight_decay * lr` before the update.
    """
    import optax

    def init_fn(params):
        leaves, treedef = jax.tree_util.tree_flatten(params)
        slots = tuple(jax.tree_util.tree_unflatten(treedef, [init(p) for p in leaves])
                      for init in slot_inits)
        extra = extra_init(leaves) if extra_init is not None else ()
        return KerasOptimizerState(jnp.zeros([], jnp.int32), slots, extra)

    def update_fn(updates, state, params=None):
        g_leaves, treedef = jax.tree_util.tree_flatten(updates)
        if weight_decay is not None and params is None:
            raise ValueError(
                "This optimizer uses weight_decay, so tx.update needs the params: call "
                "tx.update(grads, opt_state, params).")
        if params is not None:
            with_paths = treedef.flatten_up_to(
                jax.tree_util.tree_map_with_path(lambda kp, p: (kp, p), params))
            paths = [kp for kp, _ in with_paths]
            p_leaves = [p for _, p in with_paths]
        else:
            paths, p_leaves = [None] * len(g_leaves), [None] * len(g_leaves)
        slot_leaves = [treedef.flatten_up_to(s) for s in state.slots]
        t = state.count + 1
        ctx, new_extra = shared(t, state.extra) if shared is not None else (None, state.extra)
        out, new_slots = [], [[] for _ in state.slots]
        for i, g in enumerate(g_leaves):
            p = p_leaves[i]
            dtype = p.dtype if p is not None else g.dtype
            lr = jnp.asarray(learning_rate).astype(dtype)
            g = g.astype(dtype)
            u, slots = leaf_step(g, tuple(s[i] for s in slot_leaves), lr, t, ctx)
            if weight_decay is not None and not (
                    decay_excluded is not None and decay_excluded(_path_str(paths[i]))):
                u = u - p * jnp.asarray(weight_decay, dtype) * lr
            out.append(u)
            for k, s in enumerate(slots):
                new_slots[k].append(s)
        new_updates = jax.tree_util.tree_unflatten(treedef, out)
        slots = tuple(jax.tree_util.tree_unflatten(treedef, s) for s in new_slots)
        return new_updates, KerasOptimizerState(optax.safe_increment(state.count), slots,
                                                new_extra)

    return optax.GradientTransformation(init_fn, update_fn)


def _zeros(p):
    return jnp.zeros_like(p)


def _clip_transform(clipnorm, clipvalue, global_clipnorm):
    """Keras's gradient clipping (per-variable norm, global norm, or value) as optax."""
    import optax

    if clipnorm is not None and clipnorm > 0:
        def per_variable(g):
            l2sum = jnp.sum(jnp.square(g), keepdims=True)
            positive = l2sum > 0
            l2norm = jnp.where(positive, jnp.sqrt(jnp.where(positive, l2sum, 1.0)), l2sum)
            return (g * clipnorm) / jnp.maximum(l2norm, clipnorm)
        return optax.stateless(lambda u, p: jax.tree_util.tree_map(per_variable, u))
    if global_clipnorm is not None and global_clipnorm > 0:
        def global_clip(updates, params):
            leaves = jax.tree_util.tree_leaves(updates)
            norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in leaves))
            scale = global_clipnorm * jnp.minimum(1.0 / norm, 1.0 / global_clipnorm)
            scale = scale + (norm - norm)  # NaN when the norm is not finite, as in Keras
            return jax.tree_util.tree_map(lambda g: g * scale.astype(g.dtype), updates)
        return optax.stateless(global_clip)
    if clipvalue is not None and clipvalue > 0:
        return optax.stateless(
            lambda u, p: jax.tree_util.tree_map(lambda g: jnp.clip(g, -clipvalue, clipvalue), u))
    return None


# ====================================================================== base class
def _snake(name: str) -> str:
    """CamelCase -> snake_case the way Keras names optimizers ("AdamW" -> "adam_w")."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


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
        self.name = name if name is not None else _snake(owner)
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
            from trine.optimizers_variables import set_learning_rate_variable
            set_learning_rate_variable(self, self._learning_rate)

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
            from trine import optimizers_variables as ov
            values = [getattr(v, "value", v) for v in trainable_variables]
            template = self._tx.init(dict(zip(self._paths, values)))
            state = ov.list_to_state(self, list(optimizer_variables), template, self._paths)
            new, state = self.stateless_apply(state, list(grads), values)
            return new, ov.state_to_list(self, state, self._paths)
        if len(grads) != len(self._paths) or len(trainable_variables) != len(self._paths):
            raise ValueError(
                f"Optimizer '{self.name}'.stateless_apply expected {len(self._paths)} gradients "
                f"and values (one per trainable variable), received {len(grads)} and "
                f"{len(trainable_variables)}.")
        p = dict(zip(self._paths, trainable_variables))
        g = dict(zip(self._paths, grads))
        updates, new_state = self._tx.update(g, optimizer_variables, p)
        new = optax.apply_updates(p, updates)
        out = [new[k] for k in self._paths]
        out = [c(v) if c is not None else v for c, v in zip(self._constraints, out)]
        return out, new_state

    # ------------------------------------------------------------ Keras's stateful surface
    @property
    def variables(self) -> list:
        """The optimizer's state as Keras's list of Variables (iteration, learning_rate,
        slots variable by variable); `build` first. Assigning them changes the state that
        `apply` continues from."""
        from trine.optimizers_variables import optimizer_variables
        return optimizer_variables(self)

    @property
    def iterations(self):
        """The number of updates applied, a scalar int32 Variable (Keras's `iterations`)."""
        from trine.optimizers_variables import iterations
        return iterations(self)

    def apply(self, grads, trainable_variables=None) -> None:
        """Applies gradients eagerly and updates the Variables (Keras's `apply`).

        Args:
            grads: a list of gradients.
            trainable_variables: the Variables they belong to; default those of `build`
                (the first call builds the optimizer on them).
        """
        from trine.optimizers_variables import apply
        apply(self, grads, trainable_variables)

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
            lr = _serialize_schedule(lr)
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
            config["learning_rate"] = _deserialize_schedule(lr)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self._learning_rate!r}>"


# ====================================================================== the optimizers
class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, with Keras's arithmetic.

    With momentum, Keras keeps `m <- momentum * m - lr * g` and adds `m` to the variable
    (Nesterov: adds `momentum * m - lr * g`); the learning rate is inside the momentum.

    Args:
        learning_rate: float or schedule. Default 0.01.
        momentum: float in [0, 1]. Default 0.
        nesterov: use Nesterov momentum. Default False.
        **kwargs: the common arguments of `Optimizer` (weight_decay, clipnorm, ...).

    Raises:
        ValueError: if momentum is outside [0, 1].

    Example:
        >>> opt = SGD(0.1, momentum=0.9)
        >>> tx = opt.to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.momentum = _check_number("SGD", "momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _slot_layout(self):
        return (("momentum",),) if self.momentum != 0 else ()

    def _own_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _rule(self, learning_rate):
        momentum, nesterov = self.momentum, self.nesterov
        if momentum == 0:
            def step(g, slots, lr, t, ctx):
                return -(g * lr), ()
            inits = ()
        else:
            def step(g, slots, lr, t, ctx):
                (m,) = slots
                m = m * momentum - g * lr
                u = m * momentum - g * lr if nesterov else m
                return u, (m,)
            inits = (_zeros,)
        return _keras_rule(learning_rate, slot_inits=inits, leaf_step=step,
                           weight_decay=self.weight_decay,
                           decay_excluded=self._decay_excluded())


class Adam(Optimizer):
    """Adam, with Keras's arithmetic.

    Keras folds the bias correction into the step size, `alpha = lr * sqrt(1 - beta_2^t) /
    (1 - beta_1^t)`, and adds epsilon to the uncorrected `sqrt(v)`:
    `p <- p - alpha * m / (sqrt(v) + epsilon)`. (optax.adam adds epsilon to the corrected
    `sqrt(v_hat)`, which differs.)

    Args:
        learning_rate: float or schedule. Default 0.001.
        beta_1: decay of the first moment. Default 0.9.
        beta_2: decay of the second moment. Default 0.999.
        epsilon: numerical-stability constant. Default 1e-7.
        amsgrad: use the AMSGrad variant (running maximum of v). Default False.
        **kwargs: the common arguments of `Optimizer`.

    Example:
        >>> tx = Adam(1e-3).to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        owner = type(self).__name__
        self.beta_1 = _check_number(owner, "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_number(owner, "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_number(owner, "epsilon", epsilon, 0.0)
        self.amsgrad = bool(amsgrad)

    def _slot_layout(self):
        return (("momentum", "velocity"),) + ((("velocity_hat",),) if self.amsgrad else ())

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}

    def _rule(self, learning_rate):
        b1, b2, eps, amsgrad = self.beta_1, self.beta_2, self.epsilon, self.amsgrad

        def step(g, slots, lr, t, ctx):
            dtype = g.dtype
            tf = t.astype(dtype)
            b1_power = jnp.power(jnp.asarray(b1, dtype), tf)
            b2_power = jnp.power(jnp.asarray(b2, dtype), tf)
            alpha = lr * jnp.sqrt(1 - b2_power) / (1 - b1_power)
            m, v = slots[0], slots[1]
            m = m + (g - m) * (1 - b1)
            v = v + (jnp.square(g) - v) * (1 - b2)
            new = (m, v)
            if amsgrad:
                v_hat = jnp.maximum(slots[2], v)
                new = (m, v, v_hat)
                v = v_hat
            return -((m * alpha) / (jnp.sqrt(v) + eps)), new

        inits = (_zeros, _zeros, _zeros) if amsgrad else (_zeros, _zeros)
        return _keras_rule(learning_rate, slot_inits=inits, leaf_step=step,
                           weight_decay=self.weight_decay,
                           decay_excluded=self._decay_excluded())


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras's AdamW): `weight_decay` defaults to 0.004.

    The decay `p <- p - p * weight_decay * lr` is applied before the Adam update, as Keras
    does (it scales with the learning rate, unlike the paper's schedule multiplier).

    Args:
        learning_rate: float or schedule. Default 0.001.
        weight_decay: float. Default 0.004.
        beta_1, beta_2, epsilon, amsgrad: as for `Adam`.
        **kwargs: the common arguments of `Optimizer`.

    Raises:
        ValueError: if weight_decay is None.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        if weight_decay is None:
            raise ValueError(
                "AdamW: weight_decay must be a float, received weight_decay=None. Pass a "
                "float (default 0.004), or use Adam for no weight decay.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)


class RMSprop(Optimizer):
    """RMSprop, with Keras's arithmetic.

    `v <- rho * v + (1 - rho) * g^2`; the step is `lr * g / sqrt(v + epsilon)` (centered:
    `sqrt(v - mean_g^2 + epsilon)`); with momentum, Keras accumulates the steps (learning
    rate included) in `m <- momentum * m + step` and subtracts `m`.

    Args:
        learning_rate: float or schedule. Default 0.001.
        rho: discounting factor for the squared gradients. Default 0.9.
        momentum: Default 0.0.
        epsilon: Default 1e-7.
        centered: normalise by the estimated variance of the gradient. Default False.
        **kwargs: the common arguments of `Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.rho = _check_number("RMSprop", "rho", rho, 0.0, 1.0)
        self.momentum = _check_number("RMSprop", "momentum", momentum, 0.0)
        self.epsilon = _check_number("RMSprop", "epsilon", epsilon, 0.0)
        self.centered = bool(centered)

    def _slot_layout(self):
        return ((("velocity",),) + ((("momentum",),) if self.momentum > 0 else ())
                + ((("average_gradient",),) if self.centered else ()))

    def _own_config(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def _rule(self, learning_rate):
        rho, mom, eps, centered = self.rho, self.momentum, self.epsilon, self.centered
        use_mom = mom > 0

        def step(g, slots, lr, t, ctx):
            slots = list(slots)
            vel = rho * slots[0] + (1 - rho) * jnp.square(g)
            new = [vel]
            if centered:
                avg = rho * slots[-1] + (1 - rho) * g
                denominator = vel - jnp.square(avg) + eps
            else:
                denominator = vel + eps
            increment = (lr * g) / jnp.sqrt(denominator)
            if use_mom:
                m = mom * slots[1] + increment
                new.append(m)
                u = -m
            else:
                u = -increment
            if centered:
                new.append(avg)
            return u, tuple(new)

        inits = (_zeros,) + ((_zeros,) if use_mom else ()) + ((_zeros,) if centered else ())
        return _keras_rule(learning_rate, slot_inits=inits, leaf_step=step,
                           weight_decay=self.weight_decay,
                           decay_excluded=self._decay_excluded())


class Adagrad(Optimizer):
    """Adagrad, with Keras's arithmetic: `acc <- acc + g^2`, `p <- p - lr*g/sqrt(acc+eps)`.

    Args:
        learning_rate: float or schedule. Default 0.001.
        initial_accumulator_value: starting value of the accumulators. Default 0.1.
        epsilon: Default 1e-7.
        **kwargs: the common arguments of `Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.initial_accumulator_value = _check_number(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value, 0.0)
        self.epsilon = _check_number("Adagrad", "epsilon", epsilon, 0.0)

    def _slot_layout(self):
        return (("accumulator",),)

    def _own_config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def _rule(self, learning_rate):
        init_value, eps = self.initial_accumulator_value, self.epsilon

        def step(g, slots, lr, t, ctx):
            acc = slots[0] + jnp.square(g)
            return -((lr * g) / jnp.sqrt(acc + eps)), (acc,)

        return _keras_rule(learning_rate,
                           slot_inits=(lambda p: jnp.full_like(p, init_value),),
                           leaf_step=step, weight_decay=self.weight_decay,
                           decay_excluded=self._decay_excluded())


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm), with Keras's arithmetic.

    `m <- m + (g - m)(1 - beta_1)`, `u <- max(beta_2 u, |g|)`,
    `p <- p - lr * m / ((1 - beta_1^t)(u + epsilon))`.

    Args:
        learning_rate: float or schedule. Default 0.001.
        beta_1: Default 0.9.
        beta_2: Default 0.999.
        epsilon: Default 1e-7.
        **kwargs: the common arguments of `Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.beta_1 = _check_number("Adamax", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_number("Adamax", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_number("Adamax", "epsilon", epsilon, 0.0)

    def _slot_layout(self):
        return (("momentum", "norm"),)

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _rule(self, learning_rate):
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon

        def step(g, slots, lr, t, ctx):
            b1_power = jnp.power(jnp.asarray(b1, g.dtype), t.astype(g.dtype))
            m = slots[0] + (g - slots[0]) * (1 - b1)
            u = jnp.maximum(b2 * slots[1], jnp.abs(g))
            return -((lr * m) / ((1 - b1_power) * (u + eps))), (m, u)

        return _keras_rule(learning_rate, slot_inits=(_zeros, _zeros), leaf_step=step,
                           weight_decay=self.weight_decay,
                           decay_excluded=self._decay_excluded())


class Nadam(Optimizer):
    """Nadam (Adam with Nesterov momentum), with Keras's arithmetic and momentum schedule.

    Keras multiplies `beta_1` by `1 - 0.5 * 0.96^t` each step and keeps the running product
    of those factors; the state carries it as `extra[0]`.

    Args:
        learning_rate: float or schedule. Default 0.001.
        beta_1: Default 0.9.
        beta_2: Default 0.999.
        epsilon: Default 1e-7.
        **kwargs: the common arguments of `Optimizer`.
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
                         gradient_accumulation_steps, name, **kwargs)
        self.beta_1 = _check_number("Nadam", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_number("Nadam", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_number("Nadam", "epsilon", epsilon, 0.0)

    def _slot_layout(self):
        return (("momentum", "velocity"),)

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _rule(self, learning_rate):
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon

        def extra_init(leaves):
            dtype = leaves[0].dtype if leaves else jnp.float32
            return (jnp.ones([], dtype),)

        def shared(t, extra):
            (u_product,) = extra
            dtype = u_product.dtype
            u_product = u_product * b1 * (1.0 - 0.5 * jnp.power(0.96, t.astype(dtype)))
            return u_product, (u_product,)

        def step(g, slots, lr, t, u_product):
            dtype = g.dtype
            local_step = t.astype(dtype)
            next_step = (t + 1).astype(dtype)
            decay = jnp.asarray(0.96, dtype)
            beta_1 = jnp.asarray(b1, dtype)
            beta_2 = jnp.asarray(b2, dtype)
            u_t = beta_1 * (1.0 - 0.5 * jnp.power(decay, local_step))
            u_t_1 = beta_1 * (1.0 - 0.5 * jnp.power(decay, next_step))
            u_product_t = u_product.astype(dtype)
            u_product_t_1 = u_product_t * u_t_1
            beta_2_power = jnp.power(beta_2, local_step)
            m = slots[0] + (g - slots[0]) * (1 - beta_1)
            v = slots[1] + (jnp.square(g) - slots[1]) * (1 - beta_2)
            m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g) / (1 - u_product_t)
            v_hat = v / (1 - beta_2_power)
            return -((m_hat * lr) / (jnp.sqrt(v_hat) + eps)), (m, v)

        return _keras_rule(learning_rate, slot_inits=(_zeros, _zeros), leaf_step=step,
                           weight_decay=self.weight_decay,
                           decay_excluded=self._decay_excluded(), shared=shared,
                           extra_init=extra_init)


# ====================================================================== raw optax
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


# ====================================================================== lookup
_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
            "adagrad": Adagrad, "adamax": Adamax, "nadam": Nadam}
_CLASSES = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam)}


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


def get(identifier) -> Optional[Optimizer]:
    """Resolves an optimizer identifier to an `Optimizer`.

    Args:
        identifier: a name ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "nadam";
            case-insensitive), an `Optimizer` instance (returned as is), an `Optimizer`
            subclass (instantiated with defaults), a config dict (`serialize()`'s output), a
            raw `optax.GradientTransformation` (wrapped in `OptaxOptimizer`), or None.

    Returns:
        An `Optimizer`, or None for None.

    Raises:
        ValueError: for an unknown name or an identifier of another type.

    Example:
        >>> get("Adam").learning_rate
        0.001
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Unknown optimizer {identifier!r}. Valid names: {sorted(_BY_NAME)}; or pass "
                "an optimizer instance or an optax GradientTransformation.")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    import optax
    if isinstance(identifier, optax.GradientTransformation):
        return OptaxOptimizer(identifier)
    raise ValueError(
        f"Could not interpret optimizer identifier {identifier!r} "
        f"({type(identifier).__name__}). Pass a name ({sorted(_BY_NAME)}), an Optimizer, a "
        "config dict, or an optax GradientTransformation.")


# ====================================================================== Keras's other optimizers
# They live in their own modules (one concept a file); registered here so get/deserialize and
# `trine.optimizers.schedules` see them. Imported last: they subclass the classes above.
from trine.core import registration
from trine.lr_schedules import (CosineDecayRestarts, InverseTimeDecay,  # noqa: E402
                                PolynomialDecay)
from trine.optimizers_extra import (Adadelta, Adafactor, Ftrl, Lamb, Lion, Muon,  # noqa: E402
                                    ScheduleFreeAdamW)

for _cls in (CosineDecayRestarts, InverseTimeDecay, PolynomialDecay):
    _SCHEDULES[_cls.__name__] = _cls
    setattr(schedules, _cls.__name__, _cls)
schedules.__all__ = sorted(schedules.__all__ + ["CosineDecayRestarts", "InverseTimeDecay",
                                                "PolynomialDecay"])
for _cls in (Adadelta, Adafactor, Ftrl, Lamb, Lion, Muon, ScheduleFreeAdamW):
    _CLASSES[_cls.__name__] = _cls
    _BY_NAME[_cls.__name__.lower()] = _cls
__all__ += ["Adadelta", "Adafactor", "Ftrl", "Lamb", "Lion", "Muon", "ScheduleFreeAdamW"]
# wrappers: built around other optimizers, so by config only (a bare name cannot make one)
from trine.optimizers_loss_scale import LossScaleOptimizer  # noqa: E402
from trine.optimizers_multi import MultiOptimizer, OptimizerMap  # noqa: E402

_CLASSES.update(LossScaleOptimizer=LossScaleOptimizer, MultiOptimizer=MultiOptimizer)
__all__ += ["LossScaleOptimizer", "MultiOptimizer", "OptimizerMap"]
from trine import optimizers_legacy as legacy  # noqa: E402  (Keras 2 names that raise)

sys.modules.setdefault("trine.optimizers.legacy", legacy)
del _cls
