"""Functional, Sequential and subclassed models: structure, calls and errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine as keras
from trine.layers import Dense, Dropout, Flatten, Input, concatenate
from trine.models import Model, Sequential


def two_input_model():
    input1 = Input(shape=(784,), name="input_1")
    input2 = Input(shape=(784,), name="input_2")
    x1 = Dense(64, activation="relu", name="dense_1")(input1)
    x2 = Dense(64, activation="relu", name="dense_2")(input2)
    concat = concatenate([x1, x2], name="concat")
    x = Dense(32, activation="tanh", name="dense_3")(concat)
    outputs = Dense(10, activation="softmax", name="output")(x)
    return Model(inputs=[input1, input2], outputs=outputs)


def test_imports_follow_keras():
    from trine.layers import Dense, Flatten, Input, concatenate  # noqa: F401
    from trine.models import Model, Sequential  # noqa: F401
    assert keras.Model is Model and keras.Sequential is Sequential
    assert keras.layers.Dense is Dense


def test_two_input_model_structure():
    m = two_input_model()
    assert [l.name for l in m.layers] == ["input_1", "input_2", "dense_1", "dense_2", "concat",
                                          "dense_3", "output"]
    assert m.get_layer("concat").name == "concat"
    assert m.count_params() == 2 * (784 * 64 + 64) + 128 * 32 + 32 + 32 * 10 + 10
    x1, x2 = np.ones((3, 784), np.float32), np.zeros((3, 784), np.float32)
    y = np.asarray(m([x1, x2]))
    assert y.shape == (3, 10)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
    # dict input by input name gives the same result
    np.testing.assert_array_equal(np.asarray(m({"input_1": x1, "input_2": x2})), y)
    with pytest.raises(ValueError, match="missing \\['input_2'\\]"):
        m({"input_1": x1})
    with pytest.raises(ValueError, match="unknown \\['input_3'\\]"):
        m({"input_1": x1, "input_2": x2, "input_3": x2})
    with pytest.raises(ValueError, match="No layer named 'nope'.*dense_1"):
        m.get_layer("nope")


def test_dict_inputs_and_outputs():
    a = Input(shape=(3,), name="a")
    b = Input(shape=(2,), name="b")
    h = concatenate([a, b])
    m = Model({"a": a, "b": b}, {"out1": Dense(1)(h), "out2": Dense(4)(h)})
    out = m({"a": np.ones((5, 3)), "b": np.ones((5, 2))})
    assert set(out) == {"out1", "out2"} and out["out2"].shape == (5, 4)


def test_shared_layer_has_one_set_of_weights():
    shared = Dense(8, name="shared")
    a, b = Input(shape=(4,)), Input(shape=(4,))
    m = Model([a, b], keras.layers.Subtract()([shared(a), shared(b)]))
    assert len(m.weights) == 2
    x = np.random.rand(2, 4).astype(np.float32)
    np.testing.assert_allclose(np.asarray(m([x, x])), 0.0, atol=1e-7)
    assert len(shared._inbound_nodes) == 2


def test_model_is_a_layer():
    inner = Sequential([Dense(4, input_shape=(3,)), Dense(2)])
    x = Input(shape=(3,))
    outer = Model(x, Dense(1)(inner(x)))
    assert len(outer.weights) == 6
    assert outer(np.ones((2, 3), np.float32)).shape == (2, 1)


def test_graph_disconnected_error():
    a, b = Input(shape=(3,), name="in_a"), Input(shape=(3,), name="in_b")
    out = keras.layers.Add()([Dense(2)(a), Dense(2)(b)])
    with pytest.raises(ValueError, match="Graph disconnected.*in_b"):
        Model(a, out)


def test_duplicate_layer_names_error():
    a = Input(shape=(3,))
    x = Dense(2, name="same")(a)
    with pytest.raises(ValueError, match="'same'.*unique"):
        Model(a, Dense(2, name="same")(x))
    with pytest.raises(ValueError, match="already in the model"):
        Sequential([Dense(2, name="twin"), Dense(2, name="twin")])


def test_inputs_must_come_from_input():
    a = Input(shape=(3,))
    h = Dense(2)(a)
    with pytest.raises(ValueError, match="keras.Input"):
        Model(h, Dense(1)(h))


def test_sequential_add_pop_and_deferred_build():
    m = Sequential()
    m.add(Dense(4))
    m.add(Dense(2))
    assert not m.built
    y = m(np.ones((3, 5), np.float32))
    assert m.built and y.shape == (3, 2) and m.input_shape == (None, 5)
    popped = m.pop()
    assert popped.units == 2 and len(m.layers) == 1
    assert m(np.ones((1, 5), np.float32)).shape == (1, 4)
    m2 = Sequential([Input(shape=(5,)), Dense(3)])
    assert m2.built and [l.name for l in m2.layers] == [m2.layers[0].name]
    with pytest.raises(TypeError, match="expected a Layer"):
        m2.add("dense")


def test_sequential_builds_same_graph_as_functional():
    m = Sequential([Flatten(input_shape=[28, 28]), Dense(10)])
    g = m._functional
    assert [type(n.layer).__name__ for n in g._nodes] == ["Flatten", "Dense"]
    assert m.output_shape == (None, 10)


def test_subclass_tracks_lists_dicts_and_training():
    seen = []

    class Block(keras.layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.stack = [Dense(4), Dense(4)]
            self.heads = {"a": Dense(1), "b": Dense(2)}
            self.block = Block()
            self.drop = Dropout(0.5)

        def call(self, x, training=None):
            for l in self.stack:
                x = l(x)
            x = self.drop(self.block(x), training=training)
            return self.heads["a"](x), self.heads["b"](x)

    net = Net()
    out = net(np.ones((2, 3), np.float32), training=True)
    assert out[0].shape == (2, 1) and out[1].shape == (2, 2)
    assert len(net.trainable_weights) == 8
    assert seen[-1] is True
    net(np.ones((2, 3), np.float32))
    assert seen[-1] in (None, False)


def test_assigning_layer_before_super_init_is_accepted_as_in_keras():
    # Keras 3 starts its tracker lazily, so this is valid Keras code (issue 20).
    class Early(keras.Model):
        def __init__(self):
            self.d = Dense(2)
            super().__init__()

        def call(self, x):
            return self.d(x)

    model = Early()
    assert model(np.ones((1, 3), np.float32)).shape == (1, 2)
    assert len(model.trainable_weights) == 2


def test_stateless_call_is_pure_and_jittable():
    m = Sequential([Input(shape=(3,)), Dense(2)])
    params, state = m.get_params(), m.get_state()
    assert set(params) == {f"{m.layers[0].name}/kernel", f"{m.layers[0].name}/bias"}
    x = jnp.ones((4, 3))
    y, _ = jax.jit(lambda p, s, x: m.stateless_call(p, s, x))(params, state, x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(m(x)), rtol=1e-6)
    zero = jax.tree_util.tree_map(jnp.zeros_like, params)
    y0, _ = m.stateless_call(zero, state, x)
    assert np.all(np.asarray(y0) == 0)
    # Keras 3's list convention works too
    y1, _ = m.stateless_call([v.value for v in m.trainable_variables], [], x)
    np.testing.assert_allclose(np.asarray(y1), np.asarray(y), rtol=1e-6)


def test_dropout_under_jit_without_key_is_a_clear_error():
    m = Sequential([Input(shape=(3,)), Dropout(0.5)])
    with pytest.raises(RuntimeError, match="random key"):
        jax.jit(lambda x: m.stateless_call({}, {}, x, training=True)[0])(jnp.ones((2, 3)))
