"""Xception (Keras `keras.applications.xception`).

Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions" (CVPR 2017). Layer
names follow Keras's (the residual projections are auto-named there, and here), so Keras's
published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
_FILES = (("xception_weights_tf_dim_ordering_tf_kernels.h5",
           "0a58e3b7378bc2990ea3b43d5981f1f6"),
          ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
           "b0042744bf5b25fce3cb969f33bebb97"))


@_docs.document(size=299, min_size=71)
def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    from trine import config, layers
    img_input = _common.image_input(name, weights, include_top, classes, input_tensor,
                                    input_shape, default_size=299, min_size=71)
    axis = 1 if config.image_data_format() == "channels_first" else -1

    def bn(t, name=None):
        return layers.BatchNormalization(axis=axis, name=name)(t)

    def relu(t, name):
        return layers.Activation("relu", name=name)(t)

    def sep(t, filters, name):
        return layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False,
                                      name=name)(t)

    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = relu(bn(x, "block1_conv1_bn"), "block1_conv1_act")
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = relu(bn(x, "block1_conv2_bn"), "block1_conv2_act")
    # entry flow: strided blocks with a 1x1 projection on the shortcut
    for b, filters in ((2, 128), (3, 256), (4, 728)):
        residual = bn(layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same",
                                    use_bias=False)(x))
        if b != 2:
            x = relu(x, f"block{b}_sepconv1_act")
        x = bn(sep(x, filters, f"block{b}_sepconv1"), f"block{b}_sepconv1_bn")
        x = relu(x, f"block{b}_sepconv2_act")
        x = bn(sep(x, filters, f"block{b}_sepconv2"), f"block{b}_sepconv2_bn")
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same",
                                name=f"block{b}_pool")(x)
        x = layers.Add()([x, residual])
    # middle flow: eight identity blocks of three separable convolutions
    for i in range(5, 13):
        residual = x
        for j in (1, 2, 3):
            x = relu(x, f"block{i}_sepconv{j}_act")
            x = bn(sep(x, 728, f"block{i}_sepconv{j}"), f"block{i}_sepconv{j}_bn")
        x = layers.Add()([x, residual])
    # exit flow
    residual = bn(layers.Conv2D(1024, (1, 1), strides=(2, 2), padding="same",
                                use_bias=False)(x))
    x = relu(x, "block13_sepconv1_act")
    x = bn(sep(x, 728, "block13_sepconv1"), "block13_sepconv1_bn")
    x = relu(x, "block13_sepconv2_act")
    x = bn(sep(x, 1024, "block13_sepconv2"), "block13_sepconv2_bn")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="block13_pool")(x)
    x = layers.Add()([x, residual])
    x = relu(bn(sep(x, 1536, "block14_sepconv1"), "block14_sepconv1_bn"), "block14_sepconv1_act")
    x = relu(bn(sep(x, 2048, "block14_sepconv2"), "block14_sepconv2_bn"), "block14_sepconv2_act")
    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights,
                               pool_names=(None, None))
    return _common.finish(img_input, input_tensor, x, name, weights, _BASE,
                          *_FILES[0 if include_top else 1])


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions


__all__ = ["Xception", "decode_predictions", "preprocess_input"]
