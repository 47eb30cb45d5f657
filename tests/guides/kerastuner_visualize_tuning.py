"""keras-io guides/keras_tuner/visualize_tuning.py on trine: the code cells with only the imports
changed; MNIST shrunk to random data of its shapes (200 train, 50 test), max_trials 10 -> 2,
epochs 2 -> 1. The TensorBoard callback (and the TensorBoard HParams views) is passed only when
tensorboardX is installed; trine.tuner.plot draws the search instead (docs/tuning.md)."""
import numpy as np
import trine.tuner as keras_tuner
import trine as keras
from trine import layers

# guide: keras.datasets.mnist.load_data(); random data of the same shapes
rng = np.random.default_rng(0)
x_train = rng.integers(0, 256, (200, 28, 28)).astype("uint8")
y_train = rng.integers(0, 10, (200,)).astype("uint8")
x_test = rng.integers(0, 256, (50, 28, 28)).astype("uint8")
y_test = rng.integers(0, 10, (50,)).astype("uint8")
# Normalize the pixel values to the range of [0, 1].
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Add the channel dimension to the images.
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
# Print the shapes of the data.
print(x_train.shape)
print(y_train.shape)
print(x_test.shape)
print(y_test.shape)


def build_model(hp):
    inputs = keras.Input(shape=(28, 28, 1))
    # Model type can be MLP or CNN.
    model_type = hp.Choice("model_type", ["mlp", "cnn"])
    x = inputs
    if model_type == "mlp":
        x = layers.Flatten()(x)
        # Number of layers of the MLP is a hyperparameter.
        for i in range(hp.Int("mlp_layers", 1, 3)):
            # Number of units of each layer are
            # different hyperparameters with different names.
            output_node = layers.Dense(
                units=hp.Int(f"units_{i}", 32, 128, step=32), activation="relu",
            )(x)
    else:
        # Number of layers of the CNN is also a hyperparameter.
        for i in range(hp.Int("cnn_layers", 1, 3)):
            x = layers.Conv2D(
                hp.Int(f"filters_{i}", 32, 128, step=32),
                kernel_size=(3, 3),
                activation="relu",
            )(x)
            x = layers.MaxPooling2D(pool_size=(2, 2))(x)
        x = layers.Flatten()(x)

    # A hyperparamter for whether to use dropout layer.
    if hp.Boolean("dropout"):
        x = layers.Dropout(0.5)(x)

    # The last layer contains 10 units,
    # which is the same as the number of classes.
    outputs = layers.Dense(units=10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)

    # Compile the model.
    model.compile(
        loss="sparse_categorical_crossentropy", metrics=["accuracy"], optimizer="adam",
    )
    return model


# Initialize the `HyperParameters` and set the values.
hp = keras_tuner.HyperParameters()
hp.values["model_type"] = "cnn"
# Build the model using the `HyperParameters`.
model = build_model(hp)
# Test if the model runs with our data.
model(x_train[:100])
# Print a summary of the model.
model.summary()

# Do the same for MLP model.
hp.values["model_type"] = "mlp"
model = build_model(hp)
model(x_train[:100])
model.summary()

tuner = keras_tuner.RandomSearch(
    build_model,
    max_trials=2,  # guide: 10
    # Do not resume the previous search in the same directory.
    overwrite=True,
    objective="val_accuracy",
    # Set a directory to store the intermediate results.
    directory="tb",  # guide: "/tmp/tb"
)

try:
    import tensorboardX  # noqa: F401  (trine's TensorBoard callback writes with it)
    callbacks = [keras.callbacks.TensorBoard("tb_logs")]  # guide: "/tmp/tb_logs"
except ImportError:
    callbacks = []

tuner.search(
    x_train,
    y_train,
    validation_split=0.2,
    epochs=1,  # guide: 2
    # Use the TensorBoard callback.
    callbacks=callbacks,
)
keras_tuner.plot(tuner, "search.png")
print("visualize ok")
