"""Keras guide "Customizing what happens in fit() with JAX" (keras-io guides/
custom_train_step_in_jax.py): its cells, reconstructed against the Keras 3 API, run on trine
with `import trine as keras`. Data shrunk (192 samples, 1-2 epochs) to keep the test fast;
checks added: the logs each custom step returns.
"""
import jax
import numpy as np
import trine as keras


def metric_slices(metrics, metrics_variables):
    """Yield (metric, its slice of metrics_variables), in self.metrics order (the guide's loop)."""
    start = 0
    for metric in metrics:
        n = len(metric.variables)
        yield metric, metrics_variables[start:start + n]
        start += n


# A first simple example: train_step on top of stateless_compute_loss
class CustomModel(keras.Model):
    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables,
                                 metrics_variables, x, y, sample_weight, training=False):
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training)
        loss, (trainable_variables, non_trainable_variables, metrics_variables) = \
            self.stateless_compute_loss(
                trainable_variables, non_trainable_variables, metrics_variables,
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        return loss, (y_pred, non_trainable_variables, metrics_variables)

    def train_step(self, state, data):
        (trainable_variables, non_trainable_variables, optimizer_variables,
         metrics_variables) = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable_variables, metrics_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, metrics_variables,
            x, y, sample_weight, training=True)
        trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        new_metrics_vars = []
        logs = {}
        for metric, this_metric_vars in metric_slices(self.metrics, metrics_variables):
            if metric.name == "loss":
                this_metric_vars = metric.stateless_update_state(
                    this_metric_vars, loss, sample_weight=sample_weight)
            else:
                this_metric_vars = metric.stateless_update_state(
                    this_metric_vars, y, y_pred, sample_weight=sample_weight)
            logs[metric.name] = metric.stateless_result(this_metric_vars)
            new_metrics_vars += this_metric_vars
        state = (trainable_variables, non_trainable_variables, optimizer_variables,
                 new_metrics_vars)
        return logs, state


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])
x = np.random.random((192, 32))  # whole batches: the loss metric averages batch means
y = np.random.random((192, 1))
history = model.fit(x, y, epochs=2, verbose=0)
print(sorted(history.history))
assert {"loss", "mae"} <= set(history.history), history.history
assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
print("simple example ok")


# Going lower-level: loss and metrics tracked by hand
class CustomModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables,
                                 x, y, sample_weight, training=False):
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=training)
        loss = self.loss_fn(y, y_pred, sample_weight=sample_weight)
        return loss, (y_pred, non_trainable_variables)

    def train_step(self, state, data):
        (trainable_variables, non_trainable_variables, optimizer_variables,
         metrics_variables) = state
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
            trainable_variables, non_trainable_variables, x, y, sample_weight, training=True)
        trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
            optimizer_variables, grads, trainable_variables)
        n_loss = len(self.loss_tracker.variables)
        loss_tracker_vars = self.loss_tracker.stateless_update_state(
            metrics_variables[:n_loss], loss, sample_weight=sample_weight)
        mae_metric_vars = self.mae_metric.stateless_update_state(
            metrics_variables[n_loss:], y, y_pred, sample_weight=sample_weight)
        logs = {
            self.loss_tracker.name: self.loss_tracker.stateless_result(loss_tracker_vars),
            self.mae_metric.name: self.mae_metric.stateless_result(mae_metric_vars),
        }
        new_metrics_vars = loss_tracker_vars + mae_metric_vars
        state = (trainable_variables, non_trainable_variables, optimizer_variables,
                 new_metrics_vars)
        return logs, state

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam")
history = model.fit(x, y, epochs=2, verbose=0)
print(sorted(history.history))
assert sorted(history.history) == ["loss", "mae"], history.history
assert history.history["loss"][-1] < history.history["loss"][0] * 1.5
print("lower-level ok")


# Providing your own evaluation step
class CustomModel(keras.Model):
    def test_step(self, state, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        trainable_variables, non_trainable_variables, metrics_variables = state
        y_pred, non_trainable_variables = self.stateless_call(
            trainable_variables, non_trainable_variables, x, training=False)
        loss, (trainable_variables, non_trainable_variables, metrics_variables) = \
            self.stateless_compute_loss(
                trainable_variables, non_trainable_variables, metrics_variables,
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        new_metrics_vars = []
        logs = {}
        for metric, this_metric_vars in metric_slices(self.metrics, metrics_variables):
            if metric.name == "loss":
                this_metric_vars = metric.stateless_update_state(
                    this_metric_vars, loss, sample_weight=sample_weight)
            else:
                this_metric_vars = metric.stateless_update_state(
                    this_metric_vars, y, y_pred, sample_weight=sample_weight)
            logs[metric.name] = metric.stateless_result(this_metric_vars)
            new_metrics_vars += this_metric_vars
        state = (trainable_variables, non_trainable_variables, new_metrics_vars)
        return logs, state


inputs = keras.Input(shape=(32,))
outputs = keras.layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs)
model.compile(loss="mse", metrics=["mae"])
result = model.evaluate(x, y, return_dict=True, verbose=0)
print(result)
assert {"loss", "mae"} <= set(result), result
y_pred = np.asarray(model.predict(x, verbose=0))
np.testing.assert_allclose(result["loss"], np.mean((y_pred - y) ** 2), rtol=1e-4)
np.testing.assert_allclose(result["mae"], np.mean(np.abs(y_pred - y)), rtol=1e-4)
print("test_step ok")
