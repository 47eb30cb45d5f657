"""The learning rate inside an optax state: read it, and set it without recompiling."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


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
