"""Hostile model files: one crafted file per class of Keras loading CVE, each refused.

Every test checks three things: the load raises a trine error (`SavingError`, or its
subclass `UnsafeFileError` for refusals) whose message names what was refused; a marker file
that the payload would create does not exist (no code ran); and nothing was written outside
(or inside) the test's directory.
"""
import base64
import io
import json
import marshal
import os
import sys
import time
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import trine
from trine.layers import Dense, Input
from trine.models import Sequential
from trine.saving import SavingError, UnsafeFileError


# ---------------------------------------------------------------------------- helpers
def small_model():
    return Sequential([Input(shape=(3,)), Dense(4, activation="relu"), Dense(2)])


def parts(model=None):
    """(config dict, weights bytes, metadata bytes) of a valid archive."""
    buf = io.BytesIO()
    (model or small_model()).save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return (json.loads(zf.read("config.json")), zf.read("model.weights.h5"),
                zf.read("metadata.json"))


def write_archive(path, config, weights, members=None, metadata=b"{}"):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", metadata)
        zf.writestr("config.json", json.dumps(config) if not isinstance(config, bytes) else config)
        if weights is not None:
            zf.writestr("model.weights.h5", weights)
        for name, data in members or []:
            zf.writestr(name, data)
    return path


def snapshot(directory):
    return sorted(os.path.relpath(os.path.join(r, f), directory)
                  for r, _, files in os.walk(directory) for f in files)


def refused(path, match, cls=UnsafeFileError, **kw):
    with pytest.raises(cls, match=match):
        trine.models.load_model(path, **kw)


def payload_code(marker):
    """Bytecode (base64, as Keras writes it) of a function that creates `marker`."""
    src = f"def evil(x):\n    open({str(marker)!r}, 'w').write('pwned')\n    return x\n"
    ns = {}
    exec(compile(src, "<payload>", "exec"), ns)  # builds the test's payload, never loaded
    return base64.b64encode(marshal.dumps(ns["evil"].__code__)).decode("ascii")


def with_layer(config, layer_record, index=1):
    cfg = json.loads(json.dumps(config))
    cfg["config"]["layers"].insert(index, layer_record)
    return cfg


# ---------------------------------------------------------------------------- CVE-2024-3660
def test_lambda_bytecode_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    config, weights, _ = parts()
    record = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
              "config": {"name": "lambda", "trainable": True, "dtype": "float32",
                         "function": {"class_name": "__lambda__",
                                      "config": {"code": payload_code(marker), "defaults": None,
                                                 "closure": None}},
                         "arguments": {}}}
    path = write_archive(tmp_path / "lambda.keras", with_layer(config, record, 2), weights)
    before = snapshot(tmp_path)
    refused(path, r"lambda.*bytecode.*safe_mode=False")
    # the same record anywhere in the config (nested in a layer's arguments) is refused too
    record["config"]["arguments"] = {"f": record["config"]["function"]}
    record["config"]["function"] = {"module": "jax.numpy", "class_name": "function",
                                    "config": "tanh", "registered_name": None}
    refused(write_archive(tmp_path / "nested.keras", with_layer(config, record, 2), weights),
            r"lambda.*bytecode")
    assert not marker.exists()
    assert snapshot(tmp_path) == sorted(before + ["nested.keras"])


def test_keras_lambda_loads_only_with_explicit_safe_mode_false(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if not hasattr(trine.layers, "Lambda"):
        pytest.skip("trine.layers does not export Lambda yet")
    km = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2.0 + 1.0)])
    km.save(tmp_path / "k.keras")
    refused(tmp_path / "k.keras", r"lambda.*bytecode")
    model = trine.models.load_model(tmp_path / "k.keras", safe_mode=False)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(model(x)), x * 2.0 + 1.0)


# ---------------------------------------------------------------------------- CVE-2025-1550
@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    """A module on sys.path whose import would create a marker file."""
    marker = tmp_path / "IMPORTED"
    (tmp_path / "trine_evil_mod.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "class Evil:\n    @classmethod\n    def from_config(cls, c):\n        return cls()\n"
        "def run(*a, **k):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("trine_evil_mod", None)


@pytest.mark.parametrize("record,what", [
    ({"module": "trine_evil_mod", "class_name": "Evil", "config": {}, "registered_name": None},
     r"class 'Evil' \(module 'trine_evil_mod'"),
    ({"module": "os", "class_name": "system", "config": {"command": "touch x"},
      "registered_name": None}, r"class 'system' \(module 'os'"),
    ({"module": "keras.src.utils.file_utils", "class_name": "copy", "config": {},
      "registered_name": None}, r"class 'copy'"),
    ({"module": "trine.saving.archive", "class_name": "save_model", "config": {},
      "registered_name": None}, r"class 'save_model'"),
], ids=["any-module", "os.system", "keras-internals", "trine-non-layer"])
def test_classes_outside_the_allow_list_are_refused(tmp_path, evil_module, record, what):
    config, weights, _ = parts()
    path = write_archive(tmp_path / "m.keras", with_layer(config, record), weights)
    refused(path, what + r".*allow-list")
    assert not evil_module.exists() and "trine_evil_mod" not in sys.modules


@pytest.mark.parametrize("function", [
    {"module": "trine_evil_mod", "class_name": "function", "config": "run",
     "registered_name": "run"},
    {"module": "builtins", "class_name": "function", "config": "exec", "registered_name": None},
    {"module": "os", "class_name": "function", "config": "system", "registered_name": "system"},
], ids=["module-function", "builtins.exec", "os.system"])
def test_functions_outside_the_allow_list_are_refused(tmp_path, evil_module, function):
    config, weights, _ = parts()
    cfg = json.loads(json.dumps(config))
    cfg["config"]["layers"][1]["config"]["activation"] = function
    refused(write_archive(tmp_path / "m.keras", cfg, weights),
            rf"function '{function['config']}' \(module '{function['module']}'")
    assert not evil_module.exists() and "trine_evil_mod" not in sys.modules


# ---------------------------------------------------------------------------- CVE-2025-8747 / 9906
def test_a_file_cannot_switch_safe_mode_off(tmp_path):
    marker = tmp_path / "PWNED"
    config, weights, _ = parts()
    lam = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
           "config": {"name": "lam", "function": {"class_name": "__lambda__", "config": {
               "code": payload_code(marker), "defaults": None, "closure": None}}}}
    switches = [
        # Keras's own global switch, named as a layer class and as a function
        {"module": "keras.config", "class_name": "enable_unsafe_deserialization",
         "config": {}, "registered_name": None},
        {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
         "config": {"name": "switch", "function": {
             "module": "keras.config", "class_name": "function",
             "config": "enable_unsafe_deserialization", "registered_name": None}}},
    ]
    for i, switch in enumerate(switches):
        cfg = with_layer(with_layer(config, lam, 1), switch, 1)
        with pytest.raises(UnsafeFileError, match=r"enable_unsafe_deserialization|lambda"):
            trine.models.load_model(write_archive(tmp_path / f"s{i}.keras", cfg, weights))
    # a nested model's config asking for safe_mode=False changes nothing
    inner = {"module": "keras", "class_name": "Sequential", "registered_name": None,
             "config": {"name": "inner", "safe_mode": False, "layers": [lam]}}
    refused(write_archive(tmp_path / "nested.keras", with_layer(config, inner), weights),
            r"lambda.*bytecode")
    # and neither can code that runs during a safe load (a registered class asking for it)
    from trine.saving import serialization as ser

    @trine.saving.register_serializable(package="safety_tests")
    class Sneaky(trine.layers.Layer):
        def __init__(self, payload=None, **kw):
            super().__init__(**kw)
            self.payload = ser.deserialize_keras_object(payload, safe_mode=False)

        def call(self, x):
            return x

        def get_config(self):
            return super().get_config()

    sneaky = {"module": None, "class_name": "Sneaky", "registered_name": "safety_tests>Sneaky",
              "config": {"name": "sneaky", "payload": lam["config"]["function"]}}
    refused(write_archive(tmp_path / "sneaky.keras", with_layer(config, sneaky), weights),
            r"lambda.*bytecode")
    assert ser.in_safe_mode() and not marker.exists()


# ---------------------------------------------------------------------------- CVE-2025-9905
def test_legacy_h5_model_files_are_refused(tmp_path):
    marker = tmp_path / "PWNED"
    model_config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Lambda", "config": {"name": "l", "function": [
            payload_code(marker), None, None], "function_type": "lambda"}}]}}
    path = tmp_path / "legacy.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(model_config)
        f.attrs["keras_version"] = "2.15.0"
        f.create_group("model_weights").attrs["layer_names"] = [b"l"]
    refused(path, r"legacy HDF5 model files", cls=SavingError)
    refused(path, r"legacy HDF5 model files", cls=SavingError, safe_mode=False)
    weights = tmp_path / "legacy_weights.h5"
    with h5py.File(weights, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
    with pytest.raises(SavingError, match="legacy Keras 2 HDF5 weights"):
        small_model().load_weights(weights)
    assert not marker.exists()


# ---------------------------------------------------------------------------- CVE-2025-12060
@pytest.mark.parametrize("member", ["../escaped.txt", "/tmp/trine_absolute_escape.txt",
                                   "assets/../../escaped.txt", "C:\\windows\\escaped.txt",
                                   "assets\\..\\..\\escaped.txt"])
def test_member_names_cannot_escape(tmp_path, member):
    config, weights, _ = parts()
    target = tmp_path / "target"
    target.mkdir()
    path = write_archive(target / "m.keras", config, weights, members=[(member, b"pwned")])
    before = snapshot(tmp_path)
    refused(path, "could escape")
    with pytest.raises(UnsafeFileError, match="could escape"):
        small_model().load_weights(path)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "escaped.txt").exists()
    assert not os.path.exists("/tmp/trine_absolute_escape.txt")


def test_symlink_and_duplicate_members_are_refused(tmp_path):
    config, weights, _ = parts()
    path = tmp_path / "link.keras"
    write_archive(path, config, weights)
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo("assets/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    refused(path, "symbolic link")
    dup = tmp_path / "dup.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        write_archive(dup, config, weights, members=[("config.json", b"{}")])
    refused(dup, "appears twice")


# ---------------------------------------------------------------------------- zip bombs
def test_zip_bombs_are_refused_before_reading(tmp_path):
    config, weights, _ = parts()
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", bytes(64 << 20))  # 64 MiB of zeros: ~64 KiB stored
    start = time.perf_counter()
    refused(path, r"'model.weights.h5'.*decompression bomb")
    assert time.perf_counter() - start < 5
    # a header that lies about the size is caught too (declared 1 GiB, 10 bytes stored)
    liar = tmp_path / "liar.keras"
    write_archive(liar, config, weights, members=[("assets/x", b"0123456789")])
    data = bytearray(liar.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (1 << 30).to_bytes(4, "little")
    liar.write_bytes(bytes(data))
    refused(liar, r"'assets/x' declares 1073741824 bytes")
    # an oversized config.json
    big = write_archive(tmp_path / "big.keras", b" " * (65 << 20) + json.dumps(config).encode(),
                        weights)
    refused(big, r"'config.json' declares")


# ---------------------------------------------------------------------------- CVE-2026-0897 / 12570
def _weights_with(tmp_path, name, edit):
    model = small_model()
    path = tmp_path / name
    model.save_weights(path)
    with h5py.File(path, "a") as f:
        edit(f)
    return model, path


def test_hdf5_shape_bombs_never_allocate(tmp_path):
    def bomb(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", shape=(1 << 20, 1 << 20), dtype="f4",
                                              chunks=(64, 64), compression="gzip")

    model, path = _weights_with(tmp_path, "bomb.weights.h5", bomb)
    before = model.get_weights()
    start = time.perf_counter()
    with pytest.raises(SavingError, match=r"shape \(1048576, 1048576\).*\(3, 4\)"):
        model.load_weights(path)
    assert time.perf_counter() - start < 5
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # read without an expected shape: the declared size is checked against the stored bytes
    from trine.saving.safe_h5 import SafeH5Reader
    with SafeH5Reader(path) as reader:
        with pytest.raises(UnsafeFileError, match=r"declares 4398046511104 bytes but stores"):
            reader.read(reader.get_group("layers/dense/vars"), "0")
    # inside an archive, and in the optimizer group (shapes come from the model there too)
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "m.keras")
    config, weights, _ = parts(model)
    buf = io.BytesIO(weights)
    with h5py.File(buf, "a") as f:
        bomb(f)
    refused(write_archive(tmp_path / "bomb.keras", config, buf.getvalue()),
            r"shape \(1048576, 1048576\)", cls=SavingError)


# ---------------------------------------------------------------------------- CVE-2026-1669
@pytest.fixture
def secret(tmp_path):
    """A local file an attacker would like to read through the weights file."""
    raw = tmp_path / "secret.bin"
    raw.write_bytes(np.arange(12, dtype=np.float32).tobytes())
    other = tmp_path / "secret.h5"
    with h5py.File(other, "w") as f:
        f["vars/0"] = np.arange(12, dtype=np.float32).reshape(3, 4)
    return raw, other


@pytest.mark.parametrize("kind", ["external-link", "soft-link", "external-storage", "virtual"])
def test_hdf5_links_and_foreign_storage_are_refused(tmp_path, secret, kind):
    raw, other = secret

    def edit(f):
        g = f["layers/dense/vars"]
        del g["0"]
        if kind == "external-link":
            g["0"] = h5py.ExternalLink(str(other), "/vars/0")
        elif kind == "soft-link":
            f["stash"] = np.zeros((3, 4), np.float32)
            g["0"] = h5py.SoftLink("/stash")
        elif kind == "external-storage":
            g.create_dataset("0", shape=(3, 4), dtype="f4", external=[(str(raw), 0, 48)])
        else:
            layout = h5py.VirtualLayout(shape=(3, 4), dtype="f4")
            layout[:] = h5py.VirtualSource(str(other), "vars/0", shape=(3, 4))
            g.create_virtual_dataset("0", layout)

    model, path = _weights_with(tmp_path, f"{kind}.weights.h5", edit)
    before = model.get_weights()
    expected = {"external-link": "an external link", "soft-link": "a soft link",
                "external-storage": "external storage", "virtual": "a virtual dataset"}[kind]
    with pytest.raises(UnsafeFileError, match=f"{expected}.*at '/layers/dense/vars/0'"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------- bad input
def test_malformed_files_give_clear_errors(tmp_path):
    config, weights, _ = parts()
    cases = {
        "truncated": (None, tmp_path / "m.keras"),
        "not-json": (b"{not json", weights),
        "wrong-type": ("units", weights),
        "unknown-class": ("unknown", weights),
        "no-weights": (config, None),
        "wrong-weights": ("small", weights),
    }
    small_cfg, small_w, _ = parts(Sequential([Input(shape=(3,)), Dense(2)]))
    for name, (cfg, w) in cases.items():
        path = tmp_path / f"{name}.keras"
        if name == "truncated":
            write_archive(path, config, weights)
            path.write_bytes(path.read_bytes()[:300])
        else:
            c = json.loads(json.dumps(config))
            if cfg == "units":
                c["config"]["layers"][1]["config"]["units"] = "many"
            elif cfg == "unknown":
                c["config"]["layers"][1]["class_name"] = "NoSuchLayer"
            elif cfg == "small":
                c, w = config, small_w
            elif isinstance(cfg, bytes):
                c = cfg
            write_archive(path, c, w)
        with pytest.raises(SavingError) as info:
            trine.models.load_model(path)
        message = str(info.value)
        assert {"truncated": "not a valid .keras archive", "not-json": "not valid JSON",
                "wrong-type": "units", "unknown-class": "NoSuchLayer",
                "no-weights": "no model.weights.h5",
                "wrong-weights": "could not be loaded"}[name] in message, (name, message)


def test_fuzzed_files_load_or_raise_a_trine_error(tmp_path):
    """Random mutations of a valid archive and weights file: each load succeeds or raises
    SavingError; nothing else escapes (bounded to a few seconds)."""
    model = small_model()
    model.compile(optimizer="adam", loss="mse")
    config, weights, meta = parts(model)
    raw = io.BytesIO()
    model.save(raw)
    archive = raw.getvalue()
    rng = np.random.default_rng(1234)

    def flip(data, n):
        d = bytearray(data)
        for _ in range(n):
            d[rng.integers(len(d))] = rng.integers(256)
        return bytes(d)

    def mutate_json(value, depth=0):
        if isinstance(value, dict) and value and rng.random() < 0.8:
            k = list(value)[rng.integers(len(value))]
            value[k] = mutate_json(value[k], depth + 1)
            return value
        if isinstance(value, list) and value and rng.random() < 0.8:
            i = rng.integers(len(value))
            value[i] = mutate_json(value[i], depth + 1)
            return value
        return [None, -1, 10 ** 9, "x", [], {}, 1.5, True, {"class_name": "X", "config": {}}][
            rng.integers(9)]

    outcomes = {"ok": 0, "refused": 0}
    deadline = time.perf_counter() + 8
    for i in range(150):
        if time.perf_counter() > deadline:
            break
        kind = i % 4
        if kind == 0:
            data = flip(archive, rng.integers(1, 6))
        elif kind == 1:
            b = io.BytesIO()
            with zipfile.ZipFile(b, "w") as zf:
                zf.writestr("metadata.json", meta)
                zf.writestr("config.json", json.dumps(mutate_json(json.loads(json.dumps(config)))))
                zf.writestr("model.weights.h5", weights)
            data = b.getvalue()
        elif kind == 2:
            b = io.BytesIO()
            with zipfile.ZipFile(b, "w") as zf:
                zf.writestr("metadata.json", meta)
                zf.writestr("config.json", json.dumps(config))
                zf.writestr("model.weights.h5", flip(weights, rng.integers(1, 10)))
            data = b.getvalue()
        else:
            wpath = tmp_path / "f.weights.h5"
            wpath.write_bytes(flip(weights, rng.integers(1, 10))[: rng.integers(200, len(weights) + 1)])
            try:
                small_model().load_weights(wpath)
                outcomes["ok"] += 1
            except SavingError:
                outcomes["refused"] += 1
            continue
        if rng.random() < 0.1:
            data = data[: rng.integers(len(data))]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trine.models.load_model(io.BytesIO(data))
            outcomes["ok"] += 1
        except SavingError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) >= 20


def test_keras_global_switch_enable_unsafe_deserialization(tmp_path):
    """keras.config.enable_unsafe_deserialization() is the caller's choice (as in Keras): with
    it, Keras lambda bytecode loads; without it (and by default) it is refused."""
    marker = tmp_path / "PWNED"
    config, weights, _ = parts()
    record = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
              "config": {"name": "lam", "function": {"class_name": "__lambda__", "config": {
                  "code": payload_code(marker), "defaults": None, "closure": None}},
                  "arguments": {}}}
    path = write_archive(tmp_path / "lam.keras", with_layer(config, record), weights)
    refused(path, "bytecode")
    assert not marker.exists()
    assert not trine.saving.serialization.in_safe_mode() is False
    trine.config.enable_unsafe_deserialization()
    try:
        assert trine.saving.serialization.in_safe_mode() is False
    finally:
        trine.config._SETTINGS["unsafe_deserialization"] = False
    assert trine.saving.serialization.in_safe_mode() is True
