"""DenseNet121 / 169 / 201 (Keras `keras.applications.densenet`).

Huang et al., "Densely Connected Convolutional Networks" (CVPR 2017). Layer names follow
Keras's, so Keras's published weight files load.
"""
from __future__ import annotations

from trine.applications import _common, imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
_HASHES = {  # blocks: (family, md5 with top, md5 without)
    (6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7",
                      "30ee3e1110167f948a6b9946edeeb738"),
    (6, 12, 32, 32): ("densenet169", "d699b8f76981ab1b30698df4c175e90b",
                      "b8c4d4c20dd625c148057b9ff1c1176b"),
    (6, 12, 48, 32): ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807",
                      "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_EPS = 1.001e-5


def dense_block(x, blocks, name):
    """`blocks` conv blocks, each concatenating 32 new channels onto its input."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN-ReLU, a 1x1 convolution keeping `reduction` of the channels, 2x2 average pool."""
    from trine import layers
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 conv (4 * growth_rate), BN-ReLU-3x3 conv (growth_rate), concatenated."""
    from trine import layers
    y = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_0_bn")(x)
    y = layers.Activation("relu", name=f"{name}_0_relu")(y)
    y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, y])


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="densenet"):
    """Build a DenseNet with `blocks` conv blocks in each of its four dense blocks."""
    from trine import config, layers
    if config.image_data_format() == "channels_first":
        raise ValueError("DenseNet supports only the 'channels_last' image data format; the "
                         "global setting is 'channels_first'. Call "
                         "trine.config.set_image_data_format('channels_last') first.")
    _common.check_weights(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = _common.make_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, n in enumerate(blocks):
        x = dense_block(x, n, name=f"conv{i + 2}")
        if i < 3:
            x = transition_block(x, 0.5, name=f"pool{i + 2}")
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _common.pool(x, pooling)
    model = _common.make_model(img_input, input_tensor, x, name)
    file_name = file_hash = None
    if tuple(blocks) in _HASHES:
        family, with_top, no_top = _HASHES[tuple(blocks)]
        suffix = "" if include_top else "_notop"
        file_name = f"{family}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        file_hash = with_top if include_top else no_top
    return _common.load_weights(model, weights, base_url=BASE_WEIGHTS_PATH,
                                file_name=file_name, file_hash=file_hash)


_DOC = """{name} (Keras `keras.applications.{name}`).

    Args:
        include_top: whether to end with the classifier.
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
        A Functional model; feed it images through `densenet.preprocess_input`.

    Raises:
        ValueError: invalid `weights`, `classes`, `input_shape` or activation, or the
            'channels_first' data format.

    Example:
        >>> model = {name}(weights=None, include_top=False, input_shape=(32, 32, 3))
    """


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet121"):
    return DenseNet((6, 12, 24, 16), include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet169"):
    return DenseNet((6, 12, 32, 32), include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet201"):
    return DenseNet((6, 12, 48, 32), include_top, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation, name)


for _fn in (DenseNet121, DenseNet169, DenseNet201):
    _fn.__doc__ = _DOC.format(name=_fn.__name__)


def preprocess_input(x, data_format=None):
    """ImageNet "torch" preprocessing: scaled to [0, 1], normalized by ImageNet mean / std."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """The top ImageNet classes of each prediction (see `imagenet_utils.decode_predictions`)."""
    return imagenet_utils.decode_predictions(preds, top=top)


__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "decode_predictions",
           "preprocess_input"]
