"""TextVectorization: strings -> token indices or bag-of-words vectors, on the host."""
from __future__ import annotations

import re
import string

import numpy as np

from trine.layers.preprocessing._utils import (HostLayer, adapt_batches, check_choice,
                                               to_numpy_strings)
from trine.layers.preprocessing.lookup import StringLookup, _listify

# TensorFlow's tf.strings.lower lowercases ASCII only (no encoding given), and Keras strips
# exactly the 32 ASCII punctuation characters of string.punctuation.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_STRIP_PUNCT = str.maketrans("", "", string.punctuation)
# tf.strings.split splits on runs of ASCII whitespace and drops empty pieces.
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")


class TextVectorization(HostLayer):
    """Turn raw strings into integer token sequences or bag-of-words vectors.

    Runs on the host (NumPy/Python): strings cannot live in JAX arrays, so apply the layer to
    the data before `fit` (`x = vectorize(texts)`), or in the input pipeline; it cannot be
    traced by `jax.jit` or be part of a Functional/Sequential graph. Its outputs are NumPy
    arrays ready to feed an `Embedding` or `Dense` model.

    Steps: standardize each string, split it into tokens, form n-grams, look the tokens up
    in the vocabulary (learned with `adapt` or given), and encode.

    Vocabulary layout: in "int" mode index 0 is padding (the mask token "") and 1 is the OOV
    token "[UNK]"; in the other modes index 0 is "[UNK]".

    Args:
        max_tokens: maximum vocabulary size, special tokens included.
        standardize: "lower_and_strip_punctuation" (default), "lower", "strip_punctuation",
            None, or a callable taking a NumPy array of `str` and returning one. Lowercasing
            is ASCII-only and punctuation means ASCII `string.punctuation`, as in Keras/TF.
        split: "whitespace" (default, runs of ASCII whitespace), "character", None (each
            input string is one token), or a callable `str -> list[str]` applied to each
            standardized document.
        ngrams: None, an integer n (all 1..n-grams) or a tuple of sizes; n-grams are joined
            with a space.
        output_mode: "int" (default), "multi_hot", "count", "tf_idf" ("one_hot" only with
            split=None).
        output_sequence_length: in "int" mode, pad (with 0) or truncate every sequence to
            this length; otherwise sequences are padded to the longest in the batch.
        pad_to_max_tokens: in the encoding modes, make the depth `max_tokens`.
        vocabulary: a list of tokens or a path to a file of one token per line.
        idf_weights: with "tf_idf" and a vocabulary, one weight per entry.
        sparse / ragged: must be False.
        encoding: encoding of bytes inputs (default "utf-8").

    Returns:
        NumPy arrays: int64 `(batch, sequence_length)` in "int" mode, float32
        `(batch, depth)` otherwise (tf_idf: `count * log(1 + docs / (1 + doc_freq))`).

    Raises:
        ValueError: on invalid arguments or inputs whose last axis is not 1 (when splitting).
        RuntimeError: for an encoding mode used before the vocabulary is set.
        TypeError: when called on a symbolic or traced input.

    Example:
        >>> vectorize = TextVectorization(output_sequence_length=4)
        >>> vectorize.adapt(["The cat sat.", "The dog sat on the cat!"])
        >>> vectorize(["the cat"])
        array([[2, 4, 0, 0]])
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int", output_sequence_length=None,
                 pad_to_max_tokens=False, vocabulary=None, idf_weights=None, sparse=False,
                 ragged=False, encoding="utf-8", name=None, **kwargs):
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        if not (standardize is None or callable(standardize)):
            check_choice(self.name, "standardize", standardize,
                         ("lower_and_strip_punctuation", "lower", "strip_punctuation", None))
        if not (split is None or callable(split)):
            check_choice(self.name, "split", split, ("whitespace", "character", None))
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        check_choice(self.name, "output_mode", output_mode,
                     ("int", "one_hot", "multi_hot", "count", "tf_idf"))
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and ngrams >= 1) or
                (isinstance(ngrams, tuple) and ngrams and
                 all(isinstance(n, int) and n >= 1 for n in ngrams))):
            raise ValueError(
                f"TextVectorization layer '{self.name}' expected ngrams to be None, a positive "
                f"integer or a tuple of positive integers, received ngrams={ngrams!r}.")
        if output_mode == "int" and not (output_sequence_length is None or (
                isinstance(output_sequence_length, int) and output_sequence_length >= 0)):
            raise ValueError(
                f"TextVectorization layer '{self.name}' expected output_sequence_length to be "
                f"None or a non-negative integer, received {output_sequence_length!r}.")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(
                f"TextVectorization layer '{self.name}': output_sequence_length is only used "
                f"with output_mode='int', received output_mode={output_mode!r}.")
        if sparse or ragged:
            raise ValueError(
                f"TextVectorization layer '{self.name}': sparse=True and ragged=True need "
                "TensorFlow tensors and are not supported by trine. Use the default dense "
                "output (padded with 0 in 'int' mode).")
        if output_mode == "one_hot" and split is not None:
            raise ValueError(
                f"TextVectorization layer '{self.name}': output_mode='one_hot' needs one token "
                "per input (split=None). Use 'multi_hot' or 'count' for split text.")
        self._max_tokens = max_tokens
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._ragged = False
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            encoding=encoding, has_input_vocabulary=has_input_vocabulary,
            vocabulary_size=vocabulary_size)

    # ------------------------------------------------------------ preprocessing
    def _standardize_strings(self, arr):
        if self._standardize is None:
            return arr
        if callable(self._standardize):
            out = np.asarray(self._standardize(arr.astype(str)))
            return to_numpy_strings(out, self._encoding).reshape(arr.shape)
        flat = arr.reshape(-1).tolist()
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            flat = [s.translate(_ASCII_LOWER) for s in flat]
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            flat = [s.translate(_STRIP_PUNCT) for s in flat]
        return np.array(flat + [""], dtype=object)[:-1].reshape(arr.shape)

    def _split_one(self, doc):
        if self._split == "whitespace":
            return [t for t in _WHITESPACE.split(doc) if t]
        if self._split == "character":
            return list(doc)
        tokens = self._split(doc)
        return [t.decode(self._encoding) if isinstance(t, bytes) else str(t) for t in tokens]

    def _preprocess(self, inputs):
        """Raw strings -> list of documents, each a list of tokens (n-grams included)."""
        arr = to_numpy_strings(inputs, self._encoding)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        arr = self._standardize_strings(arr)
        if self._split is not None:
            if arr.ndim > 1:
                if arr.shape[-1] != 1 or arr.ndim > 2:
                    raise ValueError(
                        f"TextVectorization layer '{self.name}': to split strings into tokens "
                        "the input must be rank 1 (batch,) or (batch, 1), received shape "
                        f"{arr.shape}. Pass one string per sample.")
                arr = arr[:, 0]
            rows = [self._split_one(doc) for doc in arr.tolist()]
        else:
            if arr.ndim == 1:
                arr = arr[:, None]
            rows = [list(r) for r in arr.reshape(arr.shape[0], -1).tolist()]
        if self._ngrams is not None:
            rows = [[" ".join(r[i:i + n]) for n in self._ngrams for i in range(len(r) - n + 1)]
                    for r in rows]
        return rows

    # ------------------------------------------------------------ call
    def call(self, inputs):
        lookup = self._lookup_layer
        lookup._ensure_known_vocab_size()
        lookup._called = True
        rows = self._preprocess(inputs)
        lengths = [len(r) for r in rows]
        flat = lookup._lookup_host([t for r in rows for t in r])
        n = len(rows)
        if self._output_mode == "int":
            width = (self._output_sequence_length if self._output_sequence_length is not None
                     else max(lengths, default=0))
            out = np.zeros((n, width), np.int64)
            pos = 0
            for i, k in enumerate(lengths):
                m = min(k, width)
                out[i, :m] = flat[pos:pos + m]
                pos += k
            return out
        depth = lookup._depth()
        if self._output_mode == "one_hot":
            return lookup._encode_host(flat.reshape(n, -1))
        row_ids = np.repeat(np.arange(n), lengths)
        keep = flat >= 0
        counts = np.zeros((n, depth), np.float32)
        np.add.at(counts, (row_ids[keep], flat[keep]), 1.0)
        if self._output_mode == "multi_hot":
            return np.minimum(counts, 1.0)
        if self._output_mode == "tf_idf":
            return (counts * lookup.idf_weights[:depth]).astype(np.float32)
        return counts

    # ------------------------------------------------------------ vocabulary
    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and idf weights for "tf_idf") from strings, on the host.

        Args:
            data: a list / array of strings (each one document), or an iterable of such
                batches (e.g. a generator, or `(text, label)` tuples).
            batch_size: unused; accepted for Keras compatibility.
            steps: for an iterable, use at most this many batches.

        Raises:
            ValueError: if the layer was created with a vocabulary.

        Example:
            >>> tv = TextVectorization(max_tokens=1000)
            >>> tv.adapt(["a b c", "b c", "c"])
            >>> tv.get_vocabulary()
            ['', '[UNK]', 'c', 'b', 'a']
        """
        lookup = self._lookup_layer
        lookup.reset_state()
        if isinstance(data, (str, bytes, list, tuple, np.ndarray)):
            arr = to_numpy_strings(data, self._encoding)
            if arr.ndim == 0:
                arr = arr.reshape(1)
            if arr.ndim == 1:
                arr = arr[:, None]
            lookup._update_rows(self._preprocess(arr))
        elif hasattr(data, "__iter__"):
            for batch in adapt_batches(data, steps):
                lookup._update_rows(self._preprocess(batch))
        else:
            raise TypeError(
                f"TextVectorization layer '{self.name}': adapt() expected strings (a list or "
                f"array) or an iterable of batches of strings, received {type(data).__name__}.")
        lookup.finalize_state()

    def update_state(self, data):
        self._lookup_layer._update_rows(self._preprocess(data))

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary in index order ("" and "[UNK]" first in "int" mode)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        """Size of the vocabulary, special tokens included."""
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Set the vocabulary (and idf weights for "tf_idf") directly; see StringLookup."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0] if len(input_shape) else None
        if self._output_mode == "int":
            return (batch, self._output_sequence_length)
        return (batch, self._lookup_layer._depth())

    # ------------------------------------------------------------ config / saving
    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "max_tokens": self._lookup_layer.max_tokens, "standardize": self._standardize,
            "split": self._split, "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": self._lookup_layer.pad_to_max_tokens, "sparse": False,
            "ragged": False, "vocabulary": _listify(self._lookup_layer.input_vocabulary),
            "idf_weights": _listify(self._lookup_layer.input_idf_weights),
            "encoding": self._encoding, "vocabulary_size": self.vocabulary_size(),
        })
        return cfg

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)

    def save_own_variables(self, store):
        self._lookup_layer.save_own_variables(store)

    def load_own_variables(self, store):
        self._lookup_layer.load_own_variables(store)

    def save_assets(self, dir_path):
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path):
        self._lookup_layer.load_assets(dir_path)


# Keys get_config writes (as Keras's) that __init__ takes through **kwargs.
TextVectorization._CONFIG_ONLY_KEYS = ("vocabulary_size", "has_input_vocabulary")
