"""keras-io guides/keras_tuner/distributed_tuning.py (its run_tuning.py) on trine: the code
cells with only the imports changed. The same script runs in every process; the processes are
told apart by KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT as in the
guide, and join one Optuna study (directory/project_name/study.db on the shared directory).
MNIST is shrunk to random data of its shapes (200 train, 100 test) and steps_per_epoch 600 -> 5,
validation_steps 100 -> 2. distribution_strategy=tf.distribute.MirroredStrategy() needs
TensorFlow and is left out (KerasTuner's default is no strategy)."""
import trine.tuner as keras_tuner
import trine as keras
import numpy as np


def build_model(hp):
    """Builds a convolutional model."""
    inputs = keras.Input(shape=(28, 28, 1))
    x = inputs
    for i in range(hp.Int("conv_layers", 1, 3, default=3)):
        x = keras.layers.Conv2D(
            filters=hp.Int("filters_" + str(i), 4, 32, step=4, default=8),
            kernel_size=hp.Int("kernel_size_" + str(i), 3, 5),
            activation="relu",
            padding="same",
        )(x)

        if hp.Choice("pooling" + str(i), ["max", "avg"]) == "max":
            x = keras.layers.MaxPooling2D()(x)
        else:
            # guide: AveragePooling2D() (tf.keras 2 defaulted pool_size; Keras 3 requires it)
            x = keras.layers.AveragePooling2D(pool_size=(2, 2))(x)

        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)

    if hp.Choice("global_pooling", ["max", "avg"]) == "max":
        x = keras.layers.GlobalMaxPooling2D()(x)
    else:
        x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)

    model = keras.Model(inputs, outputs)

    optimizer = hp.Choice("optimizer", ["adam", "sgd"])
    model.compile(
        optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


tuner = keras_tuner.Hyperband(
    hypermodel=build_model,
    objective="val_accuracy",
    max_epochs=2,
    factor=3,
    hyperband_iterations=1,
    directory="results_dir",
    project_name="mnist",
    overwrite=True,
)

# guide: keras.datasets.mnist.load_data(); random data of the same shapes
rng = np.random.default_rng()
x_train = rng.integers(0, 256, (200, 28, 28)).astype("uint8")
y_train = rng.integers(0, 10, (200,)).astype("uint8")
x_test = rng.integers(0, 256, (100, 28, 28)).astype("uint8")
y_test = rng.integers(0, 10, (100,)).astype("uint8")

# Reshape the images to have the channel dimension.
x_train = (x_train.reshape(x_train.shape + (1,)) / 255.0)[:1000]
y_train = y_train.astype(np.int64)[:1000]
x_test = (x_test.reshape(x_test.shape + (1,)) / 255.0)[:100]
y_test = y_test.astype(np.int64)[:100]

tuner.search(
    x_train,
    y_train,
    steps_per_epoch=5,  # guide: 600
    validation_data=(x_test, y_test),
    validation_steps=2,  # guide: 100
    callbacks=[keras.callbacks.EarlyStopping("val_accuracy")],
)
print("tuner", tuner.tuner_id, "done")
