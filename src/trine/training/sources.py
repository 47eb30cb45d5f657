"""Dataset sources fit / evaluate / predict accept besides arrays and plain iterables.

Recognised by duck typing and module names, so that none of the libraries is imported
(Keras's `get_data_adapter` rules): trine's `PyDataset` (or any object with Keras's PyDataset
interface), grain's `MapDataset` / `IterDataset` / `DataLoader`, PyTorch's `DataLoader`,
TensorFlow's `tf.data.Dataset` and Hugging Face `datasets.Dataset` in a NumPy / JAX format.
`adapt` wraps one in a `DatasetSource`: re-iterable (one epoch an `iter`), batches checked to
keep their per-sample shapes and dtypes, tensors converted to NumPy without a copy where the
library allows, and `close()` stopping any workers.
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from trine.training.pydataset import PyDataset, ordered_batches

__all__ = ["DatasetSource", "adapt", "source_kind"]

_TAG_BATCH_SHUFFLE = 0x5079  # mixes the PyDataset batch order's seed apart from others
_END = object()


def _mro_names(x):
    return [(c.__name__, str(getattr(c, "__module__", ""))) for c in type(x).__mro__]


def source_kind(x) -> Optional[str]:
    """The kind of dataset `x` is ("PyDataset", "grain dataset", "torch DataLoader",
    "tf.data.Dataset", "Hugging Face Dataset"), or None for anything else."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return None
    for name, module in _mro_names(x):
        if name in ("DatasetV2", "DistributedDataset") and "tensorflow" in module:
            return "tf.data.Dataset"
        if name == "DataLoader" and module.startswith("torch.utils.data"):
            return "torch DataLoader"
        if name in ("MapDataset", "IterDataset", "DataLoader") and module.startswith("grain"):
            return "grain dataset"
        if name == "Dataset" and module.startswith("datasets."):
            return "Hugging Face Dataset"
    if isinstance(x, PyDataset) or (
            hasattr(type(x), "__getitem__") and hasattr(x, "on_epoch_end")
            and hasattr(x, "use_multiprocessing")):  # Keras's own PyDataset subclasses
        return "PyDataset"
    return None


def _to_numpy(a):
    """A batch leaf as NumPy; torch / tf tensors share memory with the result where possible."""
    if isinstance(a, np.ndarray):
        return a
    mod = type(a).__module__
    if mod.startswith("torch"):
        return a.detach().cpu().numpy()
    if mod.startswith("tensorflow"):
        return a.numpy()
    return a


def _standardize(batch, kind: str, index: int):
    """A batch as a tuple `(x[, y[, sample_weight]])` of NumPy leaves (a dict batch: inputs)."""
    import jax
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, (tuple, dict, np.ndarray)) and not hasattr(batch, "__array__"):
        raise ValueError(
            f"The {kind} returned batch {index} of type {type(batch).__name__}; expected a "
            "tuple (x,), (x, y) or (x, y, sample_weight), or a dict of inputs.")
    if isinstance(batch, tuple) and len(batch) not in (1, 2, 3):
        raise ValueError(
            f"The {kind} returned batch {index} as a tuple of {len(batch)} items; expected "
            "(x,), (x, y) or (x, y, sample_weight).")
    if not isinstance(batch, tuple):
        batch = (batch,)
    return jax.tree_util.tree_map(_to_numpy, batch)


def _signature(batch):
    """Per-sample shapes and dtypes of every leaf (the batch axis may vary: a short tail)."""
    import jax
    leaves, treedef = jax.tree_util.tree_flatten(batch)
    return treedef, tuple((tuple(np.shape(a))[1:], str(np.asarray(a).dtype)) for a in leaves)


class _HFBatches(PyDataset):
    """Row slices of a Hugging Face `datasets.Dataset` as batches: its "label" (or "labels")
    column is y (the transformers convention), the other columns x: the array itself for one
    column, a dict keyed by column name (the model's input names) for several."""

    def __init__(self, ds, batch_size: int):
        super().__init__()
        self.ds, self.batch_size = ds, int(batch_size)
        cols = list(ds.format.get("columns") or ds.column_names)
        found = [c for c in ("label", "labels") if c in cols]
        self.y_col = found[0] if found else None
        self.x_cols = [c for c in cols if c != self.y_col]
        if not self.x_cols:
            raise ValueError(f"The Hugging Face Dataset has no input columns besides "
                             f"{self.y_col!r}; columns: {cols}.")

    def __len__(self) -> int:
        return -(-len(self.ds) // self.batch_size)

    def __getitem__(self, i: int):
        rows = self.ds[i * self.batch_size:(i + 1) * self.batch_size]
        x = rows[self.x_cols[0]] if len(self.x_cols) == 1 else {c: rows[c] for c in self.x_cols}
        return (x,) if self.y_col is None else (x, rows[self.y_col])


class DatasetSource:
    """One dataset source as a re-iterable of standardized batches: each `iter` is an epoch.

    Args:
        x: the dataset (see `source_kind`).
        kind: its kind, from `source_kind`.
        shuffle: shuffle a finite PyDataset's batch order each epoch (Keras does; other
            sources are expected to shuffle themselves and warn).
        steps: batches an epoch; with fewer than the PyDataset holds, the next epoch goes on
            where this one stopped (Keras's rule), a new pass starting once it is used up.
        seed: integers seeding the batch order (one order per epoch).
        class_weight: a PyDataset's `(x, y)` batches get sample weights from it (Keras).
        batch_size: rows a batch of a Hugging Face Dataset (default 32); others batch
            themselves.
    """

    def __init__(self, x, kind: str, shuffle: bool = False, steps: Optional[int] = None,
                 seed=(0,), class_weight=None, batch_size: Optional[int] = None):
        if kind == "Hugging Face Dataset":
            fmt = (getattr(x, "format", None) or {}).get("type")
            if fmt not in ("numpy", "jax", "np"):
                raise ValueError(
                    "A Hugging Face Dataset must be in NumPy or JAX format to feed fit: call "
                    f"ds.with_format('numpy') (or 'jax') first (its format is {fmt!r}).")
            x = _HFBatches(x, batch_size or 32)
        self._indexed = kind in ("PyDataset", "Hugging Face Dataset")
        self.dataset, self.kind = x, kind
        self.class_weight = class_weight
        self.steps = None if steps is None else int(steps)
        self._seed, self._epoch = tuple(seed), 0
        self._pass = None  # the unfinished PyDataset pass when steps < its length
        self._signature = None
        self._first = None
        self.num_batches = None
        if self._indexed:
            n = x.num_batches
            if n is not None and int(n) <= 0:
                what = (f"PyDataset {type(x).__name__}" if kind == "PyDataset"
                        else f"{kind} (its rows)")
                raise ValueError(
                    f"The {what} has length {n}: __len__ must return the number of batches "
                    "(>= 1), or num_batches None for an endless one.")
            self.num_batches = None if n is None else int(n)
            if shuffle and self.num_batches is None:
                warnings.warn("shuffle=True is ignored for an endless PyDataset (num_batches is "
                              "None): it is expected to shuffle itself.", stacklevel=3)
            self.shuffle = bool(shuffle) and self.num_batches is not None
        else:
            self.shuffle = False
            if shuffle:
                warnings.warn(
                    f"shuffle=True is ignored: the data was given as a {kind}, which is "
                    "expected to shuffle itself.", stacklevel=3)

    # ------------------------------------------------------------------ iteration
    def peek(self):
        """The first batch (for building the model), without starting an epoch's workers."""
        if self._first is None:
            if self._indexed:
                raw = self.dataset[0]
            else:
                it = iter(self.dataset)
                try:
                    raw = next(it)
                except StopIteration:
                    raise ValueError(f"The {self.kind} yielded no batches.") from None
                finally:
                    close = getattr(it, "close", None)
                    if close is not None:
                        close()
            self._first = self._check(_standardize(raw, self.kind, 0), 0)
        return self._first

    def __iter__(self):
        if self._indexed:
            return self._pydataset_epoch()
        return self._plain_epoch()

    def _check(self, batch, index):
        if self.class_weight:
            from trine.training.data import class_weight_to_sample_weight
            if len(batch) != 2:
                raise ValueError(
                    f"class_weight needs (x, y) batches; the {self.kind} returned batch {index} "
                    f"with {len(batch)} items. Pass class_weight or yield sample weights, not "
                    "both.")
            batch = batch + (class_weight_to_sample_weight(batch[1], self.class_weight),)
        sig = _signature(batch)
        if self._signature is None:
            self._signature = sig
        elif sig != self._signature:
            raise ValueError(
                f"The {self.kind} changed its batches mid-stream: batch {index} has per-sample "
                f"shapes and dtypes {_describe(sig)}, earlier batches had "
                f"{_describe(self._signature)}. Every batch must have the same structure, "
                "per-sample shapes and dtypes (only the batch size may change).")
        return batch

    def _plain_epoch(self):
        count = 0
        it = iter(self.dataset)
        try:
            while self.steps is None or count < self.steps:
                try:
                    raw = next(it)
                except StopIteration:
                    return
                yield self._check(_standardize(raw, self.kind, count), count)
                count += 1
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def _new_pass(self):
        ds = self.dataset
        if self.num_batches is None:
            import itertools
            indices = itertools.count()
        else:
            indices = np.arange(self.num_batches)
            if self.shuffle:
                rng = np.random.default_rng(list(self._seed) + [_TAG_BATCH_SHUFFLE, self._epoch])
                indices = rng.permutation(self.num_batches)
            indices = [int(i) for i in indices]
        ds.on_epoch_begin()
        return ordered_batches(ds, indices, ds.workers, ds.use_multiprocessing,
                               ds.max_queue_size)

    @property
    def epoch_steps(self) -> Optional[int]:
        """Batches an epoch when known (progress bars, callbacks' `params`), else None."""
        if self.steps is not None:
            return self.steps
        if self._indexed:
            return self.num_batches
        try:
            return len(self.dataset)
        except TypeError:  # an IterDataset / generator-backed loader: unknown
            return None

    def _pydataset_epoch(self):
        count = 0
        try:
            while self.steps is None or count < self.steps:
                if self._pass is None:
                    if count:  # the pass ended before steps_per_epoch batches
                        warnings.warn(
                            f"The {self.kind} ran out of data after {count} of steps_per_epoch="
                            f"{self.steps} batches; the epoch ends early. Make "
                            "steps_per_epoch at most its length.", stacklevel=2)
                        return
                    self._pass = (self._new_pass(), 0)
                gen, done = self._pass
                raw = next(gen, _END)
                if raw is _END:  # the pass ended early (cannot for a sized dataset)
                    self._end_pass()
                    return
                batch = self._check(_standardize(raw, self.kind, done), done)
                self._pass = (gen, done + 1)
                if self.num_batches is not None and done + 1 >= self.num_batches:
                    self._end_pass()  # now, so a consumer that stops here ends the epoch
                count += 1
                yield batch
        except (Exception, KeyboardInterrupt):  # not GeneratorExit: a pass outlives its epoch
            self.close()
            raise

    def _end_pass(self):
        gen, _ = self._pass
        self._pass = None
        gen.close()
        self._epoch += 1
        self.dataset.on_epoch_end()

    def close(self) -> None:
        """Stop the workers of an unfinished pass (idempotent)."""
        if self._pass is not None:
            gen, _ = self._pass
            self._pass = None
            gen.close()


def _describe(sig):
    return ", ".join(f"{shape} {dtype}" for shape, dtype in sig[1])


def adapt(x, *, y=None, sample_weight=None, class_weight=None, shuffle=False, steps=None,
          what="fit", seed=(0,), batch_size=None) -> Optional[DatasetSource]:
    """`x` wrapped as a `DatasetSource` when it is a dataset, else None.

    Raises:
        ValueError: `y` or `sample_weight` passed with a dataset (they belong in its batches),
            or `class_weight` with a source other than a PyDataset.

    Example:
        >>> adapt(np.zeros((4, 2))) is None
        True
    
    """
    kind = source_kind(x)
    if kind is None:
        return None
    for arg, value, inside in (("y", y, "the targets"),
                               ("sample_weight", sample_weight, "the sample weights")):
        if value is not None:
            raise ValueError(
                f"{what}(): when x is a {kind}, `{arg}` should not be passed; {inside} belong "
                f"in the batches the {kind} yields: (x, y) or (x, y, sample_weight).")
    if class_weight and kind not in ("PyDataset", "Hugging Face Dataset"):
        raise ValueError(
            f"{what}(): class_weight is not supported with a {kind}; yield (x, y, "
            f"sample_weight) batches with the weights instead. Received class_weight="
            f"{class_weight!r}.")
    return DatasetSource(x, kind, shuffle=shuffle, steps=steps, seed=seed,
                         class_weight=class_weight or None, batch_size=batch_size)
