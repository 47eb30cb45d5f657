"""The core pieces: Variable, Layer, symbolic tensors, randomness."""
from trine.core.layer import InputSpec, Layer, clear_session
from trine.core.random import set_random_seed
from trine.core.symbolic import KerasTensor
from trine.core.variable import Variable

__all__ = ["InputSpec", "KerasTensor", "Layer", "Variable", "clear_session", "set_random_seed"]
