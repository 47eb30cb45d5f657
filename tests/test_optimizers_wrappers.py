"""MultiOptimizer / OptimizerMap and LossScaleOptimizer: Keras's numbers, routing, configs,
errors, and use in fit."""
import os
import types

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import trine  # noqa: E402
from trine import optimizers  # noqa: E402

SHAPES = {"encoder/kernel": (3, 4), "encoder/bias": (4,), "head/kernel": (4, 2)}


def _data(steps=3, bad_step=None):
    rng = np.random.default_rng(0)
    p0 = {k: rng.normal(size=s).astype("float32") for k, s in SHAPES.items()}
    grads = [{k: rng.normal(size=s).astype("float32") for k, s in SHAPES.items()}
             for _ in range(steps)]
    if bad_step is not None:
        grads[bad_step]["head/kernel"][0, 0] = np.inf
    return p0, grads


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


def _keras_vars(keras, p0):
    out = []
    for k in sorted(p0):
        scope, leaf = k.split("/")
        with keras.name_scope(scope):
            out.append(keras.Variable(p0[k], name=leaf))
    return out


def _trine_bind(opt, p0):
    names = sorted(p0)
    fake = [types.SimpleNamespace(path=k, constraint=None) for k in names]
    opt.build(fake, names)
    values = [jnp.asarray(p0[k]) for k in names]
    return names, values, opt.init_state(values)


def test_multi_optimizer_matches_keras(keras):
    p0, grads = _data()
    ours = optimizers.MultiOptimizer(optimizers.OptimizerMap(
        optimizers.SGD(0.1, momentum=0.9), {"encoder/.*": optimizers.Adam(0.01)}))
    theirs = keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(
        keras.optimizers.SGD(0.1, momentum=0.9), {"encoder/.*": keras.optimizers.Adam(0.01)}))
    names, values, state = _trine_bind(ours, p0)
    step = jax.jit(ours.stateless_apply)
    kvars = _keras_vars(keras, p0)
    for g in grads:
        values, state = step(state, [jnp.asarray(g[k]) for k in names], values)
        theirs.apply([jnp.asarray(g[k]) for k in names], kvars)
    for k, ov, kv in zip(names, values, kvars):
        np.testing.assert_allclose(np.asarray(ov), np.asarray(kv.value), rtol=1e-5, atol=1e-6,
                                   err_msg=k)


def test_multi_optimizer_callable_selector_matches_keras(keras):
    p0, grads = _data()
    adam, lion = optimizers.Adam(0.02), optimizers.Lion(0.01)
    kadam, klion = keras.optimizers.Adam(0.02), keras.optimizers.Lion(0.01)
    ours = optimizers.MultiOptimizer(lambda v: adam if "head" in v.path else lion)
    theirs = keras.optimizers.MultiOptimizer(lambda v: kadam if "head" in v.path else klion)
    names, values, state = _trine_bind(ours, p0)
    kvars = _keras_vars(keras, p0)
    for g in grads:
        values, state = ours.stateless_apply(state, [jnp.asarray(g[k]) for k in names], values)
        theirs.apply([jnp.asarray(g[k]) for k in names], kvars)
    for ov, kv in zip(values, kvars):
        np.testing.assert_allclose(np.asarray(ov), np.asarray(kv.value), rtol=1e-5, atol=1e-6)
    assert ours.optimizers == [lion, adam] or ours.optimizers == [adam, lion]


def test_optimizer_map_lookup_and_errors():
    sgd, adam = optimizers.SGD(), optimizers.Adam()
    m = optimizers.OptimizerMap(sgd, {"enc.*": adam})
    assert m["encoder/kernel"] is adam and m["head/kernel"] is sgd and len(m) == 1
    m["encoder/kernel"] = optimizers.Lion()
    assert isinstance(m["encoder/kernel"], optimizers.Lion)  # the exact key wins
    m["encoder/.*"] = optimizers.Lamb()
    with pytest.raises(ValueError, match="several patterns"):
        m["encoder/bias"]
    with pytest.raises(ValueError, match="already mapped"):
        m["enc.*"] = sgd
    with pytest.raises(ValueError, match="strings"):
        m[3] = sgd
    with pytest.raises(TypeError, match="default_optimizer"):
        optimizers.OptimizerMap("sgd")
    with pytest.raises(TypeError, match="dict"):
        optimizers.OptimizerMap(sgd, [("a", adam)])
    with pytest.raises(ValueError, match="cannot be a LossScaleOptimizer"):
        m["x"] = optimizers.LossScaleOptimizer(optimizers.SGD())
    with pytest.raises(TypeError, match="OptimizerMap or a callable"):
        optimizers.MultiOptimizer("sgd")
    multi = optimizers.MultiOptimizer(optimizers.OptimizerMap(sgd))
    with pytest.raises(AttributeError, match="sub-optimizers"):
        multi.learning_rate
    with pytest.raises(AttributeError, match="sub-optimizer"):
        multi.learning_rate = 0.1


def test_multi_optimizer_config_round_trip():
    opt = optimizers.MultiOptimizer(optimizers.OptimizerMap(
        optimizers.SGD(0.1), {"encoder/.*": optimizers.Adam(0.01), "head/kernel":
                              optimizers.Lion(optimizers.schedules.PolynomialDecay(0.1, 5))}),
        name="multi")
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(again, optimizers.MultiOptimizer) and again.name == "multi"
    assert again.get_config() == opt.get_config()
    assert isinstance(again.optimizers[1].learning_rate, optimizers.schedules.PolynomialDecay)


def test_multi_optimizer_routes_in_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(8, name="frozen"),
                              trine.layers.Dense(1, name="head")])
    before = np.asarray(model.layers[0].kernel.value).copy()
    model.compile(loss="mse", optimizer=optimizers.MultiOptimizer(optimizers.OptimizerMap(
        optimizers.Adam(0.02), {"frozen/.*": optimizers.SGD(0.0)})))
    hist = model.fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
    np.testing.assert_array_equal(np.asarray(model.layers[0].kernel.value), before)
    assert not np.allclose(np.asarray(model.layers[1].kernel.value), 0.0)


def test_loss_scale_optimizer_matches_keras(keras):
    p0, grads = _data(steps=6, bad_step=2)
    ours = optimizers.LossScaleOptimizer(optimizers.Adam(0.01), initial_scale=8.0,
                                         dynamic_growth_steps=2)
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.01),
                                                 initial_scale=8.0, dynamic_growth_steps=2)
    names, values, state = _trine_bind(ours, p0)
    kvars = _keras_vars(keras, p0)
    theirs.build(kvars)  # Keras's stateful apply cannot run its cond on JAX: go stateless
    kvalues = [v.value for v in kvars]
    kstate = [v.value for v in theirs.variables]
    i_scale = [id(v) for v in theirs.variables].index(id(theirs.dynamic_scale))
    i_count = [id(v) for v in theirs.variables].index(id(theirs.step_counter))
    for g in grads:
        ours.scale_loss(jnp.ones(()), state)  # the grads below are "of the scaled loss"
        scaled = [jnp.asarray(g[k]) * state.dynamic_scale for k in names]
        kscaled = [jnp.asarray(g[k]) * kstate[i_scale] for k in names]
        values, state = ours.stateless_apply(state, scaled, values)
        kvalues, kstate = theirs.stateless_apply(kstate, kscaled, kvalues)
        assert float(state.dynamic_scale) == float(kstate[i_scale])
        assert int(state.step_counter) == int(kstate[i_count])
        for k, ov, kv in zip(names, values, kvalues):
            np.testing.assert_allclose(np.asarray(ov), np.asarray(kv), rtol=1e-5, atol=1e-6,
                                       err_msg=k)
    assert float(state.dynamic_scale) != 8.0  # the run both halved and doubled the scale


def test_loss_scale_optimizer_config_errors_and_lr():
    inner = optimizers.SGD(0.1)
    opt = optimizers.LossScaleOptimizer(inner, initial_scale=128.0, dynamic_growth_steps=10)
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(again, optimizers.LossScaleOptimizer)
    assert again.get_config() == opt.get_config()
    assert opt.learning_rate == 0.1
    opt.learning_rate = 0.05
    assert inner.learning_rate == 0.05
    assert float(opt.scale_loss(jnp.asarray(2.0))) == 256.0
    with pytest.raises(ValueError, match="dynamic=False"):
        optimizers.LossScaleOptimizer(inner, dynamic=False)
    with pytest.raises(ValueError, match="clipnorm"):
        optimizers.LossScaleOptimizer(inner, clipnorm=1.0)
    with pytest.raises(TypeError, match="inner_optimizer"):
        optimizers.LossScaleOptimizer("adam")
    with pytest.raises(ValueError, match="initial_scale"):
        optimizers.LossScaleOptimizer(inner, initial_scale=0)
    with pytest.raises(ValueError, match="dynamic_growth_steps"):
        optimizers.LossScaleOptimizer(inner, dynamic_growth_steps=0)


def _regression(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, (x @ rng.normal(size=(4, 1))).astype("float32")


def test_loss_scale_optimizer_in_built_in_fit_and_a_step_that_forgets_to_scale():
    # the built-in train_step scales the loss (as Keras's): the same run as a custom step
    # that scales it; a custom step that differentiates the unscaled loss is an error
    x, y = _regression()
    runs = []
    for cls, scaled in ((trine.Sequential, True), (_ScaledStep, True), (trine.Sequential, False)):
        trine.utils.set_random_seed(3)
        model = cls([trine.Input((4,)), trine.layers.Dense(1)])
        opt = optimizers.SGD(0.05)
        model.compile(loss="mse", optimizer=optimizers.LossScaleOptimizer(
            opt, initial_scale=1024.0) if scaled else opt)
        hist = model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
        runs.append((hist.history["loss"], np.asarray(model.layers[0].kernel.value)))
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-6)  # the same scaled maths
    np.testing.assert_allclose(runs[0][0], runs[2][0], rtol=1e-5)  # the inner optimizer's
    np.testing.assert_allclose(runs[0][1], runs[2][1], rtol=1e-5, atol=1e-6)

    class Unscaled(trine.Sequential):
        def train_step(self, state, data):
            tv, ntv, ov, mv = state
            x, y = data
            grads = jax.grad(lambda tv: self.compute_loss_and_updates(
                tv, ntv, x, y, training=True)[0])(tv)
            tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
            return {}, (tv, ntv, ov, mv)

    model = Unscaled([trine.Input((4,)), trine.layers.Dense(1)])
    model.compile(loss="mse", optimizer=optimizers.LossScaleOptimizer(optimizers.SGD(0.1)))
    with pytest.raises(RuntimeError, match="scale_loss"):
        model.fit(x, y, epochs=1, verbose=0)


class _ScaledStep(trine.Sequential):
    """Keras's JAX trainer pattern: differentiate the scaled loss, report the unscaled one."""

    def train_step(self, state, data):
        tv, ntv, ov, mv = state
        x, y = data

        def scaled(tv):
            loss, (_, new_ntv) = self.compute_loss_and_updates(tv, ntv, x, y, training=True)
            if isinstance(self.optimizer, optimizers.LossScaleOptimizer):
                return self.optimizer.scale_loss(loss, ov), (loss, new_ntv)
            return loss, (loss, new_ntv)

        (_, (loss, ntv)), grads = jax.value_and_grad(scaled, has_aux=True)(tv)
        tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
        return {"loss": loss}, (tv, ntv, ov, mv)


def test_loss_scale_optimizer_in_a_scaled_train_step_matches_the_inner_optimizer():
    x, y = _regression()
    results = []
    for wrap in (False, True):
        trine.utils.set_random_seed(3)
        model = _ScaledStep([trine.Input((4,)), trine.layers.Dense(1)])
        opt = optimizers.SGD(0.05)
        model.compile(loss="mse", optimizer=optimizers.LossScaleOptimizer(
            opt, initial_scale=1024.0) if wrap else opt)
        hist = model.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
        results.append((hist.history["loss"], np.asarray(model.layers[0].kernel.value)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)


def _mixed_float16_fit(K):
    """compile() under mixed_float16 wraps the optimizer in a LossScaleOptimizer and fit
    scales the loss: the same optimizer, scale, step count and weights in trine and Keras."""
    K.mixed_precision.set_global_policy("mixed_float16")
    try:
        K.utils.set_random_seed(1)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 5)).astype("float32")
        y = rng.normal(size=(64, 1)).astype("float32")
        model = K.Sequential([K.Input((5,)), K.layers.Dense(8, activation="relu"),
                              K.layers.Dense(1, dtype="float32")])
        weights = [np.asarray(w) for w in model.get_weights()]
    finally:
        K.mixed_precision.set_global_policy("float32")
    return model, weights, x, y


def test_mixed_float16_fit_scales_the_loss_as_keras(keras):
    ours, w0, x, y = _mixed_float16_fit(trine)
    theirs, _, _, _ = _mixed_float16_fit(keras)
    theirs.set_weights(w0)
    for m in (ours, theirs):
        m.compile(optimizer="sgd", loss="mse")
    assert type(ours.optimizer).__name__ == type(theirs.optimizer).__name__ == \
        "LossScaleOptimizer"
    assert ours.optimizer.name == theirs.optimizer.name == "loss_scale_optimizer"
    h_ours = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    h_theirs = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_ours["loss"], h_theirs["loss"], rtol=2e-3)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b, np.float32),
                                   rtol=2e-3, atol=2e-3)
    assert int(ours.optimizer.iterations.numpy()) == int(theirs.optimizer.iterations) == 8
    # without auto_scale_loss the optimizer is left as given
    plain, _, _, _ = _mixed_float16_fit(trine)
    plain.compile(optimizer="sgd", loss="mse", auto_scale_loss=False)
    assert type(plain.optimizer).__name__ == "SGD"
