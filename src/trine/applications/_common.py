"""What every application does around its architecture: check the arguments, make the input,
wrap the graph in a model, and load weights (ImageNet through `get_file`, or a local file)."""
from __future__ import annotations

import os


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


def load_weights(model, weights, *, base_url=None, file_name=None, file_hash=None):
    """Load `weights` into `model`: "imagenet" (download `file_name` from `base_url` into the
    cache, once), a Keras legacy `.h5` file, a `.weights.h5` file or a `.keras` archive."""
    if weights is None:
        return model
    if weights == "imagenet":
        if file_name is None:
            raise ValueError(f"{model.name}: no ImageNet weights are published for this "
                             "configuration; pass weights=None or the path of a weights file.")
        path = fetch(file_name, base_url + file_name, file_hash)
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


__all__ = ["bn_axis", "check_input_tensor", "check_weights", "fetch", "load_file", "load_weights",
           "make_divisible", "make_input", "make_model", "pool", "square_default_size"]
