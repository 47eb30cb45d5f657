"""InceptionResNetV2 (Keras `keras.applications.inception_resnet_v2`).

Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning" (AAAI 2017). Most convolutions are auto-named (conv2d, conv2d_1, ...) in Keras, and
here in the same order; the blocks carry Keras's names, so Keras's published weight files
load.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils
from trine.layers import Layer
from trine.saving import register_serializable

BASE_WEIGHT_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                   "inception_resnet_v2/")
_FILES = (("inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
           "e693bd0210a403b3192acc6073ad2e96"),
          ("inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
           "d19885ff4a710c122648d3b5c3b684e4"))
# block type: (residual scale, blocks, branches as (filters, kernel) convolution chains)
_BLOCKS = {
    "block35": (0.17, 10, (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3)))),
    "block17": (0.1, 20, (((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1))))),
    "block8": (0.2, 10, (((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1))))),
}


@register_serializable(package="trine.applications.inception_resnet_v2")
class CustomScaleLayer(Layer):
    """`inputs[0] + scale * inputs[1]`: the shortcut plus the scaled residual (the class
    name is Keras's, so the auto-generated layer names agree)."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs):
        return inputs[0] + inputs[1] * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale)
        return config


def conv2d_bn(x, filters, kernel_size, strides=1, padding="same", activation="relu",
              use_bias=False, name=None):
    """Conv2D, then (without a bias) BatchNormalization without scale, then `activation`;
    named `name`, `name_bn` and `name_ac` when `name` is given."""
    from trine import layers
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                      use_bias=use_bias, name=name)(x)
    if not use_bias:
        x = layers.BatchNormalization(axis=_common.bn_axis(), scale=False,
                                      name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x


def inception_resnet_block(x, scale, block_type, block_idx, activation="relu"):
    """One residual Inception block of `block_type` ("block35", "block17" or "block8"):
    its branches concatenated, projected back to `x`'s channels, scaled and added to `x`."""
    from trine import layers
    if block_type not in _BLOCKS:
        raise ValueError(f"inception_resnet_block: block_type must be one of "
                         f"{sorted(_BLOCKS)}; received block_type={block_type!r}.")
    branches = []
    for chain in _BLOCKS[block_type][2]:
        branch = x
        for filters, kernel in chain:
            branch = conv2d_bn(branch, filters, kernel)
        branches.append(branch)
    name = f"{block_type}_{block_idx}"
    axis = _common.bn_axis()
    mixed = layers.Concatenate(axis=axis, name=f"{name}_mixed")(branches)
    up = conv2d_bn(mixed, x.shape[axis], 1, activation=None, use_bias=True,
                   name=f"{name}_conv")
    x = CustomScaleLayer(scale)([x, up])
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_ac")(x)
    return x


def _repeat_blocks(x, block_type, last_activation="relu"):
    scale, count, _ = _BLOCKS[block_type]
    for idx in range(1, count + 1):
        last = idx == count
        x = inception_resnet_block(x, 1.0 if last and last_activation is None else scale,
                                   block_type, idx,
                                   activation=last_activation if last else "relu")
    return x


@_docs.document(size=299, min_size=75)
def InceptionResNetV2(include_top=True, weights="imagenet", input_tensor=None,
                      input_shape=None, pooling=None, classes=1000,
                      classifier_activation="softmax", name="inception_resnet_v2"):
    from trine import layers
    img_input = _common.image_input(name, weights, include_top, classes, input_tensor,
                                    input_shape, default_size=299, min_size=75)
    axis = _common.bn_axis()
    # stem
    x = conv2d_bn(img_input, 32, 3, strides=2, padding="valid")
    x = conv2d_bn(x, 32, 3, padding="valid")
    x = conv2d_bn(x, 64, 3)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, padding="valid")
    x = layers.MaxPooling2D(3, strides=2)(x)
    # mixed 5b (Inception-A)
    b0 = conv2d_bn(x, 96, 1)
    b1 = conv2d_bn(conv2d_bn(x, 48, 1), 64, 5)
    b2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1), 96, 3), 96, 3)
    bp = conv2d_bn(layers.AveragePooling2D(3, strides=1, padding="same")(x), 64, 1)
    x = layers.Concatenate(axis=axis, name="mixed_5b")([b0, b1, b2, bp])
    x = _repeat_blocks(x, "block35")
    # mixed 6a (Reduction-A)
    b0 = conv2d_bn(x, 384, 3, strides=2, padding="valid")
    b1 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 256, 3), 384, 3, strides=2,
                   padding="valid")
    bp = layers.MaxPooling2D(3, strides=2, padding="valid")(x)
    x = layers.Concatenate(axis=axis, name="mixed_6a")([b0, b1, bp])
    x = _repeat_blocks(x, "block17")
    # mixed 7a (Reduction-B)
    b0 = conv2d_bn(conv2d_bn(x, 256, 1), 384, 3, strides=2, padding="valid")
    b1 = conv2d_bn(conv2d_bn(x, 256, 1), 288, 3, strides=2, padding="valid")
    b2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 288, 3), 320, 3, strides=2,
                   padding="valid")
    bp = layers.MaxPooling2D(3, strides=2, padding="valid")(x)
    x = layers.Concatenate(axis=axis, name="mixed_7a")([b0, b1, b2, bp])
    x = _repeat_blocks(x, "block8", last_activation=None)  # the last block is linear
    x = conv2d_bn(x, 1536, 1, name="conv_7b")
    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights,
                               pool_names=(None, None))
    return _common.finish(img_input, input_tensor, x, name, weights, BASE_WEIGHT_URL,
                          *_FILES[0 if include_top else 1])


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions

__all__ = ["CustomScaleLayer", "InceptionResNetV2", "conv2d_bn", "decode_predictions",
           "inception_resnet_block", "preprocess_input"]
