"""trine.datasets' Keras-format sets, offline: small files in the canonical formats written to
a temporary cache; arrays and dtypes compared with Keras's own load_data on the same files."""
import hashlib
import io
import json
import os
import pickle
import tarfile

import numpy as np
import pytest

from trine import datasets
from trine.datasets import DatasetFormatError


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRINE_HOME", str(tmp_path))
    d = tmp_path / "datasets"
    d.mkdir()
    return d


def _keras_reads(monkeypatch, module, path):
    """Point Keras's dataset module at our file (its own get_file would want its real hash)."""
    import importlib
    mod = importlib.import_module(f"keras.src.datasets.{module}")
    monkeypatch.setattr(mod, "get_file", lambda *a, **k: str(path))
    return mod


def _ragged(rng, n, vocab=30):
    out = np.empty((n,), object)
    out[:] = [[int(v) for v in rng.integers(1, vocab, size=rng.integers(1, 9))] for _ in range(n)]
    return out


@pytest.mark.parametrize("kw", [{}, dict(num_words=12, skip_top=2, maxlen=7),
                                dict(start_char=None, oov_char=None, index_from=0)])
def test_imdb_equals_keras(cache, monkeypatch, kw):
    rng = np.random.default_rng(0)
    np.savez(cache / "imdb.npz", x_train=_ragged(rng, 20), y_train=rng.integers(0, 2, 20),
             x_test=_ragged(rng, 15), y_test=rng.integers(0, 2, 15))
    monkeypatch.setattr(datasets.imdb, "FILE_HASH", _sha(cache / "imdb.npz"))
    (a, b), (c, d) = datasets.imdb.load_data(**kw)
    (ka, kb), (kc, kd) = _keras_reads(monkeypatch, "imdb", cache / "imdb.npz").load_data(**kw)
    for ours, ref in ((a, ka), (c, kc)):
        assert ours.dtype == ref.dtype == object
        assert [list(s) for s in ours] == [list(s) for s in ref]
    for ours, ref in ((b, kb), (d, kd)):
        np.testing.assert_array_equal(ours, ref)
        assert ours.dtype == ref.dtype


def test_imdb_word_index(cache, monkeypatch):
    (cache / "imdb_word_index.json").write_text(json.dumps({"the": 1, "film": 2}))
    monkeypatch.setattr(datasets.imdb, "WORD_INDEX_HASH",
                        hashlib.md5((cache / "imdb_word_index.json").read_bytes()).hexdigest())
    assert datasets.imdb.get_word_index() == {"the": 1, "film": 2}


@pytest.mark.parametrize("kw", [{}, dict(num_words=10, maxlen=6, test_split=0.3)])
def test_reuters_equals_keras(cache, monkeypatch, kw):
    rng = np.random.default_rng(1)
    np.savez(cache / "reuters.npz", x=_ragged(rng, 30), y=rng.integers(0, 46, 30))
    monkeypatch.setattr(datasets.reuters, "FILE_HASH", _sha(cache / "reuters.npz"))
    ours = datasets.reuters.load_data(**kw)
    ref = _keras_reads(monkeypatch, "reuters", cache / "reuters.npz").load_data(**kw)
    for (ox, oy), (rx, ry) in zip(ours, ref):
        assert [list(s) for s in ox] == [list(s) for s in rx]
        np.testing.assert_array_equal(oy, ry)
        assert oy.dtype == ry.dtype
    import keras
    assert datasets.reuters.get_label_names() == keras.datasets.reuters.get_label_names()


@pytest.mark.parametrize("name,extra", [("boston_housing", {}),
                                        ("california_housing", {"version": "small"}),
                                        ("california_housing", {"test_split": 0.5})])
def test_housing_equals_keras(cache, monkeypatch, name, extra):
    rng = np.random.default_rng(2)
    n = 700 if name == "california_housing" else 40
    np.savez(cache / f"{name}.npz", x=rng.normal(size=(n, 5)), y=rng.normal(size=(n,)))
    mod = getattr(datasets, name)
    monkeypatch.setattr(mod, "FILE_HASH", _sha(cache / f"{name}.npz"))
    ours = mod.load_data(**extra)
    ref = _keras_reads(monkeypatch, name, cache / f"{name}.npz").load_data(**extra)
    for (ox, oy), (rx, ry) in zip(ours, ref):
        np.testing.assert_array_equal(ox, rx)
        np.testing.assert_array_equal(oy, ry)
        assert ox.dtype == rx.dtype and oy.dtype == ry.dtype
    with pytest.raises(ValueError, match="test_split must be in"):
        mod.load_data(test_split=1.0)


def _cifar_tar(cache, folder, members, archive_name):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, obj in members.items():
            data = pickle.dumps(obj, protocol=3)  # BINBYTES: no _codecs call
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (cache / archive_name).write_bytes(buf.getvalue())
    return _sha(cache / archive_name)


def test_cifar10_equals_keras(cache, monkeypatch):
    rng = np.random.default_rng(3)

    def batch(n):
        return {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                b"labels": [int(v) for v in rng.integers(0, 10, n)], b"batch_label": b"x"}

    members = {f"data_batch_{i}": batch(4) for i in range(1, 6)}
    members["test_batch"] = batch(3)
    sha = _cifar_tar(cache, "cifar-10-batches-py", members, "cifar-10-python.tar.gz")
    monkeypatch.setattr(datasets.cifar10, "FILE_HASH", sha)
    (xt, yt), (xs, ys) = datasets.cifar10.load_data()
    root = str(cache / "cifar-10-python.tar.gz_extracted")
    keras_mod = _keras_reads(monkeypatch, "cifar10", root)
    # Keras sizes its arrays for the real 50,000 images; it reads these 20 into the start.
    from keras.src.datasets.cifar import load_batch
    kx = np.concatenate([load_batch(os.path.join(root, "cifar-10-batches-py",
                                                 f"data_batch_{i}"))[0] for i in range(1, 6)])
    np.testing.assert_array_equal(xt, kx.transpose(0, 2, 3, 1))
    assert xt.shape == (20, 32, 32, 3) and xt.dtype == np.uint8
    assert yt.shape == (20, 1) and yt.dtype == np.uint8 and ys.dtype == np.uint8
    kxs, kys = load_batch(os.path.join(root, "cifar-10-batches-py", "test_batch"))
    np.testing.assert_array_equal(xs, kxs.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ys[:, 0], kys)
    assert keras_mod is not None


def test_cifar100_equals_keras(cache, monkeypatch):
    rng = np.random.default_rng(4)

    def part(n):
        return {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
                b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)]}

    sha = _cifar_tar(cache, "cifar-100-python", {"train": part(6), "test": part(2)},
                     "cifar-100-python.tar.gz")
    monkeypatch.setattr(datasets.cifar100, "FILE_HASH", sha)
    root = str(cache / "cifar-100-python.tar.gz_extracted")
    for mode in ("fine", "coarse"):
        ours = datasets.cifar100.load_data(mode)
        ref = _keras_reads(monkeypatch, "cifar100", root).load_data(mode)
        for (ox, oy), (rx, ry) in zip(ours, ref):
            np.testing.assert_array_equal(ox, rx)
            np.testing.assert_array_equal(oy, ry)
            assert ox.dtype == rx.dtype and oy.dtype == ry.dtype and oy.shape == ry.shape
    with pytest.raises(ValueError, match="label_mode must be 'fine' or 'coarse'"):
        datasets.cifar100.load_data("medium")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/trine-pwned",))


def test_a_pickle_naming_os_system_is_refused(cache, monkeypatch, tmp_path):
    members = {f"data_batch_{i}": {b"data": _Evil(), b"labels": []} for i in range(1, 6)}
    members["test_batch"] = {b"data": _Evil(), b"labels": []}
    sha = _cifar_tar(cache, "cifar-10-batches-py", members, "cifar-10-python.tar.gz")
    monkeypatch.setattr(datasets.cifar10, "FILE_HASH", sha)
    with pytest.raises(DatasetFormatError, match=r"names (posix|os)\.system"):
        datasets.cifar10.load_data()
    assert not os.path.exists("/tmp/trine-pwned")
    # An object array in an .npz whose pickle names a function is refused the same way.
    bad = np.empty((1,), object)
    bad[0] = _Evil()
    np.savez(cache / "imdb.npz", x_train=bad, y_train=np.zeros(1), x_test=bad,
             y_test=np.zeros(1))
    monkeypatch.setattr(datasets.imdb, "FILE_HASH", _sha(cache / "imdb.npz"))
    with pytest.raises(DatasetFormatError, match="system"):
        datasets.imdb.load_data()
    assert not os.path.exists("/tmp/trine-pwned")


def test_offline_without_cached_file_names_file_and_cache(cache, monkeypatch):
    import urllib.request

    def no_network(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(OSError) as info:
        datasets.boston_housing.load_data()
    msg = str(info.value)
    assert "boston_housing.npz" in msg and str(cache) in msg and "by hand" in msg
