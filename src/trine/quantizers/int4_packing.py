"""Two signed 4-bit values to a byte: `pack_int4` and its inverse `unpack_int4`."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def _check_dtype(dtype, fn):
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"{fn}: dtype must be 'int8' or 'uint8', received {dtype!r}.")


def pack_int4(arr, axis=0, dtype="int8"):
    """Pack pairs along `axis`: the first of each pair in the low nibble, the second in the
    high one (an odd length is padded with a zero).

    Args:
        arr: an int8 (or uint8) tensor of values in [-8, 7] (or [0, 15]).
        axis: the axis to halve.
        dtype: "int8" or "uint8", the dtype of `arr` and of the packed result.

    Returns:
        `(packed, packed_shape, original_length)`.

    Raises:
        ValueError: for another `dtype`. TypeError: when `arr` is not of `dtype`.
    """
    _check_dtype(dtype, "pack_int4")
    x = np.asarray(arr)
    if x.dtype.name != dtype:
        raise TypeError(f"pack_int4: expected a {dtype} tensor to pack, received {x.dtype.name}. "
                        f"Cast it first, e.g. x.astype('{dtype}').")
    # on the host: int8 shifts that overflow are exact in NumPy on every device
    x = np.moveaxis(x, axis, 0)
    length = x.shape[0]
    if length % 2:
        x = np.concatenate([x, np.zeros((1,) + x.shape[1:], x.dtype)], axis=0)
    low = x[0::2] & np.array(0x0F, x.dtype)
    high = x[1::2] & np.array(0x0F, x.dtype)
    packed = np.moveaxis((low | (high << np.array(4, x.dtype))).astype(dtype), 0, axis)
    return jnp.asarray(packed), tuple(packed.shape), length


def unpack_int4(packed, orig_len, axis=0, dtype="int8"):
    """The inverse of `pack_int4`: split each byte along `axis` and drop the padding.

    Args:
        packed: an int8 or uint8 tensor from `pack_int4`.
        orig_len: the length of `axis` before packing.
        axis: the packed axis.
        dtype: "int8" (values back in [-8, 7]) or "uint8" (values in [0, 15]).

    Raises:
        ValueError: for another `dtype`. TypeError: when `packed` is not int8 or uint8.
    """
    _check_dtype(dtype, "unpack_int4")
    p = jnp.asarray(packed)
    if p.dtype.name not in ("int8", "uint8"):
        raise TypeError(f"unpack_int4: expected an int8 or uint8 tensor, received {p.dtype.name}.")
    p = jnp.moveaxis(p, axis, 0)
    mask = jnp.asarray(0x0F, p.dtype)
    low, high = p & mask, (p >> 4) & mask
    if dtype == "int8":  # nibbles 8..15 are the negatives -8..-1
        eight = jnp.asarray(8, p.dtype)
        low, high = (low ^ eight) - eight, (high ^ eight) - eight
    both = jnp.stack([low.astype(dtype), high.astype(dtype)], axis=1)
    unpacked = jnp.reshape(both, (-1,) + p.shape[1:])[:orig_len]
    return jnp.moveaxis(unpacked, 0, axis)
