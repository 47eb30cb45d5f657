"""Model.to_json / models.model_from_json / save_model aliases, against Keras 3."""
import inspect
import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import trine  # noqa: E402
from trine.saving import SavingError, UnsafeFileError  # noqa: E402

X = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)


@pytest.fixture(autouse=True, scope="module")
def _cheap_random_init():
    """Weights are copied or compared here, never learned."""
    from saving_utils import cheap_random_init
    mp = cheap_random_init()
    yield
    mp.undo()


def model(lib):
    x = lib.Input((4,), name="x")
    h = lib.layers.Dense(3, activation="relu", name="h")(x)
    return lib.Model(x, [lib.layers.Dense(2, name="o1")(h), lib.layers.Dense(1, name="o2")(h)],
                     name="two_heads")


def normalized(config):
    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k != "shared_object_id"}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    return strip(config)


def test_signatures_match_keras():
    pairs = [(trine.models.model_from_json, keras.models.model_from_json),
             (trine.models.save_model, keras.models.save_model),
             (trine.saving.save_model, keras.saving.save_model),
             (trine.models.load_model, keras.models.load_model),
             (trine.models.clone_model, keras.models.clone_model),
             (trine.Model.to_json, keras.Model.to_json)]
    for t, k in pairs:
        assert list(inspect.signature(t).parameters) == list(inspect.signature(k).parameters)
        assert [p.default for p in inspect.signature(t).parameters.values()] == \
            [p.default for p in inspect.signature(k).parameters.values()]


def test_json_round_trip_and_interop():
    tm, km = model(trine), model(keras)
    tj, kj = tm.to_json(), km.to_json()
    assert normalized(json.loads(tj))["config"]["layers"] == \
        normalized(json.loads(kj))["config"]["layers"]
    assert json.loads(tm.to_json(indent=2)) == json.loads(tj)  # kwargs go to json.dumps
    for text in (tj, kj):  # trine reads its own JSON and Keras's
        back = trine.models.model_from_json(text)
        assert back.get_config() == tm.get_config()
        back.set_weights(tm.get_weights())
        for a, b in zip(back(X), tm(X)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    kback = keras.models.model_from_json(tj)  # and Keras reads trine's
    kback.set_weights([np.asarray(w) for w in tm.get_weights()])
    for a, b in zip(kback(X), tm(X)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def test_json_of_a_sequential_and_custom_objects():
    @trine.saving.register_keras_serializable(package="test_json")
    class Scale(trine.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    s = trine.Sequential([trine.Input((4,)), Scale(3.0, name="scale")], name="seq")
    back = trine.models.model_from_json(s.to_json())
    assert type(back.layers[0]) is Scale and back.layers[0].factor == 3.0
    np.testing.assert_array_equal(np.asarray(back(X)), np.asarray(s(X)))


def test_save_model_aliases(tmp_path):
    tm = model(trine)
    p1, p2 = tmp_path / "a.keras", tmp_path / "b.keras"
    trine.models.save_model(tm, p1)
    trine.saving.save_model(tm, p2, overwrite=True, zipped=None)
    for p in (p1, p2):
        back = trine.models.load_model(p)
        for a, b in zip(back(X), tm(X)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        kback = keras.models.load_model(p)
        for a, b in zip(kback(X), tm(X)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("text, match", [
    ("{not json", "not valid JSON"),
    ("[1, 2, 3]", "not a model config"),
    ('{"layers": []}', "not a model config"),
    ('{"class_name": "Sequential", "config": 5}', "not a model config"),
])
def test_text_that_is_not_a_config(text, match):
    with pytest.raises(SavingError, match=match):
        trine.models.model_from_json(text)


def test_hostile_or_wrong_json():
    with pytest.raises(TypeError, match="json_string must be the str"):
        trine.models.model_from_json({"class_name": "Sequential"})
    evil = json.dumps({"module": "os", "class_name": "system", "config": {"command": "true"}})
    with pytest.raises((UnsafeFileError, SavingError)):
        trine.models.model_from_json(evil)
    unknown = json.loads(model(trine).to_json())
    unknown["config"]["layers"][1]["class_name"] = "NoSuchLayer"
    with pytest.raises((UnsafeFileError, SavingError), match="NoSuchLayer"):
        trine.models.model_from_json(json.dumps(unknown))
