"""Per-layer inference, trine against Keras 3 (JAX), interleaved: each layer alone in
`Sequential([Input(shape), layer, <pool to a vector>])`, `predict` of 1,024 samples at batch
128 (issue 24's table).

    python bench/layer_predict.py [--rounds 5] [--n 1024] [--only conv bn]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))

import numpy as np  # noqa: E402

# name: (input shape, layer factory given a `layers` module, pooling after it)
CASES = {
    "Conv2D(32, 3, same) on 32x32x16": ((32, 32, 16), lambda L: L.Conv2D(32, 3, padding="same"), 2),
    "Conv2D(32, 3, strides=2, same) on 32x32x16":
        ((32, 32, 16), lambda L: L.Conv2D(32, 3, strides=2, padding="same"), 2),
    "Conv2D(32, 1) on 32x32x16": ((32, 32, 16), lambda L: L.Conv2D(32, 1), 2),
    "Conv2D(32, 3, same) on 32x32x3": ((32, 32, 3), lambda L: L.Conv2D(32, 3, padding="same"), 2),
    "Conv2D(64, 3) on 13x13x32": ((13, 13, 32), lambda L: L.Conv2D(64, 3), 2),
    "BatchNormalization on 32x32x16": ((32, 32, 16), lambda L: L.BatchNormalization(), 2),
    "MaxPooling2D on 32x32x16": ((32, 32, 16), lambda L: L.MaxPooling2D(), 2),
    "Activation(linear) on 32x32x16 (predict's floor)":
        ((32, 32, 16), lambda L: L.Activation("linear"), 2),
    "Dense(512) on 128x128": ((128, 128), lambda L: L.Dense(512), 1),
    "LayerNormalization on 128x128": ((128, 128), lambda L: L.LayerNormalization(), 1),
    "MultiHeadAttention(4, 32) self on 128x128": ((128, 128), None, 1),
    "LSTM(64) on 200x64": ((200, 64), lambda L: L.LSTM(64), 0),
}


def build(mod, shape, factory, pool, name):
    L = mod.layers
    inp = mod.Input(shape)
    if factory is None:  # self-attention takes the input twice
        y = L.MultiHeadAttention(num_heads=4, key_dim=32)(inp, inp)
    else:
        y = factory(L)(inp)
    if pool == 2:
        y = L.GlobalAveragePooling2D()(y)
    elif pool == 1:
        y = L.GlobalAveragePooling1D()(y)
    return mod.Model(inp, y)


def predict_medians(models, x, batch, rounds):
    """{name: median seconds of `predict(x)`} over `rounds`, the models interleaved in each
    round (warm them up first)."""
    ts = {k: [] for k in models}
    for _ in range(rounds):
        for k, m in models.items():
            t = time.perf_counter()
            m.predict(x, batch_size=batch, verbose=0)
            ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}


def main(argv=None):
    import keras

    import trine
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--only", nargs="*", default=None, help="substrings of case names")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"predict of {a.n} samples at batch {a.batch}, median of {a.rounds} interleaved "
          "rounds, seconds")
    print("| layer | trine | Keras 3 | trine / Keras |")
    print("|---|---|---|---|")
    for name, (shape, factory, pool) in CASES.items():
        if a.only and not any(s.lower() in name.lower() for s in a.only):
            continue
        x = rng.standard_normal((a.n,) + shape).astype(np.float32)
        trine.utils.set_random_seed(0)
        keras.utils.set_random_seed(0)
        models = {"trine": build(trine, shape, factory, pool, name),
                  "keras": build(keras, shape, factory, pool, name)}
        for m in models.values():
            m.predict(x, batch_size=a.batch, verbose=0)
        medians = predict_medians(models, x, a.batch, a.rounds)
        t, k = medians["trine"], medians["keras"]
        print(f"| {name} | {t:.4f} | {k:.4f} | {t / k:.2f} |", flush=True)


if __name__ == "__main__":
    main()
