"""Hashing: map strings or integers to `num_bins` buckets, on the host."""
from __future__ import annotations

import numpy as np

from trine.layers.preprocessing._hash import hash_bucket
from trine.layers._int_args import positive_int_arg
from trine.layers.preprocessing._utils import (ENCODE_MODES, HostLayer, check_choice,
                                               encode_categorical, is_int_like, reject_sparse)


def normalize_salt(layer_name, salt):
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(is_int_like(s) for s in salt):
        return [int(salt[0]), int(salt[1])]
    if is_int_like(salt):
        return [int(salt), int(salt)]
    raise ValueError(
        f"Layer '{layer_name}' expected salt to be an integer or a pair of integers, received "
        f"salt={salt!r}.")


def value_bytes(v, encoding="utf-8") -> bytes:
    """The bytes Keras hashes for one value: strings as UTF-8, numbers as decimal text
    (floats truncated to integers first)."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode(encoding)
    if isinstance(v, (float, np.floating)):
        return str(int(v)).encode()
    return str(int(v)).encode()


def hash_array(values: np.ndarray, num_bins: int, salt=None) -> np.ndarray:
    """Bucket every element of a host array (hashing each distinct value once)."""
    flat = values.reshape(-1)
    cache: dict = {}
    out = np.empty(flat.shape, np.int64)
    for i, v in enumerate(flat.tolist()):
        b = value_bytes(v)
        h = cache.get(b)
        if h is None:
            h = cache[b] = hash_bucket(b, num_bins, salt)
        out[i] = h
    return out.reshape(values.shape)


class Hashing(HostLayer):
    """Hash strings or integers into `num_bins` buckets (the "hashing trick").

    Runs on the host (NumPy/Python): apply it to the data before `fit`, or in the input
    pipeline; it cannot be traced by `jax.jit` or placed in a Functional graph.

    Hash: FarmHash Fingerprint64 of the value's UTF-8 bytes (integers are hashed as their
    decimal text, floats are truncated to integers first), modulo the number of bins; with
    `salt`, SipHash-2-4 keyed by the two salt integers. These are exactly the hashes of
    TensorFlow's `to_hash_bucket_fast` / `to_hash_bucket_strong` that Keras uses, so the
    buckets equal Keras's for the same inputs.

    Args:
        num_bins: number of buckets, including the mask bucket if `mask_value` is set.
        mask_value: a value that always maps to bucket 0 (other values use 1..num_bins-1).
        salt: an integer or pair of integers: use the keyed SipHash instead of FarmHash.
        output_mode: "int" (default), "one_hot", "multi_hot" or "count".
        sparse: must be False.
        **kwargs: base layer arguments (`dtype` of the output: int64 for "int", float32 else).

    Returns:
        A NumPy array: bucket indices (int64) of the input's shape, or float32 encodings of
        depth `num_bins`.

    Raises:
        ValueError: on an invalid `num_bins`, `salt`, `output_mode`, `sparse=True`, or a
            non-integer dtype with output_mode "int".
        TypeError: if called on a symbolic or traced input.

    Example:
        >>> Hashing(num_bins=3)(np.array([["A"], ["B"], ["C"]]))
        array([[1], [0], [1]])
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else "float32"
        super().__init__(**kwargs)
        num_bins = positive_int_arg(self, "num_bins", num_bins, 64)
        check_choice(self.name, "output_mode", output_mode, ("int",) + ENCODE_MODES)
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError(
                f"Hashing layer '{self.name}': with output_mode='int' the dtype must be 'int32' "
                f"or 'int64', received dtype={self.dtype!r}.")
        reject_sparse(self, sparse)
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.salt = normalize_salt(self.name, salt)
        self.strong_hash = self.salt is not None
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs):
        values = np.asarray(inputs, dtype=object if isinstance(inputs, (list, tuple)) else None)
        if values.dtype.kind == "S":
            values = values.astype(object)
        if self.output_mode == "one_hot" and values.ndim > 0 and values.shape[-1] == 1:
            values = values[..., 0]
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mv = self.mask_value
            if isinstance(mv, str):
                mv_b = mv.encode()
                mask = np.vectorize(lambda v: v == mv or v == mv_b, otypes=[bool])(values)
            else:
                mask = np.asarray(values == mv, bool)
        out = hash_array(values, bins, self.salt)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        if self.output_mode == "int":
            return out.astype(self.dtype)
        return encode_categorical(np, out, self.output_mode, self.num_bins, self.dtype)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if len(input_shape) == 0:
            return (self.num_bins,)
        return tuple(input_shape[:-1]) + (self.num_bins,)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                    "output_mode": self.output_mode, "sparse": self.sparse})
        return cfg
