"""KerasTuner's `keras_tuner.oracles` names, for `Tuner(oracle=...)` scripts: each oracle under
its class name and under KerasTuner's short alias (`oracles.BayesianOptimization`, ...)."""
from trine.tuner.oracle import (BayesianOptimizationOracle, GridSearchOracle, HyperbandOracle,
                                Oracle, RandomSearchOracle)

BayesianOptimization = BayesianOptimizationOracle
GridSearch = GridSearchOracle
Hyperband = HyperbandOracle
RandomSearch = RandomSearchOracle

__all__ = ["BayesianOptimization", "BayesianOptimizationOracle", "GridSearch",
           "GridSearchOracle", "Hyperband", "HyperbandOracle", "Oracle", "RandomSearch",
           "RandomSearchOracle"]
