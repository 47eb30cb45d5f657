"""Keras guide "The Functional API" (keras-io guides/functional_api.py, Keras 3 version): its
cells, reconstructed against the Keras 3 API, run on trine with `import trine as keras`.

Changed: MNIST and CIFAR-10 are downloads, so random arrays of their shapes stand in (a few
hundred samples, 1 epoch); the ticket model trains on 256 samples for 1 epoch; VGG19 is built
with weights=None (no download) and without its top at 64x64 (VGG19 at 224x224 is slow on CPU).
plot_model needs pydot on Keras; trine writes its own image, so those cells run as written.
Checks added: shapes, the saved model's predictions, the graph's structure.
"""
import os
import numpy as np
import trine as keras
from trine import layers
from trine import ops

rng = np.random.default_rng(0)

inputs = keras.Input(shape=(784,))
img_inputs = keras.Input(shape=(32, 32, 3))
print(inputs.shape, inputs.dtype)
assert tuple(inputs.shape) == (None, 784) and inputs.dtype == "float32"
dense = layers.Dense(64, activation="relu")
x = dense(inputs)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()
keras.utils.plot_model(model, "my_first_model.png")
keras.utils.plot_model(model, "my_first_model_with_shape_info.png", show_shapes=True)
assert os.path.exists("my_first_model.png") and os.path.exists("my_first_model_with_shape_info.png")
print("first model ok")

# Training, evaluation, and inference (random data in MNIST's shapes)
x_train = rng.random((320, 784)).astype("float32")
y_train = rng.integers(0, 10, size=(320,))
x_test = rng.random((64, 784)).astype("float32")
y_test = rng.integers(0, 10, size=(64,))
model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=64, epochs=1, validation_split=0.2, verbose=0)
assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.history)
test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])
print("training ok")

# Save and serialize
expected = np.asarray(model.predict(x_test, verbose=0))
model.save("my_model.keras")
del model
model = keras.models.load_model("my_model.keras")
np.testing.assert_allclose(np.asarray(model.predict(x_test, verbose=0)), expected, rtol=1e-5,
                           atol=1e-6)
print("save ok")

# One graph of layers, several models
encoder_input = keras.Input(shape=(28, 28, 1), name="img")
x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.MaxPooling2D(3)(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.Conv2D(16, 3, activation="relu")(x)
encoder_output = layers.GlobalMaxPooling2D()(x)
encoder = keras.Model(encoder_input, encoder_output, name="encoder")
encoder.summary()
x = layers.Reshape((4, 4, 1))(encoder_output)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
x = layers.UpSampling2D(3)(x)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
autoencoder = keras.Model(encoder_input, decoder_output, name="autoencoder")
autoencoder.summary()
assert tuple(autoencoder.output.shape) == (None, 28, 28, 1)
print("shared graph ok")

# Models are callable, like layers
encoder_input = keras.Input(shape=(28, 28, 1), name="original_img")
x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.MaxPooling2D(3)(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.Conv2D(16, 3, activation="relu")(x)
encoder_output = layers.GlobalMaxPooling2D()(x)
encoder = keras.Model(encoder_input, encoder_output, name="encoder")
decoder_input = keras.Input(shape=(16,), name="encoded_img")
x = layers.Reshape((4, 4, 1))(decoder_input)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
x = layers.UpSampling2D(3)(x)
x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
decoder_output = layers.Conv2DTranspose(1, 3, activation="relu")(x)
decoder = keras.Model(decoder_input, decoder_output, name="decoder")
autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
encoded_img = encoder(autoencoder_input)
decoded_img = decoder(encoded_img)
autoencoder = keras.Model(autoencoder_input, decoded_img, name="autoencoder")
autoencoder.summary()
imgs = rng.random((2, 28, 28, 1)).astype("float32")
np.testing.assert_allclose(np.asarray(autoencoder(imgs)), np.asarray(decoder(encoder(imgs))),
                           rtol=1e-5, atol=1e-6)


def get_model():
    inputs = keras.Input(shape=(128,))
    outputs = layers.Dense(1)(inputs)
    return keras.Model(inputs, outputs)


model1, model2, model3 = get_model(), get_model(), get_model()
inputs = keras.Input(shape=(128,))
y1, y2, y3 = model1(inputs), model2(inputs), model3(inputs)
outputs = layers.average([y1, y2, y3])
ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
v = rng.random((3, 128)).astype("float32")
np.testing.assert_allclose(np.asarray(ensemble_model(v)),
                           (np.asarray(model1(v)) + np.asarray(model2(v))
                            + np.asarray(model3(v))) / 3, rtol=1e-5, atol=1e-6)
print("nested ok")

# Multiple inputs and outputs
num_tags, num_words, num_departments = 12, 10000, 4
title_input = keras.Input(shape=(None,), name="title")
body_input = keras.Input(shape=(None,), name="body")
tags_input = keras.Input(shape=(num_tags,), name="tags")
title_features = layers.Embedding(num_words, 64)(title_input)
body_features = layers.Embedding(num_words, 64)(body_input)
title_features = layers.LSTM(128)(title_features)
body_features = layers.LSTM(32)(body_features)
x = layers.concatenate([title_features, body_features, tags_input])
priority_pred = layers.Dense(1, name="priority")(x)
department_pred = layers.Dense(num_departments, name="department")(x)
model = keras.Model(inputs=[title_input, body_input, tags_input],
                    outputs={"priority": priority_pred, "department": department_pred})
keras.utils.plot_model(model, "multi_input_and_output_model.png", show_shapes=True)
model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
              loss=[keras.losses.BinaryCrossentropy(from_logits=True),
                    keras.losses.CategoricalCrossentropy(from_logits=True)],
              loss_weights=[1.0, 0.2])
model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
              loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
                    "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
              loss_weights={"priority": 1.0, "department": 0.2})
n = 256
title_data = rng.integers(num_words, size=(n, 10))
body_data = rng.integers(num_words, size=(n, 20))
tags_data = rng.integers(2, size=(n, num_tags)).astype("float32")
priority_targets = rng.random(size=(n, 1))
dept_targets = rng.integers(2, size=(n, num_departments))
history = model.fit({"title": title_data, "body": body_data, "tags": tags_data},
                    {"priority": priority_targets, "department": dept_targets},
                    epochs=1, batch_size=32, verbose=0)
assert np.isfinite(history.history["loss"]).all()
print("multi-io ok")

# A toy ResNet
inputs = keras.Input(shape=(32, 32, 3), name="img")
x = layers.Conv2D(32, 3, activation="relu")(inputs)
x = layers.Conv2D(64, 3, activation="relu")(x)
block_1_output = layers.MaxPooling2D(3)(x)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_2_output = layers.add([x, block_1_output])
x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_3_output = layers.add([x, block_2_output])
x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dense(256, activation="relu")(x)
x = layers.Dropout(0.5)(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs, outputs, name="toy_resnet")
model.summary()
keras.utils.plot_model(model, "mini_resnet.png", show_shapes=True)
x_train = rng.random((128, 32, 32, 3)).astype("float32")
y_train = keras.utils.to_categorical(rng.integers(0, 10, size=(128, 1)), 10)
model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
              loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
history = model.fit(x_train, y_train, batch_size=64, epochs=1, validation_split=0.2, verbose=0)
assert {"loss", "acc", "val_loss", "val_acc"} <= set(history.history), history.history
print("resnet ok")

# Shared layers
shared_embedding = layers.Embedding(1000, 128)
text_input_a = keras.Input(shape=(None,), dtype="int32")
text_input_b = keras.Input(shape=(None,), dtype="int32")
encoded_input_a = shared_embedding(text_input_a)
encoded_input_b = shared_embedding(text_input_b)
assert len(shared_embedding._inbound_nodes) == 2
print("shared layers ok")

# Extract and reuse nodes: weights=None and a 64x64 input (see the docstring)
vgg19 = keras.applications.VGG19(weights=None, include_top=False, input_shape=(64, 64, 3))
features_list = [layer.output for layer in vgg19.layers]
feat_extraction_model = keras.Model(inputs=vgg19.input, outputs=features_list)
img = rng.random((1, 64, 64, 3)).astype("float32")
extracted_features = feat_extraction_model(img)
assert len(extracted_features) == len(vgg19.layers)
np.testing.assert_allclose(np.asarray(extracted_features[-1]), np.asarray(vgg19(img)),
                           rtol=1e-4, atol=1e-5)
print("feature extraction ok")


class CustomDense(layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


inputs = keras.Input((4,))
outputs = CustomDense(10)(inputs)
model = keras.Model(inputs, outputs)
config = model.get_config()
new_model = keras.Model.from_config(config, custom_objects={"CustomDense": CustomDense})
assert tuple(new_model.output.shape) == (None, 10)
assert isinstance(new_model.layers[-1], CustomDense) and new_model.layers[-1].units == 10
print("custom layer ok")

# Mix-and-match API styles
units, timesteps, input_dim = 32, 10, 5
inputs = keras.Input((None, units))
x = layers.GlobalAveragePooling1D()(inputs)
outputs = layers.Dense(1)(x)
model = keras.Model(inputs, outputs)


class CustomRNN(layers.Layer):
    def __init__(self):
        super().__init__()
        self.units = units
        self.projection_1 = layers.Dense(units=units, activation="tanh")
        self.projection_2 = layers.Dense(units=units, activation="tanh")
        self.classifier = model

    def call(self, inputs):
        outputs = []
        state = ops.zeros(shape=(inputs.shape[0], self.units))
        for t in range(inputs.shape[1]):
            x = inputs[:, t, :]
            h = self.projection_1(x)
            y = h + self.projection_2(state)
            state = y
            outputs.append(y)
        features = ops.stack(outputs, axis=1)
        print(features.shape)
        return self.classifier(features)


rnn_model = CustomRNN()
out = rnn_model(ops.zeros((1, timesteps, input_dim)))
assert tuple(out.shape) == (1, 1)

batch_size = 16


class CustomRNN(layers.Layer):
    def __init__(self):
        super().__init__()
        self.units = units
        self.projection_1 = layers.Dense(units=units, activation="tanh")
        self.projection_2 = layers.Dense(units=units, activation="tanh")
        self.classifier = layers.Dense(1)

    def call(self, inputs):
        outputs = []
        state = ops.zeros(shape=(inputs.shape[0], self.units))
        for t in range(inputs.shape[1]):
            x = inputs[:, t, :]
            h = self.projection_1(x)
            y = h + self.projection_2(state)
            state = y
            outputs.append(y)
        features = ops.stack(outputs, axis=1)
        return self.classifier(features)


inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
x = layers.Conv1D(32, 3)(inputs)
outputs = CustomRNN()(x)
model = keras.Model(inputs, outputs)
assert tuple(model.output.shape) == (batch_size, timesteps - 2, 1)
rnn_model = CustomRNN()
_ = rnn_model(ops.zeros((1, 10, 5)))
print("mix and match ok")
