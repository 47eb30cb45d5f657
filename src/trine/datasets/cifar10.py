"""CIFAR-10: 60,000 32x32 colour images in 10 classes (Krizhevsky, 2009).

`load_data()` returns what `keras.datasets.cifar10.load_data()` returns: uint8 images
(50000, 32, 32, 3) and (10000, 32, 32, 3) (channels first under
`image_data_format() == "channels_first"`) and uint8 labels of shape (n, 1). The archive is
fetched once into the trine cache (`get_file`, SHA-256 checked); its pickles are read by an
unpickler that rebuilds arrays only, never running code a file names.
"""
from __future__ import annotations

import os

import numpy as np

from trine.datasets import _keras_files
from trine.datasets._safe_pickle import load_pickle

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"


def read_batch(path, label_key: str = "labels"):
    """(uint8 images (n, 3, 32, 32), labels) of one CIFAR pickle."""
    from trine.datasets._idx import DatasetFormatError
    raw = load_pickle(path)
    if not isinstance(raw, dict):
        raise DatasetFormatError(f"{str(path)!r} holds a {type(raw).__name__}, not a CIFAR dict.")
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in raw.items()}
    if "data" not in d or label_key not in d:
        raise DatasetFormatError(f"{str(path)!r} lacks 'data' or {label_key!r}; keys: "
                                 f"{sorted(d)}.")
    data = np.asarray(d["data"], np.uint8)
    return data.reshape(data.shape[0], 3, 32, 32), d[label_key]


def _channels(x):
    from trine.config import image_data_format
    return x.transpose(0, 2, 3, 1) if image_data_format() == "channels_last" else x


def load_data():
    """Load CIFAR-10 as `(x_train, y_train), (x_test, y_test)` NumPy arrays.

    Returns:
        uint8 images (channels last by default) and uint8 labels of shape (n, 1).

    Raises:
        OSError: the archive is not cached and cannot be downloaded (the message says where
            to put it). DatasetFormatError: a file that is not a CIFAR batch, or names code.
    """
    root = _keras_files.fetch("cifar-10-python.tar.gz", ORIGIN, FILE_HASH, extract=True)
    folder = os.path.join(root, "cifar-10-batches-py")
    xs, ys = [], []
    for i in range(1, 6):
        x, y = read_batch(os.path.join(folder, f"data_batch_{i}"))
        xs.append(x)
        ys.append(np.asarray(y, np.uint8))
    x_test, y_test = read_batch(os.path.join(folder, "test_batch"))
    x_train, y_train = np.concatenate(xs), np.concatenate(ys)
    return ((_channels(x_train), y_train.reshape(-1, 1)),
            (_channels(x_test), np.asarray(y_test, np.uint8).reshape(-1, 1)))
