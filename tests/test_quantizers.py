"""trine.quantizers, trine.dtype_policies and Layer/Model.quantize, against Keras 3 (JAX
backend) on the same inputs and the same float weights (issue 23)."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine import quantizers


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _x(shape=(6, 10), seed=0, scale=2.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


# ------------------------------------------------------------------ functions
@pytest.mark.parametrize("axis", [0, -1, (0, 1)])
@pytest.mark.parametrize("value_range", [(-127, 127), (-8, 7)])
@pytest.mark.parametrize("to_numpy", [False, True])
def test_abs_max_quantize_matches_keras(keras, axis, value_range, to_numpy):
    x = _x()
    mine = quantizers.abs_max_quantize(x, axis, value_range, to_numpy=to_numpy)
    theirs = keras.quantizers.abs_max_quantize(x, axis, value_range, to_numpy=to_numpy)
    np.testing.assert_array_equal(np.asarray(mine[0]), np.asarray(theirs[0]))
    assert mine[0].dtype == theirs[0].dtype
    np.testing.assert_allclose(np.asarray(mine[1]), np.asarray(theirs[1]), rtol=1e-6)


@pytest.mark.parametrize("shape,block", [((10, 6), 4), ((8, 3), 8), ((5, 4), 16), ((12, 2), 3)])
@pytest.mark.parametrize("to_numpy", [False, True])
def test_grouped_zero_point_matches_keras(keras, shape, block, to_numpy):
    x = _x(shape, seed=3)
    x[:, 0] = 0.5  # a constant column: the unit-range case
    mine = quantizers.abs_max_quantize_grouped_with_zero_point(x, block, to_numpy=to_numpy)
    theirs = keras.quantizers.abs_max_quantize_grouped_with_zero_point(x, block, to_numpy=to_numpy)
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_abs_max_quantizer_matches_keras_and_round_trips(keras):
    x = _x()
    for kwargs in ({}, {"axis": 0}, {"value_range": (-8, 7)}):
        mine, theirs = quantizers.AbsMaxQuantizer(**kwargs), keras.quantizers.AbsMaxQuantizer(**kwargs)
        for a, b in zip(mine(x), theirs(x)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
        assert mine.get_config() == theirs.get_config()
        assert quantizers.serialize(mine) == keras.quantizers.serialize(theirs)
        again = quantizers.deserialize(keras.quantizers.serialize(theirs))
        assert type(again) is quantizers.AbsMaxQuantizer and again.get_config() == mine.get_config()
    with pytest.raises(ValueError, match=r"\[-128, 127\]"):
        quantizers.AbsMaxQuantizer(value_range=(-200, 200))


@pytest.mark.parametrize("axis", [None, 1])
@pytest.mark.parametrize("narrow_range", [False, True])
@pytest.mark.parametrize("num_bits", [8, 4])
def test_fake_quant_matches_keras_with_gradients(keras, axis, narrow_range, num_bits):
    x = _x((4, 3), seed=5)
    low, high = (-1.5, 2.0) if axis is None else (np.array([-1.0, -2.0, -0.5], np.float32),
                                                  np.array([1.0, 0.5, 3.0], np.float32))
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    mine = quantizers.fake_quant_with_min_max_vars(x, low, high, num_bits, narrow_range, axis)
    theirs = keras.quantizers.fake_quant_with_min_max_vars(x, low, high, num_bits, narrow_range, axis)
    np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), rtol=1e-6, atol=1e-6)
    w = jnp.asarray(_x((4, 3), seed=6))

    def loss(fn):
        return lambda x, a, b: jnp.sum(fn(x, a, b, num_bits, narrow_range, axis) * w)

    g_mine = jax.grad(loss(quantizers.fake_quant_with_min_max_vars), argnums=(0, 1, 2))(x, low, high)
    g_theirs = jax.grad(loss(keras.quantizers.fake_quant_with_min_max_vars), argnums=(0, 1, 2))(
        x, low, high)
    for a, b in zip(g_mine, g_theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def test_float8_helpers_match_keras(keras):
    amax = jnp.array([0.0, 3.0, jnp.inf, 448.0 * 4])
    scale = jnp.array([2.0, 2.0, 2.0, 2.0])
    for margin in (0, 2):
        np.testing.assert_allclose(
            np.asarray(quantizers.compute_float8_scale(amax, scale, 448.0, margin)),
            np.asarray(keras.quantizers.compute_float8_scale(amax, scale, 448.0, margin)))
    history = jnp.arange(5, dtype=jnp.float32)
    x = _x()
    np.testing.assert_array_equal(
        np.asarray(quantizers.compute_float8_amax_history(x, history)),
        np.asarray(keras.quantizers.compute_float8_amax_history(x, history)))
    for qdtype in ("float8_e4m3fn", "float8_e5m2"):
        for compute in ("float32", "bfloat16"):
            a = quantizers.quantize_and_dequantize(x * 100, jnp.float32(0.3), qdtype, compute)
            b = keras.quantizers.quantize_and_dequantize(x * 100, jnp.float32(0.3), qdtype, compute)
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))


@pytest.mark.parametrize("shape,axis", [((3, 2), 0), ((2, 3), 1), ((4, 5, 3), -1), ((5, 2, 2), 0)])
@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_int4_packing_matches_keras(keras, shape, axis, dtype):
    low, high = (-8, 8) if dtype == "int8" else (0, 16)
    x = np.random.default_rng(1).integers(low, high, size=shape).astype(dtype)
    mine = quantizers.pack_int4(x, axis, dtype)
    theirs = keras.quantizers.pack_int4(x, axis, dtype)
    np.testing.assert_array_equal(np.asarray(mine[0]), np.asarray(theirs[0]))
    assert mine[1:] == tuple(theirs[1:])
    back = quantizers.unpack_int4(mine[0], mine[2], axis, dtype)
    np.testing.assert_array_equal(np.asarray(back), x)
    np.testing.assert_array_equal(np.asarray(back),
                                  np.asarray(keras.quantizers.unpack_int4(theirs[0], theirs[2], axis, dtype)))


def test_int4_packing_bad_input():
    with pytest.raises(ValueError, match="'int8' or 'uint8'"):
        quantizers.pack_int4(np.zeros((2, 2), np.int8), dtype="int16")
    with pytest.raises(TypeError, match="expected a int8 tensor"):
        quantizers.pack_int4(np.zeros((2, 2), np.float32))
    with pytest.raises(TypeError, match="int8 or uint8"):
        quantizers.unpack_int4(np.zeros((2, 2), np.float32), 4)


# ------------------------------------------------------------------ configs
def _config_cases(lib):
    q = lib.quantizers
    return [q.Int8QuantizationConfig(), q.Int8QuantizationConfig(activation_quantizer=None),
            q.Int8QuantizationConfig(weight_quantizer=q.AbsMaxQuantizer(axis=0)),
            q.Int4QuantizationConfig(), q.Int4QuantizationConfig(block_size=None),
            q.Int4QuantizationConfig(block_size=-1,
                                     weight_quantizer=q.AbsMaxQuantizer(value_range=(-8, 7))),
            q.Float8QuantizationConfig(),
            q.GPTQConfig(None, None, weight_bits=8, group_size=-1),
            q.AWQConfig(None, None, group_size=64)]


def test_configs_match_keras_and_round_trip(keras):
    for mine, theirs in zip(_config_cases(trine), _config_cases(keras)):
        assert mine.mode == theirs.mode
        record = quantizers.serialize(mine)
        if type(theirs).__name__ != "GPTQConfig":  # Keras's serializer has no GPTQConfig entry
            assert record == keras.quantizers.serialize(theirs)
        again = quantizers.deserialize(record)
        assert type(again) is type(mine) and again.get_config() == mine.get_config()
        assert quantizers.get(record).get_config() == mine.get_config()


@pytest.mark.parametrize("make,match", [
    (lambda q: q.Int4QuantizationConfig(block_size=0), "block_size"),
    (lambda q: q.Int4QuantizationConfig(weight_quantizer=q.AbsMaxQuantizer(value_range=(-8, 7))),
     "sub-channel"),
    (lambda q: q.Int4QuantizationConfig(block_size=None, weight_quantizer=q.AbsMaxQuantizer()),
     r"\(-8, 7\)"),
    (lambda q: q.Int8QuantizationConfig(weight_quantizer=q.AbsMaxQuantizer(output_dtype="int16")),
     "output_dtype"),
    (lambda q: q.GPTQConfig(None, None, weight_bits=5), "weight_bits"),
    (lambda q: q.GPTQConfig(None, None, hessian_damping=2.0), "hessian_damping"),
    (lambda q: q.GPTQConfig(None, None, group_size=0), "group_size"),
    (lambda q: q.AWQConfig(None, None, weight_bits=8), "4"),
    (lambda q: q.AWQConfig(None, None, num_grid_points=0), "num_grid_points"),
    (lambda q: q.AWQConfig(None, None, num_samples=0), "num_samples"),
])
def test_config_validation_like_keras(keras, make, match):
    with pytest.raises(ValueError, match=match):
        make(quantizers)
    with pytest.raises(ValueError):
        make(keras.quantizers)


def test_get_and_errors():
    assert quantizers.get(None) is None
    assert isinstance(quantizers.get("AbsMaxQuantizer"), quantizers.AbsMaxQuantizer)
    assert isinstance(quantizers.get("abs_max_quantizer", value_range=(-8, 7)),
                      quantizers.AbsMaxQuantizer)
    q = quantizers.AbsMaxQuantizer()
    assert quantizers.get(q) is q
    with pytest.raises(ValueError, match="Could not interpret"):
        quantizers.get("nope")
    with pytest.raises(ValueError, match="Unknown quantizer"):
        quantizers.deserialize({"class_name": "os.system", "config": {}})
    with pytest.raises(NotImplementedError, match="get_config"):
        quantizers.Quantizer().get_config()


# ------------------------------------------------------------------ dtype policies
_POLICY_NAMES = ["float32", "mixed_bfloat16", "int8_from_float32", "int8_from_mixed_bfloat16",
                 "int4_from_float32", "int4/128_from_float32", "int4/-1_from_bfloat16",
                 "float8_from_float32", "gptq/4/128_from_float32", "awq/4/-1_from_float32"]


@pytest.mark.parametrize("name", _POLICY_NAMES)
def test_dtype_policies_match_keras(keras, name):
    mine, theirs = trine.dtype_policies.get(name), keras.dtype_policies.get(name)
    assert type(mine).__name__ == type(theirs).__name__
    assert (mine.name, mine.compute_dtype, mine.variable_dtype, mine.quantization_mode) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype, theirs.quantization_mode)
    assert trine.dtype_policies.serialize(mine) == keras.dtype_policies.serialize(theirs)
    assert trine.dtype_policies.deserialize(keras.dtype_policies.serialize(theirs)) == mine


def test_float8_policy_history_length_and_float_alias(keras):
    mine = trine.dtype_policies.QuantizedFloat8DTypePolicy("float8", "float32", 16)
    theirs = keras.dtype_policies.QuantizedFloat8DTypePolicy("float8", "float32", 16)
    assert trine.dtype_policies.serialize(mine) == keras.dtype_policies.serialize(theirs)
    assert mine != trine.dtype_policies.get("float8_from_float32")
    with pytest.raises(TypeError, match="amax_history_length"):
        trine.dtype_policies.QuantizedFloat8DTypePolicy("float8", "float32", 1.5)
    f = trine.FloatDTypePolicy("bfloat16")
    assert f == trine.dtype_policies.DTypePolicy("bfloat16") and repr(f) == '<DTypePolicy "bfloat16">'
    assert trine.dtype_policies.serialize(f) == keras.dtype_policies.serialize(
        keras.FloatDTypePolicy("bfloat16"))


@pytest.mark.parametrize("default", [None, "bfloat16"])
def test_dtype_policy_map_matches_keras(keras, default):
    def build(lib):
        m = lib.dtype_policies.DTypePolicyMap(default)
        m["encoder/.*"] = "int8_from_float32"
        m["decoder/dense"] = lib.dtype_policies.DTypePolicy("float16")
        return m

    mine, theirs = build(trine), build(keras)
    for path in ("encoder/attention", "decoder/dense", "other"):
        assert mine[path].name == theirs[path].name
    assert (mine.name, mine.compute_dtype, len(mine)) == (theirs.name, theirs.compute_dtype, len(theirs))
    record = trine.dtype_policies.serialize(mine)
    assert record == keras.dtype_policies.serialize(theirs)
    again = trine.dtype_policies.deserialize(record)
    # without a default, Keras saves the policies nameless: they follow the global policy
    theirs_again = keras.dtype_policies.deserialize(record)
    assert again["encoder/x"].quantization_mode == "int8"
    assert again["decoder/dense"].name == theirs_again["decoder/dense"].name == (
        "float16" if default else "float32")
    mine["dec.*"] = "bfloat16"
    mine["decoder/.*"] = "bfloat16"
    with pytest.raises(ValueError, match="several"):
        mine["decoder/x"]
    with pytest.raises(ValueError, match="already has key"):
        mine["dec.*"] = "float32"
    with pytest.raises(ValueError, match="cannot itself be a DTypePolicyMap"):
        trine.dtype_policies.DTypePolicyMap(mine)


@pytest.mark.parametrize("name,error,match", [
    ("int8_from_float16", ValueError, "float16"),
    ("int4/0_from_float32", ValueError, "block_size"),
    ("int4/x_from_float32", ValueError, "integers"),
    ("gptq/5/128_from_float32", ValueError, "weight_bits"),
    ("awq/8/128_from_float32", ValueError, "4 bits"),
    ("int8", ValueError, "_from_"),
    ("not_a_dtype", ValueError, "Cannot interpret"),
])
def test_bad_policy_names(keras, name, error, match):
    with pytest.raises(error, match=match):
        trine.dtype_policies.get(name)
    with pytest.raises(Exception):
        keras.dtype_policies.get(name)


def test_policy_records_are_allow_listed():
    with pytest.raises(ValueError, match="Unknown dtype policy"):
        trine.dtype_policies.deserialize({"class_name": "Popen", "config": {}})


# ------------------------------------------------------------------ Layer / Model.quantize
def _pair(keras, make, input_shape, input_dtype="float32", seed=0):
    """The same model in trine and Keras with the same float weights."""
    theirs = keras.Sequential([keras.Input(input_shape, dtype=input_dtype), make(keras)])
    mine = trine.Sequential([trine.Input(input_shape, dtype=input_dtype), make(trine)])
    rng = np.random.default_rng(seed)
    for w_mine, w_theirs in zip(mine.layers[-1].weights, theirs.layers[-1].weights):
        assert w_mine.name == w_theirs.name
        value = rng.normal(size=w_theirs.shape).astype("float32")
        w_mine.assign(value)
        w_theirs.assign(value)
    return mine, theirs


def _variables(layer):
    return {v.name: (str(np.dtype(v.dtype)), tuple(v.shape), bool(v.trainable), np.asarray(v.value))
            for v in layer.weights}


def _check_same(mine, theirs, x, atol):
    """Same variables (names, dtypes, shapes, trainability, values) and predictions."""
    a, b = _variables(mine.layers[-1]), _variables(theirs.layers[-1])
    assert [v.name for v in mine.layers[-1].weights] == [v.name for v in theirs.layers[-1].weights]
    for name in b:
        assert a[name][:3] == b[name][:3], name
        np.testing.assert_allclose(a[name][3].astype("float32"), b[name][3].astype("float32"),
                                   rtol=1e-6, atol=1e-6, err_msg=name)
    assert mine.layers[-1].dtype_policy == theirs.layers[-1].dtype_policy or (
        mine.layers[-1].dtype_policy.name == theirs.layers[-1].dtype_policy.name)
    out_mine = np.asarray(mine.predict(x, verbose=0), "float32")
    out_theirs = np.asarray(theirs.predict(x, verbose=0), "float32")
    np.testing.assert_allclose(out_mine, out_theirs, rtol=atol, atol=atol)
    return out_mine


def _quantize_both(keras, mine, theirs, mode, config=None):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn that the InputLayer stays as it is
        theirs.quantize(mode, config=None if config is None else config(keras))
        mine.quantize(mode, config=None if config is None else config(trine))


# Tolerances: the quantized integer values and scales are equal to Keras's (checked exactly
# above); the outputs differ only by float32 summation order of the same integer/float
# products, so 1e-5 relative covers them (int8 products are summed exactly in int32).
_DENSE_CASES = [
    pytest.param("int8", None, id="int8"),
    pytest.param("int8", lambda lib: lib.quantizers.Int8QuantizationConfig(
        activation_quantizer=None), id="int8_weights_only"),
    pytest.param("int4", None, id="int4_blocks_128"),
    pytest.param("int4", lambda lib: lib.quantizers.Int4QuantizationConfig(block_size=None),
                 id="int4_per_channel"),
    pytest.param("int4", lambda lib: lib.quantizers.Int4QuantizationConfig(block_size=2),
                 id="int4_blocks_2"),
    pytest.param("int4", lambda lib: lib.quantizers.Int4QuantizationConfig(
        block_size=-1, activation_quantizer=lib.quantizers.AbsMaxQuantizer()),
        id="int4_per_channel_int8_inputs"),
    pytest.param("float8", None, id="float8"),
]


@pytest.mark.parametrize("mode,config", _DENSE_CASES)
def test_dense_quantize_matches_keras(keras, mode, config):
    mine, theirs = _pair(keras, lambda lib: lib.layers.Dense(7, activation="relu"), (5,))
    x = _x((4, 5), seed=9)
    _quantize_both(keras, mine, theirs, mode, config)
    _check_same(mine, theirs, x, atol=1e-5)


@pytest.mark.parametrize("mode,config", _DENSE_CASES)
def test_dense_input_gradient_matches_keras(keras, mode, config):
    mine, theirs = _pair(keras, lambda lib: lib.layers.Dense(3), (5,))
    _quantize_both(keras, mine, theirs, mode, config)
    x = jnp.asarray(_x((2, 5), seed=4))
    g_mine = jax.grad(lambda x: jnp.sum(mine.layers[-1](x) ** 2))(x)
    g_theirs = jax.grad(lambda x: jnp.sum(theirs.layers[-1](x) ** 2))(x)
    np.testing.assert_allclose(np.asarray(g_mine), np.asarray(g_theirs), rtol=1e-5, atol=1e-5)


_EINSUM_CASES = [  # equation, output_shape, bias_axes, input shape (no batch)
    ("ab,bc->ac", 6, "c", (5,)),
    ("abc,cd->abd", (None, 6), "d", (3, 5)),
    ("abc,cde->abde", (None, 2, 4), "e", (3, 5)),
    ("abcd,cde->abe", (None, 6), None, (3, 2, 4)),
]  # Keras 3.15 cannot quantize equations with "..." (it fails reading their rank)


@pytest.mark.parametrize("equation,output_shape,bias_axes,shape", _EINSUM_CASES)
@pytest.mark.parametrize("mode,config", _DENSE_CASES)
def test_einsum_dense_quantize_matches_keras(keras, equation, output_shape, bias_axes, shape, mode,
                                             config):
    mine, theirs = _pair(keras, lambda lib: lib.layers.EinsumDense(
        equation, output_shape, bias_axes=bias_axes, activation="tanh"), shape)
    _quantize_both(keras, mine, theirs, mode, config)
    x = _x((3,) + shape, seed=2)
    _check_same(mine, theirs, x, atol=1e-5)
    xj = jnp.asarray(x)
    g_mine = jax.grad(lambda x: jnp.sum(mine.layers[-1](x) ** 2))(xj)
    g_theirs = jax.grad(lambda x: jnp.sum(theirs.layers[-1](x) ** 2))(xj)
    np.testing.assert_allclose(np.asarray(g_mine), np.asarray(g_theirs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode,config", _DENSE_CASES)
def test_embedding_quantize_matches_keras(keras, mode, config):
    mine, theirs = _pair(keras, lambda lib: lib.layers.Embedding(9, 5), (4,), input_dtype="int32")
    _quantize_both(keras, mine, theirs, mode, config)
    x = np.random.default_rng(3).integers(0, 9, size=(6, 4)).astype("int32")
    _check_same(mine, theirs, x, atol=1e-6)
    # float8 is not an Embedding mode: both leave the layer as it was
    assert (mine.layers[-1].quantization_mode is None) == (mode == "float8")


# ------------------------------------------------------------------ saving
def _small_model(lib):
    return lib.Sequential([lib.Input((4,), dtype="int32"), lib.layers.Embedding(10, 6),
                           lib.layers.EinsumDense("abc,cd->abd", (None, 5), bias_axes="d"),
                           lib.layers.Dense(3)])


@pytest.mark.parametrize("mode", ["int8", "int4", "float8"])
def test_quantized_model_round_trips_through_files(keras, tmp_path, mode):
    import warnings
    model = _small_model(trine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # layers without the mode stay float, with a warning
        model.quantize(mode)
    x = np.random.default_rng(0).integers(0, 10, size=(3, 4)).astype("int32")
    expected = model.predict(x, verbose=0)
    path = str(tmp_path / "q.keras")
    model.save(path)
    again = trine.models.load_model(path)
    assert [l.dtype_policy.name for l in again.layers] == [l.dtype_policy.name for l in model.layers]
    np.testing.assert_array_equal(again.predict(x, verbose=0), expected)
    # the file is Keras's: Keras loads it to the same numbers
    theirs = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), expected, rtol=1e-5, atol=1e-5)
    weights = str(tmp_path / "q.weights.h5")
    model.save_weights(weights)
    fresh = _small_model(trine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh.quantize(mode)
    fresh.load_weights(weights)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), expected)


@pytest.mark.parametrize("mode", ["int8", "int4", "float8"])
def test_keras_quantized_file_loads_in_trine(keras, tmp_path, mode):
    import warnings
    theirs = _small_model(keras)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.quantize(mode)
    path = str(tmp_path / "k.keras")
    theirs.save(path)
    mine = trine.models.load_model(path)
    x = np.random.default_rng(1).integers(0, 10, size=(3, 4)).astype("int32")
    np.testing.assert_allclose(mine.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)


def test_quantized_model_trains_like_keras_freezes(keras):
    """int8 freezes the kernel (only the bias trains); float8 keeps the kernel trainable."""
    for mode, kernel_trains in (("int8", False), ("float8", True)):
        model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(2)])
        model.quantize(mode)
        model.compile(optimizer="sgd", loss="mse")
        kernel = np.asarray(model.layers[0].kernel.value).copy()
        bias = np.asarray(model.layers[0].bias.value).copy()
        x, y = _x((8, 4), seed=1), _x((8, 2), seed=2)
        model.fit(x, y, epochs=2, verbose=0)
        assert not np.array_equal(np.asarray(model.layers[0].bias.value), bias)
        assert (not np.array_equal(np.asarray(model.layers[0].kernel.value), kernel)) == kernel_trains
        assert np.all(np.isfinite(model.predict(x, verbose=0)))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_float8_training_updates_scales_as_keras(keras, optimizer):
    """float8's delayed scaling in fit: the scales and amax histories take the values the
    layer's gradient rule computes (overwrite_with_gradient), the kernel trains, and every
    variable matches Keras's after a few steps."""
    x, y = _x((32, 4), seed=3), _x((32, 3), seed=4)
    models = []
    for lib in (trine, keras):
        lib.utils.set_random_seed(0)
        models.append(lib.Sequential([lib.Input((4,)), lib.layers.Dense(3)]))
    mine, theirs = models
    theirs.set_weights(mine.get_weights())
    _quantize_both(keras, mine, theirs, "float8")
    for m in models:
        m.compile(optimizer=optimizer, loss="mse")
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    names = [v.name for v in theirs.layers[0].weights]
    assert [v.name for v in mine.layers[0].weights] == names
    for name, a, b in zip(names, mine.layers[0].get_weights(), theirs.layers[0].get_weights()):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5,
                                   err_msg=name)
    history = dict(zip(names, mine.layers[0].get_weights()))["inputs_amax_history"]
    assert np.count_nonzero(history) == 8  # one entry a step: 2 epochs of 4 batches


def test_a_layer_follows_its_entry_in_a_dtype_policy_map(keras):
    x = _x((2, 3))
    seen = []
    for lib in (trine, keras):
        policies = lib.dtype_policies.DTypePolicyMap(default_policy="float32")
        policies["dense"] = "mixed_bfloat16"
        mapped = lib.layers.Dense(2, dtype=policies, name="dense")
        other = lib.layers.Dense(2, dtype=policies, name="other")
        before = mapped.compute_dtype  # no entry before build: neither has a path yet
        mapped(x), other(x)
        seen.append((before, mapped.compute_dtype, mapped.variable_dtype, other.compute_dtype,
                     str(mapped(x).dtype), str(other(x).dtype), str(mapped.kernel.dtype)))
    assert seen[0] == seen[1]
    assert seen[0][:3] == ("float32", "bfloat16", "float32")


# ------------------------------------------------------------------ bad input
def _built_dense():
    layer = trine.layers.Dense(3)
    layer.build((None, 4))
    return layer


def test_quantize_bad_input_errors():
    with pytest.raises(ValueError, match="Invalid quantization mode 'int2'"):
        _built_dense().quantize("int2")
    with pytest.raises(ValueError, match="not built yet"):
        trine.layers.Dense(3).quantize("int8")
    layer = _built_dense()
    layer.quantize("int8")
    with pytest.raises(ValueError, match="quantized already"):
        layer.quantize("int8")
    with pytest.raises(ValueError, match="contradictory"):
        _built_dense().quantize("int8", config=quantizers.Int4QuantizationConfig())
    with pytest.raises(ValueError, match="GPTQConfig"):
        _built_dense().quantize("gptq")
    with pytest.raises(NotImplementedError, match="calibrat"):
        _built_dense().quantize("gptq", config=quantizers.GPTQConfig(None, None))
    with pytest.raises(ValueError, match="compute_dtype 'float16'"):
        layer = trine.layers.Dense(3, dtype="float16")
        layer.build((None, 4))
        layer.quantize("int8")

    class MyDense(trine.layers.Dense):
        pass

    sub = MyDense(3)
    sub.build((None, 4))
    with pytest.raises(NotImplementedError, match="type_check=False"):
        sub.quantize("int8")
    sub.quantize("int8", type_check=False)
    assert sub.quantization_mode == "int8"


def test_model_quantize_skips_other_layers_and_checks_arguments():
    model = trine.Sequential([trine.Input((4,)), trine.layers.Dense(3), trine.layers.Dropout(0.5),
                              trine.layers.Dense(2, name="head")])
    with pytest.raises(NotImplementedError, match="GPTQ / AWQ"):
        model.quantize(config=quantizers.AWQConfig(None, None))
    with pytest.raises(ValueError, match="unknown keyword"):
        model.quantize("int8", bogus=1)
    model.quantize("int8", filters="head")
    assert [l.quantization_mode for l in model.layers] == [None, None, "int8"]
    with pytest.raises(ValueError, match="quantized already"):
        model.quantize("int8")
    other = trine.Sequential([trine.layers.Dense(3), trine.layers.Dropout(0.5)])
    other.build((None, 4))
    with pytest.warns(UserWarning, match="Dropout"):
        other.quantize("int8", filters=lambda layer: True)
    assert [l.quantization_mode for l in other.layers] == ["int8", None]


@pytest.mark.parametrize("mode", ["int8", "int4", "float8"])
def test_dense_quantize_under_mixed_bfloat16_matches_keras(keras, mode):
    mine, theirs = _pair(keras, lambda lib: lib.layers.Dense(3, dtype="mixed_bfloat16"), (4,))
    _quantize_both(keras, mine, theirs, mode)
    assert mine.layers[-1].dtype_policy.name == f"{'int4/128' if mode == 'int4' else mode}" \
        "_from_mixed_bfloat16"
    # bfloat16 outputs: both round the same float32 results to bfloat16
    out = _check_same(mine, theirs, _x((5, 4)), atol=1e-2)
    assert out.dtype == np.float32


def test_quantization_config_base_matches_keras(keras):
    for lib in (trine, keras):
        with pytest.raises(NotImplementedError):
            lib.quantizers.QuantizationConfig().mode
    q = quantizers.AbsMaxQuantizer(axis=0)
    base = quantizers.QuantizationConfig
    assert base.weight_quantizer_or_default(None, q) is q
    assert base.weight_quantizer_or_default(quantizers.Int8QuantizationConfig(), q) is q
    assert base.activation_quantizer_or_default(None, q) is q
    assert base.activation_quantizer_or_default(
        quantizers.Int8QuantizationConfig(activation_quantizer=None), q) is None
    record = quantizers.serialize(quantizers.Int8QuantizationConfig(weight_quantizer=q))
    assert record == keras.quantizers.serialize(keras.quantizers.Int8QuantizationConfig(
        weight_quantizer=keras.quantizers.AbsMaxQuantizer(axis=0)))
    evil = {**record, "config": {**record["config"], "weight_quantizer": {
        "class_name": "Popen", "module": "subprocess", "config": {}}}}
    with pytest.raises(ValueError):
        quantizers.deserialize(evil)


def test_setting_a_quantized_policy_quantizes_like_keras(keras):
    mine, theirs = _pair(keras, lambda lib: lib.layers.Dense(4), (3,))
    mine.layers[-1].dtype_policy = "int8_from_float32"
    theirs.layers[-1].dtype_policy = "int8_from_float32"
    _check_same(mine, theirs, _x((2, 3)), atol=1e-5)
    assert mine.layers[-1].quantization_mode == "int8"
