"""CIFAR-100: 60,000 32x32 colour images in 100 fine / 20 coarse classes.

`load_data(label_mode)` returns what `keras.datasets.cifar100.load_data()` returns: uint8
images (channels last by default) and labels of shape (n, 1) in the pickles' integer type.
Read as `cifar10` is: the cache via `get_file`, pickles rebuilt as arrays only.
"""
from __future__ import annotations

import os

import numpy as np

from trine.datasets import _keras_files
from trine.datasets.cifar10 import _channels, read_batch

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


def load_data(label_mode: str = "fine"):
    """Load CIFAR-100 as `(x_train, y_train), (x_test, y_test)`.

    Args:
        label_mode: "fine" (100 classes) or "coarse" (20 super-classes).

    Raises:
        ValueError: for another label_mode. OSError / DatasetFormatError: as `cifar10`.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"cifar100.load_data: label_mode must be 'fine' or 'coarse', received "
                         f"{label_mode!r}.")
    root = _keras_files.fetch("cifar-100-python.tar.gz", ORIGIN, FILE_HASH, extract=True)
    folder = os.path.join(root, "cifar-100-python")
    key = f"{label_mode}_labels"
    x_train, y_train = read_batch(os.path.join(folder, "train"), key)
    x_test, y_test = read_batch(os.path.join(folder, "test"), key)
    return ((_channels(x_train), np.reshape(y_train, (len(y_train), 1))),
            (_channels(x_test), np.reshape(y_test, (len(y_test), 1))))
