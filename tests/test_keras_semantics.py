"""Keras behaviours that ordinary Keras code relies on, each run on trine and on Keras."""
import jax
import jax.numpy as jnp
import numpy as np

import keras
import trine

TOKENS = np.array([[3, 5, 0, 0], [7, 0, 0, 0], [1, 2, 3, 4]], np.int32)


# ============================================================================ masks
def _mask_snippet(K):
    class MaskedSum(K.layers.Layer):  # consumes the mask through call(mask=)
        def call(self, inputs, mask=None):
            m = K.ops.cast(mask, inputs.dtype)[..., None]
            return K.ops.sum(inputs * m, axis=1)

    class PassThrough(K.layers.Layer):  # propagates it with supports_masking
        def __init__(self, **kw):
            super().__init__(**kw)
            self.supports_masking = True

        def call(self, inputs):
            return inputs * 2.0

    class DropFirstStep(K.layers.Layer):  # computes a new one with compute_mask
        def call(self, inputs, mask=None):
            return inputs + 0.0  # a new tensor: one returned as is keeps its mask (Keras)

        def compute_mask(self, inputs, previous_mask=None):
            return K.ops.logical_and(previous_mask, K.ops.arange(4) > 0)

    emb = K.layers.Embedding(10, 3, mask_zero=True,
                             embeddings_initializer=K.initializers.Constant(0.5))
    h = emb(TOKENS)
    p = PassThrough()(h)
    d = DropFirstStep()(p)
    out = MaskedSum()(d)
    return ([np.asarray(t._keras_mask) for t in (h, p, d)], np.asarray(out))


def test_eager_masks_travel_on_the_tensor():
    (t_masks, t_out), (k_masks, k_out) = _mask_snippet(trine), _mask_snippet(keras)
    for a, b in zip(t_masks, k_masks):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(t_out, k_out, rtol=1e-6)


def test_masks_do_not_leak_tracers():
    """Masks made inside traced steps die with the trace (no global table of tracers)."""
    y = np.array([[1.0], [0.0], [1.0]], np.float32)
    model = trine.Sequential([trine.Input((4,), dtype="int32"),
                              trine.layers.Embedding(10, 3, mask_zero=True),
                              trine.layers.LSTM(2), trine.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with jax.checking_leaks():
        model.fit(TOKENS, y, epochs=1, verbose=0)
        model.evaluate(TOKENS, y, verbose=0)
        model.predict(TOKENS, verbose=0)
        jax.jit(lambda x: model(x))(jnp.asarray(TOKENS))


def test_masked_lstm_matches_keras():
    def snippet(K):
        model = K.Sequential([K.Input((4,), dtype="int32"),
                              K.layers.Embedding(10, 3, mask_zero=True,
                                                 embeddings_initializer=K.initializers.Constant(
                                                     0.3)),
                              K.layers.LSTM(2, kernel_initializer=K.initializers.Constant(0.2),
                                            recurrent_initializer=K.initializers.Constant(0.1))])
        return np.asarray(model.predict(TOKENS, verbose=0)), np.asarray(model(TOKENS))
    t, k = snippet(trine), snippet(keras)
    np.testing.assert_allclose(t[0], k[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t[1], k[1], rtol=1e-5, atol=1e-6)


def test_an_output_that_is_its_input_keeps_its_mask():
    def snippet(K):
        class Identity(K.layers.Layer):
            def call(self, inputs):
                return inputs

            def compute_mask(self, inputs, previous_mask=None):
                return K.ops.zeros_like(previous_mask)

        h = K.layers.Embedding(10, 3, mask_zero=True)(TOKENS)
        return np.asarray(Identity()(h)._keras_mask)
    np.testing.assert_array_equal(snippet(trine), snippet(keras))


# ============================================================================ conv subclassing
def test_convolution_op_override_as_in_keras_example():
    """Keras's "subclassing convolution layers" example: weight standardization."""
    x = np.linspace(-1, 1, 2 * 6 * 6 * 2, dtype=np.float32).reshape(2, 6, 6, 2)

    def snippet(K):
        class StandardizedConv2D(K.layers.Conv2D):
            def convolution_op(self, inputs, kernel):
                kernel = K.ops.convert_to_tensor(kernel)  # Keras's Variable trips jax 0.10
                mean, var = K.ops.moments(kernel, axes=[0, 1, 2], keepdims=True)
                return K.ops.conv(inputs, (kernel - mean) / K.ops.sqrt(var + 1e-10),
                                  padding="valid", strides=list(self.strides),
                                  dilation_rate=self.dilation_rate)

        plain = K.layers.Conv2D(3, 3, kernel_initializer="ones")
        std = StandardizedConv2D(3, 3, kernel_initializer=K.initializers.Constant(
            np.arange(54, dtype=np.float32).reshape(3, 3, 2, 3)))
        return (np.asarray(plain.convolution_op(x, np.ones((3, 3, 2, 3), np.float32))),
                np.asarray(std(x)))
    t, k = snippet(trine), snippet(keras)
    np.testing.assert_allclose(t[0], k[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t[1], k[1], rtol=1e-4, atol=1e-4)
