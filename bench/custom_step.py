"""W1-custom: the seed MLP as a subclass with its own `train_step`, written exactly as Keras's
guide "Customizing what happens in fit() with JAX" writes it, so the same class body runs on
trine and on Keras 3 (JAX backend). It does the built-in step's maths, so its row shows what
a custom step costs against the built-in one and the hand-written references."""
from __future__ import annotations


def custom_mlp(k):
    import jax

    class CustomMLP(k.Model):
        def __init__(self):
            super().__init__()
            self.flatten = k.layers.Flatten()
            self.dense1 = k.layers.Dense(300, activation="relu")
            self.dense2 = k.layers.Dense(100, activation="relu")
            self.dense3 = k.layers.Dense(10, activation="softmax")

        def call(self, inputs, training=None):
            return self.dense3(self.dense2(self.dense1(self.flatten(inputs))))

        def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y,
                                     training=False):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training)
            loss = self.compute_loss(x, y, y_pred)
            return loss, (y_pred, non_trainable_variables)

        def train_step(self, state, data):
            trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
            x, y = data
            grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, x, y, training=True)
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables)
            new_metrics_vars, logs = [], {}
            for metric in self.metrics:
                n = len(new_metrics_vars)
                this = metrics_variables[n:n + len(metric.variables)]
                if metric.name == "loss":
                    this = metric.stateless_update_state(this, loss)
                else:
                    this = metric.stateless_update_state(this, y, y_pred)
                logs[metric.name] = metric.stateless_result(this)
                new_metrics_vars += this
            return logs, (trainable_variables, non_trainable_variables, optimizer_variables,
                          new_metrics_vars)

    model = CustomMLP()
    model.build((None, 28, 28))
    return model
