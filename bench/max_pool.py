"""Max pooling's gradient on the CPU: XLA's reduce_window (select-and-scatter gradient)
against trine's (`trine.ops.cpu_pooling`), forward and gradient of a sum of squares,
interleaved round by round, with the gradient program's temporary memory.

    python bench/max_pool.py [--rounds 5] [--json PATH]

Milliseconds per call, median.
"""
from __future__ import annotations

import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from conv_grouped import table_main, timed  # noqa: E402
from trine.ops.cpu_pooling import max_pool  # noqa: E402

CASES = [
    # name, input shape (channels last), pool size, stride, padding
    ("3x3 /2 (ResNet50 stem)", (32, 112, 112, 64), 3, 2, "SAME"),
    ("3x3 /1", (32, 28, 28, 64), 3, 1, "SAME"),
    ("3x3x3 /2", (16, 16, 16, 16, 8), 3, 2, "SAME"),
    ("3 /1, 1-D", (64, 1000, 64), 3, 1, "VALID"),
    ("2x2 /2 (non-overlapping)", (128, 26, 26, 32), 2, 2, "VALID"),
]


def run(rounds, log=print):
    rows = []
    rng = np.random.default_rng(0)
    for name, shape, size, stride, padding in CASES:
        rank = len(shape) - 2
        window, strides = (1,) + (size,) * rank + (1,), (1,) + (stride,) * rank + (1,)
        x = jnp.asarray(rng.standard_normal(shape, np.float32))
        forms = {
            "XLA": lambda x: jax.lax.reduce_window(x, np.array(-np.inf, x.dtype), jax.lax.max,
                                                   window, strides, padding),
            "trine": lambda x: max_pool(x, window, strides, padding)}
        built = {s: (jax.jit(f).lower(x).compile(),
                     jax.jit(jax.grad(lambda x, f=f: jnp.sum(f(x) ** 2))).lower(x).compile())
                 for s, f in forms.items()}
        same = bool(jnp.array_equal(built["XLA"][1](x), built["trine"][1](x)))
        times = {f"{s} {part}": [] for s in built for part in ("forward", "gradient")}
        for s, (forward, grad) in built.items():
            forward(x), grad(x)  # warm up
        for _ in range(rounds):
            for s, (forward, grad) in built.items():
                times[f"{s} forward"].append(timed(forward, x))
                times[f"{s} gradient"].append(timed(grad, x))
        ms = {key: 1e3 * statistics.median(v) for key, v in times.items()}
        temp = {s: built[s][1].memory_analysis().temp_size_in_bytes / 2 ** 20 for s in built}
        row = {"case": name, "input": list(shape), "ms": ms, "gradient_temp_mib": temp,
               "gradients_equal": same}
        rows.append(row)
        log(f"| {name} | {'x'.join(map(str, shape))} | {ms['XLA forward']:.1f} "
            f"| {ms['trine forward']:.1f} | {ms['XLA gradient']:.1f} "
            f"| {ms['trine gradient']:.1f} | {temp['XLA']:.0f} / {temp['trine']:.0f} | {same} |")
    return rows


HEADER = ("| case | input | XLA forward ms | trine forward ms | XLA gradient ms "
          "| trine gradient ms | gradient temp MiB (XLA / trine) | gradients bit-identical |\n"
          "|---|---|---|---|---|---|---|---|")


def main(argv=None):
    table_main(run, HEADER, argv)


if __name__ == "__main__":
    main()
