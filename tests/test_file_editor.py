"""KerasFileEditor: same view of a file as Keras's editor, edits that load in both libraries,
and edits that would break the file refused with the file on disk unchanged."""
import os

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")

import trine  # noqa: E402
from trine.saving import KerasFileEditor, SavingError, UnsafeFileError  # noqa: E402

X = np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)


@pytest.fixture(autouse=True, scope="module")
def _cheap_random_init():
    """Weights are overwritten or compared here, never learned."""
    from saving_utils import cheap_random_init
    mp = cheap_random_init()
    yield
    mp.undo()


def two_dense(lib, units=2):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, name="a"),
                           lib.layers.Dense(units, name="b")], name="m")


def shapes(tree):
    return {k: shapes(v) if isinstance(v, dict) else tuple(v.shape) for k, v in tree.items()}


def flat(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        p = f"{prefix}/{k}"
        out.update(flat(v, p) if isinstance(v, dict) else {p: np.asarray(v)})
    return out


def test_reads_keras_files_as_keras_editor_does(tmp_path, capsys):
    km = two_dense(keras)
    km.compile(optimizer="adam", loss="mse")
    km.fit(X, np.ones((3, 2)), verbose=0)
    path = str(tmp_path / "k.keras")
    km.save(path)
    ke = keras.saving.KerasFileEditor(path)
    te = KerasFileEditor(path)
    assert shapes(te.weights_dict) == shapes(ke.weights_dict)
    kf, tf = flat(ke.weights_dict), flat(te.weights_dict)
    for k in kf:
        np.testing.assert_array_equal(kf[k], tf[k])
    assert te.config == ke.config and te.metadata == ke.metadata
    te.summary()
    out = capsys.readouterr().out
    assert "Weights structure" in out and "0: shape=(4, 3), dtype=float32" in out
    assert "('a')" in out  # each object's layer name, from the file


def test_compare_matches_keras_structure(tmp_path):
    km, tm = two_dense(keras), two_dense(trine)
    kp, tp = str(tmp_path / "k.weights.h5"), str(tmp_path / "t.weights.h5")
    km.save_weights(kp)
    tm.save_weights(tp)
    good_k = keras.saving.KerasFileEditor(kp).compare(km)
    good_t = KerasFileEditor(kp).compare(tm)
    # Keras 3.15 adds a nested object's running count into itself (6 for these 4 weights);
    # trine counts each matching weight once
    assert good_t.keys() == good_k.keys()
    assert good_t == {"status": "success", "error_count": 0, "match_count": 4}
    assert good_k["status"] == "success" and good_k["error_count"] == 0
    bad_k = keras.saving.KerasFileEditor(tp).compare(two_dense(keras, units=5))
    bad_t = KerasFileEditor(tp).compare(two_dense(trine, units=5))
    assert bad_t.keys() == bad_k.keys()
    assert bad_t["status"] == bad_k["status"] == "error"
    assert bad_t["error_count"] == 2 and bad_t["match_count"] == 2


def test_edit_keras_file_loads_in_both(tmp_path):
    """Keras writes, trine edits (a layer replaced by a wider one), both load the result."""
    km = two_dense(keras)
    src = str(tmp_path / "k.weights.h5")
    km.save_weights(src)
    before = open(src, "rb").read()
    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 5)).astype("float32"), rng.normal(size=5).astype("float32")
    ed = KerasFileEditor(src)
    ed.delete_object("layers/dense_1")
    ed.add_object("layers/dense_1", {"0": kernel, "1": bias})
    ed.rename_object("dense", "dense")  # a no-op rename is allowed
    out = str(tmp_path / "edited.weights.h5")
    ed.save(out)
    assert open(src, "rb").read() == before  # the source is never written
    k5, t5 = two_dense(keras, units=5), two_dense(trine, units=5)
    k5.load_weights(out)
    t5.load_weights(out)
    np.testing.assert_allclose(np.asarray(t5(X)), np.asarray(k5(X)), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(t5.layers[-1].kernel.value), kernel)


def test_trine_file_edited_by_keras_editor_and_back(tmp_path):
    """trine writes (with a nested model and optimizer state); Keras's editor and trine's
    editor each resave it; the results load in the other library with equal predictions."""
    tm = two_dense(trine)
    tp = str(tmp_path / "t.weights.h5")
    tm.save_weights(tp)
    ke = keras.saving.KerasFileEditor(tp)
    ke.add_weights("dense", {"0": np.full((4, 3), 0.5, "float32")})
    kout = str(tmp_path / "by_keras.weights.h5")
    ke.save(kout)
    tm.load_weights(kout)
    km = two_dense(keras)
    km.load_weights(kout)
    np.testing.assert_allclose(np.asarray(tm(X)), np.asarray(km(X)), rtol=1e-6, atol=1e-6)
    te = KerasFileEditor(kout)
    te.add_weights("layers/dense_1", {"1": np.arange(2, dtype="float32")})
    tout = str(tmp_path / "by_trine.weights.h5")
    te.resave_weights(tout)
    km.load_weights(tout)
    tm.load_weights(tout)
    np.testing.assert_allclose(np.asarray(tm(X)), np.asarray(km(X)), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(km.layers[-1].bias), [0.0, 1.0])


def test_keras_archive_with_nested_model_and_optimizer_round_trips(tmp_path):
    inner = trine.Sequential([trine.Input((3,)), trine.layers.Dense(2, name="in_d")],
                             name="inner")
    tm = trine.Sequential([trine.Input((4,)), trine.layers.Dense(3, name="a"), inner], name="m")
    tm.compile(optimizer="adam", loss="mse")
    tm.fit(X, np.ones((3, 2)), verbose=0)
    path = str(tmp_path / "t.keras")
    tm.save(path)
    ed = KerasFileEditor(path)
    assert shapes(ed.weights_dict)["layers"]["sequential"] == {
        "layers": {"dense": {"0": (3, 2), "1": (2,)}}}
    assert ed.compare(tm)["status"] == "success"
    out = str(tmp_path / "t.weights.h5")
    ed.save(out)
    loaded = trine.saving.load_model(path)
    loaded.load_weights(out)  # model weights and Adam state, through the edited file
    np.testing.assert_array_equal(np.asarray(loaded(X)), np.asarray(tm(X)))
    with h5py.File(out, "r") as f:
        assert f["layers/sequential/layers/dense/vars"].attrs["name"] == "in_d"


# ---------------------------------------------------------------------------- bad input
def test_bad_edits_raise_and_change_nothing(tmp_path):
    tm = two_dense(trine)
    path = str(tmp_path / "t.weights.h5")
    tm.save_weights(path)
    before = open(path, "rb").read()
    ed = KerasFileEditor(path)
    snapshot = {k: v.copy() for k, v in flat(ed.weights_dict).items()}
    with pytest.raises(ValueError, match="'nope' does not appear"):
        ed.delete_object("nope")
    with pytest.raises(ValueError, match="path 'layers/nope' not found"):
        ed.rename_object("layers/nope", "x")
    with pytest.raises(ValueError, match="leaf name"):
        ed.rename_object("dense", "layers/x")
    with pytest.raises(ValueError, match="already exists"):
        ed.rename_object("dense", "dense_1")
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*shape \(3, 3\)"):
        ed.add_weights("dense", {"0": np.zeros((3, 3), "float32")})
    with pytest.raises(ValueError, match="weight '7' not found|weight '7'"):
        ed.delete_weight("dense", "7")
    with pytest.raises(ValueError, match="should be a dict"):
        ed.add_object("layers/x", [np.zeros(2)])
    with pytest.raises(TypeError, match="numeric"):
        ed.add_weights("dense", {"9": np.array(["a"])})
    with pytest.raises(ValueError, match="path 'nowhere' not found"):
        ed.add_object("nowhere/dense", {"0": np.zeros(2)})
    with pytest.raises(ValueError, match=".weights.h5"):
        ed.save(str(tmp_path / "out.keras"))
    after = flat(ed.weights_dict)
    assert after.keys() == snapshot.keys()
    for k in after:
        np.testing.assert_array_equal(after[k], snapshot[k])
    assert open(path, "rb").read() == before


def test_ambiguous_name_needs_a_path(tmp_path):
    inner = trine.Sequential([trine.Input((3,)), trine.layers.Dense(2)], name="inner")
    tm = trine.Sequential([trine.Input((4,)), trine.layers.Dense(3), inner])
    path = str(tmp_path / "t.weights.h5")
    tm.save_weights(path)
    ed = KerasFileEditor(path)
    with pytest.raises(ValueError, match="more than once.*complete path"):
        ed.delete_object("dense")
    ed.delete_object("layers/sequential/layers/dense")
    assert ed.weights_dict["layers"]["sequential"] == {"layers": {}}  # as Keras leaves it
    out = str(tmp_path / "out.weights.h5")
    ed.save(out)
    with h5py.File(out, "r") as f:  # an emptied object writes nothing
        assert "sequential" not in f["layers"]


def test_failed_save_leaves_the_target_unchanged(tmp_path, monkeypatch):
    tm = two_dense(trine)
    path = str(tmp_path / "t.weights.h5")
    tm.save_weights(path)
    before = open(path, "rb").read()
    ed = KerasFileEditor(path)
    ed.delete_object("dense")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(KerasFileEditor, "_write", boom)
    with pytest.raises(OSError, match="disk full"):
        ed.save(path)
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["t.weights.h5"]  # no temporary file left


def test_hostile_and_wrong_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="'.keras' or '.weights.h5'"):
        KerasFileEditor(str(tmp_path / "model.h5"))
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.ones(3)
    bad = tmp_path / "link.weights.h5"
    with h5py.File(bad, "w") as f:
        f.create_group("layers/dense/vars")
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(other), "x")
    with pytest.raises(UnsafeFileError, match="external link"):
        KerasFileEditor(str(bad))
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(SavingError, match="not a valid .keras archive"):
        KerasFileEditor(str(junk))
    ed = KerasFileEditor(str(_saved(tmp_path)))
    with pytest.raises(TypeError, match="built trine model"):
        ed.compare(two_dense(keras))


def _saved(tmp_path):
    path = tmp_path / "ok.weights.h5"
    two_dense(trine).save_weights(str(path))
    return path
