"""TorchModuleWrapper: Keras's layer for a PyTorch module, which needs Keras's PyTorch backend.

trine runs on JAX only and never imports PyTorch, so, as Keras on its JAX backend, it cannot
run a `torch.nn.Module`; the name exists so code written for Keras fails with a clear error.
"""
from __future__ import annotations

from trine.core.layer import Layer

__all__ = ["TorchModuleWrapper"]


class TorchModuleWrapper(Layer):
    """Keras's wrapper for a PyTorch module (Keras runs it only on its PyTorch backend).

    Raises:
        NotImplementedError: always; trine runs on JAX and does not import PyTorch.
    """

    def __init__(self, module=None, name=None, output_shape=None, **kwargs):
        raise NotImplementedError(
            "TorchModuleWrapper runs a PyTorch module, which Keras supports only on its PyTorch "
            "backend; trine runs on JAX and never imports PyTorch. Rewrite the module as trine "
            "layers (copy its parameters with layer.set_weights), or as a pure JAX function "
            "in trine.layers.JaxLayer.")
