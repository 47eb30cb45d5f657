"""Activation layers (ReLU, LeakyReLU, ELU, PReLU, Softmax): the conformance harness with the
Keras oracle, masks in Softmax, and clear errors for bad arguments."""
import numpy as np
import pytest

import trine
from harness import check_layer
from trine.layers import ELU, LeakyReLU, PReLU, ReLU, Softmax

CASES = [
    (lambda: ReLU(), (2, 5, 4)),
    (lambda: ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2), (2, 5, 4)),
    (lambda: LeakyReLU(), (2, 5, 4)),
    (lambda: LeakyReLU(negative_slope=0.05), (3, 6)),
    (lambda: ELU(alpha=0.5), (2, 5, 4)),
    (lambda: PReLU(alpha_initializer="ones"), (2, 5, 4)),
    (lambda: PReLU(alpha_initializer="ones", shared_axes=[1]), (2, 5, 4)),
    (lambda: Softmax(), (2, 5, 4)),
    (lambda: Softmax(axis=1), (2, 5, 4)),
    (lambda: Softmax(axis=[1, 2]), (2, 5, 4)),
]


@pytest.mark.parametrize("make,shape", CASES, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_and_keras_oracle(make, shape):
    check_layer(make, shape, keras_oracle=True)


def test_prelu_learns_its_slope():
    x = np.linspace(-2, 2, 64, dtype=np.float32).reshape(64, 1)
    y = np.where(x > 0, x, 0.25 * x)
    model = trine.Sequential([trine.Input((1,)), PReLU()])
    model.compile(optimizer=trine.optimizers.SGD(0.5), loss="mse")
    model.fit(x, y, epochs=40, batch_size=64, verbose=0)
    np.testing.assert_allclose(np.asarray(model.layers[-1].alpha.value), [0.25], atol=1e-3)


def test_softmax_mask_zeroes_masked_positions():
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    mask = np.array([[True, True, False, False], [False, False, False, False]])
    y = np.asarray(Softmax()(x, mask=mask))
    np.testing.assert_allclose(y[0, :2].sum(), 1.0, rtol=1e-6)
    assert np.all(y[0, 2:] == 0) and np.all(y[1] == 0)  # a fully masked row is zeros
    e = np.exp(x[0, :2] - x[0, :2].max())
    np.testing.assert_allclose(y[0, :2], e / e.sum(), rtol=1e-6)


def test_softmax_takes_the_mask_from_embedding():
    inp = trine.Input((4,), dtype="int32")
    scores = trine.layers.Embedding(10, 1, mask_zero=True)(inp)
    scores = trine.layers.Reshape((4,))(scores)
    # Reshape does not carry the mask; pass it explicitly as Keras users do
    out = Softmax()(scores, mask=trine.ops.not_equal(inp, 0))
    model = trine.Model(inp, out)
    y = np.asarray(model.predict(np.array([[3, 1, 0, 0]]), verbose=0))
    assert np.all(y[0, 2:] == 0) and abs(y[0].sum() - 1) < 1e-6


@pytest.mark.parametrize("make,match", [
    (lambda: ReLU(max_value=-1.0), "max_value"),
    (lambda: ReLU(negative_slope=-0.1), "negative_slope"),
    (lambda: LeakyReLU(negative_slope=None), "negative_slope"),
])
def test_bad_arguments_name_the_layer(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_softmax_mask_and_prelu_axes():
    with pytest.raises(ValueError, match="Softmax layer .* mask broadcastable"):
        Softmax()(np.zeros((2, 4), np.float32), mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="PReLU layer .* shared_axes"):
        PReLU(shared_axes=[3])(np.zeros((2, 4), np.float32))
