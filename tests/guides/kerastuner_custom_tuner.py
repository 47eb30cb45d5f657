"""keras-io guides/keras_tuner/custom_tuner.py (tune hyperparameters in a custom training loop)
on trine: the code cells with only the imports changed, the random data shrunk (1000 -> 200)
and the trials kept at 2. The TensorFlow parts (tf.data batching, tf.GradientTape steps) are
written with numpy slicing and the model's train_on_batch / test_on_batch; the tuner's side
(the callbacks given to fit, the objective logged in on_epoch_end, the float returned) is the
guide's."""
import trine.tuner as keras_tuner
import trine as keras
import numpy as np


x_train = np.random.rand(200, 28, 28, 1)
y_train = np.random.randint(0, 10, (200, 1))
x_val = np.random.rand(100, 28, 28, 1)
y_val = np.random.randint(0, 10, (100, 1))


class MyHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        """Builds a convolutional model."""
        inputs = keras.Input(shape=(28, 28, 1))
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(
            units=hp.Choice("units", [32, 64, 128]), activation="relu"
        )(x)
        outputs = keras.layers.Dense(10)(x)
        return keras.Model(inputs=inputs, outputs=outputs)

    def fit(self, hp, model, x, y, validation_data, callbacks=None, **kwargs):
        # Batch the data (guide: tf.data.Dataset.from_tensor_slices(...).batch(batch_size)).
        batch_size = hp.Int("batch_size", 32, 128, step=32, default=64)
        train_ds = [(x_train[i:i + batch_size], y_train[i:i + batch_size])
                    for i in range(0, len(x_train), batch_size)]
        validation_data = [(validation_data[0][i:i + batch_size],
                            validation_data[1][i:i + batch_size])
                           for i in range(0, len(validation_data[0]), batch_size)]

        # Define the optimizer.
        optimizer = keras.optimizers.Adam(
            hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        )
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        # The metric to track validation loss.
        epoch_loss_metric = keras.metrics.Mean()

        # guide: a tf.function with tf.GradientTape; here the model's own train step.
        model.compile(optimizer=optimizer, loss=loss_fn)

        def run_train_step(images, labels):
            model.train_on_batch(images, labels)

        # Function to run the validation step.
        def run_val_step(images, labels):
            logits = model(images)
            loss = loss_fn(labels, logits)
            # Update the metric.
            epoch_loss_metric.update_state(loss)

        # Assign the model to the callbacks.
        for callback in callbacks:
            callback.model = model

        # Record the best validation loss value
        best_epoch_loss = float("inf")

        # The custom training loop.
        for epoch in range(2):
            print(f"Epoch: {epoch}")

            # Iterate the training data to run the training step.
            for images, labels in train_ds:
                run_train_step(images, labels)

            # Iterate the validation data to run the validation step.
            for images, labels in validation_data:
                run_val_step(images, labels)

            # Calling the callbacks after epoch.
            epoch_loss = float(epoch_loss_metric.result())  # guide: .numpy() (a tf.Tensor)
            for callback in callbacks:
                # The "my_metric" is the objective passed to the tuner.
                callback.on_epoch_end(epoch, logs={"my_metric": epoch_loss})
            epoch_loss_metric.reset_state()

            print(f"Epoch loss: {epoch_loss}")
            best_epoch_loss = min(best_epoch_loss, epoch_loss)

        # Return the evaluation metric value.
        return best_epoch_loss


tuner = keras_tuner.RandomSearch(
    objective=keras_tuner.Objective("my_metric", "min"),
    max_trials=2,
    hypermodel=MyHyperModel(),
    directory="results",
    project_name="custom_training",
    overwrite=True,
)

tuner.search(x=x_train, y=y_train, validation_data=(x_val, y_val))

best_hps = tuner.get_best_hyperparameters()[0]
print(best_hps.values)

best_model = tuner.get_best_models()[0]
best_model.summary()
print("custom training loop ok")
