"""What every application does around its architecture: check the arguments, make the input,
wrap the graph in a model, and load weights (ImageNet through `get_file`, or a local file)."""
from __future__ import annotations

import os
import warnings


def check_weights(weights, include_top, classes, name):
    """Keras's rules on `weights` / `classes`, with errors that say what to pass instead."""
    if not (weights in ("imagenet", None) or (isinstance(weights, (str, os.PathLike))
                                              and os.path.exists(weights))):
        raise ValueError(
            f"{name}: weights must be None (random initialization), 'imagenet' (pre-trained "
            "on ImageNet) or the path of an existing weights file; received "
            f"weights={weights!r}. Check the path, or pass weights=None.")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            f"{name}: with weights='imagenet' and include_top=True, classes must be 1000; "
            f"received classes={classes}. Pass weights=None to train a classifier with "
            "another number of classes, or include_top=False to add your own.")


def image_input(name, weights, include_top, classes, input_tensor, input_shape, default_size,
                min_size=32):
    """What every builder does first: check `weights` / `classes`, settle the input shape by
    Keras's rules (`imagenet_utils.obtain_input_shape`) and make the image input."""
    from trine import config
    from trine.applications import imagenet_utils
    check_weights(weights, include_top, classes, name)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=min_size,
        data_format=config.image_data_format(), require_flatten=include_top, weights=weights)
    return make_input(input_tensor, input_shape)


def classifier_top(x, include_top, pooling, classes, classifier_activation, weights, *,
                   dropout_rate=0.0, pool_names=("avg_pool", "max_pool"),
                   top_pool_name="avg_pool", **dense_kwargs):
    """What most builders end with: global average pool (`top_pool_name`), optional dropout
    and the `predictions` Dense; without the top, the optional `pooling` (`pool_names`)."""
    from trine import layers
    from trine.applications import imagenet_utils
    if not include_top:
        return pool(x, pooling, *pool_names)
    x = layers.GlobalAveragePooling2D(name=top_pool_name)(x)
    if dropout_rate > 0:
        x = layers.Dropout(dropout_rate, name="top_dropout")(x)
    imagenet_utils.validate_activation(classifier_activation, weights)
    return layers.Dense(classes, activation=classifier_activation, name="predictions",
                        **dense_kwargs)(x)


def finish(img_input, input_tensor, outputs, name, weights, base_url=None, file_name=None,
           file_hash=None, origin=None):
    """Wrap the graph in a model called `name` and load `weights` into it."""
    model = make_model(img_input, input_tensor, outputs, name)
    return load_weights(model, weights, base_url=base_url, file_name=file_name,
                        file_hash=file_hash, origin=origin)


def variant(public_name, build, default_name, module=None, **fixed):
    """A public builder `public_name` of `module` (default: `build`'s) with Keras's usual
    signature, calling `build` with the family's `fixed` arguments (depths, weights) added."""
    def application(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                    pooling=None, classes=1000, classifier_activation="softmax",
                    name=default_name):
        return build(include_top=include_top, weights=weights, input_tensor=input_tensor,
                     input_shape=input_shape, pooling=pooling, classes=classes,
                     classifier_activation=classifier_activation, name=name, **fixed)

    application.__name__ = application.__qualname__ = public_name
    application.__module__ = module or build.__module__
    return application


def published_file(hashes, key, include_top, template, notop="_notop"):
    """(file name, md5) of the published weights of `key` (`template` formatted with `key`
    and `top`), or (None, None) where none are published."""
    if key not in hashes:
        return None, None
    file_name = template.format(key=key, top="" if include_top else notop)
    return file_name, hashes[key][0 if include_top else 1]


def bn_axis():
    from trine import config
    return 1 if config.image_data_format() == "channels_first" else 3


def make_input(input_tensor, input_shape):
    """The model's image input: a new `Input`, or the user's `input_tensor`."""
    from trine.layers.core import Input
    from trine.utils import is_keras_tensor
    if input_tensor is None:
        return Input(shape=input_shape)
    if not is_keras_tensor(input_tensor):
        return Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def pool(x, pooling, name="avg_pool", max_name="max_pool"):
    """The optional global pooling of `include_top=False` models."""
    from trine import layers
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    if pooling is not None:
        raise ValueError(f"pooling must be None, 'avg' or 'max'; received pooling={pooling!r}.")
    return x


def make_model(img_input, input_tensor, outputs, name):
    from trine.models.functional import Functional
    from trine.utils import get_source_inputs
    inputs = get_source_inputs(input_tensor) if input_tensor is not None else img_input
    return Functional(inputs, outputs, name=name)


def load_weights(model, weights, *, base_url=None, file_name=None, file_hash=None,
                 origin=None):
    """Load `weights` into `model`: "imagenet" (download `file_name` from `base_url` into the
    cache, once; from `origin` where the published file is named otherwise), a Keras legacy
    `.h5` file, a `.weights.h5` file or a `.keras` archive."""
    if weights is None:
        return model
    if weights == "imagenet":
        if file_name is None:
            raise ValueError(f"{model.name}: no ImageNet weights are published for this "
                             "configuration; pass weights=None or the path of a weights file.")
        path = fetch(file_name, origin or base_url + file_name, file_hash)
    else:
        path = os.fspath(weights)
    load_file(model, path)
    return model


def fetch(file_name, origin, file_hash):
    from trine.dataset_utils.get_file import get_file, trine_home
    try:
        return get_file(file_name, origin, cache_subdir="models", file_hash=file_hash)
    except OSError as e:
        where = os.path.join(trine_home(), "models", file_name)
        raise OSError(
            f"weights='imagenet' needs {file_name!r}, which is not in the cache ({where}) and "
            f"could not be downloaded from {origin} ({e}). Download it where the network "
            f"allows and copy it to {where}, or pass weights='/path/to/{file_name}'.") from e


def load_file(model, path):
    from trine.saving.legacy_h5 import is_legacy_h5, load_legacy_h5_weights
    from trine.saving.safe_h5 import SafeH5Reader
    if path.endswith(".h5") and not path.endswith(".weights.h5"):
        with SafeH5Reader(path, label=f"weights file {path!r}") as reader:
            legacy = is_legacy_h5(reader)
        if legacy:
            load_legacy_h5_weights(model, path)
            return
    model.load_weights(path)


def square_default_size(input_shape, input_tensor, sizes, fallback=224):
    """The published resolution a user's shape (or input tensor) asks for, else `fallback`
    (MobileNet's weights exist for a few square sizes only)."""
    from trine import config
    from trine.utils import is_keras_tensor
    first = config.image_data_format() == "channels_first"
    if input_shape is not None:
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be a tuple of three integers (height, width, "
                             f"channels); received input_shape={tuple(input_shape)}.")
        rows, cols = (input_shape[1], input_shape[2]) if first else input_shape[:2]
    elif input_tensor is not None and is_keras_tensor(input_tensor):
        shape = input_tensor.shape
        rows, cols = (shape[2], shape[3]) if first else (shape[1], shape[2])
    else:
        return fallback
    return rows if rows == cols and rows in sizes else fallback


def image_size(input_shape):
    """(rows, cols) of an image shape in the global data format."""
    from trine import config
    if config.image_data_format() == "channels_first":
        return input_shape[1], input_shape[2]
    return input_shape[0], input_shape[1]


def published_side(input_shape, sizes):
    """The side of the square published weights to load for `input_shape`: its own where it
    is square with a side in `sizes`, else 224 (with a warning)."""
    rows, cols = image_size(input_shape)
    if rows == cols and rows in sizes:
        return rows
    warnings.warn(f"input_shape {input_shape} is not square with a side in {sizes}; the "
                  "weights for 224x224 are loaded.", stacklevel=3)
    return 224


def check_input_tensor(input_tensor, input_shape):
    """With both given, the tensor's width must be the shape's (Keras's MobileNet rule)."""
    from trine import config
    from trine.utils import is_keras_tensor
    if input_shape is None or input_tensor is None:
        return
    if not is_keras_tensor(input_tensor):
        raise ValueError(f"input_tensor must be a symbolic tensor (from trine.Input or a layer "
                         f"called on one); received {type(input_tensor).__name__}.")
    first = config.image_data_format() == "channels_first"
    got, want = (input_tensor.shape[1 if first else 2], input_shape[1])
    if got != want:
        raise ValueError(f"input_tensor.shape={tuple(input_tensor.shape)} does not agree with "
                         f"input_shape={tuple(input_shape)}; pass one of them, or matching ones.")


def make_divisible(v, divisor, min_value=None):
    """`v` rounded to a multiple of `divisor`, never more than 10% below `v`."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


__all__ = ["bn_axis", "check_input_tensor", "check_weights", "classifier_top", "fetch",
           "finish", "image_input", "image_size", "load_file", "load_weights", "make_divisible",
           "make_input", "make_model", "pool", "published_file", "published_side",
           "square_default_size", "variant"]
