"""clone_model against Keras 3: same structure and config, fresh weights, the same hooks."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

import trine  # noqa: E402

X4 = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
X3 = np.linspace(0, 1, 6, dtype="float32").reshape(2, 3)


@pytest.fixture(autouse=True, scope="module")
def _cheap_random_init():
    """Weights are compared or overwritten here, never learned."""
    from saving_utils import cheap_random_init
    mp = cheap_random_init()
    yield
    mp.undo()


def graph(lib):
    """Two inputs, a layer shared by two branches, one layer called twice, a nested model,
    two outputs."""
    x = lib.Input((4,), name="x")
    y = lib.Input((3,), name="y")
    shared = lib.layers.Dense(5, name="shared")
    a = shared(x)
    b = shared(lib.layers.Dense(4, name="proj")(y))
    twice = lib.layers.Dense(5, name="twice")
    c = twice(twice(a))
    inner = lib.Sequential([lib.Input((10,)), lib.layers.Dense(2, name="inner_d")],
                           name="inner")
    out = inner(lib.layers.Concatenate(name="cat")([c, b]))
    return lib.Model([x, y], [out, a], name="g")


def by_name(model):
    return {v.path if hasattr(v, "path") else v.name: v for v in model.weights}


def weights_by_layer(model):
    return {l.name: [np.asarray(w) for w in l.get_weights()] for l in model.layers}


def copy_weights(src_keras, dst_trine):
    w = weights_by_layer(src_keras)
    for layer in dst_trine.layers:
        if w.get(layer.name):
            layer.set_weights(w[layer.name])


def predict(model, x):
    out = model(x, training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def structure(model):
    return sorted((l.name, type(l).__name__, tuple(tuple(w.shape) for w in l.weights))
                  for l in model.layers)


def test_functional_clone_matches_keras():
    tm, km = graph(trine), graph(keras)
    tc, kc = trine.models.clone_model(tm), keras.models.clone_model(km)
    assert type(tc).__name__ == type(kc).__name__ == "Functional"
    assert structure(tc) == structure(kc) == structure(tm)
    assert tc.get_config() == tm.get_config()  # same config
    shared = tc.get_layer("shared")
    assert len(shared._inbound_nodes) == 2 and len(tc.get_layer("twice")._inbound_nodes) == 2
    for old, new in zip(tm.weights, tc.weights):  # new variables, drawn afresh
        assert old is not new
    assert all(a is not b for a, b in zip(tm.layers, tc.layers))
    copy_weights(kc, tc)
    for t, k in zip(predict(tc, [X4, X3]), predict(kc, [X4, X3])):
        np.testing.assert_allclose(t, k, rtol=1e-5, atol=1e-6)


def test_clone_draws_fresh_weights_as_keras_does():
    """A default clone initializes every layer anew: kernels differ from the original's
    (zero biases aside), as in Keras."""
    for lib in (trine, keras):
        m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, bias_initializer="ones")])
        c = lib.models.clone_model(m)
        assert c.layers[0] is not m.layers[0]
        np.testing.assert_array_equal(np.asarray(c.layers[0].bias), np.ones(3))
        assert np.asarray(c.layers[0].kernel).shape == (4, 3)


def test_sequential_clone_keeps_input_and_compile():
    outs = {}
    for lib in (trine, keras):
        m = lib.Sequential([lib.Input((4,), name="inp"), lib.layers.Dense(3, name="d")],
                           name="s")
        m.compile(optimizer="sgd", loss="mse")
        c = lib.models.clone_model(m)
        outs[lib.__name__] = (type(c).__name__, c.name, tuple(c.input_shape), c.compiled,
                              [l.name for l in c.layers], type(c.optimizer).__name__)
    assert outs["trine"] == outs["keras"]


def test_clone_function_and_recursive_see_the_same_layers():
    seen = {}
    for lib in (trine, keras):
        for recursive in (False, True):
            names = []

            def fn(layer, names=names):
                names.append(layer.name)
                config = layer.get_config()
                if "units" in config and layer.name == "inner_d":
                    config["units"] = 3
                return layer.__class__.from_config(config)

            c = lib.models.clone_model(graph(lib), clone_function=fn, recursive=recursive)
            seen[lib.__name__, recursive] = (sorted(names), tuple(c.output_shape[0]))
    assert seen["trine", False] == seen["keras", False]
    assert seen["trine", True] == seen["keras", True]
    assert "inner" in seen["trine", False][0] and "inner_d" not in seen["trine", False][0]
    assert "inner_d" in seen["trine", True][0] and seen["trine", True][1] == (None, 3)


def test_call_function_inserts_layers_and_shares_originals():
    results = {}
    for lib in (trine, keras):
        m = graph(lib)

        def call_function(layer, *args, lib=lib, **kwargs):
            out = layer(*args, **kwargs)
            if layer.name == "proj":
                out = lib.layers.Dropout(0.5, name="drop")(out)
            return out

        c = lib.models.clone_model(m, clone_function=lambda l: l, call_function=call_function)
        assert c.get_layer("shared") is m.get_layer("shared")  # reused, not cloned
        results[lib.__name__] = sorted(l.name for l in c.layers)
        for a, b in zip(predict(c, [X4, X3]), predict(m, [X4, X3])):
            np.testing.assert_allclose(a, b, rtol=1e-6)  # Dropout is off at inference
    assert results["trine"] == results["keras"] and "drop" in results["trine"]


def test_input_tensors():
    tm = graph(trine)
    x, y = trine.Input((4,), name="new_x"), trine.Input((3,), name="new_y")
    c = trine.models.clone_model(tm, input_tensors=[x, y])
    assert c.input_names == ["new_x", "new_y"]
    s = trine.Sequential([trine.Input((4,)), trine.layers.Dense(2)])
    cs = trine.models.clone_model(s, input_tensors=trine.Input((4,), name="z"))
    assert cs.layers[0].name == s.layers[0].name and cs.inputs[0].name == "z"
    with pytest.raises(ValueError, match="same structure as model.input"):
        trine.models.clone_model(tm, input_tensors={"a": x, "b": y, "c": x})
    with pytest.raises(ValueError, match="returned by trine.Input"):
        trine.models.clone_model(tm, input_tensors=[x, np.zeros((1, 3))])


@trine.saving.register_keras_serializable(package="test_cloning")
class Twice(trine.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = trine.layers.Dense(units)

    def call(self, x):
        return self.dense(x) * 2.0

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_model_clones_from_config():
    m = Twice(units=3, name="tw")
    m(X4)
    c = trine.models.clone_model(m)
    assert type(c) is Twice and c.units == 3 and c.name == "tw"
    c(X4)
    c.set_weights(m.get_weights())
    np.testing.assert_array_equal(np.asarray(c(X4)), np.asarray(m(X4)))
    with pytest.raises(ValueError, match="only supported for Sequential and Functional"):
        trine.models.clone_model(m, clone_function=lambda l: l)
    with pytest.raises(ValueError, match="only supported for Functional"):
        trine.models.clone_model(m, call_function=lambda l, *a, **k: l(*a, **k))


def test_bad_arguments_are_named():
    s = trine.Sequential([trine.Input((4,)), trine.layers.Dense(2)])
    with pytest.raises(ValueError, match="call_function is not supported with Sequential"):
        trine.models.clone_model(s, call_function=lambda l, *a, **k: l(*a, **k))
    with pytest.raises(ValueError, match=r"unexpected keyword argument\(s\) \('foo',\)"):
        trine.models.clone_model(s, foo=1)
    with pytest.raises(ValueError, match="clone_function must be a callable"):
        trine.models.clone_model(s, clone_function=3)
    with pytest.raises(ValueError, match="call_function"):
        keras.models.clone_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
                                 call_function=lambda l, *a, **k: l(*a, **k))
