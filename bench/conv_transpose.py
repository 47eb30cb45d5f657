"""Input-dilated convolutions on the CPU: transposed convolutions and a strided Conv3D's input
gradient, XLA's `lhs_dilation` convolution against trine's (`trine.ops.cpu_dilated`,
`cpu_paths.conv_dilated_input`), forward and both gradients, interleaved round by round;
then a small generator of two Conv2DTranspose layers trained and predicted with trine and
with Keras 3 on JAX in one process.

    python bench/conv_transpose.py [--rounds 5] [--no-keras] [--json PATH]

Milliseconds per call (median); the model rows are seconds per epoch of 2,048 samples.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
sys.path.insert(0, HERE)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from conv_grouped import HEADER, compare, format_row, table_main  # noqa: E402
from trine.ops.convolution import convolve, dimension_numbers, transpose_padding  # noqa: E402

CASES = [
    # name, input shape (channels last), kernel spatial, out channels, strides; "transpose"
    # is a Keras-style transposed convolution ("same"), "strided" a strided convolution
    # (its input gradient is the input-dilated one)
    ("transpose 4x4 /2 (DCGAN)", (128, 8, 8, 128), (4, 4), 64, (2, 2), "transpose"),
    ("transpose 3x3 /2", (128, 14, 14, 64), (3, 3), 32, (2, 2), "transpose"),
    ("transpose 2x2 /2 (U-Net)", (32, 32, 32, 64), (2, 2), 32, (2, 2), "transpose"),
    ("transpose 3x3 /2, 16 -> 8", (64, 32, 32, 16), (3, 3), 8, (2, 2), "transpose"),
    ("transpose 3 /2 1-D", (128, 100, 64), (3,), 32, (2,), "transpose"),
    ("transpose 2x2x2 /2 3-D", (128, 12, 8, 12, 2), (2, 2, 2), 2, (2, 2, 2), "transpose"),
    ("transpose 3x3x3 /2 3-D", (16, 8, 8, 8, 16), (3, 3, 3), 8, (2, 2, 2), "transpose"),
    ("strided conv 3x3x3 /2 3-D", (16, 16, 16, 16, 8), (3, 3, 3), 16, (2, 2, 2), "strided"),
]


def forms(kind, kernel, strides):
    """XLA's and trine's `(x, k) -> y` for one case."""
    rank = len(kernel)
    spec = dimension_numbers(rank, "channels_last")
    if kind == "strided":
        def xla(x, k):
            return jax.lax.conv_general_dilated(x, k, strides, "SAME", dimension_numbers=spec)

        def ours(x, k):
            return convolve(x, k, strides, "same", (1,) * rank, "channels_last")
        return xla, ours
    pads = [transpose_padding(k, s, "same", None, 1) for k, s in zip(kernel, strides)]

    def xla(x, k):
        return jax.lax.conv_general_dilated(x, k, (1,) * rank, pads, lhs_dilation=strides,
                                            dimension_numbers=spec)

    def ours(x, k):
        return convolve(x, k, (1,) * rank, pads, (1,) * rank, "channels_last",
                        lhs_dilation=strides)
    return xla, ours


def run(rounds, log=print):
    rows = []
    rng = np.random.default_rng(0)
    for name, shape, kernel, out, strides, kind in CASES:
        x = jnp.asarray(rng.standard_normal(shape, np.float32))
        k = jnp.asarray(rng.standard_normal(kernel + (shape[-1], out), np.float32) * 0.1)
        row = compare(name, x, k, *forms(kind, kernel, strides), rounds)
        rows.append(row)
        log(format_row(row))
    return rows


def generator(keras):
    """A DCGAN-style generator: Dense to 7x7x128, two stride-2 Conv2DTranspose to 28x28x1."""
    keras.utils.set_random_seed(1)
    m = keras.Sequential([
        keras.Input((64,)), keras.layers.Dense(7 * 7 * 128), keras.layers.Reshape((7, 7, 128)),
        keras.layers.Conv2DTranspose(64, 4, strides=2, padding="same"),
        keras.layers.BatchNormalization(), keras.layers.ReLU(),
        keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid")])
    m.compile(optimizer="adam", loss="mse")
    return m


def model_rows(rounds, with_keras, samples=2048, log=print):
    """Seconds per epoch of `fit` and per `predict` of the generator, systems interleaved."""
    import trine
    systems = {"trine": trine}
    if with_keras:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras
        systems["Keras 3"] = keras
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, 64)).astype(np.float32)
    y = rng.random((samples, 28, 28, 1)).astype(np.float32)
    models, times = {}, {}
    for name, lib in systems.items():
        t = time.perf_counter()
        models[name] = generator(lib)
        models[name].fit(x, y, batch_size=128, epochs=1, verbose=0)
        models[name].predict(x, batch_size=128, verbose=0)
        times[f"{name} first fit + predict"] = [time.perf_counter() - t]
    for _ in range(rounds):
        for name, m in models.items():
            for part, call in (("fit", lambda: m.fit(x, y, batch_size=128, epochs=1, verbose=0)),
                               ("predict", lambda: m.predict(x, batch_size=128, verbose=0))):
                t = time.perf_counter()
                call()
                times.setdefault(f"{name} {part}", []).append(time.perf_counter() - t)
    seconds = {key: statistics.median(v) for key, v in times.items()}
    for key, v in seconds.items():
        log(f"generator {key}: {v:.3f} s")
    return seconds


def main(argv=None):
    table_main(
        run, HEADER, argv,
        add_options=lambda ap: ap.add_argument("--no-keras", action="store_true"),
        extra=lambda a: {"generator_s": model_rows(a.rounds, not a.no_keras,
                                                   log=lambda s: print(s, flush=True))})


if __name__ == "__main__":
    main()
