"""A Siamese network: one shared encoder applied to two images, trained to tell whether they
show the same kind of garment (Fashion-MNIST pairs).

The encoder is one Sequential model called on both inputs, so both branches use the same
weights (the summary lists it once); the head compares the two embeddings with |a - b| and
a sigmoid.

    python examples/siamese.py --epochs 5 --pairs 20000
"""
from __future__ import annotations

import argparse

import numpy as np

import trine as keras
from trine import layers


def make_pairs(x, y, n, seed=0):
    """`n` pairs, half of the same class (label 1), half of different classes (label 0)."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in range(10)]
    a = rng.integers(len(y), size=n)
    same = rng.random(n) < 0.5
    b = np.empty(n, np.int64)
    for i in range(n):
        c = y[a[i]]
        if same[i]:
            b[i] = rng.choice(by_class[c])
        else:
            other = (c + rng.integers(1, 10)) % 10
            b[i] = rng.choice(by_class[other])
    return (x[a], x[b]), same.astype(np.float32)


def build(embedding: int = 32):
    encoder = keras.Sequential([
        keras.Input((28, 28)), layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(embedding),
    ], name="encoder")
    left, right = keras.Input((28, 28), name="left"), keras.Input((28, 28), name="right")
    ea, eb = encoder(left), encoder(right)           # the same layers, twice
    distance = keras.ops.abs(layers.Subtract(name="difference")([ea, eb]))
    same = layers.Dense(1, activation="sigmoid", name="same")(distance)
    return keras.Model([left, right], same, name="siamese"), encoder


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data(path=args.data_dir,
                                                              fallback_to_sample=True)
    x, xt = x.astype(np.float32) / 255.0, xt.astype(np.float32) / 255.0
    (a, b), same = make_pairs(x, y, args.pairs, args.seed)
    (ta, tb), tsame = make_pairs(xt, yt, max(500, args.pairs // 5), args.seed + 1)
    keras.utils.set_random_seed(args.seed)
    model, encoder = build()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit([a, b], same, epochs=args.epochs, batch_size=64, verbose=2)
    loss, acc = model.evaluate([ta, tb], tsame, verbose=0)
    print(f"siamese: pair accuracy {acc:.4f} on held-out pairs (chance 0.5)")
    model.test_accuracy, model.history_, model.encoder = acc, history, encoder
    return model


if __name__ == "__main__":
    main()
