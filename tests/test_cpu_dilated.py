"""Input-dilated convolutions on the CPU (`trine.ops.cpu_dilated`,
`cpu_paths.conv_dilated_input`): the shuffle form equals XLA's `lhs_dilation` convolution
for every stride, kernel dilation and padding tried; transposed convolutions through
`convolve` match XLA's in values, both gradients, forward mode and second order; and their
CPU programs hold no 3-D input-dilated convolution nor any convolution outside the
runtime's library layout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trine.ops.convolution import convolve, dimension_numbers, transpose_padding
from trine.ops.cpu_dilated import dilated_input_conv, output_lengths
from trine.training.programs import equations, runs_in_library, slow_in_cpu_loops

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu",
                                reason="the CPU formulations are taken only on the CPU")


def xla_dilated(x, k, lhs, pads, dil, data_format="channels_last"):
    rank = x.ndim - 2
    return jax.lax.conv_general_dilated(x, k, (1,) * rank, pads, lhs_dilation=lhs,
                                        rhs_dilation=dil,
                                        dimension_numbers=dimension_numbers(rank, data_format))


def plain(x, k):
    rank = x.ndim - 2
    return jax.lax.conv_general_dilated(x, k, (1,) * rank, "VALID",
                                        dimension_numbers=dimension_numbers(rank,
                                                                            "channels_last"))


def test_shuffle_form_equals_xla_input_dilation_everywhere():
    """Strides 1-3, kernel dilations 1-3 (sharing factors with the stride or not), kernels
    1-4 and paddings from cropping (-1) to wider than the kernel, in 1, 2 and 3 dimensions."""
    rng = np.random.default_rng(0)
    checked = 0
    for rank in (1, 2, 3):
        for _ in range(40 if rank < 3 else 15):
            lhs = tuple(int(v) for v in rng.integers(1, 4, rank))
            dil = tuple(int(v) for v in rng.integers(1, 4, rank))
            kernel = tuple(int(v) for v in rng.integers(1, 5, rank))
            size = tuple(int(v) for v in rng.integers(1, 7, rank))
            pads = tuple(tuple(int(v) for v in rng.integers(-1, 5, 2)) for _ in range(rank))
            x = jnp.asarray(rng.standard_normal((2, *size, 3), np.float32))
            k = jnp.asarray(rng.standard_normal((*kernel, 3, 4), np.float32))
            if min(output_lengths(x.shape, kernel, lhs, pads, dil)) <= 0:
                continue
            want = xla_dilated(x, k, lhs, pads, dil)
            got = dilated_input_conv(x, k, lhs, pads, dil, plain)
            assert got.shape == want.shape, (lhs, dil, kernel, size, pads)
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0, atol=1e-4,
                                       err_msg=str((lhs, dil, kernel, size, pads)))
            checked += 1
    assert checked > 50


CASES = [
    # per-sample input (channels last), kernel spatial, out, strides, padding,
    # output_padding, dilation
    ((7, 4), (3,), 5, (2,), "same", None, (1,)),
    ((6, 3), (4,), 2, (3,), "valid", (1,), (1,)),
    ((5, 6, 3), (4, 4), 4, (2, 2), "same", None, (1, 1)),         # DCGAN's
    ((3, 4, 32), (3, 3), 32, (2, 2), "same", None, (1, 1)),       # XLA's form in inference
    ((5, 4, 2), (3, 3), 3, (2, 2), "valid", (1, 1), (1, 1)),
    ((4, 5, 2), (2, 3), 3, (2, 1), "same", None, (1, 2)),
    ((3, 4, 3, 2), (2, 2, 2), 2, (2, 2, 2), "same", None, (1, 1, 1)),   # the harness's
    ((4, 3, 4, 3), (3, 3, 3), 2, (2, 2, 2), "same", None, (1, 1, 1)),
    ((3, 4, 2, 2), (3, 2, 3), 3, (2, 3, 1), "valid", (1, 0, 0), (1, 1, 1)),
]


def transposed(x, k, strides, padding, output_padding, dilation, data_format, conv):
    rank = x.ndim - 2
    ops = output_padding or (None,) * rank
    pads = [transpose_padding(ks, s, padding, op, d)
            for ks, s, op, d in zip(k.shape[:rank], strides, ops, dilation)]
    return conv(x, k, pads, data_format)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shape,kernel,out,strides,padding,output_padding,dilation", CASES)
def test_transposed_convolution_matches_xla(shape, kernel, out, strides, padding,
                                            output_padding, dilation, data_format):
    rng = np.random.default_rng(1)
    rank = len(kernel)
    x = rng.standard_normal((2,) + shape, np.float32)
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1)
    x = jnp.asarray(x)
    k = jnp.asarray(rng.standard_normal(kernel + (shape[-1], out), np.float32))
    geometry = (strides, padding, output_padding, dilation, data_format)

    def ours(x, k):
        return transposed(x, k, *geometry, lambda x, k, pads, df: convolve(
            x, k, (1,) * rank, pads, dilation, df, lhs_dilation=strides))

    def ref(x, k):
        return transposed(x, k, *geometry, lambda x, k, pads, df: xla_dilated(
            x, k, strides, pads, dilation, df))

    want = ref(x, k)
    got = jax.jit(ours)(x, k)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = float(jnp.max(jnp.abs(want)))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0, atol=1e-5 * scale)

    ct = jnp.asarray(rng.standard_normal(want.shape, np.float32))
    grads = jax.jit(jax.grad(lambda x, k: jnp.sum(ours(x, k) * ct), (0, 1)))(x, k)
    grads_ref = jax.grad(lambda x, k: jnp.sum(ref(x, k) * ct), (0, 1))(x, k)
    for g, r in zip(grads, grads_ref):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=0,
                                   atol=2e-5 * float(jnp.max(jnp.abs(r))))
    tangents = (jnp.asarray(rng.standard_normal(x.shape, np.float32)),
                jnp.asarray(rng.standard_normal(k.shape, np.float32)))
    for chosen in ((0, 1), (0,), (1,)):   # both tangents, or one (the other a symbolic zero)
        def restricted(*args, f):
            full = [x, k]
            for i, a in zip(chosen, args):
                full[i] = a
            return f(*full)
        primals = tuple((x, k)[i] for i in chosen)
        picked = tuple(tangents[i] for i in chosen)
        t_got = jax.jvp(lambda *a: restricted(*a, f=ours), primals, picked)[1]
        t_want = jax.jvp(lambda *a: restricted(*a, f=ref), primals, picked)[1]
        np.testing.assert_allclose(np.asarray(t_got), np.asarray(t_want), rtol=0,
                                   atol=2e-5 * float(jnp.max(jnp.abs(t_want))))

    # the gradient program keeps every convolution in the runtime's library layout, with no
    # 3-D input dilation (XLA runs those in a generic loop)
    jaxpr = jax.make_jaxpr(jax.grad(lambda x, k: jnp.sum(ours(x, k) ** 2), (0, 1)))(x, k)
    assert not slow_in_cpu_loops(jaxpr)
    assert not [e for e in equations(jaxpr) if e.primitive.name == "conv_general_dilated"
                and e.params["lhs_dilation"] != (1,) * rank and rank == 3]


def test_second_order_through_the_transposed_form():
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal((1, 3, 3, 2), np.float32))
    k = jnp.asarray(rng.standard_normal((3, 3, 2, 2), np.float32))
    pads = [transpose_padding(3, 2, "same", None, 1)] * 2

    def loss(conv):
        return lambda x, k: jnp.sum(jnp.tanh(conv(x, k)))

    ours = loss(lambda x, k: convolve(x, k, (1, 1), pads, (1, 1), "channels_last",
                                      lhs_dilation=(2, 2)))
    ref = loss(lambda x, k: xla_dilated(x, k, (2, 2), pads, (1, 1)))
    for argnum in (0, 1):
        h, h_ref = jax.hessian(ours, argnum)(x, k), jax.hessian(ref, argnum)(x, k)
        np.testing.assert_allclose(np.asarray(h), np.asarray(h_ref), rtol=0,
                                   atol=2e-5 * float(jnp.max(jnp.abs(h_ref))))


def test_strided_3d_convolution_gradient_has_no_input_dilation():
    """A strided Conv3D's input gradient is an input-dilated convolution: the shuffle form
    on the CPU, equal to JAX's own gradient."""
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal((2, 7, 6, 5, 3), np.float32))
    k = jnp.asarray(rng.standard_normal((3, 3, 3, 3, 4), np.float32))
    for padding in ("same", "valid"):
        def ours(x):
            return jnp.sum(convolve(x, k, (2, 2, 2), padding, (1, 1, 1), "channels_last") ** 2)

        def ref(x):
            y = jax.lax.conv_general_dilated(x, k, (2, 2, 2), padding.upper(),
                                             dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
            return jnp.sum(y ** 2)

        np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(ours))(x)),
                                   np.asarray(jax.grad(ref)(x)), rtol=0, atol=1e-3)
        jaxpr = jax.make_jaxpr(jax.grad(ours))(x)
        assert all(e.params["lhs_dilation"] == (1, 1, 1) for e in equations(jaxpr)
                   if e.primitive.name == "conv_general_dilated")


def test_a_3d_input_dilated_lax_convolution_counts_as_slow_in_loops():
    """User code's `jax.lax` 3-D transposed convolution is not a library call: "auto" keeps
    such steps one per call; the 2-D one is."""
    for rank, expected in ((2, True), (3, False)):
        x = jnp.zeros((1,) + (3,) * rank + (2,))
        k = jnp.zeros((2,) * rank + (2, 2))
        jaxpr = jax.make_jaxpr(lambda x, k: xla_dilated(
            x, k, (2,) * rank, [(1, 1)] * rank, (1,) * rank))(x, k)
        [eqn] = [e for e in equations(jaxpr) if e.primitive.name == "conv_general_dilated"]
        assert runs_in_library(eqn) is expected


def test_transposed_layers_fuse_under_auto_and_match_one_step_per_call():
    """A generator of Conv2DTranspose layers (and a Conv3DTranspose model) fuses AUTO_CHUNK
    steps a call under "auto", with weights equal to steps_per_execution=1 bit for bit."""
    import trine as keras
    rng = np.random.default_rng(4)
    for shape, layer in (((4, 4, 3), keras.layers.Conv2DTranspose),
                         ((3, 3, 2, 3), keras.layers.Conv3DTranspose)):
        x = rng.standard_normal((96,) + shape).astype(np.float32)
        runs = []
        for spe in (1, "auto"):
            keras.utils.set_random_seed(5)
            m = keras.Sequential([
                keras.Input(shape), layer(4, 3, strides=2, padding="same", activation="relu"),
                layer(2, 2, strides=2, padding="valid")])
            m.compile("adam", "mse", steps_per_execution=spe)
            y = np.zeros((96,) + m.output_shape[1:], np.float32) + 0.5
            m.fit(x, y, batch_size=16, epochs=2, verbose=0)
            runs.append(m)
        assert runs[1]._auto_k["train"] == runs[1].AUTO_CHUNK
        for a, b in zip(runs[0].get_weights(), runs[1].get_weights()):
            np.testing.assert_array_equal(a, b)
