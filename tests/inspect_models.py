"""Models shared by the inspection tests (summary, trace, plot, convert)."""
import numpy as np

import trine as keras
from trine.cli import build_models
from trine.layers import Dense, Input, concatenate


def seed_models(seed=42):
    """The seed's model in the three styles, built under the same seed (subclassed one built)."""
    out = {}
    for name, make in build_models().items():
        keras.utils.set_random_seed(seed)
        m = make()
        if name == "Subclassing":
            m.build((None, 28, 28))
        out[name] = m
    return out


def two_input_model():
    input1 = Input(shape=(784,), name="input_1")
    input2 = Input(shape=(784,), name="input_2")
    x1 = Dense(64, activation="relu", name="dense_1")(input1)
    x2 = Dense(64, activation="relu", name="dense_2")(input2)
    concat = concatenate([x1, x2], name="concat")
    x = Dense(32, activation="tanh", name="dense_3")(concat)
    outputs = Dense(10, activation="softmax", name="output")(x)
    return keras.Model(inputs=[input1, input2], outputs=outputs)


TWO_INPUT_LAYERS = ["input_1", "input_2", "dense_1", "dense_2", "concat", "dense_3", "output"]


class ResidualNet(keras.Model):
    """A residual block written with Python operators on tensors."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inp = Dense(16, activation="relu", name="inp")
        self.block = Dense(16, name="block")
        self.head = Dense(3, name="head")

    def call(self, x):
        h = self.inp(x)
        h = self.block(h) + h
        return self.head(h * 0.5)


def residual_functional():
    x = Input(shape=(5,), name="x")
    h = Dense(16, activation="relu", name="inp")(x)
    h = keras.layers.Add(name="skip")([Dense(16, name="block")(h), h])
    return keras.Model(x, Dense(3, name="head")(h), name="residual")


class Siamese(keras.Model):
    """One encoder applied to two inputs (a shared layer)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder = Dense(8, activation="tanh", name="encoder")
        self.diff = keras.layers.Subtract(name="diff")
        self.head = Dense(1, activation="sigmoid", name="head")

    def call(self, inputs):
        a, b = inputs
        return self.head(self.diff([self.encoder(a), self.encoder(b)]))


def nested_model():
    inner = keras.Sequential([Dense(5, name="in_a"), Dense(6, name="in_b")], name="inner")
    a = Input(shape=(4,), name="a")
    h = Dense(3, name="pre")(a)
    out = keras.layers.Add(name="sum")([Dense(2, name="post")(inner(h)), Dense(2, name="skip")(h)])
    return keras.Model(a, out, name="outer")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)
