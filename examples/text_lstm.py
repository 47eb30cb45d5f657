"""An LSTM text classifier: TextVectorization + Embedding(mask_zero=True) + LSTM.

The corpus is made here (no download): short reviews built from positive and negative
phrases, with neutral filler and negations ("not good" is negative). TextVectorization learns
its vocabulary with `adapt` and turns strings into padded token ids on the host; the model
(Embedding with mask_zero, so the LSTM skips the padding, then LSTM and a sigmoid) trains on
the device.

    python examples/text_lstm.py --epochs 8
"""
from __future__ import annotations

import argparse

import numpy as np

import trine as keras
from trine import layers

POSITIVE = ["good", "great", "excellent", "lovely", "wonderful", "fine", "superb", "enjoyable"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "poor", "dull", "horrible", "weak"]
FILLER = ["the", "film", "was", "really", "plot", "acting", "and", "story", "quite", "a",
          "music", "ending", "very", "overall", "cast"]


def make_corpus(n: int, seed: int = 0):
    """`n` reviews and their labels (1 positive, 0 negative); negation flips a word."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        words = list(rng.choice(FILLER, size=rng.integers(3, 9)))
        for _ in range(rng.integers(1, 3)):
            negate = rng.random() < 0.25
            pool = POSITIVE if (label == 1) != negate else NEGATIVE
            phrase = ["not", str(rng.choice(pool))] if negate else [str(rng.choice(pool))]
            pos = int(rng.integers(len(words) + 1))
            words[pos:pos] = phrase
        texts.append(" ".join(words).capitalize() + rng.choice([".", "!", ""]))
        labels.append(label)
    return np.array(texts), np.array(labels, np.float32)


def build(vocab_size: int, seq_len: int) -> keras.Model:
    return keras.Sequential([
        keras.Input((seq_len,), dtype="int32"),
        layers.Embedding(vocab_size, 16, mask_zero=True),
        layers.LSTM(16),
        layers.Dense(1, activation="sigmoid"),
    ], name="text_lstm")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    texts, labels = make_corpus(args.samples, args.seed)
    test_texts, test_labels = make_corpus(max(200, args.samples // 5), args.seed + 1)
    vectorize = layers.TextVectorization(max_tokens=200, output_sequence_length=args.seq_len)
    vectorize.adapt(texts)                          # on the host
    x, xt = np.asarray(vectorize(texts)), np.asarray(vectorize(test_texts))
    keras.utils.set_random_seed(args.seed)
    model = build(len(vectorize.get_vocabulary()), args.seq_len)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, labels, epochs=args.epochs, batch_size=64, verbose=2)
    loss, acc = model.evaluate(xt, test_labels, verbose=0)
    print(f"text LSTM: vocabulary {len(vectorize.get_vocabulary())}, test accuracy {acc:.4f}")
    model.test_accuracy, model.history_, model.vectorize = acc, history, vectorize
    return model


if __name__ == "__main__":
    main()
