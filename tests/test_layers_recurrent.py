"""Recurrent layers, cells and wrappers: conformance, Keras parity (weights, gates, masks).

Speed: compiling a random initializer for a new weight shape is the dominant cost of these
tests, so the unit counts are chosen to give every layer the same kernel shape (F, 12):
SimpleRNN(12), GRU(4) and LSTM(3) all have a (3, 12) kernel.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine.core.layer import get_mask
from trine.layers.core import Dense
from trine.layers.embedding import Embedding, Masking
from trine.layers.recurrent import (GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN,
                                    SimpleRNNCell, TimeDistributed)

from harness import check_layer

B, T, F = 2, 4, 3
UNITS = {"SimpleRNN": 12, "GRU": 4, "LSTM": 3,
         "SimpleRNNCell": 12, "GRUCell": 4, "LSTMCell": 3}
N_STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2}


@pytest.fixture
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _x(shape=(B, T, F), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _make(cls_name, **kw):
    return getattr(trine.layers.recurrent, cls_name)(UNITS[cls_name], **kw)


def _keras_twin(keras, layer, x):
    """The Keras layer built from trine's config (for inputs like `x`), with trine's weights."""
    cfg = {k: v for k, v in layer.get_config().items() if k != "batch_input_shape"}
    klayer = getattr(keras.layers, type(layer).__name__).from_config(cfg)
    klayer.build(np.shape(x))
    klayer.set_weights(layer.get_weights())
    return klayer


def _close(a, b, atol=1e-5):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for p, q in zip(la, lb):
        np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=atol, atol=atol)


# ----------------------------------------------------------------------------- layers
@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_rnn_layers_conformance_and_keras(cls):
    check_layer(lambda: _make(cls), (B, T, F), keras_oracle=True)


def test_weight_layouts_and_names():
    x = _x()
    for cls, gates in (("SimpleRNN", 1), ("LSTM", 4), ("GRU", 3)):
        u = UNITS[cls]
        layer = _make(cls)
        layer(x)
        bias = (2, gates * u) if cls == "GRU" else (gates * u,)
        assert [tuple(v.shape) for v in layer.weights] == [(F, gates * u), (u, gates * u), bias]
        assert [v.name for v in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    gru = _make("GRU", reset_after=False)
    gru(x)
    assert gru.weights[2].shape == (12,)
    lstm = _make("LSTM")
    lstm(x)
    b = lstm.get_weights()[2]  # unit_forget_bias: the forget gate (2nd block) starts at 1
    np.testing.assert_array_equal(b, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])
    r = lstm.get_weights()[1]  # orthogonal recurrent kernel: orthonormal rows
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-5)
    model = trine.Sequential([trine.Input((T, F)), LSTM(3, name="enc")])
    assert sorted(model.get_params()) == ["enc/lstm_cell/bias", "enc/lstm_cell/kernel",
                                          "enc/lstm_cell/recurrent_kernel"]


def test_config_keys_match_keras(keras):
    for cls in ("SimpleRNN", "LSTM", "GRU"):
        ours = set(_make(cls).get_config())
        theirs = set(getattr(keras.layers, cls)(2).get_config())
        assert ours == theirs, (cls, ours ^ theirs)


@pytest.mark.parametrize("cls", ["SimpleRNN", "LSTM", "GRU"])
def test_return_state_sequences_backwards_vs_keras(keras, cls):
    x = _x()
    extra = {"reset_after": False} if cls == "GRU" else {}  # reset_after=True: in the harness
    layer = _make(cls, return_sequences=True, return_state=True, go_backwards=True, **extra)
    out = layer(x)
    u = UNITS[cls]
    assert len(out) == 1 + N_STATES[cls]
    assert out[0].shape == (B, T, u) and all(s.shape == (B, u) for s in out[1:])
    # go_backwards returns the outputs in processing order: the last one is the final state
    np.testing.assert_allclose(np.asarray(out[0][:, -1]), np.asarray(out[1]), atol=1e-6)
    _close(out, _keras_twin(keras, layer, x)(x))


def test_initial_state_vs_keras(keras):
    x = _x()
    h0, c0 = _x((B, 3), 1), _x((B, 3), 2)
    layer = LSTM(3, return_sequences=True)
    y = layer(x, initial_state=[h0, c0])
    assert not np.allclose(np.asarray(y), np.asarray(layer(x)))
    _close(y, _keras_twin(keras, layer, x)(x, initial_state=[h0, c0]))
    with pytest.raises(ValueError, match="expects 2 initial state"):
        layer(x, initial_state=[h0])


# ----------------------------------------------------------------------------- masks
def test_masks_vs_keras_embedding_lstm(keras):
    """Embedding(mask_zero=True) -> LSTM / GRU gives Keras's numbers on padded sequences."""
    x = np.array([[3, 1, 0, 0], [0, 0, 7, 5]], np.int32)  # post- and pre-padding

    def build(lib, Emb, Rnn, units):
        inp = lib.Input(shape=(T,), dtype="int32")
        h = Emb(10, F, mask_zero=True)(inp)
        seq, last = Rnn(units, return_sequences=True, return_state=True)(h)[:2]
        return lib.Model(inp, [seq, last])

    for cls in ("LSTM", "GRU"):
        u = UNITS[cls]
        model = build(trine, Embedding, getattr(trine.layers.recurrent, cls), u)
        kmodel = build(keras, keras.layers.Embedding, getattr(keras.layers, cls), u)
        kmodel.set_weights(model.get_weights())
        seq, last = model(x)
        _close((seq, last), kmodel(x))
        seq = np.asarray(seq)
        # masked steps repeat the previous output; leading masked steps keep the zero state
        np.testing.assert_array_equal(seq[0, 3], seq[0, 1])
        np.testing.assert_array_equal(seq[1, :2], np.zeros((2, u)))
        np.testing.assert_array_equal(np.asarray(last)[0], seq[0, 1])


@pytest.mark.slow
def test_masking_layer_then_lstm_in_sequential_vs_keras(keras):
    x = _x()
    x[0, 2:] = 0.0
    model = trine.Sequential([trine.Input((T, F)), Masking(), LSTM(3, go_backwards=True)])
    kmodel = keras.Sequential([keras.Input((T, F)), keras.layers.Masking(),
                               keras.layers.LSTM(3, go_backwards=True)])
    kmodel.set_weights(model.get_weights())
    _close(model(x), kmodel(x))


def test_mask_propagates_with_return_sequences_only():
    h = Embedding(10, F, mask_zero=True)(jnp.array([[1, 2, 0, 0]]))
    seq = LSTM(3, return_sequences=True)(h)
    np.testing.assert_array_equal(np.asarray(get_mask(seq)), [[True, True, False, False]])
    assert get_mask(LSTM(3)(h)) is None
    out, hs, cs = LSTM(3, return_sequences=True, return_state=True)(h)
    assert get_mask(out) is not None and get_mask(hs) is None


# ----------------------------------------------------------------------------- cells
def test_cells_and_generic_rnn_vs_keras(keras):
    check_layer(lambda: RNN(LSTMCell(3), return_sequences=True), (B, T, F), keras_oracle=True)
    x = _x()
    layer = RNN([LSTMCell(3), GRUCell(4)], return_state=True)  # stacked cells
    out = layer(x)
    assert out[0].shape == (B, 4) and len(out) == 3
    _close(out, _keras_twin(keras, layer, x)(x))


@pytest.mark.slow
def test_cell_single_step_vs_keras(keras):
    x = _x((B, F))
    for cls in (SimpleRNNCell, GRUCell, LSTMCell):
        u = UNITS[cls.__name__]
        h = _x((B, u), 1)
        cell = cls(u)
        states = [h, h] if cls is LSTMCell else [h]
        out, new = cell(x, states)
        kcell = getattr(keras.layers, cls.__name__).from_config(cell.get_config())
        kcell.build(x.shape)
        kcell.set_weights(cell.get_weights())
        _close((out, new), kcell(x, states))


def test_dropout_training_only():
    x = _x()
    layer = LSTM(3, dropout=0.5, recurrent_dropout=0.3, seed=3)
    ref = layer(x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), np.asarray(ref))
    a, b = layer(x, training=True), layer(x, training=True)
    assert np.all(np.isfinite(np.asarray(a)))
    assert not np.allclose(np.asarray(a), np.asarray(ref))
    assert not np.allclose(np.asarray(a), np.asarray(b))  # a new mask per call
    stacked = RNN([LSTMCell(3, dropout=0.5), GRUCell(4, recurrent_dropout=0.5)])
    ref = stacked(x)
    a = stacked(x, training=True)  # masks drawn before the step-by-step loop
    assert np.all(np.isfinite(np.asarray(a))) and not np.allclose(np.asarray(a), np.asarray(ref))
    # under jit the masks come from the step's key: same key, same numbers
    inp = trine.Input((T, F))
    model = trine.Model(inp, layer(inp))
    p, s = model.get_params(), model.get_state()
    f = jax.jit(lambda k: model.stateless_call(p, s, x, training=True, rng=k)[0])
    k1, k2 = jax.random.key(1), jax.random.key(2)
    np.testing.assert_array_equal(np.asarray(f(k1)), np.asarray(f(k1)))
    assert not np.allclose(np.asarray(f(k1)), np.asarray(f(k2)))


@pytest.mark.slow
def test_dropout_conformance_in_training_mode():
    check_layer(lambda: GRU(4, dropout=0.4, recurrent_dropout=0.2), (B, T, F), training=True)


def test_errors():
    with pytest.raises(NotImplementedError, match="stateful=True"):
        LSTM(3, stateful=True)
    with pytest.raises(ValueError, match="units"):
        GRU(0)
    with pytest.raises(ValueError, match="dropout"):
        SimpleRNN(2, dropout=1.5)
    with pytest.raises(ValueError, match="timesteps"):
        LSTM(3)(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="call"):
        RNN(object())
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="go_backwards"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))
    with pytest.raises(ValueError, match="Layer instance"):
        TimeDistributed("dense")


def test_unroll_accepted_same_result():
    x = _x()
    a, b = LSTM(3, name="a"), LSTM(3, unroll=True, name="b")
    a(x), b(x)
    b.set_weights(a.get_weights())
    _close(a(x), b(x), atol=1e-6)
    assert b.get_config()["unroll"] is True


# ----------------------------------------------------------------------------- wrappers
def test_bidirectional_conformance_and_keras():
    check_layer(lambda: Bidirectional(LSTM(3)), (B, T, F), keras_oracle=True)


def test_bidirectional_merge_modes_vs_keras(keras):
    x = _x()
    make = lambda mode: Bidirectional(SimpleRNN(12, return_sequences=True, return_state=True),
                                      merge_mode=mode)
    layer = make(None)
    y, y_rev, h, h_rev = layer(x)
    assert y.shape == y_rev.shape == (B, T, 12) and h.shape == h_rev.shape == (B, 12)
    _close((y, y_rev, h, h_rev), _keras_twin(keras, layer, x)(x))
    y, y_rev = np.asarray(y), np.asarray(y_rev)
    expected = {"concat": np.concatenate([y, y_rev], -1), "sum": y + y_rev,
                "ave": (y + y_rev) / 2, "mul": y * y_rev}
    for mode, want in expected.items():
        other = make(mode)
        other(x)
        other.set_weights(layer.get_weights())
        out = other(x)
        assert len(out) == 3
        np.testing.assert_allclose(np.asarray(out[0]), want, rtol=1e-6, atol=1e-6)
    _close(out, _keras_twin(keras, other, x)(x))  # and one merged mode straight against Keras


def test_bidirectional_weights_names_and_masks_vs_keras(keras):
    layer = Bidirectional(LSTM(3, return_sequences=True), name="bi")
    x = np.array([[1, 2, 3, 0], [4, 0, 0, 0]], np.int32)
    inp = trine.Input((T,), dtype="int32")
    model = trine.Model(inp, layer(Embedding(10, F, mask_zero=True)(inp)))
    assert layer.forward_layer.name == "forward_lstm"
    assert layer.backward_layer.name == "backward_lstm" and layer.backward_layer.go_backwards
    assert len(layer.weights) == 6
    kinp = keras.Input((T,), dtype="int32")
    kl = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))
    kmodel = keras.Model(kinp, kl(keras.layers.Embedding(10, F, mask_zero=True)(kinp)))
    kmodel.set_weights(model.get_weights())
    y = model(x)
    _close(y, kmodel(x))
    np.testing.assert_array_equal(np.asarray(y)[1, 1:], 0.0)  # masked steps output zeros


@pytest.mark.slow
def test_bidirectional_custom_backward_and_initial_state(keras):
    x = _x()
    fwd = GRU(4, return_sequences=True)
    bwd = GRU(4, return_sequences=True, go_backwards=True, activation="relu")
    layer = Bidirectional(fwd, backward_layer=bwd)
    states = [_x((B, 4), 1), _x((B, 4), 2)]
    y = layer(x, initial_state=states)
    _close(y, _keras_twin(keras, layer, x)(x, initial_state=states))
    clone = Bidirectional.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.backward_layer.activation is bwd.activation


def test_time_distributed_dense_conformance_and_keras():
    check_layer(lambda: TimeDistributed(Dense(12, activation="relu")), (B, T, 2, F),
                expected_output_shape=(B, T, 2, 12), keras_oracle=True)


def test_time_distributed_passes_mask_through():
    h = Embedding(10, F, mask_zero=True)(jnp.array([[1, 2, 0]]))
    y = TimeDistributed(Dense(12))(h)
    assert y.shape == (1, 3, 12)
    np.testing.assert_array_equal(np.asarray(get_mask(y)), [[True, True, False]])
    with pytest.raises(ValueError, match="at least 3 axes"):
        TimeDistributed(Dense(12))(jnp.ones((2, 3)))


# ----------------------------------------------------------------------------- a model
def test_sequence_model_compiles_and_fits():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, size=(16, T)).astype("int32")
    x[:8, 3:] = 0  # padding
    y = rng.integers(0, 12, size=(16,)).astype("int32")
    model = trine.Sequential([
        trine.Input(shape=(T,), dtype="int32"),
        Embedding(10, F, mask_zero=True),
        LSTM(3),
        Dense(12, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [np.array(w) for w in model.get_weights()]
    hist = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    loss = hist.history["loss"]
    assert len(loss) == 1 and np.isfinite(loss[0])
    assert all(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
