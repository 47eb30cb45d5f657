"""Layer base: variables, lazy build, names, weights, config, input checks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
import trine as keras
from trine.core.variable import StatelessScope, Variable
from trine.layers import Dense, Flatten, Input


class Scale(keras.layers.Layer):
    """A custom layer with its own weight, used in all three APIs."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w


def test_variable_value_assign_and_scope():
    v = Variable(np.ones((2, 3), np.float32), name="k")
    assert v.shape == (2, 3) and v.dtype == "float32"
    v.assign(v + 1.0)
    np.testing.assert_array_equal(v.numpy(), 2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        v.assign(np.ones((3, 2)))

    def f(val):
        with StatelessScope({v: val}) as s:
            y = jnp.ones((4, 2)) @ v
            v.assign(v.value * 3)
        return y, s.get(v)

    y, new = jax.jit(f)(jnp.zeros((2, 3)))
    np.testing.assert_array_equal(np.asarray(y), np.zeros((4, 3)))
    np.testing.assert_array_equal(np.asarray(new), np.zeros((2, 3)))
    np.testing.assert_array_equal(v.numpy(), 2 * np.ones((2, 3)))  # untouched outside the scope


def test_lazy_build_and_weights():
    layer = Dense(4)
    assert not layer.built and layer.weights == []
    with pytest.raises(ValueError, match="not built"):
        layer.count_params()
    y = layer(np.ones((2, 3), np.float32))
    assert y.shape == (2, 4) and layer.built
    assert [v.name for v in layer.weights] == ["kernel", "bias"]
    assert layer.count_params() == 3 * 4 + 4
    w = layer.get_weights()
    assert w[0].shape == (3, 4) and np.all(w[1] == 0)
    layer.set_weights([np.ones((3, 4)), np.full((4,), 2.0)])
    np.testing.assert_allclose(np.asarray(layer(np.ones((1, 3), np.float32))), np.full((1, 4), 5.0))
    with pytest.raises(ValueError, match="kernel"):
        layer.set_weights([np.ones((4, 4)), np.ones((4,))])
    with pytest.raises(ValueError, match="expected 2 weight arrays"):
        layer.set_weights([np.ones((3, 4))])


def test_unique_default_names():
    names = [Dense(1).name for _ in range(3)]
    assert names == ["dense", "dense_1", "dense_2"]
    assert Flatten().name == "flatten"
    assert Scale().name == "scale"


def test_wrong_shape_error_names_layer_and_fix():
    d = Dense(3, name="dense_1")
    d(np.ones((2, 784), np.float32))
    with pytest.raises(ValueError) as e:
        d(np.ones((32, 28, 28), np.float32))
    msg = str(e.value)
    assert "dense_1" in msg and "784" in msg and "(32, 28, 28)" in msg and "Flatten" in msg


def test_trainable_flag_moves_weights():
    d = Dense(2)
    d(np.ones((1, 3), np.float32))
    d.trainable = False
    assert d.trainable_weights == [] and len(d.non_trainable_weights) == 2
    d.trainable = True
    assert len(d.trainable_weights) == 2


def test_config_round_trip():
    d = Dense(5, activation="relu", use_bias=False, name="dd")
    cfg = d.get_config()
    d2 = Dense.from_config(cfg)
    assert d2.units == 5 and not d2.use_bias and d2.name == "dd"
    assert d2.get_config()["activation"] == "relu"


def test_input_shape_and_input_dim_on_first_layer():
    m = keras.Sequential([Dense(4, input_dim=3), Dense(2)])
    assert m.built and m.input_shape == (None, 3)
    m2 = keras.Sequential([Dense(4, input_shape=(3,))])
    assert m2.output_shape == (None, 4)


def test_unknown_kwarg_is_an_error():
    with pytest.raises(TypeError, match="unrecognized keyword"):
        Dense(3, unitz=4)
    with pytest.raises(ValueError, match="units"):
        Dense(0)


def test_custom_layer_in_three_apis():
    keras.utils.set_random_seed(0)
    seq = keras.Sequential([Input(shape=(3,)), Scale(), Dense(2)])
    inp = Input(shape=(3,))
    fun = keras.Model(inp, Dense(2)(Scale()(inp)))

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.s = Scale()
            self.d = Dense(2)

        def call(self, x):
            return self.d(self.s(x))

    sub = Sub()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    sub(x)  # a subclassed model builds on its first call
    for m in (seq, fun, sub):
        m.set_weights([np.full((3,), 2.0), np.ones((3, 2)), np.zeros((2,))])
    outs = [np.asarray(m(x)) for m in (seq, fun, sub)]
    for o in outs:
        np.testing.assert_allclose(o, np.array([[6.0, 6.0], [24.0, 24.0]]))


def test_symbolic_call_shapes_and_nodes():
    x = Input(shape=(28, 28), name="img")
    assert x.shape == (None, 28, 28) and x.dtype == "float32"
    y = Flatten()(x)
    assert y.shape == (None, 784)
    z = Dense(7)(y)
    assert z.shape == (None, 7)
    assert z._keras_history[0].name.startswith("dense")


def test_ops_accept_variables():
    v = Variable(np.eye(2, dtype=np.float32))
    np.testing.assert_array_equal(np.asarray(keras.ops.matmul(jnp.ones((1, 2)), v)), [[1.0, 1.0]])


def _reference_weights(model, which):
    """The weight lists by their definition: walk the layers, classify each variable."""
    out, seen = [], set()
    for layer in model._flatten_layers():
        for v in layer._direct_variables():
            trainable = v.trainable and layer._trainable
            if id(v) not in seen and (which == "all" or (which == "trainable") == trainable):
                seen.add(id(v))
                out.append(v)
    if which == "trainable":
        return out if model._trainable else []
    return out if model._trainable else _reference_weights_all(model)


def _reference_weights_all(model):
    saved = model._trainable
    object.__setattr__(model, "_trainable", True)
    try:
        return _reference_weights(model, "all")
    finally:
        object.__setattr__(model, "_trainable", saved)


def _reference_keras_order(model):
    """`weights` by Keras 3's definition: layer by layer, each layer's variables created
    trainable before its others, whatever is frozen."""
    out, seen = [], set()
    for layer in model._flatten_layers():
        variables = layer._direct_variables()
        for v in [v for v in variables if v.trainable] + [v for v in variables
                                                           if not v.trainable]:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def test_weight_lists_from_one_walk_match_their_definition():
    """trainable / non-trainable / all weights come from one walk of the layer tree; on
    nested, shared, listed and frozen layers they are what the per-kind walks give."""
    import trine

    class Block(trine.layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.parts = {"a": trine.layers.Dense(4), "norm": [trine.layers.BatchNormalization()]}
            self.scale = self.add_weight(shape=(4,), initializer="ones", name="scale")

        def call(self, x, training=False):
            return self.parts["norm"][0](self.parts["a"](x), training=training) * self.scale

    class Net(trine.Model):
        def __init__(self):
            super().__init__()
            self.shared = Block()
            self.blocks = [self.shared, Block(), self.shared]
            self.head = trine.layers.Dense(2)

        def call(self, x, training=False):
            for b in self.blocks:
                x = b(x, training=training)
            return self.head(x)

    net = Net()
    net(np.zeros((2, 4), np.float32))
    for freeze in (None, "block", "norm", "model"):
        if freeze == "block":
            net.blocks[1].trainable = False
        elif freeze == "norm":
            net.shared.parts["norm"][0].trainable = False
        elif freeze == "model":
            net.trainable = False
        got_t, got_n = net.trainable_weights, net.non_trainable_weights
        assert [id(v) for v in got_t] == [id(v) for v in _reference_weights(net, "trainable")]
        assert [id(v) for v in got_n] == [id(v) for v in _reference_weights(net, "non_trainable")]
        assert [id(v) for v in net.weights] == [id(v) for v in _reference_keras_order(net)]
        assert {id(v) for v in net.weights} == {id(v) for v in got_t + got_n}
        assert len(net.weights) == len({id(v) for v in net.weights}) == 2 * 7 + 2
