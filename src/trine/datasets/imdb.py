"""IMDB movie reviews (25,000 train / 25,000 test), word indices by frequency, as
`keras.datasets.imdb`. The `.npz` holds object arrays; it is read without running code."""
from __future__ import annotations

import json

import numpy as np

from trine.datasets import _keras_files as kf
from trine.datasets._safe_pickle import load_npz

__all__ = ["get_word_index", "load_data"]

FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(path: str = "imdb.npz", num_words=None, skip_top: int = 0, maxlen=None,
              seed: int = 113, start_char=1, oov_char=2, index_from: int = 3, **kwargs):
    """`(x_train, y_train), (x_test, y_test)`: object arrays of word-index lists and labels.

    Args:
        num_words: keep the most frequent words (others become `oov_char`, or are dropped
            when it is None). skip_top: also replace the most frequent `skip_top`.
        maxlen: keep only reviews shorter than this. seed: the shuffle's seed.
        start_char: index marking a review's start (None: none). index_from: shift of the
            word indices.

    Raises:
        ValueError: when `maxlen` leaves no review, or an unknown keyword argument.
        OSError / DatasetFormatError: file not cached and no network; a hostile file.
    """
    if kwargs:
        raise TypeError(f"imdb.load_data: unexpected keyword arguments {sorted(kwargs)}.")
    f = load_npz(kf.fetch(path, kf.ORIGIN + "imdb.npz", FILE_HASH))
    rng = np.random.RandomState(seed)
    parts = []
    for xs, ys in ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])):
        order = np.arange(len(xs))
        rng.shuffle(order)  # one generator for both: the test order follows the train draw
        seqs, labels = kf.encode_sequences(xs[order], start_char, index_from), ys[order]
        if maxlen:
            seqs, labels = kf.drop_long(maxlen, seqs, labels)
            if not seqs:
                raise ValueError(f"imdb.load_data: no review is shorter than maxlen={maxlen}; "
                                 "increase maxlen.")
        parts.append((seqs, np.asarray(labels, ys.dtype)))
    n_train = len(parts[0][0])
    seqs = kf.limit_vocabulary(parts[0][0] + parts[1][0], num_words, skip_top, oov_char)
    labels = np.concatenate([parts[0][1], parts[1][1]])
    return ((kf.object_array(seqs[:n_train]), labels[:n_train]),
            (kf.object_array(seqs[n_train:]), labels[n_train:]))


def get_word_index(path: str = "imdb_word_index.json") -> dict:
    """The word -> index dictionary (indices before the `index_from` shift)."""
    with open(kf.fetch(path, kf.ORIGIN + "imdb_word_index.json", WORD_INDEX_HASH),
              encoding="utf-8") as f:
        return json.load(f)
