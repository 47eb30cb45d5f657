"""Tests for trine.datasets: IDX reading, directory resolution, download, the embedded sample."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import struct
import threading
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest

from trine import datasets
from trine.datasets import _idx, fashion_mnist, mnist
from trine.datasets._idx import (
    ChecksumMismatchError,
    DatasetFormatError,
    DatasetNotFoundError,
)

NAMES = _idx.FILE_NAMES
REPO_ROOT = Path(__file__).resolve().parents[1]
# Captured at import, before any test changes the environment.
REAL_DIR = Path(
    os.environ.get("TRINE_DATA_DIR") or REPO_ROOT.parent / "shared" / "data" / "fashion-mnist"
)
HAVE_REAL = all((REAL_DIR / name).is_file() for name in NAMES)
needs_real = pytest.mark.skipif(not HAVE_REAL, reason=f"Fashion-MNIST files not in {REAL_DIR}")


# ------------------------------------------------------------------------------------------------
# Helpers: an independent IDX writer (the library's own is not used to test the library).


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    return struct.pack(">I", magic) + struct.pack(">" + "I" * array.ndim, *array.shape) + (
        array.tobytes()
    )


def fake_arrays(n_train: int = 20, n_test: int = 10, fill: int = 7):
    """Images whose every pixel is `fill` (to tell copies apart) and labels i % 10."""
    x_train = np.full((n_train, 28, 28), fill, np.uint8)
    x_test = np.full((n_test, 28, 28), fill, np.uint8)
    y_train = (np.arange(n_train) % 10).astype(np.uint8)
    y_test = (np.arange(n_test) % 10).astype(np.uint8)
    return {NAMES[0]: x_train, NAMES[1]: y_train, NAMES[2]: x_test, NAMES[3]: y_test}


def write_set(directory: Path, fill: int = 7, compress: bool = True, **kw) -> dict:
    """Write the four files into `directory`; return {name: bytes written}."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, array in fake_arrays(fill=fill, **kw).items():
        raw = idx_bytes(array)
        if compress:
            payload = gzip.compress(raw, mtime=0)
            (directory / name).write_bytes(payload)
        else:
            payload = raw
            (directory / name[:-3]).write_bytes(payload)
        written[name] = payload
    return written


def fill_of(arrays) -> int:
    (x_train, _), _ = arrays
    return int(x_train[0, 0, 0])


def leftovers(directory: Path) -> list:
    return sorted(p.name for p in directory.rglob("*")) if directory.exists() else []


def spec_for(module, written: dict, mirrors: tuple) -> _idx.DatasetSpec:
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in written.items()}
    return dataclasses.replace(module.SPEC, mirrors=mirrors, sha256=sha)


class FakeServer:
    """`_idx.fetch` stand-in serving {url: bytes}; records the URLs asked for."""

    def __init__(self, files: dict) -> None:
        self.files = files
        self.calls: list = []

    def __call__(self, url, out, *, timeout=None):
        self.calls.append(url)
        if url not in self.files:
            out.write(b"partial")  # a half-written body must not survive
            raise urllib.error.URLError("simulated: no network")
        out.write(self.files[url])


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test touches ~/.trine, and none sees the outer TRINE_DATA_DIR unless it sets it."""
    monkeypatch.setenv("TRINE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRINE_DATA_DIR", raising=False)
    yield


@pytest.fixture
def no_network(monkeypatch):
    server = FakeServer({})
    monkeypatch.setattr(_idx, "fetch", server)
    return server


def cache_of(tmp_path: Path, name: str = "fashion-mnist") -> Path:
    return tmp_path / "home" / "datasets" / name


# ------------------------------------------------------------------------------------------------
# The real data


@pytest.fixture(scope="module")
def real():
    if not HAVE_REAL:
        pytest.skip(f"Fashion-MNIST files not in {REAL_DIR}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRINE_DATA_DIR", str(REAL_DIR))
        mp.setenv("TRINE_HOME", str(REAL_DIR / "no-such-cache"))
        return fashion_mnist.load_data(download=False)


def test_real_data_shapes_dtypes_and_means(real):
    (x_train, y_train), (x_test, y_test) = real
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8 and isinstance(a, np.ndarray)
    assert np.array_equal(np.bincount(y_train, minlength=10), np.full(10, 6000))
    assert np.array_equal(np.bincount(y_test, minlength=10), np.full(10, 1000))
    assert int(y_train.max()) == 9 and int(y_test.max()) == 9
    assert x_train.mean() == pytest.approx(72.957, abs=1e-3)
    assert x_test.mean() == pytest.approx(73.161, abs=1e-3)


@needs_real
def test_real_data_by_argument_and_label_files_match_canonical_checksums():
    # The shared label files are the canonical ones: they match the checksums pinned in code.
    for name in (_idx.TRAIN_LABELS, _idx.TEST_LABELS):
        assert _idx.sha256_file(REAL_DIR / name) == fashion_mnist.SHA256[name]
    (_, y_train), _ = fashion_mnist.load_data(data_dir=REAL_DIR.parent, download=False)
    assert y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # found via the subdirectory


# ------------------------------------------------------------------------------------------------
# Resolution order: argument > $TRINE_DATA_DIR > cache > download


def test_resolution_order(tmp_path, monkeypatch):
    arg, env = tmp_path / "arg", tmp_path / "env"
    write_set(arg, fill=1)
    write_set(env, fill=2)
    write_set(cache_of(tmp_path), fill=3)
    remote = write_set(tmp_path / "remote", fill=4)
    server = FakeServer({"mirror://" + n: data for n, data in remote.items()})
    monkeypatch.setattr(_idx, "fetch", server)
    monkeypatch.setattr(fashion_mnist, "SPEC", spec_for(fashion_mnist, remote, ("mirror://",)))
    monkeypatch.setenv("TRINE_DATA_DIR", str(env))

    assert fill_of(fashion_mnist.load_data(arg)) == 1
    assert fill_of(fashion_mnist.load_data(data_dir=arg)) == 1
    assert fill_of(fashion_mnist.load_data()) == 2
    monkeypatch.setenv("TRINE_DATA_DIR", str(tmp_path / "empty"))  # set but empty: falls through
    assert fill_of(fashion_mnist.load_data()) == 3
    monkeypatch.delenv("TRINE_DATA_DIR")
    assert fill_of(fashion_mnist.load_data()) == 3
    assert server.calls == []

    for p in cache_of(tmp_path).iterdir():
        p.unlink()
    assert fill_of(fashion_mnist.load_data()) == 4
    assert server.calls == ["mirror://" + n for n in NAMES]
    assert leftovers(cache_of(tmp_path)) == sorted(NAMES)  # no temporary files
    assert fill_of(fashion_mnist.load_data()) == 4  # now from the cache
    assert len(server.calls) == 4


def test_env_subdirectory_is_preferred(tmp_path, monkeypatch, no_network):
    write_set(tmp_path / "data", fill=1)
    write_set(tmp_path / "data" / "fashion-mnist", fill=2)
    write_set(tmp_path / "data" / "mnist", fill=3)
    monkeypatch.setenv("TRINE_DATA_DIR", str(tmp_path / "data"))
    assert fill_of(fashion_mnist.load_data()) == 2
    assert fill_of(mnist.load_data()) == 3
    assert fill_of(fashion_mnist.load_data(tmp_path / "data")) == 1  # the argument itself first


def test_explicit_directory_does_not_fall_back(tmp_path, monkeypatch, no_network):
    write_set(tmp_path / "env", fill=2)
    monkeypatch.setenv("TRINE_DATA_DIR", str(tmp_path / "env"))
    (tmp_path / "partial").mkdir()
    write_set(tmp_path / "partial", fill=1)
    (tmp_path / "partial" / NAMES[2]).unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data(tmp_path / "partial")
    message = str(info.value)
    assert f"{tmp_path / 'partial'}: missing {NAMES[2]}" in message
    assert no_network.calls == []


def test_only_missing_files_are_downloaded(tmp_path, monkeypatch):
    remote = write_set(tmp_path / "remote", fill=4)
    cache = cache_of(tmp_path)
    cache.mkdir(parents=True)
    for name in NAMES[:2]:
        (cache / name).write_bytes(remote[name])
    server = FakeServer({"m/" + n: d for n, d in remote.items()})
    monkeypatch.setattr(_idx, "fetch", server)
    monkeypatch.setattr(fashion_mnist, "SPEC", spec_for(fashion_mnist, remote, ("m/",)))
    assert fill_of(fashion_mnist.load_data()) == 4
    assert server.calls == ["m/" + n for n in NAMES[2:]]


# ------------------------------------------------------------------------------------------------
# Download over real HTTP, mirror fallback, checksum mismatch, network failure


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def http_dir(tmp_path, monkeypatch):
    """Serve tmp_path/www on localhost; yields (directory, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    for var in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_download_over_http_with_mirror_fallback(tmp_path, monkeypatch, http_dir, capsys):
    root, base = http_dir
    remote = write_set(root / "good", fill=5)
    spec = spec_for(fashion_mnist, remote, (base + "missing/", base + "good/"))
    monkeypatch.setattr(fashion_mnist, "SPEC", spec)
    arrays = fashion_mnist.load_data()
    assert fill_of(arrays) == 5
    assert leftovers(cache_of(tmp_path)) == sorted(NAMES)
    for name, data in remote.items():
        assert (cache_of(tmp_path) / name).read_bytes() == data
    assert base + "good/" + NAMES[0] in capsys.readouterr().err


def test_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch, http_dir):
    root, base = http_dir
    remote = write_set(root, fill=5)
    spec = spec_for(fashion_mnist, remote, (base,))
    bad = dict(spec.sha256, **{NAMES[3]: "0" * 64})  # the last file fails, after three good ones
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(spec, sha256=bad))
    with pytest.raises(ChecksumMismatchError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert NAMES[3] in message and "0" * 64 in message
    assert hashlib.sha256(remote[NAMES[3]]).hexdigest() in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert leftovers(cache_of(tmp_path)) == []  # all or nothing: not even the three good files
    assert not cache_of(tmp_path).exists()


def test_http_404_on_every_mirror_is_not_found(tmp_path, monkeypatch, http_dir):
    _, base = http_dir
    spec = dataclasses.replace(fashion_mnist.SPEC, mirrors=(base + "a/", base + "b/"))
    monkeypatch.setattr(fashion_mnist, "SPEC", spec)
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    assert "HTTP Error 404" in str(info.value)
    assert base + "a/" + NAMES[0] in str(info.value) and base + "b/" + NAMES[0] in str(info.value)
    assert leftovers(cache_of(tmp_path)) == []


def test_offline_error_message(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TRINE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    err = info.value
    message = str(err)
    assert message.startswith("Fashion-MNIST was not found on this machine")
    assert str(tmp_path / "nowhere") in message and str(cache_of(tmp_path)) in message
    for name in NAMES:
        assert name in message
    assert "TRINE_DATA_DIR" in message and "load_data('/that/directory')" in message
    assert "load_sample()" in message and "simulated: no network" in message
    assert "Traceback" not in message and err.__cause__ is None and err.__suppress_context__
    assert isinstance(err, FileNotFoundError) and err.args == (message,) and err.errno is None
    assert cache_of(tmp_path) in err.searched
    # Every mirror was tried for the first file; the partial bodies were deleted.
    assert no_network.calls == [m + NAMES[0] for m in fashion_mnist.MIRRORS]
    assert leftovers(cache_of(tmp_path)) == []


def test_download_false_never_fetches(no_network):
    with pytest.raises(DatasetNotFoundError, match=r"downloading is off \(download=False\)"):
        fashion_mnist.load_data(download=False)
    assert no_network.calls == []


# ------------------------------------------------------------------------------------------------
# Reading: uncompressed files, corrupt and truncated files


def test_uncompressed_and_mixed_files(tmp_path):
    d = tmp_path / "d"
    write_set(d, fill=6, compress=False)
    # Also the name some tools give a gunzipped file: train-images.idx3-ubyte.
    (d / "train-images-idx3-ubyte").rename(d / "train-images.idx3-ubyte")
    gz = gzip.compress(idx_bytes(fake_arrays()[NAMES[3]]))
    (d / "t10k-labels-idx1-ubyte").unlink()
    (d / NAMES[3]).write_bytes(gz)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(d)
    assert x_train.shape == (20, 28, 28) and y_test.shape == (10,) and int(x_test[0, 0, 0]) == 6


def _corrupt(tmp_path, name, payload) -> Path:
    d = tmp_path / "bad"
    write_set(d)
    (d / name).write_bytes(payload)
    return d / name


@pytest.mark.parametrize(
    "case, match",
    [
        ("truncated_gzip", "truncated or corrupt"),
        ("corrupt_gzip_body", "truncated|corrupt"),
        ("truncated_raw", r"holds \d+ bytes; it is truncated"),
        ("trailing_data", "but the file holds 15706 bytes"),
        ("swapped_magic", r"expected IDX magic number 2051 \(an images file\), found 2049"),
        ("wrong_dims", "expected 28x28 images, the header says 27x28"),
        ("short_header", "the file holds only 6"),
        ("empty", "the file holds only 0"),
        ("not_idx", "expected IDX magic number"),
    ],
)
def test_corrupt_files_give_clear_errors(tmp_path, case, match):
    images = idx_bytes(np.zeros((20, 28, 28), np.uint8) + 3)
    gz = gzip.compress(images, mtime=0)
    name = NAMES[0]
    payload = {
        "truncated_gzip": gz[: len(gz) // 2],
        "corrupt_gzip_body": gz[:20] + bytes(b ^ 0xFF for b in gz[20:40]) + gz[40:],
        "truncated_raw": images[:-100],
        "trailing_data": images + b"\0" * 10,
        "swapped_magic": idx_bytes(np.zeros(20, np.uint8)),
        "wrong_dims": idx_bytes(np.zeros((20, 27, 28), np.uint8)),
        "short_header": images[:6],
        "empty": b"",
        "not_idx": b"<html>503 Service Unavailable</html>" * 100,
    }[case]
    path = _corrupt(tmp_path, name, payload)
    if case in {"truncated_raw", "trailing_data", "short_header", "empty", "not_idx"}:
        path.rename(path.with_name(name[:-3]))  # an uncompressed file, still found
        path = path.with_name(name[:-3])
    with pytest.raises(DatasetFormatError, match=match) as info:
        fashion_mnist.load_data(tmp_path / "bad")
    assert str(path) in str(info.value)  # names the file
    assert info.value.__cause__ is None


def test_truncated_file_in_cache_says_how_to_refetch(tmp_path):
    write_set(cache_of(tmp_path))
    target = cache_of(tmp_path) / NAMES[2]
    target.write_bytes(target.read_bytes()[:-30])
    with pytest.raises(DatasetFormatError, match="Delete .* to download a fresh copy"):
        fashion_mnist.load_data()


def test_header_is_checked_before_allocating(tmp_path):
    # A header claiming ~4 billion images must fail fast on the byte count, not try to allocate.
    bogus = struct.pack(">IIII", 2051, 0xFFFFFFFF, 28, 28) + b"\0" * 784
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(bogus))
    with pytest.raises(DatasetFormatError, match="4294967295 images"):
        _idx.read_idx(path, magic=_idx.IMAGES_MAGIC)


def test_inconsistent_counts_and_label_range(tmp_path):
    d = tmp_path / "d"
    write_set(d)
    (d / NAMES[1]).write_bytes(gzip.compress(idx_bytes(np.zeros(19, np.uint8))))
    with pytest.raises(DatasetFormatError, match="holds 20 images but .* holds 19 labels"):
        fashion_mnist.load_data(d)
    (d / NAMES[1]).write_bytes(gzip.compress(idx_bytes(np.full(20, 12, np.uint8))))
    with pytest.raises(DatasetFormatError, match="must be 0-9, found 12"):
        fashion_mnist.load_data(d)


# ------------------------------------------------------------------------------------------------
# The embedded sample


def test_load_sample():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_sample()
    assert x_train.shape == (3000, 28, 28) and y_train.shape == (3000,)
    assert x_test.shape == (500, 28, 28) and y_test.shape == (500,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))
    assert np.array_equal(np.bincount(y_train, minlength=10), np.full(10, 300))
    assert np.array_equal(np.bincount(y_test, minlength=10), np.full(10, 50))
    assert 60 < x_train.mean() < 90
    total = sum(p.stat().st_size for p in fashion_mnist.SAMPLE_DIR.iterdir())
    assert total < 1_600_000


@needs_real
def test_sample_is_the_documented_subset_and_reproducible(tmp_path, real):
    from trine.datasets import _make_sample

    (x_train, y_train), (x_test, y_test) = real
    (sx, sy), (tx, ty) = fashion_mnist.load_sample()
    train = np.sort(np.concatenate([np.flatnonzero(y_train == c)[:300] for c in range(10)]))
    test = np.sort(np.concatenate([np.flatnonzero(y_test == c)[:50] for c in range(10)]))
    assert np.array_equal(sx, x_train[train]) and np.array_equal(sy, y_train[train])
    assert np.array_equal(tx, x_test[test]) and np.array_equal(ty, y_test[test])
    # The generating script reproduces the shipped files byte for byte.
    sizes = _make_sample.build_sample(REAL_DIR, tmp_path / "sample")
    for name in NAMES:
        shipped = (fashion_mnist.SAMPLE_DIR / name).read_bytes()
        assert (tmp_path / "sample" / name).read_bytes() == shipped
        assert sizes[name] == len(shipped)


def test_fallback_to_sample_warns(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TRINE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.warns(fashion_mnist.SampleDataWarning) as record:
        (x_train, _), (x_test, _) = fashion_mnist.load_data(fallback_to_sample=True)
    assert x_train.shape == (3000, 28, 28) and x_test.shape == (500, 28, 28)
    message = str(record[0].message)
    assert message.startswith(f"Fashion-MNIST not found in {tmp_path / 'nowhere'}")
    assert "and could not be downloaded" in message
    assert "using the embedded sample of 3,000 train / 500 test images" in message
    assert "TRINE_DATA_DIR" in message
    assert record[0].filename == __file__  # points at the caller


def test_fallback_on_checksum_mismatch_and_explicit_dir(tmp_path, monkeypatch):
    remote = write_set(tmp_path / "remote")
    server = FakeServer({"m/" + n: d for n, d in remote.items()})
    monkeypatch.setattr(_idx, "fetch", server)
    spec = spec_for(fashion_mnist, remote, ("m/",))
    monkeypatch.setattr(
        fashion_mnist, "SPEC", dataclasses.replace(spec, sha256=dict.fromkeys(NAMES, "0" * 64))
    )
    with pytest.warns(fashion_mnist.SampleDataWarning, match="checksum mismatch"):
        (x_train, _), _ = fashion_mnist.load_data(fallback_to_sample=True)
    assert len(x_train) == 3000
    with pytest.warns(fashion_mnist.SampleDataWarning, match="not found in .*empty"):
        fashion_mnist.load_data(tmp_path / "empty", fallback_to_sample=True)


def test_no_fallback_when_data_found_or_corrupt(tmp_path):
    write_set(tmp_path / "d", fill=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fill_of(fashion_mnist.load_data(tmp_path / "d", fallback_to_sample=True)) == 9
    (tmp_path / "d" / NAMES[0]).write_bytes(b"junk")
    with pytest.raises(DatasetFormatError):  # a broken copy is reported, not papered over
        fashion_mnist.load_data(tmp_path / "d", fallback_to_sample=True)


# ------------------------------------------------------------------------------------------------
# MNIST


def test_mnist_from_directory_and_keras_call_forms(tmp_path, monkeypatch, no_network):
    write_set(tmp_path / "m", fill=8, n_train=30, n_test=12)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(tmp_path / "m")
    assert x_train.shape == (30, 28, 28) and y_train.shape == (30,)
    assert x_test.shape == (12, 28, 28) and y_test.dtype == np.uint8
    monkeypatch.setenv("TRINE_DATA_DIR", str(tmp_path / "m"))
    assert fill_of(mnist.load_data()) == 8
    assert fill_of(mnist.load_data(path="mnist.npz")) == 8  # Keras's default: a cache file name
    assert no_network.calls == []


def test_mnist_reads_keras_npz(tmp_path):
    arrays = fake_arrays(fill=11)
    archive = tmp_path / "mnist.npz"
    np.savez(
        archive,
        x_train=arrays[NAMES[0]],
        y_train=arrays[NAMES[1]],
        x_test=arrays[NAMES[2]],
        y_test=arrays[NAMES[3]],
    )
    assert fill_of(mnist.load_data(path=archive)) == 11
    np.savez(archive, x_train=arrays[NAMES[0]])
    with pytest.raises(DatasetFormatError, match="lacks y_train, x_test, y_test"):
        mnist.load_data(path=archive)


def test_mnist_refuses_fashion_files(tmp_path, monkeypatch, no_network):
    # Same file names: a Fashion-MNIST directory must not be read as MNIST. The check runs on the
    # training labels before any image is read, so the image files here are placeholders.
    d = tmp_path / "fashion"
    write_set(d)
    labels = np.zeros(60000, np.uint8)
    labels[:10] = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    (d / NAMES[1]).write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DatasetFormatError, match="are Fashion-MNIST, not MNIST"):
        mnist.load_data(d)
    monkeypatch.setenv("TRINE_DATA_DIR", str(d))
    with pytest.raises(DatasetNotFoundError, match="skipped. The files"):
        mnist.load_data(download=False)


def test_mnist_download_uses_its_own_checksums(tmp_path, monkeypatch):
    remote = write_set(tmp_path / "remote", fill=13)
    server = FakeServer({"m/" + n: d for n, d in remote.items()})
    monkeypatch.setattr(_idx, "fetch", server)
    monkeypatch.setattr(mnist, "SPEC", spec_for(mnist, remote, ("m/",)))
    assert fill_of(mnist.load_data()) == 13
    assert leftovers(cache_of(tmp_path, "mnist")) == sorted(NAMES)
    assert mnist.SHA256 != fashion_mnist.SHA256


# ------------------------------------------------------------------------------------------------
# Arguments and exports


def test_argument_errors(tmp_path):
    write_set(tmp_path / "a")
    with pytest.raises(ValueError, match="received both path="):
        fashion_mnist.load_data(tmp_path / "a", data_dir=tmp_path / "b")
    with pytest.raises(ValueError, match="expected a directory .* received the file"):
        fashion_mnist.load_data(tmp_path / "a" / NAMES[0])
    with pytest.raises(TypeError, match="received int"):
        fashion_mnist.load_data(3)
    assert fill_of(fashion_mnist.load_data(tmp_path / "a", data_dir=tmp_path / "a")) == 7
    assert fill_of(fashion_mnist.load_data(str(tmp_path / "a"))) == 7


def test_exports():
    assert datasets.fashion_mnist is fashion_mnist and datasets.mnist is mnist
    assert set(datasets.__all__) >= {"fashion_mnist", "mnist"}
    assert issubclass(datasets.DatasetNotFoundError, FileNotFoundError)
    assert issubclass(datasets.DatasetFormatError, ValueError)
    assert callable(fashion_mnist.load_data) and callable(mnist.load_data)
    assert len(fashion_mnist.CLASS_NAMES) == 10
