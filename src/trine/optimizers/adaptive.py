"""Per-coordinate adaptive optimizers: RMSprop, Adagrad, Adadelta, Adafactor and Ftrl."""
from __future__ import annotations

import jax.numpy as jnp

from trine.optimizers.base import (LearningRate, Optimizer, _ValueRuleOptimizer, _base_kwargs,
                                   _check_number, register_builtin)
from trine.optimizers.rules import _optimizer_rule, _zeros


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
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
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
        return _optimizer_rule(self, learning_rate, inits, step)


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
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
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

        return _optimizer_rule(self, learning_rate,
                               (lambda p: jnp.full_like(p, init_value),), step)


class Adadelta(_ValueRuleOptimizer):
    """Adadelta, with Keras's arithmetic.

    `acc_g <- rho acc_g + (1-rho) g^2`, `d <- -sqrt(acc_d + eps) g / sqrt(acc_g + eps)`,
    `acc_d <- rho acc_d + (1-rho) d^2`, `p <- p + lr d`.

    Args:
        learning_rate: float or schedule. Default 0.001.
        rho: decay of the accumulators, in [0, 1]. Default 0.95.
        epsilon: Default 1e-7.
        **kwargs: the common arguments of `Optimizer` (weight_decay, clipnorm, name, ...).

    Raises:
        ValueError: if rho is outside [0, 1] or epsilon is negative.

    Example:
        >>> tx = Adadelta(1.0).to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.95,
                 epsilon: float = 1e-7, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self.rho = _check_number("Adadelta", "rho", rho, 0.0, 1.0)
        self.epsilon = _check_number("Adadelta", "epsilon", epsilon, 0.0)

    def _own_config(self):
        return {"rho": self.rho, "epsilon": self.epsilon}

    def _rule(self, learning_rate):
        rho, eps = self.rho, self.epsilon

        def step(g, p, slots, lr, t, path):
            acc_g = rho * slots[0] + (1 - rho) * jnp.square(g)
            delta = -(jnp.sqrt(slots[1] + eps) * g) / jnp.sqrt(acc_g + eps)
            acc_d = rho * slots[1] + (1 - rho) * jnp.square(delta)
            return p + lr * delta, (acc_g, acc_d)

        return self._build_rule(learning_rate, (_zeros, _zeros), step)


class Ftrl(_ValueRuleOptimizer):
    """Follow-the-regularized-leader, with Keras's arithmetic (including shrinkage and beta).

    Args:
        learning_rate: float or schedule. Default 0.001.
        learning_rate_power: <= 0; how the per-coordinate rate shrinks. Default -0.5.
        initial_accumulator_value: >= 0. Default 0.1.
        l1_regularization_strength: >= 0. Default 0.0.
        l2_regularization_strength: >= 0. Default 0.0.
        l2_shrinkage_regularization_strength: >= 0 (a magnitude penalty on the gradient).
            Default 0.0.
        beta: added to the L2 strength as `beta / (2 lr)`. Default 0.0.
        **kwargs: the common arguments of `Optimizer`.

    Raises:
        ValueError: if a strength or the accumulator is negative, or the power is positive.

    Example:
        >>> tx = Ftrl(0.1, l1_regularization_strength=0.01).to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1,
                 l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0,
                 l2_shrinkage_regularization_strength: float = 0.0, beta: float = 0.0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self.learning_rate_power = _check_number("Ftrl", "learning_rate_power",
                                                 learning_rate_power)
        if self.learning_rate_power > 0:
            raise ValueError(
                "Ftrl: learning_rate_power must be <= 0, received "
                f"learning_rate_power={learning_rate_power}. Use e.g. -0.5.")
        self.initial_accumulator_value = _check_number(
            "Ftrl", "initial_accumulator_value", initial_accumulator_value, 0.0)
        self.l1_regularization_strength = _check_number(
            "Ftrl", "l1_regularization_strength", l1_regularization_strength, 0.0)
        self.l2_regularization_strength = _check_number(
            "Ftrl", "l2_regularization_strength", l2_regularization_strength, 0.0)
        self.l2_shrinkage_regularization_strength = _check_number(
            "Ftrl", "l2_shrinkage_regularization_strength",
            l2_shrinkage_regularization_strength, 0.0)
        self.beta = _check_number("Ftrl", "beta", beta)

    def _own_config(self):
        return {"learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}

    def _rule(self, learning_rate):
        power, init = self.learning_rate_power, self.initial_accumulator_value
        l1, l2, shrink, beta = (self.l1_regularization_strength,
                                self.l2_regularization_strength,
                                self.l2_shrinkage_regularization_strength, self.beta)

        def step(g, p, slots, lr, t, path):
            accum, linear = slots
            l2_reg = l2 + beta / (2.0 * lr)
            grad_to_use = g + 2 * shrink * p
            new_accum = accum + jnp.square(g)
            linear = linear + (grad_to_use - (jnp.power(new_accum, -power)
                                              - jnp.power(accum, -power)) / lr * p)
            quadratic = jnp.power(new_accum, -power) / lr + 2 * l2_reg
            clipped = jnp.clip(linear, -l1, l1)
            return (clipped - linear) / quadratic, (new_accum, linear)

        return self._build_rule(learning_rate, (lambda p: jnp.full_like(p, init), _zeros),
                                step)


def _rms(x):
    return jnp.sqrt(jnp.mean(jnp.square(x)))


class Adafactor(_ValueRuleOptimizer):
    """Adafactor (factored second moments), with Keras's arithmetic.

    Variables of rank >= 2 keep row and column statistics of their last two axes instead of a
    full second moment; the step is `max(epsilon_2, rms(p)) * min(lr, 1/sqrt(t))` times the
    normalised, clipped gradient.

    Args:
        learning_rate: float or schedule. Default 0.001.
        beta_2_decay: exponent of the second-moment decay `1 - t^beta_2_decay`. Default -0.8.
        epsilon_1: added to squared gradients. Default 1e-30.
        epsilon_2: lower bound of the variable's RMS in the step size. Default 1e-3.
        clip_threshold: the update's RMS is clipped to this. Default 1.0.
        relative_step: with a float learning rate, cap it at `1/sqrt(t)`. Default True.
        **kwargs: the common arguments of `Optimizer`.

    Example:
        >>> tx = Adafactor(1e-2).to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_2_decay: float = -0.8,
                 epsilon_1: float = 1e-30, epsilon_2: float = 1e-3, clip_threshold: float = 1.0,
                 relative_step: bool = True, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self.beta_2_decay = _check_number("Adafactor", "beta_2_decay", beta_2_decay)
        self.epsilon_1 = _check_number("Adafactor", "epsilon_1", epsilon_1, 0.0)
        self.epsilon_2 = _check_number("Adafactor", "epsilon_2", epsilon_2, 0.0)
        self.clip_threshold = _check_number("Adafactor", "clip_threshold", clip_threshold)
        if self.clip_threshold <= 0:
            raise ValueError(
                f"Adafactor: clip_threshold must be > 0, received {clip_threshold}.")
        self.relative_step = bool(relative_step)

    def _own_config(self):
        return {"beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                "relative_step": self.relative_step}

    def _rule(self, learning_rate):
        decay, eps1, eps2 = self.beta_2_decay, self.epsilon_1, self.epsilon_2
        clip = self.clip_threshold
        cap_lr = self.relative_step and not callable(self.learning_rate)

        def r_init(p):
            return jnp.zeros(p.shape[:-1], p.dtype) if p.ndim >= 2 else jnp.zeros((), p.dtype)

        def c_init(p):
            return (jnp.zeros(p.shape[:-2] + p.shape[-1:], p.dtype) if p.ndim >= 2
                    else jnp.zeros((), p.dtype))

        def step(g, p, slots, lr, t, path):
            r, c, v = slots
            tt = t.astype(p.dtype)
            inv_sqrt = 1 / jnp.sqrt(tt)
            if cap_lr:
                lr = jnp.minimum(lr, inv_sqrt)
            alpha = jnp.maximum(jnp.asarray(eps2, p.dtype), _rms(p)) * jnp.minimum(lr, inv_sqrt)
            g2 = jnp.square(g) + eps1
            beta_2_t = 1 - jnp.power(tt, decay)
            if p.ndim >= 2:
                r = beta_2_t * r + (1 - beta_2_t) * jnp.mean(g2, axis=-1)
                c = beta_2_t * c + (1 - beta_2_t) * jnp.mean(g2, axis=-2)
                v = (jnp.expand_dims(r / jnp.mean(r, axis=-1, keepdims=True), -1)
                     * jnp.expand_dims(c, -2))
            else:
                v = beta_2_t * v + (1 - beta_2_t) * g2
            u = g / jnp.sqrt(v)
            u = u / jnp.maximum(1.0, _rms(u) / clip)
            return p - alpha * u, (r, c, v)

        return self._build_rule(learning_rate, (r_init, c_init, _zeros), step)


register_builtin(RMSprop, Adagrad, Adadelta, Ftrl, Adafactor)
