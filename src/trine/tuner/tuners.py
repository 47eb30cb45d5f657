"""The four KerasTuner tuners, each an Oracle choice on the shared Tuner.

Every tuner takes KerasTuner's arguments plus Optuna's `sampler=` and `pruner=` (which replace
the tuner's own), and the Tuner's `directory`, `project_name`, `overwrite`, `storage`, ...
"""
from __future__ import annotations

from trine.tuner.oracle import (BayesianOptimizationOracle, GridSearchOracle, HyperbandOracle,
                                RandomSearchOracle)
from trine.tuner.tuner import Tuner


class RandomSearch(Tuner):
    """Random search (Optuna's RandomSampler).

    Example:
        >>> tuner = RandomSearch(build_model, objective="val_accuracy", max_trials=5)
        >>> tuner.search(x, y, epochs=3, validation_data=(xv, yv))
    """

    def __init__(self, hypermodel=None, objective=None, max_trials=10, seed=None,
                 hyperparameters=None, tune_new_entries=True, allow_new_entries=True,
                 max_retries_per_trial=0, max_consecutive_failed_trials=3, sampler=None,
                 pruner=None, **kwargs):
        self.seed = seed
        oracle = RandomSearchOracle(objective, max_trials, hyperparameters, allow_new_entries,
                                    tune_new_entries, seed, max_retries_per_trial,
                                    max_consecutive_failed_trials, sampler, pruner)
        super().__init__(oracle, hypermodel, **kwargs)


class BayesianOptimization(Tuner):
    """Model-based search with Optuna's TPE (multivariate, grouped: conditional spaces work).

    `alpha` and `beta` are KerasTuner's Gaussian-process settings; TPE has no use for them.
    """

    def __init__(self, hypermodel=None, objective=None, max_trials=10, num_initial_points=None,
                 alpha=1e-4, beta=2.6, seed=None, hyperparameters=None, tune_new_entries=True,
                 allow_new_entries=True, max_retries_per_trial=0,
                 max_consecutive_failed_trials=3, sampler=None, pruner=None, **kwargs):
        self.seed = seed
        oracle = BayesianOptimizationOracle(
            objective, max_trials, num_initial_points, alpha, beta, seed, hyperparameters,
            allow_new_entries, tune_new_entries, max_retries_per_trial,
            max_consecutive_failed_trials, sampler, pruner)
        super().__init__(oracle, hypermodel, **kwargs)


class Hyperband(Tuner):
    """Hyperband: TPE proposes, Optuna's HyperbandPruner stops the weak trials early (the
    resource is epochs; every trial may train up to `max_epochs`).

    Args:
        max_epochs: the most epochs a trial trains (it replaces `epochs` in search).
        factor: the reduction factor between rounds.
        hyperband_iterations: how many times KerasTuner's bracket set is run; the trial count
            is KerasTuner's unless `max_trials` is given.
    """

    def __init__(self, hypermodel=None, objective=None, max_epochs=100, factor=3,
                 hyperband_iterations=1, seed=None, hyperparameters=None, tune_new_entries=True,
                 allow_new_entries=True, max_retries_per_trial=0,
                 max_consecutive_failed_trials=3, max_trials=None, sampler=None, pruner=None,
                 **kwargs):
        self.seed = seed
        oracle = HyperbandOracle(objective, max_epochs, factor, hyperband_iterations, seed,
                                 hyperparameters, allow_new_entries, tune_new_entries,
                                 max_retries_per_trial, max_consecutive_failed_trials,
                                 max_trials, sampler, pruner)
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        kwargs["epochs"] = self.oracle.max_epochs  # the pruner, not a schedule, cuts trials
        return super().run_trial(trial, *args, **kwargs)


class GridSearch(Tuner):
    """Every combination of the space once (Optuna's BruteForceSampler); a Float without a
    step takes 10 evenly spaced values. `max_trials=None` walks the whole grid."""

    def __init__(self, hypermodel=None, objective=None, max_trials=None, seed=None,
                 hyperparameters=None, tune_new_entries=True, allow_new_entries=True,
                 max_retries_per_trial=0, max_consecutive_failed_trials=3, sampler=None,
                 pruner=None, **kwargs):
        self.seed = seed
        oracle = GridSearchOracle(objective, max_trials, hyperparameters, allow_new_entries,
                                  tune_new_entries, seed, max_retries_per_trial,
                                  max_consecutive_failed_trials, sampler, pruner)
        super().__init__(oracle, hypermodel, **kwargs)
