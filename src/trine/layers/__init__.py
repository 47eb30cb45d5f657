"""Layers (Keras `keras.layers`)."""
from trine.core.layer import InputSpec, Layer
from trine.layers.core import Activation, Dense, Dropout, Flatten, Identity, Input, InputLayer, Reshape
from trine.layers.preprocessing import (CategoryEncoding, CenterCrop, Discretization, Hashing,
                                        IntegerLookup, Normalization, RandomContrast, RandomFlip,
                                        RandomRotation, RandomTranslation, RandomZoom, Rescaling,
                                        Resizing, StringLookup, TextVectorization)
from trine.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract,
                                  add, average, concatenate, maximum, minimum, multiply, subtract)

__all__ = [
    "Activation", "Add", "Average", "Concatenate", "Dense", "Dropout", "Flatten", "Identity",
    "Input", "InputLayer", "InputSpec", "Layer", "Maximum", "Minimum", "Multiply", "Reshape",
    "Subtract", "add",
    "CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup",
    "Normalization", "RandomContrast", "RandomFlip", "RandomRotation", "RandomTranslation",
    "RandomZoom", "Rescaling", "Resizing", "StringLookup", "TextVectorization", "average", "concatenate", "maximum", "minimum", "multiply", "subtract",
]
