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


# ============================================================ optimizer stateless API (guide)
def _from_scratch_loop(K, weights):
    """Keras's guide "Writing a training loop from scratch in JAX", its train step verbatim
    (state passed as values: jax 0.10 no longer takes Keras Variables as jit arguments)."""
    inputs = K.Input(shape=(12,), name="digits")
    x1 = K.layers.Dense(8, activation="relu")(inputs)
    outputs = K.layers.Dense(4, name="predictions")(x1)
    model = K.Model(inputs=inputs, outputs=outputs)
    model.set_weights(weights)
    loss_fn = K.losses.CategoricalCrossentropy(from_logits=True)
    optimizer = K.optimizers.Adam(learning_rate=1e-2)
    train_acc_metric = K.metrics.CategoricalAccuracy()

    def compute_loss_and_updates(trainable_variables, non_trainable_variables,
                                 metric_variables, x, y):
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

    optimizer.build(model.trainable_variables)
    names = [v.path for v in optimizer.variables]
    V = lambda vs: [v.value for v in vs]  # noqa: E731
    state = (V(model.trainable_variables), V(model.non_trainable_variables),
             V(optimizer.variables), V(train_acc_metric.variables))
    rs = np.random.RandomState(0)
    x = rs.rand(48, 12).astype("float32")
    y = np.eye(4, dtype="float32")[rs.randint(0, 4, 48)]
    losses = []
    for step in range(3):
        loss, state = train_step(state, (x[step * 16:(step + 1) * 16],
                                         y[step * 16:(step + 1) * 16]))
        losses.append(float(loss))
    tv, ntv, ov, mv = state
    for variable, value in zip(model.trainable_variables, tv):
        variable.assign(value)
    for variable, value in zip(optimizer.variables, ov):
        variable.assign(value)
    for variable, value in zip(train_acc_metric.variables, mv):
        variable.assign(value)
    out = dict(names=names, losses=losses, iterations=int(np.asarray(optimizer.iterations)),
               acc=float(train_acc_metric.result()), pred=np.asarray(model(x[:4])))
    # The stateful surface continues from the state the loop wrote back.
    optimizer.learning_rate = 0.5
    out["lr"] = float(np.asarray(optimizer.variables[1]))
    grads = [np.full(v.shape, 0.1, "float32") for v in model.trainable_variables]
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    optimizer.apply(grads)
    out["after_apply"] = [np.asarray(v) for v in model.trainable_variables]
    out["opt_values"] = [np.asarray(v) for v in optimizer.variables]
    out["iterations_after"] = int(np.asarray(optimizer.iterations))
    return out


def test_training_loop_from_scratch_guide_runs_as_in_keras():
    keras.backend.clear_session()  # Keras's layer-name counter, as trine's is reset per test
    rs = np.random.RandomState(1)
    weights = [rs.randn(12, 8).astype("float32") * 0.3, rs.randn(8).astype("float32") * 0.1,
               rs.randn(8, 4).astype("float32") * 0.3, rs.randn(4).astype("float32") * 0.1]
    t, k = _from_scratch_loop(trine, weights), _from_scratch_loop(keras, weights)
    assert [n.split("/", 1)[1] for n in t["names"]] == [n.split("/", 1)[1] for n in k["names"]]
    np.testing.assert_allclose(t["losses"], k["losses"], rtol=1e-5)
    assert t["iterations"] == k["iterations"] == 3
    assert t["acc"] == k["acc"]
    np.testing.assert_allclose(t["pred"], k["pred"], rtol=1e-4, atol=1e-5)
    assert t["lr"] == k["lr"] == 0.5
    assert t["iterations_after"] == k["iterations_after"] == 5
    for a, b in zip(t["after_apply"] + t["opt_values"], k["after_apply"] + k["opt_values"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _optimizer_variables(K):
    vs = [K.Variable(np.ones((2, 3), "float32"), name="kernel"),
          K.Variable(np.ones((3,), "float32"), name="bias")]
    out = []
    for opt in [K.optimizers.SGD(), K.optimizers.SGD(momentum=0.9), K.optimizers.Adam(),
                K.optimizers.Adam(amsgrad=True), K.optimizers.AdamW(), K.optimizers.RMSprop(),
                K.optimizers.RMSprop(momentum=0.5, centered=True), K.optimizers.Adagrad(),
                K.optimizers.Adamax(), K.optimizers.Nadam(),
                K.optimizers.Adam(K.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))]:
        before = len(opt.variables)
        opt.build(vs)
        grads = [np.full((2, 3), 0.5, "float32"), np.arange(3, dtype="float32")]
        opt.apply(grads, vs)
        opt.apply(grads, vs)
        out.append((before, [v.path.split("/", 1)[-1] for v in opt.variables],
                    [np.asarray(v) for v in opt.variables], [np.asarray(v) for v in vs]))
    return out


def test_optimizer_variables_follow_keras_order_for_every_optimizer():
    for (tb, tn, tv, tw), (kb, kn, kv, kw) in zip(_optimizer_variables(trine),
                                                  _optimizer_variables(keras)):
        assert tb == kb
        # Keras leaves Nadam's u_product unnamed ("variable"); the order is the same.
        assert [n for n in tn if n != "u_product"] == [n for n in kn if n != "variable"], kn
        for a, b in zip(tv + tw, kv + kw):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_optimizer_iterations_after_fit_match_keras():
    x = np.random.RandomState(0).rand(20, 3).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    counts = []
    for K in (trine, keras):
        model = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
        model.compile(optimizer=K.optimizers.SGD(0.1, momentum=0.5), loss="mse")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        opt = model.optimizer
        counts.append((int(np.asarray(opt.iterations)), len(opt.variables),
                       float(np.asarray(opt.variables[1]))))
    assert counts[0] == counts[1] and counts[0][:2] == (6, 4)


# ============================================================ custom steps, Keras's JAX forms
def _metrics_loop(model, metrics_variables, loss, y, y_pred):
    """The guide's loop over model.metrics: logs end as the last metric's result."""
    new_metrics_vars, logs = [], None
    for metric in model.metrics:
        n = len(new_metrics_vars)
        this_metric_vars = metrics_variables[n:n + len(metric.variables)]
        if metric.name == "loss":
            this_metric_vars = metric.stateless_update_state(this_metric_vars, loss)
        else:
            this_metric_vars = metric.stateless_update_state(this_metric_vars, y, y_pred)
        logs = metric.stateless_result(this_metric_vars)
        new_metrics_vars += this_metric_vars
    return logs, new_metrics_vars


def _custom_fit_guide(K):
    """Keras's guide "Customizing what happens in fit() with JAX" (train_step, test_step),
    plus a compute_loss override written before Keras 3.3 (no `training` argument)."""
    class CustomModel(K.Model):
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
            logs, new_metrics_vars = _metrics_loop(self, metrics_variables, loss, y, y_pred)
            return logs, (trainable_variables, non_trainable_variables, optimizer_variables,
                          new_metrics_vars)

        def test_step(self, state, data):
            x, y = data
            trainable_variables, non_trainable_variables, metrics_variables = state
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=False)
            loss = self.compute_loss(x, y, y_pred)
            logs, new_metrics_vars = _metrics_loop(self, metrics_variables, loss, y, y_pred)
            return logs, (trainable_variables, non_trainable_variables, new_metrics_vars)

    class OldComputeLoss(K.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
            return K.ops.mean(K.ops.abs(y - y_pred))

    rs = np.random.RandomState(0)
    x, y = rs.rand(32, 4).astype("float32"), rs.rand(32, 1).astype("float32")
    out = {}
    inputs = K.Input(shape=(4,))
    model = CustomModel(inputs, K.layers.Dense(1, kernel_initializer="ones")(inputs))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    out["history"] = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    out["evaluate"] = model.evaluate(x, y, batch_size=16, verbose=0)
    out["evaluate_dict"] = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    old = OldComputeLoss(inputs, K.layers.Dense(1, kernel_initializer="ones")(inputs))
    old.compile(optimizer="sgd", loss="mse")
    out["old_history"] = old.fit(x, y, batch_size=32, shuffle=False, verbose=0).history
    out["old_evaluate"] = old.evaluate(x, y, verbose=0)
    values = lambda vs: [v.value for v in vs]  # noqa: E731
    loss, (_, ntv, mv) = old.stateless_compute_loss(
        values(old.trainable_variables), values(old.non_trainable_variables),
        values(old.metrics_variables), x=x, y=y, y_pred=old(x))
    out["stateless_compute_loss"] = (float(loss), len(ntv), len(mv))
    return out


def test_custom_fit_guide_steps_and_old_compute_loss_run_as_in_keras():
    t, k = _custom_fit_guide(trine), _custom_fit_guide(keras)
    for key in ("history", "old_history", "evaluate_dict"):
        assert sorted(t[key]) == sorted(k[key]), key
        for name in k[key]:
            np.testing.assert_allclose(t[key][name], k[key][name], rtol=1e-4)
    np.testing.assert_allclose(t["evaluate"], k["evaluate"], rtol=1e-4)
    np.testing.assert_allclose(t["old_evaluate"], k["old_evaluate"], rtol=1e-5)
    assert t["stateless_compute_loss"][1:] == k["stateless_compute_loss"][1:]
    np.testing.assert_allclose(t["stateless_compute_loss"][0], k["stateless_compute_loss"][0],
                               rtol=1e-5)


# ============================================================ add_loss in an eager call
def _add_loss_guide(K):
    """Keras's guide "Making new layers and models via subclassing", its add_loss cells."""
    class ActivityRegularizationLayer(K.layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * K.ops.mean(inputs))
            return inputs

    class OuterLayer(K.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)

    seen = []
    floats = lambda ls: [float(v) for v in ls]  # noqa: E731
    layer = OuterLayer()
    seen.append(floats(layer.losses))  # no losses before any call
    layer(K.ops.zeros((1, 1)))
    seen.append(floats(layer.losses))
    layer(K.ops.ones((1, 1)))  # the next call resets them
    seen.append((floats(layer.losses), floats(layer.activity_reg.losses)))
    inputs = K.Input(shape=(3,))
    x = ActivityRegularizationLayer()(inputs)
    model = K.Model(inputs, K.layers.Dense(1, kernel_initializer="ones")(x))
    model(np.ones((2, 3), "float32"))
    seen.append(floats(model.losses))
    model(2 * np.ones((2, 3), "float32"))
    seen.append(floats(model.losses))
    return seen


def test_add_loss_in_an_eager_call_is_that_calls_losses():
    t, k = _add_loss_guide(trine), _add_loss_guide(keras)
    assert t == k


# ============================================================ input rank, calls
def _input_rank(K):
    """Keras's Functional rule: one missing trailing axis of size 1 is added, one extra
    trailing axis of size 1 is dropped; any other rank difference is an error."""
    out = []
    i4 = K.Input((28, 28, 1))
    expand = K.Model(i4, K.layers.Flatten()(i4))
    out.append(tuple(expand(np.ones((2, 28, 28), "float32")).shape))
    out.append(expand.predict(np.ones((2, 28, 28), "float32"), verbose=0).shape)
    i3 = K.Input((28, 28))
    squeeze = K.Model(i3, K.layers.Flatten()(i3))
    out.append(tuple(squeeze(np.ones((2, 28, 28, 1), "float32")).shape))
    for bad in ((2, 28, 28, 3), (2, 28)):
        try:
            squeeze(np.ones(bad, "float32"))
            out.append("accepted")
        except ValueError:
            out.append("ValueError")
    return out


def test_input_rank_is_adjusted_only_where_keras_adjusts_it():
    assert _input_rank(trine) == _input_rank(keras)


def _calls(K):
    class Scale(K.layers.Layer):
        def call(self, x, scale=2.0):
            return x * scale

    class Counter(K.layers.Layer):
        def build(self, input_shape):
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="count")

        def call(self, x):
            self.count.assign(self.count + 1.0)
            return x + 0.0

    class Early(K.layers.Layer):
        def __init__(self):
            self.dense = K.layers.Dense(2, kernel_initializer="ones")  # before super()
            super().__init__()

        def call(self, x):
            return self.dense(x)

    class EarlyModel(K.Model):
        def __init__(self):
            self.dense = K.layers.Dense(2, kernel_initializer="ones")
            super().__init__()

        def call(self, x):
            return self.dense(x)

    ones = np.ones((1, 3), "float32")
    out = [np.asarray(K.layers.Dense(2, kernel_initializer="ones")(inputs=ones)),
           np.asarray(Scale()(x=ones))]
    inp = K.Input((3,))
    out.append(np.asarray(K.Model(inp, K.layers.Dense(2, kernel_initializer="ones")(
        inputs=inp))(ones)))
    counter = Counter()
    model = K.Model(inp, counter(inp))  # the symbolic build assigns: it changes nothing
    out.append(float(np.asarray(counter.count)))
    model(ones)
    out.append(float(np.asarray(counter.count)))
    early = Early()
    out += [np.asarray(early(ones)), len(early.trainable_weights)]
    early_model = EarlyModel()
    out += [np.asarray(early_model(ones)), len(early_model.trainable_weights)]
    return out


def test_keyword_inputs_build_time_assign_and_early_sublayers_as_in_keras():
    for a, b in zip(_calls(trine), _calls(keras)):
        np.testing.assert_array_equal(a, b)


# ============================================================ errors name the user's model
def _wrong_width(K):
    model = K.Sequential([K.Input((4,)), K.layers.Dense(3, name="head")], name="mlp")
    model.compile(optimizer="sgd", loss="mse")
    messages = []
    for run in (lambda: model(np.ones((2, 5), "float32")),
                lambda: model.predict(np.ones((2, 5), "float32"), verbose=0),
                lambda: model.fit(np.ones((2, 5), "float32"), np.ones((2, 3), "float32"),
                                  verbose=0)):
        try:
            run()
            messages.append("accepted")
        except ValueError as e:
            messages.append(str(e))
    return messages


def test_sequential_wrong_width_names_the_first_layer_as_keras_does():
    keras_core = ("of layer 'head' is incompatible with the layer: expected axis -1 of input "
                  "shape to have value 4, but received input with shape (2, 5)")
    for t, k in zip(_wrong_width(trine), _wrong_width(keras)):
        assert keras_core in k
        assert keras_core in t
        assert "mlp_graph" not in t and "'mlp'" in t  # the user's model, not trine's graph


def _stateless_call_losses(K):
    """The loop-from-scratch guide's low-level losses: stateless_call(..., return_losses=True)."""
    class ActivityRegularizationLayer(K.layers.Layer):
        def call(self, inputs):
            self.add_loss(1e-2 * jnp.sum(inputs))
            return inputs

    inputs = K.Input(shape=(4,))
    x = K.layers.Dense(3, activation="relu", kernel_initializer="ones")(inputs)
    x = ActivityRegularizationLayer()(x)
    model = K.Model(inputs, K.layers.Dense(2, kernel_initializer="ones")(x))

    def total(tv, ntv, x):
        y_pred, ntv, losses = model.stateless_call(tv, ntv, x, return_losses=True)
        loss = jnp.sum(y_pred)
        if losses:
            loss += jnp.sum(jnp.stack(losses))
        return loss

    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    return float(jax.jit(total)(tv, ntv, np.ones((2, 4), "float32")))


def test_stateless_call_return_losses_as_in_the_guide():
    assert _stateless_call_losses(trine) == _stateless_call_losses(keras)


def _validation_hook_order(K):
    class Record(K.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.events = []

        def on_epoch_begin(self, epoch, logs=None):
            self.events.append(("epoch_begin", epoch))

        def on_test_begin(self, logs=None):
            self.events.append(("test_begin",))

        def on_test_batch_end(self, batch, logs=None):
            self.events.append(("test_batch_end", batch))

        def on_test_end(self, logs=None):
            self.events.append(("test_end", sorted(logs)))

        def on_epoch_end(self, epoch, logs=None):
            self.events.append(("epoch_end", epoch, sorted(logs)))

    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(12, 1)).astype("float32")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    rec = Record()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x[:8], y[:8]),
              callbacks=[rec])
    return rec.events


def test_fit_validation_fires_the_test_hooks_as_in_keras():
    # Keras runs fit's validation as evaluate(callbacks=<the fit's>): TensorBoard and user
    # callbacks see on_test_begin / on_test_batch_end / on_test_end each validated epoch.
    assert _validation_hook_order(trine) == _validation_hook_order(keras)


def test_weights_are_listed_layer_by_layer_as_keras_lists_them():
    """`weights` / `get_weights` / `set_weights` pair with Keras 3's lists: layer by layer,
    each layer's trainable variables first, nested models and frozen layers included. Two
    BatchNormalizations in a row, last, are the case a model-wide "trainable first" order
    got silently wrong (every array the same shape)."""
    def build(lib):
        L = lib.layers
        inner = lib.Sequential([lib.Input((4,)), L.Dense(4), L.BatchNormalization()])
        inner.layers[0].trainable = False
        i = lib.Input((4,))
        y = L.BatchNormalization()(L.Dense(4)(i))
        y = L.BatchNormalization()(inner(y))
        return lib.Model(i, L.BatchNormalization()(y))

    t, k = build(trine), build(keras)
    assert [tuple(v.shape) for v in t.weights] == [tuple(v.shape) for v in k.weights]
    assert [v.path.split("/")[-1] for v in t.weights] == \
        [v.path.split("/")[-1] for v in k.weights]
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in t.get_weights()]
    t.set_weights(arrays)
    k.set_weights(arrays)
    x = rng.standard_normal((3, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(t(x)), np.asarray(k(x)), rtol=1e-5, atol=1e-5)
    for a, b in zip(t.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)
