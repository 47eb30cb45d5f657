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
def test_grouped_zero_point_matches_keras(keras, shape, block):
    x = _x(shape, seed=3)
    x[:, 0] = 0.5  # a constant column: the unit-range case
    mine = quantizers.abs_max_quantize_grouped_with_zero_point(x, block)
    theirs = keras.quantizers.abs_max_quantize_grouped_with_zero_point(x, block)
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
