"""Files with registered custom objects move between Keras and trine: the same class and
function registered under the same "package>name" on each side, equal predictions both ways."""
import numpy as np
import pytest

import trine

keras = pytest.importorskip("keras")


def _define(lib, tag):
    @lib.saving.register_keras_serializable(package=f"interop_{tag}", name="Scale")
    class Scale(lib.layers.Layer):
        def __init__(self, factor=1.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    @lib.saving.register_keras_serializable(package=f"interop_{tag}", name="cube")
    def cube(x):
        return x * x * x

    def build():
        inp = lib.Input((4,))
        h = Scale(0.5)(inp)
        out = lib.layers.Dense(3, activation=cube)(h)
        return lib.Model(inp, out)
    return build


@pytest.mark.parametrize("direction", ["keras->trine", "trine->keras"])
def test_registered_custom_objects_cross_over(direction, tmp_path):
    tag = direction.replace("->", "_").replace("-", "")
    builders = {"keras": _define(keras, tag), "trine": _define(trine, tag)}
    src, dst = direction.split("->")
    model = builders[src]()
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    x = rng.normal(size=(5, 4)).astype("float32")
    path = tmp_path / "custom.keras"
    model.save(path)
    lib = keras if dst == "keras" else trine
    loaded = lib.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-6, atol=1e-6)
    assert type(loaded.layers[1]).__name__ == "Scale" and loaded.layers[1].factor == 0.5
