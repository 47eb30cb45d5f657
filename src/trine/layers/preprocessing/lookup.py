"""Vocabulary lookups: IntegerLookup (device) and StringLookup (host).

Both map tokens to contiguous indices from a vocabulary that is given or learned with
`adapt` (on the host). The index layout is Keras's:

- output_mode "int": index 0 is the mask token (if `mask_token` is set), then
  `num_oov_indices` OOV buckets, then the vocabulary in order;
- other modes: no mask slot (masked tokens encode to nothing), OOV buckets first.

`adapt` orders the learned vocabulary by decreasing frequency, ties broken by decreasing
token value (Keras sorts with `np.lexsort` and reverses), and keeps at most
`max_tokens - (special tokens)` entries. With `num_oov_indices > 1`, OOV integers go to
bucket `token % num_oov_indices`, OOV strings to `Fingerprint64(token) % num_oov_indices`
(FarmHash, as TensorFlow/Keras), or SipHash-2-4 with `salt`.
"""
from __future__ import annotations

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np

from trine.core import allocation
from trine.core.layer import Layer
from trine.layers.preprocessing._hash import hash_bucket
from trine.layers.preprocessing._utils import (HostLayer, adapt_batches, check_choice,
                                               encode_categorical, encoded_shape, is_int_like,
                                               is_traced, reject_sparse, to_numpy_strings)
from trine.layers.preprocessing.hashing import normalize_salt, value_bytes

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


@functools.partial(jax.jit, static_argnames=("num_oov", "oov_start", "mask_token", "mask_value"))
def _int_lookup(x, sorted_tok, sorted_idx, buckets, *, num_oov, oov_start, mask_token,
                mask_value):
    """Integer tokens -> indices via a sorted vocabulary (device); also returns `found`."""
    if sorted_tok.shape[0]:
        pos = jnp.clip(jnp.searchsorted(sorted_tok, x), 0, sorted_tok.shape[0] - 1)
        found = sorted_tok[pos] == x
        idx = jnp.where(found, sorted_idx[pos], -1)
    else:
        found = jnp.zeros(x.shape, bool)
        idx = jnp.full(x.shape, -1, x.dtype)
    if num_oov == 1:
        idx = jnp.where(found, idx, oov_start)
    elif num_oov > 1:
        b = jnp.mod(x, num_oov) if buckets is None else buckets
        idx = jnp.where(found, idx, b + oov_start)
    if mask_token is not None:
        idx = jnp.where(x == mask_token, mask_value, idx)
    return idx.astype(x.dtype), found


@jax.jit
def _invert_lookup(x, table, oov_token):
    inside = (x >= 0) & (x < table.shape[0])
    return jnp.where(inside, table[jnp.clip(x, 0, table.shape[0] - 1)],
                     jnp.asarray(oov_token, table.dtype))


@functools.partial(jax.jit, static_argnames=("mode", "depth", "dtype"))
def _encode_indices(idx, idf, *, mode, depth, dtype="float32"):
    if mode == "tf_idf":
        return (encode_categorical(jnp, idx, "count", depth, "float32") * idf).astype(dtype)
    return encode_categorical(jnp, idx, mode, depth, dtype)


def _listify(x):
    if isinstance(x, (np.ndarray, jax.Array)):
        return np.asarray(x).tolist()
    if isinstance(x, tuple):
        return list(x)
    return x


class _IndexLookupMixin:
    """Vocabulary state and everything that does not depend on where lookups run."""

    _is_string = False

    def _init_lookup(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                     idf_weights, invert, output_mode, sparse, pad_to_max_tokens, oov_method,
                     salt, vocabulary_size, has_input_vocabulary):
        cls = type(self).__name__
        if max_tokens is not None and (not is_int_like(max_tokens) or max_tokens <= 1):
            raise ValueError(
                f"{cls} layer '{self.name}' expected max_tokens to be None or an integer "
                f"greater than 1, received max_tokens={max_tokens!r}.")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(
                f"{cls} layer '{self.name}': pad_to_max_tokens=True needs max_tokens to be "
                "set. Pass max_tokens=N.")
        if not is_int_like(num_oov_indices) or num_oov_indices < 0:
            raise ValueError(
                f"{cls} layer '{self.name}' expected num_oov_indices to be an integer >= 0, "
                f"received num_oov_indices={num_oov_indices!r}.")
        check_choice(self.name, "oov_method", oov_method, ("floormod", "farmhash"))
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        check_choice(self.name, "output_mode", output_mode, _MODES)
        if invert and output_mode != "int":
            raise ValueError(
                f"{cls} layer '{self.name}': invert=True needs output_mode='int', received "
                f"output_mode={output_mode!r}.")
        reject_sparse(self, sparse)
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(
                f"{cls} layer '{self.name}': idf_weights is only used with "
                f"output_mode='tf_idf', received output_mode={output_mode!r}.")
        if salt is not None and not self._is_string and oov_method != "farmhash":
            raise ValueError(
                f"{cls} layer '{self.name}': salt is only used with oov_method='farmhash', "
                f"received oov_method={oov_method!r}.")
        self.invert = bool(invert)
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self.salt = normalize_salt(self.name, salt)
        self._frozen_vocab_size = vocabulary_size
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = (vocabulary is not None if has_input_vocabulary is None
                                      else bool(has_input_vocabulary))
        self._tokens: list = []
        self.idf_weights = None
        self._called = False
        self.reset_state()
        if self.output_mode == "tf_idf" and self._has_input_vocabulary and idf_weights is None:
            raise ValueError(
                f"{cls} layer '{self.name}': with output_mode='tf_idf' and a given vocabulary, "
                "idf_weights must be given too (one weight per vocabulary entry).")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # ------------------------------------------------------------ index layout
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """Size of the vocabulary, special tokens included."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary in index order (mask token and OOV tokens first, if included)."""
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        if not include_special_tokens:
            vocab = vocab[self._token_start_index():]
        return vocab

    def _depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    # ------------------------------------------------------------ tokens (subclass)
    def _canon_tokens(self, values) -> list:
        """Host values -> canonical Python tokens (str for strings, int for integers)."""
        raise NotImplementedError

    # ------------------------------------------------------------ vocabulary
    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Set the vocabulary (and, for tf_idf, the idf weights) directly.

        Args:
            vocabulary: a list/array of tokens, optionally starting with the special tokens
                in index order, or the path of a text file with one token per line.
            idf_weights: with output_mode "tf_idf", one weight per vocabulary entry.

        Raises:
            ValueError: for an empty vocabulary, repeated tokens, a mask/OOV token in an
                unexpected place, a vocabulary larger than `max_tokens`, or idf weights that
                are missing or of the wrong length.
        """
        cls = type(self).__name__
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(
                    f"{cls} layer '{self.name}': output_mode='tf_idf' needs idf_weights with "
                    "the vocabulary (one weight per token).")
        elif idf_weights is not None:
            raise ValueError(
                f"{cls} layer '{self.name}': idf_weights is only used with "
                f"output_mode='tf_idf', received output_mode={self.output_mode!r}.")
        if isinstance(vocabulary, str):
            if self.output_mode == "tf_idf":
                raise ValueError(
                    f"{cls} layer '{self.name}': output_mode='tf_idf' cannot load its "
                    "vocabulary from a file; pass a list of tokens and idf_weights.")
            allocation.refuse_file_read(f"{cls} layer '{self.name}'", vocabulary)
            try:
                with open(vocabulary, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except OSError as e:
                raise ValueError(
                    f"{cls} layer '{self.name}': cannot read vocabulary file "
                    f"{vocabulary!r} ({e}). Pass an existing file or a list of tokens.") from None
            while lines and lines[-1] == "":
                lines.pop()
            vocabulary = lines if self._is_string else [int(v) for v in lines]
        if is_traced(vocabulary):
            raise RuntimeError(
                f"{cls} layer '{self.name}': cannot set a vocabulary inside jax.jit; set it "
                "before tracing.")
        tokens = self._canon_tokens(np.asarray(vocabulary, dtype=object).reshape(-1)
                                    if not self._is_string else to_numpy_strings(vocabulary).reshape(-1))
        if len(tokens) == 0:
            raise ValueError(f"{cls} layer '{self.name}': cannot set an empty vocabulary.")
        oov_start = self._oov_start_index()
        token_start = self._token_start_index()
        special = [self.mask_token] * oov_start + [self.oov_token] * self.num_oov_indices
        found_special = tokens[:token_start] == special
        full_len = len(tokens)
        if found_special:
            tokens = tokens[token_start:]
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(
                f"{cls} layer '{self.name}': the vocabulary has repeated tokens {repeated}. "
                "Remove the duplicates.")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(
                f"{cls} layer '{self.name}': the mask token {self.mask_token!r} appears inside "
                "the vocabulary. The vocabulary need not contain the mask and OOV tokens; "
                f"either leave them out or put them first, in this order: {special}.")
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ValueError(
                f"{cls} layer '{self.name}': the OOV token {self.oov_token!r} appears inside "
                "the vocabulary. Leave it out, or put the special tokens first in this order: "
                f"{special}.")
        if self.max_tokens is not None and token_start + len(tokens) > self.max_tokens:
            raise ValueError(
                f"{cls} layer '{self.name}': the vocabulary has {token_start + len(tokens)} "
                f"entries (special tokens included) but max_tokens={self.max_tokens}. Raise "
                "max_tokens or shorten the vocabulary.")
        self._check_tokens(tokens)
        self._tokens = list(tokens)
        self._record_vocabulary_size()
        if self.output_mode == "tf_idf":
            idf = np.asarray(idf_weights, dtype=np.float64)
            if idf.ndim != 1:
                raise ValueError(
                    f"{cls} layer '{self.name}': idf_weights must be 1-D, received shape "
                    f"{idf.shape}.")
            if len(idf) != full_len:
                raise ValueError(
                    f"{cls} layer '{self.name}': idf_weights has {len(idf)} entries but the "
                    f"vocabulary has {full_len}. Give one weight per vocabulary entry.")
            front = 0 if found_special else token_start
            back = (self.max_tokens - front - len(idf)
                    if self.pad_to_max_tokens and self.max_tokens is not None else 0)
            self.idf_weights = np.pad(idf, (front, back), "constant",
                                      constant_values=(np.average(idf), 0)).astype("float32")
        self._build_tables()

    def _check_tokens(self, tokens):
        pass

    def _build_tables(self):
        pass

    def _record_vocabulary_size(self):
        new = self.vocabulary_size()
        if (self.output_mode != "int" and not self.pad_to_max_tokens and self._called
                and self._frozen_vocab_size is not None and new != self._frozen_vocab_size):
            raise RuntimeError(
                f"{type(self).__name__} layer '{self.name}': with output_mode="
                f"{self.output_mode!r} and pad_to_max_tokens=False, the vocabulary size cannot "
                f"change after the layer has been used (it was {self._frozen_vocab_size}, now "
                f"{new}). Use pad_to_max_tokens=True with max_tokens, or a new layer.")
        self._frozen_vocab_size = new

    # ------------------------------------------------------------ adapt
    def reset_state(self):
        self._token_counts = collections.Counter()
        self._doc_counts = collections.Counter()
        self._num_docs = 0

    def _rows(self, batch):
        """A host batch -> list of documents (lists of canonical tokens)."""
        arr = batch
        if not self._is_string and isinstance(arr, (np.ndarray, jax.Array)):
            arr = np.asarray(arr)
            if arr.ndim == 0:
                arr = arr[None]
            if arr.ndim == 1:
                arr = arr[None]
            return [self._canon_tokens(r.reshape(-1)) for r in arr]
        if isinstance(arr, (list, tuple)) and arr and all(isinstance(r, (list, tuple, np.ndarray))
                                                          for r in arr):
            lens = {len(r) for r in arr}
            if len(lens) > 1:  # ragged rows
                return [self._canon_tokens(self._host_values(r).reshape(-1)) for r in arr]
        a = self._host_values(arr)
        if a.ndim == 0:
            a = a.reshape(1)
        if a.ndim == 1:
            a = a[None]
        return [self._canon_tokens(r.reshape(-1)) for r in a]

    def _host_values(self, x):
        return np.asarray(x)

    def update_state(self, data):
        """Count the tokens of one batch (documents = rows) for `adapt`."""
        self._update_rows(self._rows(data))

    def _update_rows(self, rows):
        if self._has_input_vocabulary:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': cannot adapt a layer whose "
                "vocabulary was given with `vocabulary=`. Create it without a vocabulary to "
                "learn one.")
        for r in rows:
            self._token_counts.update(r)
        if self.output_mode == "tf_idf":
            for r in rows:
                self._doc_counts.update(set(r))
            self._num_docs += len(rows)

    def finalize_state(self):
        """Turn the counted tokens into the vocabulary (and idf weights)."""
        if self._has_input_vocabulary or not self._token_counts:
            self._record_vocabulary_size()
            return
        counts = dict(self._token_counts)
        counts.pop(self.mask_token, None)
        counts.pop(self.oov_token, None)
        # decreasing count, ties by decreasing token (Keras: lexsort then reverse)
        tokens = sorted(counts, key=lambda t: (counts[t], self._sort_key(t)), reverse=True)
        token_start = self._token_start_index()
        if self.max_tokens:
            tokens = tokens[:self.max_tokens - token_start]
        self._check_tokens(tokens)
        self._tokens = tokens
        if self.output_mode == "tf_idf":
            df = np.asarray([self._doc_counts[t] for t in tokens], np.float64)
            idf = np.log(1.0 + self._num_docs / (1.0 + df)).astype("float32")
            mean = np.mean(idf) if idf.size else np.float32(0)
            idf = np.pad(idf, (token_start, 0), constant_values=mean)
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.pad(idf, (0, self.max_tokens - idf.size), constant_values=0)
            self.idf_weights = idf.astype("float32")
        self.reset_state()
        self._record_vocabulary_size()
        self._build_tables()

    def _sort_key(self, t):
        return t

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary (and idf weights for "tf_idf") from `data`, on the host.

        Args:
            data: an array or (nested) list of tokens, which is one batch (a rank-1 array is
                a column: each element is one document); or an iterable of such batches
                (each batch's rows are documents).
            batch_size: unused; accepted for Keras compatibility.
            steps: for an iterable, use at most this many batches.

        Raises:
            ValueError: if the layer was created with a vocabulary.
        """
        self.reset_state()
        if self._has_input_vocabulary:
            self._update_rows([])  # raises the explanatory error
        if isinstance(data, (list, tuple, np.ndarray, jax.Array)):
            if is_traced(data):
                raise TypeError(
                    f"{type(self).__name__} layer '{self.name}': adapt() runs on the host and "
                    "cannot be called inside jax.jit.")
            arr = data
            if isinstance(arr, (list, tuple)) and arr and all(
                    isinstance(r, (list, tuple, np.ndarray)) for r in arr):
                self.update_state(arr)
            else:
                a = self._host_values(arr)
                if a.ndim == 1:
                    a = a[:, None]
                self.update_state(a)
        elif hasattr(data, "__iter__"):
            for batch in adapt_batches(data, steps):
                self.update_state(batch)
        else:
            raise TypeError(
                f"{type(self).__name__} layer '{self.name}': adapt() expected an array, a list "
                f"or an iterable of batches, received {type(data).__name__}.")
        self.finalize_state()

    # ------------------------------------------------------------ shapes / config
    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return encoded_shape(input_shape, self.output_mode, self._depth())

    def _ensure_known_vocab_size(self):
        if self.output_mode != "int" and not self.pad_to_max_tokens and not self._tokens:
            raise RuntimeError(
                f"{type(self).__name__} layer '{self.name}': with output_mode="
                f"{self.output_mode!r} and pad_to_max_tokens=False the vocabulary must be set "
                "before the layer is called. Pass vocabulary=... or call adapt(data) first.")

    def _lookup_config(self):
        return {
            "invert": self.invert, "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
            "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
            "idf_weights": _listify(self.input_idf_weights),
            "vocabulary": _listify(self.input_vocabulary),
            "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method,
            "salt": self.salt,
        }

    # ------------------------------------------------------------ saving hooks (Keras names)
    def save_own_variables(self, store):
        if self.output_mode == "tf_idf" and self.idf_weights is not None:
            store["idf_weights"] = np.asarray(self.idf_weights)

    def load_own_variables(self, store):
        if self.output_mode == "tf_idf" and "idf_weights" in store:
            self.idf_weights = np.asarray(store["idf_weights"], "float32")

    def save_assets(self, dir_path):
        """Write an adapted vocabulary to `dir_path/vocabulary.txt` (Keras's asset layout)."""
        import os
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(str(w) for w in self.get_vocabulary(include_special_tokens=True)))

    def load_assets(self, dir_path):
        """Read back a vocabulary written by `save_assets`."""
        import os
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, "vocabulary.txt"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        values = lines if self._is_string else [int(v) for v in lines]
        has = self._has_input_vocabulary
        self._has_input_vocabulary = False
        self.set_vocabulary(values, idf_weights=self.idf_weights
                            if self.output_mode == "tf_idf" else None)
        self._has_input_vocabulary = has

    # ------------------------------------------------------------ host lookup
    def _oov_bucket_host(self, token) -> int:
        """OOV index of a token when num_oov_indices > 1 (host)."""
        if not self._is_string and self.oov_method != "farmhash":
            return int(token) % self.num_oov_indices
        return hash_bucket(value_bytes(token), self.num_oov_indices, self.salt)

    def _lookup_host(self, tokens_flat: list) -> np.ndarray:
        """Canonical tokens -> indices (int64), with mask / OOV handling, on the host."""
        table = {t: i + self._token_start_index() for i, t in enumerate(self._tokens)}
        oov_start = self._oov_start_index()
        mask_value = 0 if self.output_mode == "int" else -1
        out = np.empty(len(tokens_flat), np.int64)
        missing = []
        for i, t in enumerate(tokens_flat):
            if self.mask_token is not None and t == self.mask_token:
                out[i] = mask_value
                continue
            j = table.get(t)
            if j is None:
                if self.num_oov_indices == 0:
                    missing.append(t)
                    j = -1
                elif self.num_oov_indices == 1:
                    j = oov_start
                else:
                    j = self._oov_bucket_host(t) + oov_start
            out[i] = j
        if missing:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}': with num_oov_indices=0 all inputs "
                f"must be in the vocabulary, found out-of-vocabulary values "
                f"{sorted(set(map(str, missing)))[:10]}. Set num_oov_indices=1 to map them to "
                "an OOV index.")
        return out

    def _encode_host(self, idx):
        depth = self._depth()
        dtype = "float32"
        if self.output_mode == "tf_idf":
            counts = encode_categorical(np, idx, "count", depth, dtype)
            return (counts * self.idf_weights[:depth]).astype(dtype)
        return encode_categorical(np, idx, self.output_mode, depth, dtype)


# ======================================================================================
class StringLookup(_IndexLookupMixin, HostLayer):
    """Map strings to integer indices from a vocabulary (or back, with `invert=True`).

    Runs on the host (NumPy/Python): apply it to the data before `fit`, or in the input
    pipeline. It cannot be traced by `jax.jit` (JAX has no strings) and cannot be placed
    in a Functional/Sequential graph.

    Args:
        max_tokens: maximum vocabulary size, special tokens included (None: no limit).
        num_oov_indices: number of out-of-vocabulary buckets (default 1); with more than 1,
            an OOV string goes to bucket `Fingerprint64(s) % n` (FarmHash, as Keras/TF).
        mask_token: a token that maps to index 0 in "int" mode (and to nothing in the
            other modes); None (default) for no mask.
        oov_token: the token returned for OOV indices when `invert=True` (default "[UNK]").
        vocabulary: a list of strings, or a path to a file with one token per line.
        idf_weights: with output_mode "tf_idf" and a vocabulary: one weight per entry.
        invert: map indices back to strings.
        output_mode: "int" (default), "one_hot", "multi_hot", "count" or "tf_idf".
        pad_to_max_tokens: with the encoding modes, make the depth `max_tokens`.
        sparse: must be False.
        encoding: text encoding for bytes inputs (default "utf-8").
        salt: with `num_oov_indices > 1`, hash OOV strings with SipHash-2-4 under this key.

    Returns:
        NumPy arrays: int64 indices of the input's shape; float32 encodings (the tf_idf
        encoding is `count * idf`); or, with `invert=True`, an array of strings.

    Raises:
        ValueError: on invalid arguments, an invalid vocabulary, or OOV inputs with
            `num_oov_indices=0`.
        RuntimeError: when an encoding mode is used before the vocabulary is set.
        TypeError: when called on a symbolic or traced input.

    Example:
        >>> layer = StringLookup(vocabulary=["a", "b", "c", "d"])
        >>> layer(np.array([["a", "c", "d"], ["d", "z", "b"]]))
        array([[1, 3, 4], [4, 0, 2]])
    """

    _is_string = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, salt=None,
                 **kwargs):
        oov_method = kwargs.pop("oov_method", "floormod")
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", None)
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(name=name, **kwargs)
        self.encoding = encoding
        self._init_lookup(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                          idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                          oov_method, salt, vocabulary_size, has_input_vocabulary)

    def _canon_tokens(self, values):
        out = []
        for v in values.tolist() if hasattr(values, "tolist") else values:
            if isinstance(v, bytes):
                v = v.decode(self.encoding)
            elif not isinstance(v, str):
                raise TypeError(
                    f"StringLookup layer '{self.name}' expected string tokens, received "
                    f"{v!r} of type {type(v).__name__}. Use IntegerLookup for integers.")
            out.append(v)
        return out

    def _host_values(self, x):
        return to_numpy_strings(x, self.encoding)

    def _sort_key(self, t):
        return t.encode(self.encoding)

    def call(self, inputs):
        self._ensure_known_vocab_size()
        self._called = True
        if self.invert:
            idx = np.asarray(inputs)
            if not np.issubdtype(idx.dtype, np.integer):
                raise TypeError(
                    f"StringLookup layer '{self.name}' has invert=True and expects integer "
                    f"indices, received an array of dtype {idx.dtype}.")
            vocab = self.get_vocabulary()
            flat = [vocab[i] if 0 <= i < len(vocab) else self.oov_token
                    for i in idx.reshape(-1).tolist()]
            return np.array(flat + [""], dtype=object)[:-1].reshape(idx.shape).astype(str)
        values = self._host_values(inputs)
        idx = self._lookup_host(self._canon_tokens(values.reshape(-1))).reshape(values.shape)
        if self.output_mode == "int":
            return idx
        return self._encode_host(idx)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(self._lookup_config())
        cfg["encoding"] = self.encoding
        return cfg


# ======================================================================================
class IntegerLookup(_IndexLookupMixin, Layer):
    """Map integer tokens to contiguous indices from a vocabulary (or back, with `invert`).

    The lookup itself runs on the device (a sorted-vocabulary `searchsorted`), so the layer
    works inside jit and Functional models once its vocabulary is known; `adapt` runs on the
    host. Indices are int32 (JAX's default integer; Keras returns int64), so tokens must fit
    in int32 unless `jax_enable_x64` is on.

    Args:
        max_tokens: maximum vocabulary size, special tokens included (None: no limit).
        num_oov_indices: number of OOV buckets (default 1); with more than 1, an OOV
            integer `t` goes to bucket `t % num_oov_indices` (oov_method "floormod"), or to
            `Fingerprint64(str(t)) % num_oov_indices` ("farmhash", host callback).
        mask_token: an integer that maps to index 0 in "int" mode; None (default) for none.
        oov_token: returned for OOV indices when `invert=True` (default -1).
        vocabulary: a list of integers, or a path to a file with one per line.
        vocabulary_dtype: only "int64" (accepted for Keras compatibility).
        idf_weights: with output_mode "tf_idf" and a vocabulary: one weight per entry.
        invert: map indices back to tokens.
        output_mode: "int" (default), "one_hot", "multi_hot", "count" or "tf_idf".
        sparse: must be False.
        pad_to_max_tokens: with the encoding modes, make the depth `max_tokens`.
        oov_method: "floormod" (default) or "farmhash".
        salt: with oov_method "farmhash", hash with SipHash-2-4 under this key instead.

    Returns:
        int32 indices of the input's shape, float32 encodings, or (invert) int32 tokens.

    Raises:
        ValueError: on invalid arguments, an invalid vocabulary, tokens outside int32, or
            (on concrete inputs) OOV values with `num_oov_indices=0`. Under jit such values
            give -1 instead.
        RuntimeError: when an encoding mode is used before the vocabulary is set.

    Example:
        >>> layer = IntegerLookup(vocabulary=[12, 36, 1138, 42])
        >>> layer(np.array([[12, 1138, 42], [42, 1000, 36]]))
        Array([[1, 3, 4], [4, 0, 2]], dtype=int32)
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, name=None, **kwargs):
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", None)
        super().__init__(name=name, **kwargs)
        if vocabulary_dtype != "int64":
            raise ValueError(
                f"IntegerLookup layer '{self.name}' supports only vocabulary_dtype='int64', "
                f"received vocabulary_dtype={vocabulary_dtype!r}.")
        self.vocabulary_dtype = "int64"
        self._int_dtype = jnp.int64 if jax.config.jax_enable_x64 else jnp.int32
        self._tables = None
        self._init_lookup(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                          idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                          oov_method, salt, vocabulary_size, has_input_vocabulary)

    def _canon_tokens(self, values):
        out = []
        for v in values.tolist() if hasattr(values, "tolist") else values:
            if isinstance(v, (str, bytes)):
                raise TypeError(
                    f"IntegerLookup layer '{self.name}' expected integer tokens, received "
                    f"{v!r}. Use StringLookup for strings.")
            out.append(int(v))
        return out

    def _check_tokens(self, tokens):
        info = np.iinfo(np.dtype(self._int_dtype))
        bad = [t for t in tokens if not info.min <= t <= info.max]
        if bad:
            raise ValueError(
                f"IntegerLookup layer '{self.name}': tokens {bad[:5]} do not fit in "
                f"{np.dtype(self._int_dtype).name}, JAX's integer type. Enable 64-bit JAX "
                "(jax.config.update('jax_enable_x64', True)) or remap the tokens.")

    def _build_tables(self):
        toks = np.asarray(self._tokens, np.int64)
        order = np.argsort(toks, kind="stable")
        self._tables = (toks[order], (order + self._token_start_index()).astype(np.int64))

    def call(self, inputs):
        self._ensure_known_vocab_size()
        self._called = True
        dt = self._int_dtype
        x = jnp.asarray(inputs).astype(dt)
        if self.invert:
            table = np.asarray(self.get_vocabulary(), np.int64).astype(np.dtype(dt))
            return _invert_lookup(x, jnp.asarray(table), self.oov_token)
        sorted_tok, sorted_idx = self._tables if self._tables is not None else (
            np.zeros(0, np.int64), np.zeros(0, np.int64))
        buckets = None
        if self.num_oov_indices > 1 and self.oov_method == "farmhash":
            def host_hash(v):
                flat = [hash_bucket(str(int(t)).encode(), self.num_oov_indices, self.salt)
                        for t in np.asarray(v).reshape(-1).tolist()]
                return np.asarray(flat, np.dtype(dt)).reshape(np.shape(v))
            buckets = jax.pure_callback(host_hash, jax.ShapeDtypeStruct(x.shape, dt), x)
        idx, found = _int_lookup(
            x, jnp.asarray(sorted_tok.astype(np.dtype(dt))),
            jnp.asarray(sorted_idx.astype(np.dtype(dt))), buckets,
            num_oov=self.num_oov_indices, oov_start=self._oov_start_index(),
            mask_token=self.mask_token, mask_value=0 if self.output_mode == "int" else -1)
        if self.num_oov_indices == 0 and not is_traced(x):
            ok = np.asarray(found)
            if self.mask_token is not None:
                ok = ok | (np.asarray(x) == self.mask_token)
            if not ok.all():
                missing = np.unique(np.asarray(x)[~ok]).tolist()
                raise ValueError(
                    f"IntegerLookup layer '{self.name}': with num_oov_indices=0 all inputs must "
                    f"be in the vocabulary, found out-of-vocabulary values {missing[:10]}. Set "
                    "num_oov_indices=1 to map them to an OOV index.")
        if self.output_mode == "int":
            return idx
        depth = self._depth()
        idf = None if self.output_mode != "tf_idf" else jnp.asarray(self.idf_weights[:depth])
        return _encode_indices(idx, idf, mode=self.output_mode, depth=depth,
                               dtype=self.compute_dtype)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(self._lookup_config())
        cfg["vocabulary_dtype"] = self.vocabulary_dtype
        if cfg["vocabulary"] is not None:
            cfg["vocabulary"] = [int(v) for v in cfg["vocabulary"]]
        return cfg


# Keys their get_config writes (as Keras's) that __init__ takes through **kwargs.
StringLookup._CONFIG_ONLY_KEYS = ("vocabulary_size", "has_input_vocabulary", "oov_method",
                                  "vocabulary_dtype")
IntegerLookup._CONFIG_ONLY_KEYS = ("vocabulary_size", "has_input_vocabulary")
