"""HashedCrossing (issue 23): Keras's buckets (TensorFlow's cross_hashed), shapes, errors.

Keras's layer needs TensorFlow, which the test environment lacks, so the expected buckets are
the ones Keras's own test suite asserts (keras/src/layers/preprocessing/hashed_crossing_test.py).
"""
import numpy as np
import pytest

import trine
from trine import layers as L

FEAT1 = np.array(["A", "B", "A", "B", "A"])
FEAT2 = np.array([101, 101, 101, 102, 102])


def test_int_buckets_equal_keras():
    out = L.HashedCrossing(num_bins=5)((FEAT1, FEAT2))
    np.testing.assert_array_equal(out, [1, 4, 1, 1, 3])
    assert out.dtype == np.int64 and out.shape == (5,)


def test_scalar_and_column_inputs():
    assert int(L.HashedCrossing(num_bins=10)((np.array("A"), np.array(101)))) == 1
    out = L.HashedCrossing(num_bins=5)((FEAT1[:, None], FEAT2[:, None]))
    np.testing.assert_array_equal(out, [[1], [4], [1], [1], [3]])
    # bytes and str hash alike; the order of the features matters
    out_b = L.HashedCrossing(num_bins=5)((FEAT1.astype("S"), FEAT2))
    np.testing.assert_array_equal(out_b, [1, 4, 1, 1, 3])
    swapped = L.HashedCrossing(num_bins=1000)((FEAT2, FEAT1))
    assert not np.array_equal(swapped, L.HashedCrossing(num_bins=1000)((FEAT1, FEAT2)))


def test_one_hot_equals_keras():
    layer = L.HashedCrossing(num_bins=5, output_mode="one_hot")
    out = layer((FEAT1, FEAT2))
    np.testing.assert_array_equal(out, np.eye(5, dtype="float32")[[1, 4, 1, 1, 3]])
    assert out.dtype == np.float32
    assert layer((FEAT1[:, None], FEAT2[:, None])).shape == (5, 5)
    assert layer.compute_output_shape([(None, 1), (None, 1)]) == (None, 5)


def test_three_features_and_negative_ints_are_deterministic():
    a, b, c = np.array([1, -2, 3]), np.array(["x", "y", "z"]), np.array([7, 7, -7])
    out = L.HashedCrossing(num_bins=7)((a, b, c))
    assert out.shape == (3,) and np.all((out >= 0) & (out < 7))
    np.testing.assert_array_equal(out, L.HashedCrossing(num_bins=7)((a, b, c)))


def test_config_round_trip_and_dtype():
    layer = L.HashedCrossing(num_bins=8, dtype="int32")
    cfg = layer.get_config()
    clone = L.HashedCrossing.from_config(cfg)
    assert clone.get_config() == cfg
    assert clone((FEAT1, FEAT2)).dtype == np.int32
    restored = trine.saving.deserialize_keras_object(trine.saving.serialize_keras_object(layer))
    np.testing.assert_array_equal(restored((FEAT1, FEAT2)), layer((FEAT1, FEAT2)))


@pytest.mark.parametrize("inputs,match", [
    (FEAT1, "at least two"),
    ((FEAT1,), "at least two"),
    ((np.array([1.0, 2.0]), np.array([1, 2])), "integer or string"),
    ((np.ones((2, 2), int), np.ones((2, 2), int)), r"\(batch, 1\)"),
    ((np.array([1, 2]), np.array([1, 2, 3])), "same shape"),
])
def test_bad_inputs_are_named(inputs, match):
    with pytest.raises(ValueError, match=match):
        L.HashedCrossing(num_bins=4)(inputs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_bins"):
        L.HashedCrossing(num_bins=0)
    with pytest.raises(ValueError, match="output_mode"):
        L.HashedCrossing(num_bins=3, output_mode="count")
    with pytest.raises(ValueError, match="sparse"):
        L.HashedCrossing(num_bins=3, sparse=True)


def test_refuses_symbolic_inputs():
    a, b = trine.Input((1,), dtype="int64"), trine.Input((1,), dtype="int64")
    with pytest.raises(TypeError, match="host"):
        L.HashedCrossing(num_bins=3)((a, b))
