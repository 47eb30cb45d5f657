"""The training loop: compile / fit / evaluate / predict on one pure, jitted step.

`train_step(train_state, batch) -> (train_state, logs)` is pure; it is jitted once per model,
batch signature and chunk length, and a chunk of steps runs as one XLA program (a
`fori_loop` that gathers each batch from device-resident data or from a stacked host chunk).
Per-step logs come back stacked, so callbacks and History see every step. Values return to
the model's Variables only at sync points: the end of fit / evaluate, train_on_batch, and
before callbacks that read weights at epoch end.
"""
from __future__ import annotations

import collections
import functools
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trine.distribution import placement as _distribution
from trine.training import data as data_mod
from trine.training import sources as _sources
from trine.training import outputs as _outputs
from trine.training.custom_steps import call_compute_loss, is_single_result, step_logs

_TAG_DROPOUT = 0x7D1
_TAG_SHUFFLE = 0x5A1



# Whether fit donates the train state to its compiled steps, so XLA updates the weights and
# optimizer state in place instead of holding two copies. None: on every backend but the CPU
# (where XLA gains little from it). Tests set True to exercise the donating path on the CPU.
DONATE_STATE = None


def donating() -> bool:
    if DONATE_STATE is not None:
        return bool(DONATE_STATE)
    return jax.default_backend() != "cpu"


# Whether a fused chunk is a loop of a fixed trip count (one program per chunk length; the
# last partial chunk of a pass gets a program of its own length, compiled once) or of a trip
# count passed at run time (one program for any count up to the chunk length). On the CPU a
# run-time count costs nothing. On a GPU XLA reads such a loop's predicate back to the host
# every iteration, so accelerators get fixed counts (with the longer chunks below, W1's
# fit(epochs=1) on an H200 went from 2.6x to 1.8x the whole-epoch scan, and 1.34x inside a
# multi-epoch fit). None: fixed off the CPU. Tests set True for the fixed-count path on CPU.
STATIC_LOOPS = None


def even_chunk(total, k):
    """A chunk length near `k` that splits `total` steps evenly, where one exists.

    With fixed-length loops every distinct chunk length is a program to compile, so a pass
    of 1875 steps (Fashion-MNIST at batch 32) runs as 5 chunks of 375 rather than 7 of 256
    and a last one of 83: one compile fewer in the first epoch (0.8 s on an H200). Passes of
    up to 2k steps are one chunk; totals with no divisor in [k/2, 2k] keep k."""
    if total <= 0:
        return k
    if total <= 2 * k:
        return total
    for d in sorted(range(k // 2, 2 * k + 1), key=lambda d: (abs(d - k), -d)):
        if total % d == 0:
            return d
    return k


_POOLS = {}


def _pool(name, workers):
    """A process-wide worker pool, made on first use: "compile" compiles programs a pass
    needs later (XLA drops the GIL), "prefetch" gathers the next host chunk (so does
    NumPy's take)."""
    if name not in _POOLS:
        import concurrent.futures
        _POOLS[name] = concurrent.futures.ThreadPoolExecutor(workers, f"trine-{name}")
    return _POOLS[name]


def static_loops() -> bool:
    if STATIC_LOOPS is not None:
        return bool(STATIC_LOOPS)
    return jax.default_backend() != "cpu"


# Primitives that XLA's CPU backend runs several times slower inside a loop body than as a
# program of their own: with them, "auto" runs one step per call on the CPU. Measured on W3
# (two Conv2D layers, 2-core CPU): a 64-step fused chunk 6-8x slower per step than single
# steps, while every dense / recurrent / embedding workload gains 10-40% from fusion.
SLOW_IN_CPU_LOOPS = frozenset({"conv_general_dilated"})


def jaxpr_primitives(jaxpr, found=None) -> set:
    """Names of all primitives in `jaxpr` (a Jaxpr or ClosedJaxpr), nested ones included."""
    found = set() if found is None else found
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    for eqn in jaxpr.eqns:
        found.add(eqn.primitive.name)
        for value in eqn.params.values():
            for sub in (value if isinstance(value, (tuple, list)) else (value,)):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    jaxpr_primitives(inner, found)
    return found

class TrainState(NamedTuple):
    """Everything a train step reads and writes, as one pytree.

    The first four fields are Keras 3's JAX training state, in Keras's order, so a custom
    `train_step(self, state, data)` written for Keras receives exactly what it expects.

    Attributes:
        trainable: trainable values, a list aligned with `model.trainable_variables`.
        non_trainable: non-trainable values (BatchNorm statistics), aligned with
            `model.non_trainable_variables`.
        optimizer: the optimizer state (an optax state keyed by variable path).
        metrics: metric values, a flat list aligned with `model.metrics_variables`.
        step: the global step counter (int32 scalar), from which per-step keys derive.
    """
    trainable: Any
    non_trainable: Any
    optimizer: Any
    metrics: Any
    step: Any

    @property
    def keras_state(self):
        return (self.trainable, self.non_trainable, self.optimizer, self.metrics)


_DROPOUT_BASES = {}
# evaluate / predict steps fold (pass seed, batch number in the pass) into this key
_EVAL_KEY = np.array([0x7E57, 0x5EED], np.uint32)


class _EvalSeeded:
    """An evaluate / predict runner called with two more arguments: a uint32 seed new with
    every pass (from the global seed and a per-model count of passes) and the number of the
    chunk's first batch in the pass (counted from the `n_steps` of earlier calls), so
    `trine.random` draws and `Layer.rng_key()` in those steps get a key per pass and batch:
    fresh noise every batch and every predict call, reproducible, and the same whatever
    `steps_per_execution` is. `trace` (to inspect, to compile ahead) passes placeholders."""

    def __init__(self, fn, model):
        self.fn, self.model = fn, model

    def __call__(self, *args):
        m = self.model
        seed, first = m._eval_pass
        m._eval_pass = (seed, first + int(args[-1]))
        return self.fn(*args, seed, np.int32(first))

    def __getattr__(self, name):  # `trace` only where the runner is jitted
        if name == "trace":
            inner = getattr(self.fn, "trace")
            return lambda *args: inner(*args, np.uint32(0), np.int32(0))
        raise AttributeError(name)


def _dropout_base(seed):
    """The key fit's dropout streams fold the step number into (one per global seed, made
    without a compiled fold_in: first epochs are dominated by compiles)."""
    if seed not in _DROPOUT_BASES:
        _DROPOUT_BASES[seed] = jax.random.key((int(seed) * 0x9E3779B1 + _TAG_DROPOUT) % 2**32)
    return _DROPOUT_BASES[seed]


@functools.lru_cache(maxsize=64)
def _zeros_fn(specs):
    return jax.jit(lambda: [jnp.zeros(shape, dtype) for shape, dtype in specs])


def _zeros(specs):
    """Fresh zero arrays of `specs` ((shape, dtype), ...) from one jitted call."""
    return _zeros_fn(specs)()


def _copies(tree):
    """A copy of every array in `tree`, in one batched call (no compile)."""
    return jax.device_put(tree, may_alias=False)


class _StateRefs:
    """The Variables a fit / train_on_batch call trains, taken once per call; the values it
    last wrote into them (to notice assignments made in between); and `pending`, a train
    state not yet written back (what `jax_state_sync` writes)."""

    __slots__ = ("trainable", "non_trainable", "params", "metric_variables", "metrics",
                 "pending", "_synced")

    def __init__(self, trainable, non_trainable, metrics):
        self.trainable, self.non_trainable = trainable, non_trainable
        self.params = trainable + non_trainable
        self.metrics = metrics
        self.metric_variables = [v for m in metrics for v in m.variables]
        self.pending = None
        self.mark_synced()

    def mark_synced(self):
        self._synced = [v._value for v in self.params]
        self.pending = None

    def assigned_since_sync(self) -> bool:
        return any(v._value is not a for v, a in zip(self.params, self._synced))


_GOOD_LABELS = {}  # id(jax.Array) -> (weakref to it, {(classes, ignore_class) checked})


def _labels_known_good(y, key, add=False):
    """Whether the JAX array `y` already passed the label check `key` (with add=True:
    record that it did). JAX arrays are immutable, so a check holds for the object's life;
    NumPy arrays can change between calls and are always checked."""
    if not isinstance(y, jax.Array):
        return False
    entry = _GOOD_LABELS.get(id(y))
    if entry is not None and entry[0]() is not y:
        entry = None
    if not add:
        return entry is not None and key in entry[1]
    if entry is None:
        import weakref
        entry = _GOOD_LABELS[id(y)] = (
            weakref.ref(y, lambda _, k=id(y): _GOOD_LABELS.pop(k, None)), set())
    entry[1].add(key)
    return True


def _log_value(v):
    """One step's logged value: a Python float, or a NumPy array for a metric whose result
    is one (F1Score(average=None), Precision with a list of thresholds), as Keras logs it."""
    v = np.asarray(v)
    return float(v) if v.ndim == 0 else v.copy()


def _last_step_logs(chunk, into):
    """Put the last step's values of a chunk's stacked logs into the dict `into`."""
    logs, n = chunk
    into.clear()
    into.update({k: _log_value(v[n - 1]) for k, v in _fetch(logs).items()})


def _fetch(tree):
    return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))


def unpack_x_y_sample_weight(data):
    """Split a batch into `(x, y, sample_weight)` (Keras `keras.utils.unpack_x_y_sample_weight`)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        f"Data is expected as (x,), (x, y) or (x, y, sample_weight); received a tuple of "
        f"{len(data)} elements.")


def _pack(x, y, sw):
    if y is None and sw is None:
        return (x,)
    if sw is None:
        return (x, y)
    return (x, y, sw)


_RIGHT_PATTERN = """
    def train_step(self, state, data):
        trainable, non_trainable, optimizer_vars, metrics_vars = state
        x, y = data
        (loss, (y_pred, non_trainable)), grads = jax.value_and_grad(
            self.compute_loss_and_updates, has_aux=True)(trainable, non_trainable, x, y,
                                                          training=True)
        trainable, optimizer_vars = self.optimizer.stateless_apply(optimizer_vars, grads,
                                                                   trainable)
        ...  # update metrics_vars with metric.stateless_update_state
        return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)"""


def _flatten_logs(logs, prefix=""):
    out = {}
    for k, v in dict(logs).items():
        if isinstance(v, dict):
            out.update(_flatten_logs(v))
        else:
            out[k] = v
    return out


class Trainer:
    """Mixin with the Keras training API; `Model` inherits it."""

    def __init__(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._trainer_cache = {}
        self._opt_state = None
        self._step = 0
        self._compile_built = False
        self.trace_counts = collections.Counter()
        self._auto_k = {}
        self._run_eagerly = False
        self._compiling = {}
        self._ahead = set()

    # ================================================================== compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly: bool = False, steps_per_execution="auto",
                jit_compile="auto", auto_scale_loss: bool = True):
        """Configure the model for training.

        Args:
            optimizer: a name ("sgd", "adam", ...), a trine optimizer, or an optax
                GradientTransformation.
            loss: a name, Loss instance or callable; a list or dict for several outputs.
            loss_weights: per-output weights (list or dict).
            metrics: names, Metric instances or callables; "accuracy" is resolved from the
                loss and shapes as Keras does. A list of lists / dict for several outputs.
            weighted_metrics: metrics that use sample weights.
            run_eagerly: run steps without jit (for debugging; slow).
            steps_per_execution: steps fused into one XLA program: an integer, "epoch" or
                "auto" (default: measured, so fusion never makes training slower).
            jit_compile: accepted for compatibility; trine always compiles with XLA unless
                run_eagerly=True.

        Raises:
            ValueError: for an unknown optimizer, loss or metric name (valid names are listed).
        """
        from trine import losses as losses_mod
        from trine import metrics as metrics_mod
        from trine import optimizers as opt_mod

        self.optimizer = opt_mod.get(optimizer)
        # resolve eagerly so a bad name fails at compile, not in fit
        for l in jax.tree_util.tree_leaves(loss, is_leaf=lambda v: v is not None and not isinstance(v, (list, tuple, dict))):
            if l is not None:
                losses_mod.get(l)
        for group in (metrics, weighted_metrics):
            for m in jax.tree_util.tree_leaves(group, is_leaf=lambda v: not isinstance(v, (list, tuple, dict))):
                if isinstance(m, str) and m.lower() in ("accuracy", "acc", "crossentropy", "ce"):
                    continue
                if m is not None:
                    metrics_mod.get(m)
        if isinstance(steps_per_execution, str):
            if steps_per_execution not in ("auto", "epoch"):
                raise ValueError(
                    f"steps_per_execution must be a positive integer, 'auto' or 'epoch', "
                    f"received {steps_per_execution!r}.")
        elif isinstance(steps_per_execution, bool) or int(steps_per_execution) < 1:
            raise ValueError(
                f"steps_per_execution must be a positive integer, 'auto' or 'epoch', "
                f"received {steps_per_execution!r}.")
        self.loss = loss
        self._loss_arg, self._loss_weights_arg = loss, loss_weights
        self._metrics_arg, self._weighted_metrics_arg = metrics, weighted_metrics
        self._run_eagerly = bool(run_eagerly)
        self.steps_per_execution = steps_per_execution
        self.jit_compile = jit_compile
        self.compiled = True
        self._compile_built = False
        self._trainer_cache = {}
        self._opt_state = None
        self._tx = None
        self._auto_k = {}
        self._compiling = {}
        self._ahead = set()
        self._step = 0

    @property
    def run_eagerly(self):
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._run_eagerly = bool(value)
        self._trainer_cache = {}

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must call compile() before {what}() on model '{self.name}', e.g. "
                "model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', "
                "metrics=['accuracy']).")

    # ================================================================== output structure
    def _output_names(self, y_pred_spec):
        return _outputs.resolve_names(y_pred_spec, getattr(self, "output_names", None))

    def _build_compiled(self, x_spec, y_spec):
        """Resolve losses and metrics once the output structure is known."""
        from trine import losses as losses_mod
        from trine import metrics as metrics_mod

        if self._loss_arg is None and self._metrics_arg is None and self._weighted_metrics_arg is None:
            y_pred_spec = None  # nothing to resolve against the outputs (custom train_step)
        else:
            y_pred_spec = jax.eval_shape(lambda x: self._symbolic_forward(x), x_spec)
        self._y_pred_treedef = jax.tree_util.tree_structure(y_pred_spec)
        names = self._output_names(y_pred_spec)
        pred_leaves = _outputs.flat_outputs(y_pred_spec, names)
        n_out = len(pred_leaves)
        self._out_names = names
        self._y_pred_is_dict = isinstance(y_pred_spec, dict)
        has_loss = [l is not None for l in _outputs.per_output_arg(
            self._loss_arg, names, "loss", self.name)]
        y_leaves = ([None] * n_out if y_pred_spec is None else
                    _outputs.flat_targets(y_spec, names, self.name, has_loss, y_pred_spec))

        def per_output(arg, what):
            if what.endswith("metrics"):
                return _outputs.per_output_metrics(arg, names, what, self.name)
            return _outputs.per_output_arg(arg, names, what, self.name)

        loss_list = per_output(self._loss_arg, "loss")
        lw = per_output(self._loss_weights_arg, "loss_weights")
        self._losses = []
        for i, l in enumerate(loss_list):
            if l is None:
                self._losses.append(None)
                continue
            fn = losses_mod.get(l)
            self._losses.append((fn, 1.0 if lw[i] is None else float(lw[i])))
        if all(l is None for l in self._losses) and self._loss_arg is not None:
            raise ValueError(f"compile(loss=...) matched none of the outputs {names}.")
        self._trackers = [metrics_mod.Mean(name="loss")]
        with_loss = [n for n, l in zip(names, self._losses) if l is not None]
        if len(with_loss) > 1:  # Keras: a tracker per output loss when there are several
            self._trackers += [metrics_mod.Mean(name=f"{n}_loss") for n in with_loss]
        self._metrics_list = []
        for group, weighted in ((self._metrics_arg, False), (self._weighted_metrics_arg, True)):
            for i, ms in enumerate(per_output(group, "weighted_metrics" if weighted else "metrics")):
                if ms is None:
                    continue
                if not isinstance(ms, (list, tuple)):
                    ms = [ms]
                for m in ms:
                    if isinstance(m, str) and m.lower() in ("accuracy", "acc", "crossentropy", "ce"):
                        yt = y_leaves[i] if i < len(y_leaves) else None
                        metric = metrics_mod.resolve_accuracy(
                            m, self._losses[i][0] if self._losses[i] else None,
                            None if yt is None else tuple(yt.shape), tuple(pred_leaves[i].shape))
                    else:
                        metric = metrics_mod.get(m)
                        if isinstance(m, metrics_mod.Metric):
                            metric = m
                    if not getattr(metric, "_built", True):  # state sized by the data (F1Score,
                        yt = y_leaves[i] if i < len(y_leaves) else None  # R2Score, AUC with
                        metric.build(None if yt is None else tuple(yt.shape),  # multi_label):
                                     tuple(pred_leaves[i].shape))  # built from the batch's shapes
                    base = metric.name
                    if weighted and self._metrics_arg is not None:
                        base = f"weighted_{base}"
                    name = f"{names[i]}_{base}" if n_out > 1 else base
                    self._metrics_list.append((i, metric, name, weighted))
        self._compile_built = True
        self._sparse_label_checks = []
        for i, entry in enumerate(self._losses):
            if entry is None:
                continue
            fn = entry[0]
            lname = (getattr(fn, "name", None) or getattr(getattr(fn, "fn", None), "__name__", "")
                     or type(fn).__name__)
            if "sparse_categorical" in str(lname).lower() or type(fn).__name__ == "SparseCategoricalCrossentropy":
                self._sparse_label_checks.append((i, int(pred_leaves[i].shape[-1] or 0), fn))

    def _symbolic_forward(self, x):
        from trine.core.layer import CallContext
        with CallContext(training=False, rng=jax.random.key(0), collect_losses=True):
            return self(x, training=False)

    def _ensure_built(self, x_batch):
        if self.built:
            return
        from trine.core.layer import Layer
        if type(self).call is Layer.call and all(l.built for l in self._flatten_layers(include_self=False)):
            self.built = True  # no call() to trace: e.g. a GAN holding built sub-models
            return
        spec = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(tuple(a.shape), a.dtype), x_batch)
        from trine.core.symbolic import KerasTensor

        def to_sym(s):
            dt = s.dtype if jnp.issubdtype(s.dtype, jnp.floating) else jnp.float32
            return KerasTensor((None,) + tuple(s.shape[1:]), dt)

        sym = jax.tree_util.tree_map(to_sym, spec)
        from trine.models.sequential import Sequential
        if isinstance(self, Sequential):
            self._maybe_build(x_batch if not isinstance(x_batch, (list, dict)) else x_batch)
        else:
            self.compute_output_spec(sym) if not isinstance(sym, list) else self.compute_output_spec(sym)
            if self.__dict__.get("_build_input_shape") is None:  # for model files (build_config)
                self._build_input_shape = jax.tree_util.tree_map(lambda t: t.shape, sym)
            self.built = True

    # ================================================================== pure pieces
    def _check_labels(self, y):
        """Host-side check: sparse labels must be integers in [0, classes)."""
        if not getattr(self, "_sparse_label_checks", None) or y is None:
            return
        leaves = self._flat_targets(y)
        for i, n_classes, fn in self._sparse_label_checks:
            if i >= len(leaves) or leaves[i] is None or not n_classes:
                continue
            ignore = getattr(fn, "ignore_class", None)
            if _labels_known_good(leaves[i], (n_classes, ignore)):
                continue  # a device array checked before: immutable, and fetching it syncs
            yi = np.asarray(leaves[i])
            if yi.size == 0:
                continue
            vals = yi if ignore is None else yi[yi != ignore]
            if vals.size == 0:
                continue
            lo, hi = vals.min(), vals.max()
            if lo < 0 or hi >= n_classes or (np.issubdtype(yi.dtype, np.floating)
                                               and not np.all(np.mod(vals, 1) == 0)):
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"Labels for sparse categorical crossentropy (output '{self._out_names[i]}') "
                    f"must be integers in [0, {n_classes}); received a label {bad!r} "
                    f"(labels range from {lo!r} to {hi!r}). Check the labels, or give the last "
                    f"layer as many units as there are classes.")
            _labels_known_good(leaves[i], (n_classes, ignore), add=True)

    # ================================================================== loss and metrics
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss of a batch: compiled losses (weighted per output) plus the model's
        added losses (regularization penalties, `add_loss`). Override to customise."""
        total, per = self._compiled_loss(y, y_pred, sample_weight)
        self._per_output_losses = per
        extra = self.losses
        if extra:
            total = total + sum(jnp.sum(l).astype(jnp.float32) for l in extra)
        return total

    def stateless_compute_loss(self, trainable_variables, non_trainable_variables,
                               metrics_variables, x=None, y=None, y_pred=None,
                               sample_weight=None, training=True):
        """`compute_loss` as a pure function of the variable values (Keras 3 API).

        Returns:
            `(loss, (trainable_values, non_trainable_values, metrics_values))`, with the
            updates `compute_loss` made (e.g. to a loss tracker) in the last two.
        """
        from trine.core.variable import StatelessScope
        mv = list(metrics_variables)
        if len(mv) != len(self.metrics_variables):
            raise ValueError(
                f"Model '{self.name}'.stateless_compute_loss expected {len(self.metrics_variables)} "
                f"metric values (aligned with model.metrics_variables), received {len(mv)}.")
        mapping = self._mapping(self.trainable_variables, trainable_variables, "params")
        mapping.update(self._mapping(self.non_trainable_variables, non_trainable_variables,
                                     "state"))
        mapping.update(zip(self.metrics_variables, mv))
        try:
            with StatelessScope(mapping) as scope:
                loss = call_compute_loss(self, x, y, y_pred, sample_weight, training)
        finally:
            self._per_output_losses = None
        ntv = [scope.get(v) for v in self.non_trainable_variables]
        mv = [scope.get(v) for v in self.metrics_variables]
        return loss, (trainable_variables, ntv, mv)

    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y,
                                 sample_weight=None, training=False):
        """Forward pass and loss as a pure function, for `jax.value_and_grad`.

        Returns:
            `(loss, (y_pred, new_non_trainable_values))`.
        """
        loss, (y_pred, ntv, _, _) = self._loss_and_updates(
            trainable_variables, non_trainable_variables, x, y, sample_weight, training)
        return loss, (y_pred, ntv)

    def _loss_and_updates(self, tv, ntv, x, y, sw, training, mv=None):
        """As compute_loss_and_updates, also returning the per-output losses (for trackers)
        and, given the metric values `mv`, those updated by `compute_loss` (a loss tracker's
        `update_state` in an overridden compute_loss, as in Keras's docs)."""
        from trine.core.variable import StatelessScope
        y_pred, ntv, losses = self.stateless_call(tv, ntv, x, training=training,
                                                  return_losses=True)
        self._losses_override = losses
        self._per_output_losses = None
        refs = self.metrics_variables if mv is not None else []
        try:
            with StatelessScope(dict(zip(refs, mv or []))) as scope:
                loss = call_compute_loss(self, x, y, y_pred, sw, training)
            per = self._per_output_losses or []
        finally:
            self._losses_override = None
            self._per_output_losses = None
        if mv is not None:
            mv = [scope.get(v) for v in refs]
        return loss, (y_pred, ntv, per, mv)

    def _compiled_loss(self, y, y_pred, sw):
        if not self._compile_built:
            raise RuntimeError(f"Model '{self.name}' has no compiled loss: call compile(loss=...).")
        names = self._out_names
        y_leaves = self._flat_targets(y)
        p_leaves = _outputs.flat_outputs(y_pred, names)
        sws = _outputs.flat_sample_weights(sw, names, self.name)
        total = jnp.zeros((), jnp.float32)
        per = []
        for i, entry in enumerate(self._losses):
            if entry is None:  # per holds the outputs with losses, as the trackers do
                continue
            if i >= len(y_leaves) or y_leaves[i] is None:
                raise ValueError(
                    f"Model '{self.name}' has a loss for output '{names[i]}' but y has no "
                    f"target for it. Pass one target per output with a loss: a list in the "
                    f"order of model.outputs {names}, or a dict keyed by output name.")
            fn, w = entry
            li = jnp.asarray(fn(y_leaves[i], p_leaves[i], sample_weight=sws[i]), jnp.float32)
            per.append(li)
            total = total + w * li
        return total, per

    def _flat_targets(self, y):
        """`y` as a list aligned with the outputs (`self._out_names`): by name for dicts."""
        if not self._out_names:  # nothing compiled against the outputs (custom steps)
            return []
        has_loss = [entry is not None for entry in self._losses]
        return _outputs.flat_targets(y, self._out_names, self.name, has_loss,
                                     jax.tree_util.tree_unflatten(
                                         self._y_pred_treedef,
                                         [0] * self._y_pred_treedef.num_leaves)
                                     if self._y_pred_treedef.num_leaves else None)

    @property
    def metrics(self) -> list:
        """Loss trackers, compiled metrics, then Metric objects assigned as attributes."""
        from trine import metrics as metrics_mod
        out = []
        if self._compile_built:
            out += list(self._trackers) + [m for _, m, _, _ in self._metrics_list]
        for m in self._walk(metrics_mod.Metric):
            if all(m is not o for o in out):
                out.append(m)
        return out

    @property
    def metrics_variables(self) -> list:
        return [v for m in self.metrics for v in m.variables]

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics for a batch and return all metric results.

        Uses the stateful metric API; inside a step it runs in a scope that collects the
        updates purely. Override to customise (as in Keras).
        """
        names = self._out_names
        y_leaves = self._flat_targets(y)
        p_leaves = _outputs.flat_outputs(y_pred, names)
        sws = _outputs.flat_sample_weights(sample_weight, names, self.name)
        for i, m, _, weighted in self._metrics_list:
            m.update_state(y_leaves[i] if i < len(y_leaves) else None, p_leaves[i],
                           sample_weight=sws[i] if weighted else None)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        """Current results of the compiled metrics and loss trackers, by log name."""
        logs = {}
        for _, m, name, _ in self._metrics_list:
            r = m.result()
            if isinstance(r, dict):
                logs.update(r)
            else:
                logs[name] = r
        for t in self._trackers:
            logs[t.name] = t.result()
        for m in self.metrics:
            compiled = self._trackers + [c for _, c, _, _ in self._metrics_list]
            if m.name not in logs and all(m is not o for o in compiled):
                r = m.result()
                if isinstance(r, dict):
                    logs.update(r)
                else:
                    logs[m.name] = r
        return logs

    def _metric_values(self):
        return [v.value for v in self.metrics_variables]

    def _reset_metric_values(self, metrics=None):
        """Every metric's initial state, aligned with `metrics_variables`. Metrics that keep
        Metric's own reset_state start at zeros, made by one cached jitted call: eager
        jnp.zeros costs ~0.15 ms apiece per epoch, the jitted call ~0.02 ms in all."""
        from trine.metrics import Metric
        metrics = self.metrics if metrics is None else metrics
        zero_reset = [type(m).reset_state is Metric.reset_state
                      and type(m).stateless_reset_state is Metric.stateless_reset_state
                      for m in metrics]
        specs = tuple((tuple(v.shape), v.dtype)
                      for m, z in zip(metrics, zero_reset) if z for v in m.variables)
        zeros = iter(_zeros(specs) if specs else ())
        out = []
        for m, z in zip(metrics, zero_reset):
            out.extend([next(zeros) for _ in m.variables] if z else m.stateless_reset_state())
        return out

    def _update_metrics_variables(self, metrics_variables, loss, x, y, y_pred, sample_weight,
                                  per_output=()):
        """Loss trackers and `compute_metrics`, run purely on `metrics_variables`."""
        from trine.core.variable import StatelessScope
        refs = self.metrics_variables
        if len(refs) != len(metrics_variables):
            raise ValueError(
                f"Model '{self.name}': expected {len(refs)} metric values (aligned with "
                f"model.metrics_variables), received {len(metrics_variables)}.")
        n = jnp.asarray(jax.tree_util.tree_leaves(x)[0].shape[0], jnp.float32)
        with StatelessScope(dict(zip(refs, metrics_variables))) as scope:
            self._trackers[0].update_state(loss, sample_weight=n)
            for t, li in zip(self._trackers[1:], per_output):
                t.update_state(li, sample_weight=n)
            logs = self.compute_metrics(x, y, y_pred, sample_weight)
            new = [scope.get(v) if scope.get(v) is not None else v.value for v in refs]
        logs = {k: jnp.asarray(v, jnp.float32) for k, v in _flatten_logs(logs).items()}
        return logs, new

    # ================================================================== steps (Keras 3 JAX API)
    def train_step(self, state, data):
        """One training step, purely: `(logs, new_state)` from `state` and a batch.

        `state` is `(trainable_values, non_trainable_values, optimizer_state,
        metrics_values)` — Keras 3's JAX convention — and `data` is `(x, y)` or
        `(x, y, sample_weight)`. Override it for custom training; `fit` keeps fusing,
        callbacks and progress output.
        """
        tv, ntv, ov, mv = state
        x, y, sw = unpack_x_y_sample_weight(data)
        (loss, (y_pred, ntv, per, mv)), grads = jax.value_and_grad(
            self._loss_and_updates, has_aux=True)(tv, ntv, x, y, sw, True, mv)
        tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
        logs, mv = self._update_metrics_variables(mv, loss, x, y, y_pred, sw, per)
        return logs, (tv, ntv, ov, mv)

    def test_step(self, state, data):
        """One evaluation step: `(logs, (trainable, non_trainable, metrics_values))`."""
        tv, ntv, mv = state
        x, y, sw = unpack_x_y_sample_weight(data)
        loss, (y_pred, ntv, per, mv) = self._loss_and_updates(tv, ntv, x, y, sw, False, mv)
        logs, mv = self._update_metrics_variables(mv, loss, x, y, y_pred, sw, per)
        return logs, (tv, ntv, mv)

    def predict_step(self, state, data):
        """One prediction step: `(outputs, non_trainable_values)`."""
        tv, ntv = state
        x, _, _ = unpack_x_y_sample_weight(data)
        return self.stateless_call(tv, ntv, x, training=False)

    def _check_step_state(self, what, state, expected):
        if not isinstance(state, (tuple, list)) or len(state) != len(expected):
            raise TypeError(
                f"{type(self).__name__}.{what} must return (logs, state) with state a tuple of "
                f"{len(expected)} ({', '.join(expected)}); received state of type "
                f"{type(state).__name__}"
                + (f" with {len(state)} elements" if isinstance(state, (tuple, list)) else "")
                + f". The pattern (Keras 3 on JAX):{_RIGHT_PATTERN}")

    def _wrapped_step(self, kind, guard):
        """The step a compiled loop runs: carry and batch in, (carry, logs) out."""
        from trine.core.layer import CallContext

        def data_of(batch):
            x, y, sw = batch
            return _pack(x, y, sw)

        if kind == "train":
            def step(c, batch):
                with CallContext(rng=jax.random.fold_in(self._rng_base, c.step)):
                    out = self.train_step(c.keras_state, data_of(batch))
                if not isinstance(out, (tuple, list)) or len(out) != 2 or not (
                        isinstance(out[0], dict) or is_single_result(out[0])):
                    raise TypeError(
                        f"{type(self).__name__}.train_step must return (logs, state) with logs a "
                        f"dict (or one metric's result); received {type(out).__name__}. The "
                        f"pattern (Keras 3 on JAX):{_RIGHT_PATTERN}")
                logs, st = out
                self._check_step_state("train_step", st, ("trainable", "non_trainable",
                                                          "optimizer", "metrics"))
                tv, ntv, ov, mv = st
                logs = _flatten_logs(step_logs(self, logs, list(mv)))
                if guard and "loss" in logs:
                    ok = jnp.isfinite(logs["loss"])
                    keep = lambda new, old: jax.tree_util.tree_map(
                        lambda a, b: jnp.where(ok, a, b), new, old)
                    tv, ntv, ov = keep(list(tv), c.trainable), keep(list(ntv), c.non_trainable), keep(ov, c.optimizer)
                logs = {k: jnp.asarray(v, jnp.float32) for k, v in logs.items()}
                return TrainState(list(tv), list(ntv), ov, list(mv), c.step + 1), logs
        elif kind == "test":
            def step(c, batch):
                out = self.test_step(c, data_of(batch))
                if not isinstance(out, (tuple, list)) or len(out) != 2:
                    raise TypeError(f"{type(self).__name__}.test_step must return (logs, state).")
                logs, st = out
                self._check_step_state("test_step", st, ("trainable", "non_trainable", "metrics"))
                logs = _flatten_logs(step_logs(self, logs, list(st[2])))
                logs = {k: jnp.asarray(v, jnp.float32) for k, v in logs.items()}
                return (st[0], st[1], list(st[2])), logs
        else:
            def step(c, batch):
                x = batch[0]
                out = self.predict_step(c, (x,))
                if (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], list)
                        and len(out[1]) == len(c[1])):
                    out = out[0]
                return c, out
        return step

    # ================================================================== compiled runners
    def _runner(self, kind, source, K, bs, guard=False):
        """A jitted function running up to K steps of `kind` ('train'/'test'/'predict')."""
        key = (kind, source, K, bs, guard, static_loops(), _distribution.cache_token())
        pending = self._compiling.pop(key, None)
        if pending is not None:
            pending.result()  # compiled ahead on a worker thread: the call will find it
        fn = self._trainer_cache.get(key)
        if fn is not None:
            return fn
        step = _distribution.wrap_step(self, self._wrapped_step(kind, guard), kind)

        static = static_loops()

        def loop(carry, get_batch, n_steps, seed=()):
            self.trace_counts[kind] += 1
            if seed:  # evaluate / predict: random draws get a key per pass and batch
                from trine.core.layer import CallContext
                base = jax.random.fold_in(jax.random.wrap_key_data(_EVAL_KEY), seed[0])

                def run_step(c, batch, i):
                    with CallContext(rng=jax.random.fold_in(base, seed[1] + i)):
                        return step(c, batch)
            else:
                run_step = lambda c, batch, i: step(c, batch)  # noqa: E731
            if K == 1:
                carry, logs = run_step(carry, get_batch(0), 0)
                return carry, jax.tree_util.tree_map(lambda l: l[None], logs)
            if static:  # always K steps (n_steps == K): a loop XLA knows the length of
                return jax.lax.scan(lambda c, i: run_step(c, get_batch(i), i), carry,
                                    jnp.arange(K, dtype=jnp.int32))
            _, log_spec = jax.eval_shape(lambda c, b: run_step(c, b, 0), carry, get_batch(0))
            buf = jax.tree_util.tree_map(lambda s: jnp.zeros((K,) + s.shape, s.dtype), log_spec)

            def body(i, c):
                carry, buf = c
                carry, logs = run_step(carry, get_batch(i), i)
                buf = jax.tree_util.tree_map(lambda b, l: b.at[i].set(l), buf, logs)
                return carry, buf

            return jax.lax.fori_loop(0, n_steps, body, (carry, buf))

        if source == "gather":
            def run(carry, data, perm, start_row, n_steps, *seed):
                def get(i):
                    idx = jax.lax.dynamic_slice_in_dim(perm, start_row + i * bs, bs)
                    return jax.tree_util.tree_map(lambda a: jnp.take(a, idx, axis=0), data)
                return loop(carry, get, n_steps, seed)
        else:
            def run(carry, batches, n_steps, *seed):
                def get(i):
                    if K == 1:
                        return jax.tree_util.tree_map(lambda a: a[0], batches)
                    # rows i*bs.. of the flattened chunk, as a gather: XLA's CPU backend
                    # runs W2 about 20% faster per step this way than with a dynamic slice
                    return jax.tree_util.tree_map(lambda a: jnp.take(
                        a.reshape((-1,) + a.shape[2:]), i * a.shape[1] + jnp.arange(a.shape[1]),
                        axis=0), batches)
                return loop(carry, get, n_steps, seed)

        run = _distribution.wrap_run(self, run, kind)
        if self._run_eagerly:
            fn = run
        else:
            donate = (0,) if (kind == "train" and donating()) else ()
            fn = jax.jit(run, donate_argnums=donate)
        if kind != "train":
            fn = _EvalSeeded(fn, self)
        self._trainer_cache[("traceable",) + key] = fn
        fn = _distribution.wrap_runner(self, fn, kind, source)
        self._trainer_cache[key] = fn
        return fn

    # ================================================================== state
    def _values(self, variables):
        vals = [v.value for v in variables]
        if donating():  # the train state is donated: never alias Variables
            vals = _copies(vals)
        return vals

    def _param_values(self):
        """(trainable values, non-trainable values), from one walk of the layer tree."""
        tvars, ntvars = self._weight_lists()
        return self._values(tvars), self._values(ntvars)

    def _prepare_training(self):
        """The train state from the Variables. The variable lists are taken once here, for
        the whole fit / train_on_batch call (`_sync_back` writes into the same ones): walking
        the layer tree costs ~0.3 ms per list, per epoch, and a callback changing what is
        trainable mid-fit must not misalign the state with the Variables."""
        tvars, ntvars = self._weight_lists()
        metrics = self.metrics
        self._state_refs = _StateRefs(tvars, ntvars, metrics)
        paths = {id(v): p for p, v in self._path_map(tvars + ntvars)}
        sig = tuple(paths[id(v)] for v in tvars)
        if self._opt_state is None or getattr(self, "_opt_sig", None) != sig:
            self.optimizer.build(tvars, list(sig))
            self._opt_state = self.optimizer.init_state([v.value for v in tvars])
            self._opt_sig = sig
            self._pushed_lr = None
        elif getattr(self.optimizer, "_tx", None) is None:
            self.optimizer.build(tvars, list(sig))
        from trine.core.random import global_seed
        self._rng_base = _dropout_base(global_seed())
        opt_state = self._opt_state
        if donating():  # donated: keep the model's copy intact
            opt_state = _copies(opt_state)
        return TrainState(self._values(tvars), self._values(ntvars),
                          opt_state, self._reset_metric_values(metrics),
                          np.asarray(self._step, np.int32))  # eager jnp: ~0.2 ms

    def jax_state_sync(self):
        """Write a running fit's latest train state into the Variables (Keras 3's JAX API).

        fit keeps its state on the device and writes it back at each epoch's end; a callback
        that reads or saves the model mid-epoch (ModelCheckpoint or BackupAndRestore with
        a batch `save_freq`, a `Callback.model` access) gets the state after the last
        finished chunk of steps through this. Outside fit it does nothing."""
        refs = self.__dict__.get("_live_fit")
        if refs is not None and refs.pending is not None:
            self._sync_back(refs.pending, refs)

    def _reread_assigned(self, ts, refs):
        """`ts` with the Variables' values if anything assigned them since the last sync (a
        callback's set_weights / load_weights at an epoch's end or beginning): Keras reads
        the Variables again at the start of every epoch, so such changes carry on training.
        Checked by identity, so an untouched model costs nothing."""
        if not refs.assigned_since_sync():
            return ts
        refs.mark_synced()
        return ts._replace(trainable=self._values(refs.trainable),
                           non_trainable=self._values(refs.non_trainable))

    def _push_learning_rate(self, ts):
        from trine import optimizers as opt_mod
        lr = getattr(self.optimizer, "learning_rate", None)
        if lr is None or callable(lr):
            return ts
        lr = float(lr)
        if getattr(self, "_pushed_lr", None) == lr:
            return ts
        try:
            opt_state = opt_mod.set_learning_rate(ts.optimizer, lr)
        except (ValueError, KeyError, TypeError, AttributeError):
            return ts
        self._pushed_lr = lr
        return ts._replace(optimizer=opt_state)

    def _sync_back(self, ts, refs=None):
        """Write the train state's values into the Variables (a sync point)."""
        ts = _distribution.host_state(ts)
        refs = self._state_refs if refs is None else refs
        values = (list(ts.trainable) + list(ts.non_trainable) + list(ts.metrics), ts.optimizer)
        if donating():  # the state goes on being donated: the model keeps copies
            values = _copies(values)
        for v, x in zip(refs.params + refs.metric_variables, values[0]):
            v.assign(x)
        refs.mark_synced()
        self._opt_state = values[1]
        if hasattr(self.optimizer, "_mirror_state"):  # optimizer.variables show it (Keras)
            self.optimizer._mirror_state(self._opt_state)
        self._step = int(ts.step)

    # ================================================================== chunking
    AUTO_CHUNK = 64
    # On accelerators (fixed-length loops, no timing) a longer chunk: each call ends in a
    # device-to-host sync for the logs, which costs a GPU far more than a CPU.
    AUTO_CHUNK_ACCELERATOR = 256  # a target: see even_chunk
    # Streamed data: at most this many bytes of batches per chunk under "auto", and at most
    # MAX_IN_FLIGHT chunks dispatched ahead of the one running (when no callback syncs per
    # chunk, dispatch would otherwise queue a whole epoch of host chunks: +170 MiB on W1).
    STREAM_CHUNK_BYTES = 32 * 1024 ** 2
    MAX_IN_FLIGHT = 2

    def _chunk_len(self, kind, total_steps, fused=None):
        """Steps per XLA call for a pass of `total_steps` full batches.

        An integer or "epoch" is taken as given. "auto" on accelerators fuses
        AUTO_CHUNK_ACCELERATOR steps per call. On the CPU it fuses AUTO_CHUNK steps unless the
        step holds a primitive XLA's CPU backend runs slowly inside a loop (SLOW_IN_CPU_LOOPS:
        convolutions), read from the jaxpr of the fused program; then every call runs one
        step. The choice is made once per model, compile and kind, without timing: one
        program is compiled, not two, and every process of a multi-process run decides alike.
        `fused()` gives (source, K, batch_size, guard, args) for tracing the fused program.
        On the CPU chunks always hold the same number of slots, so any pass length reuses one
        compiled program; a shorter last chunk runs fewer iterations of the same loop.
        """
        spe = self.steps_per_execution if self.compiled else "auto"
        if spe == "epoch":
            return max(1, total_steps)
        if spe != "auto":
            return int(spe)
        if static_loops():
            return even_chunk(total_steps, self.AUTO_CHUNK_ACCELERATOR)
        k = self._auto_k.get(kind)
        if k is None:
            k = self.AUTO_CHUNK
            if fused is not None:
                slow = self._slow_primitives(kind, *fused())
                k = 1 if slow else k
                self._auto_k[kind] = k
        return k

    def _slow_primitives(self, kind, source, k, bs, guard, args):
        """The SLOW_IN_CPU_LOOPS primitives in the fused program (traced once: a later call
        with the same arguments reuses the trace)."""
        fn = self._traceable(kind, source, k, bs, guard)
        if hasattr(fn, "trace"):
            jaxpr = fn.trace(*args).jaxpr
        else:  # run eagerly: trace the step alone
            jaxpr = jax.make_jaxpr(self._wrapped_step(kind, guard))(args[0], self._first_batch(
                source, args[1], bs))
        return SLOW_IN_CPU_LOOPS & jaxpr_primitives(jaxpr)

    def _compile_ahead(self, kind, source, K, bs, guard, args):
        """Start compiling a program this pass needs later (the last partial chunk, the
        shorter last batch) on a worker thread, while this thread compiles and runs the
        first chunks: first epochs are mostly compiles, and XLA compiles in parallel.
        Tracing stays on this thread. Skipped under a distribution (its runner places the
        arguments first) and when running eagerly."""
        if self._run_eagerly or _distribution.cache_token() is not None:
            return
        key = (kind, source, K, bs, guard, static_loops(), None)
        sig = (key, tuple((np.shape(a), str(getattr(a, "dtype", type(a))))
                          for a in jax.tree_util.tree_leaves(args)))
        if sig in self._ahead or key in self._compiling:
            return
        self._ahead.add(sig)
        lowered = self._traceable(kind, source, K, bs, guard).trace(*args).lower()
        self._compiling[key] = _pool("compile", 2).submit(lowered.compile)

    def _traceable(self, kind, source, K, bs, guard):
        """The jitted function inside the runner for these arguments (built if needed): the
        one `.trace()` / `.lower()` work on, before a distribution's argument placement."""
        self._runner(kind, source, K, bs, guard)
        return self._trainer_cache[("traceable", kind, source, K, bs, guard, static_loops(),
                                    _distribution.cache_token())]

    def _throttle(self, in_flight, logs):
        """Back-pressure on streamed chunks: each queued chunk holds its host batches, so wait
        for the one MAX_IN_FLIGHT behind the newest."""
        in_flight.append(logs)
        if len(in_flight) > self.MAX_IN_FLIGHT:
            jax.block_until_ready(in_flight.popleft())

    @staticmethod
    def _first_batch(source, data, bs):
        if source == "gather":
            return jax.tree_util.tree_map(lambda a: a[:bs], data)
        return jax.tree_util.tree_map(lambda a: a[0], data)

    def _new_eval_pass(self):
        """Start numbering evaluate / predict batches afresh, under a new pass seed."""
        from trine.core.random import global_seed
        self._eval_passes = getattr(self, "_eval_passes", 0) + 1
        self._eval_pass = (np.uint32((global_seed() * 0x9E3779B1 + self._eval_passes) % 2 ** 32),
                           0)

    def _iterate(self, kind, carry, data, perm, on_chunk, guard=False):
        """One pass over `data`; `on_chunk(first_step, logs, n, carry)` after each call (True
        stops)."""
        if kind != "train":
            self._new_eval_pass()
        if data.kind == "arrays":
            return self._iterate_arrays(kind, carry, data, perm, on_chunk, guard)
        return self._iterate_iterable(kind, carry, data, on_chunk, guard)

    def _iterate_arrays(self, kind, carry, data, perm, on_chunk, guard):
        bs, full = data.batch_size, data.full_steps
        _distribution.check_batch_size(self, data, kind)
        static = static_loops()
        if data.on_device:
            dev = _distribution.device_arrays(data)
            perm = jnp.asarray(perm)  # once per pass, not with every call
            k = self._chunk_len(kind, full, lambda: (
                "gather", self.AUTO_CHUNK, bs, guard,
                (carry, dev, perm, 0, min(self.AUTO_CHUNK, full)))) if full else 1
            k = max(1, min(k, full)) if static else k
            k_tail = 1 if (k == 1 or static) else k
            if full and static and full % k:
                self._compile_ahead(kind, "gather", full % k, bs, guard,
                                    (carry, dev, perm, 0, full % k))
            if data.tail:
                self._compile_ahead(kind, "gather", k_tail, data.tail, guard,
                                    (carry, dev, perm, 0, 1))
            runner = self._runner(kind, "gather", k, bs, guard) if full else None
            s = 0
            while s < full:
                n, r = min(k, full - s), runner
                if static and n < k:  # the last partial chunk: a program of its own length
                    r = self._runner(kind, "gather", n, bs, guard)
                if kind == "train":
                    carry = self._push_learning_rate(carry)
                carry, logs = r(carry, dev, perm, s * bs, n)
                if on_chunk(s, logs, n, carry):
                    return carry, True
                s += n
            if data.tail:
                if kind == "train":
                    carry = self._push_learning_rate(carry)
                runner = self._runner(kind, "gather", k_tail, data.tail, guard)
                carry, logs = runner(carry, dev, perm, full * bs, 1)
                if on_chunk(full, logs, 1, carry):
                    return carry, True
            return carry, False
        # streaming: gather chunks on the host, send the next while the current one runs
        perm_np = np.asarray(perm)
        spe = self.steps_per_execution if self.compiled else "auto"

        def load(start, k):
            n = min(k, full - start)
            host = data.host_chunk(perm_np, start, n, pad_to=n if static else k)
            return jax.device_put(host), n

        # "auto" bounds a chunk's bytes: streaming exists to keep memory down
        cap = max(1, self.STREAM_CHUNK_BYTES // data.batch_nbytes())
        k_auto = min(self.AUTO_CHUNK, cap)
        first = None
        if full and spe == "auto" and not static and self._auto_k.get(kind) is None:
            first = load(0, k_auto)
        k = self._chunk_len(kind, full, lambda: ("stacked", k_auto, bs, guard,
                                                 (carry, first[0], first[1]))) if full else 1
        if spe == "auto" and k > cap:
            k = even_chunk(full, cap) if static else cap
        k = max(1, min(k, full)) if (spe == "epoch" or static) else k
        kt = 1 if static else k
        if full and static and full % k:
            self._compile_ahead(kind, "stacked", full % k, bs, guard,
                                (carry, data.chunk_spec(full % k, bs), full % k))
        if data.tail:
            self._compile_ahead(kind, "stacked", kt, data.tail, guard,
                                (carry, data.chunk_spec(kt, data.tail), 1))
        runner = self._runner(kind, "stacked", k, bs, guard) if full else None
        s = 0
        in_flight = collections.deque()
        nxt = (first if first is not None and k == k_auto else load(0, k)) if full else None
        while s < full:
            batches, n = nxt if isinstance(nxt, tuple) else nxt.result()
            # the next chunk is gathered on a worker thread while this one runs
            nxt = _pool("prefetch", 1).submit(load, s + n, k) if s + n < full else None
            if kind == "train":
                carry = self._push_learning_rate(carry)
            r = runner if (n == k or not static) else self._runner(kind, "stacked", n, bs, guard)
            carry, logs = r(carry, batches, n)
            self._throttle(in_flight, logs)
            if on_chunk(s, logs, n, carry):
                if nxt is not None:
                    nxt.result()
                return carry, True
            s += n
        if data.tail:
            host = data.host_chunk(perm_np, full, 1, size=data.tail, pad_to=kt)
            runner1 = self._runner(kind, "stacked", kt, data.tail, guard)
            carry, logs = runner1(carry, jax.device_put(host), 1)
            if on_chunk(full, logs, 1, carry):
                return carry, True
        return carry, False

    def _iterate_iterable(self, kind, carry, data, on_chunk, guard):
        spe = self.steps_per_execution if self.compiled else "auto"
        k = 1 if spe == "epoch" else self._chunk_len(kind, 0)
        step = 0
        pending, sig = [], None
        in_flight = collections.deque()

        def flush(pending, carry):
            n = len(pending)
            kk = k
            if static_loops() and n < kk:  # a partial chunk: a program of its own length
                kk = n
            stacked = data_mod.stack_batches(pending)
            if n < kk:
                stacked = jax.tree_util.tree_map(
                    lambda a: np.concatenate([a, np.zeros((kk - n,) + a.shape[1:], a.dtype)]), stacked)
            bs = jax.tree_util.tree_leaves(pending[0][0])[0].shape[0]
            runner = self._runner(kind, "stacked", kk, bs, guard)
            if kind == "train":
                carry = self._push_learning_rate(carry)
            return runner(carry, jax.device_put(stacked), n)

        failed = []
        for batch in _until_error(data.epoch_iterator(), failed):
            if kind != "predict" and batch[1] is None:
                raise ValueError(
                    f"{'fit' if kind == 'train' else 'evaluate'}: the data yielded a batch "
                    "without targets. Yield (x, y) or (x, y, sample_weight) tuples.")
            if kind != "predict":
                self._check_labels(batch[1])
            if kind == "predict":
                batch = (batch[0], None, None)
            s = data_mod.batch_signature(batch)
            if not step and not pending and spe == "auto" and self._auto_k.get(kind) is None:
                spec = jax.tree_util.tree_map(
                    lambda a: jax.ShapeDtypeStruct((self.AUTO_CHUNK,) + np.shape(a),
                                                   np.asarray(a).dtype), batch)
                bs = jax.tree_util.tree_leaves(batch[0])[0].shape[0]
                k = self._chunk_len(kind, 0, lambda: ("stacked", self.AUTO_CHUNK, bs, guard,
                                                      (carry, spec, 1)))
            if pending and (s != sig or len(pending) == k):
                carry, logs = flush(pending, carry)
                self._throttle(in_flight, logs)
                if on_chunk(step, logs, len(pending), carry):
                    return carry, True
                step += len(pending)
                pending = []
            pending.append(batch)
            sig = s
        if pending:
            carry, logs = flush(pending, carry)
            if on_chunk(step, logs, len(pending), carry) and not failed:
                return carry, True
        if failed:  # raised by the source: the batches it gave before have trained
            raise failed[0]
        return carry, False

    # ================================================================== data intake
    def _make_data(self, x, y, sample_weight, batch_size, shuffle, steps, class_weight=None,
                   what="fit", with_targets=True):
        if x is None:
            raise ValueError(f"{what}() needs x (received None).")
        source = _sources.adapt(x, y=y, sample_weight=sample_weight, class_weight=class_weight,
                                shuffle=shuffle, steps=steps, what=what, seed=_source_seed(),
                                batch_size=batch_size)
        if source is not None:  # the source counts its steps (Keras: a pass spans epochs)
            return data_mod.IterableData(source, steps=source.epoch_steps,
                                         with_targets=with_targets)
        if _is_iterable_source(x):
            if y is not None:
                raise ValueError(
                    f"{what}(): when x is a generator / iterable of batches, do not pass y: "
                    "yield (x, y) tuples instead.")
            if class_weight:
                raise ValueError(f"{what}(): class_weight is only supported with array inputs.")
            return data_mod.IterableData(x, steps=steps, with_targets=with_targets)
        if with_targets and y is None and self._loss_arg is not None:
            raise ValueError(
                f"{what}() received x but no y. Pass targets y, or yield (x, y) batches.")
        from trine.training import validation as _validation
        _validation.check_input_structure(self, x, what)
        x = _validation.real_valued(x, "x")
        if class_weight:
            if sample_weight is not None:
                raise ValueError(f"{what}(): pass class_weight or sample_weight, not both.")
            if len(jax.tree_util.tree_leaves(y)) != 1:
                raise ValueError(
                    f"{what}(): class_weight is only supported for models with a single "
                    f"output; y has {len(jax.tree_util.tree_leaves(y))} arrays. For several "
                    "outputs pass sample_weight, one array per output (a list in the order "
                    "of model.outputs, or a dict keyed by output name).")
            sample_weight = data_mod.class_weight_to_sample_weight(
                jax.tree_util.tree_leaves(y)[0], class_weight)
        if batch_size is None:
            batch_size = 32
        data = data_mod.ArrayData(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                  steps=steps)
        _validation.check_arrays(data, what)
        return data

    def _prepare_compiled(self, data):
        if data.kind == "arrays":
            x0, y0, _ = data.first_batch(2)
        else:
            first = (data.source.peek() if isinstance(data.source, _sources.DatasetSource)
                     else next(iter(data.source), None) if data.reiterable
                     else None if self._compile_built and self.built
                     else data.peek())  # a one-shot source's first batch, yielded again
            if first is None:
                if self._compile_built and self.built:
                    return
                raise ValueError(
                    "The data source yielded no batches: at least one (x, y) batch is needed "
                    "to build the model. Check that the generator is not already exhausted.")
            x0, y0, _ = data._unpack(first)
        self._ensure_built(x0)
        if not self._compile_built:
            xs = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(tuple(a.shape), a.dtype), x0)
            ys = None if y0 is None else jax.tree_util.tree_map(
                lambda a: jax.ShapeDtypeStruct(tuple(a.shape), a.dtype), y0)
            self._build_compiled(xs, ys)
        if data.kind == "arrays":
            self._check_labels(data.y)

    # ================================================================== fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train the model; returns a `History` whose `.history` has one value per epoch.

        Args mirror Keras: x / y as arrays (lists / dicts for several inputs / outputs) or an
        iterable of `(x, y[, sample_weight])` batches; `validation_split` takes the last
        fraction of the arrays before shuffling.

        Raises:
            RuntimeError: if the model was not compiled.
            ValueError: for mismatched sample counts, bad keys, out-of-range labels.
        """
        from trine.training.callbacks import CallbackList
        from trine.core.random import global_seed

        self._require_compiled("fit")
        from trine.training import validation as _validation
        _validation.check_fit_args(epochs, initial_epoch, batch_size, validation_batch_size,
                                   class_weight)
        if validation_split and validation_data is None:
            if _is_iterable_source(x):
                raise ValueError("validation_split is only supported for array inputs; pass "
                                 "validation_data instead.")
            (x, y, sample_weight), (vx, vy, vsw) = data_mod.split_validation(
                x, y, sample_weight, validation_split)
            validation_data = (vx, vy, vsw)
        from trine.config import fit_limits  # keras.config's max_epochs / max_steps_per_epoch
        epochs, steps_per_epoch = fit_limits(epochs, steps_per_epoch)
        data = self._make_data(x, y, sample_weight, batch_size, shuffle, steps_per_epoch,
                               class_weight=class_weight, what="fit")
        _distribution.start_device_copy(data)  # travels while the host prepares the state
        self._prepare_compiled(data)
        _validation.check_class_weight_classes(self, data, class_weight)
        val = None
        if validation_data is not None:
            val = self._validation_source(validation_data, validation_batch_size or batch_size,
                                          validation_steps)
        verbose = 1 if verbose == "auto" else int(verbose)
        steps = data.steps if data.kind == "arrays" else data.steps
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=steps)
        guard = any(type(c).__name__ == "TerminateOnNaN" for c in (callbacks or []))
        self.stop_training = False
        self._initial_epoch = None
        cbs.on_train_begin()  # may restore weights and state (BackupAndRestore)
        if self._initial_epoch is not None:
            initial_epoch = max(int(initial_epoch), int(self._initial_epoch))
            self._initial_epoch = None
        ts = synced = self._prepare_training()
        refs = self._state_refs  # this call's own: a callback's train_on_batch takes others
        self._live_fit = refs
        shuffle_seed = (global_seed(), _TAG_SHUFFLE)
        epoch_logs = {}
        cur_epoch = [initial_epoch]

        batch_hooks = cbs.has_batch_hooks("train")
        last_chunk = []

        def on_chunk(first, logs, n, carry=None):
            refs.pending = carry  # jax_state_sync() writes this chunk's state back
            if not batch_hooks:  # nothing reads per-step logs: no device-to-host sync per
                last_chunk[:] = [(logs, n)]  # chunk; the epoch's logs are its last step's
                return False
            logs = _fetch(logs)
            for i in range(n):
                cbs.on_train_batch_begin(first + i)
                step_logs = {k: _log_value(v[i]) for k, v in logs.items()}
                cbs.on_train_batch_end(first + i, step_logs)
                epoch_logs.clear()
                epoch_logs.update(step_logs)
                if self.stop_training:
                    return True
            return False

        try:
            for epoch in range(initial_epoch, epochs):
                cur_epoch[0] = epoch
                ts = ts._replace(metrics=self._reset_metric_values(refs.metrics))
                cbs.on_epoch_begin(epoch)
                ts = self._reread_assigned(ts, refs)
                # The n-th epoch this model trains is shuffled by n (fit(epochs=1) called
                # in a loop shuffles afresh each time, as Keras's does; two consecutive fits
                # equal one of all their epochs), unless initial_epoch names a later epoch
                # (a resumed run shuffles as the unbroken one did).
                order = max(epoch, getattr(self, "_epochs_begun", 0))
                self._epochs_begun = order + 1
                perm = (data.permutation(shuffle_seed + (order,)) if data.kind == "arrays"
                        else None)
                if perm is not None and epoch + 1 < epochs:
                    data.permutation_ahead(shuffle_seed + (order + 1,))
                ts, stopped = self._iterate("train", ts, data, perm, on_chunk, guard)
                if last_chunk:
                    _last_step_logs(last_chunk.pop(), epoch_logs)
                if data.kind == "iterable" and data.exhausted and not epoch_logs:
                    warnings.warn("Your input ran out of data; training stopped. Pass "
                                  "steps_per_epoch, or a source that can be iterated again.")
                    break
                self._sync_back(ts, refs)
                synced = ts
                logs = dict(epoch_logs)
                if (val is not None and not self.stop_training
                        and (epoch + 1) % validation_freq == 0):
                    vlogs = self._evaluate_source(val, callbacks=None, verbose=0)
                    logs.update({f"val_{k}": v for k, v in vlogs.items()})
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        except BaseException:
            self.jax_state_sync()  # the model keeps what its completed steps trained
            raise
        finally:
            self._live_fit = None
            _close_source(data)
            _close_source(val)
        if ts is not synced:  # a callback's assignments after the last sync stand (Keras)
            self._sync_back(ts, refs)
        cbs.on_train_end(logs=dict(epoch_logs))
        self.history = cbs.history if hasattr(cbs, "history") else None
        return self.history

    def _validation_source(self, validation_data, batch_size, steps):
        source = _sources.adapt(validation_data, steps=steps, what="fit(validation_data)",
                                batch_size=batch_size)
        if source is not None:
            return data_mod.IterableData(source, steps=source.epoch_steps)
        if _is_iterable_source(validation_data):
            return data_mod.IterableData(validation_data, steps=steps)
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"val_sample_weight), received {type(validation_data).__name__}.")
        from trine.training import validation as _validation
        vx, vy = validation_data[0], validation_data[1]
        vsw = validation_data[2] if len(validation_data) == 3 else None
        vx = _validation.real_valued(vx, "validation_data x")
        val = data_mod.ArrayData(vx, vy, vsw, batch_size=batch_size or 32, shuffle=False,
                                 steps=steps)
        _validation.check_arrays(val, "fit(validation_data)", "validation_data ")
        return val

    # ================================================================== evaluate
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on the data: a scalar, a list `[loss, *metrics]`, or a dict."""
        self._require_compiled("evaluate")
        from trine.training import validation as _validation
        _validation.check_batch_size(batch_size, "evaluate")
        data = self._make_data(x, y, sample_weight, batch_size, False, steps, what="evaluate")
        self._prepare_compiled(data)
        verbose = 1 if verbose == "auto" else int(verbose)
        try:
            logs = self._evaluate_source(data, callbacks=callbacks, verbose=verbose)
        finally:
            _close_source(data)
        return self._format_logs(logs, return_dict)

    @property
    def metrics_names(self):
        if not self._compile_built:
            return []
        return [t.name for t in self._trackers] + [n for _, _, n, _ in self._metrics_list]

    def _evaluate_source(self, data, callbacks=None, verbose=0):
        from trine.training.callbacks import CallbackList
        if self._compile_built is False:
            self._prepare_compiled(data)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=data.steps)
        cbs.on_test_begin()
        carry = self._param_values() + (self._reset_metric_values(),)
        last = {}
        batch_hooks = cbs.has_batch_hooks("test")
        last_chunk = []

        def on_chunk(first, logs, n, carry=None):
            if not batch_hooks:
                last_chunk[:] = [(logs, n)]
                return False
            logs = _fetch(logs)
            for i in range(n):
                cbs.on_test_batch_begin(first + i)
                step_logs = {k: _log_value(v[i]) for k, v in logs.items()}
                cbs.on_test_batch_end(first + i, step_logs)
                last.clear()
                last.update(step_logs)
            return False

        perm = data.permutation(None) if data.kind == "arrays" else None
        self._iterate("test", carry, data, perm, on_chunk)
        if last_chunk:
            _last_step_logs(last_chunk.pop(), last)
        cbs.on_test_end(dict(last))
        return dict(last)

    # ================================================================== predict
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for `x`, batched, as NumPy arrays (in the model's output structure)."""
        from trine.training.callbacks import CallbackList
        from trine.training import validation as _validation
        _validation.check_batch_size(batch_size, "predict")
        source = _sources.adapt(x, steps=steps, what="predict", batch_size=batch_size)
        if source is not None:
            data = data_mod.IterableData(source, steps=source.epoch_steps, with_targets=False)
            self._ensure_built(source.peek()[0])
            first = None
        elif _is_iterable_source(x):
            data = data_mod.IterableData(x, steps=steps, with_targets=False)
            first = (next(iter(x), None) if data.reiterable
                     else None if self.built else data.peek())  # peeked: yielded again
            if first is not None:
                self._ensure_built(data._unpack(first)[0])
        else:
            _validation.check_input_structure(self, x, "predict")
            data = data_mod.ArrayData(_validation.real_valued(x, "x"), None, None,
                                      batch_size=batch_size or 32, shuffle=False, steps=steps,
                                      with_weights=False)
            _validation.check_arrays(data, "predict")
            self._ensure_built(data.first_batch(2)[0])
        if not self.built:
            raise ValueError(f"Model '{self.name}' is not built; call it on data first.")
        verbose = 1 if verbose == "auto" else int(verbose)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=data.steps)
        cbs.on_predict_begin()
        outs = []

        def on_chunk(first, logs, n, carry=None):
            host = _fetch(logs)
            outs.append(jax.tree_util.tree_map(
                lambda a: a[:n].reshape((-1,) + a.shape[2:]), host))
            for i in range(n):
                cbs.on_predict_batch_begin(first + i)
                cbs.on_predict_batch_end(first + i, {})
            return False

        carry = self._param_values()
        perm = data.permutation(None) if data.kind == "arrays" else None
        try:
            self._iterate("predict", carry, data, perm, on_chunk)
        finally:
            _close_source(data)
        cbs.on_predict_end()
        if not outs:
            raise ValueError("predict() received no data.")
        return jax.tree_util.tree_map(lambda *a: np.concatenate(a, axis=0), *outs)

    # ================================================================== on_batch
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; metrics accumulate until `reset_metrics()`."""
        self._require_compiled("train_on_batch")
        data = self._make_data(x, y, sample_weight, None, False, None,
                               class_weight=class_weight, what="train_on_batch")
        data = data_mod.ArrayData(data.x, data.y, data.sw, batch_size=data.n)
        self._prepare_compiled(data)
        ts = self._prepare_training()
        if getattr(self, "_batch_metric_state", None) is not None:
            ts = ts._replace(metrics=self._batch_metric_state)
        ts = self._push_learning_rate(ts)
        runner = self._runner("train", "stacked", 1, data.n)
        batch = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], data.arrays)
        ts, logs = runner(ts, batch, 1)
        self._batch_metric_state = ts.metrics
        self._sync_back(ts)
        logs = {k: _log_value(v[0]) for k, v in _fetch(logs).items()}
        return self._format_logs(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch."""
        self._require_compiled("test_on_batch")
        data = self._make_data(x, y, sample_weight, None, False, None, what="test_on_batch")
        data = data_mod.ArrayData(data.x, data.y, data.sw, batch_size=data.n)
        self._prepare_compiled(data)
        runner = self._runner("test", "stacked", 1, data.n)
        batch = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], data.arrays)
        self._new_eval_pass()
        _, logs = runner(self._param_values() + (self._reset_metric_values(),), batch, 1)
        logs = {k: _log_value(v[0]) for k, v in _fetch(logs).items()}
        return self._format_logs(logs, return_dict)

    def predict_on_batch(self, x):
        """Model outputs for one batch, as NumPy."""
        data = data_mod.ArrayData(x, None, None, batch_size=1, with_weights=False)
        self._ensure_built(data.first_batch(1)[0])
        runner = self._runner("predict", "stacked", 1, data.n)
        batch = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], data.arrays)
        self._new_eval_pass()
        _, out = runner(self._param_values(), batch, 1)
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[0], out)

    def reset_metrics(self):
        """Reset all metrics in `self.metrics` (their variables) and train_on_batch's sums."""
        self._batch_metric_state = None
        for m in self.metrics:
            m.reset_state()

    def _format_logs(self, logs, return_dict):
        if return_dict:
            return logs
        names = []
        if self._compile_built:  # Keras's order: the loss, compiled metrics by their own
            for n in ([self._trackers[0].name]  # name, per-output losses, then the
                      + [m.name for _, m, _, _ in self._metrics_list]  # other logs sorted
                      + [t.name for t in self._trackers[1:]]):  # (output-prefixed ones too)
                if n not in names:
                    names.append(n)
        vals = [logs[n] for n in names if n in logs]
        vals += [logs[k] for k in sorted(logs) if k not in names]  # custom steps' own logs
        return vals[0] if len(vals) == 1 else vals


def _until_error(it, failed):
    """The items of `it`; an exception it raises goes into `failed` instead of propagating,
    so the caller can first run the batches already read."""
    try:
        yield from it
    except Exception as e:  # noqa: BLE001 - re-raised by the caller, traceback intact
        failed.append(e)


def _source_seed():
    from trine.core.random import global_seed
    return (global_seed(),)


def _close_source(data) -> None:
    """Stop a dataset source's workers (fit / evaluate / predict end, fail or are interrupted)."""
    close = getattr(getattr(data, "source", None), "close", None)
    if close is not None:
        close()


def _is_iterable_source(x) -> bool:
    if _sources.source_kind(x) is not None:
        return True
    if x is None or isinstance(x, (np.ndarray, jax.Array, dict, str, bytes)):
        return False
    if isinstance(x, (list, tuple)):
        return False
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")
