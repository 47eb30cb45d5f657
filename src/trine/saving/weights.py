"""`.weights.h5` files in Keras 3's layout, written and read by walking the model as Keras does.

The layout (the same file Keras 3 writes for the same model):

- every layer and model gets a group `<path>/vars` (the root model: `vars`) with the attribute
  `name` (the layer's name) and one dataset per variable, `"0"`, `"1"`, ...: the layer's own
  trainable variables, then its non-trainable ones, in creation order;
- `<path>` follows the attributes that hold the layer: a Sequential or Functional model's
  layers live under `layers/`, named after their class in snake case, numbered in order
  (`layers/dense`, `layers/dense_1`, ...; Functional models list their layers in Keras's
  topological order, `InputLayer`s included); other attributes holding layers (sorted by name,
  private ones last; `layers` is one of them for subclassed models) give nested paths, and
  lists/dicts of layers give `attr/<class>`, `attr/<class>_1`, ... (`container` for nested
  lists); each layer is written once, at the first path that reaches it;
- a compiled model's optimizer lives in `optimizer/vars`: `0` the step count (int32), `1` the
  learning rate (float32, absent when it is a schedule), then the optimizer's slots for each
  trainable variable in the model's variable order (Adam / AdamW / Adamax / Nadam interleave
  their two moments per variable; RMSprop, SGD and Adagrad write one block per slot; AMSGrad's
  maxima and RMSprop's momentum / mean-gradient blocks follow), then Nadam's momentum product.
  A compiled model that never trained writes only the step and learning rate, as Keras does.

What Keras has no place for is written under `_trine/` (Keras ignores it): the optax state of
an optimizer without a Keras layout (`_trine/optimizer/0...`, the state's leaves in
`jax.tree_util` order), and the trainer's step counter when it differs from the optimizer's.
With these, `load_weights` into a freshly compiled model restores training exactly.

Loading reads every array first (shapes checked before allocation, see `safe_h5`), and assigns
nothing unless everything matched (`skip_mismatch=True` skips mismatching layers with a
warning instead).
"""
from __future__ import annotations

import os
import warnings

import numpy as np

# one writer for every file trine saves: temp files named per target, mode from the umask
from trine._util.atomic import atomic_write, remove_stale
from trine._util.keras_names import keras_snake_case
from trine.core.tracking import machinery_attrs, overrides, own_variables
from trine.graph.topology import keras_layer_order
from trine.registry.serialize import builtin_kind
from trine.saving.errors import SavingError, report_unloaded_layers
from trine.saving.safe_h5 import SafeH5Reader, ShapeMismatch
from trine.saving.zip_reading import _as_saving_error, read_archive_member

# ====================================================================== the walk


def _holds_layer(v, depth=0):
    from trine.core.layer import Layer
    if isinstance(v, Layer):
        return True
    if depth < 4 and isinstance(v, (list, tuple)):
        return any(_holds_layer(e, depth + 1) for e in v)
    if depth < 4 and isinstance(v, dict):
        return any(_holds_layer(e, depth + 1) for e in v.values())
    return False


def _name_key(name):
    return f"~{name}" if name.startswith("_") else name


def _sublayers(layer):
    """Direct sublayers in Keras's tracking order (what `layer._layers` holds in Keras)."""
    from trine.models.functional import Functional
    from trine.models.sequential import Sequential
    if isinstance(layer, Functional):
        return keras_layer_order(layer)
    if isinstance(layer, Sequential):
        return list(layer.layers)
    return list(layer._layers)


def _children(obj):
    """(attribute, value) pairs Keras's saver visits under `obj`, in its order."""
    from trine.models.functional import Functional
    from trine.models.model import Model
    from trine.models.sequential import Sequential
    first = []
    attrs = {}
    internal = machinery_attrs(type(obj))
    if isinstance(obj, (Functional, Sequential)):
        first.append(("layers", _sublayers(obj)))
    elif isinstance(obj, Model):
        attrs["layers"] = list(obj.layers)
    for k, v in obj.__dict__.items():
        if k in internal or k.startswith("__") or k == "layers":
            continue
        if _holds_layer(v):
            attrs[k] = v
    return first + [(k, attrs[k]) for k in sorted(attrs, key=_name_key)]


def walk(model):
    """[(h5 path, layer)] for every layer of `model` (the model itself at ''), Keras's order."""
    from trine.core.layer import Layer
    out, visited = [], set()

    def join(a, b):
        return f"{a}/{b}" if a else b

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        out.append((path, obj))
        for attr, child in _children(obj):
            p = join(path, attr)
            if isinstance(child, Layer):
                visit(child, p)
            elif isinstance(child, (list, tuple, dict)):
                container(child, p, set())

    def container(items, path, seen):
        if id(items) in seen:
            return
        seen.add(id(items))
        used = {}
        values = list(items.values()) if isinstance(items, dict) else list(items)
        for item in values:
            if isinstance(item, Layer):
                name = _unique(keras_snake_case(type(item).__name__), used)
                visit(item, join(path, name))
            elif isinstance(item, (list, tuple, dict)):
                name = _unique("container", used)
                container(item, join(path, name), seen)

    visit(model, "")
    return out


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def keras_variable_order(model):
    """All variables of `model` in Keras's `model.variables` order."""
    out, seen = [], set()

    def rec(layer, depth=0):
        if depth > 64:
            return
        for v in own_variables(layer):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for sub in _sublayers(layer):
            rec(sub, depth + 1)

    rec(model)
    return out


# ====================================================================== optimizer layout
# How many leading slots Keras creates together, interleaved per variable.
_INTERLEAVED = {"Adam": 2, "AdamW": 2, "Adamax": 2, "Nadam": 2}
_KERAS_OPTIMIZERS = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam"}


def _keras_opt_state(state):
    from trine import optimizers
    import jax
    found = [x for x in jax.tree_util.tree_leaves(
        state, is_leaf=lambda x: isinstance(x, optimizers.KerasOptimizerState))
        if isinstance(x, optimizers.KerasOptimizerState)]
    return found[0] if len(found) == 1 else None


def _lr_is_schedule(opt):
    lr = getattr(opt, "_learning_rate", None)
    if lr is None:
        lr = getattr(opt, "learning_rate", None)
    return callable(lr)


def _trainable_paths_keras_order(model):
    paths = {id(v): p for p, v in model._path_map()}
    trainable = {id(v) for v in model.trainable_weights}
    return [paths[id(v)] for v in keras_variable_order(model)
            if id(v) in trainable and id(v) in paths]


def _slot_order(class_name, n_slots, paths):
    """[(slot index, path)] in Keras's variable creation order."""
    k = _INTERLEAVED.get(class_name, 1) if n_slots >= 2 else 1
    order = []
    if k > 1:
        for p in paths:
            for s in range(k):
                order.append((s, p))
        rest = range(k, n_slots)
    else:
        rest = range(n_slots)
    for s in rest:
        for p in paths:
            order.append((s, p))
    return order


def _optimizer_arrays(model):
    """The Keras-layout arrays of the model's optimizer, or None if it has no Keras layout."""
    import jax
    opt = getattr(model, "optimizer", None)
    if opt is None or builtin_kind(opt) is None or type(opt).__name__ not in _KERAS_OPTIMIZERS:
        return None
    state = model.training_session.optimizer_state()
    scheduled = _lr_is_schedule(opt)
    if state is None:
        arrays = [np.asarray(0, np.int32)]
        if not scheduled:
            arrays.append(np.asarray(float(opt.learning_rate), np.float32))
        return arrays
    ks = _keras_opt_state(state)
    if ks is None:
        return None
    paths = _trainable_paths_keras_order(model)
    slots = [jax.device_get(s) for s in ks.slots]
    for s in slots:
        if not isinstance(s, dict) or set(s) != set(paths):
            return None
    arrays = [np.asarray(ks.count, np.int32)]
    if not scheduled:
        from trine import optimizers
        try:
            lr = optimizers.get_learning_rate(state)
        except ValueError:
            return None
        arrays.append(np.asarray(lr, np.float32))
    for s, p in _slot_order(type(opt).__name__, len(slots), paths):
        arrays.append(np.asarray(slots[s][p]))
    for e in ks.extra:
        arrays.append(np.asarray(e))
    return arrays


def _keras_optimizer_plan(model, template):
    """(expected shapes, build(arrays) -> (state, count)) for the Keras layout, or None."""
    import jax.numpy as jnp
    from trine import optimizers
    opt = model.optimizer
    if type(opt).__name__ not in _KERAS_OPTIMIZERS:
        return None
    ks = _keras_opt_state(template)
    if ks is None:
        return None
    scheduled = _lr_is_schedule(opt)
    paths = _trainable_paths_keras_order(model)
    order = _slot_order(type(opt).__name__, len(ks.slots), paths)
    shapes = [()] * (1 if scheduled else 2)
    shapes += [tuple(ks.slots[s][p].shape) for s, p in order]
    shapes += [tuple(jnp.shape(e)) for e in ks.extra]
    head = 1 if scheduled else 2
    schedule = getattr(opt, "_learning_rate", None) if scheduled else None

    def build(arrays):
        count = int(np.asarray(arrays[0]).reshape(()))
        count_arr = jnp.asarray(count, jnp.int32)
        new_slots = [dict(s) for s in ks.slots]
        for (s, p), arr in zip(order, arrays[head:head + len(order)]):
            new_slots[s][p] = jnp.asarray(arr, dtype=ks.slots[s][p].dtype)
        extra = tuple(jnp.asarray(a, dtype=jnp.asarray(e).dtype)
                      for a, e in zip(arrays[head + len(order):], ks.extra))
        lr_value = None if scheduled else np.asarray(arrays[1])

        def rebuild(x):
            if isinstance(x, optimizers.KerasOptimizerState):
                return optimizers.KerasOptimizerState(count_arr, tuple(new_slots), extra)
            fields = getattr(x, "_fields", None)
            if fields and "hyperparams" in fields and "count" in fields:
                hp = dict(x.hyperparams)
                if "learning_rate" in hp:
                    old = jnp.asarray(hp["learning_rate"])
                    if lr_value is not None:
                        hp["learning_rate"] = jnp.asarray(lr_value, old.dtype).reshape(old.shape)
                    elif callable(schedule):
                        hp["learning_rate"] = jnp.asarray(schedule(max(count - 1, 0)), old.dtype)
                repl = {"count": count_arr, "hyperparams": hp}
                if "hyperparams_states" in fields:
                    repl["hyperparams_states"] = {
                        k: (v._replace(count=count_arr) if "count" in getattr(v, "_fields", ())
                            else v) for k, v in x.hyperparams_states.items()}
                if "inner_state" in fields:
                    repl["inner_state"] = rebuild(x.inner_state)
                return x._replace(**repl)
            if fields is not None:
                return type(x)(*[rebuild(getattr(x, f)) for f in fields])
            if isinstance(x, (list, tuple)):
                return type(x)(rebuild(e) for e in x)
            if isinstance(x, dict):
                return {k: rebuild(v) for k, v in x.items()}
            return x

        return rebuild(template), count

    return shapes, build


# ====================================================================== writing
def write_weights(model, h5file) -> None:
    """Write `model`'s variables (and optimizer state) into an open, empty h5py File."""
    import jax
    for path, layer in walk(model):
        group = h5file.create_group(f"{path}/vars" if path else "vars")
        group.attrs["name"] = layer.name
        if overrides(layer, "save_own_variables"):  # Keras's hook: the layer fills the store
            store = {}
            layer.save_own_variables(store)
            for k, a in store.items():
                _write_array(group, str(k), np.asarray(jax.device_get(
                    a.value if hasattr(a, "value") else a)))
            continue
        for i, v in enumerate(own_variables(layer)):
            _write_array(group, str(i), np.asarray(jax.device_get(v.value)))
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(model, "compiled", False):
        return
    state = model.training_session.optimizer_state()
    arrays = _optimizer_arrays(model)
    step = int(model.training_session.step or 0)
    if arrays is not None:
        g = h5file.create_group("optimizer/vars")
        g.attrs["name"] = getattr(opt, "name", keras_snake_case(type(opt).__name__))
        for i, a in enumerate(arrays):
            _write_array(g, str(i), a)
        if state is not None and int(arrays[0]) != step:
            _write_array(h5file.require_group("_trine"), "step", np.asarray(step, np.int64))
    elif state is not None:
        g = h5file.create_group("_trine/optimizer")
        for i, leaf in enumerate(jax.tree_util.tree_leaves(jax.device_get(state))):
            _write_array(g, str(i), np.asarray(leaf))
        _write_array(h5file["_trine"], "step", np.asarray(step, np.int64))


def _write_array(group, name, arr):
    if arr.dtype.name == "bfloat16":
        ds = group.create_dataset(name, data=arr.view(np.uint16).view("V2"))
        ds.attrs["dtype"] = "bfloat16"
    else:
        group[name] = arr


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None) -> None:
    """Save the model's variables (and optimizer state) to a `.weights.h5` file.

    The file has Keras 3's layout, so `keras.Model.load_weights` reads it (and trine reads
    files Keras writes). The write is atomic.

    Args:
        model: a built model.
        filepath: a path ending in ".weights.h5".
        overwrite: replace an existing file (default True).

    Raises:
        ValueError: for another extension, or an unbuilt model.
        FileExistsError: if the file exists and overwrite=False.

    Example:
        >>> model.save_weights("model.weights.h5")
    """
    import h5py
    if max_shard_size is not None:
        raise NotImplementedError("save_weights: sharded weight files (max_shard_size) are not "
                                  "supported yet; save a single .weights.h5 file.")
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(
            f"save_weights: the filename must end in '.weights.h5', received {filepath!r}.")
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' has not been built, so it has no weights to save. Call it on "
            "data or call model.build(input_shape) first.")

    def write(f):
        with h5py.File(f, "w") as h5:
            write_weights(model, h5)

    atomic_write(filepath, write, overwrite=overwrite, what="weights")


# ====================================================================== reading
def read_weights(model, reader: SafeH5Reader, skip_mismatch: bool = False,
                 load_optimizer: bool = True) -> None:
    """Load variables from a vetted weights file into `model` (all or nothing)."""
    label = reader.label
    pending, pending_named = [], []
    problems = []
    for path, layer in walk(model):
        gpath = f"{path}/vars" if path else "vars"
        group = reader.get_group(gpath)
        own = own_variables(layer)
        names = sorted(group.keys(), key=_num_key) if group is not None else []
        if overrides(layer, "load_own_variables"):  # Keras's hook: the layer reads the store
            if group is None and own:
                problems.append(f"layer '{layer.name}' ({type(layer).__name__}) at '{gpath}': "
                                "the file has no weights for it")
                continue
            store = {n: reader.read(group, n, path=gpath) for n in names}
            pending_named.append((layer, store))
            continue
        where = f"layer '{layer.name}' ({type(layer).__name__}) at '{gpath}'"
        if len(names) != len(own) or names != [str(i) for i in range(len(own))]:
            if group is None and own:
                problems.append(f"{where}: the file has no weights for it (expected "
                                f"{len(own)} variables)")
            elif own or names:
                problems.append(f"{where}: expected {len(own)} variables "
                                f"{[v.name for v in own]}, the file has {len(names)}")
            continue
        try:
            arrays = [reader.read(group, str(i), expected_shape=v.shape, path=gpath)
                      for i, v in enumerate(own)]
        except ShapeMismatch as e:
            problems.append(f"{where}: {e}")
            continue
        pending.extend(zip(own, arrays))
    report_unloaded_layers(
        problems, label, skip_mismatch,
        fix="Check that the file was saved from the same architecture, or pass "
            "skip_mismatch=True to load the layers that match.",
        skipped="Those layers keep their current weights (skip_mismatch=True).", stacklevel=3)
    opt_plan = _read_optimizer(model, reader) if load_optimizer else None
    import jax.numpy as jnp
    for v, a in pending:
        v.assign(jnp.asarray(a, dtype=v.dtype))
    for layer, store in pending_named:
        try:
            layer.load_own_variables(store)
        except (KeyError, ValueError, TypeError) as e:
            raise SavingError(f"Layer '{layer.name}' ({type(layer).__name__}) could not load "
                              f"its variables from {label} with its load_own_variables(): "
                              f"{type(e).__name__}: {e}") from e
    if opt_plan is not None:
        opt_plan()


def _named_state(layer):
    """Named arrays a layer keeps outside Variables, through Keras's `save_own_variables`
    hook (only layers of trine's own that define it; their numbered variables go first)."""
    hook = getattr(type(layer), "save_own_variables", None)
    if hook is None:
        return {}
    store = {}
    layer.save_own_variables(store)
    return {k: v for k, v in store.items() if not str(k).isdigit()}


def _num_key(name):
    return (0, int(name)) if name.isdigit() else (1, name)


def _optimizer_template(model):
    """(a fresh optimizer state for the model, bind()) where bind() makes the trainer accept
    a state of that structure as its own (so the next fit continues from it)."""
    opt = model.optimizer
    tvars = model.trainable_variables
    if hasattr(opt, "build") and hasattr(opt, "init_state"):
        paths = {id(v): p for p, v in model._path_map()}
        sig = tuple(paths[id(v)] for v in tvars)
        opt.build(tvars, list(sig))
        template = opt.init_state([v.value for v in tvars])

        def bind():
            opt.build(tvars, list(sig))
            model.training_session.opt_signature = sig
        return template, bind
    tx = opt.to_optax()
    template = tx.init(model.get_params())

    def bind_tx():
        model._tx = tx
    return template, bind_tx


def _read_optimizer(model, reader):
    """Read the optimizer state (checked against the model); returns a deferred setter."""
    import jax
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return None
    label = reader.label
    step = None
    trine_group = reader.get_group("_trine")
    if trine_group is not None and "step" in trine_group:
        step = int(np.asarray(reader.read(trine_group, "step", expected_shape=(), path="_trine")))
    private = reader.get_group("_trine/optimizer")
    keras = reader.get_group("optimizer/vars")
    group, gpath = (private, "_trine/optimizer") if private is not None else (keras, "optimizer/vars")
    if group is None:
        return None
    names = sorted(group.keys(), key=_num_key)
    if names != [str(i) for i in range(len(names))]:
        raise SavingError(f"The {label} is malformed: unexpected entries {names} in '{gpath}'.")
    opt = model.optimizer
    try:
        template, bind = _optimizer_template(model)
    except (TypeError, ValueError, AttributeError, RuntimeError):
        return None
    if private is not None:
        leaves, treedef = jax.tree_util.tree_flatten(template)
        shapes = [tuple(np.shape(l)) for l in leaves]

        def build(arrays):
            import jax.numpy as jnp
            new = [jnp.asarray(a, dtype=jnp.asarray(l).dtype) for a, l in zip(arrays, leaves)]
            return jax.tree_util.tree_unflatten(treedef, new), None
    else:
        plan = _keras_optimizer_plan(model, template)
        if plan is None:
            warnings.warn(f"Skipping the optimizer state in {label}: trine cannot map Keras's "
                          f"optimizer variables onto {type(opt).__name__}.", stacklevel=4)
            return None
        shapes, build = plan
        if len(names) <= (1 if _lr_is_schedule(opt) else 2) and len(names) != len(shapes):
            return None  # the file's optimizer never ran (Keras writes only step and rate)
    if len(names) != len(shapes):
        warnings.warn(
            f"Skipping the optimizer state in {label}: it holds {len(names)} variables, but "
            f"{type(opt).__name__} on this model has {len(shapes)}. The optimizer starts fresh.",
            stacklevel=4)
        return None
    try:
        arrays = [reader.read(group, n, expected_shape=shp, path=gpath)
                  for n, shp in zip(names, shapes)]
    except ShapeMismatch as e:
        warnings.warn(f"Skipping the optimizer state in {label}: {e}. The optimizer starts "
                      "fresh.", stacklevel=4)
        return None
    state, count = build(arrays)

    def apply():
        from trine import optimizers
        bind()
        pushed_lr = None
        if not _lr_is_schedule(opt):
            try:  # the rate may have changed during training (ReduceLROnPlateau): keep it
                lr = float(optimizers.get_learning_rate(state))
                opt.learning_rate = lr
                pushed_lr = float(opt.learning_rate)
            except (ValueError, TypeError, AttributeError):
                pass
        model.training_session.restore_optimizer_state(
            state, step=step if step is not None else count, learning_rate=pushed_lr)
        model._trainer_cache = {}

    return apply


def open_weights(filepath, label=None) -> SafeH5Reader:
    """Open and vet a `.weights.h5` file, or the weights inside a `.keras` archive."""
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        data = read_archive_member(filepath, "model.weights.h5")
        return SafeH5Reader(data, label=label or f"the weights in {filepath!r}")
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No weights file at {filepath!r}.")
    return SafeH5Reader(filepath, label=label or f"weights file {filepath!r}")


def load_weights(model, filepath, skip_mismatch: bool = False, **kwargs) -> None:
    """Load weights saved by `save_weights` (trine or Keras 3) or a `.keras` archive.

    Every array is read and checked against the model before any is assigned, so a failed
    load changes nothing. If the model is compiled, the optimizer state is restored too (the
    model continues training where the saved one stopped).

    Args:
        model: a built model with the architecture the file was saved from.
        filepath: a ".weights.h5" file or a ".keras" archive.
        skip_mismatch: skip layers whose variables do not match (with a warning) instead of
            raising.

    Raises:
        SavingError: a missing, malformed or mismatching file (nothing is loaded).
        UnsafeFileError: a file with links, external storage, oversized datasets, ...

    Example:
        >>> model.load_weights("model.weights.h5")
    """
    unknown = set(kwargs) - {"objects_to_skip"}
    if unknown:
        raise TypeError(f"load_weights got unexpected arguments {sorted(unknown)}.")
    if not model.built:
        raise ValueError(
            f"Model '{model.name}' has not been built, so its weights cannot be loaded. Call it "
            "on data or call model.build(input_shape) first.")
    filepath = os.fspath(filepath)
    if not filepath.endswith((".weights.h5", ".keras", ".h5")):
        raise ValueError(f"load_weights: expected a '.weights.h5' or '.keras' file, received "
                         f"{filepath!r}.")
    remove_stale(filepath)  # a killed save's temporary file goes with the next use of the path

    def load():
        with open_weights(filepath) as reader:
            if reader.get_group("vars") is None and "layer_names" in reader.file.attrs:
                raise SavingError(
                    f"{filepath!r} is a legacy Keras 2 HDF5 weights file (layers listed by "
                    "name); trine reads the Keras 3 layout only. Load it in Keras and save it "
                    "again with model.save_weights('x.weights.h5').")
            read_weights(model, reader, skip_mismatch=skip_mismatch)

    _as_saving_error(load, repr(filepath))


__all__ = ["atomic_write", "keras_variable_order", "load_weights", "open_weights",
           "read_weights", "save_weights", "walk", "write_weights"]
