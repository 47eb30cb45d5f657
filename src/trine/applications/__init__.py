"""Ready-made image models with Keras's architectures and weights (`keras.applications`).

Each family lives in its own module (`resnet`, `vgg16`, ...) with its `preprocess_input` and
`decode_predictions`; the model builders are re-exported here. Nothing is built or downloaded
on import.

    from trine import applications
    model = applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
"""
import sys as _sys

from trine.applications import (convnext, densenet, efficientnet, efficientnet_v2,
                                imagenet_utils, inception_resnet_v2, inception_v3, mobilenet,
                                mobilenet_v2, mobilenet_v3, nasnet, resnet, resnet_v2, vgg16,
                                vgg19, xception)
from trine.applications.convnext import (ConvNeXtBase, ConvNeXtLarge, ConvNeXtSmall,
                                         ConvNeXtTiny, ConvNeXtXLarge)
from trine.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from trine.applications.efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2,
                                             EfficientNetB3, EfficientNetB4, EfficientNetB5,
                                             EfficientNetB6, EfficientNetB7)
from trine.applications.efficientnet_v2 import (EfficientNetV2B0, EfficientNetV2B1,
                                                EfficientNetV2B2, EfficientNetV2B3,
                                                EfficientNetV2L, EfficientNetV2M,
                                                EfficientNetV2S)
from trine.applications.inception_resnet_v2 import InceptionResNetV2
from trine.applications.inception_v3 import InceptionV3
from trine.applications.mobilenet import MobileNet
from trine.applications.mobilenet_v2 import MobileNetV2
from trine.applications.mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from trine.applications.nasnet import NASNetLarge, NASNetMobile
from trine.applications.resnet import ResNet50, ResNet101, ResNet152
from trine.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from trine.applications.vgg16 import VGG16
from trine.applications.vgg19 import VGG19
from trine.applications.xception import Xception

resnet50 = resnet  # Keras also exposes the ResNet50 names as `applications.resnet50`
_sys.modules.setdefault(__name__ + ".resnet50", resnet)

__all__ = [
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0", "EfficientNetB1",
    "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5", "EfficientNetB6",
    "EfficientNetB7", "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2",
    "EfficientNetV2B3", "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3", "MobileNet", "MobileNetV2", "MobileNetV3Large",
    "MobileNetV3Small", "NASNetLarge", "NASNetMobile", "ResNet101", "ResNet101V2", "ResNet152",
    "ResNet152V2", "ResNet50", "ResNet50V2", "VGG16", "VGG19", "Xception", "convnext",
    "densenet", "efficientnet", "efficientnet_v2", "imagenet_utils", "inception_resnet_v2",
    "inception_v3", "mobilenet", "mobilenet_v2", "mobilenet_v3", "nasnet", "resnet",
    "resnet50", "resnet_v2", "vgg16", "vgg19", "xception",
]
