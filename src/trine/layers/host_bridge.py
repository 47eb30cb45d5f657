"""A function another framework computes on the host, as a differentiable JAX function.

`TorchModuleWrapper` and `TFSMLayer` run a PyTorch module or a TensorFlow SavedModel inside
a trine model: the forward pass and its vector-Jacobian product run in the other framework
through `jax.pure_callback`, so `fit` trains the wrapped parameters like any weight. The
calls leave XLA for the host on every step (they cannot fuse), so they suit models whose
foreign part is small or frozen.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _is_float(dtype) -> bool:
    return jnp.issubdtype(dtype, jnp.floating)


def host_differentiable(forward, backward, out_struct):
    """`f(params, inputs)` running `forward` on the host, differentiable through `backward`.

    Args:
        forward: `(params, inputs) -> outputs`, NumPy in and out; `outputs` matches
            `out_struct`.
        backward: `(params, inputs, output_cotangents) -> (param_grads, input_grads)`, NumPy
            in and out, each shaped like its primal (any value for non-float primals).
        out_struct: the outputs' `jax.ShapeDtypeStruct` tree.
    """

    @jax.custom_vjp
    def f(params, inputs):
        return jax.pure_callback(forward, out_struct, params, inputs)

    def f_fwd(params, inputs):
        return f(params, inputs), (params, inputs)

    def f_bwd(residuals, cotangents):
        spec = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype if _is_float(a.dtype)
                                           else jnp.float32), residuals)
        grads = jax.pure_callback(backward, spec, *residuals, cotangents)
        # integer primals (token ids) have no tangent space: JAX wants float0 zeros there
        return jax.tree_util.tree_map(
            lambda g, a: g if _is_float(a.dtype) else np.zeros(a.shape, jax.dtypes.float0),
            tuple(grads), residuals)

    f.defvjp(f_fwd, f_bwd)
    return f


def as_struct(tree):
    """The `ShapeDtypeStruct` tree of NumPy arrays."""
    return jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype), tree)
