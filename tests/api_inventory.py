"""Which of Keras 3's public names trine has, namespace by namespace.

    .venv/bin/python tests/api_inventory.py           # print the counts and what is missing
    .venv/bin/python tests/api_inventory.py --write   # rewrite tests/api_not_yet_built.txt
    # against the committed tree only (others' uncommitted files left out):
    rm -rf /tmp/head && mkdir /tmp/head && git archive HEAD src | tar -x -C /tmp/head
    .venv/bin/python tests/api_inventory.py --write --src /tmp/head/src

tests/test_api_completeness.py checks that the file lists exactly the names trine lacks, so
regenerate it (with --write) whenever a name is added, and commit the shorter list.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

NAMESPACES = ("", "layers", "ops", "ops.image", "ops.nn", "ops.numpy", "ops.linalg",
              "callbacks", "optimizers", "optimizers.schedules", "losses", "metrics",
              "activations", "initializers", "regularizers", "constraints", "utils", "models",
              "saving", "random", "tree", "config", "backend", "mixed_precision",
              "distribution", "datasets", "applications", "quantizers")
LIST_FILE = pathlib.Path(__file__).with_name("api_not_yet_built.txt")
_SKIP = {"src", "version"}  # Keras's private source package and its version module


def keras_names(namespace: str) -> list[str]:
    """The public names of `keras.<namespace>`."""
    module = importlib.import_module("keras" + (f".{namespace}" if namespace else ""))
    return sorted(n for n in dir(module) if not n.startswith("_")
                  and not (namespace == "" and n in _SKIP))


def trine_namespace(namespace: str):
    """`trine.<namespace>`, or None when trine has no such namespace yet."""
    import trine
    obj = trine
    for part in namespace.split(".") if namespace else ():
        try:
            obj = getattr(obj, part)
        except (AttributeError, ImportError):
            return None
    return obj


def _has(obj, name: str) -> bool:
    try:
        getattr(obj, name)
    except (AttributeError, ImportError):
        return False
    return True


def inventory() -> dict[str, tuple[list[str], list[str]]]:
    """namespace -> (Keras's names, the ones trine lacks)."""
    out = {}
    for ns in NAMESPACES:
        names = keras_names(ns)
        mine = trine_namespace(ns)
        missing = names if mine is None else [n for n in names if not _has(mine, n)]
        out[ns] = (names, missing)
    return out


def qualified(ns: str, name: str) -> str:
    return f"keras.{ns}.{name}" if ns else f"keras.{name}"


def counts_text(inv) -> str:
    lines, found, total = [], 0, 0
    for ns, (names, missing) in inv.items():
        have = len(names) - len(missing)
        found, total = found + have, total + len(names)
        lines.append(f"  keras{'.' + ns if ns else ''}: {have}/{len(names)}")
    lines.append(f"  overall: {found}/{total} ({100 * found / max(total, 1):.1f}%)")
    return "\n".join(lines)


def listed_names(path: pathlib.Path = LIST_FILE) -> set[str]:
    """The names in the not-yet-built file (comments and blank lines skipped)."""
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")}


def write_list(inv, path: pathlib.Path = LIST_FILE) -> None:
    import keras
    lines = [
        "# Keras 3 public names that trine does not have yet: one fully qualified name a line,",
        "# grouped by namespace. tests/test_api_completeness.py fails when a name listed here",
        "# now exists in trine (delete it) or a missing name is not listed (build it, or list it",
        "# here). Regenerate with: .venv/bin/python tests/api_inventory.py --write",
        f"# Generated against Keras {keras.__version__}.",
    ]
    for ns, (_, missing) in inv.items():
        if missing:
            lines += ["", f"# keras{'.' + ns if ns else ''} ({len(missing)} missing)"]
            lines += [qualified(ns, n) for n in missing]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true",
                        help=f"rewrite {LIST_FILE.name} with the names trine lacks")
    parser.add_argument("--src", default=None,
                        help="the trine source folder to inspect (default: this checkout's "
                             "src); e.g. an export of HEAD, to leave out uncommitted work")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.src or str(pathlib.Path(__file__).resolve().parents[1] / "src"))
    inv = inventory()
    print("trine has, of Keras's public names:")
    print(counts_text(inv))
    if args.write:
        write_list(inv)
        print(f"wrote {LIST_FILE}")
    else:
        for ns, (_, missing) in inv.items():
            if missing:
                print(f"keras{'.' + ns if ns else ''}: " + ", ".join(missing))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
