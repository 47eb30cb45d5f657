"""Where the current distribution meets the trainer.

The trainer calls these hooks; each returns its input unchanged when no distribution is set.

- `wrap_step`: inside the traced step, constrain the batch (split over the batch axis), the
  carried state (each variable's layout; optimizer slots follow their variable) and the
  outputs, so XLA's SPMD partitioner knows the layout everywhere.
- `wrap_run`: the same constraints on what the compiled runner returns.
- `wrap_runner`: before each compiled call, place the carry and the data with those
  shardings (a no-op once they are placed), so jit compiles for the mesh; in a multi-process
  run bring the logs / predictions back to every host.
- `device_arrays`: device-resident data is replicated over the mesh once; the batch gathered
  from it inside the program is then constrained to its slice on each device.
- `check_batch_size`, `host_state`: the batch-size rule, and host copies for the Variables at
  sync points in a multi-process run.

In a multi-process run every process passes the same global values and each one transfers
only the pieces its own devices hold (`jax.make_array_from_callback`).
"""
from __future__ import annotations

import math

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from trine.distribution.strategies import distribution
from trine.distribution.transfer import multi_process, place


def cache_token():
    """A key for compiled programs: programs traced under one distribution are not reused
    under another."""
    d = distribution()
    return None if d is None else d._token


# ---------------------------------------------------------------------- placing values
def _place_tree(tree, shardings):
    return jax.tree_util.tree_map(place, tree, shardings)


def _constrain(x, sharding):
    if isinstance(x, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(x, sharding)
    if isinstance(x, (jax.Array, np.ndarray)):
        return place(x, sharding)
    return x


def _constrain_tree(tree, shardings):
    return jax.tree_util.tree_map(_constrain, tree, shardings)


def to_host(x):
    """A value every process can read: global arrays are gathered (a collective)."""
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return x
    if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


# ---------------------------------------------------------------------- shardings
def batch_sharding(d, shape, axis: int = 0) -> NamedSharding:
    """Split dimension `axis` over the batch axis; replicate when it does not divide evenly
    (the short last batch of an epoch) or the value has no such dimension."""
    shape = tuple(shape)
    if len(shape) <= axis or shape[axis] % d._batch_shards:
        return d._replicated()
    spec = [None] * len(shape)
    spec[axis] = d.batch_dim_name
    return NamedSharding(d.device_mesh.jax_mesh, PartitionSpec(*spec))


def _layout_sharding(d, path, var):
    layout = getattr(var, "_layout", None) or d._layout_for_path(path)
    if layout is None:
        return d._replicated()
    if layout.device_mesh is None:
        layout.device_mesh = d.device_mesh
    shape = tuple(var.shape)
    if len(layout.axes) != len(shape):
        raise ValueError(
            f"The layout {layout.axes} for variable '{path}' has {len(layout.axes)} entries, "
            f"but the variable has shape {shape} ({len(shape)} dimensions). Give one entry per "
            "dimension (None keeps a dimension whole), or narrow the LayoutMap key so it does "
            "not match this variable.")
    mesh = layout.device_mesh
    for i, (size, ax) in enumerate(zip(shape, layout.axes)):
        if ax is None:
            continue
        names = ax if isinstance(ax, (tuple, list)) else (ax,)
        n = math.prod(mesh.axis_size(a) for a in names)
        if size % n:
            raise ValueError(
                f"Variable '{path}' (shape {shape}) cannot be split by layout {layout.axes}: "
                f"dimension {i} has size {size}, not a multiple of the {n} devices on mesh "
                f"axis {ax!r}. Split a dimension divisible by {n}, or use a mesh whose "
                f"{ax!r} axis size divides {size}.")
    return layout.sharding


class _Table:
    """Per model and distribution: each variable's sharding, by id and by path."""

    def __init__(self, model, d):
        self.by_id, self.by_path = {}, {}
        for path, v in model._path_map():
            if (d._layout_for_path(path) is None and v.path != path
                    and d._layout_for_path(v.path) is not None):
                s = _layout_sharding(d, v.path, v)  # the variable's own path, e.g. "dense/kernel"
            else:
                s = _layout_sharding(d, path, v)
            self.by_id[id(v)] = s
            self.by_path[path] = (tuple(v.shape), s)


def _table(model, d) -> _Table:
    weights = model.weights
    key = (d._token, tuple(id(v) for v in weights),
           len(getattr(d, "layout_map", ()) or ()))
    cached = model.__dict__.get("_distribution_table")
    if cached is not None and cached[0] == key:
        return cached[1]
    table = _Table(model, d)
    object.__setattr__(model, "_distribution_table", (key, table))
    return table


def variable_shardings(model, d=None) -> dict:
    """The sharding of each of the model's variables under `d` (default: the current
    distribution), keyed by variable path."""
    d = d or distribution()
    if d is None:
        raise ValueError("No distribution is set; pass one or call set_distribution first.")
    return {p: s for p, (_, s) in _table(model, d).by_path.items()}


def _values_shardings(d, table, variables, values):
    if (isinstance(values, (list, tuple)) and len(values) == len(variables)
            and all(hasattr(x, "shape") and tuple(x.shape) == tuple(v.shape)
                    for x, v in zip(values, variables))):
        return type(values)(table.by_id[id(v)] for v in variables)
    rep = d._replicated()
    return jax.tree_util.tree_map(lambda _: rep, values)


def _optimizer_shardings(d, table, opt_state):
    rep = d._replicated()

    def leaf(keypath, x):
        for k in reversed(keypath):
            key = getattr(k, "key", None)
            if isinstance(key, str) and key in table.by_path:
                shape, s = table.by_path[key]
                return s if tuple(np.shape(x)) == shape else rep
        return rep

    return jax.tree_util.tree_map_with_path(leaf, opt_state)


def carry_shardings(model, d, kind, carry):
    """Shardings for a runner's carry: `TrainState` (train), `(tv, ntv, mv)` (test) or
    `(tv, ntv)` (predict)."""
    table = _table(model, d)
    rep = d._replicated()
    reps = lambda t: jax.tree_util.tree_map(lambda _: rep, t)
    tv = _values_shardings(d, table, model.trainable_variables, carry[0])
    ntv = _values_shardings(d, table, model.non_trainable_variables, carry[1])
    if kind == "train":
        return type(carry)(tv, ntv, _optimizer_shardings(d, table, carry[2]), reps(carry[3]),
                           reps(carry[4]))
    return type(carry)((tv, ntv) + tuple(reps(c) for c in carry[2:]))


# ---------------------------------------------------------------------- trainer hooks
def wrap_step(model, step, kind):
    """The step with sharding constraints on its batch, carry and outputs."""
    d = distribution()
    if d is None:
        return step
    rep = d._replicated()

    def distributed_step(carry, batch):
        batch = jax.tree_util.tree_map(
            lambda a: _constrain(a, batch_sharding(d, np.shape(a))), batch)
        carry, out = step(carry, batch)
        carry = _constrain_tree(carry, carry_shardings(model, d, kind, carry))
        if kind == "predict":
            out = jax.tree_util.tree_map(
                lambda a: _constrain(a, batch_sharding(d, np.shape(a))), out)
        else:
            out = jax.tree_util.tree_map(lambda a: _constrain(a, rep), out)
        return carry, out

    return distributed_step


def wrap_run(model, run, kind):
    """The runner's traced function with its results constrained too: the carry to each
    variable's layout (XLA would otherwise pick the loop output's sharding itself), logs
    replicated, predictions split over the batch axis."""
    d = distribution()
    if d is None:
        return run
    rep = d._replicated()

    def distributed_run(carry, *args):
        carry, out = run(carry, *args)
        carry = _constrain_tree(carry, carry_shardings(model, d, kind, carry))
        if kind == "predict":
            out = jax.tree_util.tree_map(
                lambda a: _constrain(a, batch_sharding(d, np.shape(a), axis=1)), out)
        else:
            out = jax.tree_util.tree_map(lambda a: _constrain(a, rep), out)
        return carry, out

    return distributed_run


def process_local_data() -> bool:
    """Whether each process passes only its own part of every batch (a multi-process run
    whose distribution has `auto_shard_dataset=False`, as in Keras): the global batch is the
    processes' batches joined in process order."""
    d = distribution()
    return d is not None and multi_process() and not d.auto_shard_dataset


def _place_local_chunk(d, a):
    """A stacked chunk `(steps, local_batch, ...)` of this process's rows as the global
    chunk `(steps, local_batch * processes, ...)`, split over the batch axis."""
    local = np.asarray(a)
    global_shape = (local.shape[0], local.shape[1] * jax.process_count()) + local.shape[2:]
    n = d._batch_shards
    if global_shape[1] % n:
        raise ValueError(
            f"With auto_shard_dataset=False each process passes its part of every batch: "
            f"this batch joins {jax.process_count()} parts of {local.shape[1]} rows into "
            f"{global_shape[1]}, which cannot be split over the {n} devices of the "
            f"'{d.batch_dim_name}' axis. Give every process batches whose total is a "
            f"multiple of {n} (drop or pad the last, shorter batch).")
    sharding = batch_sharding(d, global_shape, axis=1)
    return jax.make_array_from_process_local_data(sharding, local, global_shape)


def _local_rows(x):
    """This process's rows of a global chunk of predictions (batch axis 1)."""
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return x
    # by first row: a block held by several local devices counts once
    blocks = {s.index[1].start or 0: s.data for s in x.addressable_shards}
    return np.concatenate([np.asarray(blocks[k]) for k in sorted(blocks)], axis=1)


def wrap_runner(model, fn, kind, source):
    """The compiled runner with its arguments placed on the mesh (and, in a multi-process
    run, its outputs readable on every host)."""
    d = distribution()
    if d is None:
        return fn
    rep = d._replicated()
    local = process_local_data()

    def distributed_runner(carry, data, *rest):
        carry = _place_tree(carry, carry_shardings(model, d, kind, carry))
        if source == "gather":
            data = jax.tree_util.tree_map(lambda a: place(a, rep), data)
            rest = (place(rest[0], rep),) + tuple(rest[1:])
        elif local:
            data = jax.tree_util.tree_map(lambda a: _place_local_chunk(d, a), data)
        else:
            data = jax.tree_util.tree_map(
                lambda a: place(a, batch_sharding(d, np.shape(a), axis=1)), data)
        carry, out = fn(carry, data, *rest)
        if local and kind == "predict":  # each process gets the predictions of its rows
            out = jax.tree_util.tree_map(_local_rows, out)
        elif multi_process():
            out = jax.tree_util.tree_map(to_host, out)
        return carry, out

    return distributed_runner


def check_batch_size(model, data, kind) -> None:
    """Raise when full batches cannot be split evenly over the batch axis."""
    d = distribution()
    if d is None:
        return
    n, bs = d._batch_shards, int(data.batch_size)
    if process_local_data():  # the global batch joins every process's batch
        bs *= jax.process_count()
    if getattr(data, "full_steps", 1) and bs % n:
        lo, hi = (bs // n) * n, -(-bs // n) * n
        fix = f"{hi}" if lo == 0 else f"{lo} or {hi}"
        what = {"train": "fit", "test": "evaluate"}.get(kind, kind)
        raise ValueError(
            f"{what}(): batch_size={bs} cannot be split evenly over the {n} devices of the "
            f"'{d.batch_dim_name}' axis of {type(d).__name__}'s mesh {d.device_mesh.shape}. "
            f"Pass a batch_size that is a multiple of {n} (e.g. {fix}), or use a mesh whose "
            f"'{d.batch_dim_name}' axis divides {bs}. (Only the last, shorter batch of an epoch "
            "may be uneven: it runs replicated.)")


def start_device_copy(data):
    """Start the one-device copy of resident data early (see ArrayData.start_device_copy);
    under a distribution the arrays are placed over the mesh when first needed."""
    if distribution() is None and data.kind == "arrays":
        data.start_device_copy()


def device_arrays(data):
    """Device-resident data: replicated over the mesh once (cached on `data`)."""
    d = distribution()
    if d is None:
        return data.device_arrays()
    cached = data.__dict__.get("_distributed_arrays")
    if cached is not None and cached[0] == d._token:
        return cached[1]
    rep = d._replicated()
    placed = jax.tree_util.tree_map(lambda a: place(a, rep), data.arrays)
    data.__dict__["_distributed_arrays"] = (d._token, placed)
    return placed


def host_state(ts):
    """At a sync point of a multi-process run: the state as local arrays, so the Variables
    (and `get_weights`, `save_weights`) can be read on every host. Identity otherwise."""
    if distribution() is None or not multi_process():
        return ts
    import jax.numpy as jnp
    return jax.tree_util.tree_map(
        lambda x: jnp.asarray(to_host(x)) if isinstance(x, jax.Array) else x, ts)
