"""`python -m bench`: trine's fit against hand-written JAX (and Keras 3 when installed).

Each workload runs in this one process, interleaved round by round (trine, jit-step reference,
scan reference, Keras), so machine noise hits all of them alike; the table shows medians of the
steady rounds, the first round (compile included) and ratios. Memory (peak RSS of one epoch of
W1) and import times are measured in fresh subprocesses.

    python -m bench                      # all workloads, 5 rounds
    python -m bench --workloads W1 --rounds 3 --json bench/results/local.json
    python -m bench --workloads W5 W6 W7 W8 --small --rounds 2   # issue 24, in minutes
    python -m bench --workloads A1 --rounds 2    # issue 23: ResNet50 predict and train step
    python -m bench --workloads A2 --rounds 2    # issue 24: MobileNetV2 (depthwise convolutions)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, ROOT)


def load_fashion(n_train=None):
    import numpy as np
    from trine.datasets import fashion_mnist
    (x, y), (xt, yt) = fashion_mnist.load_data(fallback_to_sample=True)
    x = x.astype(np.float32)
    x /= 255.0  # in place: no float64 copy, so peak RSS shows fit's memory, not the loading
    y = y.astype(np.int32)
    if n_train:
        x, y = x[:n_train], y[:n_train]
    return x, y


def trine_model(workload, keras_mod):
    k = keras_mod
    if workload == "W1-custom":
        from bench.custom_step import custom_mlp
        return custom_mlp(k)
    if workload.startswith("W1"):
        return k.Sequential([k.Input(shape=(28, 28)), k.layers.Flatten(),
                             k.layers.Dense(300, activation="relu"),
                             k.layers.Dense(100, activation="relu"),
                             k.layers.Dense(10, activation="softmax")])
    if workload == "W2":
        i1 = k.Input(shape=(784,), name="input_1")
        i2 = k.Input(shape=(784,), name="input_2")
        a = k.layers.Dense(64, activation="relu", name="dense_1")(i1)
        b = k.layers.Dense(64, activation="relu", name="dense_2")(i2)
        c = k.layers.concatenate([a, b], name="concat")
        h = k.layers.Dense(32, activation="tanh", name="dense_3")(c)
        return k.Model([i1, i2], k.layers.Dense(10, activation="softmax", name="output")(h))
    if workload == "W3":
        return k.Sequential([k.Input(shape=(28, 28, 1)),
                             k.layers.Conv2D(32, 3, activation="relu"), k.layers.MaxPooling2D(),
                             k.layers.Conv2D(64, 3, activation="relu"), k.layers.MaxPooling2D(),
                             k.layers.Flatten(), k.layers.Dense(10, activation="softmax")])
    if workload == "W4":
        return k.Sequential([k.Input(shape=(28, 28)), k.layers.Flatten(),
                             k.layers.Dense(300), k.layers.BatchNormalization(),
                             k.layers.Activation("relu"), k.layers.Dropout(0.2),
                             k.layers.Dense(100), k.layers.BatchNormalization(),
                             k.layers.Activation("relu"), k.layers.Dense(10, activation="softmax")])
    raise ValueError(workload)


WORKLOADS = {
    # name: (batch, optimizer, n_train, reference model name)
    "W1": (32, "sgd", None, "mlp"),
    "W1-1024": (1024, "sgd", None, "mlp"),
    "W1-custom": (32, "sgd", None, "mlp"),  # subclass with Keras's JAX custom train_step
    "W2": (32, "adam", None, "two_input"),
    "W3": (128, "adam", 10000, "cnn"),
    "W4": (32, "adam", None, None),
}


def shape_data(workload, x):
    import numpy as np
    if workload == "W2":
        flat = x.reshape(len(x), -1)
        return [flat, flat[:, ::-1].copy()]
    if workload == "W3":
        return x[..., None]
    return x


DEVICE_ROW = "trine fit, device arrays"


def run_workload(name, rounds, with_keras, log, with_torch=True, with_scan=True):
    import jax
    import numpy as np
    import optax
    import trine
    from bench.reference import Reference

    bs, opt, n_train, ref_name = WORKLOADS[name]
    x, y = load_fashion(n_train)
    xs = shape_data(name, x)
    res = {"workload": name, "batch_size": bs, "optimizer": opt, "samples": len(y)}
    systems = {}

    trine.utils.set_random_seed(0)
    tm = trine_model(name, trine)
    tm.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    systems["trine fit"] = lambda: tm.fit(xs, y, batch_size=bs, epochs=1, verbose=0)
    # The same fit given arrays already on the device (put there once, as the references'
    # are): a fit call then skips the copy of the whole data set, which NumPy input pays per
    # call (on the CPU too, unless the array happens to be 64-byte aligned).
    xs_dev, y_dev = jax.device_put(xs), jax.device_put(y)
    systems[DEVICE_ROW] = lambda: tm.fit(xs_dev, y_dev, batch_size=bs, epochs=1, verbose=0)

    if ref_name:
        tx = optax.sgd(0.01) if opt == "sgd" else optax.adam(1e-3, eps=1e-7)
        ref = Reference(ref_name, tx, bs)
        xr = tuple(xs) if isinstance(xs, list) else xs
        xd, yd = jax.device_put(xr), jax.device_put(y)
        keys = iter(range(10 ** 6))
        systems["JAX jit step"] = lambda: ref.run_step_epoch(xr, y, jax.random.key(next(keys)))
        ref2 = Reference(ref_name, tx, bs)
        if with_scan:
            systems["JAX epoch scan"] = lambda: ref2.run_scan_epoch(
                xd, yd, jax.random.key(next(keys)))
        flops = ref.step_flops(xr, y)
        if flops:
            res["gflop_per_epoch"] = flops * len(y) / bs / 1e9
    if with_torch and ref_name:
        try:
            from bench.torch_reference import TorchReference
            tref = TorchReference(ref_name, opt, bs)
            xt, yt = tref.tensors(xs, y)
            systems["PyTorch eager"] = lambda: tref.run_epoch(xt, yt)
        except ImportError as e:
            log(f"  {name}: no PyTorch row ({e})")
    if with_keras:
        try:
            import keras
            keras.utils.set_random_seed(0)
            km = trine_model(name, keras)
            km.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            systems["Keras 3 fit"] = lambda: km.fit(xs, y, batch_size=bs, epochs=1, verbose=0)
        except ImportError as e:  # say so: a table without its Keras rows looks complete
            log(f"  {name}: no Keras row ({e}); --no-keras skips it on purpose")
    times = {k: [] for k in systems}
    for r in range(rounds + 1):
        for k, fn in systems.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
        log(f"  {name} round {r}: " + "  ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    # The rounds above call fit(epochs=1), so each pays fit's fixed costs (the arrays' copy
    # to the device, the final sync). A user's fit(epochs=N) pays them once: time its epochs.
    epoch_times = []

    class EpochTimer(trine.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.t)

    n_ep = max(3, rounds + 1)
    tm.fit(xs, y, batch_size=bs, epochs=n_ep, verbose=0, callbacks=[EpochTimer()])
    multi = f"trine fit, epochs={n_ep}"
    times[multi] = epoch_times
    log(f"  {name} {multi}: " + " ".join(f"{t:.3f}s" for t in epoch_times))
    res["first_epoch_s"] = {k: v[0] for k, v in times.items()}
    res["steady_epoch_s"] = {k: statistics.median(v[1:]) for k, v in times.items()}
    res["rounds"] = {k: v for k, v in times.items()}
    res["trine_chunk"] = tm._auto_k.get("train")
    st = res["steady_epoch_s"]
    res["ratios"] = {f"trine / {k}": st["trine fit"] / st[k] for k in st if k != "trine fit"}
    return res


def import_times(n=5):
    """Median import times in fresh interpreters, with bytecode caches warm for both
    packages (in a temporary PYTHONPYCACHEPREFIX): an installed jax has its .pyc files from
    pip, while trine run from src/ under PYTHONDONTWRITEBYTECODE=1 (as on this project's
    machines) would otherwise be compiled from source on every import (1.31x vs ~1.07x)."""
    import tempfile
    py = sys.executable
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"),
               PYTHONPYCACHEPREFIX=tempfile.mkdtemp(prefix="trine-bench-pyc-"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    def t(stmt):
        subprocess.run([py, "-c", stmt], check=True, env=env)  # warm the bytecode cache
        out = []
        for _ in range(n):
            s = time.perf_counter()
            subprocess.run([py, "-c", stmt], check=True, env=env)
            out.append(time.perf_counter() - s)
        return statistics.median(out)

    base = t("pass")
    return {"python_s": base, "import_jax_s": t("import jax") - base,
            "import_trine_s": t("import trine") - base}


_MEM = r"""
import os, resource, sys
sys.path.insert(0, {root!r}); sys.path.insert(0, {src!r})
os.environ.setdefault("KERAS_BACKEND", "jax")
from bench.__main__ import load_fashion, trine_model
x, y = load_fashion()
mod = __import__({mod!r})
m = trine_model("W1", mod)
m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
m.fit(x, y, batch_size=32, epochs=1, verbose=0)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child of the (large)
# bench process would report the parent's peak
print([ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0]
      if os.path.exists("/proc/self/status") else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss(mod):
    code = _MEM.format(root=ROOT, src=os.path.join(ROOT, "src"), mod=mod)
    try:
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        return int(out) / 1024.0  # MiB (ru_maxrss is KiB on Linux)
    except (subprocess.CalledProcessError, IndexError, ValueError):
        return None


def matmul_rate(n=2048, reps=7):
    """This device's float32 n x n x n matmul rate in GFLOP/s at JAX's default precision
    (median of `reps` calls): the yardstick for how far a workload is from arithmetic-bound."""
    import jax
    import jax.numpy as jnp
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    mm(a, a).block_until_ready()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        mm(a, a).block_until_ready()
        ts.append(time.perf_counter() - t)
    return 2.0 * n ** 3 / statistics.median(ts) / 1e9


def machine():
    import jax
    d = jax.devices()[0]
    return {"platform": platform.platform(), "python": platform.python_version(),
            "jax": jax.__version__, "device": f"{d.platform}:{getattr(d, 'device_kind', '')}",
            "cpus": os.cpu_count()}


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--workloads", nargs="*",
                    default=["W1", "W1-1024", "W1-custom", "W2", "W3", "W4"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--no-torch", action="store_true",
                    help="skip PyTorch eager (otherwise timed when torch is installed)")
    ap.add_argument("--no-scan", action="store_true",
                    help="skip the JAX epoch-scan reference (W3's takes ~65 s per round)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-imports", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--samples", type=int, default=None,
                    help="W5-W7: samples per epoch (default 2,048, the issue's)")
    ap.add_argument("--models", type=int, default=40, help="W8: models per system a round")
    ap.add_argument("--small", action="store_true",
                    help="W5-W8 at a size that runs in minutes: 512 samples, 8 models")
    ap.add_argument("--no-torch-compile", action="store_true",
                    help="W5-W7: skip the torch.compile row (compiling takes minutes here)")
    args = ap.parse_args(argv)
    if args.small:
        args.samples, args.models = args.samples or 512, min(args.models, 8)
    log = lambda s: print(s, flush=True)
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "workloads": []}
    log(f"machine: {report['machine']}")
    report["matmul_gflops"] = matmul_rate()
    log(f"float32 2048^3 matmul: {report['matmul_gflops']:.0f} GFLOP/s")
    from bench.applications import APPLICATIONS, run_application
    from bench.real_models import REAL, run_churn, run_real
    for w in args.workloads:
        if w in APPLICATIONS:
            report["workloads"].append(run_application(
                w, args.rounds, log, with_keras=not args.no_keras, with_torch=not args.no_torch))
            continue
        if w in REAL:
            report["workloads"].append(run_real(
                w, args.rounds, log, samples=args.samples, with_keras=not args.no_keras,
                with_torch=not args.no_torch, with_compile=not args.no_torch_compile))
            continue
        if w == "W8":
            report["workloads"].append(run_churn(args.rounds, log, models=args.models,
                                                 with_keras=not args.no_keras,
                                                 with_torch=not args.no_torch))
            continue
        report["workloads"].append(run_workload(w, args.rounds, not args.no_keras, log,
                                                with_torch=not args.no_torch,
                                                with_scan=not args.no_scan))
    if not args.no_imports:
        report["imports"] = import_times()
    if not args.no_memory:
        report["peak_rss_mib_W1"] = {"trine": peak_rss("trine")}
        if not args.no_keras:
            report["peak_rss_mib_W1"]["keras"] = peak_rss("keras")
    print_table(report)
    path = args.json or os.path.join(HERE, "results", "latest.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    log(f"\nJSON: {path}")


def print_table(report):
    from bench.applications import APPLICATIONS, print_applications
    from bench.real_models import print_real
    print_real(report)
    print_applications(report)
    report = dict(report, workloads=[w for w in report["workloads"] if w["workload"] not in
                                     ("W5", "W6", "W7", "W8", *APPLICATIONS)])
    if not report["workloads"]:
        return
    print("\n| workload | system | first epoch s | steady epoch s | trine fit / this "
          "| trine multi-epoch / this |")
    print("|---|---|---|---|---|---|")
    for w in report["workloads"]:
        st = w["steady_epoch_s"]
        multi = next((k for k in st if k.startswith("trine fit, epochs=")), None)
        for k in st:
            first = ("(warm)" if k in (multi, DEVICE_ROW)
                     else f"{w['first_epoch_s'][k]:.3f}")
            r2 = f"{st[multi] / st[k]:.2f}" if multi else "-"
            print(f"| {w['workload']} (batch {w['batch_size']}) | {k} | {first} | "
                  f"{st[k]:.3f} | {st['trine fit'] / st[k]:.2f} | {r2} |")
    print_where(report)
    im = report.get("imports")
    if im:
        print(f"\nimport jax {im['import_jax_s']:.3f}s, import trine {im['import_trine_s']:.3f}s "
          f"(ratio {im['import_trine_s'] / im['import_jax_s']:.2f})")
    if "peak_rss_mib_W1" in report:
        print("peak RSS, one W1 epoch (MiB): " + ", ".join(
            f"{k} {v:.0f}" if v else f"{k} n/a" for k, v in report["peak_rss_mib_W1"].items()))



def print_where(report):
    """Where each workload's steady epoch goes: the arithmetic at this device's matmul rate
    (the floor), what the fused hand-written epoch adds to it (XLA's efficiency on these
    operand shapes), per-step dispatch (jit step minus scan: what fusion removes) and trine
    fit's own work over the scan (data copy, permutation, callbacks, logs)."""
    rate = report.get("matmul_gflops")
    rows = [w for w in report["workloads"] if w.get("gflop_per_epoch")]
    if not rate or not rows:
        return
    print(f"\nWhere the time goes (FLOPs: XLA's cost analysis of the reference step; rate: "
          f"this device's float32 2048^3 matmul, {rate:.0f} GFLOP/s)")
    print("| workload | GFLOP / epoch | floor s | epoch scan s | trine s | trine GFLOP/s "
          "(% of rate) | dispatch: jit step - scan, s | trine - scan, s |")
    print("|---|---|---|---|---|---|---|---|")
    for w in rows:
        st, g = w["steady_epoch_s"], w["gflop_per_epoch"]
        scan, step, tr = st.get("JAX epoch scan"), st.get("JAX jit step"), st["trine fit"]
        f = lambda v: "-" if v is None else f"{v:.3f}"
        print(f"| {w['workload']} (batch {w['batch_size']}) | {g:.1f} | {g / rate:.3f} | "
              f"{f(scan)} | {tr:.3f} | {g / tr:.0f} ({100 * g / tr / rate:.0f}%) | "
              f"{f(step - scan if step is not None and scan is not None else None)} | "
              f"{f(tr - scan if scan is not None else None)} |")


if __name__ == "__main__":
    main()
