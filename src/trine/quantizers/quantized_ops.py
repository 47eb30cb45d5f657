"""The forward maths of quantized layers, with the gradients Keras gives them: inputs get
the gradient of the dequantized (float) kernel; the integer weights and scales get none."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import ml_dtypes

from trine.quantizers.float8 import (compute_float8_amax_history, compute_float8_scale,
                                     quantize_and_dequantize)

_E4M3_MAX = float(ml_dtypes.finfo("float8_e4m3fn").max)
_E5M2_MAX = float(ml_dtypes.finfo("float8_e5m2").max)


def _no_gradient(x):
    """The cotangent of an input that gets no gradient (float0 for integer arrays)."""
    if jnp.issubdtype(x.dtype, jnp.integer):
        return np.zeros(x.shape, dtype=jax.dtypes.float0)
    return jnp.zeros_like(x)


def integer_contract(contract, x, kernel):
    """`contract(x, kernel)` in int32 when both are integers (no int8 overflow), else with
    the kernel cast to the inputs' float dtype."""
    if jnp.issubdtype(x.dtype, jnp.integer):
        return contract(x, kernel, preferred_element_type=jnp.int32)
    return contract(x, kernel.astype(x.dtype))


def quantized_contraction(x, kernel, kernel_scale, *, contract, contract_grad, float_kernel,
                          quantize_inputs, compute_dtype):
    """`contract(q(x), kernel) / (input_scale * kernel_scale)`.

    Args:
        x: the float inputs.
        kernel / kernel_scale: the integer kernel and the scale that maps floats onto it.
        contract: `(x, kernel, **kwargs) -> out` (jnp.matmul, an einsum).
        contract_grad: `(upstream, float_kernel) -> gradient of x`.
        float_kernel: `(kernel, kernel_scale) -> the dequantized kernel`.
        quantize_inputs: `x -> (quantized, scale aligned with the output)`, or None to keep
            the inputs float.
        compute_dtype: the dtype of the output.
    """

    @jax.custom_vjp
    def run(x, kernel, kernel_scale):
        return forward(x, kernel, kernel_scale)[0]

    def forward(x, kernel, kernel_scale):
        scale = kernel_scale
        if quantize_inputs is not None:
            x, input_scale = quantize_inputs(x)
            scale = scale * input_scale
        out = integer_contract(contract, x, kernel).astype(compute_dtype) / scale
        return out, (kernel, kernel_scale)

    def backward(saved, upstream):
        kernel, kernel_scale = saved
        grad = contract_grad(upstream, float_kernel(kernel, kernel_scale))
        return grad, _no_gradient(kernel), _no_gradient(kernel_scale)

    run.defvjp(forward, backward)
    return run(x, kernel, kernel_scale)


def with_float_kernel_gradient(x, float_kernel, forward, contract_grad):
    """`forward(x, float_kernel)`, whose gradient to `x` is `contract_grad(upstream,
    float_kernel)` (as if the inputs were not quantized inside `forward`)."""

    @jax.custom_vjp
    def run(x, kernel):
        return forward(x, kernel)

    def save(x, kernel):
        return forward(x, kernel), kernel

    def backward(kernel, upstream):
        return contract_grad(upstream, kernel), jnp.zeros_like(kernel)

    run.defvjp(save, backward)
    return run(x, float_kernel)


def float8_inputs(x, scale, amax_history, compute_dtype, training=False):
    """`x` quantized to float8_e4m3fn and back with `scale`; the gradient passes through to
    `x`. In training the "gradients" of `scale` and `amax_history` are their next values
    (delayed scaling: the scale from the history's maximum, `max|x|` pushed into the
    history), which the optimizer writes over them (`Variable.overwrite_with_gradient`), as
    Keras does; in inference they get none."""

    @jax.custom_vjp
    def run(x, scale, amax_history):
        return quantize_and_dequantize(x, scale, "float8_e4m3fn", compute_dtype)

    def forward(x, scale, amax_history):
        if training:
            following = (compute_float8_scale(jnp.max(amax_history, axis=0), scale,
                                              jnp.float32(_E4M3_MAX)),
                         compute_float8_amax_history(x, amax_history))
        else:
            following = (jnp.zeros_like(scale), jnp.zeros_like(amax_history))
        return run(x, scale, amax_history), following

    def backward(following, upstream):
        return (upstream,) + following

    run.defvjp(forward, backward)
    return run(x, scale, amax_history)


def float8_output_gradient(out, scale, amax_history, compute_dtype):
    """`out` unchanged; its gradient quantized to float8_e5m2 and back with `scale`, and the
    next `scale` / `amax_history` (from the history and the gradient) as their "gradients"
    (see `float8_inputs`)."""

    @jax.custom_vjp
    def run(out, scale, amax_history):
        return out

    def forward(out, scale, amax_history):
        return out, (scale, amax_history)

    def backward(saved, upstream):
        scale, amax_history = saved
        following_scale = compute_float8_scale(jnp.max(amax_history, axis=0), scale,
                                               jnp.float32(_E5M2_MAX))
        qdq = quantize_and_dequantize(upstream, scale, "float8_e5m2", compute_dtype)
        return (qdq.astype(upstream.dtype), following_scale,
                compute_float8_amax_history(upstream, amax_history))

    run.defvjp(forward, backward)
    return run(out, scale, amax_history)

