"""Fuzz trine's model loader in this process under an audit-hook tripwire.

Usage: python fuzz_loader.py CASES SEED

Mutates valid and hostile archives (tests/hostile_corpus.py) with mutations aimed at
function-name fields, node arguments, class names and sizes, loads each from memory, and
prints one JSON summary line: counts per outcome, every case that ended in an exception other
than trine's SavingError family, and every audited event (file opens, processes,
exec/compile, new imports, unpickling, sockets, writes). Each case's index is written to
stderr before it runs, so a crash or hang names the case.
"""
import copy
import io
import json
import sys
import time
import warnings
import zipfile

import numpy as np

import trine
import trine.registry
from audit_loader import _SOURCES, _loaded_sources, current, hook
from hostile_corpus import archive_bytes, base_parts, corpus
from trine.saving import SavingError

_FUNCTION_NAMES = ["load", "save", "system", "eval", "exec", "open", "tanh", "relu", "mean",
                   "fromfile", "enable_compilation_cache", "main", "load_model", "__import__",
                   "getattr", "_load_path", "sum", "reshape", "einsum", "softmax", "Variable",
                   "deserialize", "get", "scan", "cond", "vectorize", "set_printoptions",
                   "__class__", "mro", "ops.load", "ops.tanh", "ops.__getattr__", ""]
_MODULES = [None, "jax.numpy", "numpy", "os", "builtins", "trine.ops", "trine.backend",
            "trine.cli", "trine.__main__", "keras.layers", "keras.activations", "jax.lax",
            "jax.debug", "subprocess", "pickle", "trine.saving.archive", "keras.losses", 7]
_SIZES = [0, -1, -2 ** 31, 2 ** 31, 2 ** 40, 2 ** 63, 10 ** 9, 3, 1.5, "7", None, True,
          [2 ** 40], [None, 2 ** 33], [-1, 3]]
_LITERALS = [None, 1, -1, 2 ** 70, 1.5e308, "x", "/etc/passwd", "/proc/self/fd/3", [], {},
             [[[]]], {"class_name": "__keras_tensor__", "config": {"shape": [None, 2 ** 40],
                                                                   "dtype": "float32"}},
             {"class_name": "__keras_tensor__", "config": {"shape": [None, 2],
                                                           "dtype": "float32",
                                                           "keras_history": ["d1", 0, 0]}},
             {"class_name": "__numpy__", "config": {"value": [1.0, 2.0], "dtype": "float32"}},
             {"class_name": "Dense", "config": {"units": 3}, "module": "keras.layers"},
             {"class_name": "__lambda__", "config": {"code": "AAAA"}},
             {"class_name": "function", "config": "load", "module": "jax.numpy"},
             {"class_name": "__slice__", "config": {"start": 0, "stop": 2 ** 40, "step": 1}}]


def _paths(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield path + (k,), v
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield path + (i,), v
            yield from _paths(v, path + (i,))


def _set(cfg, path, new):
    node = cfg
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = new


def mutate(cfg, rng):
    cfg = copy.deepcopy(cfg)
    for _ in range(int(rng.integers(1, 4))):
        paths = list(_paths(cfg))
        if not paths:
            return cfg
        kind = rng.integers(6)
        if kind == 0:  # function-name fields
            targets = [p for p, v in paths if p[-1] in ("config", "function", "activation", "op")
                       and isinstance(v, str)]
            if targets:
                p = targets[rng.integers(len(targets))]
                name = _FUNCTION_NAMES[rng.integers(len(_FUNCTION_NAMES))]
                _set(cfg, p, ("ops." + name) if p[-1] == "op" and rng.random() < 0.7 else name)
        elif kind == 1:  # module / class names
            targets = [p for p, v in paths if p[-1] in ("module", "class_name", "registered_name")]
            if targets:
                p = targets[rng.integers(len(targets))]
                pool = _MODULES if p[-1] == "module" else _FUNCTION_NAMES + [
                    "Lambda", "OpLayer", "Dense", "Functional", "StringLookup", "function",
                    "__lambda__", "__numpy__", "__typespec__"]
                _set(cfg, p, pool[rng.integers(len(pool))])
        elif kind == 2:  # node arguments
            targets = [p for p, v in paths if p[-1] in ("args", "kwargs", "arguments",
                                                         "op_kwargs", "inbound_nodes")]
            if targets:
                p = targets[rng.integers(len(targets))]
                lit = copy.deepcopy(_LITERALS[rng.integers(len(_LITERALS))])
                if p[-1] in ("kwargs", "arguments", "op_kwargs"):
                    new = {["file", "allow_pickle", "x", "mask", "training", "name"][
                        rng.integers(6)]: lit}
                elif p[-1] == "args":
                    new = [lit] if rng.random() < 0.5 else [lit, lit]
                else:
                    new = [{"args": [lit], "kwargs": {}}]
                _set(cfg, p, new)
        elif kind == 3:  # sizes
            targets = [p for p, v in paths if isinstance(p[-1], str) and (
                p[-1] in ("units", "input_dim", "output_dim", "filters", "batch_shape",
                          "shape", "num_heads", "key_dim", "target_shape", "n", "axis")
                or isinstance(v, int) and not isinstance(v, bool))]
            if targets:
                p = targets[rng.integers(len(targets))]
                _set(cfg, p, copy.deepcopy(_SIZES[rng.integers(len(_SIZES))]))
        elif kind == 4:  # any value
            p, _ = paths[rng.integers(len(paths))]
            _set(cfg, p, copy.deepcopy(_LITERALS[rng.integers(len(_LITERALS))]))
        else:  # drop a key
            dict_paths = [p for p, v in paths if isinstance(v, dict) and v]
            if dict_paths:
                p = dict_paths[rng.integers(len(dict_paths))]
                node = cfg
                for q in p:
                    node = node[q]
                node.pop(list(node)[rng.integers(len(node))])
    return cfg


def main():
    cases, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(seed)
    config, weights, meta = base_parts()
    seeds = [config]
    for data in corpus("/nonexistent/PWNED").values():
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            seeds.append(json.loads(zf.read("config.json")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trine.models.load_model(io.BytesIO(archive_bytes(config, weights, meta)))
    trine.registry.preload()
    _SOURCES.update(_loaded_sources())
    sys.addaudithook(hook)
    outcomes, escaped, audited, slowest = {}, [], [], (0.0, None)
    warnings.simplefilter("ignore")
    for i in range(cases):
        cfg = mutate(seeds[rng.integers(len(seeds))], rng)
        try:
            data = archive_bytes(cfg, weights, meta)
        except (TypeError, ValueError):
            continue
        sys.stderr.write(f"case {i}\n")
        current["path"], current["events"] = "<memory>", []
        t0 = time.perf_counter()
        try:
            trine.models.load_model(io.BytesIO(data))
            outcome = "loaded"
        except SavingError as e:
            outcome = type(e).__name__
        except BaseException as e:  # noqa: BLE001 - anything else is a finding
            outcome = "escaped"
            escaped.append({"case": i, "type": type(e).__name__, "message": str(e)[:300],
                            "config": json.dumps(cfg)[:2000]})
        dt = time.perf_counter() - t0
        current["path"] = None
        if dt > slowest[0]:
            slowest = (dt, i)
        if current["events"]:
            audited.append({"case": i, "events": current["events"][:5],
                            "config": json.dumps(cfg)[:2000]})
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    print(json.dumps({"outcomes": outcomes, "escaped": escaped[:20], "n_escaped": len(escaped),
                      "audited": audited[:20], "n_audited": len(audited),
                      "slowest_s": slowest[0], "slowest_case": slowest[1]}), flush=True)


if __name__ == "__main__":
    main()
