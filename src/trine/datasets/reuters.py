"""Reuters newswire topics (11,228 articles, 46 topics), as `keras.datasets.reuters`."""
from __future__ import annotations

import json

import numpy as np

from trine.datasets import _keras_files as kf
from trine.datasets._safe_pickle import load_npz

__all__ = ["get_label_names", "get_word_index", "load_data"]

FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"

_LABELS = ("cocoa grain veg-oil earn acq wheat copper housing money-supply coffee sugar trade "
           "reserves ship cotton carcass crude nat-gas cpi money-fx interest gnp meal-feed alum "
           "oilseed gold tin strategic-metal livestock retail ipi iron-steel rubber heat jobs "
           "lei bop zinc orange pet-chem dlr gas silver wpi hog lead")


def load_data(path: str = "reuters.npz", num_words=None, skip_top: int = 0, maxlen=None,
              test_split: float = 0.2, seed: int = 113, start_char=1, oov_char=2,
              index_from: int = 3):
    """`(x_train, y_train), (x_test, y_test)`: object arrays of word-index lists and topics.

    Args as `imdb.load_data`, plus `test_split`, the fraction held out (from the end after
    the shuffle).

    Raises:
        OSError / DatasetFormatError: file not cached and no network; a hostile file.
    """
    f = load_npz(kf.fetch(path, kf.ORIGIN + "reuters.npz", FILE_HASH))
    order = np.arange(len(f["x"]))
    np.random.RandomState(seed).shuffle(order)
    seqs, labels = kf.encode_sequences(f["x"][order], start_char, index_from), f["y"][order]
    if maxlen:
        seqs, labels = kf.drop_long(maxlen, seqs, labels)
    seqs = kf.limit_vocabulary(seqs, num_words, skip_top, oov_char)
    cut = int(len(seqs) * (1 - test_split))
    return ((kf.object_array(seqs[:cut]), np.array(labels[:cut])),
            (kf.object_array(seqs[cut:]), np.array(labels[cut:])))


def get_word_index(path: str = "reuters_word_index.json") -> dict:
    """The word -> index dictionary (indices before the `index_from` shift)."""
    with open(kf.fetch(path, kf.ORIGIN + "reuters_word_index.json", WORD_INDEX_HASH),
              encoding="utf-8") as f:
        return json.load(f)


def get_label_names() -> tuple:
    """The 46 topic names, in label order."""
    return tuple(_LABELS.split())
