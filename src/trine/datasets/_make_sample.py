"""Build the Fashion-MNIST sample embedded in `trine/datasets/_sample/`.

    python -m trine.datasets._make_sample SOURCE_DIR [OUT_DIR]

SOURCE_DIR holds the four Fashion-MNIST files (default: `$TRINE_DATA_DIR`); OUT_DIR defaults to
the `_sample` directory next to this file. The selection is deterministic and needs no random
numbers: the first `TRAIN_PER_CLASS` training images of each class and the first
`TEST_PER_CLASS` test images of each class, kept in their canonical order (so the classes stay
interleaved, as in the full data set, and `validation_split` takes a mixed slice). The files are
gzip IDX like the originals, compressed at level 9 with a zero timestamp and no file name in the
gzip header, so the same source gives the same bytes.

The sizes keep the four files under ~1.5 MB: a Fashion-MNIST image costs ~440 bytes gzipped.
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from trine.datasets import _idx
from trine.datasets.fashion_mnist import SPEC

TRAIN_PER_CLASS = 300
TEST_PER_CLASS = 50
OUT_DIR = Path(__file__).resolve().parent / "_sample"

_README = """\
# Embedded Fashion-MNIST sample

A class-balanced subset of Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), for demos on machines
without the full data set: {n_train} training images ({train_per_class} per class) and {n_test}
test images ({test_per_class} per class), the first of each class in canonical order. Built by
`python -m trine.datasets._make_sample` from files with these SHA-256 checksums:

{sources}

Loaded by `trine.datasets.fashion_mnist.load_sample()`.

Fashion-MNIST is released under the MIT licence:

    The MIT License (MIT) Copyright (c) 2017 Zalando SE, https://tech.zalando.com

    Permission is hereby granted, free of charge, to any person obtaining a copy of this software
    and associated documentation files (the "Software"), to deal in the Software without
    restriction, including without limitation the rights to use, copy, modify, merge, publish,
    distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
    Software is furnished to do so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in all copies or
    substantial portions of the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
    BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
    NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
    DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
    OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def select(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` examples of each class, in ascending order.

    Raises:
        ValueError: if a class has fewer than `per_class` examples.
    """
    chosen = []
    for c in range(_idx.NUM_CLASSES):
        where = np.flatnonzero(labels == c)
        if len(where) < per_class:
            raise ValueError(
                f"Class {c} has {len(where)} examples, expected at least {per_class}. Build the "
                f"sample from the full Fashion-MNIST files."
            )
        chosen.append(where[:per_class])
    return np.sort(np.concatenate(chosen))


def idx_gz_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as a gzip-compressed IDX file, reproducibly."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, data.ndim) + struct.pack(
        ">" + "I" * data.ndim, *data.shape
    )
    return gzip.compress(header + data.tobytes(), compresslevel=9, mtime=0)


def _write_atomic(path: Path, payload: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def build_sample(
    source_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] = OUT_DIR,
    *,
    train_per_class: int = TRAIN_PER_CLASS,
    test_per_class: int = TEST_PER_CLASS,
) -> Mapping[str, int]:
    """Write the sample's four files (and a README) to `out_dir`; return {file name: bytes}."""
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    (x_train, y_train), (x_test, y_test) = _idx.load_directory(source_dir, SPEC)
    train = select(y_train, train_per_class)
    test = select(y_test, test_per_class)
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        _idx.TRAIN_IMAGES: x_train[train],
        _idx.TRAIN_LABELS: y_train[train],
        _idx.TEST_IMAGES: x_test[test],
        _idx.TEST_LABELS: y_test[test],
    }
    sizes = {}
    for name, array in contents.items():
        payload = idx_gz_bytes(array)
        _write_atomic(out_dir / name, payload)
        sizes[name] = len(payload)
    found, _ = _idx.locate(source_dir)
    sources = "\n".join(
        f"    {_idx.sha256_file(found[name])}  {name}" for name in _idx.FILE_NAMES
    )
    readme = _README.format(
        n_train=f"{len(train):,}",
        n_test=f"{len(test):,}",
        train_per_class=train_per_class,
        test_per_class=test_per_class,
        sources=sources,
    )
    _write_atomic(out_dir / "README.md", readme.encode("utf-8"))
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    source = args[0] if args else os.environ.get(_idx.ENV_DATA_DIR)
    if not source or len(args) > 2:
        print(
            "usage: python -m trine.datasets._make_sample SOURCE_DIR [OUT_DIR]\n"
            "SOURCE_DIR holds the four Fashion-MNIST files (default: $TRINE_DATA_DIR).",
            file=sys.stderr,
        )
        return 2
    out = Path(args[1]) if len(args) > 1 else OUT_DIR
    sizes = build_sample(source, out)
    for name, size in sizes.items():
        print(f"{size:>10,}  {out / name}")
    print(f"{sum(sizes.values()):>10,}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
