"""Callbacks that write the model to disk: ModelCheckpoint (per epoch or per batches, best
only if asked) and BackupAndRestore (resume an interrupted fit)."""
from __future__ import annotations

import os
import warnings
from typing import Optional

from trine.training.callbacks.base import Callback, print_message

from trine.training.callbacks.monitor import MonitorCallback

class ModelCheckpoint(MonitorCallback):
    """Saves the model or its weights every epoch (or every `save_freq` batches).

    Args:
        filepath: where to save; may contain `{epoch:02d}` (1-based), `{batch}` and any log
            key, e.g. "ckpt/model-{epoch:02d}-{val_loss:.2f}.keras". Must end in ".keras"
            (or ".h5"), or ".weights.h5" with `save_weights_only=True`.
        monitor: the metric for `save_best_only`.
        verbose: 1 prints a message per save.
        save_best_only: only save when the monitored metric improves.
        save_weights_only: call `model.save_weights(path, overwrite=True)` instead of
            `model.save(path)`.
        mode: "min", "max" or "auto" (see `EarlyStopping`).
        save_freq: "epoch", or an int: save every that many batches.
        initial_value_threshold: with `save_best_only`, the value to beat first.

    Raises:
        ValueError: for a bad `save_freq` or file extension.
        KeyError: (when saving) if `filepath` names a key that is not in the logs.
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq="epoch",
                 initial_value_threshold: Optional[float] = None):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(
                f"ModelCheckpoint: save_freq must be 'epoch' or a positive integer (a number "
                f"of batches), received save_freq={save_freq!r}.")
        self.save_freq = save_freq
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "ModelCheckpoint: with save_weights_only=True the filepath must end in "
                f"'.weights.h5', received filepath={self.filepath!r}.")
        if not save_weights_only and not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(
                "ModelCheckpoint: the filepath must end in '.keras' (the model format), "
                f"received filepath={self.filepath!r}. Or pass save_weights_only=True with a "
                "'.weights.h5' path.")
        self._batches_since_save = 0
        self._last_batch_seen: Optional[int] = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch started
        else:
            added = batch - self._last_batch_seen
        self._last_batch_seen = batch
        self._batches_since_save += added
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch, batch, logs) -> str:
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f"ModelCheckpoint could not format filepath={self.filepath!r}: no value for "
                f"{e}. Available keys: epoch, batch, {', '.join(logs)}.") from None

    def _should_save(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print_message(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"ModelCheckpoint can save the best model only with {self.monitor} "
                          "available; saving anyway.", stacklevel=3)
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_message(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                       f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print_message(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save(self, epoch, batch, logs):
        if self.monitor_op is None:
            self._set_monitor_op()
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {filepath!r} is an existing directory. Give a file "
                "path, e.g. os.path.join(dir, 'model.keras').")
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        model = self.model
        if batch is not None:
            sync = getattr(model, "jax_state_sync", None)
            if callable(sync):  # mid-epoch: ask the trainer to write values back first
                sync()
        if self.save_weights_only:
            model.save_weights(filepath, overwrite=True)
        else:
            model.save(filepath)
        if self.verbose > 0:
            print_message(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


# ====================================================================== others
class BackupAndRestore(Callback):
    """Back up the whole training state at every epoch end; a restarted fit resumes from it.

    After epoch `n` the backup is `backup_dir/epoch-<n>.weights.h5` (weights, non-trainable
    state, optimizer state and step, written by `save_weights`), then the manifest
    `backup_dir/training_state.json` (`{"epoch": n}`, the epochs done), which names that
    file by its epoch. The manifest is replaced atomically and written last, so a kill at any
    point leaves a manifest naming a complete weights file of the same epoch; older weights
    files are removed only after the new manifest is in place. When `fit` starts and a backup
    exists, the model loads it and training resumes at the next epoch. Shuffling and dropout
    draw their keys from the seed, the epoch and the step, so a run killed at any point (even
    SIGKILL mid-epoch or mid-backup) and restarted with the same command and seed ends with
    the weights of an unbroken run. The backup is deleted when training ends normally
    (`delete_checkpoint=True`).

    Args:
        backup_dir: directory for the backup (created if missing).
        save_freq: "epoch" (only this: resuming inside an epoch would need the data
            position, which trine does not back up; an epoch is redone instead).
        delete_checkpoint: remove the backup when fit ends without interruption.

    Raises:
        ValueError: for an empty backup_dir or a save_freq other than "epoch"; when fit
            starts on a backup directory whose manifest is malformed or names a missing file.
    """

    _LEGACY_WEIGHTS = "latest.weights.h5"  # what trine wrote before the manifest named a file

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir must be a directory path, "
                             f"received {backup_dir!r}.")
        if save_freq != "epoch":
            raise ValueError(
                "BackupAndRestore: only save_freq='epoch' is supported (an interrupted epoch "
                f"is redone from the last epoch's backup), received save_freq={save_freq!r}.")
        if double_checkpoint:
            raise ValueError("BackupAndRestore: double_checkpoint is not supported; the backup "
                             "is replaced atomically instead.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._state = os.path.join(self.backup_dir, "training_state.json")
        self._interrupted = False

    def _weights_path(self, epochs_done):
        return os.path.join(self.backup_dir, f"epoch-{int(epochs_done)}.weights.h5")

    def _weights_files(self):
        """Every weights file of this backup directory (any epoch's, the legacy name's)."""
        try:
            names = os.listdir(self.backup_dir)
        except OSError:
            return []
        return [os.path.join(self.backup_dir, n) for n in names
                if n == self._LEGACY_WEIGHTS or (n.startswith("epoch-") and n.endswith(".weights.h5")
                                                 and n[6:-11].isdigit())]

    def on_train_begin(self, logs=None):
        import json
        self._interrupted = True
        if not os.path.exists(self._state):
            return
        with open(self._state) as f:
            state = json.load(f)
        epoch = state.get("epoch") if isinstance(state, dict) else None
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(
                f"BackupAndRestore: {self._state} is not a backup trine wrote (expected "
                f'{{"epoch": <int >= 0>}}, found {state!r}). Delete the directory to start over.')
        weights = self._weights_path(epoch)
        if not os.path.exists(weights):
            legacy = os.path.join(self.backup_dir, self._LEGACY_WEIGHTS)
            if not os.path.exists(legacy):
                raise ValueError(
                    f"BackupAndRestore: {self._state} says {epoch} epochs are done but their "
                    f"weights file {weights} is missing. Delete the directory to start over.")
            weights = legacy
        self.model.load_weights(weights)
        self.model.training_session.resume_from(epoch)

    def on_epoch_end(self, epoch, logs=None):
        import json
        from trine._util.atomic import atomic_write
        os.makedirs(self.backup_dir, exist_ok=True)
        weights = self._weights_path(int(epoch) + 1)
        self.model.save_weights(weights, overwrite=True)
        # the commit point: until this replace, the manifest names the previous epoch's file
        manifest = json.dumps({"epoch": int(epoch) + 1}).encode()
        atomic_write(self._state, lambda f: f.write(manifest), what="backup manifest")
        for path in self._weights_files():
            if path != weights:
                os.remove(path)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:  # reached only when fit ends without an exception
            for path in [self._state] + self._weights_files():
                if os.path.exists(path):
                    os.remove(path)
            try:
                os.rmdir(self.backup_dir)
            except OSError:
                pass
