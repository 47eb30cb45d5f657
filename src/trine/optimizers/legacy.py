"""`trine.optimizers.legacy`: Keras 2's optimizer names, which Keras 3 (and trine) refuse.

Keras 3 keeps `keras.optimizers.legacy.{Adagrad, Adam, Ftrl, Optimizer, RMSprop, SGD}` only to
raise an ImportError that says what to use instead; trine does the same, so code written for
Keras 3 fails here the same way and learns the fix.
"""
from __future__ import annotations

__all__ = ["Adagrad", "Adam", "Ftrl", "Optimizer", "RMSprop", "SGD"]


class _LegacyOptimizer:
    """Raises ImportError on construction: Keras 2's legacy optimizers do not exist in Keras 3."""

    def __init__(self, *args, **kwargs):
        name = type(self).__name__
        hint = (f"trine.optimizers.{name}" if name != "Optimizer"
                else "a trine.optimizers class")
        raise ImportError(
            f"trine.optimizers.legacy.{name} is not supported: Keras 3 (which trine follows) "
            f"has no legacy optimizers. Use {hint} instead; it takes the same main "
            "arguments (learning_rate, ...).")


Adagrad = type("Adagrad", (_LegacyOptimizer,), {"__module__": __name__})
Adam = type("Adam", (_LegacyOptimizer,), {"__module__": __name__})
Ftrl = type("Ftrl", (_LegacyOptimizer,), {"__module__": __name__})
Optimizer = type("Optimizer", (_LegacyOptimizer,), {"__module__": __name__})
RMSprop = type("RMSprop", (_LegacyOptimizer,), {"__module__": __name__})
SGD = type("SGD", (_LegacyOptimizer,), {"__module__": __name__})
