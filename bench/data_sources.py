"""Steps per second of W1 (the seed MLP on Fashion-MNIST, batch 32, SGD) fed by data sources
other than arrays, as a ratio to the array path in the same process.

    python bench/data_sources.py --rounds 3 --epochs 2   # as in bench/README.md
    python bench/data_sources.py --rounds 1 --samples 12000

Sources: arrays (the reference: device-resident, batches gathered inside the fused program),
a PyDataset with workers=2 (threads slicing NumPy batches), the same PyDataset in the main
thread (workers=1), and grain pipelines: per-sample MapDataset.source(...).batch(32), the
same with a 2-thread prefetch, and a map over batch indices that slices the arrays. Each
source trains a fresh model for the same epochs; the epochs after the first count (the first
includes compiling).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

BATCH = 32


def _pydataset(x, y, **kw):
    import trine

    class Slices(trine.utils.PyDataset):
        def __init__(self):
            super().__init__(**kw)

        def __len__(self):
            return -(-len(x) // BATCH)

        def __getitem__(self, i):
            return x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]

    return Slices()


def _grain(x, y, prefetch=False, sliced=False):
    import grain
    if sliced:  # a map over batch indices: one NumPy slice a batch instead of 32 getitems
        nb = -(-len(x) // BATCH)
        return grain.MapDataset.range(nb).map(
            lambda i: (x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]))

    class Source:  # random access over the arrays: grain's MapDataset.source takes any
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return x[i], y[i]

    ds = grain.MapDataset.source(Source()).batch(BATCH)
    if prefetch:
        ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=64))
    return ds


class _Timer:
    """Epoch end times, so the first epoch (compile) can be left out."""

    def __init__(self):
        import trine
        outer = self
        self.ends = []

        class CB(trine.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 0:
                    outer.ends.append(time.perf_counter())

            def on_epoch_end(self, epoch, logs=None):
                outer.ends.append(time.perf_counter())

        self.callback = CB()


def run_once(kind, x, y, epochs):
    import trine
    from bench.__main__ import trine_model
    trine.utils.set_random_seed(0)
    model = trine_model("W1", trine)
    model.compile(optimizer=trine.optimizers.SGD(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = _Timer()
    kw = dict(epochs=epochs, verbose=0, callbacks=[timer.callback], shuffle=False)
    if kind == "arrays":
        model.fit(x, y, batch_size=BATCH, **kw)
    elif kind == "pydataset-workers2":
        model.fit(_pydataset(x, y, workers=2), **kw)
    elif kind == "pydataset-main":
        model.fit(_pydataset(x, y), **kw)
    elif kind == "grain":
        model.fit(_grain(x, y), **kw)
    elif kind == "grain-prefetch":
        model.fit(_grain(x, y, prefetch=True), **kw)
    elif kind == "grain-sliced":
        model.fit(_grain(x, y, sliced=True), **kw)
    steps = -(-len(x) // BATCH) * (epochs - 1)
    return steps / (timer.ends[-1] - timer.ends[1])  # epochs after the first


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=None, help="first N training samples")
    ap.add_argument("--tile-to", type=int, default=60000,
                    help="repeat the samples up to N rows (the embedded 3,000-image sample "
                         "makes epochs too short to time; 0: off)")
    ap.add_argument("--kinds", nargs="*", default=["arrays", "pydataset-workers2",
                                                   "pydataset-main", "grain", "grain-prefetch",
                                                   "grain-sliced"])
    args = ap.parse_args(argv)
    from bench.__main__ import load_fashion
    x, y = load_fashion(args.samples)
    if args.tile_to and len(x) < args.tile_to:
        reps = -(-args.tile_to // len(x))
        x, y = np.tile(x, (reps, 1, 1))[:args.tile_to], np.tile(y, reps)[:args.tile_to]
    rates = {k: [] for k in args.kinds}
    for _ in range(args.rounds):  # interleaved, so machine load drifts hit every source
        for kind in args.kinds:
            rates[kind].append(run_once(kind, x, y, args.epochs))
    base = statistics.median(rates["arrays"]) if "arrays" in rates else None
    print(f"W1 batch {BATCH}, {len(x)} samples, epochs 2..{args.epochs}, median of "
          f"{args.rounds} rounds")
    for kind, r in rates.items():
        med = statistics.median(r)
        ratio = f"{med / base:.2f}x arrays" if base else ""
        print(f"{kind:20s} {med:9.0f} steps/s  {ratio}   (rounds: "
              + ", ".join(f"{v:.0f}" for v in r) + ")")


if __name__ == "__main__":
    main()
