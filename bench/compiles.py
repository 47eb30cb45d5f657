"""Where a first epoch's time goes: every XLA compile during the first `fit`, for trine and
(when installed) Keras 3, on one workload.

    python bench/compiles.py W1 W3              # table per workload and system
    python bench/compiles.py W3 --no-keras --json bench/results/compiles.json

For each system it prints the first fit's wall time, its steady epoch (a second fit), and
the compiles in between (JAX's own monitoring events: tracing, lowering, XLA compile, with
the jitted function's name), so "first epoch minus steady epoch" can be attributed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)


def first_fit(system, workload, log_events):
    from bench.__main__ import WORKLOADS, load_fashion, shape_data, trine_model
    bs, opt, n_train, _ = WORKLOADS[workload]
    x, y = load_fashion(n_train)
    xs = shape_data(workload, x)
    if system == "trine":
        import trine as mod
        mod.utils.set_random_seed(0)
    else:
        import keras as mod
        mod.utils.set_random_seed(0)
    model = trine_model(workload, mod)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=["W1", "W3"])
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    import jax
    from jax._src import monitoring
    events = []
    names = {"/jax/core/compile/backend_compile_duration": "compile",
             "/jax/core/compile/jaxpr_trace_duration": "trace",
             "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower"}

    def listen(event, duration, **kw):
        if event in names:
            events.append((names[event], duration, kw.get("fun_name", "?")))

    monitoring.register_event_duration_secs_listener(listen)
    out = {"device": f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}", "runs": []}
    systems = ["trine"] + ([] if args.no_keras else ["keras"])
    for w in args.workloads:
        for s in systems:
            try:
                r = first_fit(s, w, events)
            except ImportError:
                continue
            out["runs"].append(r)
            tot = "  ".join(f"{k} {v:.2f}s" for k, v in sorted(r["totals_s"].items()))
            print(f"{w:8s} {s:6s} first fit {r['first_fit_s']:.2f}s  steady {r['steady_fit_s']:.3f}s"
                  f"  [{tot}]  {len(r['compiles'])} compiles")
            for d, name in r["compiles"][:6]:
                print(f"    {d:7.3f}s  {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
