"""`trine demo` (also `python -m trine demo`): the seed experiment on Fashion-MNIST.

Trains the seed's model (Flatten -> Dense 300 relu -> Dense 100 relu -> Dense 10 softmax)
with each of the three APIs under one seed, then prints a table: API, parameters, test loss,
test accuracy, whether weights and predictions are bit-identical to the Sequential model's,
and seconds.
"""
from __future__ import annotations

import argparse
import sys
import time


def build_models():
    """The seed's model in the three styles (same layers, same construction order)."""
    import trine as keras

    def sequential():
        return keras.Sequential([
            keras.layers.Flatten(input_shape=[28, 28]),
            keras.layers.Dense(300, activation="relu"),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(10, activation="softmax")])

    def functional():
        inputs = keras.Input(shape=(28, 28))
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(300, activation="relu")(x)
        x = keras.layers.Dense(100, activation="relu")(x)
        outputs = keras.layers.Dense(10, activation="softmax")(x)
        return keras.Model(inputs, outputs)

    class MyModel(keras.Model):
        def __init__(self):
            super(MyModel, self).__init__()
            self.flatten = keras.layers.Flatten()
            self.dense1 = keras.layers.Dense(300, activation="relu")
            self.dense2 = keras.layers.Dense(100, activation="relu")
            self.dense3 = keras.layers.Dense(10, activation="softmax")

        def call(self, inputs):
            x = self.flatten(inputs)
            x = self.dense1(x)
            x = self.dense2(x)
            return self.dense3(x)

    return {"Sequential": sequential, "Functional": functional, "Subclassing": MyModel}


def run_demo(epochs=10, batch_size=32, data_dir=None, seed=42, verbose=1, apis=None,
             out=sys.stdout, plot=None):
    import numpy as np

    import trine
    from trine.datasets import fashion_mnist

    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", fashion_mnist.SampleDataWarning)
        (x_train_full, y_train_full), (x_test, y_test) = fashion_mnist.load_data(
            path=data_dir, fallback_to_sample=True)
    sample = [w for w in caught if issubclass(w.category, fashion_mnist.SampleDataWarning)]
    if sample:
        print(f"Note: {sample[0].message}", file=out)
    print(f"Data: Fashion-MNIST, {len(x_train_full):,} training and {len(x_test):,} test images",
          file=out)
    x_train_full = x_train_full / 255.0
    x_test = x_test / 255.0
    results, reference, histories = [], None, {}
    for name, make in build_models().items():
        if apis and name.lower() not in apis:
            continue
        print(f"\n== {name} API ==", file=out)
        trine.utils.set_random_seed(seed)
        model = make()
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
                      metrics=["accuracy"])
        t = time.perf_counter()
        histories[name] = model.fit(x_train_full, y_train_full, epochs=epochs,
                                    batch_size=batch_size, validation_split=0.1,
                                    verbose=verbose)
        loss, acc = model.evaluate(x_test, y_test, verbose=0)
        pred = model.predict(x_test[:1000], verbose=0)
        secs = time.perf_counter() - t
        weights = model.get_weights()
        if reference is None:
            reference = (weights, pred)
            same = "yes (reference)"
        else:
            same_w = len(weights) == len(reference[0]) and all(
                np.array_equal(a, b) for a, b in zip(weights, reference[0]))
            same = "yes" if same_w and np.array_equal(pred, reference[1]) else "no"
        results.append((name, model.count_params(), loss, acc, same, secs))
    header = f"{'API':<12} {'params':>9} {'test loss':>10} {'test acc':>9}  {'bit-identical':<16} {'seconds':>8}"
    print("\n" + header, file=out)
    print("-" * len(header), file=out)
    for name, n, loss, acc, same, secs in results:
        print(f"{name:<12} {n:>9,} {loss:>10.4f} {acc:>9.4f}  {same:<16} {secs:>8.1f}", file=out)
    if plot and histories:
        from trine.training.history_plot import plot_history
        plot_history(histories, plot, title="Fashion-MNIST: the three APIs under one seed")
        print(f"\nTraining curves saved to {plot}", file=out)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="trine", description="trine command line")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="train the seed model with all three APIs")
    demo.add_argument("--epochs", type=int, default=10, help="epochs per model (default 10)")
    demo.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    demo.add_argument("--data-dir", default=None,
                      help="directory with the Fashion-MNIST IDX files (default: TRINE_DATA_DIR, "
                           "the cache, a download, else the embedded sample)")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--api", action="append", choices=["sequential", "functional", "subclassing"],
                      help="run only these APIs (repeatable)")
    demo.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    demo.add_argument("--plot", default=None, metavar="PATH",
                      help="save the training curves of the APIs, overlaid, to PATH (.png/.svg)")
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 0 if args.command is None else 2
    if args.epochs < 1 or args.batch_size < 1:
        parser.error("--epochs and --batch-size must be positive")
    run_demo(epochs=args.epochs, batch_size=args.batch_size, data_dir=args.data_dir,
             seed=args.seed, verbose=args.verbose, apis=args.api, plot=args.plot)
    return 0
