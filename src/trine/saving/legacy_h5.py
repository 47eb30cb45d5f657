"""Keras's legacy HDF5 weights layout (Keras 2's `save_weights("x.h5")`), read-only and vetted.

Keras's published application weights (ImageNet ResNet50, VGG16, ...) use this layout: the
root (or a `model_weights` group) lists `layer_names`; each layer's group lists its
`weight_names`, datasets at those (possibly nested) paths, trainable weights first. The file
is opened through `SafeH5Reader`, so links, external storage, plugin filters, odd dtypes and
size bombs are refused before anything is read; every array's shape is checked against the
model's variable before it is allocated, and nothing is assigned unless all of them fit.

Layers are matched by name where the file has a group of the layer's name (an application
built by trine has Keras's names); the rest pair up in order among layers that have weights,
as Keras pairs all of them.
"""
from __future__ import annotations

import os

import numpy as np

from trine.saving.errors import SavingError, UnsafeFileError, report_unloaded_layers
from trine.saving.safe_h5 import SafeH5Reader, ShapeMismatch
from trine.core.tracking import own_variables

_MAX_NAMES = 100_000


def _names_attr(reader, obj, key, where):
    """A list-of-strings attribute, also in Keras's chunked form (`key0`, `key1`, ...)."""
    attrs = obj.attrs
    if key in attrs:
        chunks = [attrs[key]]
    else:
        chunks, i = [], 0
        while f"{key}{i}" in attrs:
            chunks.append(attrs[f"{key}{i}"])
            i += 1
            if i > 1000:
                raise UnsafeFileError(f"Refused to load {reader.label}: attribute '{key}' at "
                                      f"'{where}' is split into more than 1000 chunks.")
        if not chunks:
            return None
    out = []
    for chunk in chunks:
        arr = np.asarray(chunk)
        if arr.size == 0:  # Keras writes an empty float array for a layer without weights
            continue
        if arr.ndim > 1 or arr.dtype.kind not in "SUO":
            raise SavingError(f"The {reader.label} is malformed: attribute '{key}' at "
                              f"'{where}' is not a list of names (dtype {arr.dtype}).")
        for n in arr.reshape(-1):
            if isinstance(n, bytes):
                n = n.decode("utf-8", "replace")
            if not isinstance(n, str):
                raise SavingError(f"The {reader.label} is malformed: attribute '{key}' at "
                                  f"'{where}' holds a {type(n).__name__}, not a name.")
            out.append(n)
    if len(out) > _MAX_NAMES:
        raise UnsafeFileError(f"Refused to load {reader.label}: {len(out)} names in '{key}'.")
    return out


def is_legacy_h5(reader: SafeH5Reader) -> bool:
    """Whether a vetted file has Keras's legacy layout (and not Keras 3's `vars` groups)."""
    if reader.get_group("vars") is not None or reader.get_group("layers") is not None:
        return False
    root = reader.get_group("model_weights") or reader.file
    return "layer_names" in root.attrs or "layer_names0" in root.attrs


def _legacy_weights(layer):
    """The weights Keras's legacy layout stores for `layer`: its own, or, for a layer made of
    sublayers (a nested model), all of theirs, trainable first."""
    return own_variables(layer) or (list(layer.trainable_weights)
                                    + list(layer.non_trainable_weights))


def _weighted_layers(model):
    return [layer for layer in model.layers if _legacy_weights(layer)]


def load_legacy_h5_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load a Keras legacy-layout `.h5` weights file into a built `model` (all or nothing).

    Args:
        model: a built model (Functional or Sequential) with the file's architecture.
        filepath: a `.h5` file in Keras's legacy weights layout, or a legacy full-model `.h5`
            file (only its `model_weights` group is read; its config is never looked at).
        skip_mismatch: skip layers whose weights do not match instead of raising.

    Raises:
        SavingError: a missing, malformed or mismatching file (nothing is loaded).
        UnsafeFileError: a file with links, external storage, oversized datasets, ...

    Example:
        >>> load_legacy_h5_weights(model, "resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No weights file at {filepath!r}.")
    if not getattr(model, "built", False):
        raise ValueError(f"Model '{model.name}' has not been built, so its weights cannot be "
                         "loaded. Call it on data or call model.build(input_shape) first.")
    with SafeH5Reader(filepath, label=f"weights file {filepath!r}") as reader:
        base = "model_weights" if reader.get_group("model_weights") is not None else ""
        root = reader.get_group(base)
        names = _names_attr(reader, root, "layer_names", base or "/")
        if names is None:
            raise SavingError(f"{filepath!r} is not a Keras legacy HDF5 weights file: it has "
                              "no 'layer_names' attribute. Keras 3 weights files end in "
                              "'.weights.h5'; load those with model.load_weights.")
        file_layers = []  # (name, group, weight names) of layers that hold weights
        for n in names:
            group = reader.get_group(f"{base}/{n}")
            if group is None:
                raise SavingError(f"The {reader.label} lists layer '{n}' but has no group "
                                  "for it.")
            wnames = _names_attr(reader, group, "weight_names", f"{base}/{n}") or []
            if wnames:
                file_layers.append((n, group, wnames))
        layers = _weighted_layers(model)
        by_name = {n: (g, w) for n, g, w in file_layers}
        named = [layer for layer in layers if layer.name in by_name]
        taken = {layer.name for layer in named}
        # layers without a same-named group (auto-named ones, say) pair up in order
        rest = [layer for layer in layers if layer.name not in taken]
        rest_file = [fl for fl in file_layers if fl[0] not in taken]
        if len(rest) != len(rest_file):
            raise SavingError(
                f"Cannot load {reader.label} into model '{model.name}': the file has "
                f"weights for {len(file_layers)} layers, the model has {len(layers)} "
                f"layers with weights ({len(named)} matched by name). Build the model with "
                "the architecture the file was saved from.")
        pairs = [(layer, layer.name, *by_name[layer.name]) for layer in named]
        pairs += [(layer, n, g, w) for layer, (n, g, w) in zip(rest, rest_file)]
        pending, problems = [], []
        for layer, n, group, wnames in pairs:
            own = _legacy_weights(layer)
            where = f"layer '{layer.name}' ({type(layer).__name__}) from group '{n}'"
            if len(own) != len(wnames):
                problems.append(f"{where}: expected {len(own)} weights "
                                f"{[v.name for v in own]}, the file has {len(wnames)}")
                continue
            try:
                arrays = [reader.read(group, w, expected_shape=v.shape, path=f"{base}/{n}")
                          for v, w in zip(own, wnames)]
            except ShapeMismatch as e:
                problems.append(f"{where}: {e}")
                continue
            pending.extend(zip(own, arrays))
        report_unloaded_layers(
            problems, reader.label, skip_mismatch,
            fix="Check that the model was built with the architecture the file was saved from.",
            skipped="These layers were skipped.", stacklevel=2)
        for var, arr in pending:
            var.assign(arr.astype(np.dtype(var.dtype)) if arr.dtype != np.dtype(var.dtype)
                       else arr)


__all__ = ["is_legacy_h5", "load_legacy_h5_weights"]
