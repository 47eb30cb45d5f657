"""Every registration form round-trips exactly through every route: a registered class and
function, custom objects nested in custom objects, and the same objects passed unregistered by
`custom_objects=` or a `custom_object_scope` — from_config, model_from_json, clone_model and
save/load_model each give the same config and == predictions."""
import json

import numpy as np
import pytest

import trine as keras


def _classes():
    class Gain(keras.initializers.Initializer):
        def __init__(self, value=0.25):
            self.value = value

        def __call__(self, shape, dtype=None, **kwargs):
            return keras.ops.full(shape, self.value, dtype=dtype)

        def get_config(self):
            return {"value": self.value}

    def softsq(x):
        return keras.ops.log1p(x * x)

    class Inner(keras.layers.Layer):
        def __init__(self, units=3, activation=None, kernel_initializer=None, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.activation = keras.activations.get(activation)
            self.kernel_initializer = keras.initializers.get(kernel_initializer or Gain())

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer=self.kernel_initializer, name="kernel")

        def call(self, x):
            return self.activation(keras.ops.matmul(x, self.kernel))

        def get_config(self):
            return {**super().get_config(), "units": self.units,
                    "activation": keras.activations.serialize(self.activation),
                    "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}

    class Outer(keras.layers.Layer):
        """A custom layer holding a custom layer (custom objects inside custom objects)."""

        def __init__(self, inner=None, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner if inner is not None else Inner(activation=softsq)

        def call(self, x):
            return self.inner(x) + 1.0

        def get_config(self):
            return {**super().get_config(),
                    "inner": keras.saving.serialize_keras_object(self.inner)}

        @classmethod
        def from_config(cls, config):
            config = dict(config)
            config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
            return cls(**config)

    return {"Gain": Gain, "softsq": softsq, "Inner": Inner, "Outer": Outer}


def _model(objs):
    inp = keras.Input((4,))
    h = objs["Outer"]()(inp)
    out = keras.layers.Dense(2, activation=objs["softsq"])(h)
    return keras.Model(inp, out)


def _routes(model, tmp_path, custom_objects):
    yield "from_config", keras.Model.from_config(model.get_config(), custom_objects=custom_objects)
    yield "json", keras.models.model_from_json(model.to_json(), custom_objects=custom_objects)
    with keras.saving.custom_object_scope(custom_objects or {}):
        yield "clone", keras.models.clone_model(model)
    model.save(tmp_path / "m.keras")
    yield "save", keras.models.load_model(tmp_path / "m.keras", custom_objects=custom_objects)


@pytest.mark.parametrize("form", ["registered", "custom_objects", "scope"])
def test_registration_forms_round_trip(form, tmp_path):
    objs = _classes()
    custom = None
    if form == "registered":
        for name, obj in objs.items():
            keras.saving.register_keras_serializable(package=f"forms_{tmp_path.name}")(obj)
    elif form == "custom_objects":
        custom = dict(objs)
    model = _model(objs)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    want = np.asarray(model.predict(x, verbose=0))
    cfg = json.loads(json.dumps(model.get_config()))
    scope = keras.saving.custom_object_scope(objs if form == "scope" else {})
    with scope:
        for route, other in _routes(model, tmp_path, custom):
            assert json.loads(json.dumps(other.get_config())) == cfg, route
            if route in ("from_config", "json", "clone"):
                other.set_weights(model.get_weights())
            np.testing.assert_array_equal(np.asarray(other.predict(x, verbose=0)), want)
            inner = other.layers[1].inner
            assert type(inner).__name__ == "Inner" and inner.activation is objs["softsq"]
            assert type(inner.kernel_initializer).__name__ == "Gain"
