"""VGG16 (Keras `keras.applications.vgg16`), and the VGG builder VGG19 shares.

Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition"
(ICLR 2015). Layer names follow Keras's, so Keras's published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, imagenet_utils

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"
WEIGHTS = {  # family: ((file, md5) with top, (file, md5) without)
    "vgg16": (("vgg16_weights_tf_dim_ordering_tf_kernels.h5",
               "64373286793e3c8b2b4e3219cbf3544b"),
              ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
               "6d6bbae143d832006294945121d1f1fc")),
    "vgg19": (("vgg19_weights_tf_dim_ordering_tf_kernels.h5",
               "cbe5617147190e668d6c5d5026f83318"),
              ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
               "253f8cb515780f3b799900260a226db6")),
}


def VGG(convs_per_block, family, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name):
    """Five blocks of 3x3 convolutions (64, 128, 256, 512, 512 filters), each ending in a
    2x2 max pool; the top is Flatten, two Dense(4096) and the classifier."""
    from trine import config, layers
    _common.check_weights(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _common.make_input(input_tensor, input_shape)
    x = img_input
    for b, (filters, n) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), start=1):
        for c in range(1, n + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{b}_conv{c}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _common.pool(x, pooling, name=None, max_name=None)
    model = _common.make_model(img_input, input_tensor, x, name)
    file_name, file_hash = WEIGHTS[family][0 if include_top else 1]
    return _common.load_weights(model, weights, base_url=f"{_BASE}{family}/",
                                file_name=file_name, file_hash=file_hash)


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16 (Keras `keras.applications.VGG16`).

    Args:
        include_top: whether to end with the three fully-connected layers.
        weights: None (random), "imagenet" (downloaded once into `<cache>/models`), or the
            path of a weights file (Keras's legacy `.h5`, `.weights.h5` or `.keras`).
        input_tensor: an optional tensor (e.g. from `Input`) to use as the image input.
        input_shape: (height, width, 3), at least 32x32; only when `include_top=False`
            may it differ from (224, 224, 3).
        pooling: with `include_top=False`: None (4D feature map), "avg" or "max".
        classes: number of classes (1000 with ImageNet weights and the top).
        classifier_activation: activation of the top layer (None gives logits).
        name: the model's name.

    Returns:
        A Functional model; feed it images through `vgg16.preprocess_input`.

    Raises:
        ValueError: invalid `weights`, `classes`, `input_shape` or activation.
        OSError: ImageNet weights not cached and not downloadable.

    Example:
        >>> model = VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    """
    return VGG((2, 2, 3, 3, 3), "vgg16", include_top, weights, input_tensor, input_shape,
               pooling, classes, classifier_activation, name)


def preprocess_input(x, data_format=None):
    """ImageNet "caffe" preprocessing: RGB to BGR, minus the channel means, no scaling."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The top ImageNet classes of each prediction (see `imagenet_utils.decode_predictions`)."""
    return imagenet_utils.decode_predictions(preds, top=top)


__all__ = ["VGG16", "decode_predictions", "preprocess_input"]
