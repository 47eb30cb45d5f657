"""Grouped, depthwise and 1x1 convolutions on the CPU: XLA's convolution against trine's CPU
formulations (`trine.ops.cpu_grouped`, `trine.ops.cpu_paths`), forward and both gradients,
interleaved round by round, with the gradient program's temporary memory.

    python bench/conv_grouped.py [--rounds 5] [--json bench/results/cpu-conv-grouped.json]

Each case is (batch, spatial, channels), kernel, groups: depthwise 3x3 at MobileNet-like
shapes, a 7x7 depthwise (ConvNeXt), grouped 3x3 (ResNeXt-like), and a 1x1 projection
(its kernel gradient is the case of `_conv_pointwise`). Milliseconds per call, median.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from trine.ops.convolution import convolve, dimension_numbers, same_padding  # noqa: E402

CASES = [
    # name, input shape (channels last), kernel spatial, in channels per group, out, groups
    ("depthwise 3x3", (128, 32, 32, 64), (3, 3), 1, 64, 64),
    ("depthwise 3x3", (32, 56, 56, 144), (3, 3), 1, 144, 144),
    ("depthwise 3x3", (32, 14, 14, 384), (3, 3), 1, 384, 384),
    ("depthwise 7x7", (32, 56, 56, 96), (7, 7), 1, 96, 96),
    ("4 groups 3x3", (128, 32, 32, 32), (3, 3), 8, 32, 4),
    ("32 groups 3x3", (32, 28, 28, 256), (3, 3), 8, 256, 32),
    ("1x1 96->16", (32, 112, 112, 96), (1, 1), 96, 16, 1),
]


def xla(x, k, groups):
    pads = [same_padding(n, kk, 1, 1) for n, kk in zip(x.shape[1:-1], k.shape[:-2])]
    return jax.lax.conv_general_dilated(x, k, (1, 1), pads,
                                        dimension_numbers=dimension_numbers(2, "channels_last"),
                                        feature_group_count=groups)


def ours(x, k, groups):
    return convolve(x, k, (1, 1), "same", (1, 1), "channels_last", groups=groups)


def programs(conv, x, k):
    """The compiled forward pass and gradient (of a sum of squares) of `conv(x, k)`."""
    forward = jax.jit(conv).lower(x, k).compile()
    grad = jax.jit(jax.grad(lambda x, k: jnp.sum(conv(x, k) ** 2), (0, 1)))
    return forward, grad.lower(x, k).compile()


def timed(fn, *args):
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t


def compare(name, x, k, xla_conv, trine_conv, rounds):
    """One row: `xla_conv(x, k)` and `trine_conv(x, k)` forward and gradients, interleaved
    round by round, with their agreement and the gradient program's temporaries."""
    built = {"XLA": programs(xla_conv, x, k), "trine": programs(trine_conv, x, k)}
    ref, got = built["XLA"][0](x, k), built["trine"][0](x, k)
    error = float(jnp.max(jnp.abs(ref - got)) / jnp.max(jnp.abs(ref)))
    times = {f"{s} {part}": [] for s in built for part in ("forward", "gradients")}
    for s, (forward, grad) in built.items():
        forward(x, k), grad(x, k)  # warm up
    for _ in range(rounds):
        for s, (forward, grad) in built.items():
            times[f"{s} forward"].append(timed(forward, x, k))
            times[f"{s} gradients"].append(timed(grad, x, k))
    ms = {key: 1e3 * statistics.median(v) for key, v in times.items()}
    temp = {s: built[s][1].memory_analysis().temp_size_in_bytes / 2 ** 20 for s in built}
    return {"case": name, "input": list(x.shape), "kernel": list(k.shape[:-2]), "ms": ms,
            "gradient_temp_mib": temp, "max_relative_error": error}


def run(rounds, log=print):
    rows = []
    rng = np.random.default_rng(0)
    for name, shape, kernel, per_group, out, groups in CASES:
        x = jnp.asarray(rng.standard_normal(shape, np.float32))
        k = jnp.asarray(rng.standard_normal(kernel + (per_group, out), np.float32) * 0.1)
        row = compare(name, x, k, lambda x, k: xla(x, k, groups),
                      lambda x, k: ours(x, k, groups), rounds)
        row["groups"] = groups
        rows.append(row)
        log(format_row(row))
    return rows


HEADER = ("| case | input | XLA forward ms | trine forward ms | XLA gradients ms "
          "| trine gradients ms | gradient temp MiB (XLA / trine) | max rel. error |\n"
          "|---|---|---|---|---|---|---|---|")


def format_row(r):
    ms, temp = r["ms"], r["gradient_temp_mib"]
    return (f"| {r['case']} | {'x'.join(map(str, r['input']))} | {ms['XLA forward']:.1f} "
            f"| {ms['trine forward']:.1f} | {ms['XLA gradients']:.1f} "
            f"| {ms['trine gradients']:.1f} | {temp['XLA']:.0f} / {temp['trine']:.0f} "
            f"| {r['max_relative_error']:.1e} |")


def table_main(run, header, argv=None, add_options=None, extra=None):
    """The command line the CPU-formulation benches share: `--rounds`, `--json`, and
    whatever `add_options(parser)` adds; prints `header` and `run`'s rows, then writes the
    rows and `extra(args)`'s entries as JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", default=None)
    if add_options:
        add_options(ap)
    a = ap.parse_args(argv)
    print(f"jax {jax.__version__}, {jax.default_backend()}; median of {a.rounds} interleaved "
          "rounds")
    print(header, flush=True)
    result = {"rounds": a.rounds, "rows": run(a.rounds, log=lambda s: print(s, flush=True))}
    if extra:
        result.update(extra(a))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


def main(argv=None):
    table_main(run, HEADER, argv)


if __name__ == "__main__":
    main()
