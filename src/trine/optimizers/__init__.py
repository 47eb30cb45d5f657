"""Optimizers with Keras 3 names, defaults and arithmetic, running as optax transformations.

Every optimizer here is a small configuration object. `to_optax()` turns it into an
`optax.GradientTransformation` whose update rule reproduces the Keras 3 update rule of the
same name (same order of operations, same epsilon placement, same bias correction), so a
model trained with `trine.optimizers.Adam()` follows the same trajectory as one trained with
`keras.optimizers.Adam()`.

The learning rate lives in the optax state (through `optax.inject_hyperparams`), so it can
change between steps without recompiling the jitted step::

    opt = trine.optimizers.Adam(1e-3)
    tx = opt.to_optax()
    opt_state = tx.init(params)
    updates, opt_state = tx.update(grads, opt_state, params)   # inside jit
    opt_state = trine.optimizers.set_learning_rate(opt_state, 1e-4)  # outside or inside jit
    get_learning_rate(opt_state)  # -> Array(1e-4, dtype=float32)

When the learning rate is a schedule (a callable `step -> lr`, e.g.
`trine.optimizers.schedules.ExponentialDecay` or any optax schedule), the step count comes
from the optax state, starting at 0 for the first update, as Keras's `iterations` does.

optax is imported inside functions so that `import trine` stays fast.
"""
from __future__ import annotations

from typing import Optional

from trine.optimizers import legacy, schedules  # noqa: F401  (the Keras submodules)
from trine.optimizers.adam import Adam, Adamax, AdamW, Lamb, Nadam, ScheduleFreeAdamW
from trine.optimizers.adaptive import Adadelta, Adafactor, Adagrad, Ftrl, RMSprop
from trine.optimizers.base import (_BY_NAME, LearningRate, OptaxOptimizer, Optimizer, deserialize,
                                   serialize)
from trine.optimizers.learning_rate import get_learning_rate, set_learning_rate
from trine.optimizers.lion import Lion
from trine.optimizers.loss_scale import LossScaleOptimizer
from trine.optimizers.multi import MultiOptimizer, OptimizerMap
from trine.optimizers.muon import Muon
from trine.optimizers.rules import KerasOptimizerState
from trine.optimizers.schedules import (CosineDecay, CosineDecayRestarts, ExponentialDecay,
                                        InverseTimeDecay, LearningRateSchedule,
                                        PiecewiseConstantDecay, PolynomialDecay)
from trine.optimizers.sgd import SGD

__all__ = [
    "Adagrad", "Adam", "AdamW", "Adamax", "Nadam", "OptaxOptimizer", "Optimizer", "RMSprop",
    "SGD", "deserialize", "get", "get_learning_rate", "schedules", "serialize",
    "set_learning_rate",
    "Adadelta", "Adafactor", "Ftrl", "Lamb", "Lion", "Muon", "ScheduleFreeAdamW",
    "LossScaleOptimizer", "MultiOptimizer", "OptimizerMap",
]


def get(identifier) -> Optional[Optimizer]:
    """Resolves an optimizer identifier to an `Optimizer`.

    Args:
        identifier: a name ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "nadam";
            case-insensitive), an `Optimizer` instance (returned as is), an `Optimizer`
            subclass (instantiated with defaults), a config dict (`serialize()`'s output), a
            raw `optax.GradientTransformation` (wrapped in `OptaxOptimizer`), or None.

    Returns:
        An `Optimizer`, or None for None.

    Raises:
        ValueError: for an unknown name or an identifier of another type.

    Example:
        >>> get("Adam").learning_rate
        0.001
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Unknown optimizer {identifier!r}. Valid names: {sorted(_BY_NAME)}; or pass "
                "an optimizer instance or an optax GradientTransformation.")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    import optax
    if isinstance(identifier, optax.GradientTransformation):
        return OptaxOptimizer(identifier)
    raise ValueError(
        f"Could not interpret optimizer identifier {identifier!r} "
        f"({type(identifier).__name__}). Pass a name ({sorted(_BY_NAME)}), an Optimizer, a "
        "config dict, or an optax GradientTransformation.")


# ====================================================================== Keras's other optimizers
