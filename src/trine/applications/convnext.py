"""ConvNeXtTiny / Small / Base / Large / XLarge (Keras `keras.applications.convnext`).

Liu et al., "A ConvNet for the 2020s" (CVPR 2022). The models take pixels in [0, 255]: the
ImageNet normalization is a layer of the model unless `include_preprocessing=False`, and
`preprocess_input` is the identity, as in Keras. The stem and the downsampling blocks are
nested `Sequential` models and every name follows Keras's, so Keras's weight files load.
"""
from __future__ import annotations

from trine.applications import _common, _docs, imagenet_utils
from trine.layers import Layer
from trine.saving import register_serializable

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"
WEIGHTS_HASHES = {  # (with top, without top), sha256
    "convnext_tiny": ("8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
                      "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
    "convnext_small": ("ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
                       "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab"),
    "convnext_base": ("52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
                      "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45"),
    "convnext_large": ("070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
                       "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd"),
    "convnext_xlarge": ("c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
                        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05"),
}
_CONFIGS = {  # variant: (blocks per stage, channels per stage)
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}
_EPS = 1e-6


@register_serializable(package="trine.applications.convnext")
class LayerScale(Layer):
    """Multiplies each channel by a learned scale, initialized to `init_values` (small, so a
    residual block starts close to the identity; Touvron et al., CaiT, 2021)."""

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape):
        from trine import initializers
        self.gamma = self.add_weight(shape=(self.projection_dim,), name="gamma",
                                     initializer=initializers.Constant(self.init_values))
        self.built = True

    def call(self, x):
        return x * self.gamma

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(init_values=self.init_values, projection_dim=self.projection_dim)
        return config


def convnext_block(x, channels, drop_path_rate, layer_scale_init_value, name):
    """7x7 depthwise conv, LayerNorm, 4x inverted bottleneck (pointwise Dense, GELU),
    layer scale and stochastic depth on the residual branch."""
    from trine import layers
    y = layers.Conv2D(channels, 7, padding="same", groups=channels,
                      name=f"{name}_depthwise_conv")(x)
    y = layers.LayerNormalization(epsilon=_EPS, name=f"{name}_layernorm")(y)
    y = layers.Dense(4 * channels, name=f"{name}_pointwise_conv_1")(y)
    y = layers.Activation("gelu", name=f"{name}_gelu")(y)
    y = layers.Dense(channels, name=f"{name}_pointwise_conv_2")(y)
    if layer_scale_init_value is not None:
        y = LayerScale(layer_scale_init_value, channels, name=f"{name}_layer_scale")(y)
    if drop_path_rate:
        # stochastic depth: drop the whole branch per sample, as Keras's StochasticDepth
        y = layers.Dropout(drop_path_rate, noise_shape=(None, 1, 1, 1),
                           name=f"{name}_stochastic_depth")(y)
    else:
        y = layers.Activation("linear", name=f"{name}_identity")(y)
    return x + y


def _downsampling(channels, stage, name):
    """The nested model that opens stage `stage`: the 4x4 stem, or LayerNorm and 2x2 conv."""
    from trine import layers
    from trine.models.sequential import Sequential
    if stage == 0:
        return Sequential([
            layers.Conv2D(channels, 4, strides=4, name=f"{name}_stem_conv"),
            layers.LayerNormalization(epsilon=_EPS, name=f"{name}_stem_layernorm"),
        ], name=f"{name}_stem")
    i = stage - 1
    return Sequential([
        layers.LayerNormalization(epsilon=_EPS, name=f"{name}_downsampling_layernorm_{i}"),
        layers.Conv2D(channels, 2, strides=2, name=f"{name}_downsampling_conv_{i}"),
    ], name=f"{name}_downsampling_block_{i}")


def ConvNeXt(depths, projection_dims, drop_path_rate=0.0, layer_scale_init_value=1e-6,
             default_size=224, name="convnext", include_preprocessing=True, include_top=True,
             weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", weights_name=None):
    """Build a ConvNeXt with `depths[i]` blocks of `projection_dims[i]` channels in stage i."""
    import numpy as np

    from trine import config, layers
    if config.image_data_format() == "channels_first":
        raise ValueError("ConvNeXt supports only the 'channels_last' image data format; the "
                         "global setting is 'channels_first'. Call "
                         "trine.config.set_image_data_format('channels_last') first.")
    if weights == "imagenet":
        _check_imagenet_variant(depths, projection_dims, name, weights_name)
    img_input = _common.image_input(name, weights, include_top, classes, input_tensor,
                                    input_shape, default_size)
    x = img_input
    # the channels obtain_input_shape settles on: the user's, else 3
    if include_preprocessing and (3 if not input_shape else input_shape[-1]) == 3:
        x = layers.Normalization(
            mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
            variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
            name=f"{name}_prestem_normalization")(x)
    rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    done = 0
    for stage, (blocks, channels) in enumerate(zip(depths, projection_dims)):
        x = _downsampling(channels, stage, name)(x)
        for j in range(blocks):
            x = convnext_block(x, channels, rates[done + j], layer_scale_init_value,
                               name=f"{name}_stage_{stage}_block_{j}")
        done += blocks
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=_EPS, name=f"{name}_head_layernorm")(x)
        x = layers.Dense(classes, activation=classifier_activation,
                         name=f"{name}_head_dense")(x)
    else:
        x = _common.pool(x, pooling, name=None, max_name=None)
        x = layers.LayerNormalization(epsilon=_EPS)(x)
    file_name, file_hash = _common.published_file(WEIGHTS_HASHES, weights_name, include_top,
                                                  "{key}{top}.h5")
    return _common.finish(img_input, input_tensor, x, name, weights, BASE_WEIGHTS_PATH,
                          file_name, file_hash)


def _check_imagenet_variant(depths, projection_dims, name, weights_name):
    """Keras's rules for ImageNet weights: the variant's exact shape, and its name."""
    variant = str(weights_name).split("convnext_")[-1]
    if variant not in _CONFIGS:
        raise ValueError(f"ConvNeXt: weights='imagenet' needs weights_name in "
                         f"{sorted(WEIGHTS_HASHES)}; received weights_name={weights_name!r}.")
    want_depths, want_dims = _CONFIGS[variant]
    if tuple(depths) != want_depths or tuple(projection_dims) != want_dims:
        raise ValueError(
            f"ConvNeXt: the ImageNet weights of {weights_name} need depths={list(want_depths)} "
            f"and projection_dims={list(want_dims)}; received depths={list(depths)}, "
            f"projection_dims={list(projection_dims)}. Pass weights=None for another shape.")
    if weights_name not in name:
        raise ValueError(
            f"ConvNeXt: with weights='imagenet' the model name must contain {weights_name!r} "
            f"(the layer names carry it, and the weights file names them); received "
            f"name={name!r}. Pass weights=None, or a name such as '{weights_name}_custom'.")


def _variant(public_name, variant):
    depths, dims = _CONFIGS[variant]
    weights_name = f"convnext_{variant}"

    def build(include_top=True, include_preprocessing=True, weights="imagenet",
              input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=weights_name):
        return ConvNeXt(depths, dims, name=name, include_preprocessing=include_preprocessing,
                        include_top=include_top, weights=weights, input_tensor=input_tensor,
                        input_shape=input_shape, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name=weights_name)

    build.__name__ = build.__qualname__ = public_name
    return _docs.document(
        build, returns=_docs.SELF_NORMALIZING,
        raises="invalid `weights`, `classes`, `input_shape`, `name` or activation, or the "
               "'channels_first' data format.",
        include_preprocessing="whether the model normalizes [0, 255] pixels by the ImageNet "
                              "mean and std itself (keep True with ImageNet weights).")


ConvNeXtTiny = _variant("ConvNeXtTiny", "tiny")
ConvNeXtSmall = _variant("ConvNeXtSmall", "small")
ConvNeXtBase = _variant("ConvNeXtBase", "base")
ConvNeXtLarge = _variant("ConvNeXtLarge", "large")
ConvNeXtXLarge = _variant("ConvNeXtXLarge", "xlarge")

preprocess_input = imagenet_utils.pass_through
decode_predictions = imagenet_utils.decode_predictions

__all__ = ["ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
           "LayerScale", "decode_predictions", "preprocess_input"]
