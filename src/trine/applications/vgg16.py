"""VGG16 (Keras `keras.applications.vgg16`), and the VGG builder VGG19 shares.

Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition"
(ICLR 2015). Layer names follow Keras's, so Keras's published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils

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
    from trine import layers
    img_input = _common.image_input(name, weights, include_top, classes, input_tensor,
                                    input_shape, default_size=224)
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
    file_name, file_hash = WEIGHTS[family][0 if include_top else 1]
    return _common.finish(img_input, input_tensor, x, name, weights, f"{_BASE}{family}/",
                          file_name, file_hash)


@_docs.document(include_top="whether to end with the three fully-connected layers.")
def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    return VGG((2, 2, 3, 3, 3), "vgg16", include_top, weights, input_tensor, input_shape,
               pooling, classes, classifier_activation, name)


preprocess_input = imagenet_utils.preprocessor("caffe")
decode_predictions = imagenet_utils.decode_predictions


__all__ = ["VGG16", "decode_predictions", "preprocess_input"]
