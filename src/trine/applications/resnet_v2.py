"""ResNet50V2 / 101V2 / 152V2 (Keras `keras.applications.resnet_v2`).

He et al., "Identity Mappings in Deep Residual Networks" (ECCV 2016): pre-activation blocks.
"""
from __future__ import annotations

from trine.applications import imagenet_utils
from trine.applications.resnet import ResNet, stack_residual_blocks_v2


def _v2(depths, weights_name, name, **kwargs):
    def stack_fn(x):
        x = stack_residual_blocks_v2(x, 64, depths[0], name="conv2")
        x = stack_residual_blocks_v2(x, 128, depths[1], name="conv3")
        x = stack_residual_blocks_v2(x, 256, depths[2], name="conv4")
        return stack_residual_blocks_v2(x, 512, depths[3], stride1=1, name="conv5")
    return ResNet(stack_fn, preact=True, use_bias=True, weights_name=weights_name, name=name,
                  **kwargs)


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="resnet50v2"):
    """ResNet50V2 (Keras `keras.applications.ResNet50V2`); arguments as `resnet.ResNet50`.

    Feed it images through `resnet_v2.preprocess_input` (scaled to [-1, 1]).

    Example:
        >>> model = ResNet50V2(weights=None, include_top=False, input_shape=(64, 64, 3))
    """
    return _v2((3, 4, 6, 3), "resnet50v2", name, include_top=include_top, weights=weights,
               input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
               classes=classes, classifier_activation=classifier_activation)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="resnet101v2"):
    """ResNet101V2 (Keras `keras.applications.ResNet101V2`); arguments as `resnet.ResNet50`."""
    return _v2((3, 4, 23, 3), "resnet101v2", name, include_top=include_top, weights=weights,
               input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
               classes=classes, classifier_activation=classifier_activation)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="resnet152v2"):
    """ResNet152V2 (Keras `keras.applications.ResNet152V2`); arguments as `resnet.ResNet50`."""
    return _v2((3, 8, 36, 3), "resnet152v2", name, include_top=include_top, weights=weights,
               input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
               classes=classes, classifier_activation=classifier_activation)


def preprocess_input(x, data_format=None):
    """ImageNet "tf" preprocessing: pixels scaled to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The top ImageNet classes of each prediction (see `imagenet_utils.decode_predictions`)."""
    return imagenet_utils.decode_predictions(preds, top=top)


__all__ = ["ResNet101V2", "ResNet152V2", "ResNet50V2", "decode_predictions",
           "preprocess_input"]
