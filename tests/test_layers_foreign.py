"""TorchModuleWrapper and TFSMLayer: Keras runs them only on its PyTorch / TensorFlow
backends; trine, on JAX and importing neither framework, refuses them with a clear error, as
Keras on its JAX backend refuses TFSMLayer."""
import os

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

import trine  # noqa: E402


def test_tfsm_layer_is_refused_as_keras_on_jax_refuses_it(tmp_path):
    keras = pytest.importorskip("keras")
    with pytest.raises(NotImplementedError, match="TensorFlow backend"):
        keras.layers.TFSMLayer(str(tmp_path))
    with pytest.raises(NotImplementedError, match="never imports TensorFlow"):
        trine.layers.TFSMLayer(str(tmp_path))


def test_torch_module_wrapper_is_refused_with_what_to_do_instead():
    with pytest.raises(NotImplementedError, match="never imports PyTorch.*JaxLayer"):
        trine.layers.TorchModuleWrapper(object())
