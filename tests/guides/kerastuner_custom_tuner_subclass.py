"""keras-io guides/keras_tuner/custom_tuner.py, its 2021/06/02 revision ("Writing your own Tuner
to support a custom training loop"): a `kt.Tuner` subclass whose run_trial trains by hand,
calls the tuner's epoch/batch hooks and returns nothing (`self.on_epoch_end` reports the
objective and saves the model). Only the imports changed; MNIST shrunk to 200 random samples
of its shapes. The TensorFlow parts are rewritten: tf.data batching as numpy slicing, the
tf.GradientTape step as the model's train_on_batch, `.numpy()` as float()."""
import trine.tuner as kt
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


class MyTuner(kt.Tuner):
    def run_trial(self, trial, train_ds):
        hp = trial.hyperparameters

        # Hyperparameters can be added anywhere inside `run_trial`.
        # When the first trial is run, they will take on their default values.
        # Afterwards, they will be tuned by the `Oracle`.
        # guide: train_ds.batch(...) on a tf.data.Dataset
        batch_size = hp.Int("batch_size", 32, 128, step=32, default=64)
        train_ds = [(train_ds[0][i:i + batch_size], train_ds[1][i:i + batch_size])
                    for i in range(0, len(train_ds[0]), batch_size)]

        model = self.hypermodel.build(trial.hyperparameters)
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        optimizer = keras.optimizers.Adam(lr)
        epoch_loss_metric = keras.metrics.Mean()
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        # guide: a tf.GradientTape step; here the model's own train step
        model.compile(optimizer=optimizer, loss=loss_fn)

        def run_train_step(data):
            images = data[0].astype("float32") / 255.0
            labels = data[1]
            loss = model.train_on_batch(images, labels)
            epoch_loss_metric.update_state(loss)
            return loss

        for epoch in range(2):
            print("Epoch: {}".format(epoch))

            self.on_epoch_begin(trial, model, epoch, logs={})
            for batch, data in enumerate(train_ds):
                self.on_batch_begin(trial, model, batch, logs={})
                batch_loss = float(run_train_step(data))
                self.on_batch_end(trial, model, batch, logs={"loss": batch_loss})

                if batch % 100 == 0:
                    loss = float(epoch_loss_metric.result())  # guide: .numpy()
                    print("Batch: {}, Average Loss: {}".format(batch, loss))

            epoch_loss = float(epoch_loss_metric.result())  # guide: .numpy()
            self.on_epoch_end(trial, model, epoch, logs={"loss": epoch_loss})
            epoch_loss_metric.reset_state()


tuner = MyTuner(
    oracle=kt.oracles.BayesianOptimization(
        objective=kt.Objective("loss", "min"), max_trials=2
    ),
    hypermodel=build_model,
    directory="results",
    project_name="mnist_custom_training",
)

# guide: keras.datasets.mnist.load_data(); random data of the same shapes
rng = np.random.default_rng(0)
x_train = rng.integers(0, 256, (200, 28, 28)).astype("uint8")
y_train = rng.integers(0, 10, (200,)).astype("uint8")

# Reshape the images to have the channel dimension.
x_train = x_train.reshape(x_train.shape + (1,))[:1000]
y_train = y_train.astype(np.int64)[:1000]

mnist_train = (x_train, y_train)  # guide: tf.data.Dataset.from_tensor_slices(...)

tuner.search(train_ds=mnist_train)

best_hps = tuner.get_best_hyperparameters()[0]
print(best_hps.values)

best_model = tuner.get_best_models()[0]
print("tuner subclass ok")
