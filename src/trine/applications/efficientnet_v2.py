"""EfficientNetV2 B0-B3, S, M, L (Keras `keras.applications.efficientnet_v2`).

Tan & Le, "EfficientNetV2: Smaller Models and Faster Training" (ICML 2021). The models take
pixels in [0, 255] (rescaling and normalization are layers of the model unless
`include_preprocessing=False`). Layer names follow Keras's, so Keras's published weight
files load.
"""
from __future__ import annotations

import math

from trine.applications import _common, _docs, imagenet_utils
from trine.applications.efficientnet import (CONV_KERNEL_INITIALIZER, DENSE_KERNEL_INITIALIZER,
                                             initializer, squeeze_excite)

BASE_WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                     "efficientnet_v2/")
WEIGHTS_HASHES = {  # (with top, without top), md5
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}
# (num_repeat, input_filters, output_filters, expand_ratio, se_ratio, strides, fused) of
# each stage; every kernel is 3x3
_B = ((1, 32, 16, 1, 0, 1, 1), (2, 16, 32, 4, 0, 2, 1), (2, 32, 48, 4, 0, 2, 1),
      (3, 48, 96, 4, 0.25, 2, 0), (5, 96, 112, 6, 0.25, 1, 0), (8, 112, 192, 6, 0.25, 2, 0))
_STAGES = {
    "b0": _B, "b1": _B, "b2": _B, "b3": _B,
    "s": ((2, 24, 24, 1, 0, 1, 1), (4, 24, 48, 4, 0, 2, 1), (4, 48, 64, 4, 0, 2, 1),
          (6, 64, 128, 4, 0.25, 2, 0), (9, 128, 160, 6, 0.25, 1, 0),
          (15, 160, 256, 6, 0.25, 2, 0)),
    "m": ((3, 24, 24, 1, 0, 1, 1), (5, 24, 48, 4, 0, 2, 1), (5, 48, 80, 4, 0, 2, 1),
          (7, 80, 160, 4, 0.25, 2, 0), (14, 160, 176, 6, 0.25, 1, 0),
          (18, 176, 304, 6, 0.25, 2, 0), (5, 304, 512, 6, 0.25, 1, 0)),
    "l": ((4, 32, 32, 1, 0, 1, 1), (7, 32, 64, 4, 0, 2, 1), (7, 64, 96, 4, 0, 2, 1),
          (10, 96, 192, 4, 0.25, 2, 0), (19, 192, 224, 6, 0.25, 1, 0),
          (25, 224, 384, 6, 0.25, 2, 0), (7, 384, 640, 6, 0.25, 1, 0)),
}
_SCALES = {"b0": (1.0, 1.0, 224), "b1": (1.0, 1.1, 240), "b2": (1.1, 1.2, 260),
           "b3": (1.2, 1.4, 300), "s": (1.0, 1.0, 384), "m": (1.0, 1.0, 480),
           "l": (1.0, 1.0, 480)}

def round_filters(filters, width_coefficient, min_depth, depth_divisor):
    """Filters scaled by the width coefficient, rounded to a multiple of `depth_divisor`."""
    filters *= width_coefficient
    return int(max(min_depth or depth_divisor,
                   int(filters + depth_divisor / 2) // depth_divisor * depth_divisor))


def round_repeats(repeats, depth_coefficient):
    """Blocks of a stage scaled by the depth coefficient, rounded up."""
    return int(math.ceil(depth_coefficient * repeats))


def _block(x, input_filters, output_filters, expand_ratio, kernel_size, strides, se_ratio,
           bn_momentum, activation, survival_probability, name, fused):
    """MBConv (1x1 expand, depthwise) or Fused-MBConv (one kxk expand conv), then optional
    squeeze-and-excite, a projection, and the stochastic-depth residual."""
    from trine import layers
    axis = _common.bn_axis()
    init = initializer(CONV_KERNEL_INITIALIZER)
    inputs = x
    filters = input_filters * expand_ratio

    def bn(t, suffix):
        return layers.BatchNormalization(axis=axis, momentum=bn_momentum,
                                         name=f"{name}{suffix}")(t)

    if expand_ratio != 1:
        k, s = (kernel_size, strides) if fused else (1, 1)
        x = layers.Conv2D(filters, kernel_size=k, strides=s, kernel_initializer=init,
                          padding="same", use_bias=False, name=f"{name}expand_conv")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(bn(x, "expand_bn"))
    if not fused:
        x = layers.DepthwiseConv2D(kernel_size=kernel_size, strides=strides,
                                   depthwise_initializer=init, padding="same", use_bias=False,
                                   name=f"{name}dwconv2")(x)
        x = layers.Activation(activation, name=f"{name}activation")(bn(x, "bn"))
    if 0 < se_ratio <= 1:
        x = squeeze_excite(x, max(1, int(input_filters * se_ratio)), activation, name)
    single = fused and expand_ratio == 1  # the projection is the block's only convolution
    x = layers.Conv2D(output_filters, kernel_size=kernel_size if single else 1,
                      strides=strides if single else 1, kernel_initializer=init,
                      padding="same", use_bias=False, name=f"{name}project_conv")(x)
    x = bn(x, "project_bn")
    if fused and expand_ratio == 1:
        x = layers.Activation(activation, name=f"{name}project_activation")(x)
    if strides == 1 and input_filters == output_filters:
        if survival_probability:
            x = layers.Dropout(survival_probability, noise_shape=(None, 1, 1, 1),
                               name=f"{name}drop")(x)
        x = layers.Add(name=f"{name}add")([x, inputs])
    return x


def EfficientNetV2(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2,
                   drop_connect_rate=0.2, depth_divisor=8, min_depth=8, bn_momentum=0.9,
                   activation="swish", blocks_args="default", name="efficientnetv2",
                   include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   include_preprocessing=True, weights_name=None):
    """Build an EfficientNetV2 from its stage table (`blocks_args`: "default" takes the
    table of `weights_name`, or a sequence of `_STAGES`-style tuples)."""
    from trine import initializers, layers
    if blocks_args == "default":
        if weights_name not in _STAGES:
            raise ValueError("EfficientNetV2: blocks_args='default' needs weights_name in "
                             f"{sorted(_STAGES)}; received weights_name={weights_name!r}.")
        blocks_args = _STAGES[weights_name]
    img_input = _common.image_input(name, weights, include_top, classes, input_tensor,
                                    input_shape, default_size)
    axis = _common.bn_axis()
    x = img_input
    if include_preprocessing:
        # the channels obtain_input_shape settles on: the user's, else 3
        channels = 3 if not input_shape else input_shape[axis - 1]
        if str(weights_name).startswith("b") and channels == 3:
            x = layers.Rescaling(scale=1.0 / 255)(x)
            x = layers.Normalization(mean=[0.485, 0.456, 0.406],
                                     variance=[0.229 ** 2, 0.224 ** 2, 0.225 ** 2],
                                     axis=axis)(x)
        else:
            x = layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)

    def rf(f):
        return round_filters(f, width_coefficient, min_depth, depth_divisor)

    x = layers.Conv2D(rf(blocks_args[0][1]), kernel_size=3, strides=2,
                      kernel_initializer=initializer(CONV_KERNEL_INITIALIZER), padding="same",
                      use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(axis=axis, momentum=bn_momentum, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    total = float(sum(stage[0] for stage in blocks_args))
    b = 0
    for i, (repeats, f_in, f_out, expand, se, strides, fused) in enumerate(blocks_args):
        if repeats <= 0:
            raise ValueError(f"Every stage of blocks_args needs num_repeat > 0; received "
                             f"{repeats} in stage {i}.")
        f_in, f_out = rf(f_in), rf(f_out)
        for j in range(round_repeats(repeats, depth_coefficient)):
            if j > 0:
                strides, f_in = 1, f_out
            x = _block(x, f_in, f_out, expand, 3, strides, se, bn_momentum, activation,
                       drop_connect_rate * b / total, f"block{i + 1}{chr(j + 97)}_",
                       bool(fused))
            b += 1
    x = layers.Conv2D(rf(1280), kernel_size=1, strides=1,
                      kernel_initializer=initializer(CONV_KERNEL_INITIALIZER), padding="same",
                      use_bias=False, name="top_conv")(x)
    x = layers.BatchNormalization(axis=axis, momentum=bn_momentum, name="top_bn")(x)
    x = layers.Activation(activation=activation, name="top_activation")(x)
    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights,
                               dropout_rate=dropout_rate,
                               kernel_initializer=initializer(DENSE_KERNEL_INITIALIZER),
                               bias_initializer=initializers.Constant(0.0))
    file_name, file_hash = _common.published_file(WEIGHTS_HASHES, weights_name, include_top,
                                                  "efficientnetv2-{key}{top}.h5")
    return _common.finish(img_input, input_tensor, x, name, weights, BASE_WEIGHTS_PATH,
                          file_name, file_hash)


def _variant(v):
    width, depth, size = _SCALES[v]

    def build(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax",
              include_preprocessing=True, name=f"efficientnetv2-{v}"):
        return EfficientNetV2(width, depth, size, name=name, include_top=include_top,
                              weights=weights, input_tensor=input_tensor,
                              input_shape=input_shape, pooling=pooling, classes=classes,
                              classifier_activation=classifier_activation,
                              include_preprocessing=include_preprocessing, weights_name=v)

    build.__name__ = build.__qualname__ = f"EfficientNetV2{v.upper()}"
    return _docs.document(build, size=size, returns=_docs.SELF_NORMALIZING)


EfficientNetV2B0 = _variant("b0")
EfficientNetV2B1 = _variant("b1")
EfficientNetV2B2 = _variant("b2")
EfficientNetV2B3 = _variant("b3")
EfficientNetV2S = _variant("s")
EfficientNetV2M = _variant("m")
EfficientNetV2L = _variant("l")


preprocess_input = imagenet_utils.pass_through
decode_predictions = imagenet_utils.decode_predictions


__all__ = ["EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
           "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S", "decode_predictions",
           "preprocess_input"]
