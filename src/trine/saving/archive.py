"""`.keras` archives: Keras 3's zip layout, written atomically, read without extracting anything.

Layout (as Keras 3 writes it; members stored uncompressed, in this order):

- `metadata.json`: `{"keras_version", "date_saved"}` (trine adds `"trine_version"`);
- `config.json`: `serialize_keras_object(model)`, with `build_config` and `compile_config`;
- `model.weights.h5`: the weights file (see `trine.saving.weights`), optimizer state included.

Reading vets the whole archive first (see `trine.saving.zip_reading`). Nothing is extracted
to disk: members are read into memory, so no file is ever written outside (or inside) any
directory while loading.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

from trine._util.version import __version__
from trine.saving.errors import SavingError, UnsafeFileError
from trine.saving.zip_reading import (MAX_JSON_BYTES, MAX_MEMBER_BYTES, _as_saving_error,
                                      _open_zip, _parse_json, _read, read_archive_member)

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
KERAS_FORMAT_VERSION = "3.15.1"



# ====================================================================== writing
def _config_json(model) -> str:
    from trine.registry.serialize import serialize_keras_object
    try:
        return json.dumps(serialize_keras_object(model))
    except TypeError as e:
        raise TypeError(f"Model '{model.name}' cannot be saved: {e}") from e


def _metadata_json(model) -> str:
    meta = {"keras_version": KERAS_FORMAT_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "trine_version": __version__}
    extras = trine_compile_extras(model)
    if extras:
        meta["trine_compile"] = extras
    return json.dumps(meta)


def _weights_bytes(model) -> bytes:
    import h5py
    from trine.saving.weights import write_weights
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        write_weights(model, h5)
    return buf.getvalue()


def save_model(model, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
    """Save a model (architecture, weights, compile settings, optimizer state) to `.keras`.

    The archive has Keras 3's layout, so `keras.saving.load_model` opens it, and trine
    opens archives written by Keras. The file is written to a temporary file in the same
    directory and renamed, so a crash never leaves a half-written model.

    Args:
        model: a trine model (Sequential, Functional, or a registered subclass).
        filepath: a path ending in ".keras" (or a directory with `zipped=False`), or a
            writable binary file object.
        overwrite: replace an existing file (default True).
        zipped: False writes the three files into a directory instead of a zip.

    Raises:
        ValueError: for another extension.
        TypeError: when part of the model cannot be serialized (named in the message).

    Example:
        >>> model.save("model.keras")
    """
    from trine.saving.weights import atomic_write
    kwargs.pop("include_optimizer", None)  # Keras 3 accepts and ignores it for .keras files
    save_format = kwargs.pop("save_format", None)
    if save_format not in (None, False, "keras"):
        raise ValueError(f"save_format={save_format!r} is not supported (it is deprecated in "
                         "Keras 3): the format follows the extension, '.keras'.")
    if kwargs:
        raise TypeError(f"save_model got unexpected arguments {sorted(kwargs)}.")
    if hasattr(filepath, "write") and not isinstance(filepath, (str, os.PathLike)):
        _write_zip(model, filepath)
        return
    filepath = os.fspath(filepath)
    if zipped is False:
        if filepath.endswith(".keras"):
            raise ValueError("With zipped=False the path must be a directory, not end in "
                             f"'.keras' (received {filepath!r}).")
        os.makedirs(filepath, exist_ok=True)
        for name, data in ((METADATA, _metadata_json(model).encode()),
                           (CONFIG, _config_json(model).encode()), (WEIGHTS, _weights_bytes(model)),
                           *_collect_assets(model)):
            target = os.path.join(filepath, *name.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            atomic_write(target, lambda f, d=data: f.write(d), overwrite=overwrite,
                         what="model")
        return
    if filepath.endswith(".h5") and not filepath.endswith(".weights.h5"):
        raise ValueError(
            f"Cannot save to {filepath!r}: the legacy HDF5 model format (.h5) is not supported. "
            "Use a '.keras' file (model.save('model.keras')), or save the weights alone with "
            "model.save_weights('model.weights.h5').")
    if not filepath.endswith(".keras"):
        raise ValueError(
            f"Invalid filepath {filepath!r}: a model file must end in '.keras' (or use "
            "save_weights with a '.weights.h5' file).")
    config = _config_json(model)  # fail early, before touching the disk
    atomic_write(filepath, lambda f: _write_zip(model, f, config), overwrite=overwrite,
                 what="model")


def _write_zip(model, fileobj, config_json=None):
    config_json = config_json if config_json is not None else _config_json(model)
    weights = _weights_bytes(model)
    assets = _collect_assets(model)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(METADATA, _metadata_json(model))
        zf.writestr(CONFIG, config_json)
        zf.writestr(WEIGHTS, weights)
        for name, data in assets:
            zf.writestr(name, data)


ASSETS = "assets"


def _collect_assets(model):
    """[(member name, bytes)] from each layer's `save_assets` (adapted vocabularies), under
    `assets/<the layer's weights path>/`, as Keras lays them out."""
    import tempfile
    from trine.saving.weights import walk
    out = []
    for path, layer in walk(model):
        if not callable(getattr(layer, "save_assets", None)):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            layer.save_assets(tmp)
            for fname in sorted(os.listdir(tmp)):
                full = os.path.join(tmp, fname)
                if os.path.isfile(full):
                    with open(full, "rb") as f:
                        out.append(("/".join(p for p in (ASSETS, path, fname) if p), f.read()))
    return out


def _restore_assets(model, files, label):
    """Give each layer with `load_assets` its files from `files` ({member name: bytes})."""
    import tempfile
    from trine.saving.weights import walk
    for path, layer in walk(model):
        if not callable(getattr(layer, "load_assets", None)):
            continue
        prefix = "/".join(p for p in (ASSETS, path) if p) + "/"
        mine = {n[len(prefix):]: d for n, d in files.items()
                if n.startswith(prefix) and "/" not in n[len(prefix):] and n[len(prefix):]}
        if not mine:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            for fname, data in mine.items():
                with open(os.path.join(tmp, fname), "wb") as f:
                    f.write(data)
            try:
                layer.load_assets(tmp)
            except (OSError, ValueError, UnicodeDecodeError) as e:
                raise SavingError(f"{label}: the assets of layer '{layer.name}' could not be "
                                  f"loaded: {e}") from e


def trine_compile_extras(model) -> dict:
    """Compile settings Keras's compile_config cannot hold (kept in metadata.json)."""
    spe = getattr(model, "steps_per_execution", 1) if getattr(model, "compiled", False) else 1
    if isinstance(spe, str):
        return {"steps_per_execution": spe}
    return {}


# ====================================================================== reading
def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a model saved with `model.save` (trine or Keras 3).

    Nothing in the file can run code: classes and functions resolve only against trine's
    allow-list, the registry and `custom_objects` (see `trine.saving.serialization`), and a
    lambda's bytecode loads only with `safe_mode=False` passed here.

    Args:
        filepath: a ".keras" file, a binary file object, or a directory saved with zipped=False.
        custom_objects: `{name: class or function}` for your own classes and functions.
        compile: also compile the model as it was saved (restoring the optimizer state).
        safe_mode: refuse code stored in the file (default True). Only this argument can
            disable it; nothing inside a file can.

    Returns:
        The model, with its weights (and optimizer state when compiled).

    Raises:
        UnsafeFileError: when the file asks for something refused (named in the message).
        SavingError: for a truncated, corrupted or inconsistent file.

    Example:
        >>> model = trine.models.load_model("model.keras")
    """
    if hasattr(filepath, "read") and not isinstance(filepath, (str, os.PathLike)):
        def from_fileobj():
            zf, names = _open_zip(filepath, "the model file")
            with zf:
                return _load_from_zip(zf, names, "the model file", custom_objects, compile,
                                      safe_mode)
        return _as_saving_error(from_fileobj, "the model file")
    filepath = os.fspath(filepath)
    from trine._util.atomic import remove_stale
    remove_stale(filepath)  # a killed save's temporary file goes with the next use of the path
    return _as_saving_error(
        lambda: _load_path(filepath, custom_objects, compile, safe_mode), repr(filepath))


def _load_path(filepath, custom_objects, compile, safe_mode):
    label = repr(filepath)
    if os.path.isdir(filepath):
        return _load_from_dir(filepath, custom_objects, compile, safe_mode)
    if not filepath.endswith(".keras"):
        if filepath.endswith(".h5") or filepath.endswith(".hdf5"):
            raise SavingError(
                f"Cannot load {label}: legacy HDF5 model files (.h5) are not supported (their "
                "loader in Keras is the one with the unsafe-config CVEs). Open it in Keras, "
                "save it as '.keras', and load that.")
        raise SavingError(f"Invalid filename {label}: expected a '.keras' file.")
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No model file at {label}.")
    with open(filepath, "rb") as f:
        zf, names = _open_zip(f, label)
        with zf:
            return _load_from_zip(zf, names, label, custom_objects, compile, safe_mode)


def _compile_extras(metadata_bytes, label):
    if metadata_bytes is None:
        return None
    meta = _parse_json(metadata_bytes, label, METADATA)
    extras = meta.get("trine_compile") if isinstance(meta, dict) else None
    return extras if isinstance(extras, dict) else None


def _model_from_config_bytes(config_bytes, label, custom_objects, compile, safe_mode,
                             extras=None):
    from trine.models.model import Model
    from trine.registry.deserialize import compile_scope, deserialize_keras_object
    config = _parse_json(config_bytes, label, "config.json")
    if not isinstance(config, dict) or "class_name" not in config:
        raise SavingError(f"The config.json of {label} does not describe a model (expected a "
                          "dict with 'class_name' and 'config').")
    with compile_scope(compile, extras):
        try:
            model = deserialize_keras_object(config, custom_objects=custom_objects,
                                             safe_mode=safe_mode)
        except RecursionError as e:
            raise SavingError(f"The config.json of {label} is nested too deeply.") from e
    if not isinstance(model, Model):
        raise SavingError(f"The config.json of {label} describes a "
                          f"{type(model).__name__}, not a model.")
    return model


def _load_from_zip(zf, names, label, custom_objects, compile, safe_mode):
    from trine.saving.safe_h5 import SafeH5Reader
    from trine.saving.weights import read_weights
    if CONFIG not in names:
        raise SavingError(f"{label} is not a Keras model archive: it has no {CONFIG}.")
    config_bytes = _read(zf, CONFIG, MAX_JSON_BYTES, label)
    meta = _read(zf, METADATA, 1 << 20, label) if METADATA in names else None
    model = _model_from_config_bytes(config_bytes, label, custom_objects, compile, safe_mode,
                                     _compile_extras(meta, label))
    if WEIGHTS not in names:
        if "model.weights.npz" in names:
            raise SavingError(f"{label} stores its weights as .npz; trine reads the default "
                              "model.weights.h5 layout only.")
        raise SavingError(f"{label} has no {WEIGHTS}.")
    data = _read(zf, WEIGHTS, MAX_MEMBER_BYTES, label)
    with SafeH5Reader(data, label=f"the weights in {label}") as reader:
        read_weights(model, reader)
    assets = {n: _read(zf, n, MAX_JSON_BYTES, label) for n in names
              if n.startswith(ASSETS + "/") and not n.endswith("/")}
    if assets:
        _restore_assets(model, assets, label)
    return model


def _load_from_dir(dirpath, custom_objects, compile, safe_mode):
    from trine.saving.safe_h5 import SafeH5Reader
    from trine.saving.weights import read_weights
    label = repr(dirpath)
    paths = {n: os.path.join(dirpath, n) for n in (CONFIG, WEIGHTS)}
    for n, p in paths.items():
        if os.path.islink(p):
            raise UnsafeFileError(f"Refused to load {label}: {n} is a symbolic link.")
        if not os.path.isfile(p):
            raise SavingError(f"{label} is not a saved model directory: it has no {n}.")
    if os.path.getsize(paths[CONFIG]) > MAX_JSON_BYTES:
        raise UnsafeFileError(f"Refused to load {label}: {CONFIG} is larger than "
                              f"{MAX_JSON_BYTES} bytes.")
    with open(paths[CONFIG], "rb") as f:
        config_bytes = f.read()
    meta = None
    mpath = os.path.join(dirpath, METADATA)
    if os.path.isfile(mpath) and not os.path.islink(mpath) and os.path.getsize(mpath) < (1 << 20):
        with open(mpath, "rb") as f:
            meta = f.read()
    model = _model_from_config_bytes(config_bytes, label, custom_objects, compile, safe_mode,
                                     _compile_extras(meta, label))
    with SafeH5Reader(paths[WEIGHTS], label=f"the weights in {label}") as reader:
        read_weights(model, reader)
    assets, root = {}, os.path.join(dirpath, ASSETS)
    if os.path.isdir(root) and not os.path.islink(root):
        for cur, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(cur, d))]
            for fname in files:
                full = os.path.join(cur, fname)
                if os.path.islink(full) or os.path.getsize(full) > MAX_JSON_BYTES:
                    raise UnsafeFileError(f"Refused to load {label}: asset {full!r} is a "
                                          "link or too large.")
                rel = os.path.relpath(full, dirpath).replace(os.sep, "/")
                with open(full, "rb") as f:
                    assets[rel] = f.read()
    if assets:
        _restore_assets(model, assets, label)
    return model


__all__ = ["load_model", "read_archive_member", "save_model"]
