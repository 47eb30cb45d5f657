"""Where a first epoch's time goes: every XLA compile during the first `fit`, for trine and
(when installed) Keras 3, on one workload.

    python bench/compiles.py W1 W3              # table per workload and system
    python bench/compiles.py W5 W6 W7           # the real models (bench/real_models.py)
    python bench/compiles.py W3 --no-keras --json bench/results/compiles.json

Each (workload, system) runs in a fresh process, so neither inherits the other's warm
compiler (an accelerator's first compile in a process also pays the compiler's start-up:
about 1.5 s on an H200). For each it prints the first fit's wall time, its steady epoch (a
second fit), and the compiles of the first fit (JAX's own monitoring events: tracing,
lowering, XLA compile, with the jitted function's name), so "first epoch minus steady
epoch" can be attributed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)


def _setup(system, workload, samples):
    """(model compiled as its workload says, x, y, batch size) on `system`'s module."""
    if system == "trine":
        import trine as mod
    else:
        import keras as mod
    mod.utils.set_random_seed(0)
    from bench import real_models
    if workload in real_models.REAL:  # W5-W7: synthetic data in the shapes
        bs, n_default, _ = real_models.REAL[workload]
        xs, y = real_models.data(workload, samples or n_default)
        model = real_models._compile(real_models.model(workload, mod), workload)
        return model, xs, y, bs
    from bench.__main__ import WORKLOADS, load_fashion, shape_data, trine_model
    bs, opt, n_train, _ = WORKLOADS[workload]
    x, y = load_fashion(samples or n_train)
    model = trine_model(workload, mod)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, shape_data(workload, x), y, bs


def first_fit(system, workload, log_events, samples=None):
    model, xs, y, bs = _setup(system, workload, samples)
    log_events.clear()
    t = time.perf_counter()
    model.fit(xs, y, batch_size=bs, epochs=1, verbose=0)
    first = time.perf_counter() - t
    events = list(log_events)
    t = time.perf_counter()
    model.fit(xs, y, batch_size=bs, epochs=1, verbose=0)
    steady = time.perf_counter() - t
    totals = {}
    for kind, dur, _ in events:
        totals[kind] = totals.get(kind, 0.0) + dur
    compiles = sorted(((round(d, 4), name) for kind, d, name in events if kind == "compile"),
                      reverse=True)
    return {"system": system, "workload": workload, "first_fit_s": first,
            "steady_fit_s": steady, "totals_s": totals, "compiles": compiles}


def child(workload, system, samples):
    from jax._src import monitoring
    events = []
    names = {"/jax/core/compile/backend_compile_duration": "compile",
             "/jax/core/compile/jaxpr_trace_duration": "trace",
             "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower"}

    def listen(event, duration, **kw):
        if event in names:
            events.append((names[event], duration, kw.get("fun_name", "?")))

    monitoring.register_event_duration_secs_listener(listen)
    print("RESULT " + json.dumps(first_fit(system, workload, events, int(samples) or None)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=["W1", "W3"])
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--samples", type=int, default=0,
                    help="samples per epoch (default: the workload's own)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)
    import jax
    out = {"device": f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}", "runs": []}
    systems = ["trine"] + ([] if args.no_keras else ["keras"])
    for w in args.workloads:
        for s in systems:
            proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", w, s,
                                   str(args.samples)],
                                  capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if not lines:
                print(f"{w:8s} {s:6s} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(lines[-1][len("RESULT "):])
            out["runs"].append(r)
            tot = "  ".join(f"{k} {v:.2f}s" for k, v in sorted(r["totals_s"].items()))
            print(f"{w:8s} {s:6s} first fit {r['first_fit_s']:.2f}s  steady {r['steady_fit_s']:.3f}s"
                  f"  [{tot}]  {len(r['compiles'])} compiles", flush=True)
            for d, name in r["compiles"][:4]:
                print(f"    {d:7.3f}s  {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
