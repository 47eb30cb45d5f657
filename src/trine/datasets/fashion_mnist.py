"""Fashion-MNIST: 70,000 28x28 greyscale images of clothing in 10 classes (Xiao et al., 2017).

`load_data()` returns exactly what `keras.datasets.fashion_mnist.load_data()` returns, read from
the four canonical IDX files. Where the files come from, in order:

1. the directory passed as `path` / `data_dir` (or its `fashion-mnist` subdirectory);
2. `$TRINE_DATA_DIR` (its `fashion-mnist` subdirectory first, then the directory itself);
3. the cache, `$TRINE_HOME/datasets/fashion-mnist` (by default `~/.trine/datasets/fashion-mnist`);
4. a download of the four files into the cache, each checked against its SHA-256.

`load_sample()` returns a small class-balanced subset embedded in the package, for demos on a
machine with neither the data nor a network; `load_data(fallback_to_sample=True)` falls back to it
with a warning. The data set is MIT-licensed, (c) 2017 Zalando SE.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from trine.datasets import _idx
from trine.datasets._idx import (
    ChecksumMismatchError,
    DatasetFormatError,
    DatasetNotFoundError,
)

__all__ = [
    "CLASS_NAMES",
    "ChecksumMismatchError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "SampleDataWarning",
    "load_data",
    "load_sample",
]

#: Label index -> class name, as in the Fashion-MNIST README.
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Where the data set is fetched from, tried in order: the project's own address (its README's
#: download links), the copy Keras downloads, and the project's GitHub repository.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

#: SHA-256 of the canonical release's files. The project publishes MD5s (8d4fb7e6..., 25c81989...,
#: bef4ecab..., bb300cfd...); these SHA-256s of the same files are the ones pinned by
#: torchvision's prototype datasets (pytorch/vision, torchvision/prototype/datasets/_builtin/
#: mnist.py) and by several independent projects that list them next to those MD5s. The two label
#: files in /work/shared/data/fashion-mnist (whose MD5s equal the published ones) hash to exactly
#: these values; that copy's image files were rebuilt and differ, which does not matter because
#: files found locally are checked by their IDX headers, not their checksums.
SHA256 = {
    _idx.TRAIN_IMAGES: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    _idx.TRAIN_LABELS: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    _idx.TEST_IMAGES: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    _idx.TEST_LABELS: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

SPEC = _idx.DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    module="fashion_mnist",
    mirrors=MIRRORS,
    sha256=SHA256,
    subdirs=("fashion-mnist", "fashion_mnist"),
    has_sample=True,
)

#: The embedded sample: the same four file names, a class-balanced subset (see _make_sample.py).
SAMPLE_DIR = Path(__file__).resolve().parent / "_sample"


class SampleDataWarning(UserWarning):
    """Emitted when `load_data(fallback_to_sample=True)` returns the embedded sample."""


def load_data(
    path: str | os.PathLike[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    fallback_to_sample: bool = False,
) -> _idx.Arrays:
    """Load the Fashion-MNIST data set, like `keras.datasets.fashion_mnist.load_data()`.

    Args:
        path: a directory holding the four canonical files (gzip-compressed as downloaded, or
            uncompressed), or a directory with a `fashion-mnist` subdirectory holding them.
            When given, no other place is searched. Keras's version takes no arguments; calling
            `load_data()` works the same.
        data_dir: the same as `path`, by keyword.
        download: whether to download the files into the cache when no copy is found.
        fallback_to_sample: when the full data set can neither be found nor downloaded, return
            the embedded sample (see `load_sample`) with a `SampleDataWarning` instead of raising.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: uint8 NumPy arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28) and (10000,); labels are 0-9 (see `CLASS_NAMES`).

    Raises:
        DatasetNotFoundError: no copy was found and none could be downloaded. The message lists
            the directories searched, the four file names, and how to fix it.
        ChecksumMismatchError: the download did not match the canonical checksums.
        DatasetFormatError: a file that was found is truncated, corrupt or misnamed.
        ValueError: `path` and `data_dir` disagree, or name a file instead of a directory.

    Example:
        >>> from trine.datasets import fashion_mnist
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, x_train.dtype
        ((60000, 28, 28), dtype('uint8'))
    """
    directory = _idx.directory_argument(path, data_dir, SPEC)
    try:
        arrays, _ = _idx.load(SPEC, directory, download=download)
    except (DatasetNotFoundError, ChecksumMismatchError) as exc:
        if not fallback_to_sample:
            raise
        sample = load_sample()
        (x_train, _), (x_test, _) = sample
        warnings.warn(
            f"{_short_reason(exc)}; using the embedded sample of {len(x_train):,} train / "
            f"{len(x_test):,} test images. Results on it are not comparable with published "
            f"Fashion-MNIST figures. For the full data set, set {_idx.ENV_DATA_DIR} to a "
            f"directory holding the four files ({', '.join(_idx.FILE_NAMES)}) or pass that "
            f"directory to load_data().",
            SampleDataWarning,
            stacklevel=2,
        )
        return sample
    return arrays


def load_sample() -> _idx.Arrays:
    """Load the small Fashion-MNIST sample embedded in the package; no files or network needed.

    The sample is a class-balanced, deterministic subset of the canonical splits: the first 300
    training images of each class (3,000) and the first 50 test images of each class (500), kept
    in the canonical order, stored as gzip IDX files like the full data set. It is built by
    `python -m trine.datasets._make_sample`.

    Returns:
        `((x_train, y_train), (x_test, y_test))` as uint8 arrays of shapes (3000, 28, 28),
        (3000,), (500, 28, 28) and (500,).

    Raises:
        DatasetNotFoundError: the sample files are missing from the installed package.

    Example:
        >>> from trine.datasets import fashion_mnist
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_sample()
        >>> x_train.shape, x_test.shape
        ((3000, 28, 28), (500, 28, 28))
    """
    found, missing = _idx.locate(SAMPLE_DIR)
    if missing:
        raise DatasetNotFoundError(
            f"The embedded Fashion-MNIST sample is missing from the installed trine package: "
            f"'{SAMPLE_DIR}' lacks {', '.join(missing)}. Reinstall trine, or rebuild the sample "
            f"with `python -m trine.datasets._make_sample /dir/with/fashion-mnist`.",
            searched=[SAMPLE_DIR],
        )
    return _idx.load_directory(
        SAMPLE_DIR, SPEC, fix="The installed trine package is damaged; reinstall it."
    )


def _short_reason(exc: Exception) -> str:
    if isinstance(exc, ChecksumMismatchError):
        return "Fashion-MNIST could not be downloaded intact (checksum mismatch)"
    if isinstance(exc, DatasetNotFoundError) and exc.searched:
        where = ", ".join(str(p) for p in exc.searched)
        tail = " and could not be downloaded" if exc.download_error else ""
        return f"Fashion-MNIST not found in {where}{tail}"
    return "Fashion-MNIST not found"
