"""Shared machinery for the IDX image data sets (MNIST and Fashion-MNIST).

Both data sets ship as the same four files, in the IDX format of LeCun et al., gzip-compressed:

    train-images-idx3-ubyte.gz   magic 2051, dims (60000, 28, 28), uint8 pixels
    train-labels-idx1-ubyte.gz   magic 2049, dims (60000,),        uint8 labels 0-9
    t10k-images-idx3-ubyte.gz    magic 2051, dims (10000, 28, 28)
    t10k-labels-idx1-ubyte.gz    magic 2049, dims (10000,)

An IDX header is a big-endian uint32 magic number (two zero bytes, a type code, 0x08 for unsigned
bytes, and the number of dimensions) followed by one big-endian uint32 per dimension; the data
follow in C order.

This module finds the files (a directory argument, then ``$TRINE_DATA_DIR``, then the cache
``$TRINE_HOME/datasets/<name>`` or ``~/.trine/datasets/<name>``, then a download into that cache),
reads them with the header, the dimensions and the byte count checked before anything is
allocated, and downloads them with a SHA-256 check, atomically: each file goes to a temporary file
next to its destination and is renamed into place only once all the missing files have arrived
and passed their checks, so a failed download leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import os
import shutil
import struct
import sys
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO, Mapping, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "FILE_NAMES",
    "ChecksumMismatchError",
    "DatasetError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DatasetSpec",
    "cache_dir",
    "fetch",
    "load",
    "load_directory",
    "read_idx",
]

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
#: The four canonical file names, as the projects distribute them.
FILE_NAMES: Tuple[str, ...] = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

ENV_DATA_DIR = "TRINE_DATA_DIR"
ENV_HOME = "TRINE_HOME"
DOWNLOAD_TIMEOUT_S = 20.0  # per blocking socket operation, not for the whole file
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"

# The first ten training labels of each canonical release. Both data sets use the same four file
# names, so a directory meant for one is easily handed to the other; these catch that mistake.
_TRAIN_LABEL_SIGNATURES: Mapping[str, Tuple[int, ...]] = {
    "MNIST": (5, 0, 4, 1, 9, 2, 1, 3, 1, 4),
    "Fashion-MNIST": (9, 0, 0, 3, 0, 2, 7, 2, 5, 5),
}
_CANONICAL_TRAIN_SIZE = 60000

PathLike = Union[str, "os.PathLike[str]"]
Arrays = Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]


class DatasetError(Exception):
    """Base class of the errors raised by `trine.datasets`."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """No complete copy of the data set was found, and none could be downloaded.

    Attributes:
        searched: the directories that were looked in, in order.
        download_error: why the download failed, or None if none was attempted.
    """

    def __init__(
        self,
        message: str,
        *,
        searched: Sequence[Path] = (),
        download_error: str | None = None,
    ) -> None:
        # Keyword-only extras: OSError would read two positional arguments as (errno, strerror).
        super().__init__(message)
        self.searched = tuple(searched)
        self.download_error = download_error


class DatasetFormatError(DatasetError, ValueError):
    """A data file is truncated, corrupt, or not the file it is named as."""


class ChecksumMismatchError(DatasetError, ValueError):
    """A downloaded file did not have the SHA-256 checksum of the canonical release."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where an IDX data set lives and how to check it.

    Attributes:
        name: the cache subdirectory and the preferred subdirectory name, e.g. "fashion-mnist".
        title: the name used in messages, e.g. "Fashion-MNIST".
        module: the `trine.datasets` module that loads it, for messages, e.g. "fashion_mnist".
        mirrors: base URLs (ending in "/") tried in order; a file's URL is base + file name.
        sha256: SHA-256 of each canonical file (keyed by the names in `FILE_NAMES`).
        subdirs: subdirectory names accepted inside `$TRINE_DATA_DIR` or a directory argument.
        has_sample: whether an embedded sample exists (`load_sample()`), for messages.
    """

    name: str
    title: str
    module: str
    mirrors: Tuple[str, ...]
    sha256: Mapping[str, str]
    subdirs: Tuple[str, ...]
    has_sample: bool = False


# --------------------------------------------------------------------------------------------
# Reading


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _stored_size(path: Path, compressed: bool) -> int:
    """Uncompressed size of the file: the gzip trailer's ISIZE (size mod 2**32), or the size."""
    if not compressed:
        return path.stat().st_size
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() < 18:  # 10-byte gzip header + 8-byte trailer
            return -1
        f.seek(-4, os.SEEK_END)
        return struct.unpack("<I", f.read(4))[0]


def _describe_magic(magic: int) -> str:
    if magic == IMAGES_MAGIC:
        return "2051 (an images file)"
    if magic == LABELS_MAGIC:
        return "2049 (a labels file)"
    return str(magic)


def read_idx(path: PathLike, *, magic: int, fix: str = "") -> np.ndarray:
    """Read one IDX file of unsigned bytes, gzip-compressed or not.

    The magic number, the dimensions (images must be 28x28) and the byte count (from the file
    size, or from the gzip trailer for a compressed file) are checked before the array is
    allocated; the gzip CRC is checked after it is read.

    Args:
        path: the file. Compression is detected from its first bytes, not from its name.
        magic: `IMAGES_MAGIC` (2051, 3 dimensions) or `LABELS_MAGIC` (2049, 1 dimension).
        fix: a sentence appended to error messages saying how to repair the file.

    Returns:
        A uint8 array of shape (n, 28, 28) for images or (n,) for labels.

    Raises:
        DatasetFormatError: if the file is not an IDX file of that kind, or is truncated or
            corrupt. The message names the file.

    Example:
        >>> labels = read_idx("train-labels-idx1-ubyte.gz", magic=LABELS_MAGIC)  # doctest: +SKIP
    """
    path = Path(path)
    ndim = 3 if magic == IMAGES_MAGIC else 1
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    header_size = 4 + 4 * ndim
    fix = f" {fix}" if fix else ""

    def bad(what: str) -> DatasetFormatError:
        return DatasetFormatError(f"Cannot read {kind} file '{path}': {what}.{fix}")

    try:
        compressed = _is_gzip(path)
        opener = gzip.open if compressed else open
        with opener(path, "rb") as f:
            header = f.read(header_size)
            if len(header) < header_size:
                raise bad(
                    f"expected an IDX header of {header_size} bytes, the file holds only "
                    f"{len(header)}; it is truncated"
                )
            (found,) = struct.unpack(">I", header[:4])
            if found != magic:
                raise bad(
                    f"expected IDX magic number {_describe_magic(magic)}, found "
                    f"{_describe_magic(found)}; it is not an IDX {kind} file of unsigned bytes "
                    f"(check that the file names are not swapped)"
                )
            dims = struct.unpack(">" + "I" * ndim, header[4:])
            if ndim == 3 and tuple(dims[1:]) != IMAGE_SHAPE:
                raise bad(f"expected 28x28 images, the header says {dims[1]}x{dims[2]}")
            count = int(np.prod(dims, dtype=np.int64))
            expected = header_size + count
            stored = _stored_size(path, compressed)
            if compressed and stored != expected % (1 << 32):
                raise bad(
                    f"the header says {dims[0]} {kind} ({expected} bytes uncompressed), but the "
                    f"gzip trailer says {stored} bytes; the file is truncated or corrupt"
                )
            if not compressed and stored != expected:
                raise bad(
                    f"the header says {dims[0]} {kind} ({expected} bytes), but the file holds "
                    f"{stored} bytes; it is truncated or corrupt"
                )
            data = np.empty(count, dtype=np.uint8)
            view = memoryview(data)
            filled = 0
            while filled < count:
                n = f.readinto(view[filled:])
                if not n:
                    break
                filled += n
            if filled < count:
                raise bad(f"expected {count} data bytes, found {filled}; the file is truncated")
            if f.read(1):  # also makes gzip check its CRC and length trailer
                raise bad(f"found data after the {count} bytes the header announces")
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a cut-off stream raises EOFError.
        kind_of_error = "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__
        raise bad(f"{kind_of_error}: {exc}; the file is truncated or corrupt") from None
    return data.reshape(dims)


def _candidates(directory: Path, name: str) -> Tuple[Path, ...]:
    stem = name[: -len(".gz")]
    # As downloaded; gunzipped; and gunzipped the way some tools name it (train-images.idx3-ubyte).
    return (directory / name, directory / stem, directory / stem.replace("-idx", ".idx"))


def locate(directory: Path) -> Tuple[dict, list]:
    """Find the four files in `directory`: (found {canonical name: path}, missing names)."""
    found: dict = {}
    missing: list = []
    for name in FILE_NAMES:
        for candidate in _candidates(directory, name):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            missing.append(name)
    return found, missing


class WrongDatasetError(DatasetFormatError):
    """The directory holds the other data set (the file names are shared)."""


def load_directory(directory: PathLike, spec: DatasetSpec, *, fix: str = "") -> Arrays:
    """Load the four files of `spec` from `directory`.

    Args:
        directory: a directory holding the four files (gzip-compressed or not).
        spec: the data set, for messages and the check that the files are of that data set.
        fix: a sentence appended to error messages saying how to repair a bad file.

    Returns:
        `((x_train, y_train), (x_test, y_test))` as uint8 NumPy arrays.

    Raises:
        DatasetNotFoundError: if a file is missing.
        DatasetFormatError: if a file is corrupt, the counts disagree, a label is out of range,
            or the files are those of the other data set.
    """
    directory = Path(directory)
    found, missing = locate(directory)
    if missing:
        raise DatasetNotFoundError(
            f"{spec.title}: directory '{directory}' lacks {', '.join(missing)}.",
            searched=[directory],
        )
    y_train = read_idx(found[TRAIN_LABELS], magic=LABELS_MAGIC, fix=fix)
    _check_identity(y_train, spec, directory)
    x_train = read_idx(found[TRAIN_IMAGES], magic=IMAGES_MAGIC, fix=fix)
    x_test = read_idx(found[TEST_IMAGES], magic=IMAGES_MAGIC, fix=fix)
    y_test = read_idx(found[TEST_LABELS], magic=LABELS_MAGIC, fix=fix)
    for split, x, y, xname, yname in (
        ("train", x_train, y_train, TRAIN_IMAGES, TRAIN_LABELS),
        ("test", x_test, y_test, TEST_IMAGES, TEST_LABELS),
    ):
        if len(x) != len(y):
            raise DatasetFormatError(
                f"{spec.title} {split} files in '{directory}' disagree: {found[xname].name} holds "
                f"{len(x)} images but {found[yname].name} holds {len(y)} labels. Replace them "
                f"with a matching pair from the same release.{' ' + fix if fix else ''}"
            )
        if y.size and int(y.max()) >= NUM_CLASSES:
            raise DatasetFormatError(
                f"{spec.title} {split} labels in '{found[yname]}' must be 0-{NUM_CLASSES - 1}, "
                f"found {int(y.max())}; the file is corrupt or not a {spec.title} labels "
                f"file.{' ' + fix if fix else ''}"
            )
    return (x_train, y_train), (x_test, y_test)


def _check_identity(y_train: np.ndarray, spec: DatasetSpec, directory: Path) -> None:
    if len(y_train) != _CANONICAL_TRAIN_SIZE:
        return
    head = tuple(int(v) for v in y_train[:10])
    for title, signature in _TRAIN_LABEL_SIGNATURES.items():
        if title != spec.title and head == signature:
            raise WrongDatasetError(
                f"The files in '{directory}' are {title}, not {spec.title}: their first training "
                f"labels {' '.join(map(str, head))} are those of {title}. Point the directory "
                f"argument or ${ENV_DATA_DIR} at the {spec.title} files, or keep each data set in "
                f"its own subdirectory ('fashion-mnist', 'mnist') of one directory."
            )


# --------------------------------------------------------------------------------------------
# Finding


def cache_dir(spec: DatasetSpec) -> Path:
    """The cache directory of a data set: `$TRINE_HOME/datasets/<name>` (default `~/.trine`)."""
    home = os.environ.get(ENV_HOME) or os.path.join("~", ".trine")
    return Path(home).expanduser() / "datasets" / spec.name


def directory_argument(
    path: PathLike | None, data_dir: PathLike | None, spec: DatasetSpec
) -> Path | None:
    """Merge the `path` and `data_dir` arguments of `load_data` into one directory (or None).

    Raises:
        ValueError: if both are given and differ, or the path names an existing file.
    """
    if path is not None and data_dir is not None and Path(path) != Path(data_dir):
        raise ValueError(
            f"{spec.module}.load_data() received both path={str(path)!r} and "
            f"data_dir={str(data_dir)!r}. They are the same argument; pass only one."
        )
    chosen = data_dir if data_dir is not None else path
    if chosen is None:
        return None
    if not isinstance(chosen, (str, os.PathLike)):
        raise TypeError(
            f"{spec.module}.load_data() expected the data directory as a str or os.PathLike, "
            f"received {type(chosen).__name__}: {chosen!r}."
        )
    directory = Path(chosen).expanduser()
    if directory.is_file():
        raise ValueError(
            f"{spec.module}.load_data() expected a directory holding the four {spec.title} "
            f"files, received the file '{directory}'. Pass the directory that contains it."
        )
    return directory


def _with_subdirs(directory: Path, spec: DatasetSpec) -> Tuple[Path, ...]:
    return (directory,) + tuple(directory / sub for sub in spec.subdirs)


def _describe_missing(directory: Path, missing: Sequence[str]) -> str:
    if not directory.is_dir():
        return "no such directory"
    if len(missing) == len(FILE_NAMES):
        return "none of the four files"
    return "missing " + ", ".join(missing)


def _expected_files_text() -> str:
    return (
        "Expected the four files, gzip-compressed as downloaded (or uncompressed IDX):\n    "
        + "\n    ".join(FILE_NAMES)
    )


def _fix_text(spec: DatasetSpec, cache: Path) -> str:
    text = (
        f"To fix: put the four files in a directory, then either set {ENV_DATA_DIR}=/that/"
        f"directory (a '{spec.subdirs[0]}' subdirectory of it also works) or call "
        f"trine.datasets.{spec.module}.load_data('/that/directory'); or run once with network "
        f"access to download them into {cache}."
    )
    if spec.has_sample:
        text += (
            f" For the small embedded sample instead, call trine.datasets.{spec.module}."
            f"load_sample() or load_data(fallback_to_sample=True)."
        )
    return text


def load(
    spec: DatasetSpec,
    directory: Path | None = None,
    *,
    download: bool = True,
) -> Tuple[Arrays, Path]:
    """Find, download if need be, and load a data set.

    Resolution order: `directory` (or its subdirectory named after the data set); else
    `$TRINE_DATA_DIR` (its subdirectory named after the data set first, then itself); else the
    cache directory; else a download into the cache.

    Args:
        spec: the data set.
        directory: a directory given by the caller. When given, nothing else is searched.
        download: whether to download the files when no copy is found.

    Returns:
        The arrays and the directory they were read from.

    Raises:
        DatasetNotFoundError: no copy was found, and downloading was off or failed.
        ChecksumMismatchError: every mirror served a file with the wrong SHA-256.
        DatasetFormatError: a copy was found but a file is corrupt.
    """
    cache = cache_dir(spec)
    if directory is not None:
        places = _with_subdirs(directory, spec)
        lines = []
        for place in places:
            found, missing = locate(place)
            if not missing:
                return load_directory(place, spec, fix=_replace_fix(place)), place
            lines.append(f"  - {place}: {_describe_missing(place, missing)}")
        raise DatasetNotFoundError(
            f"{spec.title} was not found in the directory passed to "
            f"trine.datasets.{spec.module}.load_data().\nLooked in:\n"
            + "\n".join(lines)
            + f"\n{_expected_files_text()}\n{_fix_text(spec, cache)}",
            searched=places,
        )

    searched: list = []
    lines = []
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        root = Path(env).expanduser()
        for place in _with_subdirs(root, spec)[1:] + (root,):
            searched.append(place)
            found, missing = locate(place)
            if missing:
                lines.append(f"  - {place} (${ENV_DATA_DIR}): {_describe_missing(place, missing)}")
                continue
            try:
                return load_directory(place, spec, fix=_replace_fix(place)), place
            except WrongDatasetError as exc:
                lines.append(f"  - {place} (${ENV_DATA_DIR}): skipped. {exc}")
    else:
        lines.append(f"  - ${ENV_DATA_DIR}: not set")

    searched.append(cache)
    found, missing = locate(cache)
    cache_fix = (
        f"Delete '{cache}' and call trine.datasets.{spec.module}.load_data() again to download "
        f"a fresh copy."
    )
    if not missing:
        return load_directory(cache, spec, fix=cache_fix), cache
    lines.append(f"  - {cache} (cache): {_describe_missing(cache, missing)}")

    if not download:
        raise DatasetNotFoundError(
            f"{spec.title} was not found, and downloading is off (download=False).\nLooked in:\n"
            + "\n".join(lines)
            + f"\n{_expected_files_text()}\n{_fix_text(spec, cache)}",
            searched=searched,
        )
    try:
        download_files(spec, cache, missing)
    except _DownloadFailed as failure:
        report = "\n".join(f"    {line}" for line in failure.attempts)
        if failure.checksum:
            raise ChecksumMismatchError(
                f"Downloading {spec.title} failed: the file {failure.file_name} did not match "
                f"the checksum of the canonical release from any mirror, so nothing from this "
                f"download was saved in {cache}.\nAttempts:\n{report}\nA mirror may be serving a "
                f"damaged or different "
                f"file; try again later, or fetch the four files yourself, check them, and set "
                f"{ENV_DATA_DIR} to their directory."
            ) from None
        raise DatasetNotFoundError(
            f"{spec.title} was not found on this machine and could not be downloaded.\n"
            f"Looked in:\n" + "\n".join(lines) + f"\nDownload of {failure.file_name} failed:\n"
            f"{report}\n{_expected_files_text()}\n{_fix_text(spec, cache)}",
            searched=searched,
            download_error=report.strip(),
        ) from None
    return load_directory(cache, spec, fix=cache_fix), cache


def _replace_fix(directory: Path) -> str:
    return f"Replace it in '{directory}' with a fresh copy of the canonical file."


# --------------------------------------------------------------------------------------------
# Downloading


def fetch(url: str, out: BinaryIO, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Write the body of `url` to the open binary file `out`.

    Tests replace this function (``monkeypatch.setattr(_idx, "fetch", ...)``) to simulate
    servers; `download_files` looks it up at call time.

    Raises:
        urllib.error.URLError, OSError, http.client.HTTPException: on network or HTTP errors.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "trine-datasets"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        shutil.copyfileobj(response, out, _CHUNK)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, as lowercase hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class _DownloadFailed(Exception):
    """Internal: every mirror failed for one file."""

    def __init__(self, file_name: str, attempts: Sequence[str], checksum: bool) -> None:
        super().__init__(file_name)
        self.file_name = file_name
        self.attempts = list(attempts)
        self.checksum = checksum


def _download_one(spec: DatasetSpec, name: str, dest: Path) -> Path:
    """Download `name` from the first mirror that serves it intact; return the temporary file."""
    attempts = []
    checksum_failed = False
    expected = spec.sha256[name]
    for base in spec.mirrors:
        url = base + name
        handle = tempfile.NamedTemporaryFile(
            dir=dest, prefix=f".{name}.", suffix=".part", delete=False
        )
        tmp = Path(handle.name)
        keep = False
        try:
            print(f"Downloading {url}", file=sys.stderr, flush=True)
            with handle:
                fetch(url, handle)
            got = sha256_file(tmp)
            if got == expected:
                keep = True
                return tmp
            checksum_failed = True
            attempts.append(f"{url}: SHA-256 {got}, expected {expected}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # URLError, HTTPError and timeouts are OSErrors; ValueError: malformed URL.
            attempts.append(f"{url}: {type(exc).__name__}: {exc}")
        finally:
            if not keep:  # also on KeyboardInterrupt: never leave a partial file behind
                tmp.unlink(missing_ok=True)
    raise _DownloadFailed(name, attempts, checksum_failed)


def download_files(spec: DatasetSpec, dest: Path, names: Sequence[str]) -> None:
    """Download `names` into `dest`, all or nothing.

    Each file is fetched into a temporary file in `dest` and checked against its SHA-256; only
    when every file has arrived intact are they renamed into place (an atomic rename on one
    file system). On failure the temporary files are deleted, and `dest` too if this call
    created it and it is empty.

    Raises:
        _DownloadFailed: a file could not be fetched intact from any mirror.
    """
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    staged: dict = {}
    try:
        for name in names:
            staged[name] = _download_one(spec, name, dest)
        for name, tmp in staged.items():
            os.replace(tmp, dest / name)
        staged.clear()
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        if created:
            try:
                dest.rmdir()  # only succeeds if nothing was saved
            except OSError:
                pass
