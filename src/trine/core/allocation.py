"""A size budget for what loading a file may allocate.

While a model is rebuilt from a file (`load_model`, `model_from_json`, `from_config` under
`allocation_budget`), every weight a layer creates, every symbolic tensor's per-sample size
and every array read from the weights file is charged against one budget, checked *before*
anything is allocated. A config that asks for more (`Dense(units=2e9)`, an input of shape
`(None, 2**40)`) is refused with an error naming the layer and the size, instead of
aborting the interpreter inside XLA. Outside a budget nothing is checked.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os

import numpy as np

DEFAULT_MAX_LOAD_BYTES = 4 << 30
_ENV = "TRINE_MAX_LOAD_BYTES"
_limit: list = [None]  # set_max_load_bytes(); None means the environment or the default


class LoadRefused(ValueError):
    """Something a file asked for while it was being loaded was refused (trine.saving turns
    it into an UnsafeFileError)."""


class AllocationRefused(LoadRefused):
    """A file asked for more memory than the load budget allows."""


def is_loading() -> bool:
    """Whether a model file or config is being rebuilt (a load budget is active)."""
    return _BUDGET.get() is not None


def refuse_file_read(what: str, path) -> None:
    """Raise LoadRefused if a config asks to read `path` while loading: a file never names
    another file to open."""
    if is_loading():
        raise LoadRefused(
            f"Refused {what}: the config names a file to read ({path!r}). A model file may "
            "not make trine open other files; pass the data itself (e.g. a list of tokens).")


def max_load_bytes() -> int:
    """The load budget in bytes: `set_max_load_bytes`, else $TRINE_MAX_LOAD_BYTES, else 4 GiB."""
    if _limit[0] is not None:
        return _limit[0]
    env = os.environ.get(_ENV)
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(f"{_ENV} must be a number of bytes, received {env!r}.") from None
        if value > 0:
            return value
    return DEFAULT_MAX_LOAD_BYTES


def set_max_load_bytes(nbytes: int | None) -> None:
    """Set how many bytes loading one model file may allocate (None: back to the default).

    Raises:
        ValueError: if `nbytes` is not a positive integer or None.
    """
    if nbytes is not None and (isinstance(nbytes, bool) or not isinstance(nbytes, int)
                               or nbytes <= 0):
        raise ValueError(f"set_max_load_bytes expects a positive number of bytes or None, "
                         f"received {nbytes!r}.")
    _limit[0] = nbytes


class _Budget:
    def __init__(self, limit: int, label: str):
        self.limit = limit
        self.used = 0
        self.label = label


_BUDGET: contextvars.ContextVar = contextvars.ContextVar("trine_load_budget", default=None)
_WHERE: contextvars.ContextVar = contextvars.ContextVar("trine_load_where", default=None)


@contextlib.contextmanager
def loading(where: str):
    """Name what is being rebuilt (e.g. "layer 'dense' (Dense)") in refusals inside the block."""
    token = _WHERE.set(where)
    try:
        yield
    finally:
        _WHERE.reset(token)


@contextlib.contextmanager
def allocation_budget(label: str = "the model file", limit: int | None = None):
    """Charge allocations in this block against a budget (nested blocks share the outer one)."""
    if _BUDGET.get() is not None:
        yield _BUDGET.get()
        return
    token = _BUDGET.set(_Budget(max_load_bytes() if limit is None else limit, label))
    try:
        yield _BUDGET.get()
    finally:
        _BUDGET.reset(token)


def _nbytes(shape, dtype) -> int:
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError:
        itemsize = 4
    dims = [d for d in shape if d is not None]
    return math.prod(int(d) for d in dims) * itemsize


def _refuse(budget, what, nbytes, extra=""):
    where = _WHERE.get()
    if where and where not in what:
        what = f"{where}: {what}"
    raise AllocationRefused(
        f"Refused to load {budget.label}: {what} needs {nbytes:,} bytes{extra}, beyond the "
        f"load budget of {budget.limit:,} bytes. If you trust the file and have the memory, "
        "raise it with trine.saving.set_max_load_bytes(n) or $TRINE_MAX_LOAD_BYTES.")


def _checked_nbytes(budget, shape, dtype, what: str) -> int:
    """The bytes of `shape` x `dtype`, refusing a negative dimension (a corrupt file)."""
    if any(d is not None and int(d) < 0 for d in shape):
        raise AllocationRefused(f"Refused to load {budget.label}: {what} has a negative "
                                f"dimension in shape {tuple(shape)}.")
    return _nbytes(shape, dtype)


def charge(shape, dtype, what: str) -> None:
    """Count an allocation of `shape` x `dtype` against the active budget (no-op without one).

    Raises:
        AllocationRefused: when the budget would be exceeded.
    """
    budget = _BUDGET.get()
    if budget is None:
        return
    nbytes = _checked_nbytes(budget, shape, dtype, what)
    if budget.used + nbytes > budget.limit:
        _refuse(budget, what, nbytes, f" (shape {tuple(shape)}, {budget.used:,} already used)")
    budget.used += nbytes


def check_shape(shape, dtype, what: str) -> None:
    """Refuse a symbolic tensor whose one sample alone exceeds the budget (no charge)."""
    budget = _BUDGET.get()
    if budget is None:
        return
    nbytes = _checked_nbytes(budget, shape, dtype, what)
    if nbytes > budget.limit:
        _refuse(budget, what, nbytes, f" for one sample (shape {tuple(shape)})")


__all__ = ["AllocationRefused", "LoadRefused", "is_loading", "refuse_file_read", "DEFAULT_MAX_LOAD_BYTES", "allocation_budget", "charge",
           "check_shape", "loading", "max_load_bytes", "set_max_load_bytes"]
