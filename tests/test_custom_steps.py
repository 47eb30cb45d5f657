"""Full control with subclassing: custom train/test/predict steps, compute_loss overrides,
add_loss, reset_metrics, helpful errors, hand-written loops, and the GAN / VAE examples.

Keras 3 (JAX backend) is the oracle for "the guide's pattern runs unchanged": the same class
source is run with `keras` bound to Keras and to trine.
"""
import importlib.util
import math
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import trine
import trine as keras

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _data(n=128, d=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    w = rng.normal(size=(d, 1)).astype("float32")
    y = (x @ w + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    return x, y


def _load_example(name):
    spec = importlib.util.spec_from_file_location(f"trine_example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ============================================================================ models used below
class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = keras.layers.Dense(16, activation="relu")
        self.drop = keras.layers.Dropout(0.25)
        self.d2 = keras.layers.Dense(1)

    def call(self, x, training=None):
        return self.d2(self.drop(self.d1(x), training=training))


def _update_metrics(model, metric_values, loss, x, y, y_pred):
    """The built-in step's metric maths, written with the public stateless metric API."""
    n = jnp.asarray(jax.tree_util.tree_leaves(x)[0].shape[0], jnp.float32)
    new, logs = [], {}
    for metric in model.metrics:
        k = len(metric.variables)
        vals = metric_values[len(new):len(new) + k]
        if metric.name == "loss":
            vals = metric.stateless_update_state(vals, loss, sample_weight=n)
        else:
            vals = metric.stateless_update_state(vals, y, y_pred)
        logs[metric.name] = metric.stateless_result(vals)
        new += vals
    return logs, new


class SameMathsNet(Net):
    """Net with a train_step written out by hand: the same maths as the built-in one."""

    def train_step(self, state, data):
        trainable, non_trainable, opt_vars, metric_vars = state
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
        (loss, (y_pred, non_trainable)), grads = grad_fn(trainable, non_trainable, x, y, sw,
                                                         training=True)
        trainable, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, trainable)
        logs, metric_vars = _update_metrics(self, metric_vars, loss, x, y, y_pred)
        return logs, (trainable, non_trainable, opt_vars, metric_vars)


class StatelessLossNet(Net):
    """Net whose step uses stateless_call + stateless_compute_loss (Keras 3's current guide)."""

    def train_step(self, state, data):
        trainable, non_trainable, opt_vars, metric_vars = state
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)

        def loss_fn(trainable, non_trainable, metric_vars):
            y_pred, non_trainable = self.stateless_call(trainable, non_trainable, x,
                                                        training=True)
            loss, (_, non_trainable, metric_vars) = self.stateless_compute_loss(
                trainable, non_trainable, metric_vars, x=x, y=y, y_pred=y_pred,
                sample_weight=sw, training=True)
            return loss, (y_pred, non_trainable, metric_vars)

        (loss, (y_pred, non_trainable, metric_vars)), grads = jax.value_and_grad(
            loss_fn, has_aux=True)(trainable, non_trainable, metric_vars)
        trainable, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, trainable)
        logs, metric_vars = _update_metrics(self, metric_vars, loss, x, y, y_pred)
        return logs, (trainable, non_trainable, opt_vars, metric_vars)


def _fit(cls, epochs=2, **compile_kw):
    trine.clear_session()
    trine.utils.set_random_seed(7)
    model = cls()
    model.compile(**{"optimizer": "adam", "loss": "mse", "metrics": ["mae"], **compile_kw})
    x, y = _data()
    hist = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return model, hist.history


# ============================================================================ (a) same maths
@pytest.mark.parametrize("cls", [SameMathsNet, StatelessLossNet])
def test_custom_train_step_with_builtin_maths_is_bit_identical_to_fit(cls):
    ref, ref_hist = _fit(Net)
    custom, hist = _fit(cls)
    ref_w, w = ref.get_weights(), custom.get_weights()
    assert len(w) == len(ref_w) == 4
    for a, b in zip(ref_w, w):
        assert np.array_equal(a, b)
    assert sorted(hist) == sorted(ref_hist) == ["loss", "mae"]
    np.testing.assert_allclose(hist["loss"], ref_hist["loss"], rtol=1e-6)
    np.testing.assert_allclose(hist["mae"], ref_hist["mae"], rtol=1e-6)


def test_custom_predict_step_is_used_by_predict():
    class Doubled(Net):
        def predict_step(self, state, data):
            trainable, non_trainable = state
            x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            y, _ = self.stateless_call(trainable, non_trainable, x, training=False)
            return 2.0 * y

    model = Doubled()
    x, _ = _data(40)
    out = model.predict(x, batch_size=16, verbose=0)
    params, state = model.get_params(), model.get_state()
    y, _ = model.stateless_call(params, state, x, training=False)
    np.testing.assert_allclose(out, 2.0 * np.asarray(y), rtol=1e-6)


# ============================================================================ (b) Keras's guide
def _guide_classes(keras):
    """The pattern of Keras's "Customizing what happens in fit() with JAX", written against
    whatever module is passed as `keras` (Keras itself, or trine)."""

    class CustomModel(keras.Model):
        def compute_loss_and_updates(self, trainable_variables, non_trainable_variables,
                                     metrics_variables, x, y, sample_weight, training=False):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training)
            loss, (trainable_variables, non_trainable_variables, metrics_variables) = (
                self.stateless_compute_loss(
                    trainable_variables, non_trainable_variables, metrics_variables, x=x,
                    y=y, y_pred=y_pred, sample_weight=sample_weight, training=training))
            return loss, (y_pred, non_trainable_variables, metrics_variables)

        def train_step(self, state, data):
            (trainable_variables, non_trainable_variables, optimizer_variables,
             metrics_variables) = state
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables, metrics_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, metrics_variables, x, y,
                sample_weight, training=True)
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables)
            new_metrics_vars, logs = [], {}
            for metric in self.metrics:
                start = len(new_metrics_vars)
                this = metrics_variables[start:start + len(metric.variables)]
                if metric.name == "loss":
                    this = metric.stateless_update_state(this, loss, sample_weight=sample_weight)
                else:
                    this = metric.stateless_update_state(this, y, y_pred,
                                                         sample_weight=sample_weight)
                logs[metric.name] = metric.stateless_result(this)
                new_metrics_vars += this
            return logs, (trainable_variables, non_trainable_variables, optimizer_variables,
                          new_metrics_vars)

    class TrackedModel(keras.Model):
        """Lower level: metrics made in __init__, `metrics` overridden, own test_step."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = keras.losses.MeanSquaredError()

        def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, x, y,
                                     sample_weight, training=False):
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=training)
            loss = self.loss_fn(y, y_pred, sample_weight=sample_weight)
            return loss, (y_pred, non_trainable_variables)

        def _update_trackers(self, metrics_variables, loss, y, y_pred, sample_weight):
            k = len(self.loss_tracker.variables)
            loss_vars = self.loss_tracker.stateless_update_state(
                metrics_variables[:k], loss, sample_weight=sample_weight)
            mae_vars = self.mae_metric.stateless_update_state(
                metrics_variables[k:], y, y_pred, sample_weight=sample_weight)
            logs = {self.loss_tracker.name: self.loss_tracker.stateless_result(loss_vars),
                    self.mae_metric.name: self.mae_metric.stateless_result(mae_vars)}
            return logs, loss_vars + mae_vars

        def train_step(self, state, data):
            (trainable_variables, non_trainable_variables, optimizer_variables,
             metrics_variables) = state
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            grad_fn = jax.value_and_grad(self.compute_loss_and_updates, has_aux=True)
            (loss, (y_pred, non_trainable_variables)), grads = grad_fn(
                trainable_variables, non_trainable_variables, x, y, sample_weight,
                training=True)
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, grads, trainable_variables)
            logs, metrics_variables = self._update_trackers(metrics_variables, loss, y, y_pred,
                                                    sample_weight)
            return logs, (trainable_variables, non_trainable_variables, optimizer_variables,
                          metrics_variables)

        def test_step(self, state, data):
            trainable_variables, non_trainable_variables, metrics_variables = state
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=False)
            loss = self.loss_fn(y, y_pred, sample_weight=sample_weight)
            logs, metrics_variables = self._update_trackers(metrics_variables, loss, y, y_pred,
                                                    sample_weight)
            return logs, (trainable_variables, non_trainable_variables, metrics_variables)

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    class EvalModel(keras.Model):
        def test_step(self, state, data):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            trainable_variables, non_trainable_variables, metrics_variables = state
            y_pred, non_trainable_variables = self.stateless_call(
                trainable_variables, non_trainable_variables, x, training=False)
            loss, (trainable_variables, non_trainable_variables, metrics_variables) = (
                self.stateless_compute_loss(
                    trainable_variables, non_trainable_variables, metrics_variables, x=x,
                    y=y, y_pred=y_pred, sample_weight=sample_weight, training=False))
            new_metrics_vars, logs = [], {}
            for metric in self.metrics:
                start = len(new_metrics_vars)
                this = metrics_variables[start:start + len(metric.variables)]
                if metric.name == "loss":
                    this = metric.stateless_update_state(this, loss, sample_weight=sample_weight)
                else:
                    this = metric.stateless_update_state(this, y, y_pred,
                                                         sample_weight=sample_weight)
                logs[metric.name] = metric.stateless_result(this)
                new_metrics_vars += this
            return logs, (trainable_variables, non_trainable_variables, new_metrics_vars)

    return CustomModel, TrackedModel, EvalModel


def _functional(keras, cls, d=16):
    inputs = keras.Input(shape=(d,))
    outputs = keras.layers.Dense(1)(inputs)
    return cls(inputs, outputs)


def _keras_oracle():
    os.environ["KERAS_BACKEND"] = "jax"
    return pytest.importorskip("keras")


def _run_guide(keras):
    CustomModel, TrackedModel, EvalModel = _guide_classes(keras)
    x, y = _data(192, 16, seed=3)
    out = {}
    model = _functional(keras, CustomModel)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    out["custom"] = model.fit(x, y, batch_size=32, epochs=4, verbose=0).history
    model = _functional(keras, TrackedModel)
    model.compile(optimizer="adam")
    out["tracked"] = model.fit(x, y, batch_size=32, epochs=4, verbose=0).history
    out["evals"] = {"tracked": model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)}
    out["models"] = {"tracked": model}
    model = _functional(keras, EvalModel)
    model.compile(loss="mse", metrics=["mae"])
    out["evals"]["eval"] = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    out["models"]["eval"] = model
    return out, (x, y)


def test_keras_jax_guide_pattern_runs_unchanged():
    out, (x, y) = _run_guide(trine)
    for key in ("custom", "tracked"):
        hist = out[key]
        assert sorted(hist) == ["loss", "mae"], key
        assert hist["loss"][-1] < hist["loss"][0], key
        assert hist["mae"][-1] < hist["mae"][0], key
    # the custom test_steps' numbers are the metrics of the model's predictions
    for key in ("tracked", "eval"):
        model, logs = out["models"][key], out["evals"][key]
        pred = model.predict(x, verbose=0)
        assert sorted(logs) == ["loss", "mae"]
        np.testing.assert_allclose(logs["loss"], np.mean((pred - y) ** 2), rtol=1e-4)
        np.testing.assert_allclose(logs["mae"], np.mean(np.abs(pred - y)), rtol=1e-4)
    # a list result follows the metrics' order, as in Keras
    model, logs = out["models"]["tracked"], out["evals"]["tracked"]
    listed = model.evaluate(x, y, batch_size=64, verbose=0)
    np.testing.assert_allclose(listed, [logs["loss"], logs["mae"]], rtol=1e-6)
    assert type(model).__name__ == "TrackedModel" and isinstance(model, trine.Functional)


def test_keras_jax_guide_pattern_same_source_runs_on_keras():
    keras_mod = _keras_oracle()
    out, _ = _run_guide(keras_mod)
    for key in ("custom", "tracked"):
        assert sorted(out[key]) == ["loss", "mae"]
        assert out[key]["loss"][-1] < out[key]["loss"][0]
    for logs in out["evals"].values():
        assert sorted(logs) == ["loss", "mae"]


def test_subclass_with_positional_args_is_not_mistaken_for_functional():
    class Pair(keras.Model):
        def __init__(self, a, b, **kwargs):
            super().__init__(**kwargs)
            self.a, self.b = a, b

        def call(self, x):
            return self.b(self.a(x))

    model = Pair(keras.layers.Dense(4), keras.layers.Dense(1))
    assert type(model) is Pair
    assert model.predict(np.ones((3, 2), "float32"), verbose=0).shape == (3, 1)


# ============================================================================ (c) losses
class Penalised(keras.Model):
    """Dense-relu-Dense with an activity penalty added in call()."""

    def __init__(self, rate=0.01, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.d1 = keras.layers.Dense(8, activation="relu")
        self.d2 = keras.layers.Dense(1)

    def call(self, x):
        h = self.d1(x)
        self.add_loss(self.rate * jnp.sum(h ** 2))
        return self.d2(h)


def _manual_loss(params, x, y, rate, data_loss="mse"):
    w1, b1, w2, b2 = params
    h = jax.nn.relu(x @ w1 + b1)
    out = h @ w2 + b2
    if data_loss == "mse":
        data = jnp.mean((y - out) ** 2)
    else:  # 2 * mae
        data = 2.0 * jnp.mean(jnp.abs(y - out))
    return data + rate * jnp.sum(h ** 2)


def _params(model):
    return [np.asarray(v.value) for v in
            (model.d1.kernel, model.d1.bias, model.d2.kernel, model.d2.bias)]


def test_add_loss_in_call_reaches_the_total_loss_and_its_gradient():
    x, y = _data(64)
    model = Penalised(rate=0.01)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    model.build((None, 8))
    p0 = _params(model)
    expected = float(_manual_loss(p0, x, y, 0.01))
    assert model.test_on_batch(x, y) == pytest.approx(expected, rel=1e-5)
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)  # one full-batch step
    grads = jax.grad(_manual_loss)(p0, x, y, 0.01)
    for got, p, g in zip(_params(model), p0, grads):
        np.testing.assert_allclose(got, p - 0.05 * np.asarray(g), rtol=1e-5, atol=1e-6)


def test_custom_compute_loss_override_with_a_tracker_updated_inside():
    class TwiceMAE(Penalised):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.data_tracker = keras.metrics.Mean(name="data_loss")

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                         training=True):
            data = 2.0 * jnp.mean(jnp.abs(y - y_pred))
            self.data_tracker.update_state(data)  # a stateful update, as in Keras's docs
            return data + sum(self.losses)

    x, y = _data(64)
    model = TwiceMAE(rate=0.001)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    model.build((None, 8))
    p0 = _params(model)
    logs = model.test_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(float(_manual_loss(p0, x, y, 0.001, "mae")), rel=1e-5)
    h0 = jax.nn.relu(x @ p0[0] + p0[1])
    assert logs["data_loss"] == pytest.approx(logs["loss"] - 0.001 * float(jnp.sum(h0 ** 2)),
                                              rel=1e-5)
    hist = model.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    assert sorted(hist) == ["data_loss", "loss"]
    assert hist["loss"][-1] < hist["loss"][0]
    assert all(d < l for d, l in zip(hist["data_loss"], hist["loss"]))


# ============================================================================ (d) reset_metrics
def test_reset_metrics_resets_every_metric():
    x, y = _data(64)
    model = Net()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert all(float(m.result()) > 0 for m in model.metrics)
    model.reset_metrics()
    assert all(float(m.result()) == 0.0 for m in model.metrics)
    for v in model.metrics_variables:
        assert not np.any(np.asarray(v.value))
    # train_on_batch accumulates until reset_metrics()
    tracker = model.metrics[0]
    assert tracker.name == "loss"
    model.train_on_batch(x[:32], y[:32])
    assert float(tracker.count.value) == 32
    model.train_on_batch(x[32:], y[32:])
    assert float(tracker.count.value) == 64
    model.reset_metrics()
    assert float(tracker.count.value) == 0
    third = model.train_on_batch(x[32:], y[32:], return_dict=True)["loss"]
    assert float(tracker.count.value) == 32
    assert float(tracker.result()) == pytest.approx(third)


# ============================================================================ (e) errors
def test_train_step_returning_the_wrong_structure_shows_the_pattern():
    x, y = _data(32)

    class Swapped(Net):
        def train_step(self, state, data):
            logs, state = super().train_step(state, data)
            return state, logs

    class ThreeSlots(Net):
        def train_step(self, state, data):
            logs, state = super().train_step(state, data)
            return logs, state[:3]

    for cls, what in ((Swapped, "logs a dict"), (ThreeSlots, "tuple of 4")):
        model = cls()
        model.compile(optimizer="sgd", loss="mse")
        with pytest.raises(TypeError) as err:
            model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        msg = str(err.value)
        assert f"{cls.__name__}.train_step must return (logs, state)" in msg
        assert what in msg
        assert "self.optimizer.stateless_apply" in msg  # the right pattern is shown

    class BadEval(Net):
        def test_step(self, state, data):
            logs, state = super().test_step(state, data)
            return logs, state[:2]

    model = BadEval()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match=r"BadEval.test_step must return \(logs, state\)"):
        model.evaluate(x, y, verbose=0)


class Counting(Net):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.steps_seen = keras.Variable(0.0, trainable=False, name="steps_seen")


def test_mutating_a_variable_inside_the_jitted_step_is_a_clear_error():
    class Mutating(Counting):
        def train_step(self, state, data):
            logs, state = super().train_step(state, data)
            self.steps_seen.assign(self.steps_seen + 1.0)
            return logs, state

    x, y = _data(32)
    model = Mutating()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(RuntimeError) as err:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    msg = str(err.value)
    assert "'steps_seen'" in msg and "inside a jitted function" in msg
    assert "non_trainable_variables.index(var)" in msg and "stateless_call" in msg


def test_the_pattern_the_error_shows_works():
    class Carried(Counting):
        def train_step(self, state, data):
            logs, (tv, ntv, ov, mv) = super().train_step(state, data)
            i = self.non_trainable_variables.index(self.steps_seen)
            ntv = list(ntv)
            ntv[i] = ntv[i] + 1.0
            return logs, (tv, ntv, ov, mv)

    x, y = _data(64)
    model = Carried()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert float(model.steps_seen.value) == 8.0


def test_unseeded_random_op_under_jit_is_a_clear_error():
    model = Net()
    x, _ = _data(16)
    model.build((None, 8))
    params, state = model.get_params(), model.get_state()
    step = jax.jit(lambda p, s, x: model.stateless_call(p, s, x, training=True)[0])
    with pytest.raises(RuntimeError) as err:
        step(params, state, x)
    msg = str(err.value)
    assert f"'{model.drop.name}'" in msg and "random key" in msg
    assert "rng=jax.random.key(" in msg  # the pattern
    seeded = jax.jit(lambda p, s, x, k: model.stateless_call(p, s, x, training=True, rng=k)[0])
    a = seeded(params, state, x, jax.random.key(1))
    b = seeded(params, state, x, jax.random.key(1))
    c = seeded(params, state, x, jax.random.key(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# ============================================================================ (f) own loop
def test_hand_written_loop_with_optax_and_set_params():
    trine.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.1), keras.layers.Dense(1)])
    x, y = _data(128)
    params, state = model.get_params(), model.get_state()
    tx = optax.adam(1e-2)
    opt_state = tx.init(params)

    def loss_fn(params, state, x, y, key):
        y_pred, state = model.stateless_call(params, state, x, training=True, rng=key)
        return jnp.mean((y_pred - y) ** 2), state

    @jax.jit
    def step(params, state, opt_state, x, y, key):
        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, x, y,
                                                                          key)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    key = jax.random.key(0)
    losses = []
    for i in range(60):
        params, state, opt_state, loss = step(params, state, opt_state, x, y,
                                              jax.random.fold_in(key, i))
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    before = model.predict(x, verbose=0)
    model.set_params(params)
    model.set_state(state)
    after = model.predict(x, verbose=0)
    expected, _ = model.stateless_call(params, state, x, training=False)
    np.testing.assert_allclose(after, np.asarray(expected), rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, after)
    assert np.mean((after - y) ** 2) < np.mean((before - y) ** 2)


# ============================================================================ (g) GAN and VAE
def test_gan_example_trains_both_players(tmp_path):
    gan_mod = _load_example("gan")
    out = tmp_path / "gan.png"
    gan = gan_mod.main(["--epochs", "3", "--samples", "512", "--latent-dim", "32",
                        "--batch-size", "32", "--out", str(out), "--seed", "5"])
    hist = gan.history.history
    assert sorted(hist) == ["d_loss", "g_loss"]
    assert all(math.isfinite(v) for vs in hist.values() for v in vs)
    # the discriminator learns to beat chance (ln 2 is a coin flip's loss), so early on the
    # generator's loss rises above it
    assert hist["d_loss"][-1] < math.log(2.0) < hist["g_loss"][-1]
    # the same GAN untrained (same seed, same construction order)
    keras.utils.set_random_seed(5)
    untrained = gan_mod.build_gan(32)
    z = np.asarray(jax.random.normal(jax.random.key(0), (256, 32)))

    def fooled(generator):  # how often the trained discriminator calls the images real
        logits = gan.discriminator.predict(generator.predict(z, verbose=0), verbose=0)
        return float(np.mean(jax.nn.sigmoid(logits)))

    def distance(generator):  # mean generated image vs mean real image
        real_mean = gan_mod.load_images(512).mean(axis=0)
        return float(np.abs(generator.predict(z, verbose=0).mean(axis=0) - real_mean).mean())

    assert fooled(gan.generator) > 3 * fooled(untrained.generator)
    assert distance(gan.generator) < 0.9 * distance(untrained.generator)
    for sub in ("generator", "discriminator"):  # both optimizers moved their model
        a, b = getattr(gan, sub).get_weights(), getattr(untrained, sub).get_weights()
        assert not any(np.array_equal(p, q) for p, q in zip(a, b))
    assert out.is_file() and out.stat().st_size > 1000


def test_vae_example_reconstruction_improves_and_kl_reaches_the_loss(tmp_path):
    vae_mod = _load_example("vae")
    out = tmp_path / "vae.png"
    vae = vae_mod.main(["--epochs", "3", "--samples", "512", "--batch-size", "64",
                        "--out", str(out)])
    hist = vae.history.history
    assert sorted(hist) == ["kl_loss", "loss", "reconstruction_loss"]
    assert hist["reconstruction_loss"][-1] < hist["reconstruction_loss"][0]
    assert hist["loss"][-1] < hist["loss"][0]
    assert all(k > 0 for k in hist["kl_loss"])
    np.testing.assert_allclose(np.add(hist["reconstruction_loss"], hist["kl_loss"]),
                               hist["loss"], rtol=1e-4)
    assert out.is_file() and out.stat().st_size > 1000
    # the Sampling layer draws from its seeded key: same key, same sample
    x = vae_mod.load_images(8)
    params, state = vae.get_params(), vae.get_state()
    a, _ = vae.stateless_call(params, state, x, training=True, rng=jax.random.key(1))
    b, _ = vae.stateless_call(params, state, x, training=True, rng=jax.random.key(1))
    c, _ = vae.stateless_call(params, state, x, training=True, rng=jax.random.key(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
