"""VGG19 (Keras `keras.applications.vgg19`): VGG16 with four convolutions in blocks 3-5."""
from __future__ import annotations

from trine.applications import _docs
from trine.applications.vgg16 import VGG, decode_predictions, preprocess_input


@_docs.document(include_top="whether to end with the three fully-connected layers.")
def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19"):
    return VGG((2, 2, 4, 4, 4), "vgg19", include_top, weights, input_tensor, input_shape,
               pooling, classes, classifier_activation, name)


__all__ = ["VGG19", "decode_predictions", "preprocess_input"]
