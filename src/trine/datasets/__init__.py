"""Small standard data sets, loaded the way `keras.datasets` loads them.

    >>> from trine.datasets import fashion_mnist
    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP

Files are read from a directory you name, `$TRINE_DATA_DIR`, or the cache
(`$TRINE_HOME/datasets`, by default `~/.trine/datasets`), and downloaded there, checksummed, only
when no copy is found. `fashion_mnist.load_sample()` needs neither files nor a network.
"""

from trine.datasets import (boston_housing, california_housing, cifar10, cifar100, fashion_mnist,
                            imdb, mnist, reuters)
from trine.datasets._idx import (
    ChecksumMismatchError,
    DatasetError,
    DatasetFormatError,
    DatasetNotFoundError,
)

__all__ = [
    "ChecksumMismatchError",
    "DatasetError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "boston_housing",
    "california_housing",
    "cifar10",
    "cifar100",
    "fashion_mnist",
    "imdb",
    "mnist",
    "reuters",
]
