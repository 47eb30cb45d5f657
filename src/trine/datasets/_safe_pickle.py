"""Reading the pickles and object `.npz` files of Keras's data sets without running code.

CIFAR's batches are Python pickles of dicts of bytes, lists and NumPy arrays; IMDB's and
Reuters' `.npz` files hold object arrays of lists, which NumPy stores as pickles. The stdlib
unpickler would import and call whatever a file names, so these files are read with an
unpickler whose `find_class` allows only NumPy's array-reconstruction names; anything else
(`os.system`, `builtins.eval`, ...) raises `DatasetFormatError` naming the file.
"""
from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

from trine.datasets._idx import DatasetFormatError

__all__ = ["load_npz", "load_pickle"]

_ALLOWED = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
})


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that rebuilds plain containers and NumPy arrays, and nothing else."""

    def __init__(self, file, source: str, **kwargs):
        super().__init__(file, **kwargs)
        self._source = source

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise DatasetFormatError(
            f"{self._source} names {module}.{name}; a data set file may only hold arrays, "
            "lists and dicts. The file is corrupt or hostile: delete it and download it again.")


def load_pickle(path, encoding: str = "bytes"):
    """A pickled container of arrays / lists / bytes, with NumPy arrays the only class."""
    with open(path, "rb") as f:
        try:
            return _ArraysOnly(f, repr(str(path)), encoding=encoding).load()
        except DatasetFormatError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            raise DatasetFormatError(f"{str(path)!r} is not a readable data set pickle "
                                     f"({e}).") from e


def _read_npy(buffer: io.BytesIO, source: str):
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:  # an object array: its payload is a pickle
        buffer.seek(0)
        major, _ = np.lib.format.read_magic(buffer)
        if major == 1:
            np.lib.format.read_array_header_1_0(buffer)
        elif major in (2, 3):
            np.lib.format.read_array_header_2_0(buffer)
        else:
            raise DatasetFormatError(f"{source}: unsupported .npy version {major}.") from None
        try:
            return _ArraysOnly(buffer, source).load()
        except DatasetFormatError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            raise DatasetFormatError(f"{source} is not a readable array ({e}).") from e


def load_npz(path) -> dict:
    """The arrays of an `.npz` file (object arrays included), read without running code."""
    out = {}
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DatasetFormatError(f"{str(path)!r} is not an .npz (zip) file ({e}).") from e
    with archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                data = io.BytesIO(archive.read(member))
                out[member[:-4]] = _read_npy(data, f"{str(path)!r} member {member!r}")
    return out
