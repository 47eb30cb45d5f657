"""MobileNetV2 (Keras `keras.applications.mobilenet_v2`).

Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (CVPR 2018). Layer
names follow Keras's, so Keras's published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_SIZES = (96, 128, 160, 192, 224)
_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
# (filters, stride, expansion) of blocks 0..16
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
           (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6),
           (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6))


@_docs.document(
    raises="invalid `weights`, `classes`, `alpha`, `input_shape` or activation.",
    input_shape="(height, width, 3), at least 32x32; ImageNet weights exist for square 96, "
                "128, 160, 192 and 224 (others get the 224 weights, with a warning).",
    alpha="width multiplier (0.35, 0.5, 0.75, 1.0, 1.3 or 1.4 with ImageNet weights).",
    name="the model's name (default `mobilenetv2_<alpha>_<rows>`).")
def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None):
    from trine import config, layers
    _common.check_weights(weights, include_top, classes, name or "MobileNetV2")
    _common.check_input_tensor(input_tensor, input_shape)
    default_size = _common.square_default_size(input_shape, input_tensor, _SIZES)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=config.image_data_format(), require_flatten=include_top, weights=weights)
    rows = _common.image_size(input_shape)[0]
    if weights == "imagenet":
        if alpha not in _ALPHAS:
            raise ValueError(f"With weights='imagenet', alpha must be one of {_ALPHAS}; "
                             f"received alpha={alpha}. Pass weights=None for other widths.")
        rows = _common.published_side(input_shape, _SIZES)
    img_input = _common.make_input(input_tensor, input_shape)
    axis = 1 if config.image_data_format() == "channels_first" else -1
    x = layers.Conv2D(_common.make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2),
                      padding="same", use_bias=False, name="Conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, alpha, filters, block_id)
    last = _common.make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _common.pool(x, pooling, name=None, max_name=None)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    top = "" if include_top else "_no_top"
    file_name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{top}.h5"
    return _common.finish(img_input, input_tensor, x, name, weights, BASE_WEIGHT_PATH,
                          file_name)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """1x1 expansion, 3x3 depthwise (strided), linear 1x1 projection; residual when shapes
    allow. Block 0 has no expansion and is named `expanded_conv_`."""
    from trine import config, layers
    axis = 1 if config.image_data_format() == "channels_first" else -1
    in_channels = inputs.shape[axis]
    pointwise_filters = _common.make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"

    def bn(t, suffix):
        return layers.BatchNormalization(axis=axis, epsilon=1e-3, momentum=0.999,
                                         name=f"{prefix}{suffix}")(t)

    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same",
                          use_bias=False, activation=None, name=f"{prefix}expand")(x)
        x = bn(x, "expand_BN")
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3),
                                 name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = bn(x, "depthwise_BN")
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False,
                      activation=None, name=f"{prefix}project")(x)
    x = bn(x, "project_BN")
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions


__all__ = ["MobileNetV2", "decode_predictions", "preprocess_input"]
