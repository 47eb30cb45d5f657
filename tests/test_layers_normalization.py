"""Normalization layers: conformance harness (Keras oracle), BatchNormalization's moving
statistics under fit (against NumPy), batch vs moving statistics, and the other norms."""
import numpy as np
import pytest

import trine
from harness import check_layer
from trine.layers.normalization import (BatchNormalization, GroupNormalization,
                                        LayerNormalization, UnitNormalization)

CASES = [
    (lambda: BatchNormalization(), (4, 5, 3)),
    (lambda: BatchNormalization(axis=1, center=False, epsilon=1e-2), (4, 3, 2, 2)),
    (lambda: LayerNormalization(), (4, 5, 3)),
    (lambda: LayerNormalization(axis=[1, 2], scale=False, epsilon=1e-5), (4, 5, 3)),
    (lambda: LayerNormalization(rms_scaling=True), (4, 5, 3)),
    (lambda: GroupNormalization(groups=2), (4, 5, 4)),
    (lambda: GroupNormalization(groups=-1, axis=1), (4, 4, 3, 2)),
    (lambda: UnitNormalization(axis=[1, 2]), (4, 5, 3)),
]

_INITS = ("gamma_initializer", "beta_initializer", "moving_mean_initializer",
          "moving_variance_initializer")


def randomized(factory, input_shape, seed=0):
    """A `make` for check_layer: the layer built, then given random weights from NumPy
    (gamma, beta and the moving statistics all non-trivial; variances positive)."""
    def make():
        layer = factory()
        layer.build((None,) + tuple(input_shape[1:]))
        rng = np.random.default_rng(seed)
        layer.set_weights([rng.uniform(0.5, 1.5, v.shape) if "variance" in v.name
                           else rng.uniform(-1, 1, v.shape) for v in layer.weights])
        return layer
    return make


@pytest.mark.parametrize("make,shape", CASES, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_and_keras_oracle(make, shape):
    check_layer(randomized(make, shape), shape, keras_oracle=True, keras_atol=1e-5)


def test_batchnorm_training_conformance():
    check_layer(lambda: BatchNormalization(), (4, 5, 3), training=True)


def _bn_numpy(x, mean, var, gamma, beta, eps):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def test_batchnorm_training_uses_batch_stats_and_updates_moving_stats():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(8, 3)) * [1.0, 2.0, 3.0] + [0.5, -1.0, 2.0]).astype(np.float32)
    bn = BatchNormalization(momentum=0.9)
    y = np.asarray(bn(x, training=True))
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, _bn_numpy(x, mean, var, 1.0, 0.0, 1e-3), rtol=1e-5, atol=1e-5)
    mm, mv = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    np.testing.assert_allclose(mm, 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * var, rtol=1e-5, atol=1e-6)
    # inference uses the moving statistics and leaves them alone
    yi = np.asarray(bn(x))
    np.testing.assert_allclose(yi, _bn_numpy(x, mm, mv, 1.0, 0.0, 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mm)
    # a frozen layer runs in inference mode even when training (Keras 3)
    bn.trainable = False
    yf = np.asarray(bn(x, training=True))
    np.testing.assert_allclose(yf, yi, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mm)


def test_batchnorm_training_matches_keras():
    pytest.importorskip("keras")
    import keras
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4, 3)).astype(np.float32)
    bn = BatchNormalization(momentum=0.8)
    kbn = keras.layers.BatchNormalization(momentum=0.8)
    y = np.asarray(bn(x, training=True))
    ky = np.asarray(kbn(x, training=True))
    np.testing.assert_allclose(y, ky, rtol=1e-5, atol=1e-5)
    for a, b in zip(bn.get_weights(), kbn.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert [w.name for w in bn.weights] == [w.name for w in kbn.weights]


def test_batchnorm_moving_stats_after_fit_follow_keras_rule():
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(32, 3)) * [1.0, 3.0, 0.5] + [2.0, -1.0, 0.0]).astype(np.float32)
    y = rng.normal(size=(32, 1)).astype(np.float32)
    bn = BatchNormalization(momentum=0.9)
    model = trine.Sequential([trine.Input(shape=(3,)), bn,
                              trine.layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    mm, mv = np.zeros(3), np.ones(3)
    for i in range(0, 32, 8):
        b = x[i:i + 8].astype(np.float64)
        mm = 0.9 * mm + 0.1 * b.mean(0)
        mv = 0.9 * mv + 0.1 * b.var(0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mm, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), mv, rtol=1e-4, atol=1e-5)
    # inference (predict) uses the moving statistics and the trained gamma/beta
    gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
    kernel, bias = model.layers[-1].get_weights()
    expected = _bn_numpy(x, mm, mv, gamma, beta, 1e-3) @ kernel + bias
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mm, rtol=1e-4, atol=1e-5)


def test_batchnorm_masked_statistics():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    bn = BatchNormalization(momentum=0.0)
    bn(x, training=True, mask=mask)
    kept = x[mask]
    np.testing.assert_allclose(bn.moving_mean.numpy(), kept.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), kept.var(0), rtol=1e-4, atol=1e-5)


def test_layer_group_unit_normalization_against_numpy():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    ln = np.asarray(LayerNormalization(epsilon=1e-5)(x))
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln, ref, rtol=1e-5, atol=1e-5)
    gn = np.asarray(GroupNormalization(groups=2, epsilon=1e-5)(x))
    g = x.reshape(2, 3, 2, 2)
    gref = ((g - g.mean((1, 3), keepdims=True)) / np.sqrt(g.var((1, 3), keepdims=True) + 1e-5))
    np.testing.assert_allclose(gn, gref.reshape(x.shape), rtol=1e-5, atol=1e-5)
    un = np.asarray(UnitNormalization()(x))
    np.testing.assert_allclose(un, x / np.linalg.norm(x, axis=-1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(UnitNormalization()(np.zeros((1, 3), np.float32))), 0)


def test_weight_shapes_and_order():
    bn = BatchNormalization(axis=1)
    bn.build((None, 3, 5))
    assert [(w.name, w.shape, w.trainable) for w in bn.weights] == [
        ("gamma", (3,), True), ("beta", (3,), True), ("moving_mean", (3,), False),
        ("moving_variance", (3,), False)]
    ln = LayerNormalization(axis=[1, 2])
    ln.build((None, 3, 5))
    assert [w.shape for w in ln.weights] == [(3, 5), (3, 5)]
    rms = LayerNormalization(rms_scaling=True)
    rms.build((None, 4))
    assert [w.name for w in rms.weights] == ["gamma"]


@pytest.mark.parametrize("make,shape,err,match", [
    (lambda: GroupNormalization(groups=3), (2, 4), ValueError, "groups=3"),
    (lambda: GroupNormalization(groups=8), (2, 4), ValueError, "groups=8"),
    (lambda: BatchNormalization(axis=3), (2, 4), ValueError, "axis 3"),
    (lambda: LayerNormalization(axis=[1, 5]), (2, 4), ValueError, "axis 5"),
])
def test_build_errors(make, shape, err, match):
    with pytest.raises(err, match=match):
        make().build(shape)


def test_invalid_arguments():
    with pytest.raises(TypeError, match="axis"):
        LayerNormalization(axis="last")
    with pytest.raises(TypeError, match="axis"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="synchronized"):
        BatchNormalization(synchronized=True)
    with pytest.raises(ValueError, match="renorm_clipping"):
        BatchNormalization(renorm=True, renorm_clipping={"rmax": 1, "bad": 2})
