"""`timeseries_dataset_from_array` (sliding windows as a PyDataset) and `split_dataset`."""
from __future__ import annotations

import random
from typing import Optional, Union

import numpy as np

from trine.dataset_utils.batched_items import BatchedItems

__all__ = ["WindowDataset", "split_dataset", "timeseries_dataset_from_array"]


class WindowDataset(BatchedItems):
    """Windows of a series gathered per batch: `(windows, targets)` or `windows`.

    Windows are gathered on demand (`data[starts + offsets]`), so a long series is not
    copied once per window.
    """

    def __init__(self, data, targets, starts, offsets, batch_size):
        super().__init__()
        self.data, self.targets = data, targets
        self.starts, self.offsets, self.batch_size = starts, offsets, batch_size

    def _items(self):
        return self.starts

    def _one(self, index: int):
        pos = self.starts[index]
        x = self.data[pos + self.offsets]
        return x if self.targets is None else (x, self.targets[pos])

    def _batch(self, positions: slice):
        pos = self.starts[positions]
        x = self.data[pos[:, None] + self.offsets[None, :]]
        return (x,) if self.targets is None else (x, self.targets[pos])


def timeseries_dataset_from_array(data, targets, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: Optional[int] = 128,
                                  shuffle: bool = False, seed: Optional[int] = None,
                                  start_index: Optional[int] = None,
                                  end_index: Optional[int] = None):
    """Sliding windows over a series, as Keras's `timeseries_dataset_from_array`.

    Window `i` is `data[start_index + s_i + k * sampling_rate]` for `k < sequence_length`,
    with `s_i = i * sequence_stride`; its target is `targets[start_index + s_i]`. With
    `shuffle`, the windows' order is shuffled once with `seed`.

    Args:
        data: array-like, time on axis 0.
        targets: array-like aligned with `data` (or None for windows only).
        sequence_length: samples per window. sequence_stride: step between window starts.
        sampling_rate: step between samples within a window.
        batch_size: windows a batch (None: single windows).
        shuffle, seed: shuffle the windows' order (once).
        start_index, end_index: use only `data[start_index:end_index]` for window samples.

    Returns:
        A `WindowDataset` (a PyDataset) that fit / evaluate / predict consume.

    Raises:
        ValueError: for indices, strides or rates out of range (naming the argument).

    Example:
        >>> ds = timeseries_dataset_from_array(np.arange(10), None, 3, batch_size=None)
        >>> ds[0]
        array([0, 1, 2])
    """
    data = np.asarray(data)
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"timeseries_dataset_from_array: start_index must be >= 0, "
                             f"received {start_index}.")
        if start_index >= n:
            raise ValueError(f"timeseries_dataset_from_array: start_index must be lower than "
                             f"the data's length {n}, received {start_index}.")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"timeseries_dataset_from_array: end_index ({end_index}) must be "
                             f"higher than start_index ({start_index}).")
        if end_index >= n:
            raise ValueError(f"timeseries_dataset_from_array: end_index must be lower than the "
                             f"data's length {n}, received {end_index}.")
        if end_index <= 0:
            raise ValueError(f"timeseries_dataset_from_array: end_index must be > 0, received "
                             f"{end_index}.")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"timeseries_dataset_from_array: {name} must be > 0, received "
                             f"{value}.")
        if value >= n:
            raise ValueError(f"timeseries_dataset_from_array: {name} must be lower than the "
                             f"data's length {n}, received {value}.")
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"timeseries_dataset_from_array: batch_size must be a positive "
                         f"integer or None, received {batch_size!r}.")
    start = start_index or 0
    end = end_index if end_index is not None else n
    num = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        num = min(num, len(targets))
    starts = np.arange(0, max(num, 0), sequence_stride)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    window = np.arange(0, sequence_length * sampling_rate, sampling_rate)
    if not len(starts):
        raise ValueError(
            f"timeseries_dataset_from_array: no window of sequence_length={sequence_length} "
            f"and sampling_rate={sampling_rate} fits in data[{start}:{end}]. Use a shorter "
            "sequence_length or more data.")
    return WindowDataset(data[start:end], None if targets is None else targets[start:],
                         starts, window, None if batch_size is None else int(batch_size))


def _split_sizes(total, left_size, right_size):
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: pass left_size or right_size (or both).")
    for name, v in (("left_size", left_size), ("right_size", right_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise TypeError(f"split_dataset: {name} must be an int, a float or None, received "
                            f"{type(v).__name__}.")
        if isinstance(v, int) and not 0 < v < total or isinstance(v, float) and not 0 < v < 1:
            raise ValueError(f"split_dataset: {name} must be an integer in (0, {total}) or a "
                             f"float in (0, 1), received {v!r}.")
    if isinstance(left_size, float) and isinstance(right_size, float) and \
            left_size + right_size > 1:
        raise ValueError("split_dataset: left_size + right_size is more than 1.")
    left = round(left_size * total) if isinstance(left_size, float) else left_size
    right = round(right_size * total) if isinstance(right_size, float) else right_size
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"split_dataset: left_size + right_size ({left + right}) is more than "
                         f"the {total} samples.")
    if left == 0 or right == 0:
        raise ValueError(f"split_dataset: with {total} samples, left_size={left_size} and "
                         f"right_size={right_size} leave one side empty.")
    return int(left), int(right)


def split_dataset(dataset, left_size: Optional[Union[int, float]] = None,
                  right_size: Optional[Union[int, float]] = None, shuffle: bool = False,
                  seed: Optional[int] = None):
    """Split samples into two parts, as Keras's `split_dataset`.

    Args:
        dataset: an array, a tuple / list of arrays with one sample axis (e.g. `(x, y)`), a
            dict of arrays, or a `FileDataset` from a `*_dataset_from_directory` function
            (its files are split).
        left_size, right_size: an int (samples) or a float (fraction); one may be None (the
            rest).
        shuffle, seed: shuffle the samples before splitting (Python's `random` with `seed`,
            as Keras).

    Returns:
        `(left, right)` in the structure of `dataset`.

    Raises:
        ValueError / TypeError: for sizes out of range, arrays of different lengths, or an
            unsupported dataset type.
    """
    from trine.dataset_utils.directory import FileDataset
    if isinstance(dataset, FileDataset):
        total = len(dataset.file_paths)
    elif isinstance(dataset, dict):
        total = {len(v) for v in dataset.values()}
    elif isinstance(dataset, (tuple, list)):
        total = {len(v) for v in dataset}
    elif hasattr(dataset, "__len__") and hasattr(dataset, "shape"):
        total = len(dataset)
    else:
        raise TypeError(f"split_dataset: dataset must be an array, a tuple / list / dict of "
                        f"arrays or a FileDataset, received {type(dataset).__name__}.")
    if isinstance(total, set):
        if len(total) != 1:
            raise ValueError(f"split_dataset: the arrays have different lengths {sorted(total)};"
                             " every array needs one entry per sample.")
        total = total.pop()
    left, right = _split_sizes(total, left_size, right_size)
    order = list(range(total))
    if shuffle:
        random.Random(random.randint(0, int(1e6)) if seed is None else seed).shuffle(order)
    left_idx, right_idx = np.asarray(order[:left]), np.asarray(order[left:left + right])

    def take(idx):
        if isinstance(dataset, FileDataset):
            labels = None if dataset.labels is None else dataset.labels[idx]
            return FileDataset([dataset.file_paths[i] for i in idx], labels, dataset._load,
                               dataset.batch_size, dataset.class_names, dataset._collate,
                               dataset.workers)
        if isinstance(dataset, dict):
            return {k: np.asarray(v)[idx] for k, v in dataset.items()}
        if isinstance(dataset, (tuple, list)):
            return type(dataset)(np.asarray(v)[idx] for v in dataset)
        return np.asarray(dataset)[idx]

    return take(left_idx), take(right_idx)
