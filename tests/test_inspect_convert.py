"""to_source(): each model written in the three styles, executed, and compared bit for bit."""
import ast

import numpy as np
import pytest

import trine as keras
from trine.inspect import ConversionError, compare_models, copy_weights, to_source
from trine.layers import Dense, Input

from inspect_models import (ResidualNet, Siamese, nested_model, rand, residual_functional,
                            two_input_model)
from trine.cli import build_models

SEED = 42


def build(make, seed=SEED, build_shape=None):
    keras.utils.set_random_seed(seed)
    m = make()
    if build_shape is not None:
        m.build(build_shape)
    return m


def rebuild(src, seed=SEED):
    ast.parse(src)
    keras.utils.set_random_seed(seed)
    ns = {}
    exec(compile(src, "<to_source>", "exec"), ns)
    return ns["model"]


def assert_same_by_name(a, b, x):
    named = {l.name: l for l in a._flatten_layers(include_self=False)}
    for layer in b._flatten_layers(include_self=False):
        if layer._direct_variables():
            ref = named[layer.name]
            assert type(ref) is type(layer)
            for v, w in zip(layer._direct_variables(), ref._direct_variables()):
                assert np.array_equal(np.asarray(v.value), np.asarray(w.value)), v.path
    ya, yb = np.asarray(a(x)), np.asarray(b(x))
    assert ya.shape == yb.shape and np.array_equal(ya, yb)


SEED_STYLES = [(api, style) for api in ("Sequential", "Functional", "Subclassing")
               for style in ("sequential", "functional", "subclass")]


@pytest.mark.parametrize("api,style", SEED_STYLES)
def test_seed_models_round_trip_bit_for_bit(api, style):
    make = build_models()[api]
    original = build(make, build_shape=(None, 28, 28) if api == "Subclassing" else None)
    src = to_source(original, style=style)
    assert 'activation="relu"' in src and "Dense(300" in src
    clone = rebuild(src)
    expected = {"sequential": keras.Sequential, "functional": keras.Model}.get(style, keras.Model)
    assert isinstance(clone, expected)
    if style == "subclass":
        assert "class " in src and "def call(self, inputs" in src
    # same seed -> identical initial weights, in the same order, and identical outputs
    wa, wb = original.get_weights(), clone.get_weights()
    assert len(wa) == len(wb) == 6
    assert all(np.array_equal(p, q) for p, q in zip(wa, wb))
    x = rand(7, 28, 28)
    assert np.array_equal(np.asarray(original(x)), np.asarray(clone(x)))
    assert compare_models(original, clone, x)


@pytest.mark.parametrize("style", ["functional", "subclass"])
def test_two_input_model_round_trip(style):
    original = build(two_input_model)
    clone = rebuild(to_source(original, style))
    xs = [rand(3, 784, seed=1), rand(3, 784, seed=2)]
    assert [l.name for l in clone.layers if l.weights] == ["dense_1", "dense_2", "dense_3",
                                                           "output"]
    assert_same_by_name(original, clone, xs)


def test_sequential_style_is_refused_with_a_reason():
    with pytest.raises(ConversionError, match="2 inputs \\(input_1, input_2\\)"):
        to_source(two_input_model(), "sequential")
    with pytest.raises(ConversionError, match="layer .skip. takes 2 inputs \\(a merge\\)"):
        to_source(residual_functional(), "sequential")
    x = Input(shape=(4,))
    shared = Dense(4, name="twice")
    chain = keras.Model(x, shared(shared(x)))
    with pytest.raises(ConversionError, match="'twice' is called more than once"):
        to_source(chain, "sequential")
    with pytest.raises(ValueError, match="unknown style"):
        to_source(chain, "graph")


@pytest.mark.parametrize("make,shape,x", [
    (residual_functional, None, rand(4, 5)),
    (ResidualNet, (None, 5), rand(4, 5)),
    (Siamese, [(None, 6), (None, 6)], [rand(2, 6, seed=3), rand(2, 6, seed=4)]),
    (nested_model, None, rand(3, 4)),
])
@pytest.mark.parametrize("style", ["functional", "subclass"])
def test_graph_models_round_trip(make, shape, x, style):
    original = build(make, build_shape=shape)
    src = to_source(original, style)
    clone = rebuild(src)
    assert_same_by_name(original, clone, x)
    if make is Siamese:
        assert src.count("encoder_layer(") == 2 or src.count("self.encoder(") == 2


def test_trained_weights_copy_over():
    original = build(two_input_model)
    original.set_weights([w + 0.25 for w in original.get_weights()])
    clone = rebuild(to_source(original, "subclass"), seed=7)
    xs = [rand(2, 784, seed=5), rand(2, 784, seed=6)]
    assert not np.array_equal(np.asarray(original(xs)), np.asarray(clone(xs)))
    copy_weights(original, clone)
    assert_same_by_name(original, clone, xs)


def test_compare_models_reports_the_first_difference():
    models = {k: build(m, build_shape=(None, 28, 28) if k == "Subclassing" else None)
              for k, m in build_models().items()}
    x = rand(4, 28, 28)
    for other in ("Functional", "Subclassing"):
        r = compare_models(models["Sequential"], models[other], x)
        assert r.same and r.max_abs_diff == 0.0, str(r)
        assert r.checks == {"structure": True, "parameters": True, "weights": True,
                            "outputs": True}
    other_seed = build(build_models()["Functional"], seed=SEED + 1)
    r = compare_models(models["Sequential"], other_seed, x)
    assert not r and "weight" in r.first_difference and r.checks["outputs"] is False
    close = compare_models(models["Sequential"], other_seed, x, atol=10.0, rtol=0.0)
    assert close.same
    wider = keras.Sequential([keras.layers.Flatten(input_shape=[28, 28]),
                              Dense(300, activation="relu"), Dense(100, activation="tanh"),
                              Dense(10, activation="softmax")])
    r = compare_models(models["Sequential"], wider, x)
    assert not r and "activation" in r.first_difference and "call 3" in r.first_difference
    assert "differ" in str(r)
