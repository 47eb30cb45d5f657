"""trine.ops.image against keras.ops.image (Keras on its JAX backend as the oracle)."""
import numpy as np
import pytest

import trine
from trine import ops

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
IMG = RNG.random((2, 12, 14, 3)).astype("float32")
IMG_CF = np.transpose(IMG, (0, 3, 1, 2)).copy()
TRANSFORM = np.array([[1.1, 0.2, -1.5, -0.1, 0.9, 2.0, 0.0, 0.0],
                      [0.8, 0.0, 1.0, 0.1, 1.2, -0.5, 0.0, 0.0]], "float32")
START = np.array([[0, 0], [13, 0], [0, 11], [13, 11]], "float32")
END = np.array([[1, 2], [12, 0], [0, 10], [13, 11]], "float32")
STARTS, ENDS = np.stack([START, START + 0.5]), np.stack([END, END[::-1]])

# (name, args, kwargs): each runs on trine.ops.image and keras.ops.image alike
CASES = [
    ("rgb_to_hsv", (IMG,), {}),
    ("rgb_to_hsv", (IMG_CF,), {"data_format": "channels_first"}),
    ("hsv_to_rgb", (IMG,), {}),
    ("hsv_to_rgb", (IMG[0],), {}),
    ("crop_images", (IMG,), {"top_cropping": 2, "left_cropping": 3, "target_height": 5,
                             "target_width": 6}),
    ("crop_images", (IMG_CF[0],), {"bottom_cropping": 1, "right_cropping": 2,
                                   "top_cropping": 3, "left_cropping": 1,
                                   "data_format": "channels_first"}),
    ("pad_images", (IMG,), {"top_padding": 2, "left_padding": 1, "target_height": 16,
                            "target_width": 20}),
    ("pad_images", (IMG_CF,), {"bottom_padding": 2, "right_padding": 1, "target_height": 15,
                               "target_width": 16, "data_format": "channels_first"}),
    ("extract_patches", (IMG,), {"size": 3}),
    ("extract_patches", (IMG,), {"size": (3, 2), "strides": (2, 1), "padding": "same"}),
    ("extract_patches", (IMG[0],), {"size": (2, 2), "dilation_rate": 2, "strides": 1}),
    ("extract_patches", (IMG_CF,), {"size": 4, "data_format": "channels_first"}),
    ("extract_patches_3d", (RNG.random((1, 6, 6, 6, 2)).astype("float32"),), {"size": 2}),
    ("extract_patches_3d", (RNG.random((6, 5, 4, 2)).astype("float32"),),
     {"size": (2, 3, 2), "strides": 1}),
    ("affine_transform", (IMG, TRANSFORM), {}),
    ("affine_transform", (IMG[0], TRANSFORM[0]), {"interpolation": "nearest",
                                                  "fill_mode": "reflect"}),
    ("affine_transform", (IMG_CF, TRANSFORM), {"fill_mode": "wrap", "fill_value": 0.5,
                                               "data_format": "channels_first"}),
    ("affine_transform", (IMG, TRANSFORM), {"fill_mode": "constant", "fill_value": 0.3}),
    ("perspective_transform", (IMG, STARTS, ENDS), {}),
    ("perspective_transform", (IMG[0], START, END), {"interpolation": "nearest",
                                                     "fill_value": 0.2}),
    ("perspective_transform", (IMG_CF, STARTS, ENDS), {"data_format": "channels_first"}),
    ("gaussian_blur", (IMG,), {"kernel_size": (5, 3), "sigma": (1.5, 0.7),
                               "data_format": "channels_last"}),
    ("gaussian_blur", (IMG_CF[0],), {"data_format": "channels_first"}),
    ("sobel_edges", (IMG,), {}),
    ("sobel_edges", (IMG_CF,), {"data_format": "channels_first"}),
    ("scale_and_translate", (IMG,), {"output_shape": (2, 20, 9, 3), "scale": [1.6, 0.6],
                                     "translation": [0.5, -1.0], "spatial_dims": (1, 2),
                                     "method": "bilinear"}),
    ("scale_and_translate", (IMG,), {"output_shape": (2, 6, 7, 3), "scale": [0.5, 0.5],
                                     "translation": [0.0, 0.0], "spatial_dims": (1, 2),
                                     "method": "lanczos3", "antialias": False}),
    ("ssim", (IMG, np.clip(IMG + 0.1 * RNG.standard_normal(IMG.shape), 0, 1).astype(
        "float32")), {"filter_size": 5}),
    ("ssim", (IMG_CF[0], IMG_CF[1]), {"max_val": 2.0, "filter_size": 3, "filter_sigma": 0.8,
                                      "data_format": "channels_first"}),
    ("elastic_transform", (IMG,), {"seed": 3, "sigma": 2.0, "alpha": 4.0}),
    ("elastic_transform", (IMG_CF,), {"seed": 7, "interpolation": "nearest",
                                      "fill_mode": "constant", "fill_value": 0.5,
                                      "data_format": "channels_first"}),
    ("resize", (IMG, (7, 9)), {}),
    ("rgb_to_grayscale", (IMG,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_keras(name, args, kwargs):
    got = np.asarray(getattr(ops.image, name)(*args, **kwargs))
    want = np.asarray(getattr(keras.ops.image, name)(*args, **kwargs))
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_every_keras_image_op_exists():
    names = [n for n in dir(keras.ops.image) if not n.startswith("_")]
    assert [n for n in names if not hasattr(ops.image, n)] == []


def test_hsv_round_trip_and_integer_error():
    np.testing.assert_allclose(ops.image.hsv_to_rgb(ops.image.rgb_to_hsv(IMG)), IMG, atol=1e-5)
    with pytest.raises(ValueError, match="expected float images"):
        ops.image.rgb_to_hsv(IMG.astype("int32"))


def test_global_data_format_is_read():
    trine.config.set_image_data_format("channels_first")
    try:
        got = ops.image.extract_patches(IMG_CF, 2)
    finally:
        trine.config.set_image_data_format("channels_last")
    want = keras.ops.image.extract_patches(IMG_CF, 2, data_format="channels_first")
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="exactly two of top_cropping"):
        ops.image.crop_images(IMG, top_cropping=1, left_cropping=1, target_width=3)
    with pytest.raises(ValueError, match="top_padding must be >= 0"):
        ops.image.pad_images(IMG, bottom_padding=0, left_padding=0, right_padding=0,
                             target_height=5)
    with pytest.raises(ValueError, match="`interpolation` must be one of"):
        ops.image.affine_transform(IMG, TRANSFORM, interpolation="cubic")
    with pytest.raises(ValueError, match="`transform` of shape"):
        ops.image.affine_transform(IMG, TRANSFORM[:, :6])
    with pytest.raises(ValueError, match="`size` must be an int or a tuple of 2"):
        ops.image.extract_patches(IMG, (1, 2, 3, 4))
    with pytest.raises(ValueError, match="rank 3 or 4"):
        ops.image.sobel_edges(IMG[0, 0])


def test_symbolic_call_builds_a_graph_node():
    inp = trine.Input((12, 14, 3))
    out = ops.image.extract_patches(ops.image.rgb_to_hsv(inp), 2)
    model = trine.Model(inp, out)
    want = keras.ops.image.extract_patches(keras.ops.image.rgb_to_hsv(IMG), 2)
    np.testing.assert_allclose(model.predict(IMG, verbose=0), want, atol=1e-5)
