"""Wrapper (the base of layers that wrap another layer) and SpectralNormalization."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine import initializers
from trine.core.layer import InputSpec, Layer
from trine.layers.recurrent.layer_config import NestsOneLayer, check_wrapped_layer

__all__ = ["Wrapper", "SpectralNormalization"]


class Wrapper(NestsOneLayer, Layer):
    """Base class of layers that wrap another layer (Keras `Wrapper`).

    Subclasses implement `call`; the wrapped layer is built with the wrapper and its
    weights are the wrapper's. It serializes as `{"layer": <the wrapped layer's record>}`.

    Args:
        layer: the layer to wrap.

    Raises:
        ValueError: if `layer` is not a Layer.
    """

    def __init__(self, layer, **kwargs):
        check_wrapped_layer(type(self).__name__, "layer", layer, "Dense(8)")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            with jax.ensure_compile_time_eval():
                self.layer.build(input_shape)
            self.layer.built = True
        self.built = True

    def get_config(self):
        return self._with_nested_layer(super().get_config())


def _l2_normalize(v, eps=1e-12):
    return v * jax.lax.rsqrt(jnp.maximum(jnp.sum(v * v), eps))


class SpectralNormalization(Wrapper):
    """Divide the wrapped layer's kernel by its largest singular value during training.

    The singular value is estimated by power iteration with a persistent vector `vector_u`
    (non-trainable state). As in Keras, a training call writes the normalized kernel back
    into the wrapped layer when run eagerly; under `fit` the forward pass uses it and the
    optimizer updates the raw kernel (the write-back is not a trainable-state update).

    Args:
        layer: a layer with a `kernel` (Dense, Conv*) or `embeddings` (Embedding).
        power_iterations: power-iteration steps per call (positive, default 1).

    Raises:
        ValueError: for power_iterations <= 0 or a layer with neither weight.

    Example:
        >>> sn = SpectralNormalization(Dense(4))
        >>> y = sn(jnp.ones((2, 3)), training=True)
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) or \
                power_iterations <= 0:
            raise ValueError(
                f"SpectralNormalization layer '{self.name}' expected power_iterations to be a "
                f"positive integer, received power_iterations={power_iterations!r}.")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        self.input_spec = InputSpec(min_ndim=1, axes={-1: input_shape[-1]})
        if hasattr(self.layer, "kernel"):
            self.kernel = self.layer.kernel
        elif hasattr(self.layer, "embeddings"):
            self.kernel = self.layer.embeddings
        else:
            raise ValueError(
                f"SpectralNormalization layer '{self.name}': the wrapped "
                f"{type(self.layer).__name__} has neither a 'kernel' nor an 'embeddings' "
                "weight. Wrap a Dense, Conv or Embedding layer.")
        self.kernel_shape = tuple(self.kernel.shape)
        self.vector_u = self.add_weight(
            shape=(1, self.kernel_shape[-1]),
            initializer=initializers.TruncatedNormal(stddev=0.02), trainable=False,
            name="vector_u", dtype=self.kernel.dtype)
        self.built = True

    def normalized_weights(self):
        """`(new vector_u, kernel / sigma)` after `power_iterations` steps."""
        kernel = self.kernel.value
        w = jnp.reshape(kernel, (-1, self.kernel_shape[-1]))
        u = self.vector_u.value.astype(w.dtype)
        for _ in range(self.power_iterations):
            v = _l2_normalize(u @ w.T)
            u = _l2_normalize(v @ w)
        u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
        sigma = (v @ w) @ u.T
        return u.astype(self.vector_u.dtype), jnp.reshape(w / sigma, self.kernel_shape).astype(
            kernel.dtype)

    def call(self, inputs, training=False):
        if training:
            new_u, new_kernel = self.normalized_weights()
            # an all-zero kernel has no direction to normalize: keep it and u as they are
            zero = jnp.all(self.kernel.value == 0)
            self.vector_u.assign(jnp.where(zero, self.vector_u.value, new_u))
            self.kernel.assign(jnp.where(zero, self.kernel.value, new_kernel))
        out = self.layer(inputs)
        return out.astype(jnp.asarray(inputs).dtype)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["power_iterations"] = self.power_iterations
        return cfg
