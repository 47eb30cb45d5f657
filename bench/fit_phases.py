"""Where one `fit(epochs=1)` call's fixed cost goes, phase by phase, on this backend.

    python bench/fit_phases.py                       # W1, W1-1024, W3; 10 calls each
    python bench/fit_phases.py W3 --calls 20 --json bench/results/fit-phases.json

On an H200 a `fit(epochs=1)` call cost 30-37 ms more than an epoch inside a multi-epoch fit
(W1 0.116 vs 0.083 s, W1-1024 0.041 vs 0.010 s, W3 0.060 vs 0.023 s); this probe found the
copy of the arrays to the device to be nearly all of it (bench/README.md). This times the
trainer's phases inside real fit calls: each phase is a wrapper around one trainer method,
synchronised (`block_until_ready`) on what it returns, so asynchronous work is charged to
the phase that started it (the device copy, begun on a worker thread as fit starts, shows
as the wait in `device_arrays`). Synchronising changes the
pipelining a little: compare the "total" column with the unwrapped calls printed beside it.
Three variants per workload: NumPy arrays (what users pass), the same arrays already on the
device (`jax.device_put` once, reused by every call), and one `fit(epochs=4)` per call
divided by 4.
"""
from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)

# (owner, attribute) of each timed phase: trainer methods, the data source, module functions
PHASES = [
    ("trainer", "_make_data"), ("trainer", "_prepare_compiled"),
    ("trainer", "_prepare_training"), ("data", "device_arrays"), ("data", "permutation"),
    ("trainer", "_iterate"), ("module", "last_step_logs"), ("trainer", "_sync_back"),
]


def _instrument(acc):
    """Wrap the phases; returns an undo function."""
    import jax
    from trine.training import data as data_mod
    from trine.training import loop as loop_mod
    from trine.training import trainer as trainer_mod
    owners = {"trainer": trainer_mod.Trainer, "data": data_mod.ArrayData,
              "module": loop_mod}
    saved = []
    for owner, name in PHASES:
        obj = owners[owner]
        fn = getattr(obj, name)

        def wrapped(*a, __fn=fn, __name=name, **k):
            t = time.perf_counter()
            out = __fn(*a, **k)
            jax.block_until_ready(out)
            acc[__name] += time.perf_counter() - t
            return out

        functools.update_wrapper(wrapped, fn)
        saved.append((obj, name, fn))
        setattr(obj, name, wrapped)

    def undo():
        for obj, name, fn in saved:
            setattr(obj, name, fn)
    return undo


def probe(workload, calls):
    import jax
    import trine
    from bench.__main__ import WORKLOADS, load_fashion, shape_data, trine_model

    bs, opt, n_train, _ = WORKLOADS[workload]
    x, y = load_fashion(n_train)
    xs = shape_data(workload, x)
    trine.utils.set_random_seed(0)
    model = trine_model(workload, trine)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    on_device = jax.block_until_ready(jax.device_put((xs, y)))
    out = {"workload": workload, "batch_size": bs, "samples": len(y)}

    def fit(data, epochs=1):
        t = time.perf_counter()
        model.fit(*data, batch_size=bs, epochs=epochs, verbose=0)
        return time.perf_counter() - t

    for data in ((xs, y), on_device):  # warm: compiles, auto's choice, caches
        fit(data)
        fit(data, epochs=2)
    for label, data in (("numpy", (xs, y)), ("device arrays", on_device)):
        plain = [fit(data) for _ in range(calls)]
        acc = collections.defaultdict(float)
        undo = _instrument(acc)
        try:
            timed = [fit(data) for _ in range(calls)]
        finally:
            undo()
        phases = {k: 1000 * v / calls for k, v in acc.items()}
        # _iterate calls device_arrays: charge the copy to it alone
        phases["_iterate"] = phases.get("_iterate", 0.0) - phases.get("device_arrays", 0.0)
        total = 1000 * statistics.median(timed)
        iterate = phases["_iterate"]
        phases["other (callbacks, fit's own code)"] = 1000 * sum(timed) / calls - sum(
            phases.values())
        out[label] = {"call_ms": 1000 * statistics.median(plain), "instrumented_call_ms": total,
                      "phases_ms": phases, "iterate_ms": iterate}
    epochs4 = [fit((xs, y), epochs=4) / 4 for _ in range(max(2, calls // 4))]
    out["epoch_in_fit4_ms"] = 1000 * statistics.median(epochs4)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="*", default=["W1", "W1-1024", "W3"])
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--json")
    args = p.parse_args(argv)
    import jax
    results = {"machine": f"{platform.node()} {jax.devices()[0].device_kind} "
                          f"({jax.default_backend()}), JAX {jax.__version__}",
               "workloads": []}
    print(results["machine"])
    for w in args.workloads:
        r = probe(w, args.calls)
        results["workloads"].append(r)
        print(f"\n{w} (batch {r['batch_size']}): one epoch inside fit(epochs=4) "
              f"{r['epoch_in_fit4_ms']:.1f} ms")
        for label in ("numpy", "device arrays"):
            v = r[label]
            print(f"  fit(epochs=1), {label}: {v['call_ms']:.1f} ms per call "
                  f"(instrumented {v['instrumented_call_ms']:.1f} ms)")
            for k, ms in sorted(v["phases_ms"].items(), key=lambda kv: -kv[1]):
                print(f"    {k:36s} {ms:8.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print("\nJSON:", args.json)


if __name__ == "__main__":
    main()
