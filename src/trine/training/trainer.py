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
import math
import time
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from trine.training import data as data_mod

_TAG_DROPOUT = 0x7D1
_TAG_SHUFFLE = 0x5A1


class TrainState(NamedTuple):
    """Everything a train step reads and writes, as one pytree.

    Attributes:
        params: trainable values, dict keyed by variable path.
        state: non-trainable values (BatchNorm statistics), dict keyed by path.
        opt_state: the optax optimizer state.
        metric_state: loss tracker and metric variables, a list per metric.
        step: the global step counter (int32 scalar), used to derive per-step keys.
    """
    params: Any
    state: Any
    opt_state: Any
    metric_state: Any
    step: Any


def _fetch(tree):
    return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))


class _LossTracker:
    """Running mean of the batch loss weighted by batch size (as Keras's loss tracker)."""

    def __init__(self, name):
        self.name = name

    def init(self):
        return [jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32)]

    def update(self, s, value, n):
        return [s[0] + value.astype(jnp.float32) * n, s[1] + n]

    def result(self, s):
        return s[0] / jnp.where(s[1] > 0, s[1], 1.0)


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
        leaves = jax.tree_util.tree_leaves(y_pred_spec)
        names = getattr(self, "output_names", None)
        if isinstance(y_pred_spec, dict):
            return sorted(y_pred_spec.keys())
        if names and len(names) == len(leaves):
            return list(names)
        return [f"output_{i + 1}" for i in range(len(leaves))]

    def _build_compiled(self, x_spec, y_spec):
        """Resolve losses and metrics once the output structure is known."""
        from trine import losses as losses_mod
        from trine import metrics as metrics_mod

        y_pred_spec = jax.eval_shape(lambda x: self._symbolic_forward(x), x_spec)
        self._y_pred_treedef = jax.tree_util.tree_structure(y_pred_spec)
        pred_leaves = jax.tree_util.tree_leaves(y_pred_spec)
        n_out = len(pred_leaves)
        names = self._output_names(y_pred_spec)
        self._out_names = names
        y_leaves = jax.tree_util.tree_leaves(y_spec) if y_spec is not None else [None] * n_out

        def per_output(arg, what):
            if arg is None:
                return [None] * n_out
            if isinstance(arg, dict):
                unknown = [k for k in arg if k not in names]
                if unknown:
                    raise ValueError(
                        f"compile({what}=...) has keys {unknown} that are not outputs of model "
                        f"'{self.name}'. Output names: {names}.")
                return [arg.get(n) for n in names]
            if isinstance(arg, (list, tuple)) and n_out > 1 and what in ("loss", "loss_weights"):
                if len(arg) != n_out:
                    raise ValueError(
                        f"compile({what}=...) has {len(arg)} entries but model '{self.name}' has "
                        f"{n_out} outputs {names}.")
                return list(arg)
            if isinstance(arg, (list, tuple)) and n_out > 1 and what.endswith("metrics"):
                if arg and all(isinstance(a, (list, tuple)) or a is None for a in arg):
                    if len(arg) != n_out:
                        raise ValueError(
                            f"compile({what}=...) has {len(arg)} lists but the model has "
                            f"{n_out} outputs {names}.")
                    return list(arg)
                return [arg] * n_out
            return [arg] * n_out

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
        self._trackers = [_LossTracker("loss")]
        if n_out > 1:
            self._trackers += [_LossTracker(f"{n}_loss") for n in names]
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
            self.built = True

    # ================================================================== pure pieces
    def _check_labels(self, y):
        """Host-side check: sparse labels must be integers in [0, classes)."""
        if not getattr(self, "_sparse_label_checks", None) or y is None:
            return
        leaves = jax.tree_util.tree_leaves(y)
        for i, n_classes, fn in self._sparse_label_checks:
            if i >= len(leaves) or not n_classes:
                continue
            yi = np.asarray(leaves[i])
            if yi.size == 0:
                continue
            ignore = getattr(fn, "ignore_class", None)
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

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss for a batch (sum of weighted per-output losses)."""
        total, per = self._compiled_loss(y, y_pred, sample_weight)
        return total

    def _compiled_loss(self, y, y_pred, sw):
        y_leaves = jax.tree_util.tree_leaves(y) if y is not None else []
        p_leaves = jax.tree_util.tree_leaves(y_pred)
        if isinstance(y, dict) and isinstance(y_pred, dict):
            missing = [k for k in y_pred if k not in y]
            if missing:
                raise ValueError(f"y is missing targets for outputs {missing}.")
            y_leaves = [y[k] for k in sorted(y_pred)]
        total = jnp.zeros((), jnp.float32)
        per = []
        for i, entry in enumerate(self._losses):
            if entry is None:
                per.append(jnp.zeros((), jnp.float32))
                continue
            if i >= len(y_leaves):
                raise ValueError(
                    f"Model '{self.name}' has {len(p_leaves)} outputs with losses but y has "
                    f"{len(y_leaves)} target arrays. Pass one target per output.")
            fn, w = entry
            li = fn(y_leaves[i], p_leaves[i], sample_weight=sw)
            li = jnp.asarray(li, jnp.float32)
            per.append(li)
            total = total + w * li
        return total, per

    def _init_metric_state(self):
        return ([t.init() for t in self._trackers]
                + [list(m.stateless_reset_state()) for _, m, _, _ in self._metrics_list])

    def _update_metrics(self, ms, loss, per, y, y_pred, sw, n):
        y_leaves = jax.tree_util.tree_leaves(y) if y is not None else []
        if isinstance(y, dict) and isinstance(y_pred, dict):
            y_leaves = [y[k] for k in sorted(y_pred)]
        p_leaves = jax.tree_util.tree_leaves(y_pred)
        new = [self._trackers[0].update(ms[0], loss, n)]
        for j, t in enumerate(self._trackers[1:]):
            new.append(t.update(ms[1 + j], per[j], n))
        k = len(self._trackers)
        for j, (i, m, _, weighted) in enumerate(self._metrics_list):
            new.append(list(m.stateless_update_state(
                ms[k + j], y_leaves[i] if i < len(y_leaves) else None, p_leaves[i],
                sample_weight=sw if weighted else None)))
        return new

    def _metric_results(self, ms):
        logs = {}
        k = len(self._trackers)
        for j, (_, m, name, _) in enumerate(self._metrics_list):
            logs[name] = jnp.asarray(m.stateless_result(ms[k + j]), jnp.float32)
        for j, t in enumerate(self._trackers):
            logs[t.name] = t.result(ms[j])
        return logs

    def _train_step(self, ts: TrainState, batch, guard_nonfinite=False):
        import optax
        x, y, sw = batch
        rng = jax.random.fold_in(self._rng_base, ts.step)
        n = jnp.asarray(jax.tree_util.tree_leaves(x)[0].shape[0], jnp.float32)

        def loss_fn(params):
            y_pred, new_state, losses = self.stateless_call(
                params, ts.state, x, training=True, rng=rng, return_losses=True)
            loss, per = self._compiled_loss(y, y_pred, sw)
            if losses:
                loss = loss + sum(jnp.sum(l).astype(jnp.float32) for l in losses)
            return loss, (y_pred, new_state, per)

        (loss, (y_pred, new_state, per)), grads = jax.value_and_grad(loss_fn, has_aux=True)(ts.params)
        updates, opt_state = self._tx.update(grads, ts.opt_state, ts.params)
        params = optax.apply_updates(ts.params, updates)
        for path, cons in self._constraints.items():
            params[path] = cons(params[path])
        ms = self._update_metrics(ts.metric_state, loss, per, y, y_pred, sw, n)
        if guard_nonfinite:
            ok = jnp.isfinite(loss) & jnp.isfinite(ts.metric_state[0][0])
            keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), new, old)
            params = keep(params, ts.params)
            new_state = keep(new_state, ts.state)
            opt_state = keep(opt_state, ts.opt_state)
        return TrainState(params, new_state, opt_state, ms, ts.step + 1), self._metric_results(ms)

    def _test_step(self, es, batch):
        params, state, ms = es
        x, y, sw = batch
        n = jnp.asarray(jax.tree_util.tree_leaves(x)[0].shape[0], jnp.float32)
        y_pred, _, losses = self.stateless_call(params, state, x, training=False, return_losses=True)
        loss, per = self._compiled_loss(y, y_pred, sw)
        if losses:
            loss = loss + sum(jnp.sum(l).astype(jnp.float32) for l in losses)
        ms = self._update_metrics(ms, loss, per, y, y_pred, sw, n)
        return (params, state, ms), self._metric_results(ms)

    def _predict_step(self, ps, batch):
        params, state = ps
        x = batch[0]
        y_pred, _ = self.stateless_call(params, state, x, training=False)
        return ps, y_pred

    # ================================================================== compiled runners
    def _runner(self, kind, source, K, bs, guard=False):
        """A jitted function running up to K steps of `kind` ('train'/'test'/'predict')."""
        key = (kind, source, K, bs, guard)
        fn = self._trainer_cache.get(key)
        if fn is not None:
            return fn
        step = {"train": lambda c, b: self._train_step(c, b, guard_nonfinite=guard),
                "test": self._test_step, "predict": self._predict_step}[kind]

        def loop(carry, get_batch, n_steps):
            self.trace_counts[kind] += 1
            if K == 1:
                carry, logs = step(carry, get_batch(0))
                return carry, jax.tree_util.tree_map(lambda l: l[None], logs)
            _, log_spec = jax.eval_shape(step, carry, get_batch(0))
            buf = jax.tree_util.tree_map(lambda s: jnp.zeros((K,) + s.shape, s.dtype), log_spec)

            def body(i, c):
                carry, buf = c
                carry, logs = step(carry, get_batch(i))
                buf = jax.tree_util.tree_map(lambda b, l: b.at[i].set(l), buf, logs)
                return carry, buf

            return jax.lax.fori_loop(0, n_steps, body, (carry, buf))

        if source == "gather":
            def run(carry, data, perm, start_row, n_steps):
                def get(i):
                    idx = jax.lax.dynamic_slice_in_dim(perm, start_row + i * bs, bs)
                    return jax.tree_util.tree_map(lambda a: jnp.take(a, idx, axis=0), data)
                return loop(carry, get, n_steps)
        else:
            def run(carry, batches, n_steps):
                def get(i):
                    if K == 1:
                        return jax.tree_util.tree_map(lambda a: a[0], batches)
                    return jax.tree_util.tree_map(
                        lambda a: jax.lax.dynamic_index_in_dim(a, i, keepdims=False), batches)
                return loop(carry, get, n_steps)

        if self._run_eagerly:
            fn = run
        else:
            donate = (0,) if (kind == "train" and jax.default_backend() != "cpu") else ()
            fn = jax.jit(run, donate_argnums=donate)
        self._trainer_cache[key] = fn
        return fn

    # ================================================================== state
    def _prepare_training(self):
        from trine import optimizers as opt_mod
        if self._opt_state is None or self._tx is None:
            self._tx = self.optimizer.to_optax()
        params = self.get_params()
        if jax.default_backend() != "cpu":
            params = jax.tree_util.tree_map(jnp.copy, params)
        if self._opt_state is None:
            self._opt_state = self._tx.init(params)
            self._pushed_lr = None
        by_path = dict(self._path_map())
        self._constraints = {p: by_path[p].constraint for p in params
                             if by_path[p].constraint is not None}
        from trine.core.random import global_seed, key_for
        self._rng_base = key_for(global_seed(), _TAG_DROPOUT)
        state = self.get_state()
        return TrainState(params, state, self._opt_state, self._init_metric_state(),
                          jnp.asarray(self._step, jnp.int32))

    def _push_learning_rate(self, ts):
        from trine import optimizers as opt_mod
        lr = getattr(self.optimizer, "learning_rate", None)
        if lr is None or callable(lr):
            return ts
        lr = float(lr)
        if getattr(self, "_pushed_lr", None) == lr:
            return ts
        try:
            opt_state = opt_mod.set_learning_rate(ts.opt_state, lr)
        except (ValueError, KeyError, TypeError, AttributeError):
            return ts
        self._pushed_lr = lr
        return ts._replace(opt_state=opt_state)

    def _sync_back(self, ts, copy=True):
        """Write the train state's values into the Variables (a sync point)."""
        params, state = ts.params, ts.state
        if copy and jax.default_backend() != "cpu":
            params = jax.tree_util.tree_map(jnp.copy, params)
        by_path = dict(self._path_map())
        for p, v in params.items():
            by_path[p].assign(v)
        for p, v in state.items():
            by_path[p].assign(v)
        self._opt_state = ts.opt_state
        self._step = int(ts.step)

    # ================================================================== chunking
    AUTO_CHUNK = 64

    def _chunk_len(self, total_steps, measure=None):
        """Steps per XLA call for a pass of `total_steps` full batches.

        An integer or "epoch" is taken as given. "auto" fuses AUTO_CHUNK steps per call
        unless a one-time measurement (the first pass with at least 16 steps: 8 steps fused
        vs single steps, each after its compile) shows fusion is slower per step — as for
        convolutions in a loop on XLA's CPU backend — in which case every call runs one step.
        The decision is made once per model and compile and applies to fit, evaluate and
        predict. Chunks always hold the same number of slots, so any pass length reuses one
        compiled program; a shorter last chunk runs fewer iterations of the same loop.
        """
        spe = self.steps_per_execution if self.compiled else "auto"
        if spe == "epoch":
            return max(1, total_steps)
        if spe != "auto":
            return int(spe)
        if self._auto_k.get("decision") is None and measure is not None and total_steps >= 16:
            t1 = measure(1, 1)
            t8 = measure(self.AUTO_CHUNK, 8)
            fused = t8 / 8 <= 1.05 * t1
            self._auto_k["decision"] = self.AUTO_CHUNK if fused else 1
            self._auto_k["measured"] = (t1, t8 / 8)
        return self._auto_k.get("decision") or self.AUTO_CHUNK

    def _iterate(self, kind, carry, data, perm, on_chunk, guard=False):
        """One pass over `data`; `on_chunk(first_step, logs, n)` after each call (True stops)."""
        if data.kind == "arrays":
            return self._iterate_arrays(kind, carry, data, perm, on_chunk, guard)
        return self._iterate_iterable(kind, carry, data, on_chunk, guard)

    def _timed(self, fn, args, reps=3):
        out = fn(*args)
        jax.block_until_ready(out)
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            out = fn(*args)
            jax.block_until_ready(out)
            best = min(best, time.perf_counter() - t)
        return best

    def _safe_carry(self, carry):
        if jax.default_backend() != "cpu":
            return jax.tree_util.tree_map(jnp.copy, carry)
        return carry

    def _iterate_arrays(self, kind, carry, data, perm, on_chunk, guard):
        bs, full = data.batch_size, data.full_steps
        if data.on_device:
            dev = data.device_arrays()

            def measure(k, n):
                runner = self._runner(kind, "gather", k, bs, guard)
                return self._timed(runner, (self._safe_carry(carry), dev, perm, 0, n))

            k = self._chunk_len(full, measure if kind == "train" else None) if full else 1
            runner = self._runner(kind, "gather", k, bs, guard)
            s = 0
            while s < full:
                n = min(k, full - s)
                if kind == "train":
                    carry = self._push_learning_rate(carry)
                carry, logs = runner(carry, dev, perm, s * bs, n)
                if on_chunk(s, logs, n):
                    return carry, True
                s += n
            if data.tail:
                if kind == "train":
                    carry = self._push_learning_rate(carry)
                runner = self._runner(kind, "gather", 1 if k == 1 else k, data.tail, guard)
                carry, logs = runner(carry, dev, perm, full * bs, 1)
                if on_chunk(full, logs, 1):
                    return carry, True
            return carry, False
        # streaming: gather chunks on the host, send the next while the current one runs
        perm_np = np.asarray(perm)

        def measure(k, n):
            runner = self._runner(kind, "stacked", k, bs, guard)
            b = jax.device_put(data.host_chunk(perm_np, 0, n))
            if k > n:
                b = jax.tree_util.tree_map(
                    lambda a: jnp.concatenate([a, jnp.zeros((k - n,) + a.shape[1:], a.dtype)]), b)
            return self._timed(runner, (self._safe_carry(carry), b, n))

        k = self._chunk_len(full, measure if kind == "train" else None) if full else 1
        k = max(1, min(k, full)) if self.steps_per_execution == "epoch" else k
        runner = self._runner(kind, "stacked", k, bs, guard) if full else None
        s = 0

        def load(start):
            n = min(k, full - start)
            host = data.host_chunk(perm_np, start, n)
            if n < k:
                host = jax.tree_util.tree_map(
                    lambda a: np.concatenate([a, np.zeros((k - n,) + a.shape[1:], a.dtype)]), host)
            return jax.device_put(host), n

        nxt = load(0) if full else None
        while s < full:
            batches, n = nxt
            if kind == "train":
                carry = self._push_learning_rate(carry)
            carry, logs = runner(carry, batches, n)
            nxt = load(s + n) if s + n < full else None  # overlaps with the running chunk
            if on_chunk(s, logs, n):
                return carry, True
            s += n
        if data.tail:
            host = jax.tree_util.tree_map(
                lambda a: np.take(np.asarray(a), perm_np[full * bs:][None, :], axis=0), data.arrays)
            if k > 1:
                host = jax.tree_util.tree_map(
                    lambda a: np.concatenate([a, np.zeros((k - 1,) + a.shape[1:], a.dtype)]), host)
            runner1 = self._runner(kind, "stacked", k, data.tail, guard)
            carry, logs = runner1(carry, jax.device_put(host), 1)
            if on_chunk(full, logs, 1):
                return carry, True
        return carry, False

    def _iterate_iterable(self, kind, carry, data, on_chunk, guard):
        spe = self.steps_per_execution if self.compiled else "auto"
        k = 1 if spe == "epoch" else self._chunk_len(0)
        step = 0
        pending, sig = [], None

        def flush(pending, carry):
            n = len(pending)
            kk = k
            stacked = data_mod.stack_batches(pending)
            if n < kk:
                stacked = jax.tree_util.tree_map(
                    lambda a: np.concatenate([a, np.zeros((kk - n,) + a.shape[1:], a.dtype)]), stacked)
            bs = jax.tree_util.tree_leaves(pending[0][0])[0].shape[0]
            runner = self._runner(kind, "stacked", kk, bs, guard)
            if kind == "train":
                carry = self._push_learning_rate(carry)
            return runner(carry, jax.device_put(stacked), n)

        for batch in data.epoch_iterator():
            if kind != "predict" and batch[1] is None:
                raise ValueError(
                    f"{'fit' if kind == 'train' else 'evaluate'}: the data yielded a batch "
                    "without targets. Yield (x, y) or (x, y, sample_weight) tuples.")
            if kind != "predict":
                self._check_labels(batch[1])
            if kind == "predict":
                batch = (batch[0], None, None)
            s = data_mod.batch_signature(batch)
            if pending and (s != sig or len(pending) == k):
                carry, logs = flush(pending, carry)
                if on_chunk(step, logs, len(pending)):
                    return carry, True
                step += len(pending)
                pending = []
            pending.append(batch)
            sig = s
        if pending:
            carry, logs = flush(pending, carry)
            if on_chunk(step, logs, len(pending)):
                return carry, True
        return carry, False

    # ================================================================== data intake
    def _make_data(self, x, y, sample_weight, batch_size, shuffle, steps, class_weight=None,
                   what="fit", with_targets=True):
        if x is None:
            raise ValueError(f"{what}() needs x (received None).")
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
        if class_weight:
            if sample_weight is not None:
                raise ValueError(f"{what}(): pass class_weight or sample_weight, not both.")
            sample_weight = data_mod.class_weight_to_sample_weight(
                jax.tree_util.tree_leaves(y)[0], class_weight)
        if batch_size is None:
            batch_size = 32
        return data_mod.ArrayData(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                  steps=steps)

    def _prepare_compiled(self, data):
        if data.kind == "arrays":
            x0, y0, _ = data.first_batch(2)
        else:
            first = next(iter(data.source)) if data.reiterable else None
            if first is None:
                if self._compile_built and self.built:
                    return
                raise ValueError(
                    "Cannot infer the model's input shape from a one-shot generator before "
                    "training. Build the model first (model.build(shape)) or pass a "
                    "re-iterable source (a list, or an object with __iter__).")
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
        from trine.core.random import global_seed, key_for

        self._require_compiled("fit")
        if validation_split and validation_data is None:
            if _is_iterable_source(x):
                raise ValueError("validation_split is only supported for array inputs; pass "
                                 "validation_data instead.")
            (x, y, sample_weight), (vx, vy, vsw) = data_mod.split_validation(
                x, y, sample_weight, validation_split)
            validation_data = (vx, vy, vsw)
        data = self._make_data(x, y, sample_weight, batch_size, shuffle, steps_per_epoch,
                               class_weight=class_weight, what="fit")
        self._prepare_compiled(data)
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
        ts = self._prepare_training()
        shuffle_base = key_for(global_seed(), _TAG_SHUFFLE)
        cbs.on_train_begin()
        epoch_logs = {}
        cur_epoch = [initial_epoch]

        def on_chunk(first, logs, n):
            logs = _fetch(logs)
            for i in range(n):
                cbs.on_train_batch_begin(first + i)
                step_logs = {k: float(v[i]) for k, v in logs.items()}
                cbs.on_train_batch_end(first + i, step_logs)
                epoch_logs.clear()
                epoch_logs.update(step_logs)
                if self.stop_training:
                    return True
            return False

        for epoch in range(initial_epoch, epochs):
            cur_epoch[0] = epoch
            ts = ts._replace(metric_state=self._init_metric_state())
            cbs.on_epoch_begin(epoch)
            perm = data.permutation(jax.random.fold_in(shuffle_base, epoch)) if data.kind == "arrays" else None
            ts, stopped = self._iterate("train", ts, data, perm, on_chunk, guard)
            if data.kind == "iterable" and data.exhausted and not epoch_logs:
                warnings.warn("Your input ran out of data; training stopped. Pass "
                              "steps_per_epoch, or a source that can be iterated again.")
                break
            self._sync_back(ts)
            logs = dict(epoch_logs)
            if val is not None and not self.stop_training and (epoch + 1) % validation_freq == 0:
                vlogs = self._evaluate_source(val, callbacks=None, verbose=0)
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        self._sync_back(ts)
        cbs.on_train_end(logs=dict(epoch_logs))
        self.history = cbs.history if hasattr(cbs, "history") else None
        return self.history

    def _validation_source(self, validation_data, batch_size, steps):
        if _is_iterable_source(validation_data):
            return data_mod.IterableData(validation_data, steps=steps)
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"val_sample_weight), received {type(validation_data).__name__}.")
        vx, vy = validation_data[0], validation_data[1]
        vsw = validation_data[2] if len(validation_data) == 3 else None
        return data_mod.ArrayData(vx, vy, vsw, batch_size=batch_size or 32, shuffle=False,
                                  steps=steps)

    # ================================================================== evaluate
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on the data: a scalar, a list `[loss, *metrics]`, or a dict."""
        self._require_compiled("evaluate")
        data = self._make_data(x, y, sample_weight, batch_size, False, steps, what="evaluate")
        self._prepare_compiled(data)
        verbose = 1 if verbose == "auto" else int(verbose)
        logs = self._evaluate_source(data, callbacks=callbacks, verbose=verbose)
        if return_dict:
            return logs
        names = self.metrics_names
        vals = [logs[n] for n in names if n in logs]
        return vals[0] if len(vals) == 1 else vals

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
        carry = (self.get_params(), self.get_state(), self._init_metric_state())
        last = {}

        def on_chunk(first, logs, n):
            logs = _fetch(logs)
            for i in range(n):
                cbs.on_test_batch_begin(first + i)
                step_logs = {k: float(v[i]) for k, v in logs.items()}
                cbs.on_test_batch_end(first + i, step_logs)
                last.clear()
                last.update(step_logs)
            return False

        perm = data.permutation(None) if data.kind == "arrays" else None
        self._iterate("test", carry, data, perm, on_chunk)
        cbs.on_test_end(dict(last))
        return dict(last)

    # ================================================================== predict
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for `x`, batched, as NumPy arrays (in the model's output structure)."""
        from trine.training.callbacks import CallbackList
        if _is_iterable_source(x):
            data = data_mod.IterableData(x, steps=steps, with_targets=False)
            first = next(iter(x)) if data.reiterable else None
            if first is not None:
                self._ensure_built(data._unpack(first)[0])
        else:
            data = data_mod.ArrayData(x, None, None, batch_size=batch_size or 32,
                                      shuffle=False, steps=steps, with_weights=False)
            self._ensure_built(data.first_batch(2)[0])
        if not self.built:
            raise ValueError(f"Model '{self.name}' is not built; call it on data first.")
        verbose = 1 if verbose == "auto" else int(verbose)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=data.steps)
        cbs.on_predict_begin()
        outs = []

        def on_chunk(first, logs, n):
            host = _fetch(logs)
            outs.append(jax.tree_util.tree_map(
                lambda a: a[:n].reshape((-1,) + a.shape[2:]), host))
            for i in range(n):
                cbs.on_predict_batch_begin(first + i)
                cbs.on_predict_batch_end(first + i, {})
            return False

        carry = (self.get_params(), self.get_state())
        perm = data.permutation(None) if data.kind == "arrays" else None
        self._iterate("predict", carry, data, perm, on_chunk)
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
            ts = ts._replace(metric_state=self._batch_metric_state)
        ts = self._push_learning_rate(ts)
        runner = self._runner("train", "stacked", 1, data.n)
        batch = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], data.arrays)
        ts, logs = runner(ts, batch, 1)
        self._batch_metric_state = ts.metric_state
        self._sync_back(ts)
        logs = {k: float(v[0]) for k, v in _fetch(logs).items()}
        return self._format_logs(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch."""
        self._require_compiled("test_on_batch")
        data = self._make_data(x, y, sample_weight, None, False, None, what="test_on_batch")
        data = data_mod.ArrayData(data.x, data.y, data.sw, batch_size=data.n)
        self._prepare_compiled(data)
        runner = self._runner("test", "stacked", 1, data.n)
        batch = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], data.arrays)
        _, logs = runner((self.get_params(), self.get_state(), self._init_metric_state()), batch, 1)
        logs = {k: float(v[0]) for k, v in _fetch(logs).items()}
        return self._format_logs(logs, return_dict)

    def predict_on_batch(self, x):
        """Model outputs for one batch, as NumPy."""
        data = data_mod.ArrayData(x, None, None, batch_size=1, with_weights=False)
        self._ensure_built(data.first_batch(1)[0])
        runner = self._runner("predict", "stacked", 1, data.n)
        batch = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], data.arrays)
        _, out = runner((self.get_params(), self.get_state()), batch, 1)
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[0], out)

    def reset_metrics(self):
        self._batch_metric_state = None

    def _format_logs(self, logs, return_dict):
        if return_dict:
            return logs
        vals = [logs[n] for n in self.metrics_names if n in logs]
        return vals[0] if len(vals) == 1 else vals


def _is_iterable_source(x) -> bool:
    if x is None or isinstance(x, (np.ndarray, jax.Array, dict, str, bytes)):
        return False
    if isinstance(x, (list, tuple)):
        return False
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")
