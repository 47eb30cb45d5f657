"""Seed accuracy on Fashion-MNIST with each of the three APIs (the seed's experiment).

SGD (lr 0.01), batch 32, validation_split 0.1, as the seed and Keras 3's reference runs
(Keras 3 on this data: 0.8751 after 10 epochs, 0.8903 after 30). Prints the test accuracy of
each API after 10 and after `--epochs` epochs and whether the three stayed bit-identical.

    python examples/accuracy.py --epochs 30
"""
import argparse
import json
import time

import numpy as np

import trine
from trine.cli import build_models
from trine.datasets import fashion_mnist


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--checkpoints", type=int, nargs="*", default=[10])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    (x, y), (xt, yt) = fashion_mnist.load_data()
    x, xt = x / 255.0, xt / 255.0
    marks = sorted(set([e for e in args.checkpoints if e < args.epochs] + [args.epochs]))
    results = {}
    for name, make in build_models().items():
        trine.utils.set_random_seed(args.seed)
        model = make()
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
        done, row, t = 0, {}, time.perf_counter()
        for m in marks:
            model.fit(x, y, epochs=m, initial_epoch=done, batch_size=32, validation_split=0.1,
                      verbose=2)
            done = m
            loss, acc = model.evaluate(xt, yt, verbose=0)
            row[m] = {"test_loss": loss, "test_accuracy": acc}
            print(f"{name}: after {m} epochs test accuracy {acc:.4f} (loss {loss:.4f})", flush=True)
        row["seconds"] = time.perf_counter() - t
        row["weights"] = model.get_weights()
        results[name] = row
    ref = results["Sequential"]["weights"]
    print("\nAPI           " + "  ".join(f"acc@{m:<3}" for m in marks) + "  identical  seconds")
    for name, row in results.items():
        same = all(np.array_equal(a, b) for a, b in zip(row.pop("weights"), ref))
        print(f"{name:<13} " + "  ".join(f"{row[m]['test_accuracy']:.4f}" for m in marks)
              + f"  {'yes' if same else 'no':<9}  {row['seconds']:.0f}")
        row["identical_to_sequential"] = same
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=float)


if __name__ == "__main__":
    main()
