"""AugMix (issue 23): Keras's arguments and config, training-only mixing inside value_range,
jit through a model's pure seam, errors. (Keras picks its chains with Python's `random`, so
its outputs cannot be matched draw for draw.)"""
import jax
import numpy as np
import pytest

import trine
from trine import layers as L

X = (np.random.default_rng(0).random((2, 12, 12, 3)) * 255).astype("float32")


def test_training_mixes_and_inference_is_identity():
    layer = L.AugMix(seed=1)
    np.testing.assert_array_equal(layer(X), X)
    y = np.asarray(layer(X, training=True))
    assert y.shape == X.shape and not np.allclose(y, X)
    assert y.min() >= 0 and y.max() <= 255


def test_channels_first_unit_range_and_subset_of_ops():
    layer = L.AugMix(value_range=(0, 1), num_chains=2, chain_depth=1, all_ops=False,
                     data_format="channels_first", seed=2)
    assert len(layer._ops) == 7
    y = np.asarray(layer(X.transpose(0, 3, 1, 2) / 255.0, training=True))
    assert y.shape == (2, 3, 12, 12) and y.min() >= 0 and y.max() <= 1


def test_jit_through_stateless_call_is_deterministic_per_key():
    inp = trine.Input((12, 12, 3))
    model = trine.Model(inp, L.AugMix(seed=3)(inp))
    fn = jax.jit(lambda x, k: model.stateless_call(model.get_params(), model.get_state(), x,
                                                    training=True, rng=k)[0])
    a, b = fn(X, jax.random.key(0)), fn(X, jax.random.key(0))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, fn(X, jax.random.key(1)))


def test_config_equals_keras_and_round_trips():
    import keras
    t, k = L.AugMix(factor=0.5, alpha=0.7, num_chains=2), keras.layers.AugMix(
        factor=0.5, alpha=0.7, num_chains=2)
    tc, kc = t.get_config(), k.get_config()
    assert set(tc) == set(kc)
    for key in ("num_chains", "chain_depth", "alpha", "all_ops", "interpolation"):
        assert tc[key] == kc[key]
    assert tuple(tc["factor"]) == tuple(kc["factor"])
    assert L.AugMix.from_config(tc).get_config() == tc


@pytest.mark.parametrize("kwargs,match", [
    ({"num_chains": 0}, "num_chains"), ({"chain_depth": 1.5}, "chain_depth"),
    ({"alpha": 0}, "alpha"), ({"factor": 2.0}, "factor"),
    ({"value_range": (0, 1, 2)}, "value_range")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.AugMix(**kwargs)
