"""InceptionV3 (Keras `keras.applications.inception_v3`).

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (CVPR 2016).
Its convolutions are auto-named (conv2d, conv2d_1, ...) in Keras, and here in the same
order; the mixed blocks carry Keras's names, so Keras's published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils

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


@_docs.document(size=299, min_size=75)
def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="inception_v3"):
    from trine import config, layers
    img_input = _common.image_input(name, weights, include_top, classes, input_tensor,
                                    input_shape, default_size=299, min_size=75)
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
    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights,
                               pool_names=(None, None))
    return _common.finish(img_input, input_tensor, x, name, weights, _BASE,
                          *_FILES[0 if include_top else 1])


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions


__all__ = ["InceptionV3", "conv2d_bn", "decode_predictions", "preprocess_input"]
