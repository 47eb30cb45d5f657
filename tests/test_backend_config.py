"""trine.backend / trine.config / the trine.utils helpers against Keras's, and each setting
taking effect where trine reads it."""
import logging

import numpy as np
import pytest

import trine
from trine import config

keras = pytest.importorskip("keras")

DTYPES = [None, "int", "bool", int, float, bool, "float32", np.float64, np.dtype("int16"),
          "uint8", "bfloat16", "complex64", "string", "float", "double", "float8_e4m3fn"]
PAIRS = [("int32", "float16"), ("int64", "float32"), ("uint8", "int8"), (int, "float16"),
         (float, "int32"), ("bool", int), (None,), ("int32",), (int, float),
         ("bfloat16", "float16"), ("uint32", "int32"), ("uint64", "int64"), (),
         ("float32", "float64"), (int, "int8"), (float, "bfloat16"), ("bool", "bool"),
         ("float8_e5m2", "float32")]


@pytest.fixture(autouse=True)
def _restore_settings():
    saved = dict(config._SETTINGS)
    ksaved = (keras.config.floatx(), keras.config.epsilon(), keras.config.image_data_format())
    yield
    config._SETTINGS.update(saved)
    keras.config.set_floatx(ksaved[0])
    keras.config.set_epsilon(ksaved[1])
    keras.config.set_image_data_format(ksaved[2])


def _outcome(fn, *args):
    try:
        return fn(*args)
    except ValueError:
        return "ValueError"


@pytest.mark.parametrize("dtype", DTYPES, ids=[repr(d) for d in DTYPES])
def test_dtype_names_match_keras(dtype):
    B = keras.backend
    assert _outcome(trine.backend.standardize_dtype, dtype) == _outcome(B.standardize_dtype,
                                                                        dtype)
    assert trine.utils.standardize_dtype is trine.backend.standardize_dtype
    if _outcome(B.standardize_dtype, dtype) != "ValueError":
        assert trine.backend.is_float_dtype(dtype) == B.is_float_dtype(dtype)
        assert trine.backend.is_int_dtype(dtype) == B.is_int_dtype(dtype)


@pytest.mark.parametrize("dtypes", PAIRS, ids=[repr(p) for p in PAIRS])
def test_result_type_matches_keras(dtypes):
    assert _outcome(trine.backend.result_type, *dtypes) == _outcome(keras.backend.result_type,
                                                                    *dtypes)


def test_every_keras_config_and_backend_name_exists():
    for ns, mine in ((keras.config, trine.config), (keras.backend, trine.backend)):
        assert [n for n in dir(ns) if not n.startswith("_") and not hasattr(mine, n)] == []


def test_set_floatx_changes_layer_dtypes():
    for lib in (trine, keras):
        lib.config.set_floatx("float16")
    x = np.ones((2, 3), "float16")
    t, k = trine.layers.Dense(4), keras.layers.Dense(4)
    assert t(x).dtype == k(x).dtype
    assert t.kernel.dtype == k.kernel.dtype == "float16"
    assert trine.backend.floatx() == trine.config.floatx() == "float16"
    assert trine.backend.standardize_dtype(None) == "float16"
    with pytest.raises(ValueError, match="set_floatx: value must be one of"):
        trine.config.set_floatx("int32")


def test_set_epsilon_changes_losses():
    y_true, y_pred = np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]])
    for eps in (1e-2, 1e-7):
        trine.config.set_epsilon(eps)
        keras.config.set_epsilon(eps)
        np.testing.assert_allclose(
            trine.losses.mean_absolute_percentage_error(y_true, y_pred),
            keras.losses.mean_absolute_percentage_error(y_true, y_pred), rtol=1e-5)
        np.testing.assert_allclose(trine.ops.normalize(y_true * 0 + 1e-9, epsilon=None),
                                   keras.ops.normalize(y_true * 0 + 1e-9), rtol=1e-5)


def test_image_data_format_reaches_layers_and_ops():
    for lib in (trine, keras):
        lib.config.set_image_data_format("channels_first")
    x = np.random.default_rng(0).random((1, 3, 8, 6)).astype("float32")
    for layer in ("Conv2D", "MaxPooling2D"):
        args = (2, 3) if layer == "Conv2D" else ()
        assert (tuple(getattr(trine.layers, layer)(*args)(x).shape)
                == tuple(getattr(keras.layers, layer)(*args)(x).shape))
    np.testing.assert_allclose(trine.ops.image.resize(x, (4, 4)),
                               keras.ops.image.resize(x, (4, 4)), atol=1e-6)
    with pytest.raises(ValueError, match="must be one of"):
        trine.config.set_image_data_format("nhwc")


def test_get_uid_and_keras_tensor():
    for lib in (trine, keras):
        lib.backend.clear_session()
    assert ([trine.backend.get_uid("x") for _ in range(3)]
            == [keras.backend.get_uid("x") for _ in range(3)])
    tx, kx = trine.Input((3,)), keras.Input((3,))
    for lib, t in ((trine, tx), (keras, kx)):
        assert lib.backend.is_keras_tensor(t) and lib.utils.is_keras_tensor(t)
        assert not lib.backend.is_keras_tensor(np.ones(3))


def test_source_inputs_and_packing():
    a, b = trine.Input((2,), name="a"), trine.Input((2,), name="b")
    out = trine.layers.Dense(2)(trine.layers.Concatenate()([b, a])) + a
    srcs = trine.utils.get_source_inputs(out)
    ka, kb = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    kout = keras.layers.Dense(2)(keras.layers.Concatenate()([kb, ka])) + ka
    assert [s.name for s in srcs] == [s.name for s in keras.utils.get_source_inputs(kout)]
    assert trine.utils.get_source_inputs(a) == [a]
    for args in ((1,), ((1, 2),), ([1], 2), (1, 2, 3), (1, None, 3)):
        packed = trine.utils.pack_x_y_sample_weight(*args)
        assert packed == keras.utils.pack_x_y_sample_weight(*args)
        assert (trine.utils.unpack_x_y_sample_weight(packed)
                == keras.utils.unpack_x_y_sample_weight(packed))


def test_interactive_logging_switch(capsys, caplog):
    model = trine.Sequential([trine.Input((2,)), trine.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    trine.utils.disable_interactive_logging()
    assert not trine.config.is_interactive_logging_enabled()
    with caplog.at_level(logging.INFO, logger="trine"):
        model.fit(x, y, epochs=1, verbose=1)
    assert capsys.readouterr().out == ""
    assert any("loss" in r.getMessage() for r in caplog.records)
    trine.utils.enable_interactive_logging()
    model.fit(x, y, epochs=1, verbose=1)
    assert "loss" in capsys.readouterr().out
    pb = trine.utils.Progbar(3)
    pb.update(3)
    assert "3/3" in capsys.readouterr().out


def test_switches_and_flags():
    assert trine.config.backend() == keras.config.backend() == "jax"
    assert not trine.config.unsafe_deserialization_enabled()
    trine.config.enable_unsafe_deserialization()
    assert trine.config.unsafe_deserialization_enabled()
    for name in ("traceback_filtering", "interactive_logging"):
        getattr(trine.config, f"disable_{name}")()
        assert getattr(trine.config, f"is_{name}_enabled")() is False
        getattr(trine.config, f"enable_{name}")()
        assert getattr(trine.config, f"is_{name}_enabled")() is True
    assert trine.config.is_flash_attention_enabled() is keras.config.is_flash_attention_enabled()
    trine.config.set_dtype_policy("mixed_bfloat16")
    try:
        assert trine.config.dtype_policy().compute_dtype == "bfloat16"
    finally:
        trine.config.set_dtype_policy("float32")
    with pytest.raises(ValueError, match="runs on JAX only"):
        trine.config.set_backend("torch")
    with pytest.raises(ValueError, match="integer >= 1"):
        trine.config.set_max_epochs(0)


def test_max_epochs_and_steps_cap_fit():
    x, y = np.ones((80, 4), "float32"), np.ones((80, 1), "float32")
    counts = {}
    for lib in (trine, keras):
        seen = {"epochs": 0, "batches": 0}

        class Count(lib.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                seen["epochs"] += 1

            def on_train_batch_begin(self, batch, logs=None):
                seen["batches"] += 1

        model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(1)])
        model.compile("sgd", "mse")
        lib.config.set_max_epochs(2)
        lib.config.set_max_steps_per_epoch(3)
        try:
            history = model.fit(x, y, batch_size=8, epochs=4, callbacks=[Count()], verbose=0)
        finally:
            lib.config.set_max_epochs(None)
            lib.config.set_max_steps_per_epoch(None)
        counts[lib.__name__] = (seen["epochs"], seen["batches"], len(history.history["loss"]))
    assert counts["trine"] == counts["keras"] == (2, 6, 2)
