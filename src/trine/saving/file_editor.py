"""`KerasFileEditor`: inspect a `.keras` / `.weights.h5` file, edit its weights, save them back.

The file is read once, vetted (`archive`'s member checks, `SafeH5Reader`'s HDF5 checks, the
load budget), into a nested dict shaped as Keras 3's editor shapes it: one key per attribute
path, each layer's `vars` group folded into the layer (`{"layers": {"dense": {"0": kernel,
"1": bias}}}`). Edits change only that dict; nothing touches a file until `save`, which
writes a new `.weights.h5` atomically (temporary file in the same directory, then rename).
Edits that could not be undone or would lose data (an unknown name, an ambiguous name, a
replacement of different shape, a non-numeric value) raise before changing anything.
"""
from __future__ import annotations

import os

import numpy as np

from trine.saving.errors import SavingError


class KerasFileEditor:
    """Inspect, edit and re-save the weights of a Keras 3 / trine model file.

    Args:
        filepath: a `.keras` archive or a `.weights.h5` file.

    Attributes:
        weights_dict: the weights as nested dicts of NumPy arrays, keyed by path.
        object_metadata: `{path: {attribute: value}}` (e.g. each layer's `name`).
        config, metadata: the archive's config.json and metadata.json (None for `.weights.h5`).

    Raises:
        ValueError: for another extension.
        SavingError / UnsafeFileError: for a corrupted or refused file.

    Example:
        >>> editor = KerasFileEditor("my_model.weights.h5")
        >>> editor.summary()
        >>> editor.delete_object("layers/dense_2")
        >>> editor.add_object("layers/einsum_dense", weights={"0": kernel, "1": bias})
        >>> editor.resave_weights("edited_model.weights.h5")
    """

    def __init__(self, filepath):
        self.filepath = filepath
        path = os.fspath(filepath)
        self.metadata = None
        self.config = None
        self.model = None
        if not isinstance(path, str) or not path.endswith((".keras", ".weights.h5")):
            raise ValueError("KerasFileEditor: invalid filename, expected a '.keras' or "
                             f"'.weights.h5' extension. Received: filepath={filepath!r}")
        from trine.saving.zip_reading import _as_saving_error
        self._direct = set()  # paths whose arrays sit in the group itself, not in `vars/`
        self.weights_dict, self.object_metadata = _as_saving_error(
            lambda: self._read(path), repr(path))
        print(f"Keras model file '{path}'")
        if self.metadata is not None:
            print(f"Saved with Keras {self.metadata.get('keras_version')} - date: "
                  f"{self.metadata.get('date_saved')}")

    # ------------------------------------------------------------------ reading
    def _read(self, path):
        from trine.saving.safe_h5 import SafeH5Reader
        label = repr(path)
        if path.endswith(".keras"):
            from trine.saving import archive
            with open(path, "rb") as f:
                zf, names = archive._open_zip(f, label)
                with zf:
                    for member in (archive.CONFIG, archive.WEIGHTS):
                        if member not in names:
                            raise SavingError(f"{label} is not a Keras model archive: it has no "
                                              f"{member!r} (members: {sorted(names)[:20]}).")
                    self.config = archive._parse_json(
                        archive._read(zf, archive.CONFIG, archive.MAX_JSON_BYTES, label),
                        label, archive.CONFIG)
                    if archive.METADATA in names:
                        meta = archive._parse_json(
                            archive._read(zf, archive.METADATA, 1 << 20, label), label,
                            archive.METADATA)
                        self.metadata = meta if isinstance(meta, dict) else None
                    data = archive._read(zf, archive.WEIGHTS, archive.MAX_MEMBER_BYTES, label)
            source, wlabel = data, f"the weights in {label}"
        else:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"KerasFileEditor: no file at {path!r}.")
            source, wlabel = path, f"weights file {label}"
        with SafeH5Reader(source, label=wlabel) as reader:
            metadata = {}
            return self._extract(reader, reader.file, "", metadata), metadata

    def _extract(self, reader, group, inner, metadata, fold=False):
        """Keras's folding: a group with a `vars` group lists the vars' arrays as its own
        (other children, e.g. a nested model's `layers`, alongside); the root is not folded
        (its own arrays stay under "vars"); empty groups are left out."""
        import h5py
        out = {}
        vars_group = group.get("vars") if fold else None
        if isinstance(vars_group, h5py.Group):
            attrs = _attrs(vars_group)
            for key in vars_group.keys():
                value = vars_group[key]
                if isinstance(value, h5py.Dataset):
                    out[key] = reader.read(vars_group, key, path=f"{inner}/vars")
        else:
            attrs = _attrs(group)
        if attrs:
            metadata[inner] = attrs
        for key in group.keys():
            if isinstance(vars_group, h5py.Group) and key == "vars":
                continue
            path = f"{inner}/{key}" if inner else key
            value = group[key]
            if isinstance(value, h5py.Group):
                sub = self._extract(reader, value, path, metadata, fold=True)
                if sub:
                    out[key] = sub
            elif isinstance(value, h5py.Dataset):
                self._direct.add(inner)
                out[key] = reader.read(group, key, path=inner or "/")
        return out

    # ------------------------------------------------------------------ display
    def summary(self):
        """Print the weight structure of the opened file."""
        print("Weights structure")
        self._print_tree(self.weights_dict, prefix="  ", inner="", first=True)

    def _print_tree(self, tree, prefix, inner, first=False):
        items = list(tree.items())
        for i, (key, value) in enumerate(items):
            path = f"{inner}/{key}" if inner else key
            last = i == len(items) - 1
            connector = "> " if first and i == 0 else ("└─ " if last else "├─ ")
            if isinstance(value, dict):
                label = f"{prefix}{connector}{key}"
                name = self.object_metadata.get(path, {}).get("name")
                if name is not None:
                    label += f" ('{name}')"
                print(label)
                self._print_tree(value, prefix + ("    " if last else "│   "), path)
            else:
                print(f"{prefix}{connector}{key}: shape={value.shape}, dtype={value.dtype}")

    def compare(self, reference_model):
        """List every difference between the file's weights and `reference_model`'s.

        Args:
            reference_model: a built model to compare with.

        Returns:
            `{"status": "success" or "error", "error_count": int, "match_count": int}`.
        """
        from trine.core.layer import Layer
        if not isinstance(reference_model, Layer) or not reference_model.built:
            kind = f"{type(reference_model).__module__}.{type(reference_model).__name__}"
            raise TypeError(f"compare: reference_model must be a built trine model, received "
                            f"{'an unbuilt ' if isinstance(reference_model, Layer) else ''}"
                            f"{kind}. Build it (call it on data or model.build(input_shape)) "
                            "before comparing.")
        print("Running comparison")
        ref = weight_spec(reference_model)
        checked = set()
        errors, matches = _compare(self.weights_dict, ref, "", "saved file",
                                   "reference model", checked)
        more, _ = _compare(ref, self.weights_dict, "", "reference model", "saved file", checked)
        errors += more
        print("─────────────────────")
        if errors == 0:
            print("Comparison successful: saved file is compatible with the reference model")
            print(f"    Found {matches} matching weight{'' if matches == 1 else 's'}")
        else:
            print(f"Found {errors} error{'' if errors == 1 else 's'}: saved file is not "
                  "compatible with the reference model")
        return {"status": "success" if errors == 0 else "error", "error_count": errors,
                "match_count": matches}

    # ------------------------------------------------------------------ edits
    def _parent_node(self, parts, what, shown):
        """The dict that holds `parts[-1]`; raises ValueError naming `shown` when a step of
        the path is missing."""
        node = self.weights_dict
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ValueError(f"{what}: path '{shown}' not found in the file. Call "
                                 "editor.summary() to list the objects.")
            node = node[p]
        return node

    def _locate(self, name, what):
        """(parent dict, key, path) of the object `name` (a path, or a name found exactly
        once anywhere); raises ValueError otherwise."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: the object name must be a non-empty string such as "
                             f"'dense_2' or 'layers/dense_2', received {name!r}.")
        if "/" in name:
            parts = name.split("/")
            node = self._parent_node(parts, what, shown=name)
            if not isinstance(node.get(parts[-1]), dict):
                raise ValueError(f"{what}: path '{name}' not found in the file (or it is a "
                                 "weight, not an object). Call editor.summary() to list the "
                                 "objects.")
            return node, parts[-1], name
        found = []

        def visit(node, inner):
            for k, v in node.items():
                if isinstance(v, dict):
                    path = f"{inner}/{k}" if inner else k
                    if k == name:
                        found.append((node, k, path))
                    visit(v, path)

        visit(self.weights_dict, "")
        if len(found) > 1:
            raise ValueError(f"{what}: name '{name}' occurs more than once in the file (at "
                             f"{[p for _, _, p in found]}); pass the complete path instead.")
        if not found:
            raise ValueError(f"{what}: source name '{name}' does not appear in the file. Call "
                             "editor.summary() to list the objects.")
        return found[0]

    def rename_object(self, object_name, new_name):
        """Rename an object (e.g. a layer): `object_name` is a name or path, `new_name` a
        leaf name (no '/')."""
        if not isinstance(new_name, str) or not new_name or "/" in new_name:
            raise ValueError("rename_object: new_name should be a leaf name, not a full path "
                             f"name. Received: new_name={new_name!r}")
        parent, key, path = self._locate(object_name, "rename_object")
        if new_name in parent and new_name != key:
            raise ValueError(f"rename_object: an object '{new_name}' already exists next to "
                             f"'{path}'; delete it first (delete_object) to replace it.")
        new_path = path[: len(path) - len(key)] + new_name
        parent[new_name] = parent.pop(key)
        self._move_prefix(path, new_path)

    def delete_object(self, object_name):
        """Remove an object (e.g. a layer) and all its weights."""
        parent, key, path = self._locate(object_name, "delete_object")
        parent.pop(key)
        self._move_prefix(path, None)

    def add_object(self, object_path, weights):
        """Add an object at `object_path` (e.g. "layers/dense_2") with
        `weights` = `{"0": kernel, "1": bias, ...}`."""
        arrays = _check_weights(weights, "add_object")
        if not isinstance(object_path, str) or not object_path or object_path.startswith("/"):
            raise ValueError("add_object: object_path must be a path such as "
                             f"'layers/dense_2', received {object_path!r}.")
        parts = object_path.split("/")
        node = self._parent_node(parts, "add_object", shown="/".join(parts[:-1]))
        if parts[-1] in node and not isinstance(node[parts[-1]], dict):
            raise ValueError(f"add_object: '{object_path}' is a weight, not an object.")
        node[parts[-1]] = arrays

    def delete_weight(self, object_name, weight_name):
        """Remove weight `weight_name` (e.g. "0") from an object."""
        parent, key, path = self._locate(object_name, "delete_weight")
        obj = parent[key]
        if weight_name not in obj or isinstance(obj[weight_name], dict):
            raise ValueError(f"delete_weight: weight {weight_name!r} not found in object "
                             f"'{path}'. Weights found: "
                             f"{[k for k, v in obj.items() if not isinstance(v, dict)]}")
        obj.pop(weight_name)

    def add_weights(self, object_name, weights):
        """Add weights (`{"2": array, ...}`) to an existing object. A weight that exists
        already may only be replaced by one of the same shape."""
        arrays = _check_weights(weights, "add_weights")
        parent, key, path = self._locate(object_name, "add_weights")
        obj = parent[key]
        for k, a in arrays.items():
            old = obj.get(k)
            if isinstance(old, dict):
                raise ValueError(f"add_weights: '{path}/{k}' is an object, not a weight.")
            if old is not None and tuple(old.shape) != tuple(a.shape):
                raise ValueError(
                    f"add_weights: weight '{k}' of '{path}' has shape {tuple(old.shape)}, the "
                    f"new value has shape {tuple(a.shape)}. Pass an array of shape "
                    f"{tuple(old.shape)}, or delete_weight('{path}', '{k}') first to change "
                    "the layer's structure on purpose.")
        obj.update(arrays)

    def _move_prefix(self, old, new):
        for registry in (self.object_metadata,):
            for p in [p for p in registry if p == old or p.startswith(old + "/")]:
                v = registry.pop(p)
                if new is not None:
                    registry[new + p[len(old):]] = v
        for p in [p for p in self._direct if p == old or p.startswith(old + "/")]:
            self._direct.discard(p)
            if new is not None:
                self._direct.add(new + p[len(old):])

    # ------------------------------------------------------------------ writing
    def save(self, filepath):
        """Write the edited weights to a `.weights.h5` file (atomically; an existing file
        is replaced only once the new one is complete)."""
        path = os.fspath(filepath)
        if not isinstance(path, str) or not path.endswith(".weights.h5"):
            raise ValueError("KerasFileEditor.save: invalid filepath argument, expected a "
                             f"'.weights.h5' extension. Received: filepath={filepath!r}")
        import h5py
        from trine._util.atomic import atomic_write

        def write(f):
            with h5py.File(f, "w") as h5:
                self._write(h5, self.weights_dict, "")

        atomic_write(path, write, overwrite=True, what="weights")

    def resave_weights(self, filepath):
        """Same as `save(filepath)`."""
        self.save(filepath)

    def _write(self, h5, tree, inner):
        from trine.saving.weights import _write_array
        arrays = {k: v for k, v in tree.items() if not isinstance(v, dict)}
        if arrays:
            where = inner if inner in self._direct else (f"{inner}/vars" if inner else "vars")
            group = h5.require_group(where)
            for k, v in self.object_metadata.get(inner, {}).items():
                group.attrs[k] = v
            for k, v in arrays.items():
                _write_array(group, k, np.asarray(v))
        for k, v in tree.items():
            if isinstance(v, dict) and v:
                self._write(h5, v, f"{inner}/{k}" if inner else k)


def _attrs(obj):
    out = {}
    for k in getattr(obj, "attrs", {}).keys():
        v = obj.attrs[k]
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if isinstance(v, (str, int, float, np.integer, np.floating)):
            out[k] = v
    return out


def _check_weights(weights, what):
    """{name: numeric NumPy array}, or ValueError / TypeError naming the bad entry."""
    if not isinstance(weights, dict):
        raise ValueError(f"{what}: weights should be a dict where keys are weight names "
                         "(usually '0', '1', etc.) and values are NumPy arrays. Received: "
                         f"type(weights)={type(weights)}")
    out = {}
    for k, v in weights.items():
        if not isinstance(k, str) or not k or "/" in k:
            raise ValueError(f"{what}: weight names must be non-empty strings without '/', "
                             f"such as '0', received {k!r}.")
        try:
            a = np.asarray(v)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{what}: weight {k!r} is not an array ({e}).") from e
        if a.dtype.kind not in "fiub" and a.dtype.name != "bfloat16":
            raise TypeError(f"{what}: weight {k!r} must be a numeric array, received dtype "
                            f"{a.dtype}. Pass a NumPy array of floats or integers.")
        out[k] = a
    return out


class _Spec:
    """The shape and dtype of one weight of a reference model."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), dtype


def weight_spec(model) -> dict:
    """The reference model's weights in the file's nested layout ({path parts: _Spec})."""
    import jax.numpy as jnp
    from trine.core.tracking import own_variables
    from trine.saving.weights import _named_state, _optimizer_arrays, walk
    spec = {}

    def put(path, entries):
        if not entries:
            return
        node = spec
        for p in (path.split("/") if path else ["vars"]):
            node = node.setdefault(p, {})
        node.update(entries)

    for path, layer in walk(model):
        entries = {str(i): _Spec(v.shape, jnp.dtype(v.dtype).name)
                   for i, v in enumerate(own_variables(layer))}
        entries.update({k: _Spec(np.shape(a), np.asarray(a).dtype.name)
                        for k, a in _named_state(layer).items()})
        put(path, entries)
    if getattr(model, "compiled", False) and model.training_session.optimizer_state() is not None:
        arrays = _optimizer_arrays(model)
        if arrays:
            put("optimizer", {str(i): _Spec(np.shape(a), np.asarray(a).dtype.name)
                              for i, a in enumerate(arrays)})
    return spec


def _compare(target, ref, inner, target_name, ref_name, checked):
    errors = matches = 0
    for key, val in ref.items():
        path = f"{inner}/{key}"
        if path in checked:
            continue
        if key not in target:
            errors += 1
            checked.add(path)
            if isinstance(val, dict):
                print(f"...Object {path} present in {ref_name}, missing from {target_name}")
                print(f"    In {ref_name}, {path} contains the following keys: "
                      f"{list(val.keys())}")
            else:
                print(f"...Weight {path} present in {ref_name}, missing from {target_name}")
        elif isinstance(val, dict):
            if not isinstance(target[key], dict):
                errors += 1
                checked.add(path)
                print(f"...Object {path} in {ref_name} is a weight in {target_name}")
                continue
            e, m = _compare(target[key], val, path, target_name, ref_name, checked)
            errors += e
            matches += m
        elif isinstance(target[key], dict) or tuple(target[key].shape) != tuple(val.shape):
            errors += 1
            checked.add(path)
            got = "an object" if isinstance(target[key], dict) else f"shape={tuple(target[key].shape)}"
            print(f"...Weight shape mismatch for {path}\n    In {ref_name}: "
                  f"shape={tuple(val.shape)}\n    In {target_name}: {got}")
        else:
            matches += 1
    return errors, matches


__all__ = ["KerasFileEditor"]
