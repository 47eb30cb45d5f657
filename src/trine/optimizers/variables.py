"""An optimizer's state as Keras's flat list of optimizer variables, and back.

Keras 3's stateless API (`optimizer.variables`, `stateless_apply(optimizer_variables, grads,
trainable_variables)`) passes the optimizer state as a list in a fixed order: `iteration`,
`learning_rate` (absent with a schedule), then each slot group variable by variable (Adam's
`momentum, velocity` interleaved per variable, `velocity_hat` after them all), then
optimizer-wide values (Nadam's `u_product`). trine keeps the state as an optax pytree; these
functions convert between the two so a loop written for Keras runs unchanged.

An optimizer opts in with `_slot_layout()` (groups of slot names in its rule's slot order);
any other optax state is listed leaf by leaf in pytree order.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine.core.variable import Variable
from trine.optimizers.rules import KerasOptimizerState


def _keras_state(tree):
    """The `KerasOptimizerState` inside an optax state, or None."""
    found = []

    def visit(x):
        if isinstance(x, KerasOptimizerState):
            found.append(x)
        return x

    jax.tree_util.tree_map(visit, tree, is_leaf=lambda x: isinstance(x, KerasOptimizerState))
    return found[0] if len(found) == 1 else None


def _keras_form(opt, state):
    """Whether `state` is laid out as Keras lists it (a Keras rule under inject_hyperparams)."""
    return (hasattr(opt, "_slot_layout") and hasattr(state, "hyperparams")
            and hasattr(state, "inner_state") and _keras_state(state) is not None)


def _scheduled(opt) -> bool:
    return callable(getattr(opt, "_learning_rate", None))


def _layout(opt):
    """[(group index, slot index, name)] in Keras's order of slots within one group."""
    out, k = [], 0
    for group in opt._slot_layout():
        out.append([(k + i, name) for i, name in enumerate(group)])
        k += len(group)
    return out


def variable_names(opt, state, paths) -> list:
    """Keras's names of the optimizer variables, aligned with `state_to_list`."""
    if not _keras_form(opt, state):
        n = len(jax.tree_util.tree_leaves(state))
        return ["iteration"] + [f"variable_{i}" for i in range(1, n)] if n else []
    names = ["iteration"] + ([] if _scheduled(opt) else ["learning_rate"])
    for group in _layout(opt):
        for p in paths:
            names += [f"{p.replace('/', '_')}_{name}" for _, name in group]
    names += ["u_product" if i == 0 else f"extra_{i}"
              for i in range(len(_keras_state(state).extra))]
    return names


def state_to_list(opt, state, paths) -> list:
    """The optax state as Keras's flat list of optimizer-variable values."""
    if not _keras_form(opt, state):
        return list(jax.tree_util.tree_leaves(state))
    ks = _keras_state(state)
    out = [state.count]
    if not _scheduled(opt):
        out.append(state.hyperparams["learning_rate"])
    for group in _layout(opt):
        for p in paths:
            out += [ks.slots[k][p] for k, _ in group]
    return out + list(ks.extra)


def list_to_state(opt, values, template, paths):
    """Keras's flat list back into an optax state shaped like `template`.

    Raises:
        ValueError: if the list's length is not the optimizer's number of variables.
    """
    expected = len(state_to_list(opt, template, paths))
    if len(values) != expected:
        raise ValueError(
            f"Optimizer '{opt.name}'.stateless_apply expected optimizer_variables to be a list "
            f"of {expected} values (optimizer.variables, in that order), received "
            f"{len(values)}. Pass optimizer.variables, or the list the previous "
            "stateless_apply returned.")
    values = [v.value if hasattr(v, "value") and hasattr(v, "assign") else v for v in values]
    if not _keras_form(opt, template):
        treedef = jax.tree_util.tree_structure(template)
        return jax.tree_util.tree_unflatten(treedef, values)
    ks = _keras_state(template)
    it = iter(values)
    count = jnp.asarray(next(it), ks.count.dtype)
    hyper = dict(template.hyperparams)
    if not _scheduled(opt):
        lr = template.hyperparams["learning_rate"]
        hyper["learning_rate"] = jnp.asarray(next(it), jnp.asarray(lr).dtype)
    slots = [dict(s) for s in ks.slots]
    for group in _layout(opt):
        for p in paths:
            for k, _ in group:
                slots[k][p] = next(it)
    new_ks = ks._replace(count=count, slots=tuple(slots), extra=tuple(it))
    inner = jax.tree_util.tree_map(
        lambda x: new_ks if isinstance(x, KerasOptimizerState) else x, template.inner_state,
        is_leaf=lambda x: isinstance(x, KerasOptimizerState))
    # A schedule reads its own step counter: keep it on the restored iteration.
    hstates = jax.tree_util.tree_map(lambda x: jnp.asarray(count, jnp.asarray(x).dtype),
                                     getattr(template, "hyperparams_states", {}))
    fields = dict(count=count, hyperparams=hyper, inner_state=inner)
    if hasattr(template, "hyperparams_states"):
        fields["hyperparams_states"] = hstates
    return template._replace(**fields)


# ====================================================================== the stateful surface
def _scalar_variable(opt, attr, value, dtype, name):
    """The optimizer's one `iteration` / `learning_rate` Variable, kept across builds."""
    var = getattr(opt, attr, None)
    if var is None:
        var = Variable(jnp.asarray(value, dtype), name=name, trainable=False)
        var.path = f"{opt.name}/{name}"
        setattr(opt, attr, var)
    else:
        var.assign(jnp.asarray(value, var.dtype))
    return var


def iterations(opt):
    """Keras's `optimizer.iterations`: the update count, 0 before any update."""
    if getattr(opt, "_tx", None) is None:
        return _scalar_variable(opt, "_iterations", 0, jnp.int32, "iteration") \
            if getattr(opt, "_iterations", None) is None else opt._iterations
    optimizer_variables(opt)
    return opt._iterations


def optimizer_variables(opt) -> list:
    """Keras's `optimizer.variables`: Variables mirroring the optimizer state, in Keras's
    order. Before `build`, the iteration and learning-rate Variables only (as Keras)."""
    if getattr(opt, "_tx", None) is None:
        out = [iterations(opt)]
        if not _scheduled(opt):
            out.append(_scalar_variable(opt, "_lr_variable", opt._learning_rate, jnp.float32,
                                        "learning_rate"))
        return out
    state, fresh = opt._pending_state, False
    if state is None and opt._variables is None:
        state, fresh = opt._tx.init(dict(zip(opt._paths, [v.value for v in opt._bound]))), True
    if state is not None:
        _write(opt, state)
        opt._pending_state = None
    if fresh and not _scheduled(opt):  # a rate set after build but before any update
        set_learning_rate_variable(opt, opt._learning_rate)
    return list(opt._variables)


def _update_count(state):
    """The updates an optax state has applied: its `count`, or its inner optimizer's (a
    loss-scale state, whose skipped steps the inner optimizer never saw, as in Keras)."""
    count = getattr(state, "count", None)
    if count is not None and not callable(count):  # a NamedTuple's own count() is not it
        return count
    inner = getattr(state, "inner", None)
    return 0 if inner is None else _update_count(inner)


def _write(opt, state) -> None:
    values = state_to_list(opt, state, opt._paths)
    names = variable_names(opt, state, opt._paths)
    keras_form = _keras_form(opt, state)
    if keras_form:
        _scalar_variable(opt, "_iterations", values[0], jnp.int32, "iteration")
    else:
        _scalar_variable(opt, "_iterations", _update_count(state), jnp.int32, "iteration")
    if opt._variables is not None and len(opt._variables) == len(values):
        for var, x in zip(opt._variables, values):
            var.assign(x)
        return
    made = []
    for i, (name, x) in enumerate(zip(names, values)):
        if keras_form and i == 0:
            made.append(opt._iterations)
        elif keras_form and name == "learning_rate" and i == 1:
            made.append(_scalar_variable(opt, "_lr_variable", x, jnp.float32, name))
        else:
            var = Variable(x, name=name, trainable=False)
            var.path = f"{opt.name}/{name}"
            made.append(var)
    opt._variables = made


def set_learning_rate_variable(opt, value) -> None:
    """Keeps the `learning_rate` Variable equal to a newly set float learning rate."""
    lr = getattr(opt, "_lr_variable", None)
    if lr is not None:
        lr.assign(jnp.asarray(value, lr.dtype))


def apply(opt, grads, trainable_variables=None) -> None:
    """One eager update of `trainable_variables` and of `optimizer.variables`.

    Raises:
        ValueError: if the variables differ in number from those the optimizer was built on.
    """
    if trainable_variables is None:
        opt._require_built()
        tvars = opt._bound
    else:
        tvars = list(trainable_variables)
        if getattr(opt, "_tx", None) is None:
            opt.build(tvars)
    if len(tvars) != len(opt._paths):
        raise ValueError(
            f"Optimizer '{opt.name}' was built on {len(opt._paths)} variables, received "
            f"{len(tvars)} variables to apply gradients to. Use one optimizer per set of "
            "variables, or build a new optimizer on these.")
    ovars = optimizer_variables(opt)
    new, state = opt.stateless_apply([v.value for v in ovars], list(grads),
                                     [v.value for v in tvars])
    for var, x in zip(tvars, new):
        var.assign(x)
    for var, x in zip(ovars, state):
        var.assign(x)
