"""Update-rule builders on Keras's state layout (`KerasOptimizerState`) and Keras's clipping.

`_keras_rule` builds a rule from a per-variable step on the gradient; `_value_rule` from one
that sees (and returns) the variable itself. Both give an optax `GradientTransformation`.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np


class KerasOptimizerState(NamedTuple):
    """State of a Keras-arithmetic update rule.

    Attributes:
        count: number of updates applied (Keras's `iterations`), int32 scalar.
        slots: one pytree shaped like the params per optimizer variable (e.g. Adam's m, v).
        extra: optimizer-wide scalars (Nadam's running product of momentum factors).
    """

    count: Any
    slots: tuple
    extra: tuple


def _path_str(path) -> str:
    parts = []
    for k in path:
        for attr in ("key", "name", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)


def _keras_rule(learning_rate, *, slot_inits: tuple, leaf_step: Callable,
                weight_decay: Optional[float] = None, decay_excluded: Callable = None,
                shared: Optional[Callable] = None, extra_init: Callable = None):
    """Builds an optax GradientTransformation from a per-variable Keras update rule.

    `leaf_step(g, slots, lr, t, ctx) -> (update_to_add, new_slots)` works on one variable,
    with `g` and `lr` already cast to the variable's dtype and `t` the 1-based step (int).
    `shared(t, extra) -> (ctx, new_extra)` computes optimizer-wide values once per step.
    Decoupled weight decay follows Keras: `p <- p - p * weight_decay * lr` before the update.
    """
    import optax

    def init_fn(params):
        leaves, treedef = jax.tree_util.tree_flatten(params)
        slots = tuple(jax.tree_util.tree_unflatten(treedef, [init(p) for p in leaves])
                      for init in slot_inits)
        extra = extra_init(leaves) if extra_init is not None else ()
        return KerasOptimizerState(jnp.zeros([], jnp.int32), slots, extra)

    def update_fn(updates, state, params=None):
        g_leaves, treedef = jax.tree_util.tree_flatten(updates)
        if weight_decay is not None and params is None:
            raise ValueError(
                "This optimizer uses weight_decay, so tx.update needs the params: call "
                "tx.update(grads, opt_state, params).")
        if params is not None:
            with_paths = treedef.flatten_up_to(
                jax.tree_util.tree_map_with_path(lambda kp, p: (kp, p), params))
            paths = [kp for kp, _ in with_paths]
            p_leaves = [p for _, p in with_paths]
        else:
            paths, p_leaves = [None] * len(g_leaves), [None] * len(g_leaves)
        slot_leaves = [treedef.flatten_up_to(s) for s in state.slots]
        t = state.count + 1
        ctx, new_extra = shared(t, state.extra) if shared is not None else (None, state.extra)
        out, new_slots = [], [[] for _ in state.slots]
        for i, g in enumerate(g_leaves):
            p = p_leaves[i]
            dtype = p.dtype if p is not None else g.dtype
            lr = jnp.asarray(learning_rate).astype(dtype)
            g = g.astype(dtype)
            u, slots = leaf_step(g, tuple(s[i] for s in slot_leaves), lr, t, ctx)
            if weight_decay is not None and not (
                    decay_excluded is not None and decay_excluded(_path_str(paths[i]))):
                u = u - p * jnp.asarray(weight_decay, dtype) * lr
            out.append(u)
            for k, s in enumerate(slots):
                new_slots[k].append(s)
        new_updates = jax.tree_util.tree_unflatten(treedef, out)
        slots = tuple(jax.tree_util.tree_unflatten(treedef, s) for s in new_slots)
        return new_updates, KerasOptimizerState(optax.safe_increment(state.count), slots,
                                                new_extra)

    return optax.GradientTransformation(init_fn, update_fn)


def _optimizer_rule(optimizer, learning_rate, slot_inits: tuple, leaf_step: Callable,
                    **options):
    """`_keras_rule` with `optimizer`'s decoupled weight decay and the variables it exempts."""
    return _keras_rule(learning_rate, slot_inits=slot_inits, leaf_step=leaf_step,
                       weight_decay=optimizer.weight_decay,
                       decay_excluded=optimizer._decay_excluded(), **options)


def _zeros(p):
    """A zero slot like `p`. Outside a trace it is made on the host and placed as `p` is:
    `jnp.zeros_like` compiles one XLA program per shape (13 of W5's first-fit compiles,
    0.35-0.8 s)."""
    if isinstance(p, jax.Array) and not isinstance(p, jax.core.Tracer) and (
            p.is_fully_addressable):
        return jax.device_put(np.zeros(p.shape, p.dtype), p.sharding)
    return jnp.zeros_like(p)


def _adam_moments(g, m, v, beta_1, beta_2):
    """Keras's moment updates: `m += (g - m)(1 - beta_1)`, `v += (g^2 - v)(1 - beta_2)`."""
    return m + (g - m) * (1 - beta_1), v + (jnp.square(g) - v) * (1 - beta_2)


def _adam_step_size(lr, t, beta_1, beta_2, dtype):
    """Keras folds Adam's bias correction into the rate: `lr sqrt(1 - beta_2^t) / (1 - beta_1^t)`."""
    tf = t.astype(dtype)
    b1_power = jnp.power(jnp.asarray(beta_1, dtype), tf)
    b2_power = jnp.power(jnp.asarray(beta_2, dtype), tf)
    return lr * jnp.sqrt(1 - b2_power) / (1 - b1_power)


def _clip_transform(clipnorm, clipvalue, global_clipnorm):
    """Keras's gradient clipping (per-variable norm, global norm, or value) as optax."""
    import optax

    if clipnorm is not None and clipnorm > 0:
        def per_variable(g):
            l2sum = jnp.sum(jnp.square(g), keepdims=True)
            positive = l2sum > 0
            l2norm = jnp.where(positive, jnp.sqrt(jnp.where(positive, l2sum, 1.0)), l2sum)
            return (g * clipnorm) / jnp.maximum(l2norm, clipnorm)
        return optax.stateless(lambda u, p: jax.tree_util.tree_map(per_variable, u))
    if global_clipnorm is not None and global_clipnorm > 0:
        def global_clip(updates, params):
            leaves = jax.tree_util.tree_leaves(updates)
            norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in leaves))
            scale = global_clipnorm * jnp.minimum(1.0 / norm, 1.0 / global_clipnorm)
            scale = scale + (norm - norm)  # NaN when the norm is not finite, as in Keras
            return jax.tree_util.tree_map(lambda g: g * scale.astype(g.dtype), updates)
        return optax.stateless(global_clip)
    if clipvalue is not None and clipvalue > 0:
        return optax.stateless(
            lambda u, p: jax.tree_util.tree_map(lambda g: jnp.clip(g, -clipvalue, clipvalue), u))
    return None


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
