"""Boston housing prices (13 features, median value in k$), as `keras.datasets.boston_housing`.
"""
from __future__ import annotations

import numpy as np

from trine.datasets import _keras_files

__all__ = ["load_data"]

FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """`(x_train, y_train), (x_test, y_test)`: float64 features and prices, shuffled with
    `seed` and split as Keras does.

    Raises:
        ValueError: test_split outside [0, 1). OSError: not cached and no network.
    """
    _keras_files.check_test_split(test_split, "boston_housing.load_data")
    path = _keras_files.fetch(path, _keras_files.ORIGIN + "boston_housing.npz", FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return _keras_files.shuffle_split(x, y, test_split, seed)
