"""Keras callbacks: hooks called by fit / evaluate / predict (TensorBoard, which traces the
model, sits above models in trine.inspect; `trine.callbacks` gathers them all).

A callback sees the model through a small interface: `model.stop_training` (a bool the
callback may set), `model.get_weights()` / `model.set_weights(list)`,
`model.save_weights(filepath, overwrite=True)`, `model.save(filepath)` and
`model.optimizer.learning_rate` (a float property; setting it changes the rate from the next
step on). Logs passed to the hooks are dicts of Python floats, sorted by name.

    early = trine.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                          restore_best_weights=True)
    model.fit(x, y, validation_split=0.1, epochs=50, callbacks=[early])
"""
from __future__ import annotations

from trine.training.callbacks.base import Callback
from trine.training.callbacks.callback_list import CallbackList
from trine.training.callbacks.checkpoints import BackupAndRestore, ModelCheckpoint
from trine.training.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from trine.training.callbacks.loggers import CSVLogger, History, LambdaCallback, ProgbarLogger
from trine.training.callbacks.stopping import EarlyStopping, TerminateOnNaN

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History",
    "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger",
    "ReduceLROnPlateau", "TerminateOnNaN",
]
