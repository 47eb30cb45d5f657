"""The CPU formulations of convolution (patches x matrix) and of the max-pool gradient
(`trine.ops.cpu_paths`): same results as XLA's convolution (to float rounding) and as
`reduce_window`'s gradient (bit for bit, ties included), and really taken on the CPU."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trine.ops import cpu_paths as _cpu_paths
from trine.ops import cpu_pooling
from trine.ops.convolution import convolve as _conv, same_padding
from trine.layers.pooling import MaxPooling2D

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu",
                                reason="the CPU paths are lowered only for the CPU")


def xla_conv(x, k, strides, padding, dilation):
    rank = x.ndim - 2
    spec = "DHW"[3 - rank:]
    if padding == "valid":
        pads = [(0, 0)] * rank
    else:
        pads = [same_padding(n, kk, s, d)
                for n, kk, s, d in zip(x.shape[1:-1], k.shape[:rank], strides, dilation)]
    return jax.lax.conv_general_dilated(x, k, strides, pads, rhs_dilation=dilation,
                                        dimension_numbers=(f"N{spec}C", f"{spec}IO", f"N{spec}C"))


CONV_CASES = [
    # spatial, kernel, strides, padding, dilation
    ((13, 13), (3, 3), (1, 1), "valid", (1, 1)),   # W3's second convolution
    ((12, 11), (3, 2), (2, 1), "same", (1, 1)),
    ((14, 14), (3, 3), (1, 1), "valid", (2, 2)),
    ((20,), (5,), (2,), "same", (1,)),
    ((6, 7, 5), (2, 3, 2), (1, 2, 1), "valid", (1, 1, 1)),
]


def _matches_xla(ours, ref, x, k, rng):
    """Inference (nothing differentiated) is exactly XLA's convolution and the gradients match
    XLA's to float rounding; returns (the jitted gradient, the reference gradients, the
    cotangent) for further checks."""
    np.testing.assert_array_equal(np.asarray(jax.jit(ours)(x, k)), np.asarray(ref(x, k)))
    ct = jnp.asarray(rng.standard_normal(ref(x, k).shape, np.float32))
    grad = jax.jit(jax.grad(lambda x, k: jnp.sum(ours(x, k) * ct), (0, 1)))
    grads_ref = jax.grad(lambda x, k: jnp.sum(ref(x, k) * ct), (0, 1))(x, k)
    for got, want in zip(grad(x, k), grads_ref):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=0,
                                   atol=1e-5 * float(jnp.max(jnp.abs(want))))
    return grad, grads_ref, ct


@pytest.mark.parametrize("spatial,kernel,strides,padding,dilation", CONV_CASES)
def test_patch_convolution_matches_xla(spatial, kernel, strides, padding, dilation):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((3,) + spatial + (4,), np.float32))
    k = jnp.asarray(rng.standard_normal(kernel + (4, 5), np.float32))

    def ours(x, k):
        return _conv(x, k, strides, padding, dilation, "channels_last")

    def ref(x, k):
        return xla_conv(x, k, strides, padding, dilation)

    grad, _, _ = _matches_xla(ours, ref, x, k, rng)
    # the training program compiled for the CPU takes the kernel gradient from gathered
    # patches (a gather and a dot); the input gradient stays a convolution
    hlo = grad.lower(x, k).compile().as_text()
    assert " gather(" in hlo and " dot(" in hlo, hlo


@pytest.mark.parametrize("spatial,strides", [((9, 9), (2, 2)), ((8, 8), (2, 2)), ((10,), (3,)),
                                             ((5, 6, 7), (2, 1, 3)), ((9, 9), (1, 1)),
                                             ((10,), (1,))])
def test_pointwise_convolution_is_a_slice_and_a_product(spatial, strides):
    """A 1x1 kernel, strided (a ResNet's projection shortcut) or not (MobileNet's expansions
    and projections): inference is XLA's convolution bit for bit; gradients (first and
    second order) match XLA's, from a strided slice and matrix products with no convolution
    in the training program."""
    rng = np.random.default_rng(6)
    x = jnp.asarray(rng.standard_normal((3,) + spatial + (4,), np.float32))
    k = jnp.asarray(rng.standard_normal((1,) * len(spatial) + (4, 5), np.float32))

    def ours(x, k):
        return _conv(x, k, strides, "same", (1,) * len(spatial), "channels_last")

    def ref(x, k):
        return xla_conv(x, k, strides, "same", (1,) * len(spatial))

    grad, grads_ref, ct = _matches_xla(ours, ref, x, k, rng)
    hlo = grad.lower(x, k).compile().as_text()
    assert " convolution(" not in hlo and " dot(" in hlo
    # a first layer's input needs no gradient: only the kernel term is computed
    gk = jax.grad(lambda k: jnp.sum(ours(x, k) * ct))(k)
    np.testing.assert_allclose(np.asarray(gk), np.asarray(grads_ref[1]), rtol=0,
                               atol=1e-5 * float(jnp.max(jnp.abs(grads_ref[1]))))
    h = jax.hessian(lambda k: jnp.sum(jnp.tanh(ours(x, k))))(k)
    h_ref = jax.hessian(lambda k: jnp.sum(jnp.tanh(ref(x, k))))(k)
    np.testing.assert_allclose(np.asarray(h), np.asarray(h_ref), rtol=0,
                               atol=1e-4 * float(jnp.max(jnp.abs(h_ref))))


def test_conv_falls_back_to_xla_where_patches_do_not_pay(monkeypatch):
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((2, 9, 9, 3), np.float32))
    k = jnp.asarray(rng.standard_normal((3, 3, 3, 4), np.float32))

    def ours(x, k):
        return _conv(x, k, (1, 1), "valid", (1, 1), "channels_last")

    monkeypatch.setattr(_cpu_paths, "MAX_PATCH_BYTES", 1000)
    hlo = jax.jit(ours).lower(x, k).compile().as_text()
    assert " convolution(" in hlo
    # exactly XLA's result then
    np.testing.assert_array_equal(np.asarray(jax.jit(ours)(x, k)),
                                  np.asarray(xla_conv(x, k, (1, 1), "valid", (1, 1))))
    monkeypatch.undo()
    # channels_first and grouped convolutions stay XLA's
    xc = jnp.transpose(x, (0, 3, 1, 2))
    hlo = jax.jit(lambda x, k: _conv(x, k, (1, 1), "valid", (1, 1), "channels_first")
                  ).lower(xc, k).compile().as_text()
    assert " convolution(" in hlo
    x6 = jnp.concatenate([x, x], -1)
    hlo = jax.jit(lambda x, k: _conv(x, k, (1, 1), "valid", (1, 1), "channels_last", groups=2)
                  ).lower(x6, jnp.concatenate([k, k], -1)).compile().as_text()
    assert " convolution(" in hlo


def reduce_window_max(x, window, padding):
    return jax.lax.reduce_window(x, np.array(-np.inf, x.dtype), jax.lax.max, window, window,
                                 padding)


@pytest.mark.parametrize("shape,window,strides,padding", [
    ((3, 8, 8, 4), (1, 2, 2, 1), None, "VALID"),
    ((3, 7, 9, 4), (1, 2, 2, 1), None, "VALID"),       # odd sizes: the remainder is cropped
    ((3, 7, 9, 4), (1, 2, 3, 1), None, "SAME"),
    ((2, 4, 9, 10), (1, 1, 3, 3), None, "SAME"),       # channels_first
    ((2, 9, 5), (1, 3, 1), None, "VALID"),
    ((2, 4, 5, 4, 3), (1, 2, 2, 2, 1), None, "SAME"),
    # overlapping windows (ResNet's 3x3 stride-2 stem pool), and gaps between windows
    ((2, 9, 9, 3), (1, 3, 3, 1), (1, 2, 2, 1), "SAME"),
    ((2, 9, 8, 3), (1, 3, 3, 1), (1, 2, 2, 1), "VALID"),
    ((2, 7, 7, 2), (1, 3, 2, 1), (1, 1, 1, 1), "SAME"),
    ((2, 11, 3), (1, 4, 1), (1, 3, 1), "SAME"),
    ((2, 5, 6, 5, 2), (1, 3, 3, 3, 1), (1, 2, 2, 2, 1), "SAME"),
    ((2, 9, 9, 3), (1, 2, 2, 1), (1, 3, 3, 1), "VALID"),
])
def test_max_pool_gradient_is_bit_identical_with_ties(shape, window, strides, padding):
    rng = np.random.default_rng(2)
    strides = strides or window
    # values from {0, 1, 2}: most windows hold ties, which go to the first maximum
    x = jnp.asarray(rng.integers(0, 3, shape).astype(np.float32))

    def ref(x):
        return jax.lax.reduce_window(x, np.array(-np.inf, x.dtype), jax.lax.max, window,
                                     strides, padding)

    def ours(x):
        return cpu_pooling.max_pool(x, window, strides, padding)

    y_ref = ref(x)
    ct = jnp.asarray(rng.standard_normal(y_ref.shape, np.float32))
    np.testing.assert_array_equal(np.asarray(jax.jit(ours)(x)), np.asarray(y_ref))
    g = jax.jit(jax.grad(lambda x: jnp.sum(ours(x) * ct)))(x)
    g_ref = jax.jit(jax.grad(lambda x: jnp.sum(ref(x) * ct)))(x)
    np.testing.assert_array_equal(np.asarray(g), np.asarray(g_ref))
    # forward mode, on distinct values (JAX's own forward rule, select-and-gather, breaks
    # padded windows' ties otherwise than its reverse rule): the tangent at each maximum
    xc = jnp.asarray(rng.standard_normal(shape, np.float32))
    dx = jnp.asarray(rng.standard_normal(shape, np.float32))
    np.testing.assert_array_equal(np.asarray(jax.jvp(ours, (xc,), (dx,))[1]),
                                  np.asarray(jax.jvp(ref, (xc,), (dx,))[1]))
    hlo = jax.jit(jax.grad(lambda x: jnp.sum(ours(x) * ct))).lower(x).compile().as_text()
    # XLA's CPU backend lowers reduce_window's gradient to select-and-scatter, then to a
    # scatter; the masked copy and the strided slices have neither
    assert "scatter(" not in hlo


def test_overlapping_pool_gradient_keeps_one_small_residual():
    """Reverse mode keeps each window's first maximal position (int8), not the input nor a
    mask per window position: the stem pool's gradient temporaries stay below XLA's."""
    x = jnp.zeros((4, 56, 56, 16), jnp.float32)
    window, strides = (1, 3, 3, 1), (1, 2, 2, 1)

    def temp_bytes(pool):
        grad = jax.jit(jax.grad(lambda x: jnp.sum(pool(x) ** 2)))
        return grad.lower(x).compile().memory_analysis().temp_size_in_bytes

    ours = temp_bytes(lambda x: cpu_pooling.max_pool(x, window, strides, "SAME"))
    xla = temp_bytes(lambda x: jax.lax.reduce_window(
        x, np.array(-np.inf, x.dtype), jax.lax.max, window, strides, "SAME"))
    assert ours < xla, (ours, xla)


def test_integer_max_pools_keep_reduce_window():
    xi = jnp.arange(2 * 4 * 4 * 1, dtype=jnp.int32).reshape(2, 4, 4, 1)
    out = MaxPooling2D(2)(xi)
    assert out.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(out)[0, :, :, 0], [[5, 7], [13, 15]])
    out = MaxPooling2D(3, strides=2)(xi)
    np.testing.assert_array_equal(np.asarray(out)[0, :, :, 0], [[10]])


def test_gpu_programs_keep_xla_convolution_and_pooling(monkeypatch):
    """Traced where JAX runs on an accelerator, the same training maths lowers to XLA's
    convolution and select-and-scatter, without the CPU path's gather and matmul (the path
    is chosen at trace time, so the CPU's program holds no GPU branch either); exported for
    CUDA (no GPU needed) that program is what a GPU compiles."""
    from jax import export
    from trine import config
    x = jnp.ones((2, 9, 9, 3), jnp.float32)
    k = jnp.ones((3, 3, 3, 4), jnp.float32)

    def loss(x, k):
        y = _conv(x, k, (1, 1), "valid", (1, 1), "channels_last")
        return jnp.sum(cpu_pooling.max_pool(y, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") ** 2)

    cpu = export.export(jax.jit(jax.grad(loss, (0, 1))), platforms=("cpu",))(x, k).mlir_module()
    assert "stablehlo.gather" in cpu and "dot_general" in cpu
    assert "select_and_scatter" not in cpu and "stablehlo.case" not in cpu
    monkeypatch.setattr(config, "on_accelerator", lambda: True)
    cuda = export.export(jax.jit(jax.grad(loss, (0, 1))), platforms=("cuda",))(x, k).mlir_module()
    assert "stablehlo.convolution" in cuda and "select_and_scatter" in cuda
    assert "stablehlo.gather" not in cuda and "dot_general" not in cuda


def test_forward_mode_autodiff_works_through_both_paths():
    """jvp / jacfwd / hessian through the CPU paths (custom JVPs, not custom VJPs)."""
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.standard_normal((2, 8, 8, 3), np.float32))
    k = jnp.asarray(rng.standard_normal((3, 3, 3, 4), np.float32))
    dx = jnp.asarray(rng.standard_normal(x.shape, np.float32))
    dk = jnp.asarray(rng.standard_normal(k.shape, np.float32))

    def ours(x, k):
        y = _conv(x, k, (1, 1), "valid", (1, 1), "channels_last")
        return cpu_pooling.max_pool(y, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def ref(x, k):
        y = xla_conv(x, k, (1, 1), "valid", (1, 1))
        return reduce_window_max(y, (1, 2, 2, 1), "VALID")

    y, ty = jax.jit(lambda x, k, a, b: jax.jvp(ours, (x, k), (a, b)))(x, k, dx, dk)
    y_ref, ty_ref = jax.jvp(ref, (x, k), (dx, dk))
    scale = float(jnp.max(jnp.abs(ty_ref)))
    np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), atol=1e-5 * scale)
    np.testing.assert_allclose(np.asarray(ty), np.asarray(ty_ref), atol=1e-5 * scale)

    def loss(k, f):
        return jnp.sum(jnp.tanh(f(x[:1, :5, :5], k)))

    k_small = k[:2, :2, :, :2]
    h = jax.jit(jax.hessian(lambda k: loss(k, ours)))(k_small)
    h_ref = jax.hessian(lambda k: loss(k, ref))(k_small)
    np.testing.assert_allclose(np.asarray(h), np.asarray(h_ref), rtol=1e-4,
                               atol=1e-4 * float(jnp.max(jnp.abs(h_ref))))


@pytest.mark.parametrize("strides,padding", [((1, 1), "same"), ((2, 2), "same"),
                                             ((1, 1), "valid")])
def test_gradients_by_batch_chunks_match_xla(monkeypatch, strides, padding):
    """Convolutions whose patches do not pay compute their kernel gradient per batch chunk (an
    uneven last chunk included): the same gradients as XLA's to float rounding, forward
    and second-order autodiff intact, the forward pass XLA's own convolution."""
    monkeypatch.setattr(_cpu_paths, "SMALL_PATCH_BYTES", 0)
    monkeypatch.setattr(_cpu_paths, "MAX_PATCH_BYTES", 0)
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.standard_normal((5, 8, 8, 3), np.float32))
    k = jnp.asarray(rng.standard_normal((3, 3, 3, 4), np.float32))
    monkeypatch.setattr(_cpu_paths, "GRAD_CHUNK_BYTES", 2 * 8 * 8 * 3 * 4)  # 2 rows a chunk

    def ours(x, k):
        return _conv(x, k, strides, padding, (1, 1), "channels_last")

    def ref(x, k):
        return xla_conv(x, k, strides, padding, (1, 1))

    grad, grads_ref, ct = _matches_xla(ours, ref, x, k, rng)
    # three chunks: the kernel gradient is three convolutions, the input's one
    hlo = grad.lower(x, k).compile().as_text()
    assert hlo.count(" convolution(") >= 4
    # only the kernel differentiated (a model's first layer): the input's terms are skipped
    gk = jax.jit(jax.grad(lambda k: jnp.sum(ours(x, k) * ct)))
    np.testing.assert_allclose(np.asarray(gk(k)), np.asarray(grads_ref[1]), rtol=0,
                               atol=1e-5 * float(jnp.max(jnp.abs(grads_ref[1]))))
    assert gk.lower(k).compile().as_text().count(" convolution(") < hlo.count(" convolution(")
    dx = jnp.asarray(rng.standard_normal(x.shape, np.float32))
    _, ty = jax.jvp(ours, (x, k), (dx, jnp.zeros_like(k)))
    _, ty_ref = jax.jvp(ref, (x, k), (dx, jnp.zeros_like(k)))
    np.testing.assert_allclose(np.asarray(ty), np.asarray(ty_ref), rtol=0,
                               atol=1e-5 * float(jnp.max(jnp.abs(ty_ref))))
    h = jax.hessian(lambda k: jnp.sum(jnp.tanh(ours(x, k))))(k[:2, :2, :, :1])
    h_ref = jax.hessian(lambda k: jnp.sum(jnp.tanh(ref(x, k))))(k[:2, :2, :, :1])
    np.testing.assert_allclose(np.asarray(h), np.asarray(h_ref), rtol=1e-4,
                               atol=1e-4 * float(jnp.max(jnp.abs(h_ref))))
