"""Hyperparameter tuning with KerasTuner's API, on Optuna (`pip install trine[tune]`).

    import trine as keras
    import trine.tuner as kt

    def build_model(hp):
        model = keras.Sequential([keras.layers.Dense(hp.Int("units", 32, 512, step=32),
                                                     activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=5)
    tuner.search(x, y, epochs=3, validation_data=(x_val, y_val))
    best = tuner.get_best_models(1)[0]

`import trine` does not import this package; this package imports Optuna only when a tuner
is made.
"""
from trine.tuner import errors, oracles
from trine.tuner.errors import FailedTrialError, FatalError
from trine.tuner.hypermodel import HyperModel
from trine.tuner.hyperparameters import HyperParameter, HyperParameters
from trine.tuner.objective import Objective
from trine.tuner.oracle import Oracle, Trial, TrialStatus
from trine.tuner.storage import journal_storage, redact_url
from trine.tuner.tuner import Tuner
from trine.tuner.tuners import BayesianOptimization, GridSearch, Hyperband, RandomSearch


def plot(tuner, path=None, **kwargs):
    """Draw the search: objective per trial with the best so far, and each hyperparameter
    against the objective (matplotlib). See `trine.tuner.plot_search.plot_search`."""
    from trine.tuner.plot_search import plot_search
    return plot_search(tuner, path, **kwargs)


__all__ = [
    "BayesianOptimization", "FailedTrialError", "FatalError", "GridSearch", "HyperModel",
    "HyperParameter", "HyperParameters", "Hyperband", "Objective", "Oracle", "RandomSearch",
    "Trial", "TrialStatus", "Tuner", "errors", "journal_storage", "oracles", "plot",
    "redact_url",
]
