"""Where a training step's time goes, per XLA operation, on the CPU: W5-W7's (or A1-A2's) `fit` under
JAX's profiler, each executed operation timed by XLA's CPU runtime and named back to the
optimized program.

    python bench/profile_ops.py W5 [--steps 4] [--top 15] [--predict]

XLA's CPU runtime reports each operation it runs (`--xla_cpu_enable_xprof_traceme`); the
optimized program (`--xla_dump_to`) says what each fused operation holds, so the time is
sorted into convolution or matrix-product fusions (XLA's YNN library calls), transposes,
reductions and other elementwise loops. Independent operations can run concurrently on the
runtime's threads, so the shares are of the summed operation times, not of wall time.
"""
from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
sys.path.insert(0, os.path.dirname(HERE))


def _optimized_computations(text):
    """{computation name: body} of an optimized HLO module's text."""
    found = {}
    for m in re.finditer(r"^(%?[\w.\-]+) \(.*?\) -> .*? \{\n(.*?)\n\}", text, re.S | re.M):
        found[m.group(1).lstrip("%")] = m.group(2)
    return found


def _category(line, body, op):
    if "kind=kCustom" in line or op in ("convolution", "dot"):
        kinds = set(re.findall(r"= \S+ (convolution|dot)\(", body)) or {
            "elementwise" if op == "fusion" else op}
        return "library: " + "+".join(sorted(kinds))
    if op != "fusion":
        return op
    # the operation, not "transpose(jvp())" in a backward pass's op_name metadata
    if re.search(r"= \S+ transpose\(", body):
        return "loop: transpose"
    if re.search(r"= \S+ reduce\(", body):
        return "loop: reduction"
    return "loop: elementwise"


def classify(hlo_text, times):
    """(category -> (microseconds, operations), [(microseconds, description)]) for the
    operations of `hlo_text` that `times` (name -> microseconds) holds."""
    comps = _optimized_computations(hlo_text)
    by_category = collections.defaultdict(lambda: [0.0, 0])
    rows = []
    for line in hlo_text.splitlines():
        m = re.match(r"\s*(?:ROOT )?%([\w.\-]+) = (\S+?) (\w[\w-]*)\(", line)
        if not m or m.group(1) not in times:
            continue
        name, shape, op = m.groups()
        called = re.search(r"calls=%([\w.\-]+)", line)
        body = comps.get(called.group(1), "") if called else ""
        category = _category(line, body, op)
        by_category[category][0] += times[name]
        by_category[category][1] += 1
        rows.append((times[name], f"{category:22s} {shape.split('{')[0]}"))
    return dict(by_category), sorted(rows, reverse=True)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["W5", "W6", "W7", "A1", "A2"])
    ap.add_argument("--steps", type=int, default=4, help="steps (batches) profiled")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--predict", action="store_true", help="profile predict, not fit")
    a = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="trine-profile-")
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme"
                               f"=true --xla_dump_to={work}/hlo").strip()
    import jax

    import numpy as np

    import trine
    from bench import applications, real_models
    if a.workload in applications.APPLICATIONS:
        bs = applications.BATCH
        x, y = (np.concatenate([part] * a.steps) for part in applications.batch())
        model = applications.keras_api_model(trine, applications.APPLICATIONS[a.workload])
    else:
        bs = real_models.REAL[a.workload][0]
        x, y = real_models.data(a.workload, bs * a.steps)
        model = real_models._compile(real_models.model(a.workload, trine), a.workload)
    if a.predict:
        run = lambda: model.predict(x, batch_size=bs, verbose=0)  # noqa: E731
    else:
        run = lambda: model.fit(x, y, batch_size=bs, epochs=1, verbose=0)  # noqa: E731
    run()  # compiles
    with jax.profiler.trace(f"{work}/trace", create_perfetto_trace=True):
        run()
    trace = glob.glob(f"{work}/trace/**/*.trace.json.gz", recursive=True)[0]
    times = collections.Counter()
    for e in json.load(gzip.open(trace))["traceEvents"]:
        if e.get("ph") == "X":
            times[e["name"]] += e.get("dur", 0)
    programs = {p: classify(open(p).read(), times)
                for p in glob.glob(f"{work}/hlo/*cpu_after_optimizations.txt")}
    # the program that holds most of the timed operations: the training or predict step
    hlo, (by_category, rows) = max(
        programs.items(), key=lambda kv: sum(t for t, _ in kv[1][0].values()))
    total = sum(t for t, _ in by_category.values()) or 1.0
    what = "predict" if a.predict else "training"
    print(f"{a.workload}: {a.steps} {what} steps of batch {bs}, operation times summed "
          f"({total / 1e3:.1f} ms; {os.path.basename(hlo)})")
    for category, (t, n) in sorted(by_category.items(), key=lambda kv: -kv[1][0]):
        print(f"  {category:22s} {t / 1e3 / a.steps:8.1f} ms per step  {100 * t / total:5.1f}%"
              f"  ({n} operations)")
    print(f"slowest {a.top} operations (ms per step):")
    for t, desc in rows[:a.top]:
        print(f"  {t / 1e3 / a.steps:7.2f}  {desc}")


if __name__ == "__main__":
    main()
