"""MobileNet (Keras `keras.applications.mobilenet`).

Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications" (2017). Layer names follow Keras's, so Keras's published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_SIZES = (128, 160, 192, 224)
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
# (pointwise filters, stride) of depthwise blocks 1..13
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
           (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


@_docs.document(
    raises="invalid `weights`, `classes`, `alpha`, `depth_multiplier`, `input_shape` or "
           "activation.",
    input_shape="(height, width, 3), at least 32x32; ImageNet weights exist for square 128, "
                "160, 192 and 224 (others get the 224 weights, with a warning).",
    alpha="width multiplier (0.25, 0.5, 0.75 or 1.0 with ImageNet weights).",
    depth_multiplier="depthwise channel multiplier (1 with ImageNet weights).",
    dropout="dropout rate before the classifier.",
    include_top="whether to end with the classifier (a 1x1 convolution `conv_preds`).",
    name="the model's name (default `mobilenet_<alpha>_<rows>`).")
def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True,
              weights="imagenet", input_tensor=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None):
    from trine import config, layers
    _common.check_weights(weights, include_top, classes, name or "MobileNet")
    default_size = _common.square_default_size(input_shape, None, _SIZES)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=config.image_data_format(), require_flatten=include_top, weights=weights)
    rows = _common.image_size(input_shape)[0]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("With weights='imagenet', depth_multiplier must be 1; received "
                             f"depth_multiplier={depth_multiplier}.")
        if alpha not in _ALPHA_TEXT:
            raise ValueError("With weights='imagenet', alpha must be 0.25, 0.5, 0.75 or 1.0; "
                             f"received alpha={alpha}. Pass weights=None for other widths.")
        rows = _common.published_side(input_shape, _SIZES)
    img_input = _common.make_input(input_tensor, input_shape)
    axis = 1 if config.image_data_format() == "channels_first" else -1
    x = layers.Conv2D(int(32 * alpha), (3, 3), padding="same", use_bias=False, strides=(2, 2),
                      name="conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, stride, block_id, axis)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = _common.pool(x, pooling, name=None, max_name=None)
    if name is None:
        name = f"mobilenet_{alpha:0.2f}_{rows}"
    file_name = None
    if weights == "imagenet":
        top = "" if include_top else "_no_top"
        file_name = f"mobilenet_{_ALPHA_TEXT[alpha]}_{rows}_tf{top}.h5"
    return _common.finish(img_input, input_tensor, x, name, weights, BASE_WEIGHT_PATH,
                          file_name)


def _depthwise_conv_block(inputs, filters, alpha, depth_multiplier, stride, block_id, axis):
    """3x3 depthwise (padded by one on the bottom/right when strided), then 1x1 pointwise."""
    from trine import layers
    x = inputs
    if stride != 1:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D((3, 3), padding="same" if stride == 1 else "valid",
                               depth_multiplier=depth_multiplier, strides=(stride, stride),
                               use_bias=False, name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=axis, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(int(filters * alpha), (1, 1), padding="same", use_bias=False,
                      strides=(1, 1), name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=axis, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions


__all__ = ["MobileNet", "decode_predictions", "preprocess_input"]
