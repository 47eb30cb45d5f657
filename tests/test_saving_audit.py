"""Hostile model files loaded under an audit-hook tripwire (sys.addaudithook), in a fresh
process: each must end with a clear trine error, and nothing audited may happen — no file
opened but the archive, no process, no exec/compile, no import, no unpickling, no socket, no
write. One file per route by which a file used to (or could) reach code, files or unbounded
memory; see tests/hostile_corpus.py."""
import json
import os
import subprocess
import sys

import jax.numpy as jnp
import pytest

import trine
from hostile_corpus import corpus

HERE = os.path.dirname(os.path.abspath(__file__))

# What each refusal must say (a fragment of the message), so a refusal is also a clear one.
EXPECTED = {
    "lambda-": "allow-list",
    "lambda-bytecode": "bytecode",
    "oplayer-": "op",
    "node-call-without-graph-tensor": "run eagerly",
    "node-argument-is-an-object": "graph tensors and JSON literals",
    "node-tensor-not-from-graph": "not produced by the graph",
    "node-unknown-keyword": "does not take",
    "class-": "allow-list",
    "vocabulary-file-path": "file to read",
    "compile-": "",
    "size-": "load budget",
    "h5-external-link": "external link",
    "h5-external-storage": "external storage",
    "zip-member-traversal": "evil.txt",
    "zip-member-symlink": "symbolic link",
    "zip-member-bomb": "bomb",
}


def benign_model():
    """A model that takes every loading path the hostile files take (Lambda, op nodes, a
    lookup layer, compile config), so the worker imports all it needs before the hook."""
    x = trine.Input(shape=(3,), name="x")
    h = trine.layers.Dense(4, activation="relu", name="d1")(x)
    h = trine.layers.Lambda(jnp.tanh, name="lam")(h)
    h = h + 1.0
    h = trine.ops.abs(h)
    y = trine.layers.Dense(2, name="d2")(h)
    model = trine.Model(x, y)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def run_corpus(tmp_path):
    marker = str(tmp_path / "PWNED")
    files = {}
    for name, data in corpus(marker).items():
        p = tmp_path / f"{name}.keras"
        p.write_bytes(data)
        files[str(p)] = name
    benign = tmp_path / "benign.keras"
    benign_model().save(benign)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.path.join(HERE, "..", "src")]))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "audit_loader.py"), str(benign),
                           *files], capture_output=True, text=True, timeout=600, env=env,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(files), proc.stdout[-2000:] + proc.stderr[-2000:]
    return marker, {files[r["path"]]: r for r in results}


def test_hostile_files_are_refused_with_nothing_audited(tmp_path):
    marker, results = run_corpus(tmp_path)
    assert not os.path.exists(marker), "a payload ran"
    problems = []
    for name, r in sorted(results.items()):
        if r["outcome"] not in ("SavingError", "UnsafeFileError"):
            problems.append(f"{name}: ended with {r['outcome']}: {r['message'][:200]}")
        if r["events"]:
            problems.append(f"{name}: audited events {r['events'][:5]}")
        key = max((k for k in EXPECTED if name.startswith(k)), key=len)
        if EXPECTED[key] not in r["message"]:
            problems.append(f"{name}: message lacks {EXPECTED[key]!r}: {r['message'][:300]}")
    assert not problems, "\n".join(problems)
    assert len(results) >= 30
