"""String hashes used by Hashing and the lookup layers' extra OOV buckets, on the host.

- `fingerprint64(data)`: FarmHash Fingerprint64 (farmhashna::Hash64, Google's FarmHash,
  MIT licence), the hash behind TensorFlow's `tf.strings.to_hash_bucket_fast`, which Keras
  uses. Written here in Python so that trine's buckets equal Keras/TF's.
- `siphash24(key0, key1, data)`: SipHash-2-4 with a 128-bit key given as two 64-bit
  integers, the hash behind `tf.strings.to_hash_bucket_strong(key=[k0, k1])`.

Both take `bytes` and return an unsigned 64-bit Python int.
"""
from __future__ import annotations

_M64 = (1 << 64) - 1
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F


def _u64(b: bytes, i: int) -> int:
    return int.from_bytes(b[i:i + 8], "little")


def _u32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i:i + 4], "little")


def _rot(v: int, s: int) -> int:
    return v if s == 0 else ((v >> s) | (v << (64 - s))) & _M64


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _mix16(u: int, v: int, mul: int) -> int:
    a = ((u ^ v) * mul) & _M64
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M64
    b ^= b >> 47
    return (b * mul) & _M64


def _len_0_to_16(s: bytes, n: int) -> int:
    if n >= 8:
        mul = (_K2 + n * 2) & _M64
        a = (_u64(s, 0) + _K2) & _M64
        b = _u64(s, n - 8)
        c = (_rot(b, 37) * mul + a) & _M64
        d = ((_rot(a, 25) + b) * mul) & _M64
        return _mix16(c, d, mul)
    if n >= 4:
        mul = (_K2 + n * 2) & _M64
        a = _u32(s, 0)
        return _mix16((n + (a << 3)) & _M64, _u32(s, n - 4), mul)
    if n > 0:
        y = (s[0] + (s[n >> 1] << 8)) & 0xFFFFFFFF
        z = (n + (s[n - 1] << 2)) & 0xFFFFFFFF
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _M64) * _K2) & _M64
    return _K2


def _len_17_to_32(s: bytes, n: int) -> int:
    mul = (_K2 + n * 2) & _M64
    a = (_u64(s, 0) * _K1) & _M64
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * mul) & _M64
    d = (_u64(s, n - 16) * _K2) & _M64
    return _mix16((_rot((a + b) & _M64, 43) + _rot(c, 30) + d) & _M64,
                  (a + _rot((b + _K2) & _M64, 18) + c) & _M64, mul)


def _len_33_to_64(s: bytes, n: int) -> int:
    mul = (_K2 + n * 2) & _M64
    a = (_u64(s, 0) * _K2) & _M64
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * mul) & _M64
    d = (_u64(s, n - 16) * _K2) & _M64
    y = (_rot((a + b) & _M64, 43) + _rot(c, 30) + d) & _M64
    z = _mix16(y, (a + _rot((b + _K2) & _M64, 18) + c) & _M64, mul)
    e = (_u64(s, 16) * mul) & _M64
    f = _u64(s, 24)
    g = ((y + _u64(s, n - 32)) * mul) & _M64
    h = ((z + _u64(s, n - 24)) * mul) & _M64
    return _mix16((_rot((e + f) & _M64, 43) + _rot(g, 30) + h) & _M64,
                  (e + _rot((f + a) & _M64, 18) + g) & _M64, mul)


def _weak32(s: bytes, i: int, a: int, b: int):
    w, x, y, z = _u64(s, i), _u64(s, i + 8), _u64(s, i + 16), _u64(s, i + 24)
    a = (a + w) & _M64
    b = _rot((b + a + z) & _M64, 21)
    c = a
    a = (a + x + y) & _M64
    b = (b + _rot(a, 44)) & _M64
    return (a + z) & _M64, (b + c) & _M64


def fingerprint64(s: bytes) -> int:
    """FarmHash Fingerprint64 of `s` (TensorFlow's `to_hash_bucket_fast` hash)."""
    n = len(s)
    if n <= 16:
        return _len_0_to_16(s, n)
    if n <= 32:
        return _len_17_to_32(s, n)
    if n <= 64:
        return _len_33_to_64(s, n)
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _M64
    z = (_shift_mix((y * _K2 + 113) & _M64) * _K2) & _M64
    v0 = v1 = w0 = w1 = 0
    x = (x * _K2 + _u64(s, 0)) & _M64
    end = ((n - 1) // 64) * 64
    last64 = n - 64
    i = 0
    while True:
        x = (_rot((x + y + v0 + _u64(s, i + 8)) & _M64, 37) * _K1) & _M64
        y = (_rot((y + v1 + _u64(s, i + 48)) & _M64, 42) * _K1) & _M64
        x ^= w1
        y = (y + v0 + _u64(s, i + 40)) & _M64
        z = (_rot((z + w0) & _M64, 33) * _K1) & _M64
        v0, v1 = _weak32(s, i, (v1 * _K1) & _M64, (x + w0) & _M64)
        w0, w1 = _weak32(s, i + 32, (z + w1) & _M64, (y + _u64(s, i + 16)) & _M64)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = (_K1 + ((z & 0xFF) << 1)) & _M64
    i = last64
    w0 = (w0 + ((n - 1) & 63)) & _M64
    v0 = (v0 + w0) & _M64
    w0 = (w0 + v0) & _M64
    x = (_rot((x + y + v0 + _u64(s, i + 8)) & _M64, 37) * mul) & _M64
    y = (_rot((y + v1 + _u64(s, i + 48)) & _M64, 42) * mul) & _M64
    x ^= (w1 * 9) & _M64
    y = (y + v0 * 9 + _u64(s, i + 40)) & _M64
    z = (_rot((z + w0) & _M64, 33) * mul) & _M64
    v0, v1 = _weak32(s, i, (v1 * mul) & _M64, (x + w0) & _M64)
    w0, w1 = _weak32(s, i + 32, (z + w1) & _M64, (y + _u64(s, i + 16)) & _M64)
    z, x = x, z
    return _mix16((_mix16(v0, w0, mul) + _shift_mix(y) * _K0 + z) & _M64,
                  (_mix16(v1, w1, mul) + x) & _M64, mul)


def _sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & _M64
    v1 = _rot(v1, 64 - 13) ^ v0
    v0 = _rot(v0, 64 - 32)
    v2 = (v2 + v3) & _M64
    v3 = _rot(v3, 64 - 16) ^ v2
    v0 = (v0 + v3) & _M64
    v3 = _rot(v3, 64 - 21) ^ v0
    v2 = (v2 + v1) & _M64
    v1 = _rot(v1, 64 - 17) ^ v2
    v2 = _rot(v2, 64 - 32)
    return v0, v1, v2, v3


def siphash24(key0: int, key1: int, s: bytes) -> int:
    """SipHash-2-4 of `s` under the 128-bit key (key0, key1) (TF's `to_hash_bucket_strong`)."""
    k0, k1 = key0 & _M64, key1 & _M64
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    n = len(s)
    full = n - n % 8
    for i in range(0, full, 8):
        m = _u64(s, i)
        v3 ^= m
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
        v0 ^= m
    last = ((n & 0xFF) << 56) | int.from_bytes(s[full:], "little")
    v3 ^= last
    v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def hash_bucket(s: bytes, num_buckets: int, salt=None) -> int:
    """Bucket of `s` in [0, num_buckets): Fingerprint64, or SipHash-2-4 under `salt`."""
    h = fingerprint64(s) if salt is None else siphash24(salt[0], salt[1], s)
    return h % num_buckets
