"""`LossScaleOptimizer`: dynamic loss scaling around another optimizer, with Keras's rules.

The loss is multiplied by a scale before differentiation (`scale_loss`) so small float16
gradients do not underflow; the update divides the gradients by the same scale. A step with a
non-finite gradient is skipped and halves the scale; after `dynamic_growth_steps` finite steps
in a row the scale doubles. The scale and the step counter live in the optimizer state, next
to the inner optimizer's. Re-exported from `trine.optimizers`.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp

from trine.optimizers.base import Optimizer, deserialize, register_builtin, serialize

__all__ = ["LossScaleOptimizer", "LossScaleState"]

# Keras accepts these base arguments at their defaults only (configs of older versions)
_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                  "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                  "ema_overwrite_frequency": None, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None}


class LossScaleState(NamedTuple):
    """State of a `LossScaleOptimizer`.

    Attributes:
        step_counter: finite steps since the scale last changed (int32).
        dynamic_scale: the current loss scale (float32).
        inner: the inner optimizer's state.
    """

    step_counter: Any
    dynamic_scale: Any
    inner: Any


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling around `inner_optimizer` (Keras's rules and defaults).

    A training step must differentiate `optimizer.scale_loss(loss, optimizer_state)` and pass
    the resulting (scaled) gradients to `stateless_apply`, as Keras's JAX trainer does.

    Args:
        inner_optimizer: the optimizer to wrap.
        initial_scale: the starting scale. Default 2**15.
        dynamic_growth_steps: finite steps after which the scale doubles. Default 2000.
        name: Default "loss_scale_optimizer".
        **kwargs: only Keras's base arguments at their defaults (older configs carry them).

    Raises:
        TypeError: if inner_optimizer is not an Optimizer.
        ValueError: for dynamic=False, a non-default base argument, a non-positive scale or
            growth interval.

    Example:
        >>> opt = LossScaleOptimizer(SGD(0.1), initial_scale=1024.0)
    """

    _wraps_optimizer = True  # a MultiOptimizer may not contain one

    def __init__(self, inner_optimizer: Optimizer, initial_scale: float = 2.0 ** 15,
                 dynamic_growth_steps: int = 2000, name: Optional[str] = None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError(
                "LossScaleOptimizer no longer supports dynamic=False. Set a fixed scale on the "
                "inner optimizer instead, or keep the dynamic scaling.")
        for arg, default in _BASE_DEFAULTS.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(
                    f"LossScaleOptimizer does not take {arg}; set it on the inner optimizer.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer: argument(s) not recognized: "
                             f"{sorted(kwargs)}. Valid: inner_optimizer, initial_scale, "
                             "dynamic_growth_steps, name.")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(
                "LossScaleOptimizer: inner_optimizer must be a trine Optimizer, received "
                f"{inner_optimizer!r} ({type(inner_optimizer).__name__}).")
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, (int, float)) \
                or initial_scale <= 0:
            raise ValueError(f"LossScaleOptimizer: initial_scale must be a number > 0, "
                             f"received {initial_scale!r}.")
        if isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, int) \
                or dynamic_growth_steps < 1:
            raise ValueError(f"LossScaleOptimizer: dynamic_growth_steps must be an int >= 1, "
                             f"received {dynamic_growth_steps!r}.")
        super().__init__(0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self._scaled_since_build = False

    @property
    def learning_rate(self):
        """The inner optimizer's learning rate (reading and setting go through to it)."""
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.inner_optimizer.learning_rate = value

    def scale_loss(self, loss, optimizer_variables=None):
        """The loss times the current scale.

        Args:
            loss: the loss to differentiate.
            optimizer_variables: this optimizer's state; without it the initial scale is used
                (as Keras does before the optimizer is built).

        Returns:
            The scaled loss.
        """
        self._scaled_since_build = True
        scale = (self.initial_scale if optimizer_variables is None
                 else optimizer_variables.dynamic_scale)
        return loss * jnp.asarray(scale, jnp.asarray(loss).dtype)

    def build(self, variables, paths=None) -> None:
        """Binds to the variables (the inner optimizer's paths and constraints included)."""
        self._scaled_since_build = False
        super().build(variables, paths)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """One update from gradients of `scale_loss(loss)`: see `Optimizer.stateless_apply`.

        Raises:
            RuntimeError: if no loss was scaled since `build`: unscaled gradients would be
                divided by the scale (a custom train_step that forgot `scale_loss`).
        """
        if not self._scaled_since_build:
            raise RuntimeError(
                f"LossScaleOptimizer '{self.name}': the gradients must come from "
                "optimizer.scale_loss(loss, optimizer_state), but no loss was scaled since "
                "build. In a custom train_step, differentiate "
                "self.optimizer.scale_loss(loss, optimizer_variables) (the built-in "
                "train_step does).")
        return super().stateless_apply(optimizer_variables, grads, trainable_variables)

    def _overwrite_value(self, grad, optimizer_variables):
        # the "gradient" came from the scaled loss like every other
        return grad / optimizer_variables.dynamic_scale.astype(grad.dtype)

    def to_optax(self):
        """The transformation: unscale, check, apply the inner rule or skip, adjust the scale.

        Returns:
            An `optax.GradientTransformation` whose state is a `LossScaleState`.
        """
        import optax
        inner = self.inner_optimizer.to_optax()
        initial, growth = self.initial_scale, self.dynamic_growth_steps

        def init_fn(params):
            return LossScaleState(jnp.zeros([], jnp.int32), jnp.asarray(initial, jnp.float32),
                                  inner.init(params))

        def update_fn(grads, state, params=None):
            leaves = jax.tree_util.tree_leaves(grads)
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g)) for g in leaves])) \
                if leaves else jnp.asarray(True)

            def apply(_):
                # Keras unscales with the scale the loss was multiplied by, then updates it
                unscaled = jax.tree_util.tree_map(
                    lambda g: g / state.dynamic_scale.astype(g.dtype), grads)
                updates, new_inner = inner.update(unscaled, state.inner, params)
                grow = state.step_counter == growth - 1
                counter = jnp.where(grow, 0, state.step_counter + 1).astype(jnp.int32)
                scale = jnp.where(grow, state.dynamic_scale * 2.0, state.dynamic_scale)
                return updates, LossScaleState(counter, scale, new_inner)

            def skip(_):
                zeros = jax.tree_util.tree_map(jnp.zeros_like, grads)
                return zeros, LossScaleState(jnp.zeros([], jnp.int32),
                                             state.dynamic_scale * 0.5, state.inner)

            return jax.lax.cond(finite, apply, skip, None)

        return optax.GradientTransformation(init_fn, update_fn)

    def get_config(self) -> dict:
        """`{"name", "inner_optimizer", "initial_scale", "dynamic_growth_steps"}` (Keras's)."""
        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale,
                "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects: Optional[dict] = None):
        """Rebuilds the optimizer from `get_config()`'s output."""
        config = dict(config)
        inner = deserialize(config.pop("inner_optimizer"), custom_objects)
        return cls(inner, **config)

    def __repr__(self) -> str:
        return f"<LossScaleOptimizer name={self.name!r} inner={self.inner_optimizer!r}>"


# built around other optimizers, so by config only (a bare name cannot make one)
register_builtin(LossScaleOptimizer, by_name=False)
