"""Keras's further optimizers and schedules: Keras's numbers over several steps, configs, errors,
string lookup and a tiny fit."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

import trine  # noqa: E402
from trine import optimizers  # noqa: E402

# rank-1, rank-2 (both orientations), rank-3 and an embedding: every branch of Adafactor/Muon
SHAPES = {"dense/kernel": (3, 5), "dense/bias": (5,), "out/kernel": (5, 2),
          "conv/kernel": (2, 3, 4), "embedding/embeddings": (6, 3)}
STEPS = 4


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
    return {k: np.asarray(v) for k, v in params.items()}


def _run_keras(keras, opt, p0, grads):
    names = sorted(p0)
    variables = []
    for k in names:
        scope, leaf = k.split("/")
        with keras.name_scope(scope):
            variables.append(keras.Variable(p0[k], name=leaf))
    assert [v.path for v in variables] == names
    for g in grads:
        opt.apply_gradients([(jnp.asarray(g[k]), v) for k, v in zip(names, variables)])
    return {k: np.asarray(v.value) for k, v in zip(names, variables)}


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


CASES = [
    ("Adadelta", {}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.9, "weight_decay": 0.1}),
    ("Ftrl", {}),
    ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.05,
              "l2_regularization_strength": 0.02, "l2_shrinkage_regularization_strength": 0.01,
              "beta": 0.3, "learning_rate_power": -0.7}),
    ("Lion", {}),
    ("Lion", {"learning_rate": 0.01, "beta_1": 0.8, "weight_decay": 0.5}),
    ("Lamb", {}),
    ("Lamb", {"learning_rate": 0.05, "weight_decay": 0.1, "global_clipnorm": 1.0}),
    ("Adafactor", {}),
    ("Adafactor", {"learning_rate": 0.5, "relative_step": False, "clip_threshold": 0.5}),
    ("Muon", {}),
    ("Muon", {"learning_rate": 0.02, "exclude_layers": ["out"], "nesterov": False,
              "adam_lr_ratio": 0.5, "rms_rate": None, "exclude_embeddings": False}),
    ("ScheduleFreeAdamW", {}),
    ("ScheduleFreeAdamW", {"learning_rate": 0.01, "warmup_steps": 3, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_keras(keras, name, kwargs):
    p0, grads = _data()
    ours = _run_trine(getattr(optimizers, name)(**kwargs), p0, grads)
    theirs = _run_keras(keras, getattr(keras.optimizers, name)(**kwargs), p0, grads)
    for k in p0:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-5, atol=1e-6, err_msg=k)
        assert not np.allclose(ours[k], p0[k]), f"{name} did not move {k}"


def test_schedule_learning_rate_matches_keras(keras):
    p0, grads = _data()
    ours = _run_trine(optimizers.Lion(optimizers.schedules.PolynomialDecay(0.1, 3)), p0, grads)
    theirs = _run_keras(keras, keras.optimizers.Lion(
        keras.optimizers.schedules.PolynomialDecay(0.1, 3)), p0, grads)
    for k in p0:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-5, atol=1e-6)


SCHEDULES = [
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "power": 2.0,
                         "cycle": True, "end_learning_rate": 0.01}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5,
                          "staircase": True}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4,
                             "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_schedule_matches_keras(keras, name, kwargs):
    ours = getattr(optimizers.schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    steps = np.arange(0, 30)
    got = np.asarray(jax.jit(jax.vmap(ours))(jnp.asarray(steps)))
    if name == "PolynomialDecay":
        # one step at a time: Keras's vectorised ceil rounds 21/7 up to 4 (its scalar gives 3)
        want = np.array([float(theirs(int(s))) for s in steps])
    else:
        want = np.asarray(theirs(steps.astype("float32")))  # one call: eager conds are slow
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert ours.get_config() == theirs.get_config()
    again = optimizers.schedules.deserialize(optimizers.schedules.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_config_round_trip_and_keras_keys(keras, name, kwargs):
    opt = getattr(optimizers, name)(**kwargs)
    config = opt.get_config()
    assert set(config) == set(getattr(keras.optimizers, name)(**kwargs).get_config())
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config


def test_schedule_in_optimizer_config_round_trip():
    opt = optimizers.Lamb(optimizers.schedules.CosineDecayRestarts(0.1, 5))
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(again.learning_rate, optimizers.schedules.CosineDecayRestarts)


@pytest.mark.parametrize("name", ["adadelta", "ftrl", "lion", "lamb", "adafactor", "muon",
                                  "schedulefreeadamw"])
def test_get_by_string(name):
    opt = optimizers.get(name)
    assert type(opt).__name__.lower() == name


@pytest.mark.parametrize("make,match", [
    (lambda: optimizers.Lion(beta_1=0.0), "beta_1"),
    (lambda: optimizers.Lion(beta_2=1.5), "beta_2"),
    (lambda: optimizers.Ftrl(learning_rate_power=0.5), "learning_rate_power"),
    (lambda: optimizers.Ftrl(l1_regularization_strength=-1.0), "l1_regularization_strength"),
    (lambda: optimizers.Adadelta(rho=2.0), "rho"),
    (lambda: optimizers.Adafactor(clip_threshold=0.0), "clip_threshold"),
    (lambda: optimizers.Muon(ns_steps=-1), "ns_steps"),
    (lambda: optimizers.ScheduleFreeAdamW(warmup_steps=-2), "warmup_steps"),
    (lambda: optimizers.schedules.PolynomialDecay(0.1, 0), "decay_steps"),
    (lambda: optimizers.schedules.InverseTimeDecay(0.1, -1, 0.5), "decay_steps"),
    (lambda: optimizers.schedules.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_muon_exclude_layers_type():
    with pytest.raises(TypeError, match="exclude_layers"):
        optimizers.Muon(exclude_layers="dense")


@pytest.mark.parametrize("name", ["Adadelta", "Ftrl", "Lion", "Lamb", "Adafactor", "Muon",
                                  "ScheduleFreeAdamW"])
def test_fit(name):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(8, activation="relu"),
                              trine.layers.Dense(1)])
    lr = {"Adadelta": 1.0, "Ftrl": 0.5}.get(name, 0.01)
    model.compile(optimizer=getattr(optimizers, name)(learning_rate=lr), loss="mse")
    hist = model.fit(x, y, epochs=4, batch_size=8, verbose=0)
    losses = hist.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.parametrize("name", ["Adagrad", "Adam", "Ftrl", "Optimizer", "RMSprop", "SGD"])
def test_legacy_names_raise_like_keras(keras, name):
    with pytest.raises(ImportError):
        getattr(keras.optimizers.legacy, name)()
    with pytest.raises(ImportError, match=f"legacy.{name} is not supported"):
        getattr(optimizers.legacy, name)(learning_rate=0.1)
    import importlib
    assert importlib.import_module("trine.optimizers.legacy") is optimizers.legacy


def test_muon_keeps_no_second_moment_for_its_matrices():
    params = {"dense/kernel": jnp.zeros((3, 4)), "dense/bias": jnp.zeros(4),
              "embedding/embeddings": jnp.zeros((5, 2))}
    state = optimizers.Muon().to_optax().init(params)
    _, velocity = state.inner_state.slots
    assert velocity["dense/kernel"].shape == ()  # Muon-updated: momentum only, as Keras
    assert velocity["dense/bias"].shape == (4,) and velocity["embedding/embeddings"].shape == (5, 2)
