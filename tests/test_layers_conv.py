"""Convolution layers: conformance harness (Keras oracle), kernel layouts, errors, the `_conv`
seam, and a small CNN that trains."""
import numpy as np
import pytest

import trine
from harness import check_layer
from trine.ops import convolution as conv_maths
from trine.layers import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D,
                          Conv3DTranspose, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
                          SeparableConv2D)
from trine.layers.pooling import MaxPooling2D

ATOL = 1e-4

# Few configurations, each covering several features at once (compiles dominate the time).
CASES = [
    # (constructor, input shape)
    (lambda: Conv1D(4, 3, padding="causal", dilation_rate=2, groups=2), (2, 9, 4)),
    (lambda: Conv2D(4, 3, padding="same", activation="relu"), (2, 6, 6, 4)),
    (lambda: Conv2D(4, (3, 2), strides=(2, 1), groups=2, data_format="channels_first",
                    use_bias=False), (2, 4, 7, 6)),
    (lambda: Conv3D(2, 2, strides=2, padding="same"), (1, 5, 4, 3, 2)),
    (lambda: Conv1DTranspose(3, 3, strides=2, padding="same"), (2, 5, 4)),
    (lambda: Conv2DTranspose(3, 3, strides=2, output_padding=1), (2, 4, 5, 2)),
    (lambda: Conv2DTranspose(3, 3, padding="same", dilation_rate=2,
                             data_format="channels_first"), (2, 2, 4, 5)),
    (lambda: Conv3DTranspose(2, 2, strides=2, padding="same"), (1, 3, 2, 3, 2)),
    (lambda: DepthwiseConv1D(3, strides=2, padding="same", depth_multiplier=2,
                             data_format="channels_first"), (2, 4, 9)),
    (lambda: DepthwiseConv2D(3, strides=2, data_format="channels_first"), (2, 4, 7, 6)),
    (lambda: SeparableConv1D(4, 3, padding="same", depth_multiplier=2), (2, 9, 4)),
    (lambda: SeparableConv2D(4, 3, dilation_rate=2, activation="relu"), (2, 6, 6, 4)),
]


def randomized(factory, input_shape, seed=0):
    """A `make` for check_layer: the layer built with "zeros" initializers, then given random
    weights from NumPy. (Each random initializer compiles one XLA program per weight shape,
    which would dominate the run time of these tests; the values are what matters here.)"""
    def make():
        layer = factory()
        for attr in ("kernel_initializer", "bias_initializer", "pointwise_initializer"):
            if hasattr(layer, attr):
                setattr(layer, attr, trine.initializers.get("zeros"))
        layer.build((None,) + tuple(input_shape[1:]))
        rng = np.random.default_rng(seed)
        layer.set_weights([rng.uniform(-1, 1, w.shape) for w in layer.get_weights()])
        return layer
    return make


@pytest.mark.parametrize("make,shape", CASES, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_and_keras_oracle(make, shape):
    check_layer(randomized(make, shape), shape, keras_oracle=True, keras_atol=ATOL, rtol=ATOL,
                atol=ATOL)


def test_kernel_layouts_are_keras_layouts():
    """Weight shapes and names in Keras's order (the harness's oracle then loads them)."""
    z = dict(kernel_initializer="zeros")
    cases = [
        (Conv2D(5, (3, 2), **z), (1, 6, 6, 4), [("kernel", (3, 2, 4, 5)), ("bias", (5,))]),
        (Conv1D(6, 3, groups=2, **z), (1, 6, 4), [("kernel", (3, 2, 6)), ("bias", (6,))]),
        (Conv2DTranspose(5, 3, **z), (1, 4, 4, 2), [("kernel", (3, 3, 5, 2)), ("bias", (5,))]),
        (DepthwiseConv2D(3, depth_multiplier=2, depthwise_initializer="zeros"), (1, 5, 5, 3),
         [("kernel", (3, 3, 3, 2)), ("bias", (6,))]),
        (SeparableConv1D(4, 3, depth_multiplier=2, depthwise_initializer="zeros",
                         pointwise_initializer="zeros"), (1, 6, 3),
         [("depthwise_kernel", (3, 3, 2)), ("pointwise_kernel", (1, 6, 4)), ("bias", (4,))]),
    ]
    for layer, shape, expected in cases:
        layer.build(shape)
        assert [(w.name, w.shape) for w in layer.weights] == expected


def test_matches_numpy_cross_correlation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 5, 2)).astype("float32")
    layer = Conv1D(1, 2, use_bias=False, kernel_initializer="zeros")
    layer(x)
    w = rng.normal(size=(2, 2, 1)).astype("float32")
    layer.set_weights([w])
    expected = np.array([[sum(x[0, t + i] @ w[i] for i in range(2)) for t in range(4)]])
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-5)


def test_causal_output_does_not_see_the_future():
    x = np.zeros((1, 8, 1), np.float32)
    layer = Conv1D(1, 3, padding="causal", dilation_rate=2, kernel_initializer="ones")
    y0 = np.asarray(layer(x))
    x[0, 5, 0] = 1.0
    y1 = np.asarray(layer(x))
    changed = np.nonzero(np.abs(y1 - y0)[0, :, 0] > 0)[0]
    assert changed.min() == 5 and list(changed) == [5, 7]


def test_all_convolutions_go_through_one_helper(monkeypatch):
    calls = []
    real = conv_maths.convolve

    def spy(*a, **k):
        calls.append(type(a[0]))
        return real(*a, **k)

    monkeypatch.setattr(conv_maths, "convolve", spy)
    for make, shape in CASES[1:2] + CASES[5:6] + CASES[8:9] + CASES[10:11]:
        before = len(calls)
        randomized(make, shape)()(np.ones(shape, np.float32))
        assert len(calls) > before


def test_symbolic_output_shapes():
    z = dict(kernel_initializer="zeros")
    x = trine.Input(shape=(None, 3))
    assert Conv1D(4, 3, strides=2, padding="same", **z)(x).shape == (None, None, 4)
    y = trine.Input(shape=(8, 8, 3))
    assert Conv2D(4, 3, strides=2, **z)(y).shape == (None, 3, 3, 4)
    assert Conv2DTranspose(4, 3, strides=2, padding="same", **z)(y).shape == (None, 16, 16, 4)
    assert DepthwiseConv2D(3, depth_multiplier=3, depthwise_initializer="zeros")(y).shape == (
        None, 6, 6, 9)
    assert Conv2D(4, 3).compute_output_shape((None, 8, 8, 3)) == (None, 6, 6, 4)
    assert Conv1DTranspose(2, 3, strides=2).compute_output_shape((None, 5, 3)) == (None, 11, 2)


@pytest.mark.parametrize("make,match", [
    (lambda: Conv2D(0, 3), "filters"),
    (lambda: Conv2D(4, 0), "kernel_size"),
    (lambda: Conv2D(4, (3, 3, 3)), "kernel_size"),
    (lambda: Conv2D(4, 3, padding="causal"), "padding"),
    (lambda: Conv1D(4, 3, padding="full"), "padding"),
    (lambda: Conv2D(4, 3, data_format="NHWC"), "data_format"),
    (lambda: Conv2D(4, 3, strides=2, dilation_rate=2), "dilation_rate"),
    (lambda: Conv2D(5, 3, groups=2), "groups"),
    (lambda: Conv2DTranspose(4, 3, strides=2, output_padding=2), "output_padding"),
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
])
def test_invalid_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_build_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"conv2d.*divisible by groups=2"):
        Conv2D(4, 3, groups=2, name="conv2d")(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"'small'.*too small"):
        Conv2D(4, 5, name="small")(np.ones((1, 3, 3, 1), np.float32))
    layer = Conv2D(4, 3, name="fixed", kernel_initializer="zeros")
    layer(np.ones((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="fixed"):
        layer(np.ones((1, 5, 5, 2), np.float32))


def test_small_cnn_compiles_and_fits():
    trine.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((512, 10, 10, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=(512,))
    model = trine.Sequential([
        trine.Input(shape=(10, 10, 1)),
        Conv2D(32, 3, activation="relu"),
        MaxPooling2D(),
        Conv2D(64, 3, activation="relu"),
        MaxPooling2D(),
        trine.layers.Flatten(),
        trine.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    kernel0 = model.layers[0].get_weights()[0]
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert 0.0 <= history.history["accuracy"][-1] <= 1.0
    assert [w.shape for w in model.layers[2].get_weights()] == [(3, 3, 32, 64), (64,)]
    assert not np.allclose(model.layers[0].get_weights()[0], kernel0)  # the kernels trained
