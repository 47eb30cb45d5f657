"""Keras guide "Writing a training loop from scratch in JAX" (keras-io guides/
writing_a_custom_training_loop_in_jax.py): its cells, reconstructed against the Keras 3 API,
run on trine with `import trine as keras`.

Changed: the guide downloads MNIST and batches it with tf.data (TensorFlow); here 320 random
784-pixel samples stand in (no network in tests) and a NumPy generator does the batching.
Checks added: the state the loops carry, the metric values, the added losses.
"""
import jax
import numpy as np
import trine as keras


def get_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    return keras.Model(inputs=inputs, outputs=outputs)


model = get_model()

batch_size = 32
rng = np.random.default_rng(0)
x_all = rng.random((320, 784)).astype("float32")
y_all = keras.utils.to_categorical(rng.integers(0, 10, size=(320,)), num_classes=10)
x_train, y_train = x_all[:256], y_all[:256]
x_val, y_val = x_all[256:], y_all[256:]


def batches(x, y, shuffle=False):  # stands in for tf.data's from_tensor_slices(...).batch()
    idx = rng.permutation(len(x)) if shuffle else np.arange(len(x))
    for i in range(0, len(x), batch_size):
        j = idx[i:i + batch_size]
        yield x[j], y[j]


loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
optimizer = keras.optimizers.Adam(learning_rate=1e-3)


def compute_loss_and_updates(trainable_variables, non_trainable_variables, x, y):
    y_pred, non_trainable_variables = model.stateless_call(
        trainable_variables, non_trainable_variables, x)
    loss = loss_fn(y, y_pred)
    return loss, non_trainable_variables


grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)


@jax.jit
def train_step(state, data):
    trainable_variables, non_trainable_variables, optimizer_variables = state
    x, y = data
    (loss, non_trainable_variables), grads = grad_fn(
        trainable_variables, non_trainable_variables, x, y)
    trainable_variables, optimizer_variables = optimizer.stateless_apply(
        optimizer_variables, grads, trainable_variables)
    return loss, (trainable_variables, non_trainable_variables, optimizer_variables)


optimizer.build(model.trainable_variables)
# The guide passes the Variable objects to the jitted step; jax 0.10 refuses them (on Keras
# 3.15 too: "__jax_array__() during abstractification is no longer supported"), so their values.
trainable_variables = [v.value for v in model.trainable_variables]
non_trainable_variables = [v.value for v in model.non_trainable_variables]
optimizer_variables = [v.value for v in optimizer.variables]
state = trainable_variables, non_trainable_variables, optimizer_variables
before = [np.asarray(v) for v in model.trainable_variables]

for step, data in enumerate(batches(x_train, y_train, shuffle=True)):
    loss, state = train_step(state, data)
    if step % 4 == 0:
        print(f"Training loss (for 1 batch) at step {step}: {float(loss):.4f}")
        print(f"Seen so far: {(step + 1) * batch_size} samples")
assert np.isfinite(float(loss))
# the loop is stateless: the model's variables are untouched until assigned back
for v, b in zip(model.trainable_variables, before):
    np.testing.assert_array_equal(np.asarray(v), b)

trainable_variables, non_trainable_variables, optimizer_variables = state
for variable, value in zip(model.trainable_variables, trainable_variables):
    variable.assign(value)
for variable, value in zip(model.non_trainable_variables, non_trainable_variables):
    variable.assign(value)
for v, value in zip(model.trainable_variables, trainable_variables):
    np.testing.assert_array_equal(np.asarray(v), np.asarray(value))
assert any(not np.array_equal(np.asarray(v), b) for v, b in zip(model.trainable_variables, before))
print("end-to-end ok")

# Low-level handling of metrics
model = get_model()
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
train_acc_metric = keras.metrics.CategoricalAccuracy()
val_acc_metric = keras.metrics.CategoricalAccuracy()


def compute_loss_and_updates(trainable_variables, non_trainable_variables, metric_variables,
                             x, y):
    y_pred, non_trainable_variables = model.stateless_call(
        trainable_variables, non_trainable_variables, x)
    loss = loss_fn(y, y_pred)
    metric_variables = train_acc_metric.stateless_update_state(metric_variables, y, y_pred)
    return loss, (non_trainable_variables, metric_variables)


grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)


@jax.jit
def train_step(state, data):
    trainable_variables, non_trainable_variables, optimizer_variables, metric_variables = state
    x, y = data
    (loss, (non_trainable_variables, metric_variables)), grads = grad_fn(
        trainable_variables, non_trainable_variables, metric_variables, x, y)
    trainable_variables, optimizer_variables = optimizer.stateless_apply(
        optimizer_variables, grads, trainable_variables)
    return loss, (trainable_variables, non_trainable_variables, optimizer_variables,
                  metric_variables)


@jax.jit
def eval_step(state, data):
    trainable_variables, non_trainable_variables, metric_variables = state
    x, y = data
    y_pred, non_trainable_variables = model.stateless_call(
        trainable_variables, non_trainable_variables, x)
    loss = loss_fn(y, y_pred)
    metric_variables = val_acc_metric.stateless_update_state(metric_variables, y, y_pred)
    return loss, (trainable_variables, non_trainable_variables, metric_variables)


optimizer.build(model.trainable_variables)
values = lambda vs: [v.value for v in vs]  # Variable values, as above
state = (values(model.trainable_variables), values(model.non_trainable_variables),
         values(optimizer.variables), values(train_acc_metric.variables))
for step, data in enumerate(batches(x_train, y_train, shuffle=True)):
    loss, state = train_step(state, data)
    if step % 4 == 0:
        print(f"Training loss (for 1 batch) at step {step}: {float(loss):.4f}")
        _, _, _, metric_variables = state
        for variable, value in zip(train_acc_metric.variables, metric_variables):
            variable.assign(value)
        print(f"Training accuracy: {train_acc_metric.result()}")
        print(f"Seen so far: {(step + 1) * batch_size} samples")
train_acc = float(train_acc_metric.result())
assert 0.0 <= train_acc <= 1.0

trainable_variables, non_trainable_variables, optimizer_variables, metric_variables = state
state = trainable_variables, non_trainable_variables, values(val_acc_metric.variables)
for step, data in enumerate(batches(x_val, y_val)):
    loss, state = eval_step(state, data)
    if step % 4 == 0:
        print(f"Validation loss (for 1 batch) at step {step}: {float(loss):.4f}")
_, _, metric_variables = state
for variable, value in zip(val_acc_metric.variables, metric_variables):
    variable.assign(value)
print(f"Validation accuracy: {val_acc_metric.result()}")
y_pred = np.asarray(model.stateless_call(trainable_variables, non_trainable_variables,
                                         x_val)[0])
expected_acc = np.mean(np.argmax(y_pred, -1) == np.argmax(y_val, -1))
np.testing.assert_allclose(float(val_acc_metric.result()), expected_acc, rtol=1e-6)
print("metrics ok")


# Low-level handling of losses tracked by the model
class ActivityRegularizationLayer(keras.layers.Layer):
    def call(self, inputs):
        self.add_loss(1e-2 * jax.numpy.sum(inputs))
        return inputs


inputs = keras.Input(shape=(784,), name="digits")
x = keras.layers.Dense(64, activation="relu")(inputs)
x = ActivityRegularizationLayer()(x)
x = keras.layers.Dense(64, activation="relu")(x)
outputs = keras.layers.Dense(10, name="predictions")(x)
model = keras.Model(inputs=inputs, outputs=outputs)


def compute_loss_and_updates(trainable_variables, non_trainable_variables, metric_variables,
                             x, y):
    y_pred, non_trainable_variables, losses = model.stateless_call(
        trainable_variables, non_trainable_variables, x, return_losses=True)
    loss = loss_fn(y, y_pred)
    if losses:
        # the guide sums the list itself; jax 0.10's jnp.sum refuses a list (on Keras too)
        loss += jax.numpy.sum(jax.numpy.stack(losses))
    metric_variables = train_acc_metric.stateless_update_state(metric_variables, y, y_pred)
    return loss, non_trainable_variables, metric_variables


# the guide stops at the definition; call it once to check the added loss
xb, yb = x_train[:batch_size], y_train[:batch_size]
loss, _, _ = compute_loss_and_updates(model.trainable_variables, model.non_trainable_variables,
                                      train_acc_metric.variables, xb, yb)
hidden = keras.Model(inputs, model.layers[2].output)(xb)
np.testing.assert_allclose(
    float(loss), float(loss_fn(yb, model(xb))) + 1e-2 * float(np.sum(np.asarray(hidden))),
    rtol=1e-4)
print("losses ok")
