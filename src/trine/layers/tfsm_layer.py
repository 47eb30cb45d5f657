"""TFSMLayer: Keras's layer for a TensorFlow SavedModel, which needs Keras's TensorFlow backend.

trine runs on JAX only and never imports TensorFlow, so, as Keras on its JAX backend, it
cannot load a SavedModel; the name exists so code written for Keras fails with a clear error.
"""
from __future__ import annotations

from trine.core.layer import Layer

__all__ = ["TFSMLayer"]


class TFSMLayer(Layer):
    """Keras's layer reloading a SavedModel endpoint (Keras runs it only on its TensorFlow
    backend).

    Raises:
        NotImplementedError: always; trine runs on JAX and does not import TensorFlow.
    """

    def __init__(self, filepath=None, call_endpoint="serve", call_training_endpoint=None,
                 trainable=True, name=None, dtype=None):
        raise NotImplementedError(
            "TFSMLayer loads a TensorFlow SavedModel, which Keras supports only on its "
            "TensorFlow backend (on JAX it raises as well); trine runs on JAX and never imports "
            "TensorFlow. Save the original model as a .keras or .weights.h5 file and load that.")
