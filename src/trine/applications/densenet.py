"""DenseNet121 / 169 / 201 (Keras `keras.applications.densenet`).

Huang et al., "Densely Connected Convolutional Networks" (CVPR 2017). Layer names follow
Keras's, so Keras's published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
_FAMILIES = {(6, 12, 24, 16): "densenet121", (6, 12, 32, 32): "densenet169",
             (6, 12, 48, 32): "densenet201"}
_HASHES = {  # (with top, without top), md5
    "densenet121": ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    "densenet169": ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    "densenet201": ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_EPS = 1.001e-5


def dense_block(x, blocks, name):
    """`blocks` conv blocks, each concatenating 32 new channels onto its input."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN-ReLU, a 1x1 convolution keeping `reduction` of the channels, 2x2 average pool."""
    from trine import layers
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 conv (4 * growth_rate), BN-ReLU-3x3 conv (growth_rate), concatenated."""
    from trine import layers
    y = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_0_bn")(x)
    y = layers.Activation("relu", name=f"{name}_0_relu")(y)
    y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, y])


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="densenet"):
    """Build a DenseNet with `blocks` conv blocks in each of its four dense blocks."""
    from trine import config, layers
    if config.image_data_format() == "channels_first":
        raise ValueError("DenseNet supports only the 'channels_last' image data format; the "
                         "global setting is 'channels_first'. Call "
                         "trine.config.set_image_data_format('channels_last') first.")
    img_input = _common.image_input(name, weights, include_top, classes, input_tensor,
                                    input_shape, default_size=224)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, n in enumerate(blocks):
        x = dense_block(x, n, name=f"conv{i + 2}")
        if i < 3:
            x = transition_block(x, 0.5, name=f"pool{i + 2}")
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights)
    file_name, file_hash = _common.published_file(
        _HASHES, _FAMILIES.get(tuple(blocks)), include_top,
        "{key}_weights_tf_dim_ordering_tf_kernels{top}.h5")
    return _common.finish(img_input, input_tensor, x, name, weights, BASE_WEIGHTS_PATH,
                          file_name, file_hash)


_CHANNELS_LAST = ("invalid `weights`, `classes`, `input_shape` or activation, or the "
                  "'channels_first' data format.")
DenseNet121 = _docs.document(_common.variant("DenseNet121", DenseNet, "densenet121",
                                             blocks=(6, 12, 24, 16)), raises=_CHANNELS_LAST)
DenseNet169 = _docs.document(_common.variant("DenseNet169", DenseNet, "densenet169",
                                             blocks=(6, 12, 32, 32)), raises=_CHANNELS_LAST)
DenseNet201 = _docs.document(_common.variant("DenseNet201", DenseNet, "densenet201",
                                             blocks=(6, 12, 48, 32)), raises=_CHANNELS_LAST)


preprocess_input = imagenet_utils.preprocessor("torch")
decode_predictions = imagenet_utils.decode_predictions


__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "decode_predictions",
           "preprocess_input"]
