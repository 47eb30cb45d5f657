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
    """Training curves from a History (see trine.inspect.history)."""
    from trine.inspect.history import plot_history as _ph
    return _ph(*args, **kwargs)


def unpack_x_y_sample_weight(data):
    """Split a batch into (x, y, sample_weight), as Keras."""
    from trine.training.trainer import unpack_x_y_sample_weight as _u
    return _u(data)


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


__all__ = ["compare_models", "model_to_dot", "plot_history", "plot_model", "set_random_seed",
           "to_categorical", "unpack_x_y_sample_weight"]
