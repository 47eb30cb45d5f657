"""JaxLayer and FlaxLayer (issue 23): pure JAX functions and Flax (Linen, NNX) modules train
inside trine models; numbers equal Keras's JaxLayer / FlaxLayer with the same weights."""
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine import layers as L


def dense_call(params, inputs):
    return jnp.tanh(inputs @ params["w"] + params["b"])


def dense_init(rng, inputs):
    return {"w": jax.random.normal(rng, (inputs.shape[-1], 3)) * 0.3, "b": jnp.zeros(3)}


def counting_call(params, state, rng, inputs, training):
    y = inputs @ params["w"]
    if training:
        y = y * jax.random.bernoulli(rng, 0.8, y.shape) / 0.8
    return y, {"steps": state["steps"] + 1}


def counting_init(rng, inputs):
    return ({"w": jax.random.normal(rng, (inputs.shape[-1], 2))},
            {"steps": jnp.zeros((), jnp.int32)})


def test_import_trine_does_not_import_flax():
    code = "import sys, trine, trine.layers; print('flax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_jax_layer_init_fn_weights_and_keras_numbers():
    import keras
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    layer = L.JaxLayer(dense_call, dense_init)
    y = layer(x)
    assert y.shape == (4, 3)
    assert [(tuple(w.shape), w.trainable) for w in layer.weights] == [((3,), True),
                                                                       ((5, 3), True)]
    params = jax.tree_util.tree_map(lambda v: np.asarray(v.value), layer.params)
    k = keras.layers.JaxLayer(dense_call, params=params)
    np.testing.assert_allclose(y, k(x), atol=1e-6)


def test_jax_layer_with_given_params_and_state_in_a_model_trains():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 5)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    inp = trine.Input((5,))
    jl = L.JaxLayer(counting_call, counting_init, seed=3)
    model = trine.Model(inp, jl(inp))
    model.compile("adam", "mse")
    w0 = jl.get_weights()[0].copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert not np.allclose(w0, jl.get_weights()[0])
    assert int(jl.get_weights()[1]) == 4  # state updated once per training step
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ jl.get_weights()[0], atol=1e-5)


def test_jax_layer_jit_matches_eager_and_state_flows_through_stateless_call():
    layer = L.JaxLayer(counting_call, params={"w": np.eye(3, 2, dtype="float32")},
                       state={"steps": np.zeros((), "int32")})
    x = jnp.ones((2, 3))
    inp = trine.Input((3,))
    model = trine.Model(inp, layer(inp))
    fn = jax.jit(lambda p, s, x: model.stateless_call(p, s, x, training=True,
                                                       rng=jax.random.key(0)))
    out, new_state = fn(model.get_params(), model.get_state(), x)
    assert out.shape == (2, 2)
    assert [int(v) for v in jax.tree_util.tree_leaves(new_state)] == [1]


def test_jax_layer_config_round_trip_by_name():
    layer = L.JaxLayer(dense_call, dense_init)
    layer(np.ones((1, 4), "float32"))
    cfg = layer.get_config()
    clone = L.JaxLayer.from_config(cfg, custom_objects={"dense_call": dense_call,
                                                        "dense_init": dense_init})
    clone(np.ones((1, 4), "float32"))
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(np.ones((2, 4), "float32")),
                                  layer(np.ones((2, 4), "float32")))


@pytest.mark.parametrize("fn,kwargs,match", [
    (lambda params, x: x, {}, "inputs"),
    (lambda params, inputs, extra: inputs, {}, "extra"),
    (dense_call, {}, "init_fn"),
    (dense_call, {"init_fn": lambda rng, inputs, seed: 0}, "seed"),
])
def test_jax_layer_bad_functions(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        L.JaxLayer(fn, **kwargs)


def test_jax_layer_state_contract_errors():
    layer = L.JaxLayer(lambda params, state, inputs: inputs,
                       params={"w": np.ones(1, "float32")}, state={"s": np.ones(1, "float32")})
    with pytest.raises(ValueError, match="tuple"):
        layer(np.ones((1, 1), "float32"))




def _linen_model():
    import flax.linen as nn

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, training):
            x = nn.Dense(4)(x)
            x = nn.BatchNorm(use_running_average=not training)(x)
            x = nn.Dropout(0.5, deterministic=not training)(x)
            return nn.Dense(1)(x)
    return Block()


def test_flax_linen_layer_trains_and_updates_batch_stats():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype("float32")
    fl = L.FlaxLayer(_linen_model())
    inp = trine.Input((5,))
    model = trine.Model(inp, fl(inp))
    assert len(fl.trainable_weights) == 6 and len(fl.non_trainable_weights) == 2
    stats0 = [w.copy() for w in fl.get_weights()[-2:]]
    model.compile("adam", "mse")
    model.fit(x, x[:, :1], epochs=2, batch_size=8, verbose=0)
    assert not np.allclose(stats0[0], fl.get_weights()[-2])
    out = model.predict(x, verbose=0)
    assert out.shape == (16, 1) and np.all(np.isfinite(out))


def test_flax_linen_layer_equals_keras():
    import flax.linen as nn
    import keras
    x = np.random.default_rng(2).normal(size=(3, 5)).astype("float32")
    module = nn.Dense(4)
    variables = module.init(jax.random.key(0), x)
    t = L.FlaxLayer(module, variables=variables)
    k = keras.layers.FlaxLayer(module, variables=variables)
    np.testing.assert_allclose(t(x), k(x), atol=1e-6)
    np.testing.assert_allclose(t(x), module.apply(variables, x), atol=1e-6)


def test_flax_nnx_layer_trains():
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.lin = nnx.Linear(5, 3, rngs=rngs)
            self.bn = nnx.BatchNorm(3, rngs=rngs)

        def __call__(self, x):
            return self.bn(self.lin(x))

    net = Net(nnx.Rngs(0))
    x = np.random.default_rng(3).normal(size=(16, 5)).astype("float32")
    fl = L.FlaxLayer(net)
    np.testing.assert_allclose(fl(x), net(x), atol=1e-5)
    inp = trine.Input((5,))
    model = trine.Model(inp, fl(inp))
    model.compile("adam", "mse")
    hist = model.fit(x, x[:, :3], epochs=4, batch_size=8, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
    assert len(fl.trainable_weights) == 2 + 2  # linear kernel, bias; bn scale, bias


def test_flax_layer_rejects_non_modules_and_refuses_config():
    with pytest.raises(TypeError, match="flax"):
        L.FlaxLayer(object())
    import flax.linen as nn
    with pytest.raises(NotImplementedError, match="save_weights"):
        L.FlaxLayer(nn.Dense(2)).get_config()
