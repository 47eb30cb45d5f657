"""A model's training session: the optimizer state and step counter that carry over from one
fit to the next, the train state a running call builds from the Variables, and the sync
points that write it back.

Values go back into the Variables only at sync points (the end of an epoch, of fit or of
train_on_batch, and `jax_state_sync` for a callback that reads the model mid-epoch), never
per step.
"""
from __future__ import annotations

import jax
import numpy as np

from trine import optimizers as opt_mod
from trine.core.random import global_seed
from trine.distribution import placement as _distribution
from trine.training.steps import TrainState, dropout_base


def _copies(tree):
    """A copy of every array in `tree`, in one batched call (no compile)."""
    return jax.device_put(tree, may_alias=False)


class StateRefs:
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


class TrainingSession:
    """What training carries from one call to the next: the optimizer state (and the
    variable paths it was built for), the global step counter, the learning rate last
    written into the optimizer state, and the epoch a restored backup resumes at. Saving and
    callbacks reach it as `model.training_session`."""

    __slots__ = ("opt_state", "opt_signature", "step", "pushed_lr", "resume_epoch")

    def __init__(self):
        self.opt_state = None
        self.opt_signature = None
        self.step = 0
        self.pushed_lr = None
        self.resume_epoch = None

    def resume_from(self, epoch):
        """Make the fit now starting continue at `epoch` (its earlier epochs were restored
        from a backup, BackupAndRestore)."""
        self.resume_epoch = int(epoch)

    def optimizer_state(self):
        """The optimizer state the next fit continues from (None before any training)."""
        return self.opt_state

    def restore_optimizer_state(self, state, step=None, learning_rate=None):
        """Continue training from `state` (and `step`, when given); `learning_rate` is the
        rate `state` already holds, so it is not written into it again."""
        self.opt_state = state
        if step is not None:
            self.step = int(step)
        self.pushed_lr = learning_rate

    def push_learning_rate(self, optimizer, ts):
        """`ts` with the optimizer's current learning rate in its optimizer state, where a
        callback changed it (ReduceLROnPlateau), without recompiling."""
        lr = getattr(optimizer, "learning_rate", None)
        if lr is None or callable(lr):
            return ts
        lr = float(lr)
        if self.pushed_lr == lr:
            return ts
        try:
            opt_state = opt_mod.set_learning_rate(ts.optimizer, lr)
        except (ValueError, KeyError, TypeError, AttributeError):
            return ts
        self.pushed_lr = lr
        return ts._replace(optimizer=opt_state)


class SessionOwner:
    """Mixin of `Trainer`: building a call's train state from the Variables and writing it
    back, through the model's `TrainingSession`. The `_opt_state` / `_step` / `_opt_sig` /
    `_pushed_lr` attributes are the session's fields, for model files that restore them."""

    @property
    def training_session(self) -> TrainingSession:
        """The optimizer state, step counter and resume point training carries between calls."""
        return self._session

    @property
    def _opt_state(self):
        return self._session.opt_state

    @_opt_state.setter
    def _opt_state(self, value):
        self._session.opt_state = value

    @property
    def _step(self):
        return self._session.step

    @_step.setter
    def _step(self, value):
        self._session.step = value

    @property
    def _opt_sig(self):
        return self._session.opt_signature

    @_opt_sig.setter
    def _opt_sig(self, value):
        self._session.opt_signature = value

    @property
    def _pushed_lr(self):
        return self._session.pushed_lr

    @_pushed_lr.setter
    def _pushed_lr(self, value):
        self._session.pushed_lr = value

    def _values(self, variables):
        vals = [v.value for v in variables]
        if self._policy.donate_state:  # the train state is donated: never alias Variables
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
        session = self._session
        tvars, ntvars = self._weight_lists()
        metrics = self.metrics
        self._state_refs = StateRefs(tvars, ntvars, metrics)
        paths = {id(v): p for p, v in self._path_map(tvars + ntvars)}
        sig = tuple(paths[id(v)] for v in tvars)
        if session.opt_state is None or session.opt_signature != sig:
            self.optimizer.build(tvars, list(sig))
            session.opt_state = self.optimizer.init_state([v.value for v in tvars])
            session.opt_signature = sig
            session.pushed_lr = None
        elif getattr(self.optimizer, "_tx", None) is None:
            self.optimizer.build(tvars, list(sig))
        self._rng_base = dropout_base(global_seed())
        opt_state = session.opt_state
        if self._policy.donate_state:  # donated: keep the model's copy intact
            opt_state = _copies(opt_state)
        return TrainState(self._values(tvars), self._values(ntvars),
                          opt_state, self._reset_metric_values(metrics),
                          np.asarray(session.step, np.int32))  # eager jnp: ~0.2 ms

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
        return self._session.push_learning_rate(self.optimizer, ts)

    def _sync_back(self, ts, refs=None):
        """Write the train state's values into the Variables (a sync point)."""
        ts = _distribution.host_state(ts)
        refs = self._state_refs if refs is None else refs
        values = (list(ts.trainable) + list(ts.non_trainable) + list(ts.metrics), ts.optimizer)
        if self._policy.donate_state:  # the state goes on being donated: the model keeps copies
            values = _copies(values)
        for v, x in zip(refs.params + refs.metric_variables, values[0]):
            v.assign(x)
        refs.mark_synced()
        session = self._session
        session.opt_state = values[1]
        if hasattr(self.optimizer, "_mirror_state"):  # optimizer.variables show it (Keras)
            self.optimizer._mirror_state(session.opt_state)
        session.step = int(ts.step)
