"""`PyDataset` (Keras's `keras.utils.PyDataset`, alias `Sequence`) and its ordered prefetcher.

A PyDataset is a Python object with `__len__` (batches an epoch, or `num_batches` returning
None for an endless one) and `__getitem__(i)` (batch `i`). With `workers > 1`, or
`use_multiprocessing=True`, batches are built ahead by worker threads (or forked processes),
at most `max_queue_size` in flight, and handed to fit in index order.

    class Squares(trine.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, i):
            s = slice(i * self.batch_size, (i + 1) * self.batch_size)
            return self.x[s], self.y[s]

    model.fit(Squares(x, y, 32, workers=4), epochs=3)

Worker hygiene: the pool of an epoch is closed when the epoch ends, when a worker raises
(its exception reaches the caller with the worker's traceback as `__cause__`), and when the
consumer stops early (fit closes the source in a `finally`); no worker outlives the call.
"""
from __future__ import annotations

import collections
import itertools
import os
from typing import Iterable, Iterator, Optional

__all__ = ["PyDataset", "Sequence", "ordered_batches"]


class PyDataset:
    """Base class for a dataset of batches built by Python code, optionally in parallel.

    Subclasses implement `__len__` (or the `num_batches` property, None for an endless
    dataset) and `__getitem__(index)` returning `(x,)`, `(x, y)` or `(x, y, sample_weight)`
    (or a dict of inputs); `on_epoch_begin` / `on_epoch_end` are called around each epoch.

    Args:
        workers: how many threads (or processes) build batches ahead. 1 with
            `use_multiprocessing=False` builds them in the calling thread.
        use_multiprocessing: build batches in forked processes instead of threads (for
            Python-heavy `__getitem__` code that holds the GIL). The dataset must not rely
            on state mutated during the epoch by the parent process.
        max_queue_size: most batches built ahead of the one being consumed.

    Raises:
        ValueError: for a non-positive `max_queue_size` or a negative `workers`.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        self._workers = _check_int("workers", workers, 0)
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = _check_int("max_queue_size", max_queue_size, 1)

    @property
    def workers(self) -> int:
        """Threads / processes building batches."""
        self._ensure_init()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = _check_int("workers", value, 0)

    @property
    def use_multiprocessing(self) -> bool:
        """Whether workers are processes (True) or threads (False)."""
        self._ensure_init()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self) -> int:
        """Most batches prepared ahead."""
        self._ensure_init()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = _check_int("max_queue_size", value, 1)

    def _ensure_init(self) -> None:
        # A subclass that forgot super().__init__() still works, with Keras's defaults.
        if "_workers" not in self.__dict__:
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10

    def __getitem__(self, index: int):
        """The batch at position `index`: `(x,)`, `(x, y)`, `(x, y, sample_weight)` or a dict."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement __getitem__(self, index) returning a batch "
            "(x, y) for position `index`.")

    @property
    def num_batches(self) -> Optional[int]:
        """Batches an epoch: `len(self)` by default; None means the dataset never ends."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement __len__ (batches an epoch) or the "
            "num_batches property (None for an endless dataset).")

    def __iter__(self) -> Iterator:
        n = self.num_batches
        for i in (range(n) if n is not None else itertools.count()):
            yield self[i]

    def on_epoch_begin(self) -> None:
        """Called before each epoch's first batch."""

    def on_epoch_end(self) -> None:
        """Called after each epoch's last batch (shuffle your sample order here)."""


Sequence = PyDataset


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"PyDataset: {name} must be an integer >= {low}, received {value!r}.")
    return value


# The dataset a forked worker reads; set by the pool initializer, one per process.
_WORKER_DATASET = [None]


def _init_worker(dataset) -> None:
    _WORKER_DATASET[0] = dataset


def _worker_getitem(index):
    return _WORKER_DATASET[0][index]


def _start_method() -> str:
    # fork hands the dataset to the workers without pickling it (Keras does the same);
    # TRINE_PYDATASET_START_METHOD=spawn for datasets that must not share a forked state.
    import multiprocessing
    method = os.environ.get("TRINE_PYDATASET_START_METHOD")
    if method:
        return method
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def ordered_batches(dataset, indices: Iterable[int], workers: int, use_multiprocessing: bool,
                    max_queue_size: int) -> Iterator:
    """`dataset[i]` for each `i` of `indices`, in order, built ahead by a pool.

    The pool lives for one pass of this generator and is shut down when it ends, raises or
    is closed, so no worker thread or process outlives it.
    """
    indices = iter(indices)
    if workers <= 1 and not use_multiprocessing:
        for i in indices:
            yield dataset[i]
        return
    workers = max(1, workers)
    if use_multiprocessing:
        import multiprocessing
        import warnings
        ctx = multiprocessing.get_context(_start_method())
        with warnings.catch_warnings():
            # JAX warns at every fork; the workers only run the dataset's own Python code.
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called")
            pool = ctx.Pool(workers, initializer=_init_worker, initargs=(dataset,))
        submit = lambda i: pool.apply_async(_worker_getitem, (i,))  # noqa: E731
        result = lambda f: f.get()  # noqa: E731 - re-raises with the worker's traceback

        def stop():
            pool.terminate()
            pool.join()
    else:
        import concurrent.futures
        pool = concurrent.futures.ThreadPoolExecutor(workers, "trine-pydataset")
        submit = lambda i: pool.submit(dataset.__getitem__, i)  # noqa: E731
        result = lambda f: f.result()  # noqa: E731

        def stop():
            pool.shutdown(wait=True, cancel_futures=True)
    queue = collections.deque()
    try:
        for i in itertools.islice(indices, max_queue_size):
            queue.append(submit(i))
        while queue:
            batch = result(queue.popleft())
            nxt = next(indices, None)
            if nxt is not None:
                queue.append(submit(nxt))
            yield batch
    finally:
        stop()
