"""The errors raised when a model file cannot be written or read.

Both derive from `ValueError`, so code written for Keras (which raises ValueError for bad
files) keeps working. They live with the registry, the lowest layer that refuses file content;
`trine.saving` re-exports them.
"""
from __future__ import annotations


class SavingError(ValueError):
    """A model or weights file is malformed, truncated, or does not match the model."""


class UnsafeFileError(SavingError):
    """A model or weights file asks for something trine refuses to do when loading.

    For example: resolve a class or function that is not on trine's allow-list, load a
    Python lambda's bytecode without `safe_mode=False`, follow an HDF5 link, read external or
    virtual HDF5 storage, allocate more than the file can hold, or write outside the target
    directory. The message names what was refused.
    """


__all__ = ["SavingError", "UnsafeFileError"]
