"""Learning-rate schedules with Keras names: callables `step -> learning rate`.

Each is written with `jax.numpy`, so it evaluates inside `jax.jit` on a traced step; a
schedule given as an optimizer's learning rate reads its step from the optax state.
"""
from __future__ import annotations

import math
from typing import Optional

import jax.numpy as jnp

from trine.core import registration


__all__ = ["CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
           "LearningRateSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "deserialize",
           "serialize"]


class LearningRateSchedule:
    """Base class for learning-rate schedules: callables `step -> learning rate`.

    Subclasses implement `__call__(step)` with `jax.numpy` so the schedule can be evaluated
    inside `jax.jit` on a traced integer step, and `get_config()` for serialisation.
    """

    # the built-in schedules keep these constructor arguments as attributes; they are the config
    _CONFIG_KEYS: tuple = ()

    def _keep_arguments(self, arguments: dict) -> None:
        for key in self._CONFIG_KEYS:
            setattr(self, key, arguments[key])

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must implement __call__(step).")

    def get_config(self) -> dict:
        """Returns the constructor arguments as a dict.

        Raises:
            NotImplementedError: if the subclass does not override it.
        """
        if self._CONFIG_KEYS:
            return {key: getattr(self, key) for key in self._CONFIG_KEYS}
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


def _decay_periods(step, decay_steps, staircase: bool):
    """How many `decay_steps` periods `step` spans, floored when the rate drops in stairs."""
    periods = _as_float32(step) / _as_float32(decay_steps)
    return jnp.floor(periods) if staircase else periods


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

    _CONFIG_KEYS = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError(
                f"ExponentialDecay: decay_steps must be > 0, received decay_steps={decay_steps}. "
                "Pass the number of steps over which the rate decays by decay_rate once.")
        self._keep_arguments(locals())

    def __call__(self, step):
        lr0 = _as_float32(self.initial_learning_rate)
        p = _decay_periods(step, self.decay_steps, self.staircase)
        return lr0 * jnp.power(_as_float32(self.decay_rate), p)


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

    _CONFIG_KEYS = ("boundaries", "values", "name")

    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: values must have exactly one more element than "
                f"boundaries; received {len(boundaries)} boundaries ({boundaries}) and "
                f"{len(values)} values ({values}).")
        self._keep_arguments({"boundaries": list(boundaries), "values": list(values),
                              "name": name})

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

    _CONFIG_KEYS = ("initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target",
                    "warmup_steps")

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: Optional[float] = None,
                 warmup_steps: int = 0):
        if decay_steps <= 0:
            raise ValueError(
                f"CosineDecay: decay_steps must be > 0, received decay_steps={decay_steps}.")
        self._keep_arguments(locals())

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


def _positive(owner: str, arg: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(
            f"{owner}: {arg} must be a number > 0, received {arg}={value!r}. Pass the number "
            "of steps the schedule spans.")


class PolynomialDecay(LearningRateSchedule):
    """Decays from `initial_learning_rate` to `end_learning_rate` along a polynomial.

    `lr(step) = (initial - end) * (1 - step / decay_steps) ** power + end`, with `step`
    capped at `decay_steps`; with `cycle=True` the horizon is instead stretched to the first
    multiple of `decay_steps` beyond `step`.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps to reach `end_learning_rate`.
        end_learning_rate: the final rate. Default 1e-4.
        power: the polynomial's exponent. Default 1.0 (linear).
        cycle: whether to restart beyond `decay_steps`. Default False.
        name: a name for the schedule.

    Raises:
        ValueError: if `decay_steps` is not positive.

    Example:
        >>> s = PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.0)
        >>> round(float(s(5)), 6)
        0.05
    """

    _CONFIG_KEYS = ("initial_learning_rate", "decay_steps", "end_learning_rate", "power",
                    "cycle", "name")

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay"):
        _positive("PolynomialDecay", "decay_steps", decay_steps)
        self._keep_arguments(locals())

    def __call__(self, step):
        lr0, end = _as_float32(self.initial_learning_rate), _as_float32(self.end_learning_rate)
        step = _as_float32(step)
        horizon = _as_float32(self.decay_steps)
        if self.cycle:
            # step 0 belongs to the first cycle, not to a zero-length one
            mult = jnp.ceil(step / horizon)
            # XLA may divide by multiplying with a reciprocal; undo a ceil pushed up by rounding
            mult = jnp.where((mult - 1) * horizon >= step, mult - 1, mult)
            mult = jnp.where(step == 0, 1.0, mult)
            horizon = horizon * mult
        else:
            step = jnp.minimum(step, horizon)
        p = step / horizon
        return (lr0 - end) * jnp.power(1 - p, _as_float32(self.power)) + end


class InverseTimeDecay(LearningRateSchedule):
    """`initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps per unit of decay.
        decay_rate: the decay's strength.
        staircase: floor `step / decay_steps` so the rate drops in steps. Default False.
        name: a name for the schedule.

    Raises:
        ValueError: if `decay_steps` is not positive.

    Example:
        >>> s = InverseTimeDecay(0.1, decay_steps=1, decay_rate=1.0)
        >>> round(float(s(1)), 6)
        0.05
    """

    _CONFIG_KEYS = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name")

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay"):
        _positive("InverseTimeDecay", "decay_steps", decay_steps)
        self._keep_arguments(locals())

    def __call__(self, step):
        p = _decay_periods(step, self.decay_steps, self.staircase)
        return _as_float32(self.initial_learning_rate) / (1.0 + _as_float32(self.decay_rate) * p)


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR), with Keras's arithmetic.

    The first period lasts `first_decay_steps`; each next one is `t_mul` times longer and
    starts from `m_mul` times the previous peak. Within a period the rate falls along a cosine
    from the peak to `alpha` times `initial_learning_rate`.

    Args:
        initial_learning_rate: the first peak.
        first_decay_steps: positive length of the first period.
        t_mul: growth of each period's length. Default 2.0.
        m_mul: factor on each restart's peak. Default 1.0.
        alpha: the floor, as a fraction of `initial_learning_rate`. Default 0.0.
        name: a name for the schedule.

    Raises:
        ValueError: if `first_decay_steps` is not positive.

    Example:
        >>> s = CosineDecayRestarts(0.1, first_decay_steps=10)
        >>> round(float(s(10)), 6)  # a restart
        0.1
    """

    _CONFIG_KEYS = ("initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha",
                    "name")

    def __init__(self, initial_learning_rate: float, first_decay_steps: int,
                 t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
                 name: str = "SGDRDecay"):
        _positive("CosineDecayRestarts", "first_decay_steps", first_decay_steps)
        self._keep_arguments(locals())

    def __call__(self, step):
        frac = _as_float32(step) / _as_float32(self.first_decay_steps)
        t_mul, m_mul = _as_float32(self.t_mul), _as_float32(self.m_mul)
        if self.t_mul == 1.0:
            i_restart = jnp.floor(frac)
            frac = frac - i_restart
        else:
            # closed form of the geometric series of period lengths
            i_restart = jnp.floor(jnp.log(1.0 - frac * (1.0 - t_mul)) / jnp.log(t_mul))
            sum_r = (1.0 - jnp.power(t_mul, i_restart)) / (1.0 - t_mul)
            frac = (frac - sum_r) / jnp.power(t_mul, i_restart)
        cosine = 0.5 * jnp.power(m_mul, i_restart) * (1.0 + jnp.cos(_as_float32(math.pi) * frac))
        alpha = _as_float32(self.alpha)
        return _as_float32(self.initial_learning_rate) * ((1 - alpha) * cosine + alpha)


_SCHEDULES = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay,
                                      PolynomialDecay, InverseTimeDecay, CosineDecayRestarts)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """A schedule's Keras record (its registered name for your own classes)."""
    return registration.object_record(schedule, "keras.optimizers.schedules", _SCHEDULES)


def deserialize(config: dict, custom_objects=None) -> LearningRateSchedule:
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
