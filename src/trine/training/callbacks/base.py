"""The callback base class: the hooks fit / evaluate / predict call, and the one way
callbacks print."""
from __future__ import annotations

import sys
from typing import Optional


HOOKS = (
    "on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end", "on_train_begin", "on_train_end",
    "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end",
)


def print_message(message: str) -> None:
    from trine.config import is_interactive_logging_enabled
    if not is_interactive_logging_enabled():  # keras.config: to Python logging instead
        import logging
        logging.getLogger("trine").info(message.strip("\n"))
        return
    stream = sys.stdout
    stream.write(message + "\n")
    flush = getattr(stream, "flush", None)
    if callable(flush):
        flush()


class Callback:
    """Base class of callbacks: override the hooks you need.

    Attributes:
        params: the run's parameters (`verbose`, `epochs`, `steps`), set by the trainer.
        model: the model being trained (set by the trainer through `set_model`).

    Example:
        >>> class PrintLoss(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(epoch, logs["loss"])
    """

    # True: fit's steps keep the previous weights where a step's loss is not finite, so the
    # callback can stop training on the state before it
    guards_nonfinite = False

    def __init__(self):
        self.params: Optional[dict] = None
        self._model = None

    def set_params(self, params: dict) -> None:
        """Stores the run's parameters."""
        self.params = params

    def set_model(self, model) -> None:
        """Stores the model the callback acts on."""
        self._model = model

    @property
    def model(self):
        """The model set by `set_model` (None before). Mid-epoch, reading it first writes
        the running fit's latest state into the model's variables (as Keras does on JAX):
        fit keeps the state on the device between its epoch-end syncs."""
        sync = getattr(self._model, "jax_state_sync", None)
        if sync is not None:
            sync()
        return self._model

    @model.setter
    def model(self, model) -> None:
        """`callback.model = model` is `set_model(model)`: KerasTuner's custom-training-loop
        guide assigns the model to the tuner's callbacks this way (tf.keras allowed it)."""
        self.set_model(model)

    def on_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """Legacy alias of `on_train_batch_begin` (called by its default)."""

    def on_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """Legacy alias of `on_train_batch_end` (called by its default)."""

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        """Called at the start of an epoch (0-based `epoch`)."""

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        """Called at the end of an epoch with its metrics (validation ones as `val_*`)."""

    def on_train_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called before a training step; the default calls `on_batch_begin`."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called after a training step with the running metrics; default: `on_batch_end`."""
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called before an evaluation step."""

    def on_test_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called after an evaluation step with the running metrics."""

    def on_predict_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called before a prediction step."""

    def on_predict_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """Called after a prediction step."""

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        """Called at the start of `fit`."""

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        """Called at the end of `fit`."""

    def on_test_begin(self, logs: Optional[dict] = None) -> None:
        """Called at the start of `evaluate`."""

    def on_test_end(self, logs: Optional[dict] = None) -> None:
        """Called at the end of `evaluate` with the final metrics."""

    def on_predict_begin(self, logs: Optional[dict] = None) -> None:
        """Called at the start of `predict`."""

    def on_predict_end(self, logs: Optional[dict] = None) -> None:
        """Called at the end of `predict`."""
