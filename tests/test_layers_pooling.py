"""Pooling layers: conformance harness (Keras oracle), "same" average excludes padding,
global pooling with keepdims and masks."""
import jax
import numpy as np
import pytest

import trine
from harness import check_layer
from trine.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                                  GlobalAveragePooling1D, GlobalAveragePooling2D,
                                  GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                  GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)

CASES = [
    (lambda: MaxPooling1D(3, strides=1, padding="same", data_format="channels_first"),
     (2, 3, 9)),
    (lambda: AveragePooling1D(2), (2, 9, 3)),
    (lambda: MaxPooling2D((3, 2), strides=2, padding="same"), (2, 7, 6, 3)),
    (lambda: MaxPooling3D(2, data_format="channels_first"), (1, 2, 4, 5, 4)),
    (lambda: AveragePooling2D(3, strides=2, padding="same", data_format="channels_first"),
     (2, 3, 7, 6)),
    (lambda: AveragePooling3D(2, padding="same"), (1, 3, 4, 5, 2)),
    (lambda: GlobalMaxPooling1D(), (2, 9, 3)),
    (lambda: GlobalMaxPooling2D(keepdims=True, data_format="channels_first"), (2, 3, 7, 6)),
    (lambda: GlobalMaxPooling3D(), (1, 3, 4, 5, 2)),
    (lambda: GlobalAveragePooling1D(keepdims=True), (2, 9, 3)),
    (lambda: GlobalAveragePooling2D(), (2, 7, 6, 3)),
    (lambda: GlobalAveragePooling3D(data_format="channels_first", keepdims=True),
     (1, 2, 4, 5, 4)),
]


@pytest.mark.parametrize("make,shape", CASES, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_and_keras_oracle(make, shape):
    check_layer(make, shape, keras_oracle=True)


def test_same_average_excludes_padding():
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1)
    y = np.asarray(AveragePooling1D(2, strides=2, padding="same")(x))[0, :, 0]
    # windows [1, 2], [3, 4], [5] (the padded position is not counted)
    np.testing.assert_allclose(y, [1.5, 3.5, 5.0])
    m = np.asarray(MaxPooling1D(2, padding="same")(-x))[0, :, 0]
    np.testing.assert_allclose(m, [-1.0, -3.0, -5.0])  # padding never wins a max


def test_output_shapes():
    x = trine.Input(shape=(9, 7, 3))
    assert MaxPooling2D()(x).shape == (None, 4, 3, 3)
    assert MaxPooling2D(padding="same")(x).shape == (None, 5, 4, 3)
    assert AveragePooling2D(3, strides=1)(x).shape == (None, 7, 5, 3)
    assert GlobalAveragePooling2D()(x).shape == (None, 3)
    assert GlobalMaxPooling2D(keepdims=True)(x).shape == (None, 1, 1, 3)
    assert MaxPooling2D().compute_output_shape((None, 9, 7, 3)) == (None, 4, 3, 3)
    assert MaxPooling2D().get_config()["strides"] == (2, 2)


def test_global_average_pooling_1d_respects_mask():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
    y = np.asarray(GlobalAveragePooling1D()(x, mask=mask))
    expected = np.stack([x[i][mask[i]].mean(0) for i in range(2)])
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    yk = np.asarray(GlobalAveragePooling1D(keepdims=True)(x, mask=mask))
    np.testing.assert_allclose(yk[:, 0], expected, rtol=1e-6, atol=1e-6)
    xf = np.transpose(x, (0, 2, 1))
    yf = np.asarray(GlobalAveragePooling1D(data_format="channels_first")(xf, mask=mask))
    np.testing.assert_allclose(yf, expected, rtol=1e-6, atol=1e-6)


def test_global_average_pooling_1d_uses_the_mask_of_an_embedding():
    embedding = pytest.importorskip("trine.layers.embedding")
    inp = trine.Input(shape=(4,), dtype="int32")
    emb = embedding.Embedding(6, 2, mask_zero=True)
    model = trine.Model(inp, GlobalAveragePooling1D()(emb(inp)))
    table = np.arange(12, dtype=np.float32).reshape(6, 2)
    emb.set_weights([table])
    x = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
    expected = np.stack([table[[1, 2]].mean(0), table[3]])
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6)
    y, _ = jax.jit(lambda p, s, v: model.stateless_call(p, s, v))(model.get_params(),
                                                                   model.get_state(), x)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-6)


@pytest.mark.parametrize("make,match", [
    (lambda: MaxPooling2D(0), "pool_size"),
    (lambda: MaxPooling2D(2, padding="causal"), "padding"),
    (lambda: AveragePooling1D((2, 2)), "pool_size"),
    (lambda: GlobalMaxPooling2D(data_format="NCHW"), "data_format"),
])
def test_invalid_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_rank_and_size_errors_name_the_layer():
    with pytest.raises(ValueError, match="'pool'.*rank 4"):
        MaxPooling2D(name="pool")(np.ones((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match="'tiny'.*pool_size"):
        MaxPooling2D(3, name="tiny")(np.ones((1, 2, 2, 1), np.float32))


def test_pooling_is_differentiable_under_jit():
    import jax.numpy as jnp
    x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    for layer in (MaxPooling2D(), AveragePooling2D(2, padding="same")):
        g = jax.jit(jax.grad(lambda v: jnp.sum(layer(v))))(x)
        assert np.all(np.isfinite(np.asarray(g)))
    g = np.asarray(jax.jit(jax.grad(lambda v: jnp.sum(MaxPooling2D()(v))))(x))[0, :, :, 0]
    np.testing.assert_array_equal(g, [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]])
