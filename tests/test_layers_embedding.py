"""Embedding and Masking: conformance, masks, Keras parity."""
import os

import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine.core.layer import get_mask
from trine.layers.embedding import Embedding, Masking

from harness import check_layer


@pytest.fixture
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def test_embedding_conformance_and_keras():
    layer = check_layer(lambda: Embedding(10, 3), (2, 4), input_dtype="int32",
                        expected_output_shape=(2, 4, 3), keras_oracle=True)
    assert [v.name for v in layer.weights] == ["embeddings"]
    assert layer.weights[0].shape == (10, 3)
    w = layer.get_weights()[0]
    assert np.all(np.abs(w) <= 0.05)  # "uniform" = RandomUniform(-0.05, 0.05)


@pytest.mark.slow
def test_embedding_mask_zero_conformance():
    check_layer(lambda: Embedding(10, 3, mask_zero=True), (3, 4), input_dtype="int32",
                keras_oracle=True)


def test_embedding_mask_zero_mask():
    layer = Embedding(10, 3, mask_zero=True)
    x = jnp.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    y = layer(x)
    np.testing.assert_array_equal(np.asarray(get_mask(y)),
                                  [[True, True, False, False], [True, False, False, False]])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x)), np.asarray(x) != 0)
    assert Embedding(10, 3).compute_mask(x) is None
    assert get_mask(Embedding(10, 3)(x)) is None


def test_embedding_float_indices_and_higher_rank():
    layer = Embedding(10, 3)
    y = layer(np.array([[[1.0, 4.0]]], np.float32))
    assert y.shape == (1, 1, 2, 3) and y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y[0, 0, 1]), layer.get_weights()[0][4])


def test_embedding_weights_argument_and_config():
    table = np.arange(30, dtype=np.float32).reshape(10, 3)
    layer = Embedding(10, 3, weights=table)
    np.testing.assert_array_equal(layer.get_weights()[0], table)
    np.testing.assert_array_equal(np.asarray(layer(jnp.array([[2]])))[0, 0], table[2])
    cfg = Embedding(4, 3, mask_zero=True, name="emb").get_config()
    for key in ("input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
                "embeddings_constraint", "activity_regularizer", "mask_zero", "name"):
        assert key in cfg
    assert cfg["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert Embedding.from_config(cfg).get_config() == cfg


def test_embedding_errors():
    with pytest.raises(ValueError, match="input_dim"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="output_dim"):
        Embedding(3, 2.5)
    with pytest.raises(NotImplementedError, match="lora_rank"):
        Embedding(3, 2, lora_rank=2)


def test_embedding_regularizer_adds_loss():
    layer = Embedding(10, 3, embeddings_regularizer="l2")
    layer(jnp.array([[1]]))
    assert len(layer.losses) == 1 and float(layer.losses[0]) > 0


def _masking_input():
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    x[1, 0, 0] = 0.0  # one zero feature is not a masked step
    return x


def test_masking_conformance_and_keras():
    x = _masking_input()
    check_layer(lambda: Masking(), x.shape, input_data=x, keras_oracle=True)


def test_masking_values_and_mask(keras):
    x = _masking_input()
    x[0, 2] = 5.0
    layer = Masking(mask_value=5.0)
    y = layer(x)
    np.testing.assert_array_equal(np.asarray(get_mask(y)),
                                  [[True, True, False, True], [True, True, True, True]])
    assert np.all(np.asarray(y)[0, 2] == 0.0)
    klayer = keras.layers.Masking(mask_value=5.0)
    ky = klayer(x)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(ky))
    np.testing.assert_array_equal(np.asarray(get_mask(y)), np.asarray(ky._keras_mask))
    assert Masking.from_config(layer.get_config()).mask_value == 5.0


def test_embedding_mask_reaches_next_layer_in_functional_model():
    seen = {}

    class Probe(trine.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            seen["mask"] = mask
            return inputs

    inp = trine.Input(shape=(3,), dtype="int32")
    out = Probe()(Embedding(10, 3, mask_zero=True)(inp))
    model = trine.Model(inp, out)
    model(np.array([[1, 0, 2]], np.int32))
    np.testing.assert_array_equal(np.asarray(seen["mask"]), [[True, False, True]])
