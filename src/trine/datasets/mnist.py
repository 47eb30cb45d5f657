"""MNIST: 70,000 28x28 greyscale images of handwritten digits (LeCun, Cortes, Burges).

`load_data()` returns exactly what `keras.datasets.mnist.load_data()` returns, read from the four
canonical IDX files. Where the files come from, in order:

1. the directory passed as `path` / `data_dir` (or its `mnist` subdirectory);
2. `$TRINE_DATA_DIR` (its `mnist` subdirectory first, then the directory itself, unless that
   holds Fashion-MNIST, which uses the same file names);
3. the cache, `$TRINE_HOME/datasets/mnist` (by default `~/.trine/datasets/mnist`);
4. a download of the four files into the cache, each checked against its SHA-256.

Keras's call form `load_data(path="mnist.npz")` also works: an existing `.npz` file in Keras's
layout (`x_train`, `y_train`, `x_test`, `y_test`) is read; a `.npz` name that does not exist (the
Keras default, a cache file name) is ignored and the files are found as above.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from trine.datasets import _idx
from trine.datasets._idx import (
    ChecksumMismatchError,
    DatasetFormatError,
    DatasetNotFoundError,
)

__all__ = [
    "ChecksumMismatchError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "load_data",
]

#: Where the data set is fetched from, tried in order: the original address, then the mirrors
#: that TensorFlow and PyTorch use (the original often refuses automated downloads).
MIRRORS = (
    "http://yann.lecun.com/exdb/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)

#: SHA-256 of the canonical files, as pinned by torchvision (pytorch/vision) and many others.
SHA256 = {
    _idx.TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    _idx.TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    _idx.TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    _idx.TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

SPEC = _idx.DatasetSpec(
    name="mnist",
    title="MNIST",
    module="mnist",
    mirrors=MIRRORS,
    sha256=SHA256,
    subdirs=("mnist",),
)

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(
    path: str | os.PathLike[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> _idx.Arrays:
    """Load the MNIST data set, like `keras.datasets.mnist.load_data()`.

    Args:
        path: a directory holding the four canonical files (gzip-compressed as downloaded, or
            uncompressed), or a directory with an `mnist` subdirectory holding them. When given,
            no other place is searched. For Keras compatibility, a path ending in `.npz` names a
            Keras-layout archive: read if it exists (as given, or in the cache directory),
            otherwise ignored.
        data_dir: a directory, as `path`, by keyword.
        download: whether to download the files into the cache when no copy is found.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 NumPy arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28) and (10000,); labels are the digits 0-9.

    Raises:
        DatasetNotFoundError: no copy was found and none could be downloaded. The message lists
            the directories searched, the four file names, and how to fix it.
        ChecksumMismatchError: the download did not match the canonical checksums.
        DatasetFormatError: a file that was found is truncated, corrupt or misnamed.
        ValueError: `path` and `data_dir` disagree, or `path` names a file that is not `.npz`.

    Example:
        >>> from trine.datasets import mnist
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train.dtype
        ((60000, 28, 28), dtype('uint8'))
    """
    if path is not None and isinstance(path, (str, os.PathLike)) and (
        os.fspath(path).lower().endswith(".npz")
    ):
        archive = _find_npz(Path(path).expanduser())
        if archive is not None:
            if data_dir is not None:
                raise ValueError(
                    f"mnist.load_data() received both the archive path={str(path)!r} and "
                    f"data_dir={str(data_dir)!r}; pass only one."
                )
            return _load_npz(archive)
        path = None  # Keras's default "mnist.npz": a cache file name, not a place to look.
    directory = _idx.directory_argument(path, data_dir, SPEC)
    arrays, _ = _idx.load(SPEC, directory, download=download)
    return arrays


def _find_npz(path: Path) -> Path | None:
    if path.is_file():
        return path
    cached = _idx.cache_dir(SPEC) / path.name
    return cached if cached.is_file() else None


def _load_npz(archive: Path) -> _idx.Arrays:
    """Read a Keras-layout MNIST archive, without unpickling anything."""
    try:
        with np.load(archive, allow_pickle=False) as data:
            missing = [k for k in _NPZ_KEYS if k not in data.files]
            if missing:
                raise DatasetFormatError(
                    f"MNIST archive '{archive}' lacks {', '.join(missing)}; expected the Keras "
                    f"layout with arrays {', '.join(_NPZ_KEYS)}. Pass a directory of the four "
                    f"IDX files instead."
                )
            x_train, y_train, x_test, y_test = (np.asarray(data[k]) for k in _NPZ_KEYS)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, DatasetFormatError):
            raise
        raise DatasetFormatError(
            f"Cannot read MNIST archive '{archive}': {type(exc).__name__}: {exc}. Replace it, "
            f"or pass a directory of the four IDX files instead."
        ) from None
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if (
            x.dtype != np.uint8
            or y.dtype != np.uint8
            or x.ndim != 3
            or x.shape[1:] != _idx.IMAGE_SHAPE
            or y.shape != (len(x),)
        ):
            raise DatasetFormatError(
                f"MNIST archive '{archive}' has {split} arrays of shapes {x.shape} {x.dtype} and "
                f"{y.shape} {y.dtype}; expected uint8 arrays (n, 28, 28) and (n,). Replace it, "
                f"or pass a directory of the four IDX files instead."
            )
    return (x_train, y_train), (x_test, y_test)
