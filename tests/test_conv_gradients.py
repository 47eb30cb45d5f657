"""A convolution's gradients in the CPU runtime's library layout (`trine.ops.conv_gradients`)
equal JAX's own, and the training-step check that picks fused loops on the CPU
(`slow_in_cpu_loops`) tells them from JAX's transposes."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trine.ops import conv_gradients
from trine.training.programs import slow_in_cpu_loops


def _conv(x, kernel, strides, pads, dilation):
    rank = x.ndim - 2
    spatial = "DHW"[3 - rank:]
    return jax.lax.conv_general_dilated(
        x, kernel, strides, pads, rhs_dilation=dilation,
        dimension_numbers=(f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"))


def _pads(mode, size, kernel, stride, dilation):
    if mode == "valid":
        return (0, 0)
    if mode == "uneven":
        return (2, 1)
    extent = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


# every stride, dilation and padding in one dimension; the common ones in two and three
CASES = ([(1, s, d, mode, 8, 3) for s, d, mode in itertools.product(
             (1, 2, 3), (1, 2), ("valid", "same", "uneven"))]
         + [(2, s, d, mode, 7, 3) for (s, d), mode in itertools.product(
             ((1, 1), (2, 1), (1, 2)), ("valid", "same", "uneven"))]
         + [(2, 1, 1, "valid", 7, 1), (3, 1, 1, "same", 7, 3), (3, 2, 1, "uneven", 7, 3)])


@pytest.mark.parametrize("rank,stride,dilation,mode,size,k", CASES)
def test_gradients_and_terms_equal_jax(rank, stride, dilation, mode, size, k):
    strides, dil = (stride,) * rank, (dilation,) * rank
    pads = (_pads(mode, size, k, stride, dilation),) * rank
    x = jax.random.normal(jax.random.PRNGKey(0), (3,) + (size,) * rank + (4,))
    kernel = jax.random.normal(jax.random.PRNGKey(1), (k,) * rank + (4, 5))
    g = jax.random.normal(jax.random.PRNGKey(2), _conv(x, kernel, strides, pads, dil).shape)

    @jax.jit  # one program per case: op-by-op dispatch compiles each operation alone
    def both(x, kernel, g):
        y, vjp = jax.vjp(lambda a, b: _conv(a, b, strides, pads, dil), x, kernel)
        gx, gk = vjp(g)
        return {
            "input gradient": (conv_gradients.input_gradient(g, kernel, x.shape, strides,
                                                             pads, dil), gx),
            "kernel gradient": (conv_gradients.kernel_gradient(x, g, kernel.shape, strides,
                                                               pads, dil), gk),
            "input term": (conv_gradients.input_term(x, kernel, y.shape, strides, pads, dil), y),
            "kernel term": (conv_gradients.kernel_term(x, kernel, y.shape, strides, pads, dil),
                            y),
        }

    got = both(x, kernel, g)
    for what, (a, b) in got.items():
        assert a.shape == b.shape, what
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4, err_msg=what)


@pytest.mark.parametrize("padding", [((1, 1), (1, 1)), ((0, 0), (0, 0))],
                         ids=["padded (XLA forward)", "unpadded (patches)"])
def test_cpu_convolution_gradients_run_in_the_library_layout(padding):
    """Reverse mode through trine's CPU convolution holds convolutions in the library layout
    only (JAX's own transpose of a convolution does not) and equals JAX's gradients; forward
    mode still works."""
    from trine.ops import cpu_paths

    x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 6, 3))
    kernel = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 3, 4))
    args = ((1, 1), padding, (1, 1))

    def ours(x, kernel):
        y = cpu_paths.conv_channels_last(x, kernel, *args, lambda a, b: _conv(a, b, *args))
        return jnp.sum(y ** 2 + y)

    def jaxs(x, kernel):
        y = _conv(x, kernel, *args)
        return jnp.sum(y ** 2 + y)

    grad = lambda f: jax.grad(f, argnums=(0, 1))  # noqa: E731
    assert slow_in_cpu_loops(jax.make_jaxpr(grad(jaxs))(x, kernel)) == {"conv_general_dilated"}
    assert slow_in_cpu_loops(jax.make_jaxpr(grad(ours))(x, kernel)) == set()
    for a, b in zip(grad(ours)(x, kernel), grad(jaxs)(x, kernel)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
    tangents = (jnp.ones_like(x), jnp.full_like(kernel, 0.5))
    np.testing.assert_allclose(jax.jvp(ours, (x, kernel), tangents)[1],
                               jax.jvp(jaxs, (x, kernel), tangents)[1], rtol=1e-5)


def test_channels_first_and_grouped_convolutions_are_not_in_the_library_layout():
    x = jnp.ones((2, 4, 6, 6))
    k = jnp.ones((4, 4, 3, 3))
    nchw = jax.make_jaxpr(lambda x: jax.lax.conv_general_dilated(
        x, k, (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW")))(x)
    assert slow_in_cpu_loops(nchw) == {"conv_general_dilated"}
    xl = jnp.ones((2, 6, 6, 4))
    grouped = jax.make_jaxpr(lambda x: jax.lax.conv_general_dilated(
        x, jnp.ones((3, 3, 2, 4)), (1, 1), "SAME", feature_group_count=2,
        dimension_numbers=("NHWC", "HWIO", "NHWC")))(xl)
    assert slow_in_cpu_loops(grouped) == {"conv_general_dilated"}
