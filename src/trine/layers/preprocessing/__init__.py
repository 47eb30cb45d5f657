"""Preprocessing layers (Keras `keras.layers` preprocessing family).

Where each layer runs (see docs/preprocessing.md):

- on the device, inside jit, `fit` and Functional models: Rescaling, Normalization,
  Resizing, CenterCrop, RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
  RandomContrast, CategoryEncoding, Discretization, IntegerLookup (their `adapt` runs on
  the host);
- on the host only (NumPy/Python, before `fit`): StringLookup, TextVectorization, Hashing,
  HashedCrossing.
"""
from trine.layers.preprocessing.hashed_crossing import HashedCrossing
from trine.layers.preprocessing.hashing import Hashing
from trine.layers.preprocessing.image import (CenterCrop, RandomContrast, RandomFlip,
                                              RandomRotation, RandomTranslation, RandomZoom,
                                              Resizing)
from trine.layers.preprocessing.lookup import IntegerLookup, StringLookup
from trine.layers.preprocessing.numeric import (CategoryEncoding, Discretization, Normalization,
                                                Rescaling)
from trine.layers.preprocessing.text import TextVectorization

HOST_LAYERS = (HashedCrossing, Hashing, StringLookup, TextVectorization)

__all__ = [
    "CategoryEncoding", "CenterCrop", "Discretization", "HashedCrossing", "Hashing",
    "IntegerLookup", "Normalization", "RandomContrast", "RandomFlip", "RandomRotation",
    "RandomTranslation", "RandomZoom", "Rescaling", "Resizing", "StringLookup", "TextVectorization",
]
