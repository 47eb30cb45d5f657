"""The CPU formulations of grouped, depthwise and channels-first convolutions
(`trine.ops.cpu_grouped`, `trine.ops.convolution.convolve`): the same maths as XLA's
convolution with feature groups (to float rounding) in values, both gradients, forward mode
and second order; no XLA grouped convolution left in the CPU program; and a depthwise
kernel gradient that keeps memory near XLA's."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trine.ops.convolution import convolve, dimension_numbers, same_padding
from trine.training.programs import equations, slow_in_cpu_loops

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu",
                                reason="the CPU formulations are taken only on the CPU")


def xla_conv(x, k, strides, padding, dilation, data_format, groups):
    rank = x.ndim - 2
    sizes = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
    pads = ([(0, 0)] * rank if padding == "valid" else
            [same_padding(n, kk, s, d) for n, kk, s, d in zip(sizes, k.shape[:rank], strides,
                                                            dilation)])
    return jax.lax.conv_general_dilated(x, k, strides, pads, rhs_dilation=dilation,
                                        dimension_numbers=dimension_numbers(rank, data_format),
                                        feature_group_count=groups)


CASES = [
    # per-sample input (channels last), kernel spatial, in/group, out, groups, strides,
    # padding, dilation
    ((9, 4), (3,), 1, 4, 4, (1,), "same", (1,)),              # depthwise 1D
    ((9, 4), (3,), 1, 8, 4, (2,), "same", (1,)),              # depth multiplier 2, strided
    ((10, 11, 3), (3, 3), 1, 9, 3, (2, 1), "valid", (1, 1)),  # multiplier 3
    ((12, 12, 6), (3, 3), 1, 6, 6, (1, 1), "same", (2, 2)),   # dilated
    ((8, 8, 5), (7, 7), 1, 5, 5, (1, 1), "same", (1, 1)),     # a ConvNeXt-style 7x7
    ((6, 7, 5, 2), (2, 3, 2), 1, 4, 2, (1, 2, 1), "same", (1, 1, 2)),  # 3D
    # more than GATHER_GRADIENT_POSITIONS: the input gradient as a gather
    ((11, 10, 4), (5, 5), 1, 8, 4, (2, 2), "valid", (1, 1)),
    ((13, 4), (5,), 1, 4, 4, (3,), "same", (2,)),
    ((12, 9, 3), (4, 3), 1, 6, 3, (2, 3), "same", (1, 1)),
    ((9, 4), (3,), 2, 4, 2, (1,), "same", (2,)),              # 2 groups of 2 (the harness's)
    ((8, 8, 6), (3, 3), 2, 6, 3, (1, 1), "same", (1, 1)),     # 3 groups of 2
    ((8, 8, 8), (3, 3), 4, 4, 2, (2, 2), "valid", (1, 1)),    # 2 groups, out 2 each
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shape,kernel,per_group,out,groups,strides,padding,dilation", CASES)
def test_grouped_convolution_matches_xla(shape, kernel, per_group, out, groups, strides,
                                         padding, dilation, data_format):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3,) + shape, np.float32)
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1)
    x = jnp.asarray(x)
    k = jnp.asarray(rng.standard_normal(kernel + (per_group, out), np.float32))
    args = (strides, padding, dilation, data_format)

    def ours(x, k):
        return convolve(x, k, *args, groups=groups)

    def ref(x, k):
        return xla_conv(x, k, *args, groups)

    want = ref(x, k)
    got = jax.jit(ours)(x, k)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0,
                               atol=1e-5 * float(jnp.max(jnp.abs(want))))
    # no XLA convolution with feature groups, nor outside the runtime's layout, is left
    jaxpr = jax.make_jaxpr(jax.grad(lambda x, k: jnp.sum(ours(x, k) ** 2), (0, 1)))(x, k)
    assert not slow_in_cpu_loops(jaxpr)

    ct = jnp.asarray(rng.standard_normal(want.shape, np.float32))
    grads = jax.jit(jax.grad(lambda x, k: jnp.sum(ours(x, k) * ct), (0, 1)))(x, k)
    grads_ref = jax.grad(lambda x, k: jnp.sum(ref(x, k) * ct), (0, 1))(x, k)
    for g, r in zip(grads, grads_ref):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=0,
                                   atol=2e-5 * float(jnp.max(jnp.abs(r))))

    tangents = (jnp.asarray(rng.standard_normal(x.shape, np.float32)),
                jnp.asarray(rng.standard_normal(k.shape, np.float32)))
    t_got = jax.jvp(ours, (x, k), tangents)[1]
    t_want = jax.jvp(ref, (x, k), tangents)[1]
    np.testing.assert_allclose(np.asarray(t_got), np.asarray(t_want), rtol=0,
                               atol=2e-5 * float(jnp.max(jnp.abs(t_want))))


def test_depthwise_second_order_and_half_precision():
    """Hessians go through both tangent terms; bfloat16 inputs are summed in float32 and
    come back in bfloat16, as XLA's convolution gives them."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((2, 6, 6, 3), np.float32))
    k = jnp.asarray(rng.standard_normal((3, 3, 1, 3), np.float32))
    args = ((1, 1), "same", (1, 1), "channels_last")

    def loss(conv):
        return lambda x, k: jnp.sum(jnp.tanh(conv(x, k)))

    ours = loss(lambda x, k: convolve(x, k, *args, groups=3))
    ref = loss(lambda x, k: xla_conv(x, k, *args, 3))
    for argnum in (0, 1):
        h, h_ref = jax.hessian(ours, argnum)(x, k), jax.hessian(ref, argnum)(x, k)
        np.testing.assert_allclose(np.asarray(h), np.asarray(h_ref), rtol=0,
                                   atol=2e-5 * float(jnp.max(jnp.abs(h_ref))))
    xb, kb = x.astype(jnp.bfloat16), k.astype(jnp.bfloat16)
    got = convolve(xb, kb, *args, groups=3)
    assert got.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(got, np.float32),
                                  np.asarray(xla_conv(xb, kb, *args, 3), np.float32))


def test_depthwise_gradient_memory_stays_near_xlas():
    """The kernel gradient runs one kernel position at a time (and the input gradient of a
    7x7 kernel as a gather, no larger): a 7x7 depthwise gradient's
    temporary memory stays within 1.5x of XLA's own (unrolled, it held every position's
    window of the input at once: 16x XLA's)."""
    x = jnp.zeros((8, 28, 28, 32), jnp.float32)
    k = jnp.zeros((7, 7, 1, 32), jnp.float32)
    args = ((1, 1), "same", (1, 1), "channels_last")

    def temp_bytes(conv):
        grad = jax.jit(jax.grad(lambda x, k: jnp.sum(conv(x, k) ** 2), (0, 1)))
        return grad.lower(x, k).compile().memory_analysis().temp_size_in_bytes

    ours = temp_bytes(lambda x, k: convolve(x, k, *args, groups=32))
    xla = temp_bytes(lambda x, k: xla_conv(x, k, *args, 32))
    assert ours <= 1.5 * xla, (ours, xla)


def test_depthwise_layers_take_the_elementwise_form():
    """DepthwiseConv2D and SeparableConv2D programs hold no convolution with feature groups."""
    import trine as keras
    for layer in (keras.layers.DepthwiseConv2D(3, padding="same"),
                  keras.layers.SeparableConv2D(4, 3, padding="same")):
        m = keras.Sequential([keras.Input((8, 8, 3)), layer])
        jaxpr = jax.make_jaxpr(m)(jnp.zeros((2, 8, 8, 3)))
        groups = [e.params["feature_group_count"] for e in equations(jaxpr)
                  if e.primitive.name == "conv_general_dilated"]
        assert all(g == 1 for g in groups), groups
