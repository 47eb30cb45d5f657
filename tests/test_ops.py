"""trine.ops against keras.ops: the Keras operations trine adds on top of jax.numpy.

Each op is called with the same inputs in both libraries (Keras 3 on its JAX backend is the
oracle); the tests that need no Keras (gradients, graphs, saving, errors) run without it.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine import ops

RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="module")
def K():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras", exc_type=ImportError)
    if keras.backend.backend() != "jax":
        pytest.skip("keras is not on its JAX backend")
    return keras


def _close(ours, theirs, rtol=RTOL, atol=ATOL):
    """Same structure and values: exact for integers/bools, to tolerance for floats."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), (ours, theirs)
        for a, b in zip(ours, theirs):
            _close(a, b, rtol, atol)
        return
    a, b = np.asarray(ours), np.asarray(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    if np.issubdtype(b.dtype, np.inexact):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(a, b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)


def _fn(module, name):
    for part in name.split("."):
        module = getattr(module, part)
    return module


# ------------------------------------------------------------------------------ inputs
rng = np.random.default_rng(0)


def _n(*shape, scale=1.0):
    return (rng.normal(size=shape) * scale).astype(np.float32)


X = _n(2, 3, 4)
POS = np.abs(X) + 0.1
U = rng.uniform(-0.9, 0.9, size=(3, 4)).astype(np.float32)
_M = _n(2, 3, 3)
SPD = (_M @ np.swapaxes(_M, -1, -2) + 3 * np.eye(3)).astype(np.float32)
SQ = (_n(3, 3) + 3 * np.eye(3)).astype(np.float32)
TRI = np.tril(SQ)
B = _n(3, 2)
RECT = _n(4, 3)
LOGITS = _n(5, 6)
PROBS = np.asarray(jax.nn.softmax(LOGITS))
LABELS = np.array([0, 5, 2, 2, 3], np.int32)
ONEHOT = np.eye(6, dtype=np.float32)[LABELS]
T01 = rng.integers(0, 2, size=(4, 3)).astype(np.float32)
P01 = rng.uniform(0.0, 1.0, size=(4, 3)).astype(np.float32)
P01[0, 0], P01[1, 1] = 0.0, 1.0                     # exercises the epsilon clipping
SEG_DATA = _n(6, 2)
SEG_IDS = np.array([0, 0, 1, 2, 2, 2], np.int32)
IMG = _n(2, 7, 7, 4)
IMG_CF = np.moveaxis(IMG, -1, 1).copy()
K2 = _n(3, 3, 4, 5, scale=0.3)
K2_GROUPED = _n(3, 3, 2, 6, scale=0.3)
DK = _n(3, 3, 4, 2, scale=0.3)
PK = _n(1, 1, 8, 5, scale=0.3)
KT = _n(3, 3, 5, 4, scale=0.3)
SEQ = _n(2, 9, 3)
K1 = _n(3, 3, 2, scale=0.3)
Q, KEY, V = _n(2, 4, 2, 8), _n(2, 5, 2, 8), _n(2, 5, 2, 8)
KEY1, V1 = _n(2, 5, 1, 8), _n(2, 5, 1, 8)
MASK = rng.integers(0, 2, size=(2, 1, 4, 5)).astype(bool)
MASK[..., 0] = True
BIAS = _n(2, 2, 4, 5)
Z3 = np.zeros((4, 3), np.float32)
IDX = np.array([[0, 1], [3, 2], [0, 1]], np.int32)
VALS = np.array([1.0, 2.0, 3.0], np.float32)
GRAY = rng.uniform(0, 1, size=(2, 6, 8, 3)).astype(np.float32)

CASES = [
    # math
    ("erf", (X,), {}), ("erfc", (X,), {}), ("erfinv", (U,), {}), ("rsqrt", (POS,), {}),
    ("logdet", (SPD,), {}), ("logsumexp", (X, 1, True), {}), ("logsumexp", (X,), {}),
    ("top_k", (X, 2), {}), ("top_k", (X,), {"k": 3, "sorted": False}),
    ("in_top_k", (LABELS, LOGITS, 2), {}), ("in_top_k", (LABELS, LOGITS, 1), {}),
    ("segment_sum", (SEG_DATA, SEG_IDS), {"num_segments": 4}),
    ("segment_max", (SEG_DATA, SEG_IDS), {"num_segments": 3, "sorted": True}),
    ("segment_min", (SEG_DATA, SEG_IDS), {"num_segments": 3}),
    ("segment_prod", (SEG_DATA, SEG_IDS), {"num_segments": 3}),
    ("norm", (X,), {}), ("norm", (X,), {"ord": 1, "axis": -1, "keepdims": True}),
    ("norm", (SPD,), {"ord": "fro", "axis": (-2, -1)}),
    ("norm", (np.arange(6).reshape(2, 3),), {}),
    ("rfft", (X,), {}), ("rfft", (X, 6), {}), ("irfft", ((X, X[..., ::-1].copy()),), {}),
    ("irfft", ((X, X), 6), {}), ("fft", ((X, X * 2),), {}), ("fft2", ((X, -X),), {}),
    ("ifft2", ((X, X * 0.5),), {}),
    ("view_as_real", (X + 1j * POS,), {}), ("view_as_complex", (X[..., :2].copy(),), {}),
    ("cdist", (_n(2, 3, 4), _n(2, 5, 4)), {}),
    # core
    ("stop_gradient", (X,), {}), ("slice", (X, (0, 1, 1), (2, -1, 2)), {}),
    ("slice_update", (X, (0, 1, 2), np.ones((1, 2, 2), np.float32)), {}),
    ("scatter", (IDX, VALS, (4, 3)), {}),
    ("scatter_update", (Z3 + 1, IDX[:2], VALS[:2]), {}),
    ("scatter_update", (Z3 + 1, IDX, VALS), {"reduction": "add"}),
    ("scatter_update", (Z3 + 1, IDX, VALS), {"reduction": "max"}),
    ("get_item", (X, 1), {}), ("get_item", (X, (0, np.s_[1:], 2)), {}),
    ("saturate_cast", (np.array([-3.0, 0.4, 255.9, 1e10, -np.inf], np.float32), "uint8"), {}),
    ("saturate_cast", (np.array([-3e9, 3e9, 7.0], np.float32), "int32"), {}),
    ("saturate_cast", (np.array([-300, 5, 300], np.int32), "int8"), {}),
    ("saturate_cast", (X * 1e3, "float16"), {}),
    ("unstack", (X,), {"axis": 1}), ("unstack", (X, 2), {}),
    # numpy (keras argument order)
    ("sum", (X, 1, True), {}), ("mean", (X, (0, 2), True), {}), ("max", (X, -1, True), {}),
    ("min", (X, 0), {"keepdims": True}), ("argmax", (X, 1, True), {}),
    ("argmin", (X, -1), {}), ("std", (X, 1, True), {}), ("var", (X, None, True), {}),
    ("prod", (X, 2, True), {}), ("any", (X > 1, 1, True), {}), ("all", (X > -2, 1), {}),
    ("median", (X, 1, True), {}), ("amax", (X, 2, True), {}),
    ("quantile", (X, 0.3, 1, "linear", True), {}),
    ("nanmean", (np.where(X > 1, np.nan, X), 1, True), {}), ("ptp", (X, 1, True), {}),
    ("nanargmax", (np.where(X > 1, np.nan, X), -1, True), {}),
    ("nanquantile", (np.where(X > 1, np.nan, X), 0.5, 2, "nearest", True), {}),
    ("unique", (np.array([3, 1, 3, 2]), True, True, True, True, None, 5), {}),
    ("pad", (X, ((0, 0), (1, 2), (0, 1)), "constant", 1.5), {}),
    ("pad", (X, 1), {"mode": "reflect"}),
    ("clip", (X,), {"x_min": -0.5, "x_max": 0.5}), ("reshape", (X,), {"newshape": (4, 6)}),
    ("take_along_axis", (X, np.zeros((2, 3, 1), np.int32)), {"axis": -1}),
    ("take_along_axis", (X.reshape(-1), np.array([3, 1], np.int32)), {}),
    ("where", (X > 0,), {"x1": X, "x2": -X}),
    ("nan_to_num", (np.array([np.nan, np.inf, -np.inf, 1.0], np.float32), 2.0, 9.0, -9.0), {}),
    ("divide_no_nan", (X, np.where(X > 0, X, 0)), {}),
    ("divide_no_nan", (np.arange(4), np.array([0, 1, 2, 0])), {}),
    ("slogdet", (SQ,), {}),
    # nn
    ("softsign", (X,), {}), ("hard_silu", (X * 4,), {}), ("hard_swish", (X * 4,), {}),
    ("hard_shrink", (X, 0.3), {}), ("soft_shrink", (X,), {"threshold": 0.3}),
    ("tanh_shrink", (X,), {}), ("threshold", (X, 0.1, -1.0), {}), ("squareplus", (X, 2.0), {}),
    ("sparse_plus", (X * 2,), {}), ("sparse_sigmoid", (X * 2,), {}), ("leaky_relu", (X,), {}),
    ("one_hot", (LABELS, 6, 0), {}), ("one_hot", (LABELS, 6), {"dtype": "int32"}),
    ("one_hot", (np.array([1, -1, 7]), 4), {}),
    ("multi_hot", (np.array([[0, 2], [1, 1]]),), {"num_classes": 4}),
    ("multi_hot", (np.array([0, 3]), 5), {}),
    ("normalize", (X,), {}), ("normalize", (X,), {"axis": 1, "order": 1}),
    ("normalize", (X, 1, 3, 1e-3), {}), ("normalize", (X, (1, 2), 1), {}),
    ("moments", (X, (0, 2)), {}), ("moments", (X, [1], True), {}),
    ("moments", (X.astype(np.float16), (0, 1)), {}),
    ("batch_normalization", (X, POS[0, 0], POS[1, 1], -1),
     {"offset": X[0, 0], "scale": X[1, 0], "epsilon": 1e-2}),
    ("batch_normalization", (X, POS[0, :, 0], POS[1, :, 0], 1), {}),
    ("layer_normalization", (X,), {}),
    ("layer_normalization", (X, X[0, 0], X[1, 1]), {"epsilon": 1e-3}),
    ("layer_normalization", (X,), {"gamma": X[0], "beta": X[1], "axis": (1, 2)}),
    ("layer_normalization", (X, X[0, :, 0]), {"axis": 1}),
    ("rms_normalization", (X,), {}), ("rms_normalization", (X, X[0, 0]), {"epsilon": 1e-3}),
    ("rms_normalization", (X,), {"axis": (1, 2)}),
    ("binary_crossentropy", (T01, P01), {}),
    ("binary_crossentropy", (T01, P01 * 6 - 3), {"from_logits": True}),
    ("categorical_crossentropy", (ONEHOT, PROBS), {}),
    ("categorical_crossentropy", (ONEHOT, LOGITS), {"from_logits": True}),
    ("categorical_crossentropy", (ONEHOT.T, PROBS.T), {"axis": 0}),
    ("sparse_categorical_crossentropy", (LABELS, PROBS), {}),
    ("sparse_categorical_crossentropy", (LABELS[:, None], LOGITS), {"from_logits": True}),
    ("dot_product_attention", (Q, KEY, V), {}),
    ("dot_product_attention", (Q, KEY, V), {"mask": MASK, "scale": 0.3}),
    ("dot_product_attention", (Q, KEY[:, :4], V[:, :4]), {"is_causal": True, "bias": BIAS[..., :4]}),
    ("dot_product_attention", (Q, KEY1, V1), {}),
    ("polar", (POS, X), {}),
    ("psnr", (P01, T01, 1.0), {}),
    ("ctc_loss", (np.array([[1, 2, 2, 0], [3, 1, 0, 0]]), _n(2, 8, 5),
                  np.array([3, 2]), np.array([8, 6])), {}),
    ("depth_to_space", (_n(2, 3, 2, 8), 2), {}),
    ("depth_to_space", (_n(2, 8, 3, 2), 2), {"data_format": "channels_first"}),
    ("space_to_depth", (_n(2, 4, 6, 3), 2), {}),
    ("space_to_depth", (_n(2, 3, 4, 6), 2), {"data_format": "channels_first"}),
    # convolution and pooling
    ("conv", (IMG, K2), {}), ("conv", (IMG, K2, 2, "same"), {}),
    ("conv", (IMG_CF, K2), {"data_format": "channels_first", "padding": "same"}),
    ("conv", (IMG, K2), {"dilation_rate": 2}), ("conv", (IMG, K2_GROUPED), {"strides": (1, 2)}),
    ("conv", (SEQ, K1), {"padding": "same"}),
    ("conv", (IMG.astype(np.int32), K2), {}),
    ("depthwise_conv", (IMG, DK), {}), ("depthwise_conv", (IMG, DK, 2, "same"), {}),
    ("depthwise_conv", (IMG_CF, DK), {"data_format": "channels_first", "dilation_rate": 2}),
    ("separable_conv", (IMG, DK, PK), {}), ("separable_conv", (IMG, DK, PK, 2, "same"), {}),
    ("conv_transpose", (IMG, KT), {}), ("conv_transpose", (IMG, KT, 2, "same"), {}),
    ("conv_transpose", (IMG, KT), {"strides": 2, "output_padding": 1}),
    ("conv_transpose", (IMG, KT), {"strides": 2, "padding": "same", "output_padding": 0}),
    ("conv_transpose", (IMG_CF, KT), {"data_format": "channels_first", "dilation_rate": 2}),
    # (keras.ops 3.15 pools fail on JAX when strides=None: strides are given here)
    ("max_pool", (IMG, 2, 2), {}), ("max_pool", (IMG, 3, 2, "same"), {}),
    ("max_pool", (IMG_CF, (2, 3), (2, 3)), {"data_format": "channels_first"}),
    ("max_pool", (SEQ, 2), {"strides": 1}),
    ("average_pool", (IMG, 2, 2), {}), ("average_pool", (IMG, 3, 2, "same"), {}),
    ("average_pool", (IMG_CF, 2, 2), {"data_format": "channels_first", "padding": "same"}),
    ("average_pool", (SEQ, 3), {"padding": "same", "strides": 2}),
    # linalg
    ("det", (SPD,), {}), ("inv", (SQ,), {}), ("solve", (SQ, B), {}),
    ("solve_triangular", (TRI, B), {"lower": True}), ("solve_triangular", (TRI.T.copy(), B), {}),
    ("qr", (RECT,), {}), ("qr", (RECT,), {"mode": "complete"}), ("svd", (RECT,), {}),
    ("svd", (RECT, False), {}), ("svd", (RECT,), {"compute_uv": False}), ("eigh", (SPD,), {}),
    ("eig", (SQ,), {}), ("cholesky", (SPD,), {}), ("cholesky", (SPD,), {"upper": True}),
    ("cholesky_inverse", (np.linalg.cholesky(SPD[0]),), {}),
    ("cholesky_inverse", (np.linalg.cholesky(SPD[0]).T.copy(),), {"upper": True}),
    ("lstsq", (RECT, _n(4, 2)), {}), ("lu_factor", (SQ,), {}), ("lu_factor", (SPD,), {}),
    ("pinv", (RECT,), {}), ("matrix_rank", (RECT,), {}),
    ("matrix_rank", (np.outer(np.arange(3.0), np.arange(4.0)).astype(np.float32),),
     {"tol": 0.5}),
    # image
    ("image.resize", (GRAY, (3, 5)), {}),
    ("image.resize", (GRAY[0], (12, 4)), {"interpolation": "nearest"}),
    ("image.resize", (GRAY, (4, 4)), {"crop_to_aspect_ratio": True}),
    ("image.resize", (GRAY, (4, 4)), {"pad_to_aspect_ratio": True, "fill_value": 0.5}),
    ("image.resize", (GRAY, (9, 4)), {"pad_to_aspect_ratio": True}),
    ("image.resize", (np.moveaxis(GRAY, -1, 1).copy(), (5, 5)),
     {"data_format": "channels_first", "antialias": True}),
    ("image.rgb_to_grayscale", (GRAY,), {}),
    ("image.rgb_to_grayscale", (np.moveaxis(GRAY, -1, 1).copy(),),
     {"data_format": "channels_first"}),
    ("image.map_coordinates", (X[0], np.array([[0.5, 1.2], [2.7, -0.4]], np.float32), 1), {}),
    ("image.map_coordinates", (X[0], np.array([[0.5, 1.2], [2.7, 4.4]], np.float32), 0),
     {"fill_mode": "nearest"}),
]


def _id(case):
    name, args, kwargs = case
    return name


def _jitted(fn, args, kwargs):
    """`fn(*args, **kwargs)` under `jax.jit`, the array arguments traced, the rest static
    (one compile per op and library, cheaper than compiling each primitive eagerly)."""
    leaves, tree = jax.tree_util.tree_flatten((args, kwargs))
    pos = [i for i, l in enumerate(leaves) if isinstance(l, np.ndarray)]

    def run(*arrays):
        full = list(leaves)
        for i, a in zip(pos, arrays):
            full[i] = a
        a, k = jax.tree_util.tree_unflatten(tree, full)
        return fn(*a, **k)

    return jax.jit(run)(*[leaves[i] for i in pos])


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_matches_keras(case, K):
    name, args, kwargs = case
    theirs = _jitted(_fn(K.ops, name), args, kwargs)
    ours = _jitted(_fn(ops, name), args, kwargs)
    _close(ours, theirs)


def test_sparsemax_is_the_simplex_projection():
    # keras.ops.sparsemax (3.15) computes its threshold from a sum of cumulative sums and
    # does not sum to 1 when more than one entry survives; trine follows the paper.
    def reference(z):
        zs = np.sort(z)[::-1]
        k = np.arange(1, len(z) + 1)
        cum = np.cumsum(zs)
        n = k[1 + k * zs > cum].max()
        return np.maximum(z - (cum[n - 1] - 1) / n, 0)

    x = np.array([[0.1, 0.5, 0.3, -0.2], [2.0, 1.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]],
                 np.float32)
    out = np.asarray(ops.sparsemax(x))
    np.testing.assert_allclose(out, np.stack([reference(r) for r in x]), rtol=1e-6)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ops.sparsemax(x.T, axis=0)), out.T, rtol=1e-6)


def test_pool_strides_default_to_pool_size():
    _close(ops.max_pool(IMG, (2, 3)), ops.max_pool(IMG, (2, 3), (2, 3)))
    _close(ops.average_pool(IMG_CF, 2, padding="same", data_format="channels_first"),
           ops.average_pool(IMG_CF, 2, 2, padding="same", data_format="channels_first"))


def test_keras_defaults_and_order():
    """Where Keras's defaults or positional order differ from jax.numpy's, Keras's win."""
    x = jnp.asarray(X)
    np.testing.assert_allclose(ops.leaky_relu(-x), jnp.where(-x > 0, -x, -0.2 * x), rtol=1e-6)
    assert ops.sum(x, 1, True).shape == (2, 1, 4)
    assert ops.logsumexp(x, -1, True).shape == (2, 3, 1)
    assert ops.one_hot(jnp.array([1, 0]), 3, 0).shape == (3, 2)
    assert ops.dtype(x) == "float32" and ops.dtype(trine.Variable(np.ones(2, np.float32))) == "float32"
    assert ops.is_tensor(x) and not ops.is_tensor(np.ones(2))
    assert not ops.is_tensor(trine.Variable(np.ones(2, np.float32)))
    assert ops.where(jnp.array([0, 1, 1]))[0].tolist() == [1, 2]


# ------------------------------------------------------------------------------ gradients
def _log1pexp_factory(o):
    @o.custom_gradient
    def log1pexp(x):
        e = o.exp(x)

        def grad(*args, upstream=None):      # Keras's portable spelling
            if upstream is None:
                (upstream,) = args
            return o.multiply(upstream, 1.0 - 1.0 / o.add(1, e))

        return o.log(1 + e), grad
    return log1pexp


def test_custom_gradient():
    f = _log1pexp_factory(ops)
    xs = jnp.array([0.0, 2.0, 100.0])
    g = jax.vmap(jax.grad(f))(xs)
    np.testing.assert_allclose(g, [0.5, 1 - 1 / (1 + np.exp(2.0)), 1.0], rtol=1e-6)
    assert np.isfinite(np.asarray(g)).all()
    np.testing.assert_allclose(jax.jit(jax.grad(f))(100.0), 1.0)

    @ops.custom_gradient
    def scaled_product(a, b):
        def grad(upstream):
            return upstream * b * 10.0, upstream * a
        return a * b, grad

    ga, gb = jax.grad(lambda a, b: jnp.sum(scaled_product(a, b)), argnums=(0, 1))(
        jnp.array([1.0, 2.0]), jnp.array([3.0, 4.0]))
    np.testing.assert_allclose(ga, [30.0, 40.0])
    np.testing.assert_allclose(gb, [1.0, 2.0])
    # a Variable argument is read as its value
    v = trine.Variable(np.array([1.0, 2.0], np.float32))
    np.testing.assert_allclose(scaled_product(v, jnp.ones(2)), [1.0, 2.0])


def test_custom_gradient_matches_keras(K):
    xs = jnp.array([-3.0, 0.5, 50.0])
    ours = jax.vmap(jax.grad(_log1pexp_factory(ops)))(xs)
    theirs = jax.vmap(jax.grad(_log1pexp_factory(K.ops)))(xs)
    _close(ours, theirs)


def test_stop_gradient():
    g = jax.grad(lambda x: jnp.sum(x * ops.stop_gradient(x)))(jnp.array([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(g, [1.0, -2.0, 3.0])
    v = trine.Variable(np.array([4.0], np.float32))
    np.testing.assert_allclose(ops.stop_gradient(v), [4.0])


# ------------------------------------------------------------------------------ control flow
def _control_flow(o):
    """Outputs of the control-flow ops of library `o` (trine.ops or keras.ops), jitted."""
    @jax.jit
    def run(x):
        out = {}
        out["while"] = o.while_loop(lambda i, s: i < 10, lambda i, s: (i + 1, s * 1.5),
                                    (0, x), maximum_iterations=4)
        out["while_single"] = o.while_loop(lambda s: o.sum(s) < 100.0, lambda s: s * 2.0, x)
        out["while_list"] = o.while_loop(lambda a, b: a < 3, lambda a, b: [a + 1, b + a],
                                         [0, 0])
        out["fori"] = o.fori_loop(0, 5, lambda i, s: s + i * x, jnp.zeros_like(x))
        out["scan"] = o.scan(lambda c, e: (c + e, c * e), jnp.zeros(()), x)
        out["scan_rev"] = o.scan(lambda c, e: (c + e, c), 1.0, x, reverse=True, unroll=2)
        out["scan_len"] = o.scan(lambda c, _: (c * 2.0, c), 1.0, None, length=4)
        out["map"] = o.map(lambda e: e ** 2 + 1, x)
        out["vmap"] = o.vectorized_map(lambda e: o.sum(e * e), x.reshape(2, -1))
        out["assoc"] = o.associative_scan(lambda a, b: a + b, x)
        out["assoc_rev"] = o.associative_scan(jnp.maximum, x, reverse=True)
        out["switch"] = [o.switch(i, [lambda v: v + 1, lambda v: v * 3, lambda v: -v], x)
                         for i in (0, 1, 2)]
        out["cond"] = o.cond(x[0] > 0, lambda: x * 2, lambda: x - 1)
        return out
    return run(jnp.asarray(np.arange(1.0, 7.0, dtype=np.float32)))


def test_control_flow_matches_keras(K):
    ours, theirs = _control_flow(ops), _control_flow(K.ops)
    assert ours.keys() == theirs.keys()
    for key in ours:
        _close(jax.tree_util.tree_leaves(ours[key]), jax.tree_util.tree_leaves(theirs[key]))
    assert isinstance(ours["while_list"], (list, tuple)) and len(ours["while_list"]) == 2


def test_control_flow_values():
    out = _control_flow(ops)
    i, s = out["while"]
    assert int(i) == 4
    np.testing.assert_allclose(s, np.arange(1.0, 7.0) * 1.5 ** 4, rtol=1e-6)
    np.testing.assert_allclose(out["fori"], np.arange(1.0, 7.0) * 10)
    np.testing.assert_allclose(out["assoc"], np.cumsum(np.arange(1.0, 7.0)))
    # Variables as loop state are read as their values
    v = trine.Variable(np.array([1.0, 2.0], np.float32))
    np.testing.assert_allclose(ops.while_loop(lambda s: s[0] < 5, lambda s: s * 2, v), [8, 16])
    carry, ys = ops.scan(lambda c, e: (c + e, c), v, jnp.ones((3, 2)))
    np.testing.assert_allclose(carry, [4.0, 5.0])
    np.testing.assert_allclose(ops.fori_loop(0, 3, lambda i, s: s + 1, v), [4.0, 5.0])


def test_jvp():
    out, tangent = ops.linalg.jvp(lambda x: jnp.sin(x), (jnp.array([0.0, 1.0]),),
                                  (jnp.array([1.0, 1.0]),))
    np.testing.assert_allclose(tangent, np.cos([0.0, 1.0]), rtol=1e-6)


# ------------------------------------------------------------------------------ Variables
def test_variables_are_read():
    xv, kv = trine.Variable(X), trine.Variable(K2)
    _close(ops.top_k(xv, 2), ops.top_k(X, 2))
    _close(ops.moments(xv, axes=[0, 1]), ops.moments(X, axes=(0, 1)))
    _close(ops.conv(IMG, kv, padding="same"), ops.conv(IMG, K2, padding="same"))
    _close(ops.layer_normalization(xv, gamma=trine.Variable(X[0, 0])),
           ops.layer_normalization(X, gamma=X[0, 0]))
    _close(ops.slice_update(xv, (0, 0, 0), trine.Variable(np.ones((1, 1, 2), np.float32))),
           ops.slice_update(X, (0, 0, 0), np.ones((1, 1, 2), np.float32)))
    _close(ops.linalg.inv(trine.Variable(SQ)), ops.inv(SQ))
    _close(ops.fft((xv, xv)), ops.fft((X, X)))


# ------------------------------------------------------------------------------ namespaces
def test_namespaces():
    import trine.ops.nn
    from trine.ops.linalg import qr
    from trine.ops.numpy import divide_no_nan

    assert trine.ops.nn.relu is ops.relu and qr is ops.qr and divide_no_nan is ops.divide_no_nan
    assert ops.numpy.sum is ops.sum and ops.numpy.matmul is ops.matmul
    assert ops.math.top_k is ops.top_k and ops.core.scan is ops.scan
    assert callable(ops.image.resize)
    assert "conv" in dir(ops.nn) and "svd" in dir(ops.linalg) and "sum" in dir(ops.numpy)
    for ns, name in ((ops.nn, "matmul"), (ops.linalg, "relu"), (ops.image, "matmul"),
                     (ops.numpy, "conv")):
        with pytest.raises(AttributeError, match=name):
            getattr(ns, name)


def test_namespaces_cover_keras(K):
    """Every Keras name of each namespace is in trine's, but the ones trine skips."""
    skipped = {"adaptive_average_pool", "adaptive_max_pool", "ctc_decode", "fold", "unfold",
               "view"}
    for ns in ("nn", "linalg", "numpy"):
        theirs = {n for n in dir(getattr(K.ops, ns)) if not n.startswith("_")}
        missing = {n for n in theirs - skipped if not hasattr(getattr(ops, ns), n)}
        assert not missing, (ns, missing)
    skipped |= {"extract_sequences", "istft", "rearrange", "stft"}
    missing = {n for n in dir(K.ops) if not n.startswith("_") and not hasattr(ops, n)}
    assert missing <= skipped, missing - skipped


# ------------------------------------------------------------------------------ graphs
def _graph_model():
    inp = trine.Input((6, 4))
    img = trine.Input((4, 4, 3))
    h = trine.layers.Dense(4)(inp)
    a = ops.layer_normalization(h, epsilon=1e-5)
    mean, var = ops.moments(h, axes=(1,), keepdims=True)
    b = ops.divide_no_nan(h - mean, ops.sqrt(var))
    vals, _ = ops.top_k(a, 2)
    c = ops.max_pool(b, 2)
    d = ops.rms_normalization(c, scale=ops.sigmoid(c))       # a symbolic keyword argument
    e = ops.nn.softsign(ops.segment_sum(ops.transpose(b, (1, 0, 2)), jnp.array([0, 0, 1, 1, 2, 2]),
                                        num_segments=3))
    r = ops.image.resize(img, (8, 8))
    return trine.Model([inp, img], [vals, d, e, r])


def test_functional_graph_predict_save_load(tmp_path):
    model = _graph_model()
    x = rng.normal(size=(3, 6, 4)).astype(np.float32)
    im = rng.uniform(size=(3, 4, 4, 3)).astype(np.float32)
    out = model.predict([x, im], verbose=0)
    assert [o.shape for o in out] == [(3, 6, 2), (3, 3, 4), (3, 3, 4), (3, 8, 8, 3)]
    # the graph computes what the ops compute eagerly
    dense = model.layers[2] if hasattr(model.layers[2], "kernel") else [
        l for l in model.layers if hasattr(l, "kernel")][0]
    h = x @ np.asarray(dense.kernel.value) + np.asarray(dense.bias.value)
    mean, var = ops.moments(h, axes=(1,), keepdims=True)
    c = ops.max_pool(ops.divide_no_nan(h - mean, jnp.sqrt(var)), 2)
    _close(out[1], ops.rms_normalization(c, scale=jax.nn.sigmoid(c)), rtol=1e-4, atol=1e-5)
    _close(out[0], ops.top_k(ops.layer_normalization(h, epsilon=1e-5), 2)[0], rtol=1e-4,
           atol=1e-5)
    _close(out[3], ops.image.resize(im, (8, 8)), rtol=1e-4, atol=1e-5)
    path = tmp_path / "ops.keras"
    model.save(path)
    loaded = trine.models.load_model(path)
    again = loaded.predict([x, im], verbose=0)
    for a, b in zip(out, again):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("call, match", [
    (lambda: ops.top_k(X, 9), "top_k: k=9 is larger"),
    (lambda: ops.qr(RECT, mode="r"), "qr: argument `mode`"),
    (lambda: ops.one_hot(LABELS, 6, sparse=True), "one_hot: trine has no sparse"),
    (lambda: ops.multi_hot(LABELS), "multi_hot: argument `num_classes`"),
    (lambda: ops.scatter_update(Z3, IDX, VALS, reduction="sum"), "scatter_update"),
    (lambda: ops.conv(IMG, K2[0]), "ops.conv: expected a kernel of rank 4"),
    (lambda: ops.conv(IMG, K2, padding="full"), "ops.conv: argument `padding`"),
    (lambda: ops.conv(IMG, _n(3, 3, 3, 2)), "input channels \\(4\\) must be a multiple"),
    (lambda: ops.conv(IMG, _n(9, 9, 4, 2)), "too small"),
    (lambda: ops.depthwise_conv(IMG, _n(3, 3, 3, 2)), "depthwise_conv"),
    (lambda: ops.max_pool(IMG, (2, 2, 2)), "ops.max_pool: argument `pool_size`"),
    (lambda: ops.average_pool(X[0], 2), "rank >= 3"),
    (lambda: ops.fft(X), "fft: expected x as a tuple"),
    (lambda: ops.irfft((X, X[:1])), "same shape"),
    (lambda: ops.binary_crossentropy(T01, P01[:, :2]), "binary_crossentropy"),
    (lambda: ops.normalize(X, order=0), "normalize: argument `order`"),
    (lambda: ops.scan(lambda c, e: (c, e), 0.0, X, unroll=0), "scan: argument `unroll`"),
    (lambda: ops.cholesky(-SPD), "cholesky"),
    (lambda: ops.matrix_rank(X[0, 0]), "matrix_rank: expected an input of rank >= 2"),
    (lambda: ops.dot_product_attention(Q[0], KEY[0], V[0]), "4D inputs"),
    (lambda: ops.image.resize(GRAY, (3,)), "image.resize: argument `size`"),
    (lambda: ops.depth_to_space(_n(1, 2, 2, 3), 2), "divisible"),
    (lambda: jax.jit(lambda s: ops.segment_sum(SEG_DATA, s))(SEG_IDS), "num_segments"),
])
def test_errors_name_the_op(call, match):
    with pytest.raises((ValueError, TypeError, NotImplementedError), match=match):
        call()


def test_segment_sum_infers_num_segments_eagerly():
    np.testing.assert_allclose(ops.segment_sum(SEG_DATA, SEG_IDS),
                               np.asarray(jax.ops.segment_sum(SEG_DATA, SEG_IDS, 3)))
