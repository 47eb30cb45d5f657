"""The pure step functions: one train / test / predict step on a batch, and the wrapper a
compiled loop runs (carry and batch in, carry and logs out).

`train_step(state, data) -> (logs, state)` follows Keras 3's JAX convention, so a step
written for Keras runs unchanged; `fit` keeps fusing, callbacks and progress output.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trine.core.layer import CallContext
from trine.training.custom_steps import is_single_result, step_logs

_TAG_DROPOUT = 0x7D1
_DROPOUT_BASES = {}


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


def pack_batch(x, y, sw):
    if y is None and sw is None:
        return (x,)
    if sw is None:
        return (x, y)
    return (x, y, sw)


RIGHT_PATTERN = """
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


def flatten_logs(logs):
    """Nested log dicts (a custom step's per-output groups) as one flat dict."""
    out = {}
    for k, v in dict(logs).items():
        if isinstance(v, dict):
            out.update(flatten_logs(v))
        else:
            out[k] = v
    return out


def dropout_base(seed):
    """The key fit's dropout streams fold the step number into (one per global seed, made
    without a compiled fold_in: first epochs are dominated by compiles)."""
    if seed not in _DROPOUT_BASES:
        _DROPOUT_BASES[seed] = jax.random.key((int(seed) * 0x9E3779B1 + _TAG_DROPOUT) % 2**32)
    return _DROPOUT_BASES[seed]


class StepFunctions:
    """Mixin of `Trainer`: the step bodies (override them as in Keras) and their wrapper."""

    def train_step(self, state, data):
        """One training step, purely: `(logs, new_state)` from `state` and a batch.

        `state` is `(trainable_values, non_trainable_values, optimizer_state,
        metrics_values)` — Keras 3's JAX convention — and `data` is `(x, y)` or
        `(x, y, sample_weight)`. Override it for custom training; `fit` keeps fusing,
        callbacks and progress output.
        """
        tv, ntv, ov, mv = state
        x, y, sw = unpack_x_y_sample_weight(data)
        scale_loss = getattr(self.optimizer, "scale_loss", None)  # a LossScaleOptimizer's

        def objective(*args):
            loss, aux = self._loss_and_updates(*args)
            return (loss if scale_loss is None else scale_loss(loss, ov)), (loss, aux)

        (_, (loss, (y_pred, ntv, per, mv))), grads = jax.value_and_grad(
            objective, has_aux=True)(tv, ntv, x, y, sw, True, mv)
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
                + f". The pattern (Keras 3 on JAX):{RIGHT_PATTERN}")

    def _wrapped_step(self, kind, guard):
        """The step a compiled loop runs: carry and batch in, (carry, logs) out."""

        def data_of(batch):
            x, y, sw = batch
            return pack_batch(x, y, sw)

        if kind == "train":
            def step(c, batch):
                with CallContext(rng=jax.random.fold_in(self._rng_base, c.step)):
                    out = self.train_step(c.keras_state, data_of(batch))
                if not isinstance(out, (tuple, list)) or len(out) != 2 or not (
                        isinstance(out[0], dict) or is_single_result(out[0])):
                    raise TypeError(
                        f"{type(self).__name__}.train_step must return (logs, state) with logs a "
                        f"dict (or one metric's result); received {type(out).__name__}. The "
                        f"pattern (Keras 3 on JAX):{RIGHT_PATTERN}")
                logs, st = out
                self._check_step_state("train_step", st, ("trainable", "non_trainable",
                                                          "optimizer", "metrics"))
                tv, ntv, ov, mv = st
                logs = flatten_logs(step_logs(self, logs, list(mv)))
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
                logs = flatten_logs(step_logs(self, logs, list(st[2])))
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

