"""InceptionV3 (Keras `keras.applications.inception_v3`).

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (CVPR 2016).
Its convolutions are auto-named (conv2d, conv2d_1, ...) in Keras, and here in the same
order; the mixed blocks carry Keras's names, so Keras's published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, imagenet_utils

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
_FILES = (("inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
           "9a0d58056eeedaa3f26cb7ebd46da564"),
          ("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
           "bcbd6486424b2319ff4ef7d526e38f63"))


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Conv2D (no bias), BatchNormalization (no scale), ReLU."""
    from trine import config, layers
    axis = 1 if config.image_data_format() == "channels_first" else 3
    x = layers.Conv2D(filters, (num_row, num_col), strides=strides, padding=padding,
                      use_bias=False, name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(axis=axis, scale=False,
                                  name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def _avg_branch(x, filters):
    from trine import layers
    pool = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return conv2d_bn(pool, filters, 1, 1)


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="inception_v3"):
    """InceptionV3 (Keras `keras.applications.InceptionV3`).

    Args:
        include_top: whether to end with the classifier.
        weights: None (random), "imagenet" (downloaded once into `<cache>/models`), or the
            path of a weights file (Keras's legacy `.h5`, `.weights.h5` or `.keras`).
        input_tensor: an optional tensor (e.g. from `Input`) to use as the image input.
        input_shape: (height, width, 3), at least 75x75; only when `include_top=False`
            may it differ from (299, 299, 3).
        pooling: with `include_top=False`: None (4D feature map), "avg" or "max".
        classes: number of classes (1000 with ImageNet weights and the top).
        classifier_activation: activation of the top layer (None gives logits).
        name: the model's name.

    Returns:
        A Functional model; feed it images through `inception_v3.preprocess_input`.

    Raises:
        ValueError: invalid `weights`, `classes`, `input_shape` or activation.

    Example:
        >>> model = InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3))
    """
    from trine import config, layers
    _common.check_weights(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=75, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _common.make_input(input_tensor, input_shape)
    axis = 1 if config.image_data_format() == "channels_first" else 3

    def cat(parts, name=None):
        return layers.Concatenate(axis=axis, name=name)(parts)

    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    # mixed 0-2: 35x35 blocks
    for i, pool_filters in enumerate((32, 64, 64)):
        b1 = conv2d_bn(x, 64, 1, 1)
        b5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
        b3 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
        x = cat([b1, b5, b3, _avg_branch(x, pool_filters)], name=f"mixed{i}")
    # mixed 3: reduction to 17x17
    b3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    bd = conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3)
    bd = conv2d_bn(bd, 96, 3, 3, strides=(2, 2), padding="valid")
    x = cat([b3, bd, layers.MaxPooling2D((3, 3), strides=(2, 2))(x)], name="mixed3")
    # mixed 4-7: 17x17 blocks with factorized 7x7 convolutions
    for i, f in ((4, 128), (5, 160), (6, 160), (7, 192)):
        b1 = conv2d_bn(x, 192, 1, 1)
        b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, f, 1, 1), f, 1, 7), 192, 7, 1)
        bd = conv2d_bn(conv2d_bn(x, f, 1, 1), f, 7, 1)
        bd = conv2d_bn(conv2d_bn(conv2d_bn(bd, f, 1, 7), f, 7, 1), 192, 1, 7)
        x = cat([b1, b7, bd, _avg_branch(x, 192)], name=f"mixed{i}")
    # mixed 8: reduction to 8x8
    b3 = conv2d_bn(conv2d_bn(x, 192, 1, 1), 320, 3, 3, strides=(2, 2), padding="valid")
    b7 = conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    b7 = conv2d_bn(b7, 192, 3, 3, strides=(2, 2), padding="valid")
    x = cat([b3, b7, layers.MaxPooling2D((3, 3), strides=(2, 2))(x)], name="mixed8")
    # mixed 9-10: 8x8 blocks with split 1x3 / 3x1 convolutions
    for i in range(2):
        b1 = conv2d_bn(x, 320, 1, 1)
        b3 = conv2d_bn(x, 384, 1, 1)
        b3 = cat([conv2d_bn(b3, 384, 1, 3), conv2d_bn(b3, 384, 3, 1)], name=f"mixed9_{i}")
        bd = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
        bd = cat([conv2d_bn(bd, 384, 1, 3), conv2d_bn(bd, 384, 3, 1)])
        x = cat([b1, b3, bd, _avg_branch(x, 192)], name=f"mixed{9 + i}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _common.pool(x, pooling, name=None, max_name=None)
    model = _common.make_model(img_input, input_tensor, x, name)
    file_name, file_hash = _FILES[0 if include_top else 1]
    return _common.load_weights(model, weights, base_url=_BASE, file_name=file_name,
                                file_hash=file_hash)


def preprocess_input(x, data_format=None):
    """ImageNet "tf" preprocessing: pixels scaled to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The top ImageNet classes of each prediction (see `imagenet_utils.decode_predictions`)."""
    return imagenet_utils.decode_predictions(preds, top=top)


__all__ = ["InceptionV3", "conv2d_bn", "decode_predictions", "preprocess_input"]
