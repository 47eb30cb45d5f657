"""Keras's STFT initializer and compatibility names, constraint/regularizer aliases and
deserialize, and the sparsemax activation."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import trine  # noqa: E402
from trine import activations, constraints, initializers, regularizers  # noqa: E402


@pytest.fixture(scope="module")
def keras():
    import keras
    return keras


STFT_CASES = [
    {},
    {"side": "imag"},
    {"window": "hamming", "scaling": "spectrum", "periodic": True},
    {"window": None, "scaling": None},
    {"side": "imag", "window": np.linspace(0.1, 1.0, 16).astype("float32").tolist()},
]


@pytest.mark.parametrize("kwargs", STFT_CASES, ids=[str(i) for i in range(len(STFT_CASES))])
def test_stft_matches_keras(keras, kwargs):
    ours = initializers.STFT(**kwargs)((16, 1, 9))
    theirs = keras.initializers.STFT(**kwargs)((16, 1, 9))
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-6)
    config = initializers.STFT(**kwargs).get_config()
    assert config == keras.initializers.STFT(**kwargs).get_config()
    again = initializers.deserialize(initializers.serialize(initializers.STFT(**kwargs)))
    assert isinstance(again, initializers.STFT) and again.get_config() == config


def test_stft_names_channels_and_conv():
    assert initializers.stft is initializers.STFTInitializer is initializers.STFT
    assert isinstance(initializers.get("stft"), initializers.STFT)
    assert isinstance(initializers.get("STFTInitializer"), initializers.STFT)
    k = initializers.STFT()((8, 3, 5))
    assert k.shape == (8, 3, 5) and np.allclose(k[:, 0], k[:, 2])
    # a Conv1D with the real and imaginary kernels gives the magnitude of a windowed DFT
    sig = np.sin(np.arange(64) * 2 * np.pi * 4 / 16).astype("float32")[None, :, None]
    re = trine.layers.Conv1D(9, 16, strides=16, use_bias=False,
                             kernel_initializer=initializers.STFT("real", scaling=None))
    im = trine.layers.Conv1D(9, 16, strides=16, use_bias=False,
                             kernel_initializer=initializers.STFT("imag", scaling=None))
    mag = np.hypot(np.asarray(re(sig)), np.asarray(im(sig)))[0]
    import scipy.signal  # the symmetric hann window the initializer uses by default
    win = scipy.signal.get_window("hann", 16, fftbins=False)
    want = np.abs(np.fft.rfft(sig[0, :16, 0] * win))
    np.testing.assert_allclose(mag[0], want, rtol=1e-4, atol=1e-4)


def test_stft_bad_arguments():
    with pytest.raises(ValueError, match="side"):
        initializers.STFT(side="both")
    with pytest.raises(ValueError, match="scaling"):
        initializers.STFT(scaling="power")
    with pytest.raises(ValueError, match="window"):
        initializers.STFT(window="no_such_window")
    with pytest.raises(ValueError, match="frame_length"):
        initializers.STFT()((16, 9))
    with pytest.raises(ValueError, match="window"):
        initializers.STFT(window=[1.0, 2.0])((16, 1, 9))


def test_initializer_compat_names():
    assert initializers.IdentityInitializer is initializers.Identity
    assert initializers.OrthogonalInitializer is initializers.Orthogonal


@pytest.mark.parametrize("name,kwargs", [
    ("max_norm", {"max_value": 1.5, "axis": 0}), ("min_max_norm", {"min_value": 0.5,
                                                                   "max_value": 1.0}),
    ("non_neg", {}), ("unit_norm", {"axis": 0}),
])
def test_constraint_aliases_match_keras(keras, name, kwargs):
    w = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    ours = getattr(constraints, name)(**kwargs)
    theirs = getattr(keras.constraints, name)(**kwargs)
    np.testing.assert_allclose(np.asarray(ours(w)), np.asarray(theirs(w)), rtol=1e-5,
                               atol=1e-6)
    again = constraints.deserialize(constraints.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()
    assert type(constraints.deserialize(keras.constraints.serialize(theirs))) is type(ours)


def test_constraint_deserialize_errors_and_custom():
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="config dict or a name"):
        constraints.deserialize(3)

    class Clip(constraints.Constraint):
        def __call__(self, w):
            return jnp.clip(w, -1, 1)

    assert isinstance(constraints.deserialize({"class_name": "Clip", "config": {}},
                                              custom_objects={"Clip": Clip}), Clip)


def test_orthogonal_regularizer_alias_matches_keras(keras):
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    for mode in ("rows", "columns"):
        ours = regularizers.orthogonal_regularizer(factor=0.2, mode=mode)
        theirs = keras.regularizers.orthogonal_regularizer(factor=0.2, mode=mode)
        np.testing.assert_allclose(float(ours(x)), float(theirs(jnp.asarray(x))), rtol=1e-5)
        again = regularizers.deserialize(regularizers.serialize(ours))
        assert type(again) is regularizers.OrthogonalRegularizer
        assert again.get_config() == ours.get_config()
        # Keras keeps the factor as a float32 value; the keys and values agree otherwise
        assert again.get_config() == pytest.approx(theirs.get_config())
    with pytest.raises(ValueError, match="Unknown regularizer"):
        regularizers.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="config dict or a name"):
        regularizers.deserialize(None)


def _sparsemax_reference(x):
    """Algorithm 1 of Martins & Astudillo (2016), one row at a time."""
    out = np.zeros_like(x)
    for i, row in enumerate(x):
        z = np.sort(row)[::-1]
        cum = np.cumsum(z)
        k = np.arange(1, len(z) + 1)
        n = k[1 + k * z > cum].max()
        out[i] = np.maximum(row - (cum[n - 1] - 1) / n, 0)
    return out


def test_sparsemax(keras):
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32") * 2
    got = np.asarray(activations.sparsemax(x))
    np.testing.assert_allclose(got, _sparsemax_reference(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(activations.sparsemax(x.T, axis=0)), got.T,
                               rtol=1e-5, atol=1e-6)
    # where Keras's output is a distribution (a single-entry support), it agrees with ours
    peaked = np.array([[3.0, 0.5, -1.0], [0.0, 4.0, 1.0]], "float32")
    np.testing.assert_allclose(np.asarray(activations.sparsemax(peaked)),
                               np.asarray(keras.activations.sparsemax(peaked)), atol=1e-6)
    assert activations.get("sparsemax") is activations.sparsemax
    assert activations.deserialize(activations.serialize(activations.sparsemax)) is \
        activations.sparsemax
    grads = jax.grad(lambda v: activations.sparsemax(v)[0, 0])(jnp.asarray(x))
    assert np.all(np.isfinite(np.asarray(grads)))


def test_used_in_a_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 16)]
    model = trine.Sequential([
        trine.Input((4,)),
        trine.layers.Dense(6, kernel_constraint=constraints.max_norm(2.0),
                           kernel_regularizer=regularizers.orthogonal_regularizer(0.01)),
        trine.layers.Dense(3, activation="sparsemax",
                           kernel_initializer=initializers.OrthogonalInitializer())])
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history["loss"]
    assert np.all(np.isfinite(hist))
    norms = np.linalg.norm(np.asarray(model.layers[0].kernel.value), axis=0)
    assert np.all(norms <= 2.0 + 1e-5)
    config = model.get_config()
    rebuilt = trine.Sequential.from_config(config)
    assert rebuilt.layers[-1].activation is activations.sparsemax
