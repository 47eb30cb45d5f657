"""Array operations for layer code (Keras `keras.ops`), on jax.numpy.

Every function of `jax.numpy` is available under its own name, plus `jax.nn`'s activations;
arguments that are trine Variables are read as their values, so `ops.matmul(x, self.kernel)`
works inside `call` as in Keras.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from trine.core.symbolic import any_symbolic
from trine.core.variable import Variable

_NN = {"relu", "relu6", "sigmoid", "softmax", "log_softmax", "softplus", "silu", "swish",
       "gelu", "elu", "selu", "leaky_relu", "one_hot", "log_sigmoid", "hard_sigmoid",
       "celu", "glu", "logsumexp", "standardize", "hard_tanh"}


def _unwrap(x):
    if isinstance(x, Variable):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(e) for e in x)
    return x


def _wrap(fn, name=None):
    op_name = name or fn.__name__

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        if any_symbolic((args, kwargs)):
            # On symbolic tensors (a Functional graph being built) the op becomes a node
            # of the graph, as keras.ops does; its name is saved, never code.
            from trine.layers.ops_layer import OpLayer
            return OpLayer(f"ops.{op_name}", op_kwargs=kwargs)(*args)
        return fn(*[_unwrap(a) for a in args], **{k: _unwrap(v) for k, v in kwargs.items()})
    return inner


def convert_to_tensor(x, dtype=None):
    return jnp.asarray(_unwrap(x), dtype=dtype)


def convert_to_numpy(x):
    import numpy as np
    return np.asarray(_unwrap(x))


def cast(x, dtype):
    return jnp.asarray(_unwrap(x)).astype(dtype)


def shape(x):
    return tuple(_unwrap(x).shape)


def cond(pred, true_fn, false_fn):
    return jax.lax.cond(pred, true_fn, false_fn)


def __getattr__(name):
    if name in _NN and hasattr(jax.nn, name):
        fn = _wrap(getattr(jax.nn, name), name)
    elif hasattr(jnp, name):
        fn = _wrap(getattr(jnp, name), name)
    elif name == "logsumexp":
        fn = _wrap(jax.nn.logsumexp, name)
    else:
        raise AttributeError(f"trine.ops has no operation {name!r} (jax.numpy has none either).")
    globals()[name] = fn
    return fn
