"""Dtype policies: mixed_bfloat16 / mixed_float16 keep float32 variables and compute in 16
bits; training works; a layer's own dtype overrides the global policy; configs and files
keep the policy; bad names are clear errors."""
import numpy as np
import pytest

import trine
from trine import mixed_precision as mp
from trine.layers import Dense, Flatten, Input


@pytest.fixture
def mixed():
    mp.set_global_policy("mixed_bfloat16")
    yield
    mp.set_global_policy("float32")


def test_policy_names():
    p = mp.DTypePolicy("mixed_float16")
    assert (p.name, p.compute_dtype, p.variable_dtype) == ("mixed_float16", "float16", "float32")
    assert mp.DTypePolicy("bfloat16").variable_dtype == "bfloat16"
    assert mp.global_policy().name == "float32"
    with pytest.raises(ValueError, match="unknown policy 'mixed_int8'"):
        mp.DTypePolicy("mixed_int8")
    with pytest.raises(ValueError, match="Dense: invalid dtype='nope'"):
        Dense(3, dtype="nope")


def test_mixed_model_trains_with_float32_variables(mixed):
    model = trine.Sequential([Input((28, 28)), Flatten(), Dense(64, activation="relu"),
                              Dense(10, activation="softmax", dtype="float32")])
    assert model.layers[1].compute_dtype == "bfloat16"
    assert model.layers[-1].compute_dtype == "float32"
    rng = np.random.default_rng(0)
    x = rng.random((256, 28, 28), dtype=np.float32)
    y = (x.reshape(256, -1).mean(1) > 0.5).astype(np.int32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert all(np.isfinite(h.history["loss"]))
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert all(np.dtype(w.dtype) == np.float32 for w in model.weights)
    assert model.predict(x[:4], verbose=0).dtype == np.float32  # the float32 last layer
    hidden = trine.Model(model.inputs, model.layers[1].output)
    assert hidden.predict(x[:4], verbose=0).dtype == np.dtype("bfloat16")


def test_policy_in_config_and_files(mixed, tmp_path):
    layer = Dense(4)
    assert layer.get_config()["dtype"] == "mixed_bfloat16"
    clone = Dense.from_config(layer.get_config())
    assert clone.dtype_policy == mp.DTypePolicy("mixed_bfloat16")
    model = trine.Sequential([Input((3,)), Dense(4), Dense(2, dtype="float32")])
    model.save(tmp_path / "m.keras")
    mp.set_global_policy("float32")
    loaded = trine.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].compute_dtype == "bfloat16"
    assert loaded.layers[1].compute_dtype == "float32"
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_keras_loads_the_mixed_policy(mixed, tmp_path):
    keras = pytest.importorskip("keras")
    model = trine.Sequential([Input((3,)), Dense(4), Dense(2, dtype="float32")])
    model.save(tmp_path / "m.keras")
    k = keras.saving.load_model(tmp_path / "m.keras")
    assert k.layers[0].dtype_policy.name == "mixed_bfloat16"
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(np.asarray(k.predict(x, verbose=0)),
                               model.predict(x, verbose=0), rtol=1e-2, atol=1e-2)
