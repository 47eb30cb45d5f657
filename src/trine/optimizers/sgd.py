"""Stochastic gradient descent with optional (Nesterov) momentum."""
from __future__ import annotations

from trine.optimizers.base import (LearningRate, Optimizer, _base_kwargs, _check_number,
                                   register_builtin)
from trine.optimizers.rules import _optimizer_rule, _zeros


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
        super().__init__(learning_rate, **_base_kwargs(locals()), **kwargs)
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
        return _optimizer_rule(self, learning_rate, inits, step)


register_builtin(SGD)
