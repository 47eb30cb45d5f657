"""CPU convolution per shape: XLA's convolution against trine's patch path (forward alone,
as predict runs it, and forward + both gradients, as a training step does), interleaved.

    python bench/conv_shapes.py [--batch 128] [--rounds 7]

Prints, per shape, milliseconds for XLA, "patches" (the patch path forced on), and "trine"
(what `trine.ops.cpu_paths.conv_channels_last` chooses for that shape), and the patches/XLA ratios the
per-shape rule in `trine.ops.cpu_paths` is drawn from.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from trine.ops import cpu_paths as cp  # noqa: E402

DN = ("NHWC", "HWIO", "NHWC")
# (input H, W, C), kernel (kh, kw, cin, cout), stride, padding (W3's, then W5's shapes)
SHAPES = [
    ((28, 28, 1), (3, 3, 1, 32), 1, "valid"),
    ((13, 13, 32), (3, 3, 32, 64), 1, "valid"),
    ((32, 32, 3), (3, 3, 3, 16), 1, "same"),
    ((32, 32, 16), (3, 3, 16, 16), 1, "same"),
    ((32, 32, 16), (3, 3, 16, 32), 1, "same"),
    ((16, 16, 32), (3, 3, 32, 32), 1, "same"),
    ((8, 8, 64), (3, 3, 64, 64), 1, "same"),
    ((32, 32, 16), (3, 3, 16, 32), 2, "same"),
    ((16, 16, 32), (3, 3, 32, 64), 2, "same"),
]


def pads_of(hw, k, s, padding):
    if padding == "valid":
        return ((0, 0), (0, 0))
    out = []
    for n in hw:
        o = -(-n // s)
        tot = max((o - 1) * s + k - n, 0)
        out.append((tot // 2, tot - tot // 2))
    return tuple(out)


def time_all(fns, args, rounds):
    for f in fns.values():
        jax.block_until_ready(f(*args))
    ts = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(f(*args))
            ts[k].append(time.perf_counter() - t)
    return {k: 1e3 * statistics.median(v) for k, v in ts.items()}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"batch {a.batch}; ms per call, median of {a.rounds} interleaved rounds")
    print("| input | kernel | stride | XLA fwd | patches fwd | trine fwd | XLA train "
          "| patches train | trine train | patches/XLA fwd | patches/XLA train |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for hw_c, ks, s, padding in SHAPES:
        x = jnp.asarray(rng.standard_normal((a.batch,) + hw_c, np.float32))
        k = jnp.asarray(rng.standard_normal(ks, np.float32))
        pads = pads_of(hw_c[:2], ks[0], s, padding)
        st = (s, s)

        def xla(x, k):
            return cp._xla_conv(x, k, st, pads, (1, 1))

        def patches(x, k):
            return cp._conv_patches(x, k, st, pads, (1, 1))

        def patches_fwd(x, k):
            return cp._patch_matmul(cp._padded_patches(x, ks[:2], st, pads, (1, 1)), k)

        def trine(x, k):
            return cp.conv_channels_last(x, k, st, pads, (1, 1), xla)

        def train(f):
            return jax.jit(jax.grad(lambda x, k: jnp.sum(jnp.square(f(x, k))), (0, 1)))

        fns = {"xf": jax.jit(xla), "pf": jax.jit(patches_fwd), "tf": jax.jit(trine),
               "xt": train(xla), "pt": train(patches), "tt": train(trine)}
        m = time_all(fns, (x, k), a.rounds)
        print(f"| {hw_c} | {ks} | {s} | {m['xf']:.1f} | {m['pf']:.1f} | {m['tf']:.1f} | "
              f"{m['xt']:.1f} | {m['pt']:.1f} | {m['tt']:.1f} | {m['pf'] / m['xf']:.2f} | "
              f"{m['pt'] / m['xt']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
