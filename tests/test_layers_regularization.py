"""Regularization layers: conformance harness (Keras oracle in inference), the statistics of
their noise in training, reproducibility, and ActivityRegularization's added loss."""
import jax
import numpy as np
import pytest

import trine
from harness import check_layer
from trine.layers.regularization import (ActivityRegularization, AlphaDropout, GaussianDropout,
                                         GaussianNoise, SpatialDropout1D, SpatialDropout2D,
                                         SpatialDropout3D)

CASES = [
    (lambda: SpatialDropout1D(0.3), (2, 5, 4)),
    (lambda: SpatialDropout2D(0.3, data_format="channels_first"), (2, 4, 3, 3)),
    (lambda: SpatialDropout3D(0.3, seed=3), (1, 2, 3, 2, 4)),
    (lambda: GaussianNoise(0.2, seed=1), (2, 5, 4)),
    (lambda: GaussianDropout(0.3), (2, 5, 4)),
    (lambda: AlphaDropout(0.2, noise_shape=(None, 1, 4)), (2, 5, 4)),
    (lambda: ActivityRegularization(l1=0.01, l2=0.02), (2, 5, 4)),
]


@pytest.mark.parametrize("make,shape", CASES, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_and_keras_oracle(make, shape):
    check_layer(make, shape, keras_oracle=True)  # inference: the identity, as Keras


# Training mode draws random numbers; each new noise shape compiles a random program, so the
# training checks and the statistics below share their shapes.
TRAINING = [
    (lambda: SpatialDropout2D(0.25), (64, 3, 3, 8)),
    (lambda: GaussianNoise(0.5), (200, 100)),
    (lambda: AlphaDropout(0.2), (200, 100)),
]


@pytest.mark.parametrize("make,shape", TRAINING, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_in_training(make, shape):
    check_layer(make, shape, training=True)  # jitted training calls are deterministic per key


def test_spatial_dropout_drops_whole_channels():
    y = np.asarray(SpatialDropout2D(0.25)(np.ones((64, 3, 3, 8), np.float32), training=True))
    per_map = y.reshape(64, 9, 8)
    assert np.all(per_map.min(1) == per_map.max(1))  # each feature map all kept or all dropped
    np.testing.assert_allclose(np.unique(y), [0.0, 4 / 3], rtol=1e-6)
    assert 0.65 < (per_map[:, 0] > 0).mean() < 0.85  # keeps 1 - rate of the channels
    yf = np.asarray(SpatialDropout2D(0.5, data_format="channels_first")(
        np.ones((2, 4, 3, 3), np.float32), training=True)).reshape(2, 4, 9)
    assert np.all(yf.min(2) == yf.max(2))
    y1 = np.asarray(SpatialDropout1D(0.5)(np.ones((2, 5, 4), np.float32), training=True))
    assert np.all(y1.min(1) == y1.max(1))


def test_noise_statistics():
    x = np.ones((200, 100), np.float32)
    noise = np.asarray(GaussianNoise(0.5)(x, training=True)) - 1.0
    assert abs(noise.mean()) < 0.02 and abs(noise.std() - 0.5) < 0.02
    mult = np.asarray(GaussianDropout(0.2)(x, training=True))
    assert abs(mult.mean() - 1.0) < 0.02 and abs(mult.std() - np.sqrt(0.2 / 0.8)) < 0.02
    z = np.random.default_rng(0).normal(size=(200, 100)).astype(np.float32)
    a = np.asarray(AlphaDropout(0.2)(z, training=True))
    assert abs(a.mean()) < 0.05 and abs(a.std() - 1.0) < 0.05  # self-normalizing
    assert not np.allclose(a, z)
    rows = np.asarray(AlphaDropout(0.5, noise_shape=(None, 1))(z[:, :4], training=True))
    dropped = np.isclose(rows, rows[:, :1]).all(1)  # a dropped row is one constant value
    assert 0.3 < dropped.mean() < 0.7


def test_inference_is_identity_and_seeded_layers_repeat():
    x = np.random.default_rng(1).normal(size=(200, 100)).astype(np.float32)
    for layer in (GaussianNoise(0.3), GaussianDropout(0.3), AlphaDropout(0.3),
                  SpatialDropout1D(0.3)):
        xx = x[:, :, None] if isinstance(layer, SpatialDropout1D) else x
        np.testing.assert_array_equal(np.asarray(layer(xx)), xx)
        np.testing.assert_array_equal(np.asarray(layer(xx, training=False)), xx)
    a = np.asarray(GaussianNoise(0.3, seed=7)(x, training=True))
    b = np.asarray(GaussianNoise(0.3, seed=7)(x, training=True))
    np.testing.assert_array_equal(a, b)
    layer = GaussianNoise(0.3, seed=7)
    inp = trine.Input(shape=(100,))
    model = trine.Model(inp, layer(inp))
    f = jax.jit(lambda x, k: model.stateless_call({}, {}, x, training=True, rng=k)[0])
    r1, r2 = np.asarray(f(x, jax.random.key(0))), np.asarray(f(x, jax.random.key(1)))
    np.testing.assert_array_equal(r1, np.asarray(f(x, jax.random.key(0))))
    assert not np.allclose(r1, r2)


def test_activity_regularization_adds_the_penalty():
    x = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    layer = ActivityRegularization(l1=0.1, l2=0.01)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    expected = (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 2
    np.testing.assert_allclose(float(layer.losses[-1]), expected, rtol=1e-6)
    inp = trine.Input(shape=(2,))
    model = trine.Model(inp, ActivityRegularization(l1=0.1, l2=0.01)(inp))
    _, _, losses = model.stateless_call({}, {}, x, return_losses=True)
    np.testing.assert_allclose(float(sum(losses)), expected, rtol=1e-6)
    cfg = layer.get_config()
    assert cfg["l1"] == 0.1 and cfg["l2"] == 0.01 and "activity_regularizer" not in cfg


def test_spatial_dropout_config_has_keras_keys():
    assert set(SpatialDropout1D(0.2).get_config()) == {"rate", "seed", "name", "dtype"}
    assert SpatialDropout2D(0.2).get_config()["data_format"] == "channels_last"


@pytest.mark.parametrize("make,match", [
    (lambda: SpatialDropout1D(1.0), "rate"),
    (lambda: GaussianNoise(-0.1), "stddev"),
    (lambda: GaussianDropout(1.5), "rate"),
    (lambda: AlphaDropout("a"), "rate"),
    (lambda: ActivityRegularization(l1=-1.0), "l1"),
    (lambda: SpatialDropout2D(0.1, data_format="nhwc"), "data_format"),
])
def test_invalid_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_rank_is_checked():
    with pytest.raises(ValueError, match="'sd'.*rank 4"):
        SpatialDropout2D(0.1, name="sd")(np.ones((2, 3, 4), np.float32))
