"""RandomElasticTransform (issue 23): the displacement maths equal trine.ops_image's
elastic_transform (the op Keras's layer calls) for a pinned draw; training-only; jit; config."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import check_layer
from trine import layers as L
from trine.ops_image import elastic_transform

X = (np.random.default_rng(0).random((2, 16, 20, 3)) * 255).astype("float32")


@pytest.mark.parametrize("kw", [{}, {"interpolation": "nearest", "fill_mode": "constant",
                                     "fill_value": 7.0}])
def test_pinned_draw_equals_the_elastic_transform_op(kw):
    layer = L.RandomElasticTransform(scale=0.5, **kw)
    draw = {"apply_transform": jnp.array([True, False]),
            "distortion_factor": jnp.float32(0.4), "field_key": jax.random.key(3)}
    out = np.asarray(layer._apply(X, draw))
    ref = elastic_transform(X, alpha=20 * 0.1 * 0.4, sigma=16 * 0.05 * 0.4,
                            seed=jax.random.key(3), **kw)
    np.testing.assert_allclose(out[0], np.clip(np.asarray(ref[0]), 0, 255), atol=1e-3)
    np.testing.assert_array_equal(out[1], X[1])


def test_training_only_and_always_with_factor_one():
    layer = L.RandomElasticTransform(factor=(1.0, 1.0), seed=2)
    np.testing.assert_array_equal(layer(X), X)
    y = np.asarray(layer(X, training=True))
    assert y.shape == X.shape and not np.allclose(y, X)
    assert y.min() >= 0 and y.max() <= 255
    np.testing.assert_array_equal(L.RandomElasticTransform(factor=0.0)(X, training=True), X)


def test_jit_draws_inside_fit_shapes():
    layer = L.RandomElasticTransform(factor=(1.0, 1.0), scale=(0.2, 0.8), seed=1)
    fn = jax.jit(lambda x, k: layer._apply(x, layer._draw(k, x)))
    y = fn(X, jax.random.key(0))
    assert y.shape == X.shape and np.all(np.isfinite(y))


def test_conformance_harness():
    check_layer(lambda: L.RandomElasticTransform(seed=1), (2, 8, 8, 3), input_data=X[:, :8, :8],
                check_grads=False, check_mixed=False)


def test_config_matches_keras_keys():
    import keras
    t = L.RandomElasticTransform(factor=0.5, scale=(0.1, 0.3), seed=4)
    k = keras.layers.RandomElasticTransform(factor=0.5, scale=(0.1, 0.3), seed=4)
    assert set(t.get_config()) == set(k.get_config())
    assert tuple(t.get_config()["scale"]) == tuple(k.get_config()["scale"])


@pytest.mark.parametrize("kwargs,exc", [
    ({"factor": 2.0}, ValueError), ({"scale": -0.5}, ValueError),
    ({"interpolation": "cubic"}, NotImplementedError),
    ({"fill_mode": "edge"}, NotImplementedError)])
def test_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        L.RandomElasticTransform(**kwargs)
