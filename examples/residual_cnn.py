"""A residual CNN on Fashion-MNIST with the Functional API.

Conv2D + BatchNormalization + ReLU, two residual blocks (Add of a shortcut and two convs),
max pooling, GlobalAveragePooling2D, Dropout and a softmax head. A few epochs of Adam beat
the seed MLP's test accuracy (0.8735 after 10 epochs, 0.8932 after 30: examples/accuracy.py).

    python examples/residual_cnn.py --epochs 5 --width 16
        # 2026-11-27, 2-core CPU: 28,698 parameters, 340 s, test accuracy 0.8950
    python examples/residual_cnn.py --epochs 1 --samples 5000      # quick look
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import trine as keras
from trine import layers


# Keras's default 0.99 makes the moving statistics (used at inference) trail the batch ones
# for the first ~500 steps; a few epochs of a small model read better with 0.9.
BN_MOMENTUM = 0.9


def conv_bn_relu(x, filters, name):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def residual_block(x, filters, name):
    shortcut = x
    y = conv_bn_relu(x, filters, f"{name}_a")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_b_bn")(y)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def build_model(width: int = 32, dropout: float = 0.3) -> keras.Model:
    inputs = keras.Input((28, 28, 1), name="image")
    x = conv_bn_relu(inputs, width, "stem")
    x = layers.MaxPooling2D(name="pool1")(x)                  # 14 x 14
    x = residual_block(x, width, "block1")
    x = layers.MaxPooling2D(name="pool2")(x)                  # 7 x 7
    x = conv_bn_relu(x, 2 * width, "widen")
    x = residual_block(x, 2 * width, "block2")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(10, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="residual_cnn")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--samples", type=int, default=None, help="train on the first N images")
    ap.add_argument("--test-samples", type=int, default=None)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--width", type=int, default=16)
    args = ap.parse_args(argv)

    (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data(path=args.data_dir,
                                                              fallback_to_sample=True)
    x = (x[:args.samples].astype(np.float32) / 255.0)[..., None]
    y = y[:args.samples]
    xt = (xt[:args.test_samples].astype(np.float32) / 255.0)[..., None]
    yt = yt[:args.test_samples]
    keras.utils.set_random_seed(args.seed)
    model = build_model(args.width)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t = time.perf_counter()
    history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=0.1, verbose=2)
    loss, acc = model.evaluate(xt, yt, verbose=0)
    print(f"residual CNN: {model.count_params():,} parameters, {args.epochs} epochs on "
          f"{len(y):,} images in {time.perf_counter() - t:.0f} s; test accuracy {acc:.4f} "
          f"(seed MLP: 0.8735 after 10 epochs)")
    model.test_accuracy = acc
    model.history_ = history
    return model


if __name__ == "__main__":
    main()
