"""How long putting NumPy training data on the device takes, and what it depends on.

    python bench/transfer_probe.py --json out.json

On an H200 the device-arrays phase of one `fit(epochs=1)` call took 24-27 ms whether the
data was 188 MB (W1) or 31 MB (W3): nearly all of the gap between a fit call and an epoch of
the scan reference. This times `jax.device_put` of float32 arrays of several sizes and
shapes (a fixed cost shows as a constant, a bandwidth limit as time growing with bytes), the
same bytes put as several slices (sequentially and from threads) and joined on the device,
a put of data already in the device's pinned host memory, and trine's own tuple
`(x, y, sample_weight)`. On this H200 one put moved ~7 GB/s and 16 slices ~24 GB/s.
Each figure is the median of `--reps` puts, each synchronised with `block_until_ready`.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import platform
import statistics
import time

import numpy as np


def timed(fn, reps):
    import jax
    jax.block_until_ready(fn())  # warm: compiles (a concatenate) and allocator growth
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()
    import jax
    import jax.numpy as jnp

    dev = jax.devices()[0]
    rows = []

    def row(what, mb, seconds):
        rows.append({"what": what, "MB": mb, "ms": seconds * 1e3,
                     "GB_per_s": mb / 1e3 / seconds if seconds else None})
        print(f"  {what:<46} {mb:8.1f} MB {seconds * 1e3:8.2f} ms "
              f"{mb / 1e3 / seconds:7.2f} GB/s", flush=True)

    print(f"{dev.device_kind} ({dev.platform}), JAX {jax.__version__}")
    rng = np.random.default_rng(0)
    sizes = [(1_000, 784), (10_000, 784), (20_000, 784), (60_000, 784)]
    big = None
    for n, d in sizes:
        x = rng.random((n, d), dtype=np.float32)
        mb = x.nbytes / 1e6
        row(f"device_put float32 {n}x{d}", mb, timed(lambda: jax.device_put(x), args.reps))
        big = x
    x, mb = big, big.nbytes / 1e6
    xu8 = (x * 255).astype(np.uint8)
    row("device_put uint8 60000x784", xu8.nbytes / 1e6,
        timed(lambda: jax.device_put(xu8), args.reps))
    row("jnp.asarray float32 60000x784", mb, timed(lambda: jnp.asarray(x), args.reps))
    x3 = x.reshape(60_000, 28, 28)
    row("device_put float32 60000x28x28", mb, timed(lambda: jax.device_put(x3), args.reps))
    # W3's arrays (10,000 x 28 x 28 x 1): in fit their copy took 27 ms against 7 ms for the
    # same bytes as 10,000 x 784 here; a trailing axis of 1 may take a relayout on the way
    x4 = x[:10_000].reshape(10_000, 28, 28, 1)
    row("device_put float32 10000x28x28x1 (W3)", x4.nbytes / 1e6,
        timed(lambda: jax.device_put(x4), args.reps))
    flat = x[:10_000]
    to4 = jax.jit(lambda a: a.reshape(10_000, 28, 28, 1))
    row("the same as 10000x784, reshaped on device", flat.nbytes / 1e6,
        timed(lambda: to4(jax.device_put(flat)), args.reps))
    y = rng.integers(0, 10, 60_000).astype(np.int32)
    sw = np.ones(60_000, np.float32)
    row("device_put (x, y, sw) as trine's tuple", mb + 0.48,
        timed(lambda: jax.device_put((x3, y, sw)), args.reps))
    for k in (4, 8, 16):
        parts = np.array_split(x, k)
        row(f"{k} slices, one device_put call + concat", mb,
            timed(lambda: jnp.concatenate(jax.device_put(parts)), args.reps))
        pool = concurrent.futures.ThreadPoolExecutor(k)
        row(f"{k} slices from {k} threads + concat", mb,
            timed(lambda: jnp.concatenate(list(pool.map(jax.device_put, parts))), args.reps))
        pool.shutdown()
    try:
        pinned = jax.sharding.SingleDeviceSharding(dev, memory_kind="pinned_host")
        on_dev = jax.sharding.SingleDeviceSharding(dev, memory_kind="device")
        row("numpy -> pinned_host", mb, timed(lambda: jax.device_put(x, pinned), args.reps))
        xp = jax.device_put(x, pinned)
        row("pinned_host -> device", mb, timed(lambda: jax.device_put(xp, on_dev), args.reps))
    except Exception as e:  # noqa: BLE001 - a probe: report what this backend lacks
        print(f"  pinned_host: not available ({type(e).__name__}: {e})")
    a = jax.device_put(x)
    row("device -> device copy", mb, timed(lambda: a.copy(), args.reps))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": {"platform": platform.platform(), "jax": jax.__version__,
                                   "device": f"{dev.platform}:{dev.device_kind}"},
                       "rows": rows}, f, indent=1)
        print(f"JSON: {args.json}")


if __name__ == "__main__":
    main()
