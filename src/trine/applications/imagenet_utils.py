"""ImageNet helpers shared by the applications (Keras `keras.applications.imagenet_utils`).

`preprocess_input` in Keras's three modes, `decode_predictions` (the class index file is
fetched once through `get_file` into `<cache>/models/`), and the input-shape, padding and
classifier-activation rules every application applies.
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np

CLASS_INDEX = None
CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/"
                    "data/imagenet_class_index.json")
_CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

_CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


_MODE_DOCS = {
    "caffe": 'ImageNet "caffe" preprocessing: RGB to BGR, minus the channel means, no scaling.',
    "tf": 'ImageNet "tf" preprocessing: pixels scaled to [-1, 1].',
    "torch": 'ImageNet "torch" preprocessing: scaled to [0, 1], normalized by ImageNet mean / '
             "std.",
}


def preprocessor(mode):
    """A family's `preprocess_input(x, data_format=None)`: `preprocess_input` in `mode`."""
    def family_preprocess_input(x, data_format=None):
        return preprocess_input(x, data_format=data_format, mode=mode)

    family_preprocess_input.__name__ = family_preprocess_input.__qualname__ = "preprocess_input"
    family_preprocess_input.__doc__ = _MODE_DOCS[mode]
    return family_preprocess_input


def pass_through(x, data_format=None):
    """The identity: the family's models rescale / normalize their [0, 255] input themselves
    (Keras keeps `preprocess_input` for compatibility). `data_format` is ignored."""
    return x


def _data_format(data_format):
    from trine import config
    if data_format is None:
        return config.image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("preprocess_input: data_format must be 'channels_first' or "
                         f"'channels_last' (or None for the global setting), received "
                         f"data_format={data_format!r}.")
    return data_format


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocess a batch of images with values in [0, 255] the way a model was trained.

    Args:
        x: a float NumPy array or a tensor (eager or symbolic), 3D or 4D with 3 channels.
            A float NumPy array is modified in place, as in Keras (pass `np.copy(x)` to
            keep it).
        data_format: "channels_last" / "channels_first"; None uses the global setting.
        mode: "caffe" (RGB to BGR, minus the ImageNet channel means), "tf" (scale to
            [-1, 1]) or "torch" (scale to [0, 1], then normalize by ImageNet mean / std).

    Returns:
        The preprocessed array (float32 for integer NumPy input) or tensor.

    Raises:
        ValueError: an unknown `mode` or `data_format`.

    Example:
        >>> x = preprocess_input(np.full((1, 224, 224, 3), 255.0), mode="tf")  # all 1.0
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError("preprocess_input: mode must be one of 'caffe', 'tf' or 'torch', "
                         f"received mode={mode!r}.")
    data_format = _data_format(data_format)
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_view(x, data_format, c):
    if data_format == "channels_first":
        return (c, Ellipsis) if x.ndim == 3 else (slice(None), c, Ellipsis)
    return (Ellipsis, c)


def _preprocess_numpy(x, data_format, mode):
    from trine import config
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(config.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        axis = (0 if x.ndim == 3 else 1) if data_format == "channels_first" else -1
        x = np.flip(x, axis=axis)
        mean, std = _CAFFE_MEAN, None
    for c in range(3):
        idx = _channel_view(x, data_format, c)
        x[idx] -= mean[c]
        if std is not None:
            x[idx] /= std[c]
    return x


def _preprocess_tensor(x, data_format, mode):
    from trine import ops
    ndim = len(x.shape)
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        x = x / 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        if data_format == "channels_first":
            axis = 0 if ndim == 3 else 1
            x = ops.stack([x[i, ...] if ndim == 3 else x[:, i] for i in (2, 1, 0)], axis=axis)
        else:
            x = ops.stack([x[..., i] for i in (2, 1, 0)], axis=-1)
        mean, std = _CAFFE_MEAN, None
    if data_format == "channels_first":
        shape = (3, 1, 1) if ndim == 3 else (1, 3) + (1,) * (ndim - 2)
    else:
        shape = (1,) * (ndim - 1) + (3,)
    x = x + ops.reshape(ops.convert_to_tensor(-np.array(mean), dtype=x.dtype), shape)
    if std is not None:
        x = x / ops.reshape(ops.convert_to_tensor(np.array(std), dtype=x.dtype), shape)
    return x


def _load_class_index():
    from trine.dataset_utils.get_file import get_file, trine_home
    try:
        fpath = get_file("imagenet_class_index.json", CLASS_INDEX_PATH,
                         cache_subdir="models", file_hash=_CLASS_INDEX_HASH)
    except OSError as e:
        where = os.path.join(trine_home(), "models", "imagenet_class_index.json")
        raise OSError(
            "decode_predictions needs the ImageNet class index file "
            f"'imagenet_class_index.json', which is not in the cache ({where}) and could not "
            f"be downloaded from {CLASS_INDEX_PATH} ({e}). Download it on a machine with "
            f"network access and copy it to {where}.") from e
    with open(fpath, encoding="utf-8") as f:
        index = json.load(f)
    if (not isinstance(index, dict) or len(index) != 1000
            or not all(isinstance(v, list) and len(v) == 2 and all(isinstance(s, str) for s in v)
                       for v in index.values())):
        raise ValueError(f"decode_predictions: {fpath!r} is not an ImageNet class index (a "
                         "JSON object of 1000 entries '<index>': [wnid, name]). Delete it so "
                         "it is downloaded again.")
    return index


def decode_predictions(preds, top=5):
    """The top classes of a batch of ImageNet predictions.

    Args:
        preds: array of shape (samples, 1000).
        top: how many classes to return per sample.

    Returns:
        One list per sample of `(class_name, class_description, score)` tuples, best first.

    Raises:
        ValueError: `preds` is not of shape (samples, 1000).
        OSError: the class index file is not cached and cannot be downloaded.

    Example:
        >>> decode_predictions(model.predict(x), top=3)[0][0]  # ('n02123045', 'tabby', 0.8)
    """
    global CLASS_INDEX
    shape = tuple(getattr(preds, "shape", ()))
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError("decode_predictions expects a batch of ImageNet predictions, a 2D "
                         f"array of shape (samples, 1000); received shape {shape}.")
    if CLASS_INDEX is None:
        CLASS_INDEX = _load_class_index()
    results = []
    for pred in np.asarray(preds):
        best = pred.argsort()[-top:][::-1]
        result = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in best]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten,
                       weights=None):
    """Check a user's `input_shape` against an application's rules; return the shape to use.

    Raises:
        ValueError: a shape of the wrong rank, too small, without 3 channels for ImageNet
            weights, not the default size when the classifier needs it, or not static when
            `include_top=True`.
    """
    first = data_format == "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        ch = input_shape[0] if first else input_shape[-1]
        if ch not in (1, 3):
            warnings.warn(f"This model usually expects 1 or 3 input channels; input_shape="
                          f"{input_shape} has {ch}.", stacklevel=3)
        default = ((ch, default_size, default_size) if first
                   else (default_size, default_size, ch))
    else:
        default = (3, default_size, default_size) if first else (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default:
            raise ValueError(
                "With include_top=True and weights='imagenet', input_shape must be "
                f"{default} (the size the classifier was trained at); received input_shape="
                f"{tuple(input_shape)}. Pass include_top=False to use another size.")
        return default
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be a tuple of three integers (height, width, "
                             f"channels); received input_shape={input_shape}.")
        ch = input_shape[0] if first else input_shape[-1]
        size = input_shape[1:] if first else input_shape[:2]
        if ch != 3 and weights == "imagenet":
            raise ValueError(f"With weights='imagenet' the input must have 3 channels; "
                             f"received input_shape={input_shape}.")
        if any(s is not None and s < min_size for s in size):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; received "
                             f"input_shape={input_shape}.")
    else:
        input_shape = default if require_flatten else (
            (3, None, None) if first else (None, None, 3))
    if require_flatten and None in input_shape:
        raise ValueError("With include_top=True the input shape must be static; received "
                         f"input_shape={input_shape}. Give every dimension, or pass "
                         "include_top=False.")
    return input_shape


def correct_pad(inputs, kernel_size):
    """The ZeroPadding2D padding that makes a strided 'valid' conv behave like 'same'."""
    from trine import config
    axis = 2 if config.image_data_format() == "channels_first" else 1
    size = inputs.shape[axis:axis + 2]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))


def validate_activation(classifier_activation, weights):
    """Pretrained classifiers allow only `None` or "softmax" as their activation."""
    if weights is None:
        return
    from trine import activations
    act = activations.get(classifier_activation)
    if act not in (activations.get("softmax"), activations.get(None)):
        raise ValueError(
            "With pretrained weights, classifier_activation must be None or 'softmax'; "
            f"received classifier_activation={classifier_activation!r}. Pass weights=None to "
            "train a classifier with another activation.")


__all__ = ["correct_pad", "decode_predictions", "obtain_input_shape", "pass_through",
           "preprocess_input", "preprocessor", "validate_activation"]
