"""The Adam family: Adam, AdamW, Adamax, Nadam, Lamb and ScheduleFreeAdamW."""
from __future__ import annotations

import jax.numpy as jnp

from trine.optimizers.base import (LearningRate, Optimizer, _ValueRuleOptimizer, _base_kwargs,
                                   _check_number, register_builtin)
from trine.optimizers.rules import _adam_moments, _adam_step_size, _optimizer_rule, _zeros


class _MomentArgs:
    """The decay rates and epsilon the Adam family checks against Keras's bounds and saves."""

    def _set_moment_args(self, owner: str, beta_1, beta_2, epsilon) -> None:
        self.beta_1 = _check_number(owner, "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_number(owner, "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_number(owner, "epsilon", epsilon, 0.0)

    def _own_config(self):
        return {**super()._own_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adam(_MomentArgs, Optimizer):
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
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self._set_moment_args(type(self).__name__, beta_1, beta_2, epsilon)
        self.amsgrad = bool(amsgrad)

    def _slot_layout(self):
        return (("momentum", "velocity"),) + ((("velocity_hat",),) if self.amsgrad else ())

    def _own_config(self):
        return {**super()._own_config(), "amsgrad": self.amsgrad}

    def _rule(self, learning_rate):
        b1, b2, eps, amsgrad = self.beta_1, self.beta_2, self.epsilon, self.amsgrad

        def step(g, slots, lr, t, ctx):
            alpha = _adam_step_size(lr, t, b1, b2, g.dtype)
            m, v = _adam_moments(g, slots[0], slots[1], b1, b2)
            new = (m, v)
            if amsgrad:
                v_hat = jnp.maximum(slots[2], v)
                new = (m, v, v_hat)
                v = v_hat
            return -((m * alpha) / (jnp.sqrt(v) + eps)), new

        inits = (_zeros, _zeros, _zeros) if amsgrad else (_zeros, _zeros)
        return _optimizer_rule(self, learning_rate, inits, step)


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
                         **_base_kwargs(locals()), **kwargs)


class Adamax(_MomentArgs, Optimizer):
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
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self._set_moment_args("Adamax", beta_1, beta_2, epsilon)

    def _slot_layout(self):
        return (("momentum", "norm"),)

    def _rule(self, learning_rate):
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon

        def step(g, slots, lr, t, ctx):
            b1_power = jnp.power(jnp.asarray(b1, g.dtype), t.astype(g.dtype))
            m = slots[0] + (g - slots[0]) * (1 - b1)
            u = jnp.maximum(b2 * slots[1], jnp.abs(g))
            return -((lr * m) / ((1 - b1_power) * (u + eps))), (m, u)

        return _optimizer_rule(self, learning_rate, (_zeros, _zeros), step)


class Nadam(_MomentArgs, Optimizer):
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
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self._set_moment_args("Nadam", beta_1, beta_2, epsilon)

    def _slot_layout(self):
        return (("momentum", "velocity"),)

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
            m, v = _adam_moments(g, slots[0], slots[1], beta_1, beta_2)
            m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g) / (1 - u_product_t)
            v_hat = v / (1 - beta_2_power)
            return -((m_hat * lr) / (jnp.sqrt(v_hat) + eps)), (m, v)

        return _optimizer_rule(self, learning_rate, (_zeros, _zeros), step, shared=shared,
                               extra_init=extra_init)


class Lamb(_MomentArgs, _ValueRuleOptimizer):
    """LAMB (Adam scaled by a per-variable trust ratio), with Keras's arithmetic.

    The Adam direction `m_hat / (sqrt(v_hat) + eps)` is scaled by `||p|| / ||direction||`
    (1 where either norm is 0) before the step.

    Args:
        learning_rate: float or schedule. Default 0.001.
        beta_1: Default 0.9.
        beta_2: Default 0.999.
        epsilon: Default 1e-7.
        **kwargs: the common arguments of `Optimizer`.

    Example:
        >>> tx = Lamb(1e-3).to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self._set_moment_args("Lamb", beta_1, beta_2, epsilon)

    def _rule(self, learning_rate):
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon

        def step(g, p, slots, lr, t, path):
            tt = t.astype(p.dtype)
            b1_power = jnp.power(jnp.asarray(b1, p.dtype), tt)
            b2_power = jnp.power(jnp.asarray(b2, p.dtype), tt)
            m, v = _adam_moments(g, slots[0], slots[1], b1, b2)
            update = (m / (1.0 - b1_power)) / (jnp.sqrt(v / (1.0 - b2_power)) + eps)
            w_norm = jnp.sqrt(jnp.sum(jnp.square(p)))
            g_norm = jnp.sqrt(jnp.sum(jnp.square(update)))
            safe_g = jnp.where(g_norm > 0, g_norm, 1.0)
            ratio = jnp.where((w_norm > 0) & (g_norm > 0), w_norm / safe_g, 1.0)
            return p - ratio * lr * update, (m, v)

        return self._build_rule(learning_rate, (_zeros, _zeros), step)


class ScheduleFreeAdamW(_ValueRuleOptimizer):
    """Schedule-free AdamW (Defazio et al., 2024), with Keras's arithmetic.

    The variables hold the interpolation `y` between the averaged iterate `x` and the
    AdamW-updated sequence `z` (the "momentum" slot, starting at the initial weights), so no
    learning-rate decay schedule is needed.

    Args:
        learning_rate: float or schedule. Default 0.0025.
        beta_1: interpolation between `z` and `x`. Default 0.9.
        beta_2: decay of the second moment. Default 0.999.
        epsilon: Default 1e-8.
        warmup_steps: linear warmup of the rate over this many steps. Default 0.
        **kwargs: the common arguments of `Optimizer`.

    Raises:
        ValueError: if beta_1 is not in (0, 1] or warmup_steps is negative.

    Example:
        >>> tx = ScheduleFreeAdamW(1e-3, warmup_steps=100).to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.0025, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, warmup_steps: int = 0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self.beta_1 = _check_number("ScheduleFreeAdamW", "beta_1", beta_1, 0.0, 1.0)
        if self.beta_1 == 0:
            raise ValueError("ScheduleFreeAdamW: beta_1 must be in (0, 1] (x is recovered by "
                             "dividing by beta_1), received beta_1=0. Use e.g. 0.9.")
        self.beta_2 = _check_number("ScheduleFreeAdamW", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_number("ScheduleFreeAdamW", "epsilon", epsilon, 0.0)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) \
                or warmup_steps < 0:
            raise ValueError("ScheduleFreeAdamW: warmup_steps must be an int >= 0, received "
                             f"{warmup_steps!r}.")
        self.warmup_steps = warmup_steps

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "warmup_steps": self.warmup_steps}

    def _rule(self, learning_rate):
        b1, b2, eps, warmup = self.beta_1, self.beta_2, self.epsilon, self.warmup_steps

        def step(g, p, slots, lr, t, path):
            z_old, v = slots
            tt = t.astype(p.dtype)
            if warmup > 0:
                lr = lr * jnp.minimum(tt / warmup, 1.0)
            beta_1, beta_2 = jnp.asarray(b1, p.dtype), jnp.asarray(b2, p.dtype)
            v = v + (jnp.square(g) - v) * (1 - beta_2)
            denom = jnp.sqrt(v / (1 - jnp.power(beta_2, tt))) + eps
            z = z_old - (lr * g) / denom
            weight = 1.0 / tt
            x_old = (p - (1 - beta_1) * z_old) / beta_1
            x_new = (1 - weight) * x_old + weight * z
            return (1 - beta_1) * z + beta_1 * x_new, (z, v)

        return self._build_rule(learning_rate, (lambda p: jnp.array(p, copy=True), _zeros),
                                step)


register_builtin(Adam, AdamW, Adamax, Nadam, Lamb, ScheduleFreeAdamW)
