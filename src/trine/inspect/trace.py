"""Tracing: a subclassed model's `call` turned into the Functional graph it computes.

`trace(model, input_shape)` runs `model.call` once on symbolic inputs (`KerasTensor`s from
`Input`). Every layer called on them records a node, and operators on them (`x + y`,
`x[:, 0]`) record op nodes, exactly as in the Functional API; the result is a `Functional`
model over the *same* layer objects, so it shares the original's weights and computes the
same function.

Python code that depends only on static values (shapes, flags, loops over lists of layers)
traces fine. Code that needs the *value* of a tensor (an `if` on a tensor, a `jax.numpy`
function applied to a symbolic tensor) cannot be recorded; `trace` then raises a
`TraceError` naming the file and line of the user's code and the reason.
"""
from __future__ import annotations

import inspect
import linecache
import os
import sys
import sysconfig
import weakref

import jax

from trine.core.layer import CallContext, Layer
from trine.core.symbolic import KerasTensor, is_symbolic

__all__ = ["TraceError", "trace", "to_functional"]


class TraceError(TypeError):
    """A model's `call` could not be recorded as a graph.

    Attributes:
        model_name: the model that was traced.
        filename / lineno / line: where in the user's code tracing failed (None if unknown).
        reason: why, in words.
    """

    def __init__(self, message, *, model_name=None, filename=None, lineno=None, line=None,
                 reason=None):
        super().__init__(message)
        self.model_name = model_name
        self.filename = filename
        self.lineno = lineno
        self.line = line
        self.reason = reason


# ------------------------------------------------------------------------------------------
# input specs
def _is_shape(x) -> bool:
    return isinstance(x, (list, tuple)) and all(d is None or isinstance(d, int) for d in x)


def _make_inputs(spec, dtype, base_name, taken=()):
    """Input tensors in the structure of `spec` (shapes include the batch axis)."""
    from trine.layers.core import Input
    taken = set(taken)

    def name_for(key):
        name, n = key, 1
        while name in taken:
            name = f"{key}_{n}"
            n += 1
        taken.add(name)
        return name

    def rec(s, key):
        if isinstance(s, KerasTensor):
            hist = s._keras_history
            from trine.layers.core import InputLayer
            if hist is not None and isinstance(hist[0], InputLayer):
                return s
            return Input(batch_shape=(None,) + tuple(s.shape[1:]), dtype=s.dtype, name=name_for(key))
        if isinstance(s, jax.ShapeDtypeStruct) or (hasattr(s, "shape") and hasattr(s, "dtype")):
            return Input(batch_shape=(None,) + tuple(s.shape[1:]), dtype=str(s.dtype),
                         name=name_for(key))
        if isinstance(s, dict):
            return {k: rec(v, str(k)) for k, v in s.items()}
        if _is_shape(s):
            shape = tuple(s)
            if not shape:
                raise ValueError(f"trace: an input shape must include the batch axis, received {s!r}.")
            return Input(batch_shape=(None,) + shape[1:], dtype=dtype, name=name_for(key))
        if isinstance(s, (list, tuple)):
            return [rec(e, f"{key}_{i + 1}") for i, e in enumerate(s)]
        raise TypeError(
            f"trace: cannot make a symbolic input from {s!r}. Pass a shape with the batch axis "
            "such as (None, 28, 28), a list or dict of shapes, keras.Input tensors, or arrays.")

    return rec(spec, base_name)


def _input_spec_of(model):
    shape = getattr(model, "_build_input_shape", None)
    if shape is not None:
        return shape
    # a Functional/Sequential knows its own inputs
    inputs = getattr(model, "inputs", None)
    if inputs:
        return [tuple(t.shape) for t in inputs] if len(inputs) > 1 else tuple(inputs[0].shape)
    return None


# ------------------------------------------------------------------------------------------
# locating the user's line
_LIB_DIRS = None


def _library_dirs():
    global _LIB_DIRS
    if _LIB_DIRS is None:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the package
        dirs = [os.path.join(here, sub) for sub in ("core", "layers", "graph", "models",
                                                     "inspect", "training", "saving",
                                                     "registry", "ops", "activations.py",
                                                     "backend.py")]
        for mod in ("jax", "jaxlib", "numpy", "optax"):
            m = sys.modules.get(mod)
            if m is not None and getattr(m, "__file__", None):
                dirs.append(os.path.dirname(os.path.abspath(m.__file__)))
        _LIB_DIRS = tuple(dirs)
    return _LIB_DIRS


def _is_user_frame(filename: str) -> bool:
    """Whether a traceback frame is the user's code (not trine's machinery, JAX or stdlib)."""
    if not filename or (filename.startswith("<") and not filename.startswith("<string")):
        return False
    path = os.path.abspath(filename)
    for d in _library_dirs():
        if path == d or path.startswith(d.rstrip(os.sep) + os.sep):
            return False
    stdlib = sysconfig.get_paths().get("stdlib")
    if stdlib and path.startswith(os.path.abspath(stdlib) + os.sep):
        return "site-packages" in path or "dist-packages" in path
    return True


def _frames(exc):
    """All (filename, lineno, funcname) frames of `exc` and its causes, outermost first."""
    out, seen = [], set()
    e = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        tb = e.__traceback__
        while tb is not None:
            f = tb.tb_frame
            out.append((f.f_code.co_filename, tb.tb_lineno, f.f_code.co_name))
            tb = tb.tb_next
        e = e.__cause__ or e.__context__
    return out


def _innermost_cause(exc):
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            break
        exc = nxt
    return exc


def _called_library(frames) -> str | None:
    """The library (jax / numpy) the innermost user frame called into when it failed."""
    idx = [i for i, fr in enumerate(frames) if _is_user_frame(fr[0])]
    if not idx or idx[-1] + 1 >= len(frames):
        return None
    nxt = os.path.abspath(frames[idx[-1] + 1][0])
    for mod in ("jax", "numpy"):
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__file__", None):
            d = os.path.dirname(os.path.abspath(m.__file__))
            if nxt.startswith(d + os.sep):
                return mod
    return None


def _reason(exc, frames=()) -> tuple[str, str]:
    """(why, how to fix) for an exception raised while tracing."""
    root = _innermost_cause(exc)
    msg = str(root)
    name = type(root).__name__
    lib = _called_library(list(frames))
    if lib is not None and name not in ("TracerBoolConversionError",):
        fn = "jax.numpy / jax" if lib == "jax" else "NumPy"
        return (f"a {fn} function was applied directly to a symbolic tensor, which has no "
                "values while tracing",
                "wrap that computation in a Layer, e.g. keras.layers.Lambda(jnp.tanh)(x) (a "
                "layer's call receives real arrays), or use Python operators (+, -, *, /, @, "
                "[...]) which trace")
    if "no truth value" in msg or name in ("TracerBoolConversionError",):
        return ("a Python `if`, `while`, `and`/`or` or `assert` depends on the value of a tensor "
                "(data-dependent control flow)",
                "compute both branches and select with jax.numpy.where, use jax.lax.cond inside a "
                "Layer's call, or make the condition a Python flag")
    if name in ("ConcretizationTypeError", "TracerIntegerConversionError",
                "TracerArrayConversionError"):
        return ("a tensor's value is used as a Python number or NumPy array",
                "keep the computation in jax.numpy inside a Layer's call, or depend on shapes "
                "rather than values")
    if "not supported between instances" in msg and "KerasTensor" in msg:
        return ("a tensor is compared with a Python operator, which needs its value "
                "(data-dependent control flow)",
                "use jax.numpy.where / jax.lax.cond inside a Layer's call")
    if "NoneType" in msg and ("not supported" in msg or "unsupported operand" in msg):
        return ("Python arithmetic or a comparison uses a dimension that is unknown (None) "
                "while tracing, usually the batch size",
                "trace with a fixed batch size, e.g. trace(model, (32, ...)), or use -1 in "
                "reshapes")
    if "KerasTensor" in msg and ("not a valid JAX type" in msg or "JAX array" in msg
                                 or "Cannot interpret" in msg or "cannot convert" in msg.lower()):
        return ("a jax.numpy / NumPy function was applied directly to a symbolic tensor",
                "move that computation into a Layer (its call receives real arrays), or use "
                "Python operators (+, -, *, /, @, [...]) which trace")
    if name == "AttributeError" and "KerasTensor" in msg:
        return ("an array method that symbolic tensors do not have was used",
                "move that computation into a Layer (its call receives real arrays)")
    return (f"{name}: {msg.rstrip('.')}", "make the call depend only on layer calls, Python operators on "
            "tensors and static values (shapes, flags)")


def _trace_error(model, exc) -> TraceError:
    frames = _frames(exc)
    user = [fr for fr in frames if _is_user_frame(fr[0])]
    filename = lineno = line = None
    if user:
        # innermost user frame; prefer one at or below the model's call
        filename, lineno, func = user[-1]
        line = linecache.getline(filename, lineno).strip() or None
    why, fix = _reason(exc, frames)
    root = _innermost_cause(exc)
    where = (f'\n  File "{filename}", line {lineno}, in {func}' + (f"\n    {line}" if line else "")
             if filename else "")
    msg = (f"Cannot trace model '{model.name}' ({type(model).__name__}) into a graph: {why}."
           f"{where}\nFix: {fix}. Summary and plot_model fall back to a per-layer listing for "
           f"such models.\n(Original error: {type(root).__name__}: {root})")
    return TraceError(msg, model_name=model.name, filename=filename, lineno=lineno, line=line,
                      reason=why)


# ------------------------------------------------------------------------------------------
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _spec_key(spec):
    try:
        return repr(jax.tree_util.tree_map(
            lambda x: (tuple(x.shape), str(x.dtype)) if hasattr(x, "shape") else x, spec,
            is_leaf=lambda x: is_symbolic(x) or _is_shape(x)))
    except Exception:  # unusual spec objects: no caching
        return None


def trace(model, input_shape=None, *, dtype: str = "float32", name: str | None = None,
          cache: bool = True):
    """The Functional model that a model's `call` computes, over the same layer objects.

    Args:
        model: a subclassed `Model` (Sequential and Functional models are accepted too and
            give a Functional model over their graph).
        input_shape: the input's shape *with* the batch axis, e.g. `(None, 28, 28)`; a list or
            dict of shapes for several inputs; `keras.Input` tensors; or arrays /
            `jax.ShapeDtypeStruct`s (their batch size is ignored). Default: the shape the model
            was built with (by `build`, a first call, or `fit`).
        dtype: dtype of inputs given as shapes (default float32).
        name: name of the Functional model (default: the model's name).
        cache: reuse an earlier trace of the same model for the same input shape.

    Returns:
        A `Functional` model sharing the model's layers (and so its weights): its outputs equal
        the model's, and training it trains the model.

    Raises:
        ValueError: if no input shape is known (build the model or pass `input_shape`).
        TraceError: if `call` cannot be recorded (data-dependent Python control flow, a
            `jax.numpy` function applied to a symbolic tensor); the message names the file and
            line, the reason, and how to fix it.

    Example:
        >>> graph = trine.inspect.trace(model, (None, 28, 28))
        >>> graph.summary()
    """
    from trine.models.functional import Functional
    from trine.models.sequential import Sequential

    if isinstance(model, Sequential):
        if model._functional is None:
            if input_shape is None:
                raise ValueError(
                    f"Sequential '{model.name}' does not know its input shape, so it has no graph "
                    "yet. Start it with keras.Input(shape=...), pass input_shape= to its first "
                    "layer, call model.build((None, ...)), or pass input_shape to trace().")
            model.build(input_shape)
        g = model._functional
        return Functional(g._inputs_struct, g._outputs_struct, name=name or model.name)
    if isinstance(model, Functional):
        return Functional(model._inputs_struct, model._outputs_struct, name=name or model.name)
    if not isinstance(model, Layer):
        raise TypeError(f"trace expected a trine Model, received {type(model).__name__}.")
    spec = input_shape if input_shape is not None else _input_spec_of(model)
    if spec is None:
        raise ValueError(
            f"Model '{model.name}' has no known input shape, so its call cannot be traced. Call "
            "model.build((None, ...)) or call the model on a batch of data first, or pass the "
            "shape: trace(model, (None, 28, 28)).")
    key = (_spec_key(spec), dtype, tuple(id(l) for l in model._flatten_layers()))
    if cache and key[0] is not None:
        hit = _CACHE.get(model)
        if hit is not None and hit[0] == key:
            return hit[1] if name is None else Functional(hit[1]._inputs_struct,
                                                          hit[1]._outputs_struct, name=name)
    taken = {l.name for l in model._flatten_layers()}
    inputs = _make_inputs(spec, dtype, f"{model.name}_input", taken)
    extra = {}
    try:
        p = inspect.signature(model.call).parameters.get("training")
        if p is not None and p.default is p.empty:
            extra["training"] = None
    except (TypeError, ValueError):
        pass
    try:
        with CallContext(training=None, rng=jax.random.key(0), collect_losses=True):
            outputs = model.call(inputs, **extra)
    except Exception as e:  # any failure of the user's call is reported with its line
        raise _trace_error(model, e) from e
    leaves = jax.tree_util.tree_leaves(outputs, is_leaf=is_symbolic)
    bad = [type(l).__name__ for l in leaves if not isinstance(l, KerasTensor)]
    if bad or not leaves:
        raise TraceError(
            f"Cannot trace model '{model.name}' into a graph: its call returned "
            f"{bad or 'no tensors'} instead of tensors computed by layers from the inputs. Return "
            "the outputs of layer calls (wrap other computations in a Layer).",
            model_name=model.name, reason="call returned non-tensor outputs")
    if isinstance(outputs, tuple):
        outputs = list(outputs)
    if not model.built:
        model._build_input_shape = _shapes_of(inputs)
        model.built = True
    graph = Functional(inputs, outputs, name=name or model.name)
    if cache and key[0] is not None and name is None:
        _CACHE[model] = (key, graph)
    return graph


def _shapes_of(inputs):
    return jax.tree_util.tree_map(lambda t: tuple(t.shape), inputs, is_leaf=is_symbolic)


def to_functional(model, input_shape=None, *, name: str | None = None):
    """A `Functional` model computing the same function as `model`, sharing its layers.

    Sequential models give their graph; subclassed models are traced (see `trace`).

    Example:
        >>> f = to_functional(my_subclassed_model)
        >>> f.summary()
    """
    return trace(model, input_shape, name=name, cache=False)
