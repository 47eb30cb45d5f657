"""Compiled programs shared by every model of a process that lowers to the same program.

Fresh models of one architecture (a notebook re-running a cell, a tuning search, a test
suite) trace to the same XLA program, yet `jax.jit` compiles each model's afresh: its cache
belongs to the function object, and the names of a model's variables reach the program's
signature. A `SharedProgram` calls its function with flat argument and result lists (so no
name reaches the program), keys the lowered program by its text, and compiles each distinct
text once per process.

Sharing is exact: two programs share an executable only when their texts are equal, constants
included, so a model whose maths, shapes, dtypes, donation or embedded constants differ
compiles its own.
"""
from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import threading

import jax

# Executables (or futures of them) by program text hash; the oldest leave first.
_MAX_SHARED = 128
_SHARED: collections.OrderedDict = collections.OrderedDict()
_LOCK = threading.Lock()


def clear() -> None:
    """Forget every shared executable: the next model compiles its programs afresh."""
    with _LOCK:
        _SHARED.clear()


def _leaf_signature(leaf):
    """What `jax.jit` would tell apart a leaf by: shape, dtype and weak typing."""
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:  # a Python scalar: weakly typed
        return ((), type(leaf), True)
    return (leaf.shape, dtype, getattr(leaf, "weak_type", False))


class _Lowered:
    """One argument signature's traced and lowered program, and its executable once made."""

    def __init__(self, traced, out_tree):
        self.traced = traced
        self.out_tree = out_tree
        lowered = traced.lower()
        self._lowered = lowered
        text = lowered.as_text(debug_info=False)
        device = jax.devices()[0]
        self.key = hashlib.sha256(f"{device.platform}:{device.id}\n{text}".encode()).hexdigest()
        self.executable = None

    def compile(self):
        """The executable: another model's if one lowered to this program, else compiled."""
        if self.executable is not None:
            return self.executable
        with _LOCK:
            found = _SHARED.get(self.key)
            if found is None:
                found = concurrent.futures.Future()
                _SHARED[self.key] = found
                while len(_SHARED) > _MAX_SHARED:
                    _SHARED.popitem(last=False)
                owner = True
            else:
                _SHARED.move_to_end(self.key)
                owner = False
        if owner:
            try:
                found.set_result(self._lowered.compile())
            except BaseException as e:
                with _LOCK:
                    _SHARED.pop(self.key, None)
                found.set_exception(e)
                raise
        self.executable = found.result()
        self._lowered = None  # the executable is all a call needs
        return self.executable


class SharedProgram:
    """`jax.jit(fn)` whose executables are shared across models (module docstring).

    Args:
        fn: the function to compile, called with positional arguments.
        donate_first: donate the first argument's buffers (a train step's carry).
    """

    def __init__(self, fn, donate_first=False):
        self._fn = fn
        self._donate_first = donate_first
        self._by_signature = {}

    def _for(self, args):
        leaves, treedef = jax.tree_util.tree_flatten(args)
        signature = (treedef, tuple(_leaf_signature(l) for l in leaves))
        entry = self._by_signature.get(signature)
        if entry is None:
            entry = self._lower(leaves, treedef, args)
            self._by_signature[signature] = entry
        return entry, leaves

    def _lower(self, leaves, treedef, args):
        out_trees = []

        def flat_fn(*flat):
            out = self._fn(*jax.tree_util.tree_unflatten(treedef, flat))
            out_leaves, out_tree = jax.tree_util.tree_flatten(out)
            out_trees.append(out_tree)
            return out_leaves

        flat_fn.__name__ = flat_fn.__qualname__ = getattr(self._fn, "__name__", "flat_fn")
        n_donated = len(jax.tree_util.tree_leaves(args[0])) if self._donate_first else 0
        traced = jax.jit(flat_fn, donate_argnums=tuple(range(n_donated))).trace(*leaves)
        return _Lowered(traced, out_trees[0])

    def __call__(self, *args):
        entry, leaves = self._for(args)
        out = entry.compile()(*leaves)
        return jax.tree_util.tree_unflatten(entry.out_tree, out)

    def trace(self, *args):
        """The traced program for these arguments (its `.jaxpr` lists the primitives)."""
        return self._for(args)[0].traced

    def compile_ahead(self, pool, *args):
        """Trace and lower here, compile on `pool`; returns the compile's future."""
        entry, _ = self._for(args)
        return pool.submit(entry.compile)
