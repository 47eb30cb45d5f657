"""A required custom object that is missing at load time is a clear error, for every kind of
object a file can hold — never a default in its place; and bad configs are clear errors."""
import json

import numpy as np
import pytest

import trine as keras
from trine.saving import SavingError


def _registered(kind):
    """(object to use, name it registers under, how to build a model with it)."""
    pkg = "errs"
    if kind == "layer":
        class Scale(keras.layers.Layer):
            def __init__(self, factor=2.0, **kw):
                super().__init__(**kw)
                self.factor = factor

            def call(self, x):
                return x * self.factor

            def get_config(self):
                return {**super().get_config(), "factor": self.factor}
        obj = keras.saving.register_keras_serializable(pkg)(Scale)
        return obj, lambda: keras.Sequential([keras.Input((3,)), obj(), keras.layers.Dense(2)])
    if kind == "activation":
        def cube(x):
            return x ** 3
        obj = keras.saving.register_keras_serializable(pkg)(cube)
        return obj, lambda: keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation=obj)])
    if kind in ("initializer", "regularizer", "constraint"):
        if kind == "initializer":
            class Half(keras.initializers.Initializer):
                def __call__(self, shape, dtype=None, **kw):
                    return keras.ops.full(shape, 0.5, dtype=dtype)

                def get_config(self):
                    return {}
            obj = keras.saving.register_keras_serializable(pkg)(Half)
            arg = {"kernel_initializer": obj()}
        elif kind == "regularizer":
            class Tiny(keras.regularizers.Regularizer):
                def __call__(self, w):
                    return 1e-3 * keras.ops.sum(w)

                def get_config(self):
                    return {}
            obj = keras.saving.register_keras_serializable(pkg)(Tiny)
            arg = {"kernel_regularizer": obj()}
        else:
            class Clip(keras.constraints.Constraint):
                def __call__(self, w):
                    return keras.ops.clip(w, -1, 1)

                def get_config(self):
                    return {}
            obj = keras.saving.register_keras_serializable(pkg)(Clip)
            arg = {"kernel_constraint": obj()}
        return obj, lambda: keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, **arg)])
    if kind in ("loss-function", "metric-function"):
        def sq_err(y_true, y_pred):
            return keras.ops.mean((y_true - y_pred) ** 2, axis=-1)
        obj = keras.saving.register_keras_serializable(pkg, name=f"sq_err_{kind}")(sq_err)

        def build():
            m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            if kind == "loss-function":
                m.compile(optimizer="sgd", loss=obj)
            else:
                m.compile(optimizer="sgd", loss="mse", metrics=[obj])
            return m
        return obj, build
    if kind in ("loss-class", "metric-class"):
        if kind == "loss-class":
            class AbsLoss(keras.losses.Loss):
                def call(self, y_true, y_pred):
                    return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)
            obj = keras.saving.register_keras_serializable(pkg)(AbsLoss)
            compile_args = {"loss": obj()}
        else:
            class Count(keras.metrics.MeanSquaredError):
                pass
            obj = keras.saving.register_keras_serializable(pkg)(Count)
            compile_args = {"loss": "mse", "metrics": [obj(name="count")]}

        def build():
            m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            m.compile(optimizer="sgd", **compile_args)
            return m
        return obj, build
    if kind == "schedule":
        class Halving(keras.optimizers.schedules.LearningRateSchedule):
            def __call__(self, step):
                return 0.1 * 0.5 ** (step // 10)

            def get_config(self):
                return {}
        obj = keras.saving.register_keras_serializable(pkg)(Halving)

        def build():
            m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            m.compile(optimizer=keras.optimizers.SGD(learning_rate=obj()), loss="mse")
            return m
        return obj, build
    raise AssertionError(kind)


KINDS = ["layer", "activation", "initializer", "regularizer", "constraint", "loss-function",
         "loss-class", "metric-function", "metric-class", "schedule"]


@pytest.mark.parametrize("kind", KINDS)
def test_missing_custom_object_is_a_clear_error(kind, tmp_path):
    obj, build = _registered(kind)
    model = build()
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    if model.compiled:
        model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    # with the object registered it comes back exactly
    back = keras.models.load_model(path)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    key = keras.saving.get_registered_name(obj)
    registry = keras.saving.get_custom_objects()
    del registry[key]
    try:
        with pytest.raises((SavingError, ValueError)) as err:
            keras.models.load_model(path)
        message = str(err.value)
        assert key in message or obj.__name__ in message, message
        assert "register" in message or "custom_objects" in message, message
        # passed back explicitly, it loads exactly again
        back = keras.models.load_model(path, custom_objects={key: obj, obj.__name__: obj})
        np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    finally:
        registry[key] = obj


def test_registered_name_pointing_at_another_class_is_refused():
    @keras.saving.register_keras_serializable("errs")
    class Other(keras.layers.Layer):
        def get_config(self):
            return super().get_config()

    record = {"module": "keras.layers", "class_name": "Dense", "config": {"units": 2},
              "registered_name": "errs>Other"}
    with pytest.raises(SavingError, match=r"errs>Other.*Other.*Dense|Dense.*errs>Other"):
        keras.saving.deserialize_keras_object(record)


@pytest.mark.parametrize("bad, match", [
    ({"module": "keras.layers", "class_name": "Dense",
      "config": {"units": 2, "no_such_option": 3}}, "no_such_option"),
    ({"module": "keras.layers", "class_name": "Dense", "config": {"units": "two"}}, "Dense"),
    ({"module": "keras.layers", "class_name": "Dense", "config": [1, 2]}, "config"),
    ({"module": "keras.layers", "class_name": 7, "config": {}}, "class_name"),
])
def test_bad_configs_are_clear_errors(bad, match):
    with pytest.raises((SavingError, ValueError, TypeError), match=match):
        keras.saving.deserialize_keras_object(bad)


@pytest.mark.parametrize("text", ["[1, 2, 3]", "{\"class_name\": \"Dense\"}", "not json",
                                  "{\"class_name\": \"Dense\", \"config\": 3}"])
def test_json_that_is_not_a_model_config(text):
    with pytest.raises(SavingError):
        keras.models.model_from_json(text)


def test_json_of_a_layer_gives_the_layer_as_in_keras():
    text = json.dumps({"module": "keras.layers", "class_name": "Dense", "config": {"units": 2},
                       "registered_name": None})
    assert isinstance(keras.models.model_from_json(text), keras.layers.Dense)


def test_layers_and_schedules_serialize_deserialize():
    layer = keras.layers.deserialize({"class_name": "Dense", "config": {"units": 3}})
    assert isinstance(layer, keras.layers.Dense) and layer.units == 3
    sched = keras.optimizers.schedules.deserialize(
        {"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1,
                                                      "decay_steps": 10, "decay_rate": 0.5}})
    assert isinstance(sched, keras.optimizers.schedules.ExponentialDecay)
    record = json.loads(json.dumps(keras.optimizers.schedules.serialize(sched)))
    assert record["module"] == "keras.optimizers.schedules"
    assert keras.optimizers.schedules.deserialize(record).get_config() == sched.get_config()
