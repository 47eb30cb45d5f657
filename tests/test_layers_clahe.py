"""ContrastLimitedAdaptiveHistogramEqualization (issue 23): Keras's numbers, harness, errors."""
import numpy as np
import pytest

from harness import check_layer
from trine import layers as L

CASES = [
    ({"tile_grid_size": (2, 3)}, (2, 10, 12, 3), 255),
    ({}, (1, 16, 16, 1), 255),
    ({"clip_limit": 0, "tile_grid_size": (3, 2)}, (2, 9, 7, 2), 255),
    ({"value_range": (0, 1), "clip_limit": 2.0, "tile_grid_size": (2, 2)}, (8, 8, 3), 1),
    ({"data_format": "channels_first", "tile_grid_size": (4, 4)}, (2, 3, 9, 7), 255),
]


@pytest.mark.parametrize("kwargs,shape,scale", CASES)
def test_equals_keras_in_training_and_inference(kwargs, shape, scale):
    import keras
    x = (np.random.default_rng(0).random(shape) * scale).astype("float32")
    t = L.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)
    k = keras.layers.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)
    np.testing.assert_allclose(t(x), k(x), atol=1e-4)
    np.testing.assert_allclose(t(x, training=True), k(x, training=True), atol=1e-4)


def test_conformance_harness():
    data = (np.random.default_rng(1).random((2, 8, 8, 3)) * 255).astype("float32")
    check_layer(lambda: L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2)),
                (2, 8, 8, 3), input_data=data, check_grads=False, check_mixed=False)


def test_flat_image_is_unchanged_and_contrast_grows():
    flat = np.full((1, 8, 8, 1), 100.0, "float32")
    layer = L.ContrastLimitedAdaptiveHistogramEqualization(tile_grid_size=(2, 2))
    assert np.all(np.isfinite(layer(flat)))
    low = (np.random.default_rng(2).random((1, 16, 16, 1)) * 20 + 100).astype("float32")
    assert np.std(layer(low)) > np.std(low)


@pytest.mark.parametrize("kwargs,match", [
    ({"tile_grid_size": (0, 2)}, "tile_grid_size"),
    ({"tile_grid_size": 4}, "tile_grid_size"),
    ({"clip_limit": "high"}, "clip_limit"),
    ({"value_range": (0, 1, 2)}, "value_range"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.ContrastLimitedAdaptiveHistogramEqualization(**kwargs)
