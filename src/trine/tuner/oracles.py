"""KerasTuner's `keras_tuner.oracles` names, for `Tuner(oracle=...)` scripts."""
from trine.tuner.oracle import (BayesianOptimizationOracle, GridSearchOracle, HyperbandOracle,
                                Oracle, RandomSearchOracle)

__all__ = ["BayesianOptimizationOracle", "GridSearchOracle", "HyperbandOracle", "Oracle",
           "RandomSearchOracle"]
