"""Data parallel bench row: W1 (the seed MLP, batch 256) on one device vs `DataParallel`.

Each configuration runs in its own subprocess (the device count is fixed when JAX starts):

    one device            a plain process (1 device)
    1 of 8, no dist.      a process with 8 devices, training on the default one
    DataParallel x8       the same 8 devices, the batch split 32 rows per device

On CPU the 8 devices are forced host devices (`--xla_force_host_platform_device_count=8`):
they share the machine's cores, so this row measures the overhead and scaling of the
partitioned program rather than real extra compute. On a machine with several GPUs pass
`--platform gpu --devices N` to use them.

    python bench/distributed.py                          # 8 host devices, 3 timed epochs
    python bench/distributed.py --samples 20000 --epochs 2 --json bench/results/distributed.json
    python bench/distributed.py --platform gpu --devices 1
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BATCH = 256


def _load(samples):
    import numpy as np
    from trine.datasets import fashion_mnist
    (x, y), _ = fashion_mnist.load_data(fallback_to_sample=True)
    x = (x[:samples] / 255.0).astype(np.float32)
    return x, y[:samples].astype(np.int32)


def child(mode, samples, epochs):
    """One configuration: prints one JSON line with its timings."""
    import jax
    import trine
    from trine import distribution as dist

    x, y = _load(samples)
    trine.utils.set_random_seed(0)
    k = trine
    model = k.Sequential([k.Input(shape=(28, 28)), k.layers.Flatten(),
                          k.layers.Dense(300, activation="relu"),
                          k.layers.Dense(100, activation="relu"),
                          k.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    d = dist.DataParallel() if mode == "dp" else None
    if d is not None:
        dist.set_distribution(d)
    times, losses = [], []
    for _ in range(epochs + 1):
        t = time.perf_counter()
        h = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        times.append(time.perf_counter() - t)
        losses.append(h.history["loss"][-1])
    steady = statistics.median(times[1:])
    print(json.dumps({
        "mode": mode, "devices": jax.device_count(),
        "used": d.device_mesh.devices.size if d else 1,
        "device_kind": f"{jax.devices()[0].platform}:{getattr(jax.devices()[0], 'device_kind', '')}",
        "samples": len(y), "first_epoch_s": times[0], "steady_epoch_s": steady,
        "samples_per_s": len(y) / steady, "final_loss": losses[-1]}))


def run_child(mode, devices, samples, epochs, platform_name):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "src"), ROOT]
                                        + [p for p in [env.get("PYTHONPATH")] if p])
    # JAX names the NVIDIA platform "cuda" ("gpu" also tries ROCm and fails without it)
    env["JAX_PLATFORMS"] = {"gpu": "cuda"}.get(platform_name, platform_name)
    if platform_name == "cpu" and devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    shared = os.path.join(os.path.dirname(ROOT), "shared", "data", "fashion-mnist")
    if "TRINE_DATA_DIR" not in env and os.path.isdir(shared):
        env["TRINE_DATA_DIR"] = shared
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", mode,
                          "--samples", str(samples), "--epochs", str(epochs)],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python bench/distributed.py")
    ap.add_argument("--devices", type=int, default=8)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs after the first")
    ap.add_argument("--platform", default="cpu", choices=["cpu", "gpu", "tpu"])
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.samples, args.epochs)
        return
    rows = [("one device", run_child("single", 1, args.samples, args.epochs, args.platform))]
    if args.devices > 1:
        rows.append((f"1 of {args.devices}, no distribution",
                     run_child("single", args.devices, args.samples, args.epochs, args.platform)))
    rows.append((f"DataParallel x{args.devices}",
                 run_child("dp", args.devices, args.samples, args.epochs, args.platform)))
    base = rows[0][1]["steady_epoch_s"]
    r0 = rows[0][1]
    print(f"W1 (seed MLP, batch {BATCH}, sgd), {r0['samples']} samples, {r0['device_kind']}, "
          f"{os.cpu_count()} CPUs, {platform.platform()}")
    print(f"{'configuration':<28}{'devices':>8}{'first epoch s':>15}{'epoch s':>10}"
          f"{'samples/s':>12}{'vs one':>8}{'final loss':>12}")
    for name, r in rows:
        print(f"{name:<28}{r['used']:>8}{r['first_epoch_s']:>15.3f}{r['steady_epoch_s']:>10.3f}"
              f"{r['samples_per_s']:>12.0f}{base / r['steady_epoch_s']:>7.2f}x"
              f"{r['final_loss']:>12.5f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
                       "rows": [dict(r, name=n) for n, r in rows]}, f, indent=1)


if __name__ == "__main__":
    main()
