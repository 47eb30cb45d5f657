"""ConvLSTM1D / 2D / 3D (issue 23): conformance harness, Keras's numbers with the same weights,
masks, initial states, dropout and training inside a model."""
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from harness import check_layer
from trine import layers as L


def randomized(factory, input_shape, seed=0):
    def make():
        layer = factory()
        layer.build((None,) + tuple(input_shape[1:]))
        rng = np.random.default_rng(seed)
        layer.set_weights([rng.uniform(-0.5, 0.5, v.shape) for v in layer.weights])
        return layer
    return make


# The first 1D, 2D and 3D cases run by default; the rest (about a minute each here) with
# `pytest -m slow`.
_SLOW = pytest.mark.slow
CASES = [
    (lambda: L.ConvLSTM1D(3, 3, padding="same", return_sequences=True), (2, 3, 6, 2)),
    pytest.param(lambda: L.ConvLSTM1D(2, 3, strides=2, return_state=True), (2, 4, 7, 2),
                 marks=_SLOW),
    (lambda: L.ConvLSTM2D(2, 3), (2, 3, 5, 5, 2)),
    pytest.param(lambda: L.ConvLSTM2D(2, (2, 3), padding="same", go_backwards=True,
                                      return_sequences=True, activation="relu"),
                 (1, 3, 4, 5, 2), marks=_SLOW),
    pytest.param(lambda: L.ConvLSTM2D(2, 3, dilation_rate=2, padding="same",
                                      data_format="channels_first"), (2, 2, 2, 5, 5),
                 marks=_SLOW),
    pytest.param(lambda: L.ConvLSTM2D(2, 2, use_bias=False, unit_forget_bias=False),
                 (1, 2, 4, 4, 1), marks=_SLOW),
    (lambda: L.ConvLSTM3D(2, 2, return_sequences=True), (1, 2, 3, 3, 3, 2)),
]


@pytest.mark.parametrize("make,shape", CASES, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_and_keras_oracle(make, shape):
    check_layer(randomized(make, shape), shape, keras_oracle=True, keras_atol=1e-5)


def test_weights_have_keras_shapes_and_forget_bias():
    layer = L.ConvLSTM2D(4, (3, 2))
    layer(np.zeros((1, 2, 5, 5, 3), "float32"))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 2, 3, 16), (3, 2, 4, 16), (16,)]
    bias = np.asarray(layer.weights[2].numpy() if hasattr(layer.weights[2], "numpy")
                      else layer.get_weights()[2])
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    assert layer.name.startswith("conv_lstm2d")


def _keras_twin(layer, x, **call):
    import keras
    k = getattr(keras.layers, type(layer).__name__).from_config(layer.get_config())
    k(x)
    k.set_weights(layer.get_weights())
    return k


def test_initial_state_matches_keras():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 5, 2)).astype("float32")
    h0 = rng.normal(size=(2, 5, 3)).astype("float32")
    c0 = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = L.ConvLSTM1D(3, 3, padding="same", return_sequences=True, return_state=True)
    out = layer(x, initial_state=[h0, c0])
    kout = _keras_twin(layer, x)(x, initial_state=[h0, c0])
    for a, b in zip(out, kout):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_masked_steps_keep_the_state():
    # (Keras 3.15's ConvLSTM fails on masks, so the oracle is the layer run on the kept steps.)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 5, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    layer = L.ConvLSTM1D(3, 3, padding="same", return_sequences=True, return_state=True)
    seq, h, c = layer(x, mask=mask)
    np.testing.assert_array_equal(seq[0, 2], seq[0, 1])
    np.testing.assert_array_equal(seq[1, 3], seq[1, 0])
    _, h_ref, c_ref = layer(x[:1, [0, 1, 3]])
    np.testing.assert_allclose(h[0], h_ref[0], atol=1e-6)
    np.testing.assert_allclose(c[0], c_ref[0], atol=1e-6)
    _, h_ref, _ = layer(x[1:, :1])
    np.testing.assert_allclose(h[1], h_ref[0], atol=1e-6)


def test_masking_layer_feeds_the_mask():
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 4, 1)).astype("float32")
    x[1, 2] = 0.0
    inp = trine.Input((3, 4, 4, 1))
    m = trine.Model(inp, L.ConvLSTM2D(2, 3, padding="same")(L.Masking()(inp)))
    y = m(x)
    y2 = m.layers[-1](x[:, :2])
    np.testing.assert_allclose(y[1], y2[1], atol=1e-6)


def test_dropout_is_random_in_training_and_off_in_inference():
    x = jnp.ones((2, 3, 5, 5, 2))
    layer = L.ConvLSTM2D(2, 3, dropout=0.5, recurrent_dropout=0.5, seed=3)
    a = layer(x)
    np.testing.assert_array_equal(a, layer(x))
    t1, t2 = layer(x, training=True), layer(x, training=True)
    assert not np.allclose(t1, t2)
    assert np.all(np.isfinite(t1))


def test_trains_in_a_sequential_model():
    trine.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3, 4, 4, 1)).astype("float32")
    y = x.sum(axis=(1, 2, 3, 4))[:, None]
    model = trine.Sequential([trine.Input((3, 4, 4, 1)), L.ConvLSTM2D(2, 3, padding="same"),
                              L.Flatten(), L.Dense(1)])
    model.compile("adam", "mse")
    hist = model.fit(x, y, epochs=5, batch_size=4, verbose=0).history["loss"]
    assert hist[-1] < hist[0]


@pytest.mark.parametrize("kwargs,match", [
    ({"filters": 0, "kernel_size": 3}, "filters"),
    ({"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size"),
    ({"filters": 2, "kernel_size": 3, "padding": "causal"}, "padding"),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "dilation_rate"),
    ({"filters": 2, "kernel_size": 3, "dropout": 1.5}, "dropout"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.ConvLSTM2D(**kwargs)


def test_bad_inputs_and_stateful():
    with pytest.raises(NotImplementedError, match="stateful"):
        L.ConvLSTM2D(2, 3, stateful=True)
    with pytest.raises(ValueError, match="ConvLSTM2D"):
        L.ConvLSTM2D(2, 3)(np.zeros((2, 3, 5, 2), "float32"))
    with pytest.raises(ValueError, match="too small"):
        L.ConvLSTM2D(2, 5)(np.zeros((1, 2, 3, 3, 1), "float32"))
    layer = L.ConvLSTM1D(2, 3, padding="same")
    with pytest.raises(ValueError, match="initial state"):
        layer(np.zeros((1, 2, 4, 1), "float32"), initial_state=[np.zeros((1, 4, 2))])
