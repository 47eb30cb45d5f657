"""Layers (Keras `keras.layers`)."""
from trine.core.layer import InputSpec, Layer
from trine.layers.core import Activation, Dense, Dropout, Flatten, Identity, Input, InputLayer, Reshape
from trine.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract,
                                  add, average, concatenate, maximum, minimum, multiply, subtract)

__all__ = [
    "Activation", "Add", "Average", "Concatenate", "Dense", "Dropout", "Flatten", "Identity",
    "Input", "InputLayer", "InputSpec", "Layer", "Maximum", "Minimum", "Multiply", "Reshape",
    "Subtract", "add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract",
]
