"""HashedCrossing: cross categorical features with the hashing trick, on the host."""
from __future__ import annotations

import numpy as np

from trine.layers.preprocessing._hash import fingerprint64
from trine.layers._int_args import positive_int_arg
from trine.layers.preprocessing._utils import HostLayer, check_choice, one_hot, reject_sparse

__all__ = ["HashedCrossing"]

_M64 = (1 << 64) - 1
_CAT_MUL = 0xC6A4A7935BD1E995
# TensorFlow's default key of `tf.sparse.cross_hashed`, the op behind Keras's HashedCrossing
_CROSS_KEY = 0xDECAFCAFFE


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    """Combine two 64-bit fingerprints (TensorFlow's `FingerprintCat64`), order-sensitive."""
    r = fp1 ^ _CAT_MUL
    r ^= (_shift_mix((fp2 * _CAT_MUL) & _M64) * _CAT_MUL) & _M64
    r = (r * _CAT_MUL) & _M64
    r = (_shift_mix(r) * _CAT_MUL) & _M64
    return _shift_mix(r)


def _feature_hash(v) -> int:
    """As TensorFlow's cross: strings by FarmHash Fingerprint64, integers as their 64 bits."""
    if isinstance(v, str):
        return fingerprint64(v.encode("utf-8"))
    if isinstance(v, bytes):
        return fingerprint64(v)
    return int(v) & _M64


def cross_bucket(values, num_bins: int) -> int:
    """The bucket of one crossed tuple of feature values."""
    h = _CROSS_KEY
    for v in values:
        h = fingerprint_cat64(h, _feature_hash(v))
    return h % num_bins


class HashedCrossing(HostLayer):
    """Cross two or more categorical features into `num_bins` buckets (Keras's hashing).

    Each sample's tuple of feature values (strings or integers) is hashed with TensorFlow's
    `tf.sparse.cross_hashed` algorithm (FarmHash Fingerprint64 of strings, raw 64-bit
    integers, combined in order with `FingerprintCat64` from the key 0xDECAFCAFFE), so the
    buckets equal Keras's. Runs on the host (NumPy/Python): apply it to the data before `fit`
    or in the input pipeline; it cannot be traced by `jax.jit`.

    Args:
        num_bins: number of buckets.
        output_mode: "int" (bucket indices, default) or "one_hot".
        sparse: must be False (trine has no sparse tensors).
        name, dtype: base layer arguments; dtype defaults to "int64" with "int",
            "float32" with "one_hot".

    Returns:
        Calling on a tuple of equal-shape arrays, each of shape `()`, `(batch,)` or
        `(batch, 1)`, gives int bucket indices of that shape, or a one-hot encoding with a
        last axis of `num_bins` (replacing a trailing axis of size 1).

    Raises:
        ValueError: on a bad `num_bins`, `output_mode` or `sparse=True`; on fewer than two
            inputs, inputs of different or unsupported shapes, or non-integer, non-string
            inputs.
        TypeError: if called on a symbolic or traced input.

    Example:
        >>> HashedCrossing(num_bins=5)((np.array(["A", "B"]), np.array([101, 101])))
        array([1, 4])
    """

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None,
                 **kwargs):
        if dtype is None:
            dtype = "int64" if output_mode == "int" else "float32"
        super().__init__(name=name, dtype=dtype, **kwargs)
        num_bins = positive_int_arg(self, "num_bins", num_bins, 64)
        check_choice(self.name, "output_mode", output_mode, ("int", "one_hot"))
        reject_sparse(self, sparse)
        self.num_bins = int(num_bins)
        self.output_mode = output_mode
        self.sparse = False

    def _check_inputs(self, inputs):
        label = f"HashedCrossing layer '{self.name}'"
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            got = (f"{len(inputs)} input(s)" if isinstance(inputs, (list, tuple))
                   else type(inputs).__name__)
            raise ValueError(
                f"{label} expected a list or tuple of at least two feature arrays, received "
                f"{got}. Call it as layer((feature_a, feature_b)).")
        arrays = []
        for x in inputs:
            a = np.asarray(x)
            if a.dtype.kind in "SU":
                a = a.astype(object)
            elif a.dtype.kind not in "iuO":
                raise ValueError(
                    f"{label} expected integer or string inputs, received dtype {a.dtype}. "
                    "Cast float features to integers, or bucket them first (Discretization).")
            arrays.append(a)
        first = arrays[0].shape
        if len(first) > 2 or (len(first) == 2 and first[-1] != 1):
            raise ValueError(
                f"{label} expected inputs of shape (), (batch,) or (batch, 1), received shape "
                f"{first}. Reshape each feature to (batch, 1).")
        for a in arrays[1:]:
            if a.shape != first:
                raise ValueError(
                    f"{label} expected all inputs to have the same shape, received shapes "
                    f"{[b.shape for b in arrays]}.")
        return arrays

    def call(self, inputs):
        arrays = self._check_inputs(inputs)
        shape = arrays[0].shape
        columns = [a.reshape(-1).tolist() for a in arrays]
        out = np.array([cross_bucket(vals, self.num_bins) for vals in zip(*columns)],
                       np.int64).reshape(shape)
        if self.output_mode == "int":
            return out.astype(self.dtype)
        if out.ndim == 2:
            out = out[..., 0]
        return one_hot(np, out, self.num_bins, self.dtype)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0])
        if self.output_mode == "int":
            return shape
        if shape and shape[-1] == 1:
            shape = shape[:-1]
        return shape + (self.num_bins,)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"num_bins": self.num_bins, "output_mode": self.output_mode,
                    "sparse": self.sparse})
        return cfg
