"""ResNet50V2 / 101V2 / 152V2 (Keras `keras.applications.resnet_v2`).

He et al., "Identity Mappings in Deep Residual Networks" (ECCV 2016): pre-activation blocks.
"""
from __future__ import annotations

from trine.applications import imagenet_utils
from trine.applications.resnet import resnet_variant


ResNet50V2 = resnet_variant("ResNet50V2", (3, 4, 6, 3), preact=True, module=__name__)
ResNet101V2 = resnet_variant("ResNet101V2", (3, 4, 23, 3), preact=True, module=__name__)
ResNet152V2 = resnet_variant("ResNet152V2", (3, 8, 36, 3), preact=True, module=__name__)


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions


__all__ = ["ResNet101V2", "ResNet152V2", "ResNet50V2", "decode_predictions",
           "preprocess_input"]
