"""The PyDataset shape the dataset utilities share: a list of items served one at a time or
in batches of `batch_size`."""
from __future__ import annotations

from trine.training.pydataset import PyDataset


class BatchedItems(PyDataset):
    """Index `i` is item `i` (`batch_size` None) or the `i`-th batch of items.

    Subclasses say what the items are (`_items`) and how to gather one (`_one`) or a slice of
    them (`_batch`); they set `batch_size` (None: one item an index).
    """

    def _items(self):
        raise NotImplementedError

    def _one(self, index: int):
        raise NotImplementedError

    def _batch(self, positions: slice):
        raise NotImplementedError

    def __len__(self) -> int:
        count = len(self._items())
        return count if self.batch_size is None else -(-count // self.batch_size)

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"{type(self).__name__} index {index} out of range "
                             f"[0, {len(self)}).")
        if self.batch_size is None:
            return self._one(index)
        return self._batch(slice(index * self.batch_size, (index + 1) * self.batch_size))
