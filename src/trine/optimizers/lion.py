"""Lion: the sign of an interpolated momentum, with Keras's arithmetic."""
from __future__ import annotations

import jax.numpy as jnp

from trine.optimizers.base import (LearningRate, _ValueRuleOptimizer, _base_kwargs, _check_number,
                                   register_builtin)
from trine.optimizers.rules import _zeros


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


register_builtin(Lion)
