"""California housing prices (8 features, median house value), as
`keras.datasets.california_housing`."""
from __future__ import annotations

import numpy as np

from trine.datasets import _keras_files

__all__ = ["load_data"]

FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version: str = "large", path: str = "california_housing.npz",
              test_split: float = 0.2, seed: int = 113):
    """`(x_train, y_train), (x_test, y_test)`, shuffled with `seed` and split as Keras does.

    Args:
        version: "large" (all 20,640 rows) or "small" (the first 600).

    Raises:
        ValueError: a bad version or test_split. OSError: not cached and no network.
    """
    _keras_files.check_test_split(test_split, "california_housing.load_data")
    if version not in ("large", "small"):
        raise ValueError(f"california_housing.load_data: version must be 'small' or 'large', "
                         f"received {version!r}.")
    path = _keras_files.fetch(path, _keras_files.ORIGIN + "california_housing.npz", FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    return _keras_files.shuffle_split(x, y, test_split, seed)
