"""model.summary() for the three APIs; subclassed models are traced and show real shapes."""
import jax.numpy as jnp
import numpy as np
import pytest

import trine as keras
from trine.inspect.summary import summary_rows, summary_text
from trine.layers import Dense

from inspect_models import Siamese, nested_model, seed_models, two_input_model


def capture(model, **kw):
    out = []
    model.summary(print_fn=out.append, **kw)
    assert len(out) == 1  # one call with the whole table, as Keras 3 does
    return out[0]


def table_rows(text):
    """[[label, shape, params, ...]] from a summary table, wrapped cells joined."""
    rows, prev_sep = [], True
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if prev_sep:
                rows.append(cells)
            else:
                rows[-1] = [(a + " " + b).strip() for a, b in zip(rows[-1], cells)]
            prev_sep = False
        else:
            prev_sep = True
    return rows


SEED_SHAPES = ["(None, 784)", "(None, 300)", "(None, 100)", "(None, 10)"]


@pytest.fixture(scope="module")
def seed():
    return seed_models()


@pytest.fixture(scope="module")
def two_input():
    return two_input_model()


def test_subclassed_seed_model_shows_real_shapes(seed):
    sub = seed["Subclassing"]
    text = capture(sub, line_length=88)
    rows = table_rows(text)
    assert [r[0].split(" (")[1] for r in rows] == ["Flatten)", "Dense)", "Dense)", "Dense)"]
    assert [r[1] for r in rows] == SEED_SHAPES
    assert [r[2] for r in rows] == ["0", "235,500", "30,100", "1,010"]
    assert "Total params: 266,610 (1.02 MB)" in text
    assert "Trainable params: 266,610" in text and "Non-trainable params: 0 (0.00 B)" in text
    assert "?" not in text and "unbuilt" not in text


def test_subclassed_model_built_by_a_call_on_data():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(5, activation="relu", name="hidden")
            self.out = Dense(2, name="out")

        def call(self, x):
            return self.out(self.hidden(x))

    net = Net()
    net(np.ones((3, 4), np.float32))
    rows = table_rows(capture(net, line_length=80))
    assert rows == [["hidden (Dense)", "(None, 5)", "25"], ["out (Dense)", "(None, 2)", "12"]]


def test_three_apis_give_the_same_rows(seed):
    models = seed
    texts = {k: capture(m, line_length=88) for k, m in models.items()}
    seq_rows = table_rows(texts["Sequential"])
    fun_rows = table_rows(texts["Functional"])
    assert [r[1:] for r in seq_rows] == [r[1:] for r in fun_rows[1:]]
    assert fun_rows[0][0].endswith("(InputLayer)") and fun_rows[0][1] == "(None, 28, 28)"
    assert [r[1] for r in seq_rows] == SEED_SHAPES
    for t in texts.values():
        assert "Total params: 266,610" in t
        assert "Connected to" not in t  # chains print Keras's three columns


def test_two_input_model_has_connections_and_matches_keras_numbers(two_input):
    m = two_input
    text = capture(m, line_length=120)
    assert "Connected to" in text
    rows = {r[0].split(" ")[0]: r for r in table_rows(text)}
    assert rows["concat"][3].startswith("dense_1[0][0], dense_2[0][0]")
    assert rows["input_1"][3] == "-"
    assert rows["dense_1"][2] == "50,240" and rows["output"][1] == "(None, 10)"
    assert "Total params: 104,938 (409.91 KB)" in text


def test_against_keras_oracle(two_input):
    keras_ = pytest.importorskip("keras")
    k_in1 = keras_.Input(shape=(784,), name="input_1")
    k_in2 = keras_.Input(shape=(784,), name="input_2")
    x = keras_.layers.concatenate([keras_.layers.Dense(64, name="dense_1")(k_in1),
                                   keras_.layers.Dense(64, name="dense_2")(k_in2)], name="concat")
    k_out = keras_.layers.Dense(10, name="output")(keras_.layers.Dense(32, name="dense_3")(x))
    km = keras_.Model([k_in1, k_in2], k_out)
    kbuf = []
    km.summary(print_fn=kbuf.append, line_length=76)
    ours = table_rows(capture(two_input, line_length=76))
    theirs = table_rows("".join(kbuf))
    assert [r[:3] for r in ours] == [r[:3] for r in theirs]
    totals = [l for l in "".join(kbuf).splitlines() if "params" in l]
    text = capture(two_input, line_length=120)
    assert all(t in text for t in totals)


def test_layer_called_twice_shows_both_calls():
    s = Siamese()
    s.build([(None, 6), (None, 6)])
    rows = table_rows(capture(s, line_length=110))
    enc = [r for r in rows if r[0].startswith("encoder")]
    assert len(enc) == 2 and enc[0][2] == "56" and enc[1][2] == "(shared)"
    assert all(r[1] == "(None, 8)" for r in enc)
    assert rows[-1][0].startswith("head") and rows[-1][1] == "(None, 1)"
    diff = [r for r in rows if r[0].startswith("diff")][0]
    assert "encoder[0][0]" in diff[3] and "encoder[1][0]" in diff[3]


def test_line_length_trainable_and_layer_range():
    m = two_input_model()
    m.get_layer("dense_3").trainable = False
    text = capture(m, line_length=100, show_trainable=True)
    table = [l for l in text.splitlines() if l[:1] in "┏┃┡│├└"]
    assert all(len(l) == 100 for l in table)
    rows = {r[0].split(" ")[0]: r for r in table_rows(text)}
    assert rows["dense_3"][-1] == "N" and rows["dense_1"][-1] == "Y" and rows["concat"][-1] == "-"
    assert "Non-trainable params: 4,128" in text
    part = table_rows(capture(m, line_length=100, layer_range=["dense_2", "dense_3"]))
    assert [r[0].split(" ")[0] for r in part] == ["dense_2", "concat", "dense_3"]
    with pytest.raises(ValueError, match="does not match"):
        capture(m, layer_range=["nope", "dense_3"])


def test_expand_nested():
    m = nested_model()
    flat = table_rows(capture(m, line_length=110))
    nested = table_rows(capture(m, line_length=110, expand_nested=True))
    assert len(nested) == len(flat) + 2
    labels = [r[0] for r in nested]
    i = labels.index("inner (Sequential)")
    assert labels[i + 1].startswith("└ in_a") and labels[i + 2].startswith("└ in_b")
    assert nested[i + 2][1] == "(None, 6)"


def test_unbuilt_models_say_how_to_build():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(3)

        def call(self, x):
            return self.d(x)

    text = capture(Net())
    assert "0 (unbuilt)" in text and "model.build" in text
    seq = keras.Sequential([Dense(2)])
    assert "?" in capture(seq)


def test_untraceable_call_falls_back_with_shapes_and_line():
    class Gate(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(4, name="d")
            self.e = Dense(2, name="e")

        def call(self, x):
            return self.e(jnp.tanh(self.d(x)))  # jnp on a symbolic tensor: not traceable

    g = Gate()
    g.build((None, 3))
    text = summary_text(g, line_length=90)
    rows = table_rows(text)
    assert [(r[0], r[1]) for r in rows] == [("d (Dense)", "(None, 4)"), ("e (Dense)", "(None, 2)")]
    flat = " ".join(text.split())
    assert "Could not trace" in flat and "test_inspect_summary.py, line" in flat


def test_summary_rows_api(seed):
    rows, conn, note = summary_rows(seed["Subclassing"])
    assert [r.shape for r in rows] == SEED_SHAPES and conn is False and note is None
    assert np.sum([int(r.params.replace(",", "")) for r in rows]) == 266_610
