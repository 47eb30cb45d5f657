"""Muon: orthogonalised momentum for matrices, AdamW for the other variables."""
from __future__ import annotations

import re
from typing import Optional

import jax.numpy as jnp

from trine.optimizers.base import (LearningRate, _ValueRuleOptimizer, _base_kwargs, _check_number,
                                   register_builtin)
from trine.optimizers.rules import _adam_moments, _adam_step_size, _value_rule


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
                alpha = _adam_step_size(lr, t, b1, b2, p.dtype)
                m, v = _adam_moments(g, m, v, b1, b2)
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


register_builtin(Muon)
