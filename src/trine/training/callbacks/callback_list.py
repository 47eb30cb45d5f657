"""CallbackList: the callbacks of one fit / evaluate / predict call, each hook dispatched to
those that override it, with the logs turned into Python floats once per call."""
from __future__ import annotations

from typing import Optional

from trine.training.callbacks.base import Callback

from trine.training.callbacks.loggers import History, ProgbarLogger

def _overrides(cb, names) -> bool:
    """Whether `cb` does something in any of the hooks `names` (False for base defaults)."""
    if not isinstance(cb, Callback):
        return True  # duck-typed callback (e.g. a keras.callbacks.Callback): always call
    own = getattr(cb, "__dict__", {})
    for name in names:
        if name in own or getattr(type(cb), name) is not getattr(Callback, name):
            return True
    return False


def _to_python(value):
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _pythonify(logs) -> dict:
    """Flattens nested dicts and converts values to Python floats where possible, sorted."""
    result = {}
    if not logs:
        return result
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(_pythonify(value))
        else:
            result[key] = _to_python(value)
    return result


class CallbackList(Callback):
    """Dispatches each hook to a list of callbacks, in order.

    Args:
        callbacks: a list (possibly nested) of callbacks, a single callback, or None.
        add_history: append a `History` callback unless one is in the list.
        add_progbar: append a `ProgbarLogger` unless one is in the list.
        model: the model to give to every callback.
        **params: the run's parameters (`verbose`, `epochs`, `steps`) for every callback.

    Attributes:
        callbacks: the callbacks, including the added History / ProgbarLogger.
        history: the `History` callback, or None.

    Raises:
        TypeError: if an entry is not a callback.

    Logs passed on are converted once per hook to a new dict of Python floats (sorted by
    name), shared by all callbacks of that call, so a callback that adds a key (as
    ReduceLROnPlateau adds "learning_rate") is seen by the ones after it (History, the bar).
    """

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False,
                 model=None, **params):
        super().__init__()
        self.callbacks = self._flatten(callbacks)
        self._dispatch_cache: dict = {}
        self.history: Optional[History] = None
        self._progbar: Optional[ProgbarLogger] = None
        for cb in self.callbacks:
            if isinstance(cb, History) and self.history is None:
                self.history = cb
            elif isinstance(cb, ProgbarLogger) and self._progbar is None:
                self._progbar = cb
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and self._progbar is None:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self.set_model(model)
        self.set_params(params)

    @staticmethod
    def _flatten(callbacks) -> list:
        if callbacks is None:
            return []
        if not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        flat = []
        for item in callbacks:
            if isinstance(item, (list, tuple)):
                flat.extend(CallbackList._flatten(item))
            elif item is None:
                continue
            elif isinstance(item, Callback) or (
                    hasattr(item, "set_model") and hasattr(item, "on_epoch_end")):
                flat.append(item)
            else:
                raise TypeError(
                    "callbacks must be Callback instances (trine.callbacks.Callback "
                    f"subclasses); received {item!r} ({type(item).__name__}). Wrap a function "
                    "in trine.callbacks.LambdaCallback(on_epoch_end=fn).")
        return flat

    def append(self, callback) -> None:
        """Adds a callback at the end (it receives the current model and params)."""
        self.callbacks.extend(self._flatten([callback]))
        if self._model is not None:
            callback.set_model(self._model)
        if self.params:
            callback.set_params(self.params)

    def set_params(self, params: dict) -> None:
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model) -> None:
        if model is None:
            return
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for cb in self.callbacks:
            cb.set_model(model)

    # ------------------------------------------------------------------ dispatch
    def _targets(self, hook: str, names) -> list:
        key = (hook, len(self.callbacks))
        targets = self._dispatch_cache.get(key)
        if targets is None:
            targets = [cb for cb in self.callbacks if _overrides(cb, names)]
            self._dispatch_cache[key] = targets
        return targets

    def _call(self, hook: str, names, *args):
        targets = self._targets(hook, names)
        if not targets:
            return
        logs = _pythonify(args[-1])
        args = args[:-1] + (logs,)
        for cb in targets:
            getattr(cb, hook)(*args)

    def has_batch_hooks(self, mode: str) -> bool:
        """Whether any callback acts per batch of `mode` ("train", "test", "predict"): when
        none does, the loop need not bring each chunk's logs back to the host."""
        names = {"train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                           "on_batch_end")}.get(mode, (f"on_{mode}_batch_begin",
                                                       f"on_{mode}_batch_end"))
        return bool(self._targets(f"batch hooks of {mode}", names))

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", ("on_batch_begin",), batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", ("on_batch_end",), batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", ("on_epoch_begin",), epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", ("on_epoch_end",), epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", ("on_train_batch_begin", "on_batch_begin"),
                   batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", ("on_train_batch_end", "on_batch_end"), batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", ("on_test_batch_begin",), batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", ("on_test_batch_end",), batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", ("on_predict_batch_begin",), batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", ("on_predict_batch_end",), batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", ("on_train_begin",), logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", ("on_train_end",), logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", ("on_test_begin",), logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", ("on_test_end",), logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", ("on_predict_begin",), logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", ("on_predict_end",), logs)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)
