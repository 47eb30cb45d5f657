"""What Keras accepts from user-written steps: `compute_loss` overrides without `training`,
and step logs that are one metric's result rather than a dict (Keras's JAX custom-step guide).
"""
from __future__ import annotations

import inspect

import jax


def _accepts_training(fn) -> bool:
    """Whether `fn` takes `training` (Keras added it in 3.3; older overrides lack it)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins and C callables: pass what Keras passes
        return True
    return "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def call_compute_loss(model, x, y, y_pred, sample_weight, training):
    """`model.compute_loss`, with `training` only where its signature accepts it (Keras)."""
    if _accepts_training(model.compute_loss):
        return model.compute_loss(x, y, y_pred, sample_weight, training=training)
    return model.compute_loss(x, y, y_pred, sample_weight)


def is_single_result(logs) -> bool:
    """Logs that are one metric's result: an array or number, not a container."""
    return not isinstance(logs, (dict, list, tuple)) and (
        isinstance(logs, (int, float, jax.Array)) or hasattr(logs, "shape"))


def step_logs(model, logs, metric_values):
    """A step's logs as a dict.

    Keras's guide loops over `model.metrics` and returns the last one's result. In Keras
    that last metric groups the compiled metrics and returns a dict; trine lists them one by
    one, so a lone result is read as Keras's: the compiled metrics' results taken from the
    step's new metric values, or, without compiled metrics, the last metric's name.
    """
    if isinstance(logs, dict):
        return logs
    from trine.core.variable import StatelessScope
    compiled = [(name, m) for _, m, name, _ in getattr(model, "_metrics_list", [])]
    if not compiled:
        metrics = model.metrics
        return {metrics[-1].name if metrics else "loss": logs}
    refs = model.metrics_variables
    out = {}
    with StatelessScope(dict(zip(refs, metric_values))):
        for name, m in compiled:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[name] = r
    return out
