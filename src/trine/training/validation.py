"""Checks of what users pass to fit / evaluate / predict, made on the host before any step
runs, so bad input fails (or warns, where Keras warns) with a message naming the argument
instead of training on garbage or failing deep inside JAX.
"""
from __future__ import annotations

import numbers
import warnings

import jax
import numpy as np


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


def check_batch_size(value, what: str, name: str = "batch_size") -> None:
    """`value` must be None or a positive integer (Keras fails on 2.5 with a slicing error)."""
    if value is None:
        return
    if not _is_int(value):
        raise TypeError(
            f"{what}(): {name} must be a positive integer or None, received {value!r} "
            f"({type(value).__name__}). Pass a whole number of samples, e.g. {name}=32.")
    if value < 1:
        raise ValueError(
            f"{what}(): {name} must be a positive integer or None, received {value!r}. "
            f"Pass {name}=None for the default of 32.")


def check_epochs(epochs, initial_epoch) -> None:
    """epochs and initial_epoch: integers >= 0 (Keras silently trains nothing on -1)."""
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if not _is_int(value):
            raise TypeError(f"fit(): {name} must be an integer >= 0, received {value!r} "
                            f"({type(value).__name__}).")
        if value < 0:
            raise ValueError(f"fit(): {name} must be an integer >= 0, received {value!r}. "
                             "Pass the number of passes over the data, e.g. epochs=10.")


def _walk(struct, prefix, fn):
    """Call `fn(leaf, name)` on the arrays of a nested x / y structure; return it rebuilt."""
    if isinstance(struct, dict):
        return {k: _walk(v, f"{prefix}['{k}']", fn) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(_walk(v, f"{prefix}[{i}]", fn) for i, v in enumerate(struct))
    return fn(struct, prefix)


def real_valued(struct, prefix: str):
    """`struct` with complex arrays replaced by their real part, with the warning Keras gives
    (its float inputs discard the imaginary part); other leaves are returned unchanged."""
    def fn(a, name):
        if a is None or not hasattr(a, "dtype") or not np.issubdtype(a.dtype, np.complexfloating):
            return a
        warnings.warn(
            f"{name} has the complex dtype {a.dtype}; the model's inputs are real, so the "
            f"imaginary part is discarded (as Keras does). Pass np.real({name}) / "
            f"np.imag({name}), or both as separate features, to say which part to use.",
            UserWarning, stacklevel=4)
        return np.real(np.asarray(a)) if not isinstance(a, jax.Array) else a.real
    return None if struct is None else _walk(struct, prefix, fn)


def check_not_empty(n: int, what: str) -> None:
    """fit / evaluate / predict on zero samples: an error rather than an empty History."""
    if n == 0:
        raise ValueError(
            f"{what}() received arrays with 0 samples (x has an empty first axis). Pass at "
            "least one sample.")


# Arrays larger than this, once found clean, are not scanned again while the object lives (a
# 188 MB Fashion-MNIST x costs 40-150 ms a scan, which fit called in a loop would pay every
# call; an in-place edit of such an array between calls goes unseen). Smaller: every call.
_RESCAN_BYTES = 32 * 1024**2
_SCANNED = {}  # id(array) -> weakref to it


def _known_clean(a, add=False) -> bool:
    """Whether the large array `a` was scanned and found finite (add=True: record that)."""
    if a.nbytes <= _RESCAN_BYTES:
        return False
    ref = _SCANNED.get(id(a))
    if not add:
        return ref is not None and ref() is a
    try:
        import weakref
        _SCANNED[id(a)] = weakref.ref(a, lambda _, k=id(a): _SCANNED.pop(k, None))
    except TypeError:  # an array that takes no weak references: scanned every time
        pass
    return True


def _first_non_finite(a):
    """The index (a tuple) of the first NaN / inf in the NumPy array `a`, or None."""
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.inexact) or a.size == 0:
        return None
    if _known_clean(a):
        return None
    with np.errstate(all="ignore"):
        total = np.add.reduce(a, axis=None)
    if np.isfinite(total):  # a finite sum means every element is finite: one pass, no copy
        _known_clean(a, add=True)
        return None
    bad = np.flatnonzero(~np.isfinite(a.reshape(-1)))
    if bad.size == 0:
        return None  # the sum overflowed on large finite values
    return tuple(int(i) for i in np.unravel_index(int(bad[0]), a.shape))


def warn_non_finite(arrays: dict, what: str) -> None:
    """Warn when a NumPy array holds NaN or inf, naming it and its first bad index.

    `arrays` maps a name ("x", "y['out']", "validation_data x") to a nested structure of
    arrays. Device arrays are skipped (reading them back would cost a transfer). A warning,
    not an error: NaN can be intended (a TerminateOnNaN run, a loss that masks NaN targets).
    """
    found = []

    def fn(a, name):
        idx = _first_non_finite(a)
        if idx is not None:
            found.append(f"{name} at index {idx if len(idx) > 1 else idx[0]} "
                         f"(value {a[idx]})")
        return a

    for prefix, struct in arrays.items():
        if struct is not None:
            _walk(struct, prefix, fn)
    if found:
        warnings.warn(
            f"{what}(): the data holds NaN or infinite values: {'; '.join(found)}. The loss "
            "and weights will become NaN. Clean the data (e.g. np.nan_to_num, or drop those "
            "rows) before training.", UserWarning, stacklevel=3)


def check_input_structure(model, x, what: str) -> None:
    """A list / tuple x must have one array per model input (a one-input model fed `(x, x)`
    otherwise fails deep inside JAX with a tracer conversion error)."""
    if not isinstance(x, (list, tuple)):
        return
    try:
        inputs = model.inputs if getattr(model, "built", False) else None
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        return
    n_expected = len(jax.tree_util.tree_leaves(inputs))
    n_given = len(jax.tree_util.tree_leaves(x))
    if n_given != n_expected:
        kind = type(x).__name__
        raise ValueError(
            f"{what}(): model '{model.name}' has {n_expected} input"
            f"{'s' if n_expected != 1 else ''} but x is a {kind} of {n_given} arrays. "
            + ("Pass a single array as x (a tuple is read as one array per input)."
               if n_expected == 1 else
               f"Pass {n_expected} arrays, one per input, in the order of model.inputs, or a "
               "dict keyed by input name."))


def check_fit_args(epochs, initial_epoch, batch_size, validation_batch_size,
                   class_weight) -> None:
    """The scalar arguments of fit, checked before any data is touched."""
    check_epochs(epochs, initial_epoch)
    check_batch_size(batch_size, "fit")
    check_batch_size(validation_batch_size, "fit", "validation_batch_size")
    if class_weight is not None and not isinstance(class_weight, dict):
        raise TypeError(f"fit(): class_weight must be a dict {{class index: weight}}, received "
                        f"{type(class_weight).__name__}.")
    bad = [k for k in (class_weight or {}) if not _is_int(k) or int(k) < 0]
    if bad:
        raise ValueError(f"fit(): class_weight keys must be class indices (integers >= 0), "
                         f"received {bad}. E.g. class_weight={{0: 1.0, 1: 5.0}}.")


def check_arrays(data, what: str, prefix: str = "") -> None:
    """Checks of an `ArrayData` made from the user's arrays: not empty; for fit / evaluate,
    a warning naming the first NaN / inf (a scan of the host arrays)."""
    check_not_empty(data.n, what)
    if what.startswith(("fit", "evaluate")):
        warn_non_finite({f"{prefix}x": data.x, f"{prefix}y": data.y,
                         f"{prefix}sample_weight": data.sw}, what)


def _class_count(model, data) -> int:
    """The classes the (single) output distinguishes: one-hot targets' width, else the
    output's last axis (1 unit: a binary classifier, 2 classes)."""
    y0 = jax.tree_util.tree_leaves(data.y)[0]
    if y0.ndim > 1 and y0.shape[-1] > 1:
        return int(y0.shape[-1])
    x0 = data.first_batch(1)[0]
    spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(tuple(a.shape), a.dtype), x0)
    out = jax.tree_util.tree_leaves(jax.eval_shape(model._symbolic_forward, spec))[0]
    units = int(out.shape[-1]) if out.ndim > 1 else 1
    return max(units, 2)


def check_class_weight_classes(model, data, class_weight) -> None:
    """Keys of class_weight must be classes the model can predict: 0..n_classes-1 (Keras
    accepts any key and silently weights nothing with it)."""
    if not class_weight or data.kind != "arrays" or data.y is None:
        return
    n_classes = _class_count(model, data)
    bad = sorted(int(k) for k in class_weight if int(k) >= n_classes)
    if bad:
        name = (getattr(model, "_out_names", None) or ["output_1"])[0]
        raise ValueError(
            f"fit(): class_weight names classes {bad} that output '{name}' of model "
            f"'{model.name}' cannot predict: it has {n_classes} classes (indices 0.."
            f"{n_classes - 1}). Remove those keys, or check the number of units of the last "
            "layer.")


__all__ = ["check_arrays", "check_batch_size", "check_class_weight_classes", "check_epochs",
           "check_fit_args", "check_input_structure", "check_not_empty", "real_valued",
           "warn_non_finite"]
