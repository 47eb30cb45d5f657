"""Model files in trine alone: round trips for the three APIs, weights files, exact resume."""
import io
import json
import os
import zipfile

import jax
import numpy as np
import pytest

import trine
from trine import saving
from trine._util.keras_names import keras_snake_case
from trine.layers import Dense, Dropout, Flatten, Input, concatenate
from trine.models import Model, Sequential


@pytest.fixture(autouse=True, scope="module")
def _cheap_random_init():
    """Initial weight values only need to be reproducible here: skip compiling a random kernel per weight shape."""
    from saving_utils import cheap_random_init
    mp = cheap_random_init()
    yield
    mp.undo()


# ---------------------------------------------------------------------------- models
# Small versions of the seed's models (the full-size ones are in test_saving_interop.py);
# one input shape for all of them keeps the number of XLA compilations low.
def seed_sequential(units=(16, 8)):
    return Sequential([Input(shape=(6, 6)), Flatten(), Dense(units[0], activation="relu"),
                       Dense(units[1], activation="relu"), Dense(4, activation="softmax")])


def seed_functional():
    inputs = Input(shape=(6, 6))
    x = Flatten()(inputs)
    x = Dense(16, activation="relu")(x)
    x = Dense(8, activation="relu")(x)
    return Model(inputs, Dense(4, activation="softmax")(x))


def two_input_model():
    a = Input(shape=(12,), name="input_1")
    b = Input(shape=(10,), name="input_2")
    x = concatenate([Dense(16, activation="relu")(a), Dense(16, activation="relu")(b)])
    x = Dense(8, activation="tanh")(x)
    return Model([a, b], Dense(4, activation="softmax")(x))


@saving.register_serializable(package="trine_tests")
class Classifier(Model):
    def __init__(self, hidden=(16, 8), classes=4, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.classes = list(hidden), classes
        self.flatten = Flatten()
        self.blocks = [Dense(h, activation="relu") for h in self.hidden]
        self.out = Dense(classes, activation="softmax")

    def call(self, x):
        x = self.flatten(x)
        for b in self.blocks:
            x = b(x)
        return self.out(x)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(hidden=self.hidden, classes=self.classes)
        return cfg


def seed_subclassed():
    m = Classifier()
    m.build((None, 6, 6))
    return m


DATA = np.random.default_rng(0).random((48, 6, 6), dtype=np.float32)
LABELS = np.random.default_rng(1).integers(0, 4, 48)


def _fit(model, epochs=1):
    # one compiled program per fit: 48 samples / 16 = 3 steps, fused 3 at a time
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=3)
    model.fit(DATA, LABELS, epochs=epochs, batch_size=16, verbose=0)
    return model


def _out(model, x=DATA):
    return np.asarray(model(x))


def _weights_equal(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


def _leaves(tree):
    return [np.asarray(l) for l in jax.tree_util.tree_leaves(tree)]


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("make", [seed_sequential, seed_functional, seed_subclassed],
                         ids=["sequential", "functional", "subclassed"])
def test_keras_archive_round_trip(make, tmp_path):
    model = make()
    if make is seed_sequential:
        _fit(model)  # training state: optimizer slots, step counter
    else:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], steps_per_execution=3)
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        config = json.loads(zf.read("config.json"))
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    loaded = trine.models.load_model(path)
    assert type(loaded) is type(model)
    _weights_equal(model, loaded)
    np.testing.assert_array_equal(_out(model), _out(loaded))
    # compile settings and the optimizer state come back exactly
    assert loaded.compiled and type(loaded.optimizer).__name__ == "Adam"
    assert loaded.steps_per_execution == 3 and loaded.loss == "sparse_categorical_crossentropy"
    assert loaded._step == model._step == (3 if make is seed_sequential else 0)
    if model._opt_state is not None:
        for x, y in zip(_leaves(model._opt_state), _leaves(loaded._opt_state)):
            np.testing.assert_array_equal(x, y)
    # compile=False: same weights, not compiled
    bare = trine.saving.load_model(path, compile=False)
    assert not bare.compiled
    _weights_equal(model, bare)


def test_config_round_trip_is_stable():
    for make in (seed_sequential, seed_functional, two_input_model):
        model = make()
        cfg = model.get_config()
        clone = type(model).from_config(cfg)
        assert json.loads(json.dumps(clone.get_config())) == json.loads(json.dumps(cfg))


def test_two_input_model_round_trip(tmp_path):
    model = two_input_model()
    x = [np.ones((3, 12), np.float32), np.linspace(0, 1, 30, dtype=np.float32).reshape(3, 10)]
    model.save(tmp_path / "two.keras")
    loaded = trine.models.load_model(tmp_path / "two.keras")
    assert loaded.input_names == ["input_1", "input_2"]
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))


def test_shared_layers_nested_models_and_dict_io(tmp_path):
    inner = Sequential([Dense(6, activation="relu", name="inner_dense")], name="inner")
    a = Input(shape=(5,), name="a")
    b = Input(shape=(5,), name="b")
    shared = Dense(5, name="shared")
    h = shared(shared(a))  # one layer, two calls at different depths
    h = concatenate([h, inner(b)], name="cat")
    model = Model({"a": a, "b": b}, {"y": Dense(2, name="y")(h), "h": shared(b)})
    x = {"a": np.ones((2, 5), np.float32), "b": np.full((2, 5), 0.5, np.float32)}
    model.save(tmp_path / "g.keras")
    loaded = trine.models.load_model(tmp_path / "g.keras")
    out, ref = loaded(x), model(x)
    for k in ("y", "h"):
        np.testing.assert_array_equal(np.asarray(out[k]), np.asarray(ref[k]))
    assert len(loaded.get_layer("shared")._inbound_nodes) == 3


def test_weights_file_round_trip_and_get_set_weights(tmp_path):
    model = seed_functional()
    model.save_weights(tmp_path / "w.weights.h5")
    other = seed_functional()
    other.load_weights(tmp_path / "w.weights.h5")
    _weights_equal(model, other)
    third = seed_functional()
    third.set_weights(model.get_weights())
    _weights_equal(model, third)
    # a .keras archive works as a weights source too
    model.save(tmp_path / "m.keras")
    fourth = seed_functional()
    fourth.load_weights(tmp_path / "m.keras")
    _weights_equal(model, fourth)


def test_directory_and_file_object_formats(tmp_path):
    model = seed_sequential()
    model.save(tmp_path / "as_dir", zipped=False)
    assert sorted(os.listdir(tmp_path / "as_dir")) == ["config.json", "metadata.json",
                                                       "model.weights.h5"]
    _weights_equal(model, trine.models.load_model(tmp_path / "as_dir"))
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    _weights_equal(model, trine.models.load_model(buf))


# ---------------------------------------------------------------------------- mismatches
def test_mismatch_loads_nothing_unless_skip_mismatch(tmp_path):
    model = seed_sequential()
    model.save_weights(tmp_path / "w.weights.h5")
    other = seed_sequential(units=(16, 5))
    before = other.get_weights()
    with pytest.raises(trine.saving.SavingError, match=r"dense_1.*shape \(16, 8\).*\(16, 5\)"):
        other.load_weights(tmp_path / "w.weights.h5")
    for x, y in zip(before, other.get_weights()):
        np.testing.assert_array_equal(x, y)  # all or nothing
    with pytest.warns(UserWarning, match="skip_mismatch"):
        other.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(other.layers[1].get_weights()[0], model.layers[1].get_weights()[0])
    np.testing.assert_array_equal(other.layers[2].get_weights()[0], before[2])


def test_missing_layer_is_an_error(tmp_path):
    small = Sequential([Input(shape=(6, 6)), Flatten(), Dense(4)])
    small.save_weights(tmp_path / "small.weights.h5")
    with pytest.raises(trine.saving.SavingError, match="no weights for it"):
        seed_sequential().load_weights(tmp_path / "small.weights.h5")


def test_extensions_and_unbuilt_models(tmp_path):
    model = seed_sequential()
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "m.zip")
    with pytest.raises(ValueError, match="legacy HDF5"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="not been built"):
        Sequential([Dense(3)]).save_weights(tmp_path / "x.weights.h5")
    model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(FileExistsError):
        model.save_weights(tmp_path / "w.weights.h5", overwrite=False)


def test_unregistered_subclass_needs_custom_objects(tmp_path):
    class Local(Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.d = Dense(3)

        def call(self, x):
            return self.d(x)

    m = Local()
    m.build((None, 4))
    m.save(tmp_path / "local.keras")
    with pytest.raises(trine.saving.UnsafeFileError, match="'Local'.*allow-list"):
        trine.models.load_model(tmp_path / "local.keras")
    loaded = trine.models.load_model(tmp_path / "local.keras", custom_objects={"Local": Local})
    _weights_equal(m, loaded)
    with saving.custom_object_scope({"Local": Local}):
        _weights_equal(m, trine.models.load_model(tmp_path / "local.keras"))


def test_registry_api():
    assert saving.register_keras_serializable is saving.register_serializable
    assert saving.get_registered_name(Classifier) == "trine_tests>Classifier"
    assert saving.get_registered_object("trine_tests>Classifier") is Classifier
    cfg = saving.serialize_keras_object(Dense(4, name="d4"))
    assert cfg["module"] == "keras.layers" and cfg["registered_name"] is None
    layer = saving.deserialize_keras_object(cfg)
    assert isinstance(layer, Dense) and layer.units == 4 and layer.name == "d4"


# ---------------------------------------------------------------------------- atomic writes
def test_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    model = seed_sequential()
    path = tmp_path / "m.keras"
    model.save(path)
    good = path.read_bytes()
    from trine.saving import weights as weights_mod

    def boom(model, h5):
        raise RuntimeError("disk full")

    monkeypatch.setattr(weights_mod, "write_weights", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(path)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save_weights(tmp_path / "w.weights.h5")
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]  # no temporary files left behind


# ---------------------------------------------------------------------------- exact resume
def _resume_model():
    return Sequential([Input(shape=(6, 6)), Flatten(), Dense(16, activation="relu"),
                       Dropout(0.3), Dense(4, activation="softmax")])


def _compile(model, optimizer):
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=3)


def _fresh(seed=7):
    trine.clear_session()
    trine.utils.set_random_seed(seed)


@pytest.mark.parametrize("optimizer", ["adam", "optax"], ids=["adam-keras-layout", "raw-optax"])
def test_interrupted_training_resumes_bit_for_bit(tmp_path, optimizer):
    """4 epochs in one go == 2 epochs, save, load into a fresh model, 2 more (initial_epoch=2).

    Dropout and shuffling draw their keys from the seed, the epoch and the step, so the
    resumed run matches only if weights, optimizer state and step all come back exactly.
    """
    import optax

    def opt():
        return "adam" if optimizer == "adam" else optax.adam(1e-3)

    _fresh()
    unbroken = _resume_model()
    _compile(unbroken, opt())
    unbroken.fit(DATA, LABELS, epochs=4, batch_size=16, verbose=0)

    _fresh()
    first = _resume_model()
    _compile(first, opt())
    first.fit(DATA, LABELS, epochs=2, batch_size=16, verbose=0)
    first.save_weights(tmp_path / "ckpt.weights.h5")
    resumed = [None]

    def check(model):
        assert model._step == first._step == 6
        model.fit(DATA, LABELS, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
        for a, b in zip(unbroken.get_weights(), model.get_weights()):
            assert np.array_equal(a, b)
        for a, b in zip(_leaves(unbroken._opt_state), _leaves(model._opt_state)):
            assert np.array_equal(a, b)

    # (a) a fresh model built in code, compiled, then load_weights
    _fresh()
    resumed = _resume_model()
    _compile(resumed, opt())
    resumed.load_weights(tmp_path / "ckpt.weights.h5")
    check(resumed)
    # (b) the whole model from a .keras archive (needs a Keras-serialisable optimizer)
    if optimizer == "adam":
        first.save(tmp_path / "ckpt.keras")
        _fresh()
        loaded = trine.models.load_model(tmp_path / "ckpt.keras")
        assert loaded.steps_per_execution == 3
        check(loaded)


def test_model_checkpoint_files_load(tmp_path):
    ModelCheckpoint = trine.callbacks.ModelCheckpoint
    model = seed_sequential()
    _compile(model, "sgd")
    cbs = [ModelCheckpoint(str(tmp_path / "w{epoch:02d}.weights.h5"), save_weights_only=True),
           ModelCheckpoint(str(tmp_path / "best.keras"), monitor="loss", save_best_only=True)]
    model.fit(DATA, LABELS, epochs=2, batch_size=16, verbose=0, callbacks=cbs)
    assert {"w01.weights.h5", "w02.weights.h5", "best.keras"} <= set(os.listdir(tmp_path))
    fresh = seed_sequential()
    fresh.load_weights(tmp_path / "w02.weights.h5")
    _weights_equal(model, fresh)
    trine.models.load_model(tmp_path / "best.keras")


def test_sigkill_mid_epoch_then_restart_resumes_bit_for_bit(tmp_path):
    """A real subprocess trains with BackupAndRestore and is SIGKILLed in the middle of its
    fourth epoch; the same command run again resumes from the backup of epoch 3 and ends
    with exactly the weights of an unbroken run (compared with ==)."""
    import signal
    import subprocess
    import sys
    worker = os.path.join(os.path.dirname(__file__), "resume_worker.py")
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")

    def run(backup, out, kill_at=None):
        e = dict(env)
        if kill_at:
            e["KILL_AT"] = kill_at
        return subprocess.run([sys.executable, worker, str(backup), str(out)], env=e,
                              capture_output=True, text=True, timeout=300)

    unbroken = run(tmp_path / "b1", tmp_path / "unbroken.npz")
    assert unbroken.returncode == 0, unbroken.stderr
    assert not (tmp_path / "b1").exists()  # a finished run deletes its backup
    killed = run(tmp_path / "b2", tmp_path / "resumed.npz", kill_at="3,5")
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "resumed.npz").exists()
    state = json.loads((tmp_path / "b2" / "training_state.json").read_text())
    assert state == {"epoch": 3}
    resumed = run(tmp_path / "b2", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    a, b = np.load(tmp_path / "unbroken.npz"), np.load(tmp_path / "resumed.npz")
    assert len(a.files) == len(b.files) == 4
    for k in a.files:
        assert np.array_equal(a[k], b[k])


def test_backup_and_restore_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="save_freq"):
        trine.callbacks.BackupAndRestore(tmp_path, save_freq=10)
    with pytest.raises(ValueError, match="backup_dir"):
        trine.callbacks.BackupAndRestore("")
    (tmp_path / "training_state.json").write_text('{"epoch": "x"}')
    model = seed_sequential()
    _compile(model, "sgd")
    model.save_weights(tmp_path / "latest.weights.h5")
    with pytest.raises(ValueError, match="not a backup trine wrote"):
        model.fit(DATA, LABELS, epochs=1, verbose=0,
                  callbacks=[trine.callbacks.BackupAndRestore(tmp_path)])


@pytest.mark.parametrize("zipped", [True, False], ids=["archive", "directory"])
def test_adapted_vocabularies_travel_as_assets(tmp_path, zipped):
    """Adapted lookup vocabularies are not in the config: they go to assets/<layer path>/
    vocabulary.txt as Keras writes them, and come back on load."""
    from trine import layers
    texts = np.array(["the cat sat", "the dog sat down", "a cat and a dog"])
    tv = layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    tv.adapt(texts)
    sl = layers.StringLookup()
    sl.adapt(np.array(["x", "y", "y", "z"]))
    il = layers.IntegerLookup()
    il.adapt(np.array([7, 7, 3, 9]))
    tfidf = layers.TextVectorization(max_tokens=20, output_mode="tf_idf")
    tfidf.adapt(texts)  # its idf weights go to the weights file, under the layer's vars
    for layer, data in ((tv, texts), (sl, np.array([["y", "q"]])), (il, np.array([[3, 8]])),
                        (tfidf, texts)):
        model = Sequential([layer])
        path = tmp_path / (f"{layer.name}.keras" if zipped else layer.name)
        model.save(path, zipped=zipped)
        if zipped:
            with zipfile.ZipFile(path) as zf:
                folder = keras_snake_case(type(layer).__name__)
                assert f"assets/layers/{folder}/vocabulary.txt" in zf.namelist()
        loaded = trine.models.load_model(path).layers[0]
        assert loaded.get_vocabulary() == layer.get_vocabulary()
        assert not np.array_equal(np.asarray(layer(data)), 0 * np.asarray(layer(data)))
        np.testing.assert_array_equal(np.asarray(loaded(data)), np.asarray(layer(data)))
