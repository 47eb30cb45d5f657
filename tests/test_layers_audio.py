"""STFTSpectrogram and MelSpectrogram (issue 23): conformance harness and Keras's numbers."""
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from harness import check_layer
from trine import layers as L

STFT_CASES = [
    (lambda: L.STFTSpectrogram(frame_length=16, frame_step=4), (2, 64, 2)),
    (lambda: L.STFTSpectrogram(mode="psd", frame_length=10, fft_length=16, padding="same",
                               expand_dims=True), (2, 48, 2)),
    (lambda: L.STFTSpectrogram(mode="stft", frame_length=8, window="hamming", periodic=True,
                               scaling="spectrum"), (1, 40, 1)),
    (lambda: L.STFTSpectrogram(mode="real", frame_length=8, data_format="channels_first"),
     (2, 2, 40)),
    (lambda: L.STFTSpectrogram(mode="magnitude", frame_length=8, window=None, scaling=None,
                               data_format="channels_first", expand_dims=True), (1, 2, 40)),
]


@pytest.mark.parametrize("make,shape", STFT_CASES, ids=lambda v: "" if callable(v) else str(v))
def test_stft_conformance_and_keras_oracle(make, shape):
    check_layer(make, shape, keras_oracle=True, keras_atol=2e-5, check_mixed=False)


@pytest.mark.parametrize("mode", ["imag", "angle"])
def test_stft_other_modes_match_keras(mode):
    import keras
    x = np.random.default_rng(1).normal(size=(2, 40, 2)).astype("float32")
    kw = dict(mode=mode, frame_length=8, frame_step=3, fft_length=16)
    t, k = L.STFTSpectrogram(**kw), keras.layers.STFTSpectrogram(**kw)
    np.testing.assert_allclose(t(x), k(x), atol=1e-5)
    assert [w.shape for w in t.weights] == [tuple(w.shape) for w in k.weights]


def test_stft_kernels_are_trainable_and_train():
    x = np.random.default_rng(0).normal(size=(8, 32, 1)).astype("float32")
    model = trine.Sequential([trine.Input((32, 1)),
                              L.STFTSpectrogram(mode="magnitude", frame_length=8),
                              L.Flatten(), L.Dense(1)])
    assert len(model.layers[0].trainable_weights) == 2
    model.compile("adam", "mse")
    before = model.layers[0].get_weights()[0].copy()
    model.fit(x, np.ones((8, 1), "float32"), epochs=2, batch_size=4, verbose=0)
    assert not np.allclose(before, model.layers[0].get_weights()[0])


MEL_CASES = [
    (lambda: L.MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8), (2, 300)),
    (lambda: L.MelSpectrogram(fft_length=64, sequence_stride=20, sequence_length=48,
                              sampling_rate=8000, num_mel_bins=10, min_freq=50.0,
                              max_freq=3000, power_to_db=False, mag_exp=1.0), (2, 200)),
    (lambda: L.MelSpectrogram(fft_length=32, sequence_stride=8, num_mel_bins=6, top_db=20.0,
                              ref_power=2.0, window="hamming"), (1, 100)),
]


@pytest.mark.parametrize("make,shape", MEL_CASES, ids=lambda v: "" if callable(v) else str(v))
def test_mel_conformance_and_keras_oracle(make, shape):
    check_layer(make, shape, keras_oracle=True, keras_atol=1e-4, check_grads=False,
                check_mixed=False)


def test_mel_unbatched_signal_and_shape():
    layer = L.MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8)
    assert layer(jnp.ones((128,))).shape == (8, 9)
    assert layer(jnp.ones((3, 128))).shape == (3, 8, 9)


def test_mel_filter_bank_rows_peak_at_one():
    from trine.layers.audio import linear_to_mel_weight_matrix
    w = linear_to_mel_weight_matrix(8, 33, 16000, 20.0, 8000)
    assert w.shape == (33, 8) and np.all(w[0] == 0)
    assert np.all(w.max(axis=0) <= 1.0) and np.all(w.max(axis=0) > 0.5)


@pytest.mark.parametrize("kwargs,match", [
    ({"frame_length": 8, "frame_step": 9}, "frame_step"),
    ({"frame_length": 8, "fft_length": 4}, "fft_length"),
    ({"mode": "power"}, "mode"),
    ({"scaling": "db"}, "scaling"),
    ({"padding": "causal"}, "padding"),
    ({"window": "no-such-window"}, "window"),
])
def test_stft_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.STFTSpectrogram(**kwargs)


def test_stft_bad_input_dtype_and_rank():
    with pytest.raises(TypeError, match="float"):
        L.STFTSpectrogram(frame_length=8)(np.ones((1, 32, 1), "int32"))
    with pytest.raises(ValueError):
        L.STFTSpectrogram(frame_length=8)(np.ones((32, 1), "float32"))


def test_mel_bad_arguments():
    with pytest.raises(ValueError, match="sequence_length"):
        L.MelSpectrogram(fft_length=32, sequence_length=64)
    with pytest.raises(ValueError, match="num_mel_bins"):
        L.MelSpectrogram(num_mel_bins=0)
    with pytest.raises(ValueError, match="min_freq"):
        L.MelSpectrogram(min_freq=9000.0, sampling_rate=16000)
