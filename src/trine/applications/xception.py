"""Xception (Keras `keras.applications.xception`).

Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions" (CVPR 2017). Layer
names follow Keras's (the residual projections are auto-named there, and here), so Keras's
published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, imagenet_utils

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/xception/"
_FILES = (("xception_weights_tf_dim_ordering_tf_kernels.h5",
           "0a58e3b7378bc2990ea3b43d5981f1f6"),
          ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
           "b0042744bf5b25fce3cb969f33bebb97"))


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    """Xception (Keras `keras.applications.Xception`).

    Args:
        include_top: whether to end with the classifier.
        weights: None (random), "imagenet" (downloaded once into `<cache>/models`), or the
            path of a weights file (Keras's legacy `.h5`, `.weights.h5` or `.keras`).
        input_tensor: an optional tensor (e.g. from `Input`) to use as the image input.
        input_shape: (height, width, 3), at least 71x71; only when `include_top=False`
            may it differ from (299, 299, 3).
        pooling: with `include_top=False`: None (4D feature map), "avg" or "max".
        classes: number of classes (1000 with ImageNet weights and the top).
        classifier_activation: activation of the top layer (None gives logits).
        name: the model's name.

    Returns:
        A Functional model; feed it images through `xception.preprocess_input`.

    Raises:
        ValueError: invalid `weights`, `classes`, `input_shape` or activation.

    Example:
        >>> model = Xception(weights=None, include_top=False, input_shape=(71, 71, 3))
    """
    from trine import config, layers
    _common.check_weights(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=71, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _common.make_input(input_tensor, input_shape)
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


__all__ = ["Xception", "decode_predictions", "preprocess_input"]
