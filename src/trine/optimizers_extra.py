"""Keras's further optimizers — Adadelta, Ftrl, Lion, Lamb, Adafactor, Muon, ScheduleFreeAdamW.

Each reproduces the Keras 3 update rule of the same name (same order of operations, epsilon
placement and bias correction), as the optimizers in `trine.optimizers` do, and is an optax
`GradientTransformation` through `to_optax()`. optax's own `lion`, `lamb`, `adafactor`,
`adadelta` and `muon` put epsilon, the trust ratio or the factored second moment elsewhere and
drift from Keras's numbers within a few steps, so the rules are written here on the same state
layout (`KerasOptimizerState`) as the built-in ones. They are re-exported from
`trine.optimizers`.
"""
from __future__ import annotations

import re
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from trine.optimizers import (KerasOptimizerState, LearningRate, Optimizer, _check_number,
                              _path_str)

__all__ = ["Adadelta", "Adafactor", "Ftrl", "Lamb", "Lion", "Muon", "ScheduleFreeAdamW"]

_COMMON = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
           "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
           "gradient_accumulation_steps", "name")


def _value_rule(learning_rate, *, slot_inits: tuple, leaf_step: Callable,
                decay_for: Optional[Callable] = None, inits_take_path: bool = False):
    """An optax transformation from a per-variable rule that sees the variable.

    `leaf_step(g, p, slots, lr, t, path) -> (new_p, new_slots)` returns the variable's new
    value, with `p` already weight-decayed (Keras decays before the update step, and Lamb,
    Ftrl, Adafactor and ScheduleFreeAdamW read the decayed variable). `decay_for(path, ndim)`
    gives the decay rate of a variable, or None. The emitted update is `new_p - p`. With
    `inits_take_path`, slot initialisers are called as `init(p, path)` (Muon sizes a slot by
    what the path selects).
    """
    import optax

    def init_fn(params):
        with_paths, treedef = jax.tree_util.tree_flatten_with_path(params)

        def make(init, kp, p):
            return init(p, _path_str(kp)) if inits_take_path else init(p)

        slots = tuple(jax.tree_util.tree_unflatten(treedef, [make(init, kp, p)
                                                             for kp, p in with_paths])
                      for init in slot_inits)
        return KerasOptimizerState(jnp.zeros([], jnp.int32), slots, ())

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(
                "This optimizer reads the variables in its update rule, so tx.update needs "
                "them: call tx.update(grads, opt_state, params).")
        g_leaves, treedef = jax.tree_util.tree_flatten(updates)
        with_paths = treedef.flatten_up_to(
            jax.tree_util.tree_map_with_path(lambda kp, p: (kp, p), params))
        slot_leaves = [treedef.flatten_up_to(s) for s in state.slots]
        t = state.count + 1
        out, new_slots = [], [[] for _ in state.slots]
        for i, g in enumerate(g_leaves):
            kp, p = with_paths[i]
            path = _path_str(kp)
            lr = jnp.asarray(learning_rate).astype(p.dtype)
            g = g.astype(p.dtype)
            wd = decay_for(path, p.ndim) if decay_for is not None else None
            p_dec = p - p * jnp.asarray(wd, p.dtype) * lr if wd is not None else p
            new_p, slots = leaf_step(g, p_dec, tuple(s[i] for s in slot_leaves), lr, t, path)
            out.append(new_p - p)
            for k, s in enumerate(slots):
                new_slots[k].append(s)
        slots = tuple(jax.tree_util.tree_unflatten(treedef, s) for s in new_slots)
        return (jax.tree_util.tree_unflatten(treedef, out),
                KerasOptimizerState(optax.safe_increment(state.count), slots, state.extra))

    return optax.GradientTransformation(init_fn, update_fn)


def _zeros(p):
    return jnp.zeros_like(p)


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


class Lion(_ValueRuleOptimizer):
    """Lion (sign of an interpolated momentum), with Keras's arithmetic.

    `p <- p - lr sign(beta_1 m + (1-beta_1) g)`, then `m <- beta_2 m + (1-beta_2) g`.

    Args:
        learning_rate: float or schedule. Default 0.001.
        beta_1: interpolation for the step, in (0, 1]. Default 0.9.
        beta_2: decay of the momentum, in [0, 1]. Default 0.99.
        **kwargs: the common arguments of `Optimizer`.

    Raises:
        ValueError: if beta_1 is outside (0, 1] (at 0 Lion degenerates to SignSGD).

    Example:
        >>> tx = Lion(1e-4, weight_decay=0.01).to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.99, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self.beta_1 = _check_number("Lion", "beta_1", beta_1, 0.0, 1.0)
        if self.beta_1 == 0:
            raise ValueError(
                "Lion: beta_1 must be in (0, 1], received beta_1=0; at 0 the optimizer is "
                "SignSGD. Use e.g. beta_1=0.9.")
        self.beta_2 = _check_number("Lion", "beta_2", beta_2, 0.0, 1.0)

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}

    def _rule(self, learning_rate):
        b1, b2 = self.beta_1, self.beta_2

        def step(g, p, slots, lr, t, path):
            m = slots[0]
            beta_1, beta_2 = jnp.asarray(b1, g.dtype), jnp.asarray(b2, g.dtype)
            new_p = p - lr * jnp.sign(m * beta_1 + g * (1.0 - beta_1))
            return new_p, (m * beta_2 + g * (1.0 - beta_2),)

        return self._build_rule(learning_rate, (_zeros,), step)


class Lamb(_ValueRuleOptimizer):
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
        self.beta_1 = _check_number("Lamb", "beta_1", beta_1, 0.0, 1.0)
        self.beta_2 = _check_number("Lamb", "beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_number("Lamb", "epsilon", epsilon, 0.0)

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _rule(self, learning_rate):
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon

        def step(g, p, slots, lr, t, path):
            tt = t.astype(p.dtype)
            b1_power = jnp.power(jnp.asarray(b1, p.dtype), tt)
            b2_power = jnp.power(jnp.asarray(b2, p.dtype), tt)
            m = slots[0] + (g - slots[0]) * (1 - b1)
            v = slots[1] + (jnp.square(g) - slots[1]) * (1 - b2)
            update = (m / (1.0 - b1_power)) / (jnp.sqrt(v / (1.0 - b2_power)) + eps)
            w_norm = jnp.sqrt(jnp.sum(jnp.square(p)))
            g_norm = jnp.sqrt(jnp.sum(jnp.square(update)))
            safe_g = jnp.where(g_norm > 0, g_norm, 1.0)
            ratio = jnp.where((w_norm > 0) & (g_norm > 0), w_norm / safe_g, 1.0)
            return p - ratio * lr * update, (m, v)

        return self._build_rule(learning_rate, (_zeros, _zeros), step)


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


class Muon(_ValueRuleOptimizer):
    """Muon (orthogonalised momentum for 2-D weights, AdamW for the rest), as in Keras.

    A variable of rank 2 whose path matches neither "embedding" (with `exclude_embeddings`)
    nor a pattern of `exclude_layers` gets the Muon step: Nesterov momentum orthogonalised by
    `ns_steps` Newton-Schulz iterations, scaled by `sqrt(max(n, m)) * rms_rate`. Every other
    variable gets Keras's Adam step with rate `learning_rate * adam_lr_ratio`. Decoupled
    weight decay uses `weight_decay` for Muon variables and `adam_weight_decay` for the rest.

    Args:
        learning_rate: float or schedule. Default 0.001.
        adam_beta_1, adam_beta_2: Adam's moment decays. Defaults 0.9, 0.999.
        adam_weight_decay: decay of the Adam-updated variables. Default 0.004.
        epsilon: Adam's epsilon. Default 1e-7.
        weight_decay: decay of the Muon-updated variables. Default 0.004.
        exclude_layers: regular expressions; matching variable paths use Adam.
        exclude_embeddings: embeddings use Adam. Default True.
        muon_a, muon_b, muon_c: the Newton-Schulz polynomial. Defaults 3.4445, -4.7750, 2.0315.
        adam_lr_ratio: Adam's rate as a multiple of `learning_rate`. Default 1.
        momentum: Muon's momentum. Default 0.95.
        ns_steps: Newton-Schulz iterations. Default 5.
        nesterov: Nesterov momentum. Default True.
        rms_rate: update RMS matching factor, or None to skip it. Default 0.2.
        **kwargs: the common arguments of `Optimizer`.

    Example:
        >>> tx = Muon(1e-3).to_optax()
    """

    def __init__(self, learning_rate: LearningRate = 0.001, adam_beta_1: float = 0.9,
                 adam_beta_2: float = 0.999, adam_weight_decay: Optional[float] = 0.004,
                 epsilon: float = 1e-7, weight_decay: Optional[float] = 0.004, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, exclude_layers=None,
                 exclude_embeddings: bool = True, muon_a: float = 3.4445,
                 muon_b: float = -4.7750, muon_c: float = 2.0315, adam_lr_ratio: float = 1,
                 momentum: float = 0.95, ns_steps: int = 5, nesterov: bool = True,
                 rms_rate: Optional[float] = 0.2, **kwargs):
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
        self.adam_beta_1 = _check_number("Muon", "adam_beta_1", adam_beta_1, 0.0, 1.0)
        self.adam_beta_2 = _check_number("Muon", "adam_beta_2", adam_beta_2, 0.0, 1.0)
        self.adam_weight_decay = _check_number("Muon", "adam_weight_decay", adam_weight_decay,
                                               allow_none=True)
        self.epsilon = _check_number("Muon", "epsilon", epsilon, 0.0)
        if exclude_layers is not None and not isinstance(exclude_layers, (list, tuple)):
            raise TypeError(
                "Muon: exclude_layers must be a list of regular expressions, received "
                f"{exclude_layers!r}. Wrap a single pattern in a list: [{exclude_layers!r}].")
        self.exclude_layers = list(exclude_layers or [])
        self.exclude_embeddings = bool(exclude_embeddings)
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = _check_number("Muon", "momentum", momentum, 0.0, 1.0)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
            raise ValueError(f"Muon: ns_steps must be an int >= 0, received {ns_steps!r}.")
        self.ns_steps = ns_steps
        self.nesterov = bool(nesterov)
        self.rms_rate = rms_rate

    def _own_config(self):
        return {"adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2,
                "epsilon": self.epsilon, "exclude_layers": self.exclude_layers,
                "muon_a": self.muon_a, "muon_b": self.muon_b, "muon_c": self.muon_c,
                "adam_lr_ratio": self.adam_lr_ratio, "momentum": self.momentum,
                "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings,
                "adam_weight_decay": self.adam_weight_decay, "rms_rate": self.rms_rate}

    def _uses_adam(self, path: str, ndim: int) -> bool:
        if ndim != 2:
            return True
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(k, path) for k in self.exclude_layers)

    def _orthogonalize(self, x):
        """Newton-Schulz iterations towards the nearest semi-orthogonal matrix."""
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = jnp.swapaxes(x, -1, -2)
        x = x / (jnp.linalg.norm(x, axis=(-2, -1), keepdims=True) + 1e-7)
        for _ in range(self.ns_steps):
            xxt = x @ jnp.swapaxes(x, -1, -2)
            x = a * x + (b * xxt + c * xxt @ xxt) @ x
        return jnp.swapaxes(x, -1, -2) if tall else x

    def _rule(self, learning_rate):
        b1, b2, eps, mom = self.adam_beta_1, self.adam_beta_2, self.epsilon, self.momentum
        excluded = self._decay_excluded()

        def step(g, p, slots, lr, t, path):
            m, v = slots
            if self._uses_adam(path, p.ndim):
                lr = lr * jnp.asarray(self.adam_lr_ratio, p.dtype)
                tt = t.astype(p.dtype)
                b1_power = jnp.power(jnp.asarray(b1, p.dtype), tt)
                b2_power = jnp.power(jnp.asarray(b2, p.dtype), tt)
                alpha = lr * jnp.sqrt(1 - b2_power) / (1 - b1_power)
                m = m + (g - m) * (1 - b1)
                v = v + (jnp.square(g) - v) * (1 - b2)
                return p - (m * alpha) / (jnp.sqrt(v) + eps), (m, v)
            m = m + (g + m * (mom - 1))
            direction = g + mom * m if self.nesterov else m
            update = lr * self._orthogonalize(direction)
            if self.rms_rate is not None:
                update = update * jnp.sqrt(float(max(p.shape[0], p.shape[1]))) * self.rms_rate
            return p - update, (m, v)

        wd_adam, wd_muon = self.adam_weight_decay, self.weight_decay

        def decay_of(path, ndim):
            if excluded is not None and excluded(path):
                return None
            return wd_adam if self._uses_adam(path, ndim) else wd_muon

        def m_init(p, path):
            return jnp.zeros_like(p)

        def v_init(p, path):  # Muon-updated matrices keep no second moment (a scalar stub)
            return jnp.zeros_like(p) if self._uses_adam(path, p.ndim) else jnp.zeros((), p.dtype)

        return _value_rule(learning_rate, slot_inits=(m_init, v_init), leaf_step=step,
                           decay_for=decay_of, inits_take_path=True)


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
