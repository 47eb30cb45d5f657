"""Bad input to fit / evaluate / predict: a clear error (or Keras's warning where Keras
warns) instead of silent garbage or a failure deep inside JAX; and a valid input (a one-shot
generator on an unbuilt model) accepted (issue 17)."""
import warnings

import jax.numpy as jnp
import keras
import numpy as np
import pytest

import trine
from trine.layers import Dense, Input

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 4)).astype(np.float32)
Y = RNG.integers(0, 3, size=20).astype(np.int32)


def _model(lib=trine, units=3, compiled=True):
    m = lib.Sequential([lib.Input(shape=(4,)), lib.layers.Dense(units, activation="softmax")])
    if compiled:
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught]


def test_class_weight_naming_a_class_the_model_lacks():
    with pytest.raises(ValueError, match=r"class_weight names classes \[7\].*3 classes"):
        _model().fit(X, Y, class_weight={0: 1.0, 1: 1.0, 7: 2.0}, verbose=0)
    # one-hot targets: their width counts the classes
    with pytest.raises(ValueError, match=r"classes \[3\]"):
        m = trine.Sequential([Input(shape=(4,)), Dense(3, activation="softmax")])
        m.compile(optimizer="sgd", loss="categorical_crossentropy")
        m.fit(X, np.eye(3, dtype=np.float32)[Y], class_weight={3: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="class indices"):
        _model().fit(X, Y, class_weight={"cat": 1.0}, verbose=0)
    # classes the data lacks but the model has are fine (Keras too), binary outputs have 2
    _model().fit(X, np.zeros_like(Y), class_weight={0: 1.0, 2: 3.0}, verbose=0)
    b = trine.Sequential([Input(shape=(4,)), Dense(1, activation="sigmoid")])
    b.compile(optimizer="sgd", loss="binary_crossentropy")
    b.fit(X, (Y > 0).astype(np.float32), class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_complex_x_warns_as_keras_does_and_uses_the_real_part():
    xc = X + 1j * X
    keras_msgs = _warnings_of(lambda: _model(keras).predict(xc, verbose=0))
    assert any("imaginary part" in m for m in keras_msgs)
    m = _model()
    msgs = _warnings_of(lambda: np.testing.assert_array_equal(
        m.predict(xc, verbose=0), m.predict(X, verbose=0)))
    assert any("x has the complex dtype complex64" in s and "imaginary part" in s for s in msgs)
    msgs = _warnings_of(lambda: m.fit({"x": xc}["x"], Y, verbose=0, validation_data=(xc, Y)))
    assert any(s.startswith("validation_data x has the complex dtype") for s in msgs)


@pytest.mark.parametrize("call", ["fit", "evaluate", "predict"])
def test_empty_arrays_are_an_error(call):
    with pytest.raises(Exception):  # Keras fails too (StopIteration / UnboundLocalError)
        k = _model(keras)
        getattr(k, call)(*((X[:0],) if call == "predict" else (X[:0], Y[:0])), verbose=0)
    m = _model()
    with pytest.raises(ValueError, match=rf"{call}\(\) received arrays with 0 samples"):
        getattr(m, call)(*((X[:0],) if call == "predict" else (X[:0], Y[:0])), verbose=0)


def test_empty_validation_data_is_an_error():
    with pytest.raises(ValueError, match="validation_data.*0 samples"):
        _model().fit(X, Y, validation_data=(X[:0], Y[:0]), verbose=0)


def test_fractional_batch_size_is_a_type_error_as_in_keras():
    with pytest.raises(TypeError):
        _model(keras).fit(X, Y, batch_size=2.5, verbose=0)
    with pytest.raises(TypeError, match=r"batch_size must be a positive integer.*2\.5"):
        _model().fit(X, Y, batch_size=2.5, verbose=0)
    with pytest.raises(TypeError, match="validation_batch_size"):
        _model().fit(X, Y, validation_data=(X, Y), validation_batch_size="8", verbose=0)
    with pytest.raises(TypeError, match="batch_size"):
        _model().evaluate(X, Y, batch_size=True, verbose=0)
    _model().fit(X, Y, batch_size=np.int64(8), verbose=0)  # NumPy integers are integers


def test_zero_batch_size_and_negative_epochs_are_errors():
    with pytest.raises(ValueError, match=r"predict\(\): batch_size must be a positive"):
        _model().predict(X, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        _model().fit(X, Y, batch_size=-4, verbose=0)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, received -1"):
        _model().fit(X, Y, epochs=-1, verbose=0)
    with pytest.raises(TypeError, match="epochs"):
        _model().fit(X, Y, epochs=2.5, verbose=0)
    with pytest.raises(ValueError, match="initial_epoch"):
        _model().fit(X, Y, initial_epoch=-2, verbose=0)
    assert _model().fit(X, Y, epochs=0, verbose=0).history == {}  # as in Keras: no pass


def test_non_finite_training_data_is_named_with_its_first_index():
    x = X.copy()
    x[5, 2] = np.nan
    msgs = _warnings_of(lambda: _model().fit(x, Y, verbose=0))
    assert any("x at index (5, 2) (value nan)" in s for s in msgs), msgs
    sw = np.ones(20, np.float32)
    sw[7] = np.inf
    msgs = _warnings_of(lambda: _model().fit(X, Y, sample_weight=sw, verbose=0))
    assert any("sample_weight at index 7 (value inf)" in s for s in msgs), msgs
    msgs = _warnings_of(lambda: _model().evaluate(X, Y, sample_weight=sw, verbose=0))
    assert any("evaluate()" in s and "sample_weight at index 7" in s for s in msgs), msgs
    msgs = _warnings_of(lambda: _model().fit(X, Y, validation_data=(x, Y), verbose=0))
    assert any("validation_data x at index (5, 2)" in s for s in msgs), msgs
    # dict inputs are named by key
    a, b = Input(shape=(4,), name="a"), Input(shape=(4,), name="b")
    m = trine.Model({"a": a, "b": b}, Dense(3, activation="softmax")(
        trine.layers.Concatenate()([a, b])))
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    msgs = _warnings_of(lambda: m.fit({"a": X, "b": x}, Y, verbose=0))
    assert any("x['b'] at index (5, 2)" in s for s in msgs), msgs
    # clean data, device arrays (not read back) and predict stay silent
    for fn in (lambda: _model().fit(X, Y, verbose=0),
               lambda: _model().fit(jnp.asarray(x), Y, verbose=0),
               lambda: _model().predict(x, verbose=0)):
        assert not [s for s in _warnings_of(fn) if "NaN" in s]


def test_tuple_x_on_a_one_input_model_is_a_clear_error():
    with pytest.raises(ValueError, match=r"has 1 input but x is a tuple of 2 arrays"):
        _model().fit((X, X), Y, verbose=0)
    with pytest.raises(ValueError, match=r"has 1 input but x is a list of 2 arrays"):
        _model().predict([X, X], verbose=0)
    a, b = Input(shape=(4,)), Input(shape=(4,))
    two = trine.Model([a, b], Dense(3, activation="softmax")(trine.layers.Add()([a, b])))
    two.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"has 2 inputs but x is a list of 3 arrays"):
        two.evaluate([X, X, X], Y, verbose=0)
    two.fit([X, X], Y, verbose=0)


def test_string_labels_are_a_clear_error_as_in_keras():
    labels = np.array(["cat", "dog"] * 10)
    with pytest.raises(ValueError):  # Keras: "Invalid dtype: str..."
        _model(keras).fit(X, labels, verbose=0)
    with pytest.raises(ValueError, match=r"y holds strings \(dtype <U3\).*np.unique"):
        _model().fit(X, labels, verbose=0)

    def batches():
        yield X[:10], labels[:10]
    with pytest.raises(ValueError, match="y holds strings"):
        _model().fit(batches(), verbose=0)


def _batches():
    for i in range(5):
        yield X[4 * i:4 * i + 4], Y[4 * i:4 * i + 4]


class _Reiterable:
    def __iter__(self):
        return _batches()


def _unbuilt(lib):
    m = lib.Sequential([lib.layers.Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


def _steps_seen(model, source):
    seen = []
    cb = model.__class__.__module__.split(".")[0]
    lib = keras if cb == "keras" else trine
    model.fit(source, verbose=0, shuffle=False, callbacks=[lib.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: seen.append(b))])
    return len(seen)


def test_one_shot_generator_trains_an_unbuilt_model_on_every_batch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: "ran out of data" after the one epoch
        assert _steps_seen(_unbuilt(keras), _batches()) == 5
    trine.utils.set_random_seed(5)
    m = _unbuilt(trine)
    assert _steps_seen(m, _batches()) == 5  # the peeked first batch is trained on too
    trine.utils.set_random_seed(5)
    ref = _unbuilt(trine)
    ref.fit(_Reiterable(), verbose=0, shuffle=False)  # the same batches, re-iterable
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_one_shot_generator_predicts_on_an_unbuilt_model():
    m = trine.Sequential([Dense(3)])
    out = m.predict((xb for xb, _ in _batches()), verbose=0)
    assert out.shape == (20, 3)
    np.testing.assert_allclose(out, m.predict(X, verbose=0), rtol=1e-6)


def test_an_empty_generator_is_a_clear_error():
    with pytest.raises(ValueError, match="yielded no batches"):
        _unbuilt(trine).fit(iter([]), verbose=0)
