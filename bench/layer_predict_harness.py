"""Per-layer inference for every layer of the conformance harness, trine against Keras 3 (JAX)
(issue 24's harness-wide table).

`tests/harness.py` records, when TRINE_HARNESS_RECORD names a file, each keras-oracle,
non-training `check_layer` call: the layer's class, config, input shape(s), dtype and call
arguments. `--record` runs the harness's tests with it set; the timing then builds each recorded
layer alone in a Functional model in both systems (Keras from trine's config and weights, as the
harness does) and times `predict` of N samples at batch B, trine and Keras interleaved, median of
`--rounds`, after a warm-up predict each. Each case runs at its recorded per-sample shape and,
for inputs of rank >= 3, again with every axis but the batch and the last one made 4x longer
(where the layer accepts that).

    python bench/layer_predict_harness.py --record [--records bench/results/harness-layers.jsonl]
    python bench/layer_predict_harness.py [--rounds 5] [--n 1024] [--batch 128] [--only Conv LSTM]
        [--json bench/results/cpu-layer-predict-harness.json]
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "src"))

import numpy as np  # noqa: E402

sys.path.insert(0, HERE)
from layer_predict import predict_medians  # noqa: E402

DEFAULT_RECORDS = os.path.join(HERE, "results", "harness-layers.jsonl")
HEADER = ("| layer | config summary | per-sample shape | trine s | Keras s | trine / Keras "
          "| outputs agree |")


def _key(rec):
    """What makes two records the same case (the layer's auto-generated name aside)."""
    cfg = {k: v for k, v in rec["config"].items() if k != "name"}
    return json.dumps([rec["class"], rec.get("keras_name"), cfg, rec["input_shape"],
                       rec["input_dtype"], rec.get("call_kwargs") or {}], sort_keys=True)


def load_cases(path):
    """The records of `path`, deduplicated, in the order first recorded."""
    seen, cases = set(), []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            k = _key(rec)
            if k not in seen:
                seen.add(k)
                cases.append(rec)
    return cases


def record(path=DEFAULT_RECORDS):
    """Run the tests that use the harness with TRINE_HARNESS_RECORD=path (a fresh file), then
    rewrite it deduplicated. The tests need not all pass: whatever was recorded is kept."""
    files = sorted(f for f in glob.glob(os.path.join(ROOT, "tests", "test_*.py"))
                   if "from harness import" in open(f).read())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    raw = os.path.abspath(path) + ".raw"
    if os.path.exists(raw):
        os.remove(raw)
    env = dict(os.environ, TRINE_HARNESS_RECORD=raw, KERAS_BACKEND="jax")
    cmd = [sys.executable, "-m", "pytest", *[os.path.relpath(f, ROOT) for f in files], "-q",
           "-n", "0", "-p", "no:cacheprovider", "-m", "not slow"]
    print(" ".join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    cases = load_cases(raw) if os.path.exists(raw) else []
    with open(path, "w") as f:
        for c in cases:
            f.write(json.dumps(c, sort_keys=True) + "\n")
    if os.path.exists(raw):
        os.remove(raw)
    print(f"pytest exit {rc}; {len(cases)} distinct cases recorded in {path}")
    return cases


_QUIET = ("name", "trainable", "dtype", "autocast", "seed")


def summarize(cfg, width=60):
    """A short `key=value` line of a config: names, dtypes and initializer-like entries aside."""
    parts = []
    for k, v in cfg.items():
        if k in _QUIET or v is None or k.endswith(("_initializer", "_regularizer", "_constraint")):
            continue
        parts.append(f"{k}={json.dumps(v, sort_keys=True)}")
    s = ", ".join(parts)
    return s if len(s) <= width else s[: width - 3] + "..."


def larger(per_sample):
    """Every axis but the last made 4x longer, for per-sample shapes of rank >= 2; else None."""
    if len(per_sample) < 2:
        return None
    return tuple(d * 4 for d in per_sample[:-1]) + (per_sample[-1],)


def _data(rng, n, per_sample, dtype):
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(0, 10, size=(n,) + tuple(per_sample)).astype(dtype)
    return rng.standard_normal((n,) + tuple(per_sample)).astype(dtype)


def _build(mod, cls_name, cfg, per_samples, dtypes, multi, call_kwargs):
    cls = getattr(mod.layers, cls_name)
    layer = cls.from_config(dict(cfg))
    inps = [mod.Input(s, dtype=d) for s, d in zip(per_samples, dtypes)]
    y = layer(inps if multi else inps[0], **call_kwargs)
    return mod.Model(inps if multi else inps[0], y), layer


def _leaves(y):
    import jax
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(y)]


def _agree(a, b):
    la, lb = _leaves(a), _leaves(b)
    if len(la) != len(lb):
        return False
    for u, v in zip(la, lb):
        if u.shape != v.shape:
            return False
        u, v = u.astype(np.float64), v.astype(np.float64)
        scale = max(1.0, float(np.nanmax(np.abs(u))) if u.size else 1.0)
        if not np.allclose(u, v, atol=1e-4 * scale, equal_nan=True):
            return False
    return True


def time_case(rec, per_samples, n=1024, batch=128, rounds=5, seed=0):
    """Time one case at the given per-sample shape(s); returns (trine s, Keras s, agree)."""
    import keras

    import trine
    multi = isinstance(rec["input_dtype"], list)
    dtypes = rec["input_dtype"] if multi else [rec["input_dtype"]]
    call_kwargs = rec.get("call_kwargs") or {}
    cfg = rec["config"]
    kcfg = {k: v for k, v in cfg.items() if k != "batch_input_shape"}
    trine.clear_session()
    keras.utils.clear_session()
    trine.utils.set_random_seed(seed)
    keras.utils.set_random_seed(seed)
    tm, tl = _build(trine, rec["class"], cfg, per_samples, dtypes, multi, call_kwargs)
    km, kl = _build(keras, rec.get("keras_name") or rec["class"], kcfg, per_samples, dtypes,
                    multi, call_kwargs)
    kl.set_weights(tl.get_weights())
    rng = np.random.default_rng(seed)
    xs = [_data(rng, n, s, d) for s, d in zip(per_samples, dtypes)]
    x = xs if multi else xs[0]
    models = {"trine": tm, "keras": km}
    outs = {k: m.predict(x, batch_size=batch, verbose=0) for k, m in models.items()}
    medians = predict_medians(models, x, batch, rounds)
    return medians["trine"], medians["keras"], _agree(outs["trine"], outs["keras"])


def run(cases, n=1024, batch=128, rounds=5, only=None, scale=True, out=print):
    """Time every case (and its larger shape where it builds); prints and returns the rows."""
    rows = []
    for rec in cases:
        if only and not any(s.lower() in rec["class"].lower() for s in only):
            continue
        multi = isinstance(rec["input_dtype"], list)
        shapes = rec["input_shape"] if multi else [rec["input_shape"]]
        per = [tuple(s[1:]) for s in shapes]
        variants = [per]
        big = [larger(p) for p in per]
        if scale and all(b is not None for b in big):
            variants.append(big)
        for i, ps in enumerate(variants):
            row = {"layer": rec["class"], "keras_name": rec.get("keras_name"),
                   "config": summarize(rec["config"]),
                   "shape": " + ".join(str(tuple(p)) for p in ps), "trine_s": None,
                   "keras_s": None, "ratio": None, "agree": None, "error": None}
            try:
                t, k, ok = time_case(rec, ps, n=n, batch=batch, rounds=rounds)
                row.update(trine_s=t, keras_s=k, ratio=t / k, agree=ok)
            except Exception as e:  # noqa: BLE001 - one row's failure is that row's result
                if i > 0:
                    continue  # the larger shape is optional: skip what does not build at it
                first = (str(e).strip().splitlines() or [""])[0][:120]
                row["error"] = f"{type(e).__name__}: {first}"
            rows.append(row)
            out(format_row(row))
    return rows


def format_row(r):
    cfg = r["config"].replace("|", "\\|")
    if r["error"]:
        return f"| {r['layer']} | {cfg} | {r['shape']} | - | - | - | {r['error'].replace('|', '/')} |"
    return (f"| {r['layer']} | {cfg} | {r['shape']} | {r['trine_s']:.4f} | {r['keras_s']:.4f} "
            f"| {r['ratio']:.2f} | {r['agree']} |")


def summary(rows):
    timed = [r for r in rows if r["ratio"] is not None]
    ratios = [r["ratio"] for r in timed]
    if not ratios:
        return "no case timed"
    gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    slow = sorted(timed, key=lambda r: -r["ratio"])[:10]
    return (f"{len(rows)} rows, {len(timed)} timed ({len(rows) - len(timed)} failed to build or "
            f"predict), {sum(1 for r in timed if not r['agree'])} with outputs that disagree; "
            f"trine/Keras <= 1.0: {sum(x <= 1.0 for x in ratios)}, <= 1.1: "
            f"{sum(x <= 1.1 for x in ratios)}; geometric mean {gm:.2f}; slowest: "
            + ", ".join(f"{r['layer']} {r['shape']} {r['ratio']:.2f}" for r in slow))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", action="store_true", help="run the harness's tests to record")
    ap.add_argument("--records", default=DEFAULT_RECORDS)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--only", nargs="*", default=None, help="substrings of class names")
    ap.add_argument("--json", default=None, help="also write the rows here")
    a = ap.parse_args(argv)
    if a.record:
        record(a.records)
        return
    cases = load_cases(a.records)
    print(f"{len(cases)} recorded cases ({a.records}); predict of {a.n} samples at batch "
          f"{a.batch}, median of {a.rounds} interleaved rounds, seconds")
    print(HEADER)
    print("|---|---|---|---|---|---|---|", flush=True)
    rows = run(cases, n=a.n, batch=a.batch, rounds=a.rounds, only=a.only,
               out=lambda s: print(s, flush=True))
    print()
    print(summary(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"n": a.n, "batch": a.batch, "rounds": a.rounds, "rows": rows,
                       "summary": summary(rows)}, f, indent=1)


if __name__ == "__main__":
    main()
