"""Model files interchange with Keras 3 (JAX backend), both ways.

For the seed's three models, the two-input model, a graph whose layer order Keras computes
differently from the order it was written in, and every layer class `trine.layers` exports:
trine writes, Keras reads (and the reverse), and both predict the same (max abs diff <= 1e-6).
The weights files are also compared structurally: same groups, datasets, shapes, dtypes and
`name` attributes as the file Keras writes for the same model.
"""
import inspect
import json
import os

import numpy as np
import pytest

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

import trine  # noqa: E402

ATOL = 1e-6


@pytest.fixture(autouse=True, scope="module")
def _cheap_random_init():
    """Weights are overwritten or compared here, never learned: skip compiling a random kernel per weight shape."""
    from saving_utils import cheap_random_init
    mp = cheap_random_init()
    yield
    mp.undo()


# ---------------------------------------------------------------------------- helpers
def layout(path):
    """{h5 path: ("group", attrs) or (shape, dtype)} of a weights file."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                out[name] = ("group", {k: str(v) for k, v in obj.attrs.items()})
            else:
                out[name] = (obj.shape, obj.dtype.str)
        f.visititems(visit)
    return out


def normalized(config):
    """JSON-normal form without Keras's object-sharing ids."""
    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k != "shared_object_id"}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    return strip(json.loads(json.dumps(config)))


def fresh():
    trine.clear_session()
    keras.backend.clear_session()
    trine.utils.set_random_seed(3)
    keras.utils.set_random_seed(3)


def outputs(model, x):
    y = model(x, training=False)  # Keras's random layers default to training=True
    if isinstance(y, dict):
        return [np.asarray(y[k]) for k in sorted(y)]
    if isinstance(y, (list, tuple)):
        return [np.asarray(v) for v in y]
    return [np.asarray(y)]


def assert_close(a_list, b_list):
    assert len(a_list) == len(b_list)
    for a, b in zip(a_list, b_list):
        assert a.shape == b.shape
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))
        assert diff <= ATOL, f"max abs difference {diff:.3g} > {ATOL}"


def randomize(weights, names, rng):
    out = []
    for w, n in zip(weights, names):
        r = rng.normal(scale=0.3, size=np.shape(w)).astype(np.asarray(w).dtype)
        if "variance" in n:
            r = np.abs(r) + 0.5
        out.append(r)
    return out


def archive_weights_layout(path, tmp_path):
    import zipfile
    with zipfile.ZipFile(path) as zf:
        data = zf.read("model.weights.h5")
    out = tmp_path / (path.stem + ".from_archive.h5")
    out.write_bytes(data)
    return layout(out)


def quick_round_trip(tmodel, kmodel, x, tmp_path):
    """Archives only, both ways, plus the weights layout inside them."""
    tp, kp = tmp_path / "t.keras", tmp_path / "k.keras"
    tmodel.save(tp)
    assert_close(outputs(tmodel, x), outputs(keras.saving.load_model(tp), x))
    kmodel.set_weights(randomize(kmodel.get_weights(), [v.path for v in kmodel.weights],
                                 np.random.default_rng(5)))
    kmodel.save(kp)
    assert_close(outputs(kmodel, x), outputs(trine.models.load_model(kp), x))
    assert archive_weights_layout(tp, tmp_path) == archive_weights_layout(kp, tmp_path)


def round_trip(tmodel, kmodel, x, tmp_path, compare_layout=True):
    """trine -> Keras and Keras -> trine, for two models of the same architecture."""
    tp, kp = tmp_path / "t.keras", tmp_path / "k.keras"
    # trine writes, Keras reads
    tmodel.save(tp)
    tmodel.save_weights(tmp_path / "t.weights.h5")
    assert_close(outputs(tmodel, x), outputs(keras.saving.load_model(tp), x))
    kmodel.load_weights(tmp_path / "t.weights.h5")
    assert_close(outputs(tmodel, x), outputs(kmodel, x))
    # Keras writes (other weights), trine reads
    kmodel.set_weights(randomize(kmodel.get_weights(), [v.path for v in kmodel.weights],
                                 np.random.default_rng(5)))
    kmodel.save(kp)
    kmodel.save_weights(tmp_path / "k.weights.h5")
    assert_close(outputs(kmodel, x), outputs(trine.models.load_model(kp), x))
    tmodel.load_weights(tmp_path / "k.weights.h5")
    assert_close(outputs(kmodel, x), outputs(tmodel, x))
    if compare_layout:
        assert layout(tmp_path / "t.weights.h5") == layout(tmp_path / "k.weights.h5")


X28 = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)
X784 = [np.random.default_rng(1).random((4, 784), dtype=np.float32),
        np.random.default_rng(2).random((4, 784), dtype=np.float32)]
X8 = np.random.default_rng(3).normal(size=(4, 8)).astype(np.float32)


# ---------------------------------------------------------------------------- the seed's models
def seed_sequential(lib):
    L = lib.layers
    return lib.Sequential([L.Input(shape=(28, 28)), L.Flatten(), L.Dense(300, activation="relu"),
                           L.Dense(100, activation="relu"), L.Dense(10, activation="softmax")])


def seed_functional(lib):
    L = lib.layers
    inputs = L.Input(shape=(28, 28))
    x = L.Flatten()(inputs)
    x = L.Dense(300, activation="relu")(x)
    x = L.Dense(100, activation="relu")(x)
    return lib.Model(inputs, L.Dense(10, activation="softmax")(x))


def two_input(lib):
    L = lib.layers
    a = L.Input(shape=(784,), name="input_1")
    b = L.Input(shape=(784,), name="input_2")
    x = L.concatenate([L.Dense(64, activation="relu")(a), L.Dense(64, activation="relu")(b)])
    x = L.Dense(32, activation="tanh")(x)
    return lib.Model([a, b], L.Dense(10, activation="softmax")(x))


def reordered(lib):
    """Keras lists these layers by depth (a, c, b), not in the order they were written (c, a,
    b); weights of same-shaped Dense layers must still land on the right layer."""
    L = lib.layers
    x = L.Input(shape=(8,), name="x")
    c = L.Dense(8, name="c")(x)
    b = L.Dense(8, name="b")(L.Dense(8, name="a")(x))
    return lib.Model(x, L.Add(name="add")([c, b]))


def _subclass(lib, package):
    L = lib.layers

    @lib.saving.register_keras_serializable(package=package, name="Classifier")
    class Classifier(lib.Model):
        def __init__(self, hidden=(300, 100), classes=10, **kwargs):
            super().__init__(**kwargs)
            self.hidden, self.classes = list(hidden), classes
            self.flatten = L.Flatten()
            self.blocks = [L.Dense(h, activation="relu") for h in self.hidden]
            self.out = L.Dense(classes, activation="softmax")

        def call(self, x):
            x = self.flatten(x)
            for b in self.blocks:
                x = b(x)
            return self.out(x)

        def get_config(self):
            cfg = super().get_config()
            cfg.update(hidden=self.hidden, classes=self.classes)
            return cfg

    return Classifier


TrineClassifier = _subclass(trine, "seed")
KerasClassifier = _subclass(keras, "seed")


def seed_subclassed(lib):
    m = (TrineClassifier if lib is trine else KerasClassifier)()
    m(X28[:1])  # Keras builds a subclassed model's layers only by calling it
    return m




@pytest.mark.parametrize("make,x", [(seed_sequential, X28), (seed_functional, X28),
                                    (seed_subclassed, X28), (two_input, X784), (reordered, X8)],
                         ids=["sequential", "functional", "subclassed", "two-input", "reordered"])
def test_models_interchange(make, x, tmp_path):
    fresh()
    tmodel = make(trine)
    fresh()
    kmodel = make(keras)
    if make is not seed_subclassed:
        # the configs are the ones Keras writes for the same model
        assert normalized(tmodel.get_config()) == normalized(kmodel.get_config())
    round_trip(tmodel, kmodel, x, tmp_path)


def test_config_json_matches_keras(tmp_path):
    """The whole config.json of a compiled model, as Keras writes it."""
    import zipfile
    configs = []
    for lib in (trine, keras):
        fresh()
        m = two_input(lib)
        m.compile(optimizer=lib.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        m.save(tmp_path / f"{lib.__name__}.keras")
        with zipfile.ZipFile(tmp_path / f"{lib.__name__}.keras") as zf:
            configs.append(normalized(json.loads(zf.read("config.json"))))
    t, k = configs
    k["compile_config"]["steps_per_execution"] = t["compile_config"]["steps_per_execution"]
    assert t == k


# ---------------------------------------------------------------------------- optimizer state
def _train(lib, model, x, y):
    model.compile(optimizer=lib.optimizers.Adam(1e-2), loss="mse")
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    return model


def _keras_opt_arrays(model):
    return [np.asarray(v) for v in model.optimizer.variables]


def test_optimizer_state_interchanges(tmp_path):
    """Adam's step, learning rate and moments move between the libraries, per variable."""
    y = np.random.default_rng(4).normal(size=(4, 8)).astype(np.float32)
    fresh()
    kmodel = _train(keras, reordered(keras), X8, y)
    kmodel.save(tmp_path / "k.keras")
    tmodel = trine.models.load_model(tmp_path / "k.keras")
    assert tmodel._step == 2
    tmodel.save_weights(tmp_path / "t.weights.h5")
    with h5py.File(tmp_path / "t.weights.h5", "r") as f:
        saved = [np.asarray(f["optimizer/vars"][str(i)]) for i in range(len(f["optimizer/vars"]))]
    ref = _keras_opt_arrays(kmodel)
    assert len(saved) == len(ref) == 2 + 2 * 6
    for a, b in zip(saved, ref):
        np.testing.assert_array_equal(a, b)
    # trine trains, Keras continues from trine's state
    fresh()
    tmodel = _train(trine, reordered(trine), X8, y)
    tmodel.save(tmp_path / "t.keras")
    kloaded = keras.saving.load_model(tmp_path / "t.keras")
    from trine.saving.weights import _optimizer_arrays
    for a, b in zip(_optimizer_arrays(tmodel), _keras_opt_arrays(kloaded)):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------- every layer
def _int(shape, high=10):
    return ("int32", shape, high)


# name -> (make(layers), input shape(s) without batch, how to call)
RECIPES = {
    "Dense": (lambda L: L.Dense(5, activation="relu"), (6,)),
    "Activation": (lambda L: L.Activation("tanh"), (6,)),
    "ReLU": (lambda L: L.ReLU(max_value=2.0, negative_slope=0.1), (6,)),
    "LeakyReLU": (lambda L: L.LeakyReLU(0.2), (6,)),
    "ELU": (lambda L: L.ELU(0.5), (6,)),
    "PReLU": (lambda L: L.PReLU(shared_axes=[1]), (3, 4)),
    "Softmax": (lambda L: L.Softmax(axis=1), (3, 4)),
    "Flatten": (lambda L: L.Flatten(), (3, 4)),
    "Reshape": (lambda L: L.Reshape((3, 4)), (12,)),
    "Dropout": (lambda L: L.Dropout(0.5), (6,)),
    "Identity": (lambda L: L.Identity(), (6,)),
    "Add": (lambda L: L.Add(), [(6,), (6,)]),
    "Subtract": (lambda L: L.Subtract(), [(6,), (6,)]),
    "Multiply": (lambda L: L.Multiply(), [(6,), (6,)]),
    "Average": (lambda L: L.Average(), [(6,), (6,)]),
    "Maximum": (lambda L: L.Maximum(), [(6,), (6,)]),
    "Minimum": (lambda L: L.Minimum(), [(6,), (6,)]),
    "Concatenate": (lambda L: L.Concatenate(), [(6,), (4,)]),
    "Dot": (lambda L: L.Dot(axes=1), [(6,), (6,)]),
    "Embedding": (lambda L: L.Embedding(10, 4), _int((5,))),
    "Masking": (lambda L: L.Masking(0.0), (4, 3)),
    "BatchNormalization": (lambda L: L.BatchNormalization(), (6,)),
    "LayerNormalization": (lambda L: L.LayerNormalization(), (6,)),
    "GroupNormalization": (lambda L: L.GroupNormalization(groups=2), (4, 6)),
    "UnitNormalization": (lambda L: L.UnitNormalization(), (6,)),
    "Conv1D": (lambda L: L.Conv1D(3, 2), (8, 2)),
    "Conv2D": (lambda L: L.Conv2D(3, 2), (6, 6, 2)),
    "Conv3D": (lambda L: L.Conv3D(2, 2), (4, 4, 4, 2)),
    "Conv1DTranspose": (lambda L: L.Conv1DTranspose(3, 2), (8, 2)),
    "Conv2DTranspose": (lambda L: L.Conv2DTranspose(3, 2, strides=2), (5, 5, 2)),
    "Conv3DTranspose": (lambda L: L.Conv3DTranspose(2, 2), (3, 3, 3, 2)),
    "DepthwiseConv1D": (lambda L: L.DepthwiseConv1D(2), (8, 3)),
    "DepthwiseConv2D": (lambda L: L.DepthwiseConv2D(2), (6, 6, 3)),
    "SeparableConv1D": (lambda L: L.SeparableConv1D(4, 2), (8, 3)),
    "SeparableConv2D": (lambda L: L.SeparableConv2D(4, 2), (6, 6, 3)),
    "MaxPooling1D": (lambda L: L.MaxPooling1D(2), (8, 3)),
    "MaxPooling2D": (lambda L: L.MaxPooling2D(2), (6, 6, 3)),
    "MaxPooling3D": (lambda L: L.MaxPooling3D(2), (4, 4, 4, 2)),
    "AveragePooling1D": (lambda L: L.AveragePooling1D(2), (8, 3)),
    "AveragePooling2D": (lambda L: L.AveragePooling2D(2), (6, 6, 3)),
    "AveragePooling3D": (lambda L: L.AveragePooling3D(2), (4, 4, 4, 2)),
    "GlobalMaxPooling1D": (lambda L: L.GlobalMaxPooling1D(), (8, 3)),
    "GlobalMaxPooling2D": (lambda L: L.GlobalMaxPooling2D(), (6, 6, 3)),
    "GlobalMaxPooling3D": (lambda L: L.GlobalMaxPooling3D(), (4, 4, 4, 2)),
    "GlobalAveragePooling1D": (lambda L: L.GlobalAveragePooling1D(), (8, 3)),
    "GlobalAveragePooling2D": (lambda L: L.GlobalAveragePooling2D(), (6, 6, 3)),
    "GlobalAveragePooling3D": (lambda L: L.GlobalAveragePooling3D(), (4, 4, 4, 2)),
    "SimpleRNN": (lambda L: L.SimpleRNN(4), (5, 3)),
    "LSTM": (lambda L: L.LSTM(4, return_sequences=True), (5, 3)),
    "GRU": (lambda L: L.GRU(4), (5, 3)),
    "RNN": (lambda L: L.RNN(L.LSTMCell(4)), (5, 3)),
    "Bidirectional": (lambda L: L.Bidirectional(L.GRU(3)), (5, 3)),
    "TimeDistributed": (lambda L: L.TimeDistributed(L.Dense(3)), (4, 5)),
    "MultiHeadAttention": (lambda L: L.MultiHeadAttention(2, 4), (5, 8), "self"),
    "Attention": (lambda L: L.Attention(), [(5, 4), (6, 4)]),
    "AdditiveAttention": (lambda L: L.AdditiveAttention(), [(5, 4), (6, 4)]),
    "SpatialDropout1D": (lambda L: L.SpatialDropout1D(0.2), (5, 3)),
    "SpatialDropout2D": (lambda L: L.SpatialDropout2D(0.2), (4, 4, 3)),
    "SpatialDropout3D": (lambda L: L.SpatialDropout3D(0.2), (3, 3, 3, 2)),
    "GaussianNoise": (lambda L: L.GaussianNoise(0.1), (6,)),
    "GaussianDropout": (lambda L: L.GaussianDropout(0.2), (6,)),
    "AlphaDropout": (lambda L: L.AlphaDropout(0.2), (6,)),
    "ActivityRegularization": (lambda L: L.ActivityRegularization(l1=0.01), (6,)),
    "Permute": (lambda L: L.Permute((2, 1)), (3, 4)),
    "RepeatVector": (lambda L: L.RepeatVector(3), (4,)),
    "Cropping1D": (lambda L: L.Cropping1D(1), (6, 3)),
    "Cropping2D": (lambda L: L.Cropping2D(1), (6, 6, 2)),
    "Cropping3D": (lambda L: L.Cropping3D(1), (4, 4, 4, 2)),
    "ZeroPadding1D": (lambda L: L.ZeroPadding1D(1), (6, 3)),
    "ZeroPadding2D": (lambda L: L.ZeroPadding2D(1), (4, 4, 2)),
    "ZeroPadding3D": (lambda L: L.ZeroPadding3D(1), (3, 3, 3, 2)),
    "UpSampling1D": (lambda L: L.UpSampling1D(2), (4, 3)),
    "UpSampling2D": (lambda L: L.UpSampling2D(2), (3, 3, 2)),
    "UpSampling3D": (lambda L: L.UpSampling3D(2), (2, 2, 2, 2)),
    "Rescaling": (lambda L: L.Rescaling(1 / 255.0, offset=0.5), (4, 4, 3)),
    "Normalization": (lambda L: L.Normalization(mean=0.5, variance=2.0), (4,)),
    "Resizing": (lambda L: L.Resizing(3, 3), (6, 6, 3)),
    "CenterCrop": (lambda L: L.CenterCrop(3, 3), (6, 6, 3)),
    "RandomFlip": (lambda L: L.RandomFlip(), (4, 4, 3)),
    "RandomRotation": (lambda L: L.RandomRotation(0.1), (4, 4, 3)),
    "RandomZoom": (lambda L: L.RandomZoom(0.1), (4, 4, 3)),
    "RandomTranslation": (lambda L: L.RandomTranslation(0.1, 0.1), (4, 4, 3)),
    "RandomContrast": (lambda L: L.RandomContrast(0.1), (4, 4, 3)),
    "CategoryEncoding": (lambda L: L.CategoryEncoding(5, output_mode="multi_hot"), _int((3,), 5)),
    "Discretization": (lambda L: L.Discretization(bin_boundaries=[0.0, 0.5, 1.0]), (4,)),
}
# Keras needs TensorFlow (not installed with the JAX backend) for these, or they take strings.
NEEDS_TF = {"StringLookup", "IntegerLookup", "TextVectorization", "Hashing"}
NOT_STANDALONE = {"Layer": "the base class", "InputLayer": "part of every model tested here",
                  "SimpleRNNCell": "cells are tested inside RNN", "LSTMCell": "tested inside RNN",
                  "GRUCell": "tested inside RNN", "StackedRNNCells": "tested inside RNN",
                  "Lambda": "trine saves functions by name only; covered in test_saving_safety",
                  "TFSMLayer": "needs Keras's TensorFlow backend; covered in test_layers_foreign",
                  "TorchModuleWrapper": "needs Keras's PyTorch backend; covered in "
                                        "test_layers_foreign"}


def _layer_classes():
    from trine.core.layer import Layer
    out = []
    for name in sorted(dir(trine.layers)):
        obj = getattr(trine.layers, name)
        if not name.startswith("_") and inspect.isclass(obj) and issubclass(obj, Layer):
            if obj.__name__ == name:
                out.append(name)
    return out


def _inputs(lib, spec, rng):
    specs = spec if isinstance(spec, list) else [spec]
    tensors, data = [], []
    for i, s in enumerate(specs):
        if isinstance(s, tuple) and s and s[0] == "int32":
            _, shape, high = s
            tensors.append(lib.layers.Input(shape=shape, dtype="int32", name=f"in{i}"))
            data.append(rng.integers(0, high, size=(3,) + shape).astype(np.int32))
        else:
            tensors.append(lib.layers.Input(shape=s, name=f"in{i}"))
            data.append(rng.normal(size=(3,) + s).astype(np.float32))
    if isinstance(spec, list):
        return tensors, data
    return tensors[0], data[0]


@pytest.mark.parametrize("name", _layer_classes())
def test_every_layer_interchanges(name, tmp_path):
    if name in NOT_STANDALONE:
        pytest.skip(f"{name}: {NOT_STANDALONE[name]}")
    if name in NEEDS_TF:
        pytest.skip(f"{name}: Keras cannot build it without TensorFlow (string tables)")
    if not hasattr(keras.layers, name):
        pytest.skip(f"{name} is trine-only (Keras has no such layer)")
    if name not in RECIPES:
        pytest.skip(f"{name}: no interop recipe yet; add one to RECIPES")
    recipe = RECIPES[name]
    make, spec = recipe[0], recipe[1]
    how = recipe[2] if len(recipe) > 2 else None
    rng = np.random.default_rng(0)
    models = []
    for lib in (trine, keras):
        fresh()
        inp, data = _inputs(lib, spec, np.random.default_rng(0))
        layer = make(lib.layers)
        out = layer(inp, inp) if how == "self" else layer(inp)
        models.append(lib.Model(inp, out))
    tmodel, kmodel = models
    tmodel.set_weights(randomize(tmodel.get_weights(), [v.name for v in tmodel.weights], rng))
    quick_round_trip(tmodel, kmodel, data, tmp_path)
