"""trine: Keras-style deep learning on pure JAX and XLA.

    import trine as keras
    model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])

Submodules with heavier imports (datasets, callbacks, saving, inspect) load on first use.
"""
from trine import activations, constraints, initializers, layers, losses, metrics, models
from trine import optimizers, regularizers, utils
from trine.core.layer import Layer, clear_session
from trine.core.symbolic import KerasTensor
from trine.core.variable import Variable
from trine.layers.core import Input, InputLayer
from trine.models.functional import Functional
from trine.models.model import Model
from trine.models.sequential import Sequential

from trine._util.version import __version__  # noqa: F401

import os as _os  # noqa: E402

if _os.environ.get("TRINE_COMPILATION_CACHE"):  # see trine.backend.enable_compilation_cache
    from trine.backend import enable_compilation_cache as _enable_cache
    _enable_cache(_os.environ["TRINE_COMPILATION_CACHE"])

_LAZY = {"callbacks": "trine.callbacks", "datasets": "trine.datasets",
         "saving": "trine.saving", "inspect": "trine.inspect", "distribution": "trine.distribution",
         "ops": "trine.ops", "backend": "trine.backend",
         "mixed_precision": "trine.mixed_precision", "random": "trine.random",
         "tree": "trine.tree", "config": "trine.config",
         "applications": "trine.applications", "quantizers": "trine.quantizers",
         "dtype_policies": "trine.dtype_policies"}


_LAZY_FUNCS = {"trace": "trine.inspect.trace", "to_functional": "trine.inspect.trace",
               "to_source": "trine.inspect.convert",
               # Keras's top-level base classes, from the modules that define them
               "Loss": "trine.losses", "Metric": "trine.metrics", "Optimizer": "trine.optimizers",
               "Initializer": "trine.initializers", "Regularizer": "trine.regularizers",
               "DTypePolicy": "trine.mixed_precision", "FloatDTypePolicy": "trine.dtype_policies",
               "Quantizer": "trine.quantizers"}


def __getattr__(name):
    if name in _LAZY_FUNCS:
        import importlib
        fn = getattr(importlib.import_module(_LAZY_FUNCS[name]), name)
        globals()[name] = fn
        return fn
    if name in _LAZY:
        import importlib
        mod = importlib.import_module(_LAZY[name])
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'trine' has no attribute {name!r}")


__all__ = [
    "Functional", "Input", "InputLayer", "KerasTensor", "Layer", "Model", "Sequential", "Variable",
    "activations", "applications", "callbacks", "clear_session", "constraints", "datasets",
    "initializers", "layers", "losses", "metrics", "models", "optimizers", "random",
    "regularizers", "to_functional", "to_source", "trace", "utils",
]
