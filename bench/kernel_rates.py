"""The library kernels W5-W7 spend their time in, XLA's CPU backend against PyTorch's, one
operation at a time: what any JAX library's step is bounded by on this machine.

    python bench/kernel_rates.py [--rounds 25] [--json results/cpu-kernel-rates.json]

Each row is one operation of a workload's training step at that workload's shapes (the
convolutions of W5, the products of W6 and of one W7 time step), timed alone and
interleaved: XLA (one jitted operation as trine runs it on the CPU, convolutions through
`trine.ops.cpu_paths`; "train" is the operation and both its gradients under `jax.vjp`) and
PyTorch (the same operation in its own layout, NCHW for convolutions; "train" adds
`torch.autograd.grad` for both operands). W7's product runs 200 times, as its time steps do,
in one `lax.scan` and in one Python loop; its row is per product. Per workload the rows are
summed with their count per step (per batch of 200 time steps for W7): the kernel time
alone, before any elementwise work, layout change or dispatch.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

# (workload, label, kind, shapes, count per step). conv: (batch, H, W, Cin), (k, k, Cin,
# Cout), stride, padding; dot: lhs, rhs as einsum operands of `spec`.
OPS = [
    ("W5", "stem 3x3, 3->16", "conv", ((128, 32, 32, 3), (3, 3, 3, 16), 1, "SAME"), 1),
    ("W5", "3x3, 32x32x16->16", "conv", ((128, 32, 32, 16), (3, 3, 16, 16), 1, "SAME"), 4),
    ("W5", "3x3 stride 2, 32x32x16->32", "conv", ((128, 32, 32, 16), (3, 3, 16, 32), 2, "SAME"), 1),
    ("W5", "1x1 stride 2, 32x32x16->32", "conv", ((128, 32, 32, 16), (1, 1, 16, 32), 2, "VALID"), 1),
    ("W5", "3x3, 16x16x32->32", "conv", ((128, 16, 16, 32), (3, 3, 32, 32), 1, "SAME"), 3),
    ("W5", "3x3 stride 2, 16x16x32->64", "conv", ((128, 16, 16, 32), (3, 3, 32, 64), 2, "SAME"), 1),
    ("W5", "1x1 stride 2, 16x16x32->64", "conv", ((128, 16, 16, 32), (1, 1, 32, 64), 2, "VALID"), 1),
    ("W5", "3x3, 8x8x64->64", "conv", ((128, 8, 8, 64), (3, 3, 64, 64), 1, "SAME"), 3),
    ("W6", "Q/K/V/output projection", "dot", ("tc,cd->td", (4096, 128), (128, 128)), 8),
    ("W6", "Dense 128->512", "dot", ("tc,cd->td", (4096, 128), (128, 512)), 2),
    ("W6", "Dense 512->128", "dot", ("tc,cd->td", (4096, 512), (512, 128)), 2),
    ("W6", "attention scores QK^T", "dot", ("bhqd,bhkd->bhqk", (32, 4, 128, 32), (32, 4, 128, 32)), 2),
    ("W6", "attention values PV", "dot", ("bhqk,bhkd->bhqd", (32, 4, 128, 128), (32, 4, 128, 32)), 2),
    ("W7", "LSTM step, input or state product", "steps", ("tc,cd->td", (64, 64), (64, 256)), 400),
]


def _median_ms(fn, rounds):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


STEPS = 200  # W7's time steps


def _flops(kind, spec):
    if kind in ("dot", "steps"):
        subscripts, lhs, rhs = spec
        sizes = {}
        for letters, shape in zip(subscripts.split("->")[0].split(","), (lhs, rhs)):
            sizes.update(zip(letters, shape))
        return 2 * float(np.prod(list(sizes.values())))
    x, k, stride, _ = spec
    out = [-(-n // stride) for n in x[1:3]]
    return 2.0 * x[0] * out[0] * out[1] * np.prod(k)


def _jax_fns(kind, spec, rng):
    from trine.ops import cpu_paths, conv_gradients
    if kind == "dot":
        subscripts, lhs, rhs = spec
        args = [rng.standard_normal(s).astype(np.float32) for s in (lhs, rhs)]
        op = lambda a, b: jnp.einsum(subscripts, a, b)  # noqa: E731
    elif kind == "steps":
        subscripts, lhs, rhs = spec
        args = [rng.standard_normal(s).astype(np.float32) for s in ((STEPS,) + lhs, rhs)]
        op = lambda xs, b: jax.lax.scan(  # noqa: E731
            lambda c, x: (c, jnp.einsum(subscripts, x, b)), 0, xs)[1]
    else:
        x, k, stride, padding = spec
        args = [rng.standard_normal(s).astype(np.float32) for s in (x, k)]
        pads = tuple(jax.lax.padtype_to_pads(x[1:3], k[:2], (stride, stride), padding))
        strides = (stride, stride)
        op = lambda a, b: cpu_paths.conv_channels_last(  # noqa: E731
            a, b, strides, pads, (1, 1),
            lambda a, b: conv_gradients.channels_last_conv(a, b, strides, pads))
    out = jax.eval_shape(op, *args)
    g = rng.standard_normal(out.shape).astype(np.float32)

    def train(a, b, g):
        y, pull = jax.vjp(op, a, b)
        return y, pull(g)

    fwd, train = jax.jit(op), jax.jit(train)
    return (lambda: jax.block_until_ready(fwd(*args)),
            lambda: jax.block_until_ready(train(*args, g)))


def _torch_fns(torch, kind, spec, rng):
    if kind == "dot":
        subscripts, lhs, rhs = spec
        batched = subscripts.startswith("bhqd,bhkd")
        a, b = (torch.from_numpy(rng.standard_normal(s).astype(np.float32)) for s in (lhs, rhs))
        op = (lambda a, b: torch.matmul(a, b.transpose(-1, -2))) if batched else torch.matmul
    elif kind == "steps":
        _, lhs, rhs = spec
        a, b = (torch.from_numpy(rng.standard_normal(s).astype(np.float32))
                for s in ((STEPS,) + lhs, rhs))
        op = lambda xs, b: torch.stack([torch.matmul(x, b) for x in xs])  # noqa: E731
    else:
        x, k, stride, padding = spec
        a = torch.from_numpy(rng.standard_normal((x[0], x[3], x[1], x[2])).astype(np.float32))
        b = torch.from_numpy(rng.standard_normal((k[3], k[2], k[0], k[1])).astype(np.float32))
        pad = k[0] // 2 if padding == "SAME" else 0
        op = lambda a, b: torch.nn.functional.conv2d(a, b, stride=stride, padding=pad)  # noqa: E731
    with torch.no_grad():
        g = torch.randn_like(op(a, b))
    a.requires_grad_(True)
    b.requires_grad_(True)

    def fwd():
        with torch.no_grad():
            op(a, b)

    def train():
        torch.autograd.grad(op(a, b), (a, b), g)
    return fwd, train


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(0)
    rows = []
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, jax {jax.__version__}, "
          f"torch {torch.__version__}; medians of {a.rounds} interleaved rounds, ms")
    print("| workload | operation | count a step | XLA forward | PyTorch forward | XLA train "
          "| PyTorch train | XLA GFLOP/s (forward) | PyTorch GFLOP/s | XLA / PyTorch (train) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for workload, label, kind, spec, count in OPS:
        fns = {"xla": _jax_fns(kind, spec, rng), "torch": _torch_fns(torch, kind, spec, rng)}
        for f in fns.values():  # compile / warm up
            f[0](), f[1]()
        ms = {(s, m): [] for s in fns for m in (0, 1)}
        for _ in range(3):  # three interleaved blocks, then each block's median
            for (system, mode) in ms:
                ms[(system, mode)].append(_median_ms(fns[system][mode], max(1, a.rounds // 3)))
        per = STEPS if kind == "steps" else 1
        med = {key: statistics.median(v) / per for key, v in ms.items()}
        gflop = _flops(kind, spec) / 1e9
        row = dict(workload=workload, operation=label, count=count,
                   xla_forward_ms=med[("xla", 0)], torch_forward_ms=med[("torch", 0)],
                   xla_train_ms=med[("xla", 1)], torch_train_ms=med[("torch", 1)],
                   gflop=gflop)
        rows.append(row)
        print(f"| {workload} | {label} | {count} | {row['xla_forward_ms']:.3f} | "
              f"{row['torch_forward_ms']:.3f} | {row['xla_train_ms']:.3f} | "
              f"{row['torch_train_ms']:.3f} | {gflop / row['xla_forward_ms'] * 1e3:.0f} | "
              f"{gflop / row['torch_forward_ms'] * 1e3:.0f} | "
              f"{row['xla_train_ms'] / row['torch_train_ms']:.2f} |")
    print("\nSummed with their counts (ms a step; W7: a batch, 200 time steps):")
    totals = {}
    for workload in sorted({r["workload"] for r in rows}):
        mine = [r for r in rows if r["workload"] == workload]
        t = {k: sum(r[k] * r["count"] for r in mine)
             for k in ("xla_forward_ms", "torch_forward_ms", "xla_train_ms", "torch_train_ms")}
        totals[workload] = t
        print(f"  {workload}: forward XLA {t['xla_forward_ms']:.1f} vs PyTorch "
              f"{t['torch_forward_ms']:.1f} ({t['xla_forward_ms'] / t['torch_forward_ms']:.2f}x); "
              f"train XLA {t['xla_train_ms']:.1f} vs PyTorch {t['torch_train_ms']:.1f} "
              f"({t['xla_train_ms'] / t['torch_train_ms']:.2f}x)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": platform.platform(), "cpus": os.cpu_count(),
                       "jax": jax.__version__, "torch": torch.__version__,
                       "rounds": a.rounds, "rows": rows, "totals": totals}, f, indent=1)


if __name__ == "__main__":
    main()
