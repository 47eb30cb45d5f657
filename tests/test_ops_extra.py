"""The rest of keras.ops (signal, adaptive pooling, fold/unfold, CTC decoding, rearrange,
view) against Keras on its JAX backend."""
import numpy as np
import pytest

import trine
from trine import ops

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(1)
SIG = RNG.standard_normal((2, 3, 50)).astype("float32")
IMG = RNG.standard_normal((2, 7, 9, 3)).astype("float32")
NCHW = RNG.standard_normal((2, 3, 8, 7)).astype("float32")
VOL = RNG.standard_normal((1, 5, 6, 7, 2)).astype("float32")
LOGP = np.log(RNG.dirichlet(np.ones(5), size=(3, 9))).astype("float32")
SPEC = keras.ops.stft(SIG, 16, 4, 32)
SPEC_NC = keras.ops.stft(SIG, 20, 5, 20, window="hamming", center=False)


def _pair(x):
    return tuple(np.asarray(t) for t in x) if isinstance(x, (tuple, list)) else np.asarray(x)


CASES = [
    ("extract_sequences", (SIG, 8, 3), {}),
    ("extract_sequences", (SIG[0, 0], 10, 10), {}),
    ("stft", (SIG, 16, 4, 32), {}),
    ("stft", (SIG, 20, 5, 20), {"window": "hamming", "center": False}),
    ("stft", (SIG[0], 12, 6, 16), {"window": None}),
    ("stft", (SIG, 6, 2, 8), {"window": np.linspace(0.1, 1.0, 6).astype("float32")}),
    ("istft", (SPEC, 16, 4, 32), {}),
    ("istft", (SPEC, 16, 4, 32), {"length": 40}),
    ("istft", (SPEC, 16, 4, 32), {"window": None}),
    ("istft", (SPEC_NC, 20, 5, 20), {"window": "hamming", "center": False}),
    ("adaptive_average_pool", (IMG, (3, 4)), {}),
    ("adaptive_average_pool", (IMG[:, :, 0], 4), {}),
    ("adaptive_average_pool", (VOL, (2, 4, 3)), {}),
    ("adaptive_max_pool", (IMG, (5, 2)), {}),
    ("adaptive_max_pool", (np.transpose(IMG, (0, 3, 1, 2)), 3),
     {"data_format": "channels_first"}),
    ("adaptive_max_pool", (VOL, 2), {}),
    ("unfold", (NCHW, 3), {}),
    ("unfold", (NCHW, (2, 3)), {"dilation": (2, 1), "padding": 1, "stride": 2}),
    ("fold", (keras.ops.unfold(NCHW, 3), (8, 7), 3), {}),
    ("fold", (keras.ops.unfold(NCHW, (2, 3), dilation=(2, 1), padding=1, stride=2), (8, 7),
              (2, 3)), {"dilation": (2, 1), "padding": 1, "stride": 2}),
    ("ctc_decode", (LOGP, np.array([9, 5, 7])), {}),
    ("ctc_decode", (LOGP, np.array([9, 9, 2])), {"merge_repeated": False, "mask_index": 4}),
    ("ctc_decode", (LOGP * 3, np.array([9, 5, 7])), {"strategy": "beam_search",
                                                      "beam_width": 4, "top_paths": 3,
                                                      "mask_index": 4}),
    ("ctc_decode", (LOGP[:, :3], np.array([3, 2, 3])), {"strategy": "beam_search",
                                                        "beam_width": 40, "top_paths": 5}),
    ("rearrange", (IMG, "b h w c -> b c h w"), {}),
    ("rearrange", (IMG, "b h w c -> (b h) w c"), {}),
    ("rearrange", (IMG, "b h w c -> h (b w) c"), {}),
    ("rearrange", (RNG.random((2, 6, 8, 3)), "b (h1 h) (w1 w) c -> (b h1 w1) h w c"),
     {"h1": 2, "w1": 4}),
    ("rearrange", (RNG.random((2, 6, 8, 3)), "b (h h1) (w w1) c -> b h w (c h1 w1)"),
     {"h1": 2, "w1": 2}),
    ("view", (IMG, "int32"), {}),
    ("view", (np.arange(8, dtype="int32"), "int16"), {}),
    ("view", (np.arange(8, dtype="uint8"), "float16"), {}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_keras(name, args, kwargs):
    got = _pair(getattr(ops, name)(*args, **kwargs))
    want = _pair(getattr(keras.ops, name)(*args, **kwargs))
    for g, w in zip(*((got, want) if isinstance(got, tuple) else ((got,), (want,)))):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def test_every_keras_op_exists():
    import keras.ops as K
    for ns, mine in ((K, ops), (K.nn, ops.nn), (K.numpy, ops.numpy), (K.linalg, ops.linalg),
                     (K.image, ops.image)):
        assert [n for n in dir(ns) if not n.startswith("_") and not hasattr(mine, n)] == []


def test_stft_istft_round_trip():
    real, imag = ops.stft(SIG, 16, 4, 32)
    np.testing.assert_allclose(ops.istft((real, imag), 16, 4, 32, length=50), SIG, atol=1e-4)


def test_fold_is_unfold_transpose():
    # fold(unfold(x)) counts each pixel once per block covering it
    ones = np.ones_like(NCHW)
    counts = ops.fold(ops.unfold(ones, 3), (8, 7), 3)
    np.testing.assert_allclose(ops.fold(ops.unfold(NCHW, 3), (8, 7), 3), NCHW * counts,
                               rtol=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`output_size` must be"):
        ops.adaptive_average_pool(IMG, (2, 2, 2))
    with pytest.raises(ValueError, match="fft_length"):
        ops.stft(SIG, 16, 4, 8)
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.stft(SIG.astype("int32"), 16, 4, 16)
    with pytest.raises(ValueError, match="give the lengths of all but one"):
        ops.rearrange(IMG, "b (h1 h) w c -> b h1 h w c")
    with pytest.raises(ValueError, match="`strategy` must be"):
        ops.ctc_decode(LOGP, np.array([9, 9, 9]), strategy="best")
    with pytest.raises(ValueError, match=r"fold: .*blocks"):
        ops.fold(np.zeros((1, 9, 5), "float32"), (8, 7), 3)


def test_ops_as_graph_nodes():
    inp = trine.Input((7, 9, 3))
    out = ops.rearrange(ops.adaptive_average_pool(inp, (3, 4)), "b h w c -> b (h w c)")
    model = trine.Model(inp, out)
    want = keras.ops.reshape(keras.ops.adaptive_average_pool(IMG, (3, 4)), (2, -1))
    np.testing.assert_allclose(model.predict(IMG, verbose=0), want, rtol=1e-5, atol=1e-6)
