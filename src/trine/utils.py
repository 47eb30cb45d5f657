"""Utilities (Keras `keras.utils`)."""
from trine.core.random import set_random_seed


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Draw the model's graph to PNG or SVG (see trine.inspect.plot)."""
    from trine.inspect.plot import plot_model as _plot
    return _plot(model, to_file=to_file, show_shapes=show_shapes, show_dtype=show_dtype,
                 show_layer_names=show_layer_names, rankdir=rankdir, expand_nested=expand_nested,
                 dpi=dpi, show_layer_activations=show_layer_activations,
                 show_trainable=show_trainable, **kwargs)


def compare_models(*args, **kwargs):
    """Compare two models' structure, weights and outputs (see trine.inspect.compare)."""
    from trine.inspect.compare import compare_models as _cmp
    return _cmp(*args, **kwargs)


def model_to_dot(*args, **kwargs):
    """The model's graph as Graphviz DOT text (see trine.inspect.plot)."""
    from trine.inspect.plot import model_to_dot as _dot
    return _dot(*args, **kwargs)


def plot_history(*args, **kwargs):
    """Training curves from a History (see trine.training.history_plot)."""
    from trine.inspect.history import plot_history as _ph
    return _ph(*args, **kwargs)


def unpack_x_y_sample_weight(data):
    """Split a batch into (x, y, sample_weight), as Keras."""
    from trine.training.trainer import unpack_x_y_sample_weight as _u
    return _u(data)


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """A batch tuple from its parts, as `unpack_x_y_sample_weight` reads it (Keras's).

    Returns:
        `x` alone (or `(x,)` when `x` is itself a tuple or list) without `y`; `(x, y)`
        without weights; `(x, y, sample_weight)` otherwise.
    """
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def is_keras_tensor(x) -> bool:
    """Whether `x` is a symbolic tensor (from `Input` or a layer called on one)."""
    from trine.core.symbolic import KerasTensor
    return isinstance(x, KerasTensor)


def get_source_inputs(tensor) -> list:
    """The `Input` tensors a symbolic tensor was computed from, in first-seen order.

    A tensor with no recorded history (or an `Input` itself) is its own source.
    """
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return [tensor]
    layer, node_index, _ = history
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if node_index >= len(nodes) or not nodes[node_index].input_tensors:
        return [tensor]
    sources = []
    for t in nodes[node_index].input_tensors:
        for s in get_source_inputs(t):
            if not any(s is seen for seen in sources):
                sources.append(s)
    return sources


def to_categorical(x, num_classes=None):
    """One-hot encode integer labels as float32 (Keras `to_categorical`)."""
    import numpy as np
    x = np.asarray(x, dtype="int64")
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), received "
                         f"values from {x.min()} to {x.max()}.")
    out = np.zeros((x.size, num_classes), dtype="float32")
    out[np.arange(x.size), x] = 1.0
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (zero vectors stay zero), as NumPy."""
    import numpy as np
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (or cut) a list of sequences to one length, as a NumPy array (Keras's
    `pad_sequences`): `padding` / `truncating` "pre" work at the start, "post" at the end."""
    import numpy as np
    for arg, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {arg} must be 'pre' or 'post', received {v!r}.")
    try:
        lengths = [len(s) for s in sequences]
    except TypeError:
        raise ValueError("pad_sequences: sequences must be a list of sequences (lists or "
                         "arrays), received an element without a length.") from None
    if maxlen is None:
        maxlen = max(lengths, default=0)
    sample_shape = ()
    for s in sequences:
        if len(s):
            sample_shape = np.asarray(s).shape[1:]
            break
    out = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or not maxlen:
            continue
        s = np.asarray(s, dtype=dtype)
        if s.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: sequence {i} has items of shape {s.shape[1:]}, "
                             f"the others {sample_shape}; all items must share a shape.")
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "post":
            out[i, :len(s)] = s
        else:
            out[i, -len(s):] = s
    return out


# Keras 3 also exposes these under keras.utils; they live in trine.saving (loaded on use)
_FROM_SAVING = {"register_keras_serializable", "get_registered_name", "get_registered_object",
                "serialize_keras_object", "deserialize_keras_object", "custom_object_scope",
                "CustomObjectScope", "get_custom_objects"}


# Data utilities, loaded on first use (they import Pillow, wave, urllib lazily in turn)
_FROM_MODULES = {
    "PyDataset": "trine.training.pydataset", "Sequence": "trine.training.pydataset",
    "image_dataset_from_directory": "trine.dataset_utils.directory",
    "text_dataset_from_directory": "trine.dataset_utils.directory",
    "audio_dataset_from_directory": "trine.dataset_utils.directory",
    "timeseries_dataset_from_array": "trine.dataset_utils.timeseries",
    "split_dataset": "trine.dataset_utils.timeseries",
    "load_img": "trine.dataset_utils.images", "img_to_array": "trine.dataset_utils.images",
    "array_to_img": "trine.dataset_utils.images", "save_img": "trine.dataset_utils.images",
    "get_file": "trine.dataset_utils.get_file",
    # settings and helpers Keras also lists under keras.utils
    "standardize_dtype": "trine.backend", "clear_session": "trine.backend",
    "Progbar": "trine.training.progbar", "enable_interactive_logging": "trine.config",
    "disable_interactive_logging": "trine.config",
    "is_interactive_logging_enabled": "trine.config",
}


def __getattr__(name):
    if name in _FROM_SAVING:
        from trine.saving import serialization
        return getattr(serialization, name)
    if name in _FROM_MODULES:
        import importlib
        return getattr(importlib.import_module(_FROM_MODULES[name]), name)
    raise AttributeError(f"module 'trine.utils' has no attribute {name!r}")


__all__ = ["compare_models", "get_source_inputs", "is_keras_tensor", "model_to_dot",
           "normalize", "pack_x_y_sample_weight", "pad_sequences", "plot_history", "plot_model",
           "set_random_seed", "to_categorical", "unpack_x_y_sample_weight",
           *sorted(_FROM_SAVING), *sorted(_FROM_MODULES)]
