"""Tune the seed's MLP on Fashion-MNIST with Hyperband: units, learning rate, dropout.

One machine (the study is a SQLite file in --directory):

    python examples/tune_fashion_mnist.py

Several machines (or processes) on one study: run the same command on each, with one URL:

    python examples/tune_fashion_mnist.py --storage postgresql://user:pw@db-host/tuning

The default budget is small (a 6000-image subset, max_epochs 3); raise --samples and
--max-epochs for a real search. Data comes from TRINE_DATA_DIR (or the bundled sample).
"""
import argparse

import numpy as np

import trine as keras
import trine.tuner as kt


def build_model(hp):
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(hp.Int("units_1", 100, 400, step=100), activation="relu"),
        keras.layers.Dropout(hp.Float("dropout", 0.0, 0.4, step=0.1)),
        keras.layers.Dense(hp.Int("units_2", 50, 150, step=50), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=6000, help="train on the first N images")
    ap.add_argument("--max-epochs", type=int, default=3)
    ap.add_argument("--factor", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=1, help="hyperband_iterations")
    ap.add_argument("--directory", default="tuning")
    ap.add_argument("--project", default="fashion_mnist_mlp")
    ap.add_argument("--storage", default=None, help="e.g. postgresql://user:pw@host/db")
    ap.add_argument("--overwrite", action="store_true", help="start afresh, not resume")
    ap.add_argument("--plot", default=None, help="save the search's picture to this PNG")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)

    (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data(path=args.data_dir,
                                                              fallback_to_sample=True)
    x, y = x[:args.samples].astype(np.float32) / 255.0, y[:args.samples]
    xt = xt.astype(np.float32) / 255.0
    keras.utils.set_random_seed(args.seed)
    tuner = kt.Hyperband(build_model, objective="val_accuracy", max_epochs=args.max_epochs,
                         factor=args.factor, hyperband_iterations=args.iterations,
                         seed=args.seed, directory=args.directory, project_name=args.project,
                         storage=args.storage, overwrite=args.overwrite)
    tuner.search_space_summary()
    tuner.search(x, y, validation_split=0.2, batch_size=64, verbose=0)
    tuner.results_summary(3)
    best = tuner.get_best_models(1)[0]
    loss, acc = best.evaluate(xt, yt, verbose=0)
    print(f"\nbest hyperparameters: {tuner.get_best_hyperparameters()[0].values}")
    print(f"best model's test accuracy: {acc:.4f} (loss {loss:.4f})")
    if args.plot:
        kt.plot(tuner, args.plot)
        print(f"search picture: {args.plot}")
    return acc


if __name__ == "__main__":
    main()
