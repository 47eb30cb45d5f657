"""The Keras-facing training API: compile / fit / evaluate / predict and the *_on_batch
methods, on one pure, jitted step.

`train_step(train_state, batch) -> (train_state, logs)` is pure (steps.py); it is jitted once
per model, batch signature and chunk length, and a chunk of steps runs as one XLA program
(programs.py) that the one chunk loop feeds from any data source (loop.py). Per-step logs
come back stacked, so callbacks and History see every step. Losses and metrics are resolved
from compile's arguments in compile.py; the optimizer state and step counter that carry over
between calls, and the sync points that write values back, are the session's (session.py).
"""
from __future__ import annotations

import collections
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from trine import config
from trine import optimizers as opt_mod
from trine.core.layer import Layer
from trine.core.random import global_seed
from trine.core.symbolic import KerasTensor
from trine.distribution import placement as _distribution
from trine.training import data as data_mod
from trine.training import loop as _loop
from trine.training import sources as _sources
from trine.training import validation as _validation
from trine.training.callbacks import CallbackList
from trine.training.compile import CompiledLossesAndMetrics, check_compile_args
from trine.training.loop import ChunkLoop, even_chunk
from trine.training.programs import CompiledPrograms, jaxpr_primitives
from trine.training.session import SessionOwner, TrainingSession
from trine.training.steps import StepFunctions, TrainState, unpack_x_y_sample_weight

__all__ = ["Trainer", "TrainState", "even_chunk", "jaxpr_primitives",
           "unpack_x_y_sample_weight"]

_TAG_SHUFFLE = 0x5A1


class Trainer(CompiledLossesAndMetrics, StepFunctions, CompiledPrograms, ChunkLoop,
              SessionOwner):
    """Mixin with the Keras training API; `Model` inherits it."""

    def __init__(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._forget_programs()
        self._session = TrainingSession()
        self._policy = config.resolved_execution_policy()
        self._compile_built = False
        self.trace_counts = collections.Counter()
        self._auto_k = {}
        self._run_eagerly = False
        self._compiling = {}
        self._ahead = set()

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
            auto_scale_loss: under the "mixed_float16" policy, wrap the optimizer in a
                `LossScaleOptimizer` (as Keras does), so fit scales the loss dynamically.

        Raises:
            ValueError: for an unknown optimizer, loss or metric name (valid names are listed).
        """
        self.optimizer = opt_mod.get(optimizer)
        if (auto_scale_loss and getattr(self.dtype_policy, "name", None) == "mixed_float16"
                and self.optimizer is not None
                and not isinstance(self.optimizer, opt_mod.LossScaleOptimizer)):
            # float16 gradients underflow without it; Keras wraps the optimizer the same way
            self.optimizer = opt_mod.LossScaleOptimizer(self.optimizer,
                                                        name="loss_scale_optimizer")
        check_compile_args(loss, metrics, weighted_metrics, steps_per_execution)
        self.loss = loss
        self._loss_arg, self._loss_weights_arg = loss, loss_weights
        self._metrics_arg, self._weighted_metrics_arg = metrics, weighted_metrics
        self._run_eagerly = bool(run_eagerly)
        self.steps_per_execution = steps_per_execution
        self.jit_compile = jit_compile
        self.compiled = True
        self._compile_built = False
        self._forget_programs()
        self._session = TrainingSession()
        self._tx = None
        self._auto_k = {}
        self._compiling = {}
        self._ahead = set()

    @property
    def run_eagerly(self):
        return self._run_eagerly

    @run_eagerly.setter
    def run_eagerly(self, value):
        self._run_eagerly = bool(value)
        self._forget_programs()

    def _forget_programs(self):
        """Drop the compiled runners and what tracing learnt about the steps."""
        self._trainer_cache = {}
        self._log_specs = {}  # logs' shapes of a traced step, by step_signature
        self._traced_steps = {}  # (guard, seed, step_signature): a train step's jaxpr

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must call compile() before {what}() on model '{self.name}', e.g. "
                "model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', "
                "metrics=['accuracy']).")

    def _ensure_built(self, x_batch):
        """Build an unbuilt model from the first batch fit / evaluate / predict see."""
        if self.built:
            return
        if type(self).call is Layer.call and all(
                l.built for l in self._flatten_layers(include_self=False)):
            self.built = True  # no call() to trace: e.g. a GAN holding built sub-models
            return
        self._build_from_batch(x_batch)

    def _build_from_batch(self, x_batch):
        """Trace `call` on symbolic inputs shaped like `x_batch` (any batch size). Models
        that build otherwise override it (Sequential builds its graph from the shape)."""
        spec = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(tuple(a.shape), a.dtype), x_batch)

        def to_sym(s):
            dt = s.dtype if jnp.issubdtype(s.dtype, jnp.floating) else jnp.float32
            return KerasTensor((None,) + tuple(s.shape[1:]), dt)

        sym = jax.tree_util.tree_map(to_sym, spec)
        self.compute_output_spec(sym)
        if self.__dict__.get("_build_input_shape") is None:  # for model files (build_config)
            self._build_input_shape = jax.tree_util.tree_map(lambda t: t.shape, sym)
        self.built = True

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

        self._require_compiled("fit")
        self._policy = config.resolved_execution_policy()
        _validation.check_fit_args(epochs, initial_epoch, batch_size, validation_batch_size,
                                   class_weight)
        if validation_split and validation_data is None:
            if _is_iterable_source(x):
                raise ValueError("validation_split is only supported for array inputs; pass "
                                 "validation_data instead.")
            (x, y, sample_weight), (vx, vy, vsw) = data_mod.split_validation(
                x, y, sample_weight, validation_split)
            validation_data = (vx, vy, vsw)
        epochs, steps_per_epoch = config.fit_limits(epochs, steps_per_epoch)
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
        guard = any(getattr(c, "guards_nonfinite", False) for c in (callbacks or []))
        self.stop_training = False
        session = self._session
        session.resume_epoch = None
        cbs.on_train_begin()  # may restore weights and state (BackupAndRestore)
        if session.resume_epoch is not None:
            initial_epoch = max(int(initial_epoch), session.resume_epoch)
            session.resume_epoch = None
        ts = synced = self._prepare_training()
        refs = self._state_refs  # this call's own: a callback's train_on_batch takes others
        self._live_fit = refs
        shuffle_seed = (global_seed(), _TAG_SHUFFLE)
        epoch_logs = {}
        cur_epoch = [initial_epoch]

        def keep_pending(carry):
            refs.pending = carry  # jax_state_sync() writes this chunk's state back

        on_chunk = _loop.StepLogs(epoch_logs, cbs.has_batch_hooks("train"),
                                  cbs.on_train_batch_begin, cbs.on_train_batch_end,
                                  stop=lambda: self.stop_training, on_carry=keep_pending)

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
                on_chunk.finish()
                if data.kind == "iterable" and data.exhausted and not epoch_logs:
                    warnings.warn("Your input ran out of data; training stopped. Pass "
                                  "steps_per_epoch, or a source that can be iterated again.")
                    break
                self._sync_back(ts, refs)
                synced = ts
                logs = dict(epoch_logs)
                if (val is not None and not self.stop_training
                        and (epoch + 1) % validation_freq == 0):
                    # the fit's callbacks see the validation's test hooks, as in Keras
                    vlogs = self._evaluate_source(val, callbacks=cbs, verbose=0)
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
        self._policy = config.resolved_execution_policy()
        _validation.check_batch_size(batch_size, "evaluate")
        data = self._make_data(x, y, sample_weight, batch_size, False, steps, what="evaluate")
        self._prepare_compiled(data)
        verbose = 1 if verbose == "auto" else int(verbose)
        try:
            logs = self._evaluate_source(data, callbacks=callbacks, verbose=verbose)
        finally:
            _close_source(data)
        return self._format_logs(logs, return_dict)



    def _evaluate_source(self, data, callbacks=None, verbose=0):
        if self._compile_built is False:
            self._prepare_compiled(data)
        cbs = callbacks if isinstance(callbacks, CallbackList) else CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
            steps=data.steps)
        cbs.on_test_begin()
        carry = self._param_values() + (self._reset_metric_values(),)
        last = {}
        on_chunk = _loop.StepLogs(last, cbs.has_batch_hooks("test"),
                                  cbs.on_test_batch_begin, cbs.on_test_batch_end)
        perm = data.permutation(None) if data.kind == "arrays" else None
        self._iterate("test", carry, data, perm, on_chunk)
        on_chunk.finish()
        cbs.on_test_end(dict(last))
        return dict(last)

    # ================================================================== predict
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for `x`, batched, as NumPy arrays (in the model's output structure)."""
        self._policy = config.resolved_execution_policy()
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
            host = _loop.fetch(logs)
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
        self._policy = config.resolved_execution_policy()
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
        logs = {k: _loop.log_value(v[0]) for k, v in _loop.fetch(logs).items()}
        return self._format_logs(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch."""
        self._require_compiled("test_on_batch")
        self._policy = config.resolved_execution_policy()
        data = self._make_data(x, y, sample_weight, None, False, None, what="test_on_batch")
        data = data_mod.ArrayData(data.x, data.y, data.sw, batch_size=data.n)
        self._prepare_compiled(data)
        runner = self._runner("test", "stacked", 1, data.n)
        batch = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], data.arrays)
        self._new_eval_pass()
        _, logs = runner(self._param_values() + (self._reset_metric_values(),), batch, 1)
        logs = {k: _loop.log_value(v[0]) for k, v in _loop.fetch(logs).items()}
        return self._format_logs(logs, return_dict)

    def predict_on_batch(self, x):
        """Model outputs for one batch, as NumPy."""
        self._policy = config.resolved_execution_policy()
        data = data_mod.ArrayData(x, None, None, batch_size=1, with_weights=False)
        self._ensure_built(data.first_batch(1)[0])
        runner = self._runner("predict", "stacked", 1, data.n)
        batch = jax.tree_util.tree_map(lambda a: np.asarray(a)[None], data.arrays)
        self._new_eval_pass()
        _, out = runner(self._param_values(), batch, 1)
        return jax.tree_util.tree_map(lambda a: np.asarray(a)[0], out)



def _source_seed():
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
