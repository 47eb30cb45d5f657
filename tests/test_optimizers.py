"""Optimizers: Keras-exact update rules on optax, learning rate in the state, schedules, lookup."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

from trine import optimizers  # noqa: E402
from trine.optimizers import get_learning_rate, set_learning_rate  # noqa: E402

SHAPES = {"dense/kernel": (3, 4), "dense/bias": (4,), "out/kernel": (4, 2)}
STEPS = 3


def _data(seed=0, steps=STEPS):
    rng = np.random.default_rng(seed)
    p0 = {k: rng.normal(size=s).astype("float32") for k, s in SHAPES.items()}
    grads = [{k: rng.normal(size=s).astype("float32") for k, s in SHAPES.items()}
             for _ in range(steps)]
    return p0, grads


def _run_trine(opt, p0, grads):
    tx = opt.to_optax()
    params = {k: jnp.asarray(v) for k, v in p0.items()}
    state = tx.init(params)

    @jax.jit
    def step(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    for g in grads:
        params, state = step(params, state, {k: jnp.asarray(v) for k, v in g.items()})
    return {k: np.asarray(v) for k, v in params.items()}, state


def _run_keras(keras, opt, p0, grads):
    names = sorted(p0)
    variables = [keras.Variable(p0[k]) for k in names]
    for g in grads:
        opt.apply_gradients([(jnp.asarray(g[k]), v) for k, v in zip(names, variables)])
    return {k: np.asarray(v.value) for k, v in zip(names, variables)}


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


CASES = [
    ("SGD", {}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.05, "amsgrad": True}),
    ("AdamW", {}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Adagrad", {}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5}),
    ("Adamax", {}),
    ("Nadam", {}),
    ("Nadam", {"learning_rate": 0.02, "beta_1": 0.8}),
    ("Adam", {"clipnorm": 0.5}),
    ("Adam", {"global_clipnorm": 0.5}),
    ("SGD", {"clipvalue": 0.3, "weight_decay": 0.1}),
    ("RMSprop", {"weight_decay": 0.05}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_matches_keras(keras, name, kwargs):
    p0, grads = _data()
    ours, _ = _run_trine(getattr(optimizers, name)(**kwargs), p0, grads)
    ref = _run_keras(keras, getattr(keras.optimizers, name)(**kwargs), p0, grads)
    for k in p0:
        np.testing.assert_allclose(ours[k], ref[k], rtol=0, atol=1e-6, err_msg=f"{name} {k}")
        assert not np.allclose(ours[k], p0[k])  # the parameters did move


def test_defaults_match_keras(keras):
    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam"]:
        ours = getattr(optimizers, name)().get_config()
        ref = getattr(keras.optimizers, name)().get_config()
        for key, value in ref.items():
            if key == "name":
                continue
            assert key in ours, (name, key)
            if isinstance(value, float):
                assert ours[key] == pytest.approx(value), (name, key)
            else:
                assert ours[key] == value, (name, key)


SCHEDULES = [
    ("ExponentialDecay", (0.1, 3, 0.5), {}),
    ("ExponentialDecay", (0.1, 3, 0.5), {"staircase": True}),
    ("PiecewiseConstantDecay", ([2, 5], [0.1, 0.05, 0.01]), {}),
    ("CosineDecay", (0.1, 6), {"alpha": 0.1}),
    ("CosineDecay", (0.0, 4), {"warmup_target": 0.1, "warmup_steps": 3}),
]


@pytest.mark.parametrize("name,args,kwargs", SCHEDULES)
def test_schedules_match_keras(keras, name, args, kwargs):
    ours = getattr(optimizers.schedules, name)(*args, **kwargs)
    ref = getattr(keras.optimizers.schedules, name)(*args, **kwargs)
    jitted = jax.jit(ours)
    for step in range(12):
        expected = float(ref(step))
        assert float(ours(step)) == pytest.approx(expected, abs=1e-7), step
        assert float(jitted(jnp.asarray(step, jnp.int32))) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("name,args,kwargs", SCHEDULES)
def test_optimizer_with_schedule_matches_keras(keras, name, args, kwargs):
    p0, grads = _data(seed=1, steps=6)
    ours, state = _run_trine(
        optimizers.Adam(getattr(optimizers.schedules, name)(*args, **kwargs)), p0, grads)
    ref = _run_keras(
        keras, keras.optimizers.Adam(getattr(keras.optimizers.schedules, name)(*args, **kwargs)),
        p0, grads)
    for k in p0:
        np.testing.assert_allclose(ours[k], ref[k], rtol=0, atol=1e-6)
    # the schedule is driven by the step count in the optax state
    sched = getattr(optimizers.schedules, name)(*args, **kwargs)
    assert float(get_learning_rate(state)) == pytest.approx(float(sched(5)), abs=1e-7)


def test_schedules_namespace_importable():
    from trine.optimizers.schedules import CosineDecay, ExponentialDecay
    assert ExponentialDecay is optimizers.schedules.ExponentialDecay
    assert CosineDecay is optimizers.schedules.CosineDecay


def test_schedule_argument_errors():
    with pytest.raises(ValueError, match="decay_steps"):
        optimizers.schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="one more element"):
        optimizers.schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="decay_steps"):
        optimizers.schedules.CosineDecay(0.1, -1)


def test_set_learning_rate_takes_effect_without_retracing():
    traces = []
    tx = optimizers.SGD(0.1).to_optax()
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.ones(3)}
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        traces.append(1)  # Python side effect: runs once per trace
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params, state = step(params, state)
    np.testing.assert_allclose(params["w"], 0.9, rtol=1e-6)
    state = set_learning_rate(state, 0.01)
    assert float(get_learning_rate(state)) == pytest.approx(0.01)
    params, state = step(params, state)
    np.testing.assert_allclose(params["w"], 0.89, rtol=1e-6)
    state = set_learning_rate(state, np.float32(0.5))
    params, state = step(params, state)
    np.testing.assert_allclose(params["w"], 0.39, rtol=1e-5)
    assert len(traces) == 1
    assert float(get_learning_rate(state)) == pytest.approx(0.5)


def test_set_learning_rate_is_pure_and_works_under_jit():
    tx = optimizers.Adam(0.001).to_optax()
    state = tx.init({"w": jnp.zeros(2)})
    new = jax.jit(set_learning_rate)(state, 0.5)
    assert float(get_learning_rate(state)) == pytest.approx(0.001)
    assert float(get_learning_rate(new)) == pytest.approx(0.5)
    assert get_learning_rate(new).dtype == get_learning_rate(state).dtype


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax",
                                  "Nadam"])
def test_learning_rate_in_state_for_every_optimizer(name):
    opt = getattr(optimizers, name)(learning_rate=0.25, clipnorm=1.0)
    state = opt.to_optax().init({"a": jnp.zeros((2, 2)), "b": jnp.zeros(3)})
    assert float(get_learning_rate(state)) == pytest.approx(0.25)
    assert float(get_learning_rate(set_learning_rate(state, 0.125))) == pytest.approx(0.125)


def test_raw_optax_inject_hyperparams_and_nesting():
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=0.1)
    state = tx.init({"w": jnp.zeros(2)})
    assert float(get_learning_rate(state)) == pytest.approx(0.1)
    state = set_learning_rate(state, 0.2)
    assert float(get_learning_rate(state)) == pytest.approx(0.2)
    # nested inside other transformations
    multi = optax.MultiSteps(tx, every_k_schedule=2)
    mstate = multi.init({"w": jnp.zeros(2)})
    assert float(get_learning_rate(set_learning_rate(mstate, 0.3))) == pytest.approx(0.3)


def test_state_without_learning_rate_errors():
    state = optax.adam(0.1).init({"w": jnp.zeros(2)})
    with pytest.raises(ValueError, match="inject_hyperparams"):
        get_learning_rate(state)
    with pytest.raises(ValueError, match="no 'learning_rate'"):
        set_learning_rate(state, 0.1)


def test_set_learning_rate_on_scheduled_state_errors():
    opt = optimizers.SGD(optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    state = opt.to_optax().init({"w": jnp.zeros(2)})
    with pytest.raises(ValueError, match="schedule"):
        set_learning_rate(state, 0.01)


def test_learning_rate_property():
    opt = optimizers.Adam()
    assert opt.learning_rate == 0.001
    opt.learning_rate = 0.01
    assert opt.learning_rate == 0.01
    assert isinstance(opt.learning_rate, float)
    opt.learning_rate = np.float32(0.5)
    assert opt.learning_rate == 0.5
    state = opt.to_optax().init({"w": jnp.zeros(1)})
    assert float(get_learning_rate(state)) == 0.5
    with pytest.raises(TypeError, match="learning_rate"):
        opt.learning_rate = "fast"
    sched = optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    opt2 = optimizers.SGD(sched)
    assert opt2.learning_rate is sched
    with pytest.raises(TypeError, match="not settable"):
        opt2.learning_rate = 0.1
    opt2.learning_rate = optax.constant_schedule(0.3)  # a schedule may replace a schedule
    state = opt2.to_optax().init({"w": jnp.zeros(1)})
    assert float(get_learning_rate(state)) == pytest.approx(0.3)


def test_optax_schedule_as_learning_rate():
    sched = optax.linear_schedule(0.1, 0.0, transition_steps=4)
    _, state = _run_trine(optimizers.SGD(sched), *_data(steps=3))
    assert float(get_learning_rate(state)) == pytest.approx(float(sched(2)))


def test_get_resolves_identifiers():
    for name, cls in [("sgd", optimizers.SGD), ("Adam", optimizers.Adam),
                      ("ADAMW", optimizers.AdamW), ("rmsprop", optimizers.RMSprop),
                      ("adagrad", optimizers.Adagrad), ("adamax", optimizers.Adamax),
                      ("Nadam", optimizers.Nadam)]:
        assert type(optimizers.get(name)) is cls
    inst = optimizers.SGD(0.3)
    assert optimizers.get(inst) is inst
    assert type(optimizers.get(optimizers.Adamax)) is optimizers.Adamax
    assert optimizers.get(None) is None
    from_dict = optimizers.get(optimizers.serialize(optimizers.Adam(0.02, beta_1=0.8)))
    assert type(from_dict) is optimizers.Adam and from_dict.beta_1 == 0.8
    assert from_dict.learning_rate == pytest.approx(0.02)
    assert type(optimizers.get({"class_name": "sgd", "config": {}})) is optimizers.SGD
    wrapped = optimizers.get(optax.sgd(0.1))
    assert isinstance(wrapped, optimizers.OptaxOptimizer)


def test_get_unknown_names_error():
    with pytest.raises(ValueError, match="Unknown optimizer 'adamz'.*'adam'.*'sgd'"):
        optimizers.get("adamz")
    with pytest.raises(ValueError, match="Could not interpret"):
        optimizers.get(3.5)
    with pytest.raises(ValueError, match="Unknown optimizer class_name"):
        optimizers.get({"class_name": "Nope", "config": {}})


def test_config_round_trip():
    opt = optimizers.RMSprop(0.01, rho=0.8, momentum=0.1, centered=True, clipnorm=2.0,
                             name="my_rms")
    again = optimizers.RMSprop.from_config(opt.get_config())
    assert again.get_config() == opt.get_config()
    sched = optimizers.schedules.CosineDecay(0.1, 100, alpha=0.2)
    opt = optimizers.Adam(sched)
    config = opt.get_config()
    assert config["learning_rate"]["class_name"] == "CosineDecay"
    again = optimizers.Adam.from_config(config)
    assert isinstance(again.learning_rate, optimizers.schedules.CosineDecay)
    assert again.learning_rate.get_config() == sched.get_config()
    assert optimizers.SGD().name == "sgd" and optimizers.AdamW().name == "adam_w"


def test_argument_errors():
    with pytest.raises(ValueError, match="only one of clipnorm"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="not recognized.*lr"):
        optimizers.Adam(lr=0.1)
    with pytest.raises(NotImplementedError, match="use_ema"):
        optimizers.Adam(use_ema=True)
    with pytest.raises(NotImplementedError, match="loss_scale_factor"):
        optimizers.Adam(loss_scale_factor=128.0)
    with pytest.raises(NotImplementedError, match="gradient_accumulation_steps"):
        optimizers.SGD(gradient_accumulation_steps=4)
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="momentum must be in"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(TypeError, match="learning_rate must be a float"):
        optimizers.SGD(learning_rate="0.1")
    tx = optimizers.AdamW().to_optax()
    state = tx.init({"w": jnp.zeros(2)})
    with pytest.raises(ValueError, match="needs the params"):
        tx.update({"w": jnp.ones(2)}, state)


def test_exclude_from_weight_decay():
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    tx = opt.to_optax()
    params = {"dense/kernel": jnp.ones(2), "dense/bias": jnp.ones(2)}
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    updates, _ = tx.update(zeros, tx.init(params), params)
    np.testing.assert_allclose(updates["dense/kernel"], -0.05)
    np.testing.assert_allclose(updates["dense/bias"], 0.0)


def test_optax_optimizer_wrapper():
    opt = optimizers.OptaxOptimizer(optax.inject_hyperparams(optax.sgd)(learning_rate=0.1))
    assert opt.learning_rate == pytest.approx(0.1)
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    tx = opt.to_optax()
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    assert float(get_learning_rate(state)) == pytest.approx(0.5)
    updates, _ = tx.update({"w": jnp.ones(2)}, state, params)
    np.testing.assert_allclose(updates["w"], -0.5)

    plain = optimizers.OptaxOptimizer(optax.adam(1e-3))
    assert plain.learning_rate is None
    assert plain.to_optax() is plain.transform
    with pytest.raises(ValueError, match="inject_hyperparams"):
        plain.learning_rate = 0.1
    with pytest.raises(TypeError, match="GradientTransformation"):
        optimizers.OptaxOptimizer("adam")
