"""Keras's polynomial, inverse-time and warm-restart learning-rate schedules.

They are re-exported from `trine.optimizers.schedules` next to `ExponentialDecay`,
`PiecewiseConstantDecay` and `CosineDecay`; each is a callable `step -> learning rate`
written with `jax.numpy`, so it evaluates inside `jax.jit` on a traced step.
"""
from __future__ import annotations

import math

import jax.numpy as jnp

from trine.optimizers import LearningRateSchedule

__all__ = ["CosineDecayRestarts", "InverseTimeDecay", "PolynomialDecay"]


def _positive(owner: str, arg: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(
            f"{owner}: {arg} must be a number > 0, received {arg}={value!r}. Pass the number "
            "of steps the schedule spans.")


def _f32(x):
    return jnp.asarray(x, dtype=jnp.float32)


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

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay"):
        _positive("PolynomialDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        lr0, end = _f32(self.initial_learning_rate), _f32(self.end_learning_rate)
        step = _f32(step)
        horizon = _f32(self.decay_steps)
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
        return (lr0 - end) * jnp.power(1 - p, _f32(self.power)) + end

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


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

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay"):
        _positive("InverseTimeDecay", "decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = jnp.floor(p)
        return _f32(self.initial_learning_rate) / (1.0 + _f32(self.decay_rate) * p)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


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

    def __init__(self, initial_learning_rate: float, first_decay_steps: int,
                 t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
                 name: str = "SGDRDecay"):
        _positive("CosineDecayRestarts", "first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        frac = _f32(step) / _f32(self.first_decay_steps)
        t_mul, m_mul = _f32(self._t_mul), _f32(self._m_mul)
        if self._t_mul == 1.0:
            i_restart = jnp.floor(frac)
            frac = frac - i_restart
        else:
            # closed form of the geometric series of period lengths
            i_restart = jnp.floor(jnp.log(1.0 - frac * (1.0 - t_mul)) / jnp.log(t_mul))
            sum_r = (1.0 - jnp.power(t_mul, i_restart)) / (1.0 - t_mul)
            frac = (frac - sum_r) / jnp.power(t_mul, i_restart)
        cosine = 0.5 * jnp.power(m_mul, i_restart) * (1.0 + jnp.cos(_f32(math.pi) * frac))
        alpha = _f32(self.alpha)
        return _f32(self.initial_learning_rate) * ((1 - alpha) * cosine + alpha)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}
