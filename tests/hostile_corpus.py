"""A corpus of hostile `.keras` files, one per route by which a file could make trine run
code, touch files or allocate without bound. Used by the audit-hook test (each must be
refused with a clear error and no audited event) and by the fuzzer (as seeds)."""
from __future__ import annotations

import base64
import copy
import io
import json
import marshal
import pickle
import zipfile

import trine
from trine.layers import Dense, Input
from trine.models import Sequential


def base_parts():
    """(config, weights bytes, metadata bytes) of a small valid Functional model."""
    x = Input(shape=(3,), name="x")
    h = Dense(4, activation="relu", name="d1")(x)
    y = Dense(2, name="d2")(h)
    model = trine.Model(x, y, name="victim")
    buf = io.BytesIO()
    model.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return (json.loads(zf.read("config.json")), zf.read("model.weights.h5"),
                zf.read("metadata.json"))


def sequential_parts():
    model = Sequential([Input(shape=(3,)), Dense(4), Dense(2)])
    buf = io.BytesIO()
    model.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        return json.loads(zf.read("config.json")), zf.read("model.weights.h5")


def archive_bytes(config, weights, metadata=b"{}", prefix=b"", members=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", metadata)
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights)
        for info, data in members:
            zf.writestr(info, data)
    return prefix + buf.getvalue()


def _edit_weights(weights, edit):
    import h5py
    buf = io.BytesIO(weights)
    with h5py.File(buf, "a") as f:
        edit(f)
    return buf.getvalue()


class _Payload:
    """Unpickling this calls os.system: the pickle a hostile file carries."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def _fn(module, name):
    return {"module": module, "class_name": "function", "config": name, "registered_name": None}


def _lambda_layer(name, function, arguments=None):
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": name, "trainable": True, "dtype": "float32",
                       "function": function, "arguments": arguments or {}},
            "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                "shape": [None, 2], "dtype": "float32", "keras_history": ["d2", 0, 0]}}],
                "kwargs": {}}]}


def _with_output_layer(config, layer):
    cfg = copy.deepcopy(config)
    cfg["config"]["layers"].append(layer)
    cfg["config"]["output_layers"] = [[layer["config"]["name"], 0, 0]]
    return cfg


def _op_layer(name, op, args, kwargs=None):
    return {"module": "keras.layers", "class_name": "OpLayer", "registered_name": None,
            "config": {"name": name, "trainable": True, "dtype": "float32", "op": op,
                       **({"op_kwargs": kwargs} if kwargs else {})},
            "inbound_nodes": [{"args": args, "kwargs": {}}]}


_D2 = {"class_name": "__keras_tensor__",
       "config": {"shape": [None, 2], "dtype": "float32", "keras_history": ["d2", 0, 0]}}


def corpus(marker: str) -> dict:
    """`{case name: file bytes}`; `marker` is a path a successful payload would create."""
    config, weights, meta = base_parts()
    payload = pickle.dumps(_Payload(marker))
    out = {}

    def add(name, cfg, prefix=b""):
        out[name] = archive_bytes(cfg, weights, meta, prefix)

    # Lambda naming functions outside the allow-list
    add("lambda-jnp-load-pickle-self", _with_output_layer(config, _lambda_layer(
        "evil", _fn("jax.numpy", "load"), {"file": "/proc/self/fd/3", "allow_pickle": True})),
        prefix=payload)
    add("lambda-numpy-load", _with_output_layer(config, _lambda_layer(
        "evil", _fn("numpy", "load"), {"file": marker, "allow_pickle": True})))
    add("lambda-numpy-save", _with_output_layer(config, _lambda_layer(
        "evil", _fn("numpy", "save"), {"file": marker})))
    add("lambda-ops-save", _with_output_layer(config, _lambda_layer(
        "evil", _fn("trine.ops", "save"), {"file": marker})))
    add("lambda-compilation-cache", _with_output_layer(config, _lambda_layer(
        "evil", _fn("trine.backend", "enable_compilation_cache"))))
    add("lambda-trine-main", _with_output_layer(config, _lambda_layer(
        "evil", _fn("trine.cli", "main"))))
    add("lambda-private-trine", _with_output_layer(config, _lambda_layer(
        "evil", _fn("trine.saving.archive", "_load_path"))))
    add("lambda-os-system", _with_output_layer(config, _lambda_layer(
        "evil", _fn("os", "system"), {"command": f"touch {marker}"})))
    add("lambda-builtins-eval", _with_output_layer(config, _lambda_layer(
        "evil", _fn("builtins", "eval"))))
    add("lambda-jax-debug-callback", _with_output_layer(config, _lambda_layer(
        "evil", _fn("jax.debug", "callback"))))
    # Keras __lambda__ bytecode (CVE-2024-3660 style)
    src = f"def evil(x):\n    open({marker!r}, 'w').write('pwned')\n    return x\n"
    ns = {}
    exec(compile(src, "<payload>", "exec"), ns)  # builds the test's payload, never loaded
    code = base64.b64encode(marshal.dumps(ns["evil"].__code__)).decode("ascii")
    add("lambda-bytecode", _with_output_layer(config, _lambda_layer(
        "evil", {"class_name": "__lambda__", "config": {"code": code, "defaults": None,
                                                        "closure": None}})))
    # ops-layer nodes naming I/O ops, with a path as a literal argument
    add("oplayer-ops-load", _with_output_layer(config, _op_layer(
        "evil", "ops.load", [_D2], {"file": "/proc/self/fd/3", "allow_pickle": True})))
    add("oplayer-ops-save", _with_output_layer(config, _op_layer(
        "evil", "ops.save", [marker, _D2])))
    add("oplayer-ops-fromfile", _with_output_layer(config, _op_layer(
        "evil", "ops.fromfile", ["/proc/self/fd/3"])))
    add("oplayer-not-an-identifier", _with_output_layer(config, _op_layer(
        "evil", "ops.__class__", [_D2])))
    # node arguments: no graph tensor (would run eagerly), objects instead of literals
    eager = _lambda_layer("eager", _fn("jax.numpy", "tanh"))
    eager["inbound_nodes"] = [{"args": [[1.0, 2.0]], "kwargs": {}}]
    add("node-call-without-graph-tensor", _with_output_layer(config, eager))
    obj_arg = _op_layer("evil", "add", [_D2, {"module": "keras.layers", "class_name": "Dense",
                                              "config": {"units": 2}, "registered_name": None}])
    add("node-argument-is-an-object", _with_output_layer(config, obj_arg))
    free = _op_layer("evil", "add", [_D2, {"class_name": "__keras_tensor__", "config": {
        "shape": [None, 2], "dtype": "float32"}}])
    add("node-tensor-not-from-graph", _with_output_layer(config, free))
    bad_kw = _lambda_layer("evil", _fn("jax.numpy", "tanh"))
    bad_kw["inbound_nodes"][0]["kwargs"] = {"filename": marker}
    add("node-unknown-keyword", _with_output_layer(config, bad_kw))
    # classes outside the allow-list (namespace scanning used to reach these)
    for name, record in {
            "class-losses-Variable": {"module": "keras.losses", "class_name": "Variable",
                                      "config": {"value": 0}},
            "class-os-system": {"module": "os", "class_name": "system", "config": {}},
            "class-subprocess-Popen": {"module": "subprocess", "class_name": "Popen",
                                       "config": {"args": ["touch", marker]}},
            "class-metrics-StatelessScope": {"module": "keras.metrics",
                                             "class_name": "StatelessScope", "config": {}},
            "class-initializers-SeedGenerator": {"module": "keras.initializers",
                                                 "class_name": "SeedGenerator",
                                                 "config": {"seed": 1}}}.items():
        cfg = copy.deepcopy(config)
        layer = dict(record, registered_name=record.get("registered_name"))
        layer["config"] = dict(record["config"], name="evil")
        layer["inbound_nodes"] = [{"args": [_D2], "kwargs": {}}]
        cfg["config"]["layers"].append(layer)
        add(name, cfg)
    # a vocabulary file path in a layer's config
    lookup = {"module": "keras.layers", "class_name": "StringLookup", "registered_name": None,
              "config": {"name": "evil", "vocabulary": "/etc/passwd"},
              "inbound_nodes": []}
    cfg = copy.deepcopy(config)
    cfg["config"]["layers"].append(lookup)
    add("vocabulary-file-path", cfg)
    # compile config naming things that are not optimizers, losses or metrics
    cfg = copy.deepcopy(config)
    cfg["compile_config"] = {"optimizer": {"module": "keras.optimizers",
                                           "class_name": "KerasOptimizerState", "config": {}},
                             "loss": "mse"}
    add("compile-optimizer-not-allowed", cfg)
    cfg = copy.deepcopy(config)
    cfg["compile_config"] = {"optimizer": "adam", "loss": _fn("keras.losses", "deserialize")}
    add("compile-loss-function-not-allowed", cfg)
    # sizes beyond the load budget
    cfg = copy.deepcopy(config)
    cfg["config"]["layers"][1]["config"]["units"] = 2_000_000_000
    add("size-dense-units", cfg)
    cfg = copy.deepcopy(config)
    cfg["config"]["layers"][0]["config"]["batch_shape"] = [None, 2 ** 40]
    add("size-input-batch-shape", cfg)
    # the weights file reaching other files (CVE-2026-1669 and kin)
    def external_link(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink("/etc/passwd", "/vars/0")

    def external_storage(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", shape=(3, 4), dtype="f4",
                                              external=[("/etc/hostname", 0, 48)])

    import h5py
    for name, edit in (("h5-external-link", external_link),
                       ("h5-external-storage", external_storage)):
        out[name] = archive_bytes(config, _edit_weights(weights, edit), meta)
    # the archive itself: traversal, symlink, decompression bomb (CVE-2025-12060, zip bombs)
    link = zipfile.ZipInfo("assets/link")
    link.external_attr = (0o120777 << 16)
    bomb = zipfile.ZipInfo("assets/bomb")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    for name, member in (("zip-member-traversal", ("../../evil.txt", b"x")),
                         ("zip-member-symlink", (link, b"/etc/passwd")),
                         ("zip-member-bomb", (bomb, bytes(64 << 20)))):
        out[name] = archive_bytes(config, weights, meta, members=[member])
    seq, seq_weights = sequential_parts()
    emb = copy.deepcopy(seq)
    emb["config"]["layers"][1] = {"module": "keras.layers", "class_name": "Embedding",
                                  "registered_name": None,
                                  "config": {"name": "emb", "input_dim": 2 ** 33,
                                             "output_dim": 64}}
    out["size-embedding-table"] = archive_bytes(emb, seq_weights, meta)
    return out


__all__ = ["archive_bytes", "base_parts", "corpus"]
