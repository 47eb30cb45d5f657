"""How every op is wrapped: trine Variables read as their values, and an op called on
symbolic tensors recorded as a graph node (by name, never code)."""
from __future__ import annotations

import builtins as _bi
import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as _np

from trine.core.symbolic import any_symbolic, record_op
from trine.core.variable import Variable

_NN = {"relu", "relu6", "sigmoid", "softmax", "log_softmax", "softplus", "silu", "swish",
       "gelu", "elu", "selu", "log_sigmoid", "hard_sigmoid", "celu", "glu", "standardize",
       "hard_tanh"}


def _unwrap(x):
    if isinstance(x, Variable):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(e) for e in x)
    return x


def _unwrap_tree(tree):
    """`tree` with every trine Variable replaced by its value (for the control-flow ops)."""
    return jax.tree_util.tree_map(lambda v: v.value if isinstance(v, Variable) else v, tree,
                                  is_leaf=lambda v: isinstance(v, Variable))


def _symbolic_kwargs_as_args(fn, op_name, args, kwargs):
    """Move symbolic tensors passed by keyword into the positional arguments.

    OpLayer records its positional arguments as graph inputs and saves its keyword arguments
    as config, so a tensor given as `gamma=t` must travel positionally.
    """
    sym = [k for k, v in kwargs.items() if any_symbolic(v)]
    if not sym:
        return args, kwargs
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params]
    if _bi.any(k not in names for k in sym):
        raise TypeError(
            f"ops.{op_name}: symbolic tensors can only be passed to parameters that also "
            f"accept positional values; received them for {sorted(sym)}. Pass them "
            "positionally.")
    last = _bi.max(names.index(k) for k in sym)
    args, kwargs = list(args), dict(kwargs)
    for p in params[len(args):last + 1]:
        if p.name in kwargs:
            args.append(kwargs.pop(p.name))
        elif p.default is not p.empty:
            args.append(p.default)
        else:
            raise TypeError(f"ops.{op_name}: missing required argument {p.name!r}.")
    return tuple(args), kwargs


def _listify_axes(kwargs):
    # a graph saved to JSON gives tuple-valued axes back as lists; jax wants tuples
    for k in ("axis", "axes"):
        if isinstance(kwargs.get(k), list):
            kwargs[k] = tuple(kwargs[k])
    return kwargs


def _wrap(fn, name=None):
    op_name = name or fn.__name__

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        if any_symbolic((args, kwargs)):
            # On symbolic tensors (a Functional graph being built) the op becomes a node
            # of the graph, as keras.ops does; its name is saved, never code.
            args, kwargs = _symbolic_kwargs_as_args(fn, op_name, args, kwargs)
            return record_op(f"ops.{op_name}", args, kwargs)
        kwargs = _listify_axes({k: _unwrap(v) for k, v in kwargs.items()})
        return fn(*[_unwrap(a) for a in args], **kwargs)
    return inner


def _op(fn):
    """Decorator: an array op under its own name (Variables read, symbolic-aware)."""
    return _wrap(fn, fn.__name__)


def _axes(axis):
    """An axis argument as jax wants it: None, an int, or a tuple of ints."""
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _float(x):
    """`x` as an array, integer and boolean inputs promoted to float32."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.float32)
    return x


def _check_int(value, name, op, minimum=None):
    if isinstance(value, _bi.bool) or not isinstance(value, (int, _np.integer)) or (
            minimum is not None and value < minimum):
        what = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise ValueError(f"{op}: argument `{name}` must be {what}, received {name}={value!r}.")
    return int(value)
