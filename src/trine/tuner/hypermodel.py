"""KerasTuner's `HyperModel`: `build(hp)` makes a model, `fit(hp, model, ...)` trains it."""
from __future__ import annotations


class HyperModel:
    """Subclass and override `build`; override `fit` to tune training too.

    Args:
        name: optional name.
        tunable: whether its hyperparameters are tuned (kept for KerasTuner's signature).

    Example:
        >>> class MyHyperModel(HyperModel):
        ...     def build(self, hp):
        ...         return make_model(units=hp.Int("units", 32, 512, step=32))
        ...     def fit(self, hp, model, *args, **kwargs):
        ...         return model.fit(*args, batch_size=hp.Choice("batch", [16, 32]), **kwargs)
    """

    def __init__(self, name=None, tunable: bool = True):
        self.name = name
        self.tunable = tunable

    def build(self, hp):
        """Build and compile a model from `hp`. Returns the model."""
        raise NotImplementedError(f"{type(self).__name__}.build(hp) must be overridden to "
                                  "return a compiled model.")

    def declare_hyperparameters(self, hp) -> None:
        """Declare hyperparameters without building (optional)."""

    def fit(self, hp, model, *args, **kwargs):
        """Train `model`; returns a History, a dict of metrics or a float."""
        return model.fit(*args, **kwargs)


class _FunctionHyperModel(HyperModel):
    """Wraps a plain `build_model(hp)` function."""

    def __init__(self, build_fn):
        super().__init__(name=getattr(build_fn, "__name__", None))
        self._build_fn = build_fn

    def build(self, hp):
        return self._build_fn(hp)


def get_hypermodel(hypermodel):
    """A HyperModel from a HyperModel, a build function or None (custom run_trial).

    Raises:
        TypeError: for anything else.
    """
    if hypermodel is None or isinstance(hypermodel, HyperModel):
        return hypermodel
    if callable(hypermodel):
        return _FunctionHyperModel(hypermodel)
    raise TypeError(f"hypermodel must be a HyperModel or a function build_model(hp), received "
                    f"{hypermodel!r} of type {type(hypermodel).__name__}.")
