"""Reshaping layers, Dot and Lambda: conformance harness (Keras oracle where Keras can build
the layer from trine's config), values, errors, and Lambda's name-only serialization."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from harness import check_layer
from trine.layers.lambda_layer import Lambda
from trine.layers.merging_extra import Dot, dot
from trine.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector,
                                    UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D,
                                    ZeroPadding2D, ZeroPadding3D)

CASES = [
    (lambda: Permute((3, 1, 2)), (2, 3, 4, 2)),
    (lambda: RepeatVector(3), (2, 4)),
    (lambda: Cropping1D((1, 2)), (2, 6, 3)),
    (lambda: Cropping2D(((1, 0), (2, 1)), data_format="channels_first"), (2, 3, 5, 6)),
    (lambda: Cropping3D(((1, 0), 1, (0, 2))), (1, 3, 4, 5, 2)),
    (lambda: ZeroPadding1D((1, 2)), (2, 6, 3)),
    (lambda: ZeroPadding2D(((1, 0), (2, 1)), data_format="channels_first"), (2, 3, 5, 6)),
    (lambda: ZeroPadding3D(1), (1, 3, 4, 5, 2)),
    (lambda: UpSampling1D(3), (2, 4, 3)),
    (lambda: UpSampling2D((2, 3)), (2, 3, 4, 2)),
    (lambda: UpSampling2D(2, interpolation="bilinear", data_format="channels_first"),
     (2, 2, 3, 4)),
    (lambda: UpSampling3D((1, 2, 2)), (1, 2, 3, 2, 2)),
    (lambda: Dot(axes=1), [(2, 4), (2, 4)]),
    (lambda: Dot(axes=(1, 2), normalize=True), [(2, 4, 3), (2, 5, 4)]),
    (lambda: Dot(axes=-1), [(2, 3, 4), (2, 4)]),
]


@pytest.mark.parametrize("make,shape", CASES, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_and_keras_oracle(make, shape):
    check_layer(make, shape, keras_oracle=True)


def test_values():
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    np.testing.assert_array_equal(np.asarray(Permute((2, 1))(x)), x.transpose(0, 2, 1))
    np.testing.assert_array_equal(np.asarray(Cropping1D(1)(x)), x[:, 1:2])
    np.testing.assert_array_equal(np.asarray(ZeroPadding1D((2, 0))(x))[:, :2], 0)
    np.testing.assert_array_equal(np.asarray(UpSampling1D(2)(x))[0, :, 0], [0, 0, 4, 4, 8, 8])
    r = np.asarray(RepeatVector(2)(x[:, 0]))
    np.testing.assert_array_equal(r, np.stack([x[:, 0], x[:, 0]], 1))
    img = np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1)
    up = np.asarray(UpSampling2D(2)(img))[0, :, :, 0]
    np.testing.assert_array_equal(up, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])


def test_output_shapes():
    x = trine.Input(shape=(None, 3))
    assert UpSampling1D(2)(x).shape == (None, None, 3)
    y = trine.Input(shape=(6, 8, 3))
    assert Cropping2D(((1, 2), (0, 3)))(y).shape == (None, 3, 5, 3)
    assert ZeroPadding2D((1, 2))(y).shape == (None, 8, 12, 3)
    assert UpSampling2D((2, 1))(y).shape == (None, 12, 8, 3)
    assert Permute((3, 1, 2))(y).shape == (None, 3, 6, 8)
    assert ZeroPadding2D(1).get_config()["padding"] == ((1, 1), (1, 1))
    assert Cropping3D(2).get_config()["cropping"] == ((2, 2), (2, 2), (2, 2))


@pytest.mark.parametrize("make,err,match", [
    (lambda: Permute((1, 3)), ValueError, "dims"),
    (lambda: RepeatVector(0), ValueError, "n"),
    (lambda: RepeatVector(2.5), TypeError, "n"),
    (lambda: Cropping2D(((1, 2, 3), 1)), ValueError, "cropping"),
    (lambda: Cropping1D(-1), ValueError, "cropping"),
    (lambda: ZeroPadding3D((1, 1)), ValueError, "padding"),
    (lambda: UpSampling2D(2, interpolation="area"), ValueError, "interpolation"),
    (lambda: UpSampling1D(0), ValueError, "size"),
    (lambda: Dot(axes="last"), TypeError, "axes"),
    (lambda: Dot(axes=(1, 2, 3)), ValueError, "axes"),
])
def test_invalid_arguments(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_cropping_too_much_names_the_layer():
    with pytest.raises(ValueError, match="'crop'"):
        Cropping1D((2, 2), name="crop")(np.ones((1, 4, 2), np.float32))


# ------------------------------------------------------------------------------- Dot
def test_dot_values_and_functional_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4)).astype(np.float32)
    b = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(Dot(1)([a, b])), (a * b).sum(1, keepdims=True),
                               rtol=1e-5)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(np.asarray(Dot(1, normalize=True)([a, b]))[:, 0], cos, rtol=1e-5)
    m = rng.normal(size=(3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(dot([m, a], axes=(2, 1))),
                               np.einsum("bij,bj->bi", m, a), rtol=1e-5)
    x1, x2 = trine.Input(shape=(5, 4)), trine.Input(shape=(6, 4))
    assert dot([x1, x2], axes=2).shape == (None, 5, 6)


def test_dot_shape_errors():
    with pytest.raises(ValueError, match="differ in size"):
        Dot(1)([np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)])
    with pytest.raises(ValueError, match="2 inputs"):
        Dot(1)(np.ones((2, 3), np.float32))


# ------------------------------------------------------------------------------- Lambda
def scale_by(x, factor=2.0):
    return x * factor


def test_lambda_conformance_with_public_function():
    layer = check_layer(lambda: Lambda(jnp.tanh), (2, 3))
    cfg = layer.get_config()
    assert cfg["function"] == {"module": "jax.numpy", "class_name": "function",
                               "config": "tanh", "registered_name": None}
    assert Lambda.from_config(cfg).function is jnp.tanh
    relu_cfg = Lambda(jax.nn.relu).get_config()["function"]
    assert (relu_cfg["module"], relu_cfg["config"]) == ("jax.nn", "relu")
    act = Lambda(trine.activations.relu).get_config()["function"]
    assert act["module"].startswith("trine") and "serializable" not in act


def test_lambda_runs_the_function_with_arguments_and_shapes():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    layer = Lambda(scale_by, arguments={"factor": 3.0})
    np.testing.assert_array_equal(np.asarray(layer(x)), 3 * x)
    inp = trine.Input(shape=(3,))
    assert Lambda(lambda t: jnp.concatenate([t, t], -1))(inp).shape == (None, 6)
    assert Lambda(lambda t: t[:, :2], output_shape=(2,))(inp).shape == (None, 2)
    model = trine.Model(inp, Lambda(lambda t, training=None: t + (1.0 if training else 0.0))(inp))
    np.testing.assert_array_equal(np.asarray(model(x)), x)
    y, _ = model.stateless_call({}, {}, x, training=True)
    np.testing.assert_array_equal(np.asarray(y), x + 1)


def test_lambda_mask():
    x = np.ones((2, 3), np.float32)
    layer = Lambda(lambda t: t, mask=lambda t, m: t > 0)
    assert layer.supports_masking
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x)), x > 0)
    assert Lambda(jnp.tanh).compute_mask(x, np.ones((2, 3), bool)) is None


def test_lambda_python_lambda_is_marked_not_serializable():
    layer = Lambda(lambda t: t * 2)
    cfg = layer.get_config()
    assert cfg["function"]["class_name"] == "__lambda__"
    assert cfg["function"]["serializable"] is False
    assert cfg["function"]["config"]["code"] is None  # no bytecode is ever stored
    assert not layer.function_serializable
    with pytest.raises(ValueError, match="lambda"):
        Lambda.from_config(cfg)
    named = Lambda(scale_by)
    ncfg = named.get_config()
    assert ncfg["function"]["config"] == "scale_by" and ncfg["function"]["serializable"] is False
    assert not named.function_serializable
    with pytest.raises(ValueError, match="custom_objects"):
        Lambda.from_config(ncfg)
    rebuilt = Lambda.from_config(ncfg, custom_objects={"scale_by": scale_by})
    assert rebuilt.function is scale_by
    assert Lambda(jnp.tanh).function_serializable


def test_lambda_config_never_imports_arbitrary_modules():
    cfg = Lambda(jnp.tanh).get_config()
    cfg["function"] = {"module": "os", "class_name": "function", "config": "getcwd",
                       "registered_name": None}
    with pytest.raises(ValueError, match="getcwd"):
        Lambda.from_config(cfg)


def test_lambda_rejects_non_callables():
    with pytest.raises(TypeError, match="callable"):
        Lambda(3)
