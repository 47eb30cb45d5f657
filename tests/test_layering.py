"""The package is layered: imports point down one declared order, never in a cycle, and never
at another package's private names (issue 18). Imports written inside functions count.

The order, lowest first (README, "How the code is laid out"): a module may import modules of
its own rank or lower; a new top-level module or package must be given a rank here.
"""
from __future__ import annotations

import ast
import pathlib
from collections import defaultdict

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "trine"

RANKS = {
    "_util": 0, "config": 0, "tree": 0,
    "core": 1, "dtype_policies": 1, "backend": 1,
    "ops": 2, "ops_extra": 2, "ops_image": 2, "ops_signal": 2, "random": 2,
    "activations": 3, "initializers": 3, "regularizers": 3, "constraints": 3, "quantizers": 3,
    "registry": 4,
    "layers": 5,
    "graph": 6,
    "losses": 7, "metrics": 7, "optimizers": 7, "distribution": 7,
    "training": 8,
    "models": 9, "dataset_utils": 9, "datasets": 9,
    "saving": 10,
    "inspect": 11, "callbacks": 11, "tuner": 11, "applications": 11, "utils": 11,
    "mixed_precision": 11,  # a facade: policies from config, LossScaleOptimizer
    # "" is trine/__init__.py, the public face; the CLI uses it as a user does
    "": 12, "cli": 12, "__main__": 12,
}

# Imports that still point up the order, each with the reason it has not been turned yet.
# The goal is an empty list; an entry that no longer occurs fails the test (remove it).
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts)
        out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


MODULES = _modules()


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str):
    """(target module, imported names or None, line) for every import in `module`."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("trine"):
                    yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            if not source.startswith("trine"):
                continue
            names = [a.name for a in node.names]
            submodules = [n for n in names if f"{source}.{n}" in MODULES]
            for n in submodules:
                yield f"{source}.{n}", None, node.lineno
            rest = [n for n in names if n not in submodules]
            if rest:
                yield source, rest, node.lineno


def _edges():
    edges = defaultdict(set)
    for module in MODULES:
        for target, _names, _line in _imports(module):
            resolved = _resolve(target)
            if resolved and resolved != module:
                edges[module].add(resolved)
    # a package's __init__ re-exporting its own children is not a cycle of design
    for module in list(edges):
        if MODULES[module].name == "__init__.py":
            edges[module] = {t for t in edges[module] if not t.startswith(module + ".")}
    return edges


def test_every_top_level_module_has_a_rank():
    unranked = sorted({_component(m) for m in MODULES} - set(RANKS))
    assert not unranked, (
        f"top-level modules without a place in the layer order: {unranked}. Add each to RANKS "
        "in tests/test_layering.py (and to README's layout section).")


def test_imports_point_down_the_order():
    upward = set()
    for module, targets in _edges().items():
        for target in targets:
            a, b = _component(module), _component(target)
            if a != b and RANKS.get(b, -1) > RANKS.get(a, 99):
                upward.add((module, target))
    new = sorted(upward - KNOWN_UPWARD)
    assert not new, "imports that point up the layer order:\n" + "\n".join(
        f"  {m} -> {t}" for m, t in new)
    stale = sorted(KNOWN_UPWARD - upward)
    assert not stale, f"KNOWN_UPWARD entries that no longer occur (remove them): {stale}"


def test_no_import_cycles():
    edges = _edges()
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []
    counter = [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert not cycles, "modules that import each other (directly or around a loop):\n" + \
        "\n".join(f"  {c}" for c in cycles)


def test_no_reaching_into_another_package_private_names():
    found = []
    for module in MODULES:
        own = _component(module)
        for target, names, line in _imports(module):
            # trine._util is the package-wide toolbox: private to trine, shared by its packages
            if _component(target) in (own, "_util") or not target.startswith("trine."):
                continue
            private_module = any(p.startswith("_") and not p.startswith("__")
                                 for p in target.split(".")[1:])
            private_names = [n for n in names or ()
                             if n.startswith("_") and not n.startswith("__")]
            if private_module or private_names:
                found.append(f"  {module}:{line} imports {target}"
                             + (f" {private_names}" if private_names else ""))
    assert not found, "imports of another package's private names:\n" + "\n".join(found)


def test_ranks_name_real_modules():
    components = {_component(m) for m in MODULES}
    assert not sorted(set(RANKS) - components), "RANKS names modules that do not exist"
