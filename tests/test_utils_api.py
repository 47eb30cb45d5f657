"""trine.utils names Keras 3 keeps in keras.utils: pad_sequences, normalize and the
serialization helpers (the same objects as trine.saving's)."""
import numpy as np
import pytest

import trine


SEQS = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10]]


@pytest.mark.parametrize("kwargs", [
    {}, {"maxlen": 3}, {"maxlen": 4, "padding": "post"}, {"maxlen": 2, "truncating": "post"},
    {"maxlen": 6, "padding": "post", "truncating": "post", "value": -1},
    {"dtype": "float32", "value": 0.5},
])
def test_pad_sequences_matches_keras(kwargs):
    keras = pytest.importorskip("keras")
    ours = trine.utils.pad_sequences(SEQS, **kwargs)
    theirs = keras.utils.pad_sequences(SEQS, **kwargs)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_by_hand_and_its_errors():
    out = trine.utils.pad_sequences([[1, 2], [3]], maxlen=3)
    assert out.tolist() == [[0, 1, 2], [0, 0, 3]] and out.dtype == np.int32
    assert trine.utils.pad_sequences(SEQS, maxlen=0).shape == (4, 0)  # Keras 3.15 raises here
    vecs = trine.utils.pad_sequences([np.ones((2, 3)), np.ones((1, 3))], dtype="float32")
    assert vecs.shape == (2, 2, 3) and vecs[1, 0].sum() == 0
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post'"):
        trine.utils.pad_sequences(SEQS, padding="middle")
    with pytest.raises(ValueError, match="must be a list of sequences"):
        trine.utils.pad_sequences([1, 2])
    with pytest.raises(ValueError, match="sequence 1 has items of shape"):
        trine.utils.pad_sequences([np.ones((2, 3)), np.ones((2, 4))])


def test_normalize_matches_keras():
    keras = pytest.importorskip("keras")
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    for order in (2, 1):
        np.testing.assert_allclose(trine.utils.normalize(x, -1, order),
                                   np.asarray(keras.utils.normalize(x, -1, order)), rtol=1e-6)
    # along the first axis (Keras 3.15's own raises on a broadcast there): columns of norm 1
    cols = trine.utils.normalize(x, axis=0)
    np.testing.assert_allclose(np.linalg.norm(cols, axis=0), [1.0, 1.0], rtol=1e-6)


def test_serialization_helpers_are_saving_s():
    from trine.saving import serialization
    for name in ("register_keras_serializable", "get_registered_name", "get_registered_object",
                 "serialize_keras_object", "deserialize_keras_object", "custom_object_scope",
                 "CustomObjectScope", "get_custom_objects"):
        assert getattr(trine.utils, name) is getattr(serialization, name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        trine.utils.nope  # noqa: B018


def test_get_custom_objects_is_the_live_registry(tmp_path):
    class Twice(trine.layers.Layer):
        def call(self, x):
            return 2.0 * x

    trine.utils.get_custom_objects()["Twice"] = Twice  # Keras docs: a plain name
    try:
        inp = trine.Input((2,))
        m = trine.Model(inp, Twice()(inp))
        path = tmp_path / "twice.keras"
        m.save(path)
        # registered through the dict alone: the file's class resolves without custom_objects
        back = trine.saving.load_model(path)
        np.testing.assert_array_equal(back.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])
    finally:
        trine.utils.get_custom_objects().pop("Twice", None)
