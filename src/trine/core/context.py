"""What flows down a call without being an argument: the training flag, the rng, collected
losses, the masks of traced tensors, and the recorders that watch layer calls."""
from __future__ import annotations

import threading

_ctx = threading.local()


class _ThreadScope:
    """A `with` block that is the innermost entry of this thread's stack `_stack_name`."""

    _stack_name = ""

    def __enter__(self):
        stack = getattr(_ctx, self._stack_name, None)
        if stack is None:
            stack = []
            setattr(_ctx, self._stack_name, stack)
        stack.append(self)
        return self

    def __exit__(self, *exc):
        getattr(_ctx, self._stack_name).pop()
        return False


class CallContext(_ThreadScope):
    _stack_name = "stack"

    def __init__(self, training=None, rng=None, collect_losses=False):
        self.training = training
        self.rng = rng
        self.losses = [] if collect_losses else None
        self.masks = {}  # id(tracer) -> (tracer, mask): the masks of this call's tracers


class CallRecorder(_ThreadScope):
    """Records every layer call made while active: (layer, inputs, outputs) in call order."""

    _stack_name = "recorders"

    def __init__(self):
        self.calls = []


def _record(layer, inputs, outputs):
    recs = getattr(_ctx, "recorders", None)
    if recs:
        recs[-1].calls.append((layer, inputs, outputs))


# Masks travel with the tensor, as Keras's `_keras_mask` attribute: concrete arrays and
# KerasTensors carry it themselves. JAX tracers take no attributes, so a traced call keeps
# its masks in its CallContext (they die with the call: nothing outlives the trace); a
# tracer outside any context uses a table emptied when the tracer is collected (Keras's way).
_LOOSE_MASKS: dict = {}


def _drop_loose(key) -> None:
    _LOOSE_MASKS.pop(key, None)


def set_mask(x, mask) -> None:
    """Attach `mask` to the tensor `x` (Keras's `_keras_mask`), for the layers after it."""
    if mask is None:
        return
    try:
        x._keras_mask = mask
        return
    except AttributeError:
        pass
    ctx = current_context()
    if ctx is not None:
        ctx.masks[id(x)] = (x, mask)
        return
    import weakref
    try:
        weakref.finalize(x, _drop_loose, id(x))
    except TypeError:  # not weak-referenceable: a mask it cannot carry is dropped
        return
    _LOOSE_MASKS[id(x)] = (weakref.ref(x), mask)


def get_mask(x):
    """The mask attached to `x`, or None."""
    mask = getattr(x, "_keras_mask", None)
    if mask is not None:
        return mask
    for ctx in reversed(getattr(_ctx, "stack", None) or ()):
        entry = ctx.masks.get(id(x))
        if entry is not None and entry[0] is x:
            return entry[1]
    entry = _LOOSE_MASKS.get(id(x))
    if entry is not None and entry[0]() is x:
        return entry[1]
    return None


def context_stack() -> tuple:
    """The active call contexts, outermost first."""
    return tuple(getattr(_ctx, "stack", None) or ())


def current_context() -> CallContext | None:
    st = getattr(_ctx, "stack", None)
    return st[-1] if st else None
