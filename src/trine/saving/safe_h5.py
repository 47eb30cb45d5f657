"""Reading HDF5 weight files from strangers without following, allocating or running anything.

An HDF5 file can point elsewhere (soft, external and user-defined links; datasets whose bytes
live in other files or are stitched from other datasets), can declare shapes far larger than
the bytes it stores, and can ask for compression filters that the library loads as plugins.
`SafeH5Reader` opens a file, walks every object once before anything is read, and refuses the
file (`UnsafeFileError`, naming the object and the reason) if it finds:

- a link that is not a hard link (soft, external, user-defined);
- a dataset with external storage, a virtual layout, or a filter other than gzip, shuffle,
  fletcher32, lzf or scale-offset (no plugin filters);
- a dataset whose dtype is not numeric (no strings, references, compound or variable-length);
- a contiguous dataset whose bytes would lie beyond the end of the file;
- more than `MAX_OBJECTS` objects or nesting deeper than `MAX_DEPTH`.

Reading a dataset (`read`) then checks its declared shape against the shape the caller
expects (the model's variable) before allocating; without an expected shape, declared bytes
must be within `MAX_EXPANSION` times the stored bytes. Either way a hostile file can make
trine allocate at most what the model itself holds, or what the file really stores.
"""
from __future__ import annotations

import io
import math
import os

import numpy as np

from trine.core import allocation
from trine.saving.errors import SavingError, UnsafeFileError

MAX_OBJECTS = 200_000
MAX_DEPTH = 64
# A dataset may declare at most this many times the bytes it stores (above a small floor),
# which genuine arrays (even gzip-compressed all-zero biases) never exceed.
MAX_EXPANSION = 1000
_EXPANSION_FLOOR = 1 << 20  # 1 MiB
_MAX_ATTR_BYTES = 1 << 16

# HDF5 filter ids built into libhdf5 / h5py (no dynamically loaded plugins).
_ALLOWED_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 6: "scaleoffset", 32000: "lzf"}


def _h5py():
    import h5py
    return h5py


class SafeH5Reader:
    """A read-only HDF5 file, vetted before use.

    Args:
        source: a path, raw bytes, or a binary file object.
        label: how the file is named in error messages.

    Raises:
        SavingError: if the source is not a readable HDF5 file.
        UnsafeFileError: if the file contains anything listed in the module docstring.
    """

    def __init__(self, source, label: str = "weights file"):
        h5py = _h5py()
        self.label = label
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._size = len(source)
            source = io.BytesIO(bytes(source))
        elif isinstance(source, (str, os.PathLike)):
            try:
                self._size = os.path.getsize(source)
            except OSError as e:
                raise SavingError(f"Cannot read {label} {os.fspath(source)!r}: {e}.") from e
        else:
            pos = source.tell()
            source.seek(0, io.SEEK_END)
            self._size = source.tell()
            source.seek(pos)
        try:
            self.file = h5py.File(source, "r")
        except (OSError, ValueError) as e:
            raise SavingError(
                f"The {label} is not a readable HDF5 file ({e}). It may be truncated or "
                "corrupted; save it again.") from e
        try:
            self._scan()
        except BaseException:
            self.file.close()
            raise

    # ------------------------------------------------------------------ vetting
    def _refuse(self, path, why):
        raise UnsafeFileError(f"Refused to load {self.label}: {why} at '{path}'.")

    def _scan(self):
        h5py = _h5py()
        seen = set()
        count = 0
        stack = [(self.file, "/", 0)]
        while stack:
            group, gpath, depth = stack.pop()
            if depth > MAX_DEPTH:
                self._refuse(gpath, f"groups nested deeper than {MAX_DEPTH}")
            try:
                names = list(group.keys())
            except (OSError, RuntimeError, ValueError, KeyError) as e:
                raise SavingError(f"The {self.label} is corrupted: cannot list '{gpath}' ({e}).") from e
            for name in names:
                count += 1
                if count > MAX_OBJECTS:
                    self._refuse(gpath, f"more than {MAX_OBJECTS} objects")
                path = gpath.rstrip("/") + "/" + name
                self._check_link(group, name, path)
                try:
                    obj = group[name]
                except (OSError, RuntimeError, ValueError, KeyError) as e:
                    raise SavingError(
                        f"The {self.label} is corrupted: cannot open '{path}' ({e}).") from e
                addr = h5py.h5o.get_info(obj.id).addr
                if addr in seen:
                    continue  # a second hard link to an object already vetted
                seen.add(addr)
                if isinstance(obj, h5py.Group):
                    self._check_attrs(obj, path)
                    stack.append((obj, path, depth + 1))
                elif isinstance(obj, h5py.Dataset):
                    self._check_attrs(obj, path)
                    self._check_dataset(obj, path)
                else:
                    self._refuse(path, f"an HDF5 object of type {type(obj).__name__} "
                                       "(only groups and numeric datasets are allowed)")

    def _check_link(self, group, name, path):
        h5py = _h5py()
        try:
            info = group.id.links.get_info(name.encode("utf-8"))
        except (KeyError, OSError, RuntimeError, ValueError) as e:
            raise SavingError(f"The {self.label} is corrupted: bad link '{path}' ({e}).") from e
        if info.type != h5py.h5l.TYPE_HARD:
            kind = {h5py.h5l.TYPE_SOFT: "a soft link",
                    h5py.h5l.TYPE_EXTERNAL: "an external link (to another file)"}.get(
                info.type, "a user-defined link")
            self._refuse(path, kind)

    def _check_attrs(self, obj, path):
        h5py = _h5py()
        try:
            n = obj.id.get_num_attrs() if hasattr(obj.id, "get_num_attrs") else len(obj.attrs)
        except (OSError, RuntimeError, ValueError) as e:
            raise SavingError(f"The {self.label} is corrupted: bad attributes at '{path}' ({e}).") from e
        if n > 64:
            self._refuse(path, f"{n} attributes on one object")
        for i in range(n):
            try:
                aid = h5py.h5a.open(obj.id, index=i)
                # an empty attribute (Keras's weight_names of a layer without weights) stores
                # nothing, and libhdf5 reports its storage size as an error
                empty = aid.get_space().get_simple_extent_npoints() == 0
                size = 0 if empty else aid.get_storage_size()
            except (OSError, RuntimeError, ValueError, KeyError) as e:
                raise SavingError(
                    f"The {self.label} is corrupted: bad attribute at '{path}' ({e}).") from e
            if size > _MAX_ATTR_BYTES:
                self._refuse(path, f"an attribute of {size} bytes")

    def _check_dataset(self, ds, path):
        h5py = _h5py()
        try:
            plist = ds.id.get_create_plist()
            layout = plist.get_layout()
            n_external = plist.get_external_count()
            filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        except (OSError, RuntimeError, ValueError) as e:
            raise SavingError(f"The {self.label} is corrupted: bad dataset '{path}' ({e}).") from e
        if layout == h5py.h5d.VIRTUAL:
            self._refuse(path, "a virtual dataset (data stitched from other files or datasets)")
        if n_external:
            self._refuse(path, "a dataset with external storage (data read from another file)")
        if layout not in (h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED, h5py.h5d.COMPACT):
            self._refuse(path, f"a dataset with unknown storage layout {layout}")
        for f in filters:
            if f not in _ALLOWED_FILTERS:
                self._refuse(path, f"a dataset compressed with HDF5 filter id {f} (only "
                                   f"{sorted(_ALLOWED_FILTERS.values())} are allowed; no plugins)")
        dt = ds.dtype
        if dt.kind not in "fiub" and not (dt.kind == "V" and dt.itemsize == 2 and dt.names is None):
            self._refuse(path, f"a dataset of non-numeric dtype {dt}")
        if ds.shape is None or any(int(d) < 0 for d in ds.shape):
            self._refuse(path, "a dataset without a shape")
        if layout == h5py.h5d.CONTIGUOUS:
            try:
                offset = ds.id.get_offset()
                stored = ds.id.get_storage_size()
            except (OSError, RuntimeError, ValueError) as e:
                raise SavingError(f"The {self.label} is corrupted: bad dataset '{path}' ({e}).") from e
            if offset is not None and offset + stored > self._size:
                raise SavingError(
                    f"The {self.label} is truncated or corrupted: dataset '{path}' lies beyond "
                    f"the end of the file ({offset + stored} > {self._size} bytes).")

    # ------------------------------------------------------------------ access
    def get_group(self, path: str):
        """The group at `path` ('' is the root), or None if absent."""
        h5py = _h5py()
        node = self.file
        for part in [p for p in path.split("/") if p]:
            if part not in node:
                return None
            node = node[part]
            if not isinstance(node, h5py.Group):
                return None
        return node

    def read(self, group, name: str, expected_shape=None, path: str = ""):
        """Read dataset `name` of `group` as a NumPy array.

        Args:
            expected_shape: if given, a dataset with another shape raises SavingError before
                anything is allocated.

        Raises:
            SavingError: missing dataset or shape mismatch.
            UnsafeFileError: declared size far beyond the stored bytes.
        """
        h5py = _h5py()
        where = f"{path}/{name}" if path else name
        if name not in group:
            raise SavingError(f"The {self.label} has no dataset '{where}'.")
        ds = group[name]
        if not isinstance(ds, h5py.Dataset):
            raise SavingError(f"The {self.label} has a group, not a dataset, at '{where}'.")
        shape = tuple(int(d) for d in ds.shape)
        if expected_shape is not None and shape != tuple(expected_shape):
            raise ShapeMismatch(where, shape, tuple(expected_shape))
        declared = math.prod(shape) * ds.dtype.itemsize
        stored = ds.id.get_storage_size()
        # With an expected shape, the allocation is what the model itself holds; without
        # one, the declared size must be backed by bytes actually stored in the file.
        if (expected_shape is None and declared > _EXPANSION_FLOOR
                and declared > MAX_EXPANSION * stored):
            raise UnsafeFileError(
                f"Refused to load {self.label}: dataset '{where}' declares {declared} bytes but "
                f"stores only {stored} (a decompression or shape bomb).")
        if expected_shape is None:  # a model variable's own size was charged when it was made
            allocation.charge(shape, ds.dtype, f"dataset '{where}' of the weights file")
        dtype = ds.dtype
        bf16 = False
        if dtype.kind == "V":
            bf16 = _attr_str(ds, "dtype") == "bfloat16"
            if not bf16:
                raise UnsafeFileError(
                    f"Refused to load {self.label}: dataset '{where}' has opaque dtype {dtype}.")
        out = np.empty(shape, dtype=dtype)
        try:
            if out.size:
                ds.read_direct(out)
        except (OSError, RuntimeError, ValueError, TypeError) as e:
            raise SavingError(
                f"The {self.label} is corrupted: cannot read dataset '{where}' ({e}).") from e
        if bf16:
            import ml_dtypes
            out = out.view(ml_dtypes.bfloat16)
        elif ds.attrs.get("dtype", None) is not None and _attr_str(ds, "dtype") == "bfloat16":
            import ml_dtypes
            out = out.astype(ml_dtypes.bfloat16)
        return out

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class ShapeMismatch(SavingError):
    """A dataset's shape differs from the variable it should fill (nothing was read)."""

    def __init__(self, where, got, want):
        self.where, self.got, self.want = where, got, want
        super().__init__(f"dataset '{where}' has shape {got}, but the model expects {want}")


def _attr_str(obj, name):
    try:
        v = obj.attrs.get(name, None)
    except (OSError, RuntimeError, ValueError, TypeError):
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v if isinstance(v, str) else None


__all__ = ["SafeH5Reader", "ShapeMismatch", "MAX_EXPANSION"]
