"""Shared steps of the Keras-format data sets: where the files come from, and the shuffle and
split that Keras applies (so the arrays equal Keras's)."""
from __future__ import annotations

import numpy as np

__all__ = ["ORIGIN", "fetch", "shuffle_split", "check_test_split"]

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def fetch(path: str, origin: str, file_hash: str, **kwargs) -> str:
    """The local path of a data set file: the cache's copy, or a download (hash checked)."""
    from trine.dataset_utils.get_file import get_file
    return get_file(path, origin=origin, file_hash=file_hash, **kwargs)


def check_test_split(test_split, who: str) -> None:
    if not 0 <= test_split < 1:
        raise ValueError(f"{who}: test_split must be in [0, 1), received {test_split!r}.")


def shuffle_split(x, y, test_split: float, seed: int):
    """Shuffle with NumPy's RandomState(seed), then the first (1 - test_split) for training."""
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))


def encode_sequences(seqs, start_char, index_from):
    """Each word index shifted by `index_from`, with `start_char` first when not None."""
    head = [] if start_char is None else [start_char]
    return [head + [int(w) + (index_from or 0) for w in s] for s in seqs]


def drop_long(maxlen, seqs, labels):
    """Only the sequences shorter than `maxlen` (Keras's rule: strictly shorter)."""
    kept = [(s, l) for s, l in zip(seqs, labels) if len(s) < maxlen]
    return [s for s, _ in kept], [l for _, l in kept]


def limit_vocabulary(seqs, num_words, skip_top, oov_char):
    """Words outside [skip_top, num_words) become `oov_char`, or are dropped when it is None."""
    if not num_words:
        num_words = max(max(s) for s in seqs if s)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in seqs]
    return [[w for w in s if skip_top <= w < num_words] for s in seqs]


def object_array(seqs):
    out = np.empty((len(seqs),), object)
    out[:] = seqs
    return out
