"""NASNetMobile / NASNetLarge (Keras `keras.applications.nasnet`).

Zoph et al., "Learning Transferable Architectures for Scalable Image Recognition" (CVPR
2018): NASNet-A normal and reduction cells, each fed by the two previous cells' outputs.
Many layers are auto-named in Keras (activations, paddings, some adds); here they are made in
the same order, so the names, and Keras's published weight files, agree.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/"
# default size: ((cached name, published name, md5) with top, the same without)
_FILES = {
    224: (("nasnet_mobile.h5", "NASNet-mobile.h5", "020fb642bf7360b370c678b08e0adf61"),
          ("nasnet_mobile_no_top.h5", "NASNet-mobile-no-top.h5",
           "1ed92395b5b598bdda52abe5c0dbfd63")),
    331: (("nasnet_large.h5", "NASNet-large.h5", "11577c9a518f0070763c2b964a382f17"),
          ("nasnet_large_no_top.h5", "NASNet-large-no-top.h5",
           "d81d89dc07e6e56530c4e77faddd61b5")),
}


def _bn(x, name):
    from trine import layers
    return layers.BatchNormalization(axis=-1, momentum=0.9997, epsilon=1e-3, name=name)(x)


def _conv1x1(x, filters, name):
    from trine import layers
    return layers.Conv2D(filters, (1, 1), strides=(1, 1), padding="same", use_bias=False,
                         kernel_initializer="he_normal", name=name)(x)


def _separable_conv_block(x, filters, kernel_size=(3, 3), strides=(1, 1), block_id=None):
    """Twice ReLU, separable convolution, BatchNorm; the first convolution strides (after
    Keras's padding, when it does)."""
    from trine import layers
    x = layers.Activation("relu")(x)
    padding = "same"
    if strides == (2, 2):
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size),
                                 name=f"separable_conv_1_pad_{block_id}")(x)
        padding = "valid"
    x = layers.SeparableConv2D(filters, kernel_size, strides=strides, padding=padding,
                               use_bias=False, name=f"separable_conv_1_{block_id}")(x)
    x = _bn(x, f"separable_conv_1_bn_{block_id}")
    x = layers.Activation("relu")(x)
    x = layers.SeparableConv2D(filters, kernel_size, padding="same", use_bias=False,
                               name=f"separable_conv_2_{block_id}")(x)
    return _bn(x, f"separable_conv_2_bn_{block_id}")


def _adjust_block(p, ip, filters, block_id):
    """The previous cell's output `p` made to fit `ip`: halved spatially (two offset 1x1
    paths) where the sizes differ, else projected to `filters` where the channels do."""
    from trine import layers
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:
        p = layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid",
                                     name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = layers.Conv2D(filters // 2, (1, 1), padding="same", use_bias=False,
                           kernel_initializer="he_normal", name=f"adjust_conv_1_{block_id}")(p1)
        p2 = layers.ZeroPadding2D(padding=((0, 1), (0, 1)))(p)
        p2 = layers.Cropping2D(cropping=((1, 0), (1, 0)))(p2)
        p2 = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid",
                                     name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = layers.Conv2D(filters // 2, (1, 1), padding="same", use_bias=False,
                           kernel_initializer="he_normal", name=f"adjust_conv_2_{block_id}")(p2)
        p = layers.Concatenate(axis=-1)([p1, p2])
        return _bn(p, f"adjust_bn_{block_id}")
    if p.shape[-1] != filters:
        p = layers.Activation("relu")(p)
        p = _conv1x1(p, filters, f"adjust_conv_projection_{block_id}")
        return _bn(p, f"adjust_bn_{block_id}")
    return p


def _cell_input(ip, p, filters, kind, block_id):
    """The two inputs of a cell: the adjusted previous output and ReLU-1x1 conv-BN of `ip`."""
    from trine import layers
    p = _adjust_block(p, ip, filters, block_id)
    h = layers.Activation("relu")(ip)
    h = _conv1x1(h, filters, f"{kind}_conv_1_{block_id}")
    return p, _bn(h, f"{kind}_bn_1_{block_id}")


def _pool(x, kind, strides, padding, name):
    from trine import layers
    cls = layers.AveragePooling2D if kind == "avg" else layers.MaxPooling2D
    return cls((3, 3), strides=strides, padding=padding, name=name)(x)


def _normal_a_cell(ip, p, filters, block_id):
    """NASNet-A normal cell (Fig. 4 of the paper); returns (output, `ip` for the next)."""
    from trine import layers
    p, h = _cell_input(ip, p, filters, "normal", block_id)

    def add(parts, n):
        return layers.Add(name=f"normal_add_{n}_{block_id}")(parts)

    x1 = add([_separable_conv_block(h, filters, (5, 5), block_id=f"normal_left1_{block_id}"),
              _separable_conv_block(p, filters, block_id=f"normal_right1_{block_id}")], 1)
    x2 = add([_separable_conv_block(p, filters, (5, 5), block_id=f"normal_left2_{block_id}"),
              _separable_conv_block(p, filters, (3, 3), block_id=f"normal_right2_{block_id}")],
             2)
    x3 = add([_pool(h, "avg", (1, 1), "same", f"normal_left3_{block_id}"), p], 3)
    x4 = add([_pool(p, "avg", (1, 1), "same", f"normal_left4_{block_id}"),
              _pool(p, "avg", (1, 1), "same", f"normal_right4_{block_id}")], 4)
    x5 = add([_separable_conv_block(h, filters, block_id=f"normal_left5_{block_id}"), h], 5)
    x = layers.Concatenate(axis=-1, name=f"normal_concat_{block_id}")([p, x1, x2, x3, x4, x5])
    return x, ip


def _reduction_a_cell(ip, p, filters, block_id):
    """NASNet-A reduction cell (Fig. 4 of the paper): halves the spatial size; returns
    (output, `ip` for the next)."""
    from trine import layers
    p, h = _cell_input(ip, p, filters, "reduction", block_id)
    h3 = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(h, 3),
                              name=f"reduction_pad_1_{block_id}")(h)

    def sep(t, kernel, side):
        return _separable_conv_block(t, filters, kernel, strides=(2, 2),
                                     block_id=f"reduction_{side}_{block_id}")

    x1 = layers.Add(name=f"reduction_add_1_{block_id}")(
        [sep(h, (5, 5), "left1"), sep(p, (7, 7), "right1")])
    x2 = layers.Add(name=f"reduction_add_2_{block_id}")(
        [_pool(h3, "max", (2, 2), "valid", f"reduction_left2_{block_id}"),
         sep(p, (7, 7), "right2")])
    x3 = layers.Add(name=f"reduction_add3_{block_id}")(
        [_pool(h3, "avg", (2, 2), "valid", f"reduction_left3_{block_id}"),
         sep(p, (5, 5), "right3")])
    x4 = layers.Add()([x2, _pool(x1, "avg", (1, 1), "same", f"reduction_left4_{block_id}")])
    x5 = layers.Add(name=f"reduction_add4_{block_id}")(
        [_separable_conv_block(x1, filters, (3, 3), block_id=f"reduction_left4_{block_id}"),
         _pool(h3, "max", (2, 2), "valid", f"reduction_right5_{block_id}")])
    x = layers.Concatenate(axis=-1, name=f"reduction_concat_{block_id}")([x2, x3, x4, x5])
    return x, ip


def NASNet(input_shape=None, penultimate_filters=4032, num_blocks=6, stem_block_filters=96,
           skip_reduction=True, filter_multiplier=2, include_top=True, weights="imagenet",
           input_tensor=None, pooling=None, classes=1000, default_size=None,
           classifier_activation="softmax", name="NASNet"):
    """Build a NASNet-A (N @ P): `num_blocks` normal cells per stage, `penultimate_filters`
    channels in the last stage's cells."""
    from trine import config, layers
    if config.image_data_format() == "channels_first":
        raise ValueError("NASNet supports only the 'channels_last' image data format; the "
                         "global setting is 'channels_first'. Call "
                         "trine.config.set_image_data_format('channels_last') first.")
    if weights == "imagenet" and input_shape is not None and None in tuple(input_shape):
        raise ValueError("NASNet: with weights='imagenet' the input shape must be static; "
                         f"received input_shape={tuple(input_shape)}. Give every dimension, "
                         "or pass weights=None.")
    default_size = 331 if default_size is None else default_size
    img_input = _common.image_input(name, weights, include_top, classes, input_tensor,
                                    input_shape, default_size)
    if penultimate_filters % (24 * filter_multiplier ** 2) != 0:
        raise ValueError(f"NASNet: penultimate_filters must be a multiple of 24 * "
                         f"filter_multiplier ** 2 = {24 * filter_multiplier ** 2}; received "
                         f"penultimate_filters={penultimate_filters}.")
    filters = penultimate_filters // 24
    x = layers.Conv2D(stem_block_filters, (3, 3), strides=(2, 2), padding="valid",
                      use_bias=False, kernel_initializer="he_normal", name="stem_conv1")(img_input)
    x = _bn(x, "stem_bn1")
    x, p = _reduction_a_cell(x, None, filters // filter_multiplier ** 2, "stem_1")
    x, p = _reduction_a_cell(x, p, filters // filter_multiplier, "stem_2")
    for stage in range(3):
        if stage:
            x, p0 = _reduction_a_cell(x, p, filters, f"reduce_{stage * num_blocks}")
            p = p if skip_reduction else p0
        for i in range(num_blocks):  # Keras numbers the cells after the first stage from 1
            x, p = _normal_a_cell(x, p, filters, str(stage * num_blocks + i + bool(stage)))
        filters *= filter_multiplier
    x = layers.Activation("relu")(x)
    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights,
                               pool_names=(None, None), top_pool_name=None)
    file_name = file_hash = origin = None
    if default_size in _FILES:
        file_name, published, file_hash = _FILES[default_size][0 if include_top else 1]
        origin = BASE_WEIGHTS_PATH + published
    return _common.finish(img_input, input_tensor, x, name, weights, BASE_WEIGHTS_PATH,
                          file_name, file_hash, origin)


_DOC_ARGS = dict(raises="invalid `weights`, `classes`, `input_shape` or activation, or the "
                        "'channels_first' data format.")


@_docs.document(size=224, **_DOC_ARGS)
def NASNetMobile(input_shape=None, include_top=True, weights="imagenet", input_tensor=None,
                 pooling=None, classes=1000, classifier_activation="softmax",
                 name="nasnet_mobile"):
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)  # Keras's default here, not a size-free input
    return NASNet(input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32,
                  skip_reduction=False, filter_multiplier=2, include_top=include_top,
                  weights=weights, input_tensor=input_tensor, pooling=pooling, classes=classes,
                  default_size=224, classifier_activation=classifier_activation, name=name)


@_docs.document(size=331, **_DOC_ARGS)
def NASNetLarge(input_shape=None, include_top=True, weights="imagenet", input_tensor=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="nasnet_large"):
    return NASNet(input_shape, penultimate_filters=4032, num_blocks=6, stem_block_filters=96,
                  skip_reduction=True, filter_multiplier=2, include_top=include_top,
                  weights=weights, input_tensor=input_tensor, pooling=pooling, classes=classes,
                  default_size=331, classifier_activation=classifier_activation, name=name)


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions

__all__ = ["NASNetLarge", "NASNetMobile", "decode_predictions", "preprocess_input"]
