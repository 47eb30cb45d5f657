"""Keras guide "Understanding masking & padding" (keras-io guides/
understanding_masking_and_padding.py, Keras 3 version): its cells, reconstructed against the
Keras 3 API, run on trine with `import trine as keras`. Checks added: the masks the guide prints.
"""
import numpy as np
import trine as keras
from trine import ops
from trine import layers

# Padding sequence data
sequences = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
padded_inputs = keras.utils.pad_sequences(sequences, padding="post")
print(padded_inputs)
assert padded_inputs.shape == (3, 6) and padded_inputs[0, 3:].tolist() == [0, 0, 0]

# Mask-generating layers: Embedding and Masking
embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
masked_output = embedding(padded_inputs)
print(masked_output._keras_mask)
expected = padded_inputs != 0
np.testing.assert_array_equal(np.asarray(masked_output._keras_mask), expected)

masking_layer = layers.Masking()
unmasked_embedding = ops.cast(
    ops.tile(ops.expand_dims(padded_inputs, axis=-1), [1, 1, 10]), dtype="float32")
masked_embedding = masking_layer(unmasked_embedding)
print(masked_embedding._keras_mask)
np.testing.assert_array_equal(np.asarray(masked_embedding._keras_mask), expected)
print("mask-generating ok")

# Mask propagation in the Sequential and Functional APIs
model = keras.Sequential([
    layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True),
    layers.LSTM(32),
])
inputs = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
outputs = layers.LSTM(32)(x)
model = keras.Model(inputs, outputs)
print("propagation ok")


# Passing mask tensors directly to layers
class MyLayer(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embedding = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)
        self.lstm = layers.LSTM(32)

    def call(self, inputs):
        x = self.embedding(inputs)
        mask = self.embedding.compute_mask(inputs)
        return self.lstm(x, mask=mask)


layer = MyLayer()
x = (np.random.random((32, 10)) * 100).astype("int32")
out = layer(x)
assert tuple(out.shape) == (32, 32)
print("direct mask ok")


# Supporting masking in custom layers: a layer that modifies the mask
class TemporalSplit(keras.layers.Layer):
    def call(self, inputs):
        return ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        return ops.split(mask, 2, axis=1)


first_half, second_half = TemporalSplit()(masked_embedding)
print(first_half._keras_mask)
print(second_half._keras_mask)
np.testing.assert_array_equal(np.asarray(first_half._keras_mask), expected[:, :3])
np.testing.assert_array_equal(np.asarray(second_half._keras_mask), expected[:, 3:])
print("split mask ok")


# A layer that generates a mask from its input values
class CustomEmbedding(keras.layers.Layer):
    def __init__(self, input_dim, output_dim, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.mask_zero = mask_zero

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer="random_normal", dtype="float32")

    def call(self, inputs):
        inputs = ops.cast(inputs, "int32")
        return ops.take(self.embeddings, inputs)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)


layer = CustomEmbedding(10, 32, mask_zero=True)
x = (np.random.random((3, 10)) * 9).astype("int32")
y = layer(x)
mask = layer.compute_mask(x)
print(mask)
# the guide's ops.take has no axis, so it indexes the flattened table: (3, 10), as on Keras
assert tuple(y.shape) == (3, 10)
np.testing.assert_array_equal(np.asarray(mask), x != 0)
np.testing.assert_array_equal(np.asarray(y._keras_mask), x != 0)
print("custom embedding ok")


# Opting in to mask propagation
class MyActivation(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return ops.relu(inputs)


inputs = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(input_dim=5000, output_dim=16, mask_zero=True)(inputs)
x = MyActivation()(x)
print("Mask found:", x._keras_mask)
assert x._keras_mask is not None
outputs = layers.LSTM(32)(x)
model = keras.Model(inputs, outputs)
y = model(np.random.randint(0, 5000, size=(32, 100)))
assert tuple(y.shape) == (32, 32)
print("opt-in ok")


# Layers that need mask information
class TemporalSoftmax(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        broadcast_float_mask = ops.expand_dims(ops.cast(mask, "float32"), -1)
        inputs_exp = ops.exp(inputs) * broadcast_float_mask
        inputs_sum = ops.sum(inputs_exp * broadcast_float_mask, axis=-1, keepdims=True)
        return inputs_exp / inputs_sum


inputs = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(input_dim=10, output_dim=32, mask_zero=True)(inputs)
x = layers.Dense(1)(x)
outputs = TemporalSoftmax()(x)
model = keras.Model(inputs, outputs)
data = np.random.randint(0, 10, size=(32, 100))
y = model(data)
assert tuple(y.shape) == (32, 100, 1)
y = np.asarray(y)
# the guide sums over the last axis (size 1): unmasked steps give exp/exp = 1, masked 0/0
np.testing.assert_allclose(y[data != 0, 0], 1.0, rtol=1e-6)
assert np.isnan(y[data == 0, 0]).all()
print("mask consumer ok")
