"""trace(): a subclassed model's call becomes the Functional graph it computes."""
import jax.numpy as jnp
import numpy as np
import pytest

import trine as keras
from trine.inspect import TraceError, to_functional, trace
from trine.layers import Dense
from trine.models import Functional

from inspect_models import ResidualNet, Siamese, rand, seed_models


@pytest.fixture(scope="module")
def seed():
    return seed_models()


def test_seed_subclassed_model_traces_to_the_functional_graph(seed):
    sub, fun = seed["Subclassing"], seed["Functional"]
    g = trace(sub)
    assert isinstance(g, Functional) and g.name == sub.name
    assert [type(n.layer).__name__ for n in g._nodes] == ["Flatten", "Dense", "Dense", "Dense"]
    assert [type(n.layer).__name__ for n in fun._nodes] == [
        type(n.layer).__name__ for n in g._nodes]
    assert g.input_shape == (None, 28, 28) and g.output_shape == (None, 10)
    # the same layer objects, hence the same weights
    assert {id(v) for v in g.weights} == {id(v) for v in sub.weights}
    assert g.count_params() == 266_610
    x = rand(5, 28, 28)
    y_sub, y_graph, y_fun = (np.asarray(m(x)) for m in (sub, g, fun))
    assert np.array_equal(y_graph, y_sub)
    assert np.array_equal(y_graph, y_fun)  # same seed: the Functional model is bit-identical
    assert trace(sub) is g  # cached for the same input shape


def test_traced_graph_shares_weights_with_the_model(seed):
    sub = seed["Subclassing"]
    g = to_functional(sub)
    x = rand(2, 28, 28)
    before = np.asarray(g(x))
    w = sub.get_weights()
    try:
        sub.set_weights([a * 0.5 for a in w])
        assert not np.array_equal(np.asarray(g(x)), before)
        assert np.array_equal(np.asarray(g(x)), np.asarray(sub(x)))
    finally:
        sub.set_weights(w)


def test_sequential_and_functional_trace_to_their_graph(seed):
    g = trace(seed["Sequential"])
    assert isinstance(g, Functional) and [l.name for l in g.layers[1:]] == [
        l.name for l in seed["Sequential"].layers]
    f = to_functional(seed["Functional"])
    assert [l.name for l in f.layers] == [l.name for l in seed["Functional"].layers]


def test_residual_block_with_operators():
    net = ResidualNet()
    net.build((None, 5))
    g = trace(net)
    ops = [n.layer for n in g._nodes if type(n.layer).__name__ == "OpLayer"]
    assert [o.op for o in ops] == ["add", "multiply"]
    x = rand(4, 5)
    assert np.array_equal(np.asarray(g(x)), np.asarray(net(x)))


def test_shared_layer_has_two_nodes_in_the_graph():
    s = Siamese()
    s.build([(None, 6), (None, 6)])
    g = trace(s)
    enc = s.encoder
    assert sum(1 for n in g._nodes if n.layer is enc) == 2
    assert len(g.inputs) == 2 and len(g.weights) == len(s.weights)
    xs = [rand(3, 6, seed=1), rand(3, 6, seed=2)]
    assert np.array_equal(np.asarray(g(xs)), np.asarray(s(xs)))


def test_static_python_control_flow_traces():
    class Stack(keras.Model):
        def __init__(self, widths, use_head=True):
            super().__init__()
            self.blocks = [Dense(w, activation="relu") for w in widths]
            self.use_head = use_head
            self.head = Dense(2)
            self.wide = Dense(3)

        def call(self, x, training=None):
            for b in self.blocks:          # a loop over a list of layers
                x = b(x)
            if x.shape[-1] > 4:           # a branch on a static shape
                x = self.wide(x)
            if self.use_head:             # a branch on a Python flag
                x = self.head(x)
            return x

    m = Stack([8, 6])
    m.build((None, 3))
    g = trace(m)
    assert [l.name for l in g.layers[1:]] == [m.blocks[0].name, m.blocks[1].name, m.wide.name,
                                              m.head.name]
    x = rand(2, 3)
    assert np.array_equal(np.asarray(g(x)), np.asarray(m(x)))


def test_trace_with_explicit_shape_builds_the_model():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = Dense(4)
            self.b = Dense(1)

        def call(self, inputs):
            return self.b(self.a(inputs))

    net = Net()
    with pytest.raises(ValueError, match="build"):
        trace(net)
    g = trace(net, (None, 7))
    assert net.built and g.output_shape == (None, 1) and net.count_params() == 7 * 4 + 4 + 5
    dict_net = trace(Net(), keras.Input(shape=(3,), name="feats"))
    assert dict_net.input_names == ["feats"]


class Gated(keras.Model):
    """A data-dependent branch: runs eagerly, cannot become a graph."""

    def __init__(self):
        super().__init__()
        self.d = Dense(4, name="gate_dense")

    def build(self, input_shape):
        self.d.build(input_shape)
        self.built = True

    def call(self, x):
        y = self.d(x)
        if y[0, 0] > 0:  # TRACE-ME
            return y
        return -y


def _line_of(marker):
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "def _line_of" not in line and "_line_of(" not in line:
                return i
    raise AssertionError(marker)


def test_data_dependent_branch_names_the_line():
    m = Gated()
    m(np.ones((2, 3), np.float32))  # it runs eagerly
    with pytest.raises(TraceError) as info:
        trace(m, (None, 3))
    e = info.value
    assert e.filename == __file__ and e.lineno == _line_of("# TRACE-ME")
    msg = str(e)
    assert f"line {e.lineno}" in msg and "if y[0, 0] > 0" in msg
    assert "data-dependent" in msg and "jax.numpy.where" in msg
    assert isinstance(e, TypeError)  # catchable as the TypeError it replaces


def test_truth_value_and_jnp_on_symbolic_tensors_are_explained():
    class Truthy(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(2)

        def call(self, x):
            y = self.d(x)
            return y if y else -y

    class UsesJnp(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(2)

        def call(self, x):
            return jnp.tanh(self.d(x))

    with pytest.raises(TraceError, match="data-dependent control flow"):
        trace(Truthy(), (None, 3))
    with pytest.raises(TraceError, match="jax.numpy / jax function was applied") as info:
        trace(UsesJnp(), (None, 3))
    assert "jnp.tanh(self.d(x))" in str(info.value)
