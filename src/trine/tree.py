"""Nested structures (Keras `keras.tree`) on `jax.tree_util`, with Keras's conventions.

Containers are lists, tuples, namedtuples, dicts (flattened in sorted key order, as Keras
and JAX both do; OrderedDicts keep their order) and any registered JAX pytree node; `None` is
a leaf (Keras's `none_is_leaf=True`), so `flatten([1, None])` is `[1, None]`. Paths are
tuples of plain keys and indices, e.g. `(("a", 0), leaf)`.

    trine.tree.flatten({"b": 2, "a": (1, None)})     # [1, None, 2]
    trine.tree.map_structure(lambda x: x * 2, [1, {"k": 3}])   # [2, {"k": 6}]
"""
from __future__ import annotations

import collections

import jax

__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten",
           "flatten_with_path", "is_nested", "lists_to_tuples", "map_shape_structure",
           "map_structure", "map_structure_up_to", "pack_sequence_as", "traverse"]

_tu = jax.tree_util
_SAME = "Structures don't have the same nested structure."


class MAP_TO_NONE:  # noqa: N801 - Keras's public name
    """Return this from a `traverse` function to put `None` in place of the visited node."""


def _none_leaf(x):
    return x is None


def _keep_key_order(template, out):
    """`out` with each dict's keys in `template`'s order: leaves are visited in sorted key
    order, but a rebuilt dict keeps the order its source had (as Keras's optree does)."""
    if isinstance(template, dict) and isinstance(out, dict) and set(template) == set(out):
        items = [(k, _keep_key_order(template[k], out[k])) for k in template]
        if isinstance(out, collections.defaultdict):
            return collections.defaultdict(out.default_factory, items)
        return type(out)(items)
    if (isinstance(template, (list, tuple)) and type(out) is type(template)
            and len(out) == len(template)):
        items = [_keep_key_order(t, o) for t, o in zip(template, out)]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    return out


def _structure(s, none_is_leaf=True):
    return _tu.tree_structure(s, is_leaf=_none_leaf if none_is_leaf else None)


def is_nested(structure) -> bool:
    """Whether `structure` is a container (list, tuple, dict, pytree node), not a leaf.

    `None` counts as a leaf; an empty container is nested.
    """
    if structure is None:
        return False
    treedef = _tu.tree_structure(structure, is_leaf=lambda x: x is not structure)
    return not (treedef.num_nodes == 1 and treedef.num_leaves == 1)


def flatten(structure) -> list:
    """The leaves of `structure`, depth first, dict keys in sorted order; `None` is a leaf.

    A leaf given alone comes back as `[leaf]`.
    """
    return _tu.tree_leaves(structure, is_leaf=_none_leaf)


def _plain_path(path, root):
    """JAX key entries as Keras's plain keys; namedtuple fields as indices (optree's form)."""
    out, node = [], root
    for entry in path:
        if isinstance(entry, _tu.DictKey):
            key = entry.key
            node = node[key]
        elif isinstance(entry, _tu.SequenceKey):
            key = entry.idx
            node = node[key]
        elif isinstance(entry, _tu.GetAttrKey):
            fields = getattr(type(node), "_fields", None)
            key = fields.index(entry.name) if fields else entry.name
            node = getattr(node, entry.name)
        elif isinstance(entry, _tu.FlattenedIndexKey):
            key = entry.key
            node = None
        else:
            key = entry
            node = None
        out.append(key)
    return tuple(out)


def flatten_with_path(structure) -> list:
    """`(path, leaf)` pairs in `flatten` order, each path a tuple of keys and indices."""
    pairs, _ = _tu.tree_flatten_with_path(structure, is_leaf=_none_leaf)
    return [(_plain_path(p, structure), leaf) for p, leaf in pairs]


def map_structure(func, *structures, none_is_leaf=True):
    """`func` applied to the leaves of `structures` (all of one structure), in place.

    Args:
        func: called with one leaf from each structure.
        *structures: one or more structures of the same shape.
        none_is_leaf: pass `None` entries to `func` (True, Keras's default) or keep them.

    Returns:
        A structure like the first one holding `func`'s results.

    Raises:
        ValueError: without structures, or when they do not match.
    """
    if not structures:
        raise ValueError("map_structure: give at least one structure, received none.")
    if structures[0] is None and not none_is_leaf:
        return None
    is_leaf = _none_leaf if none_is_leaf else None
    first = _structure(structures[0], none_is_leaf)
    for other in structures[1:]:
        if _structure(other, none_is_leaf) != first:
            raise ValueError(f"{_SAME} First structure: {first}; received: "
                             f"{_structure(other, none_is_leaf)}.")
    return _keep_key_order(structures[0], _tu.tree_map(func, *structures, is_leaf=is_leaf))


def map_structure_up_to(shallow_structure, func, *structures):
    """`func` applied to the sub-structures of `structures` found at the leaves of
    `shallow_structure` (a prefix of each structure).

    Raises:
        ValueError: without structures, or when `shallow_structure` is not a prefix of them.
    """
    if not structures:
        raise ValueError("map_structure_up_to: give at least one structure, received none.")
    try:
        out = _tu.tree_map(lambda _, *subs: func(*subs), shallow_structure, *structures,
                           is_leaf=_none_leaf)
    except (ValueError, TypeError, KeyError) as e:
        raise ValueError(f"{_SAME} The shallow structure must be a prefix of every "
                         f"structure ({e}).") from None
    return _keep_key_order(shallow_structure, out)


def assert_same_structure(a, b, check_types=None) -> None:
    """Raise unless `a` and `b` nest the same containers the same way (leaves may differ).

    Args:
        check_types: Keras's deprecated argument; container types are always compared.

    Raises:
        ValueError: when the structures differ.
    """
    if _structure(a) != _structure(b):
        raise ValueError(f"{_SAME} First structure: {_structure(a)}; second structure: "
                         f"{_structure(b)}.")


def assert_same_paths(a, b) -> None:
    """Raise unless `a` and `b` have the same set of leaf paths (container types may differ).

    Raises:
        ValueError: naming the paths found in only one of them.
    """
    pa = {p for p, _ in flatten_with_path(a)}
    pb = {p for p, _ in flatten_with_path(b)}
    if pa != pb:
        msg = "`a` and `b` don't have the same paths."
        if pa - pb:
            msg += f"\nPaths in `a` missing in `b`:\n{pa - pb}"
        if pb - pa:
            msg += f"\nPaths in `b` missing in `a`:\n{pb - pa}"
        raise ValueError(msg)


def pack_sequence_as(structure, flat_sequence):
    """`flat_sequence` poured into the shape of `structure` (the inverse of `flatten`).

    Raises:
        TypeError: when `flat_sequence` is not a sequence.
        ValueError: when its length differs from the number of leaves of `structure`.
    """
    treedef = _structure(structure)
    if not isinstance(flat_sequence, (list, tuple)):
        try:
            flat_sequence = list(flat_sequence)
        except TypeError:
            raise TypeError("pack_sequence_as: flat_sequence must be a sequence, received "
                            f"{type(flat_sequence).__name__}.") from None
    if len(flat_sequence) != treedef.num_leaves:
        raise ValueError(f"pack_sequence_as: the structure has {treedef.num_leaves} leaves, "
                         f"flat_sequence has {len(flat_sequence)} entries; they must match.")
    return _keep_key_order(structure, _tu.tree_unflatten(treedef, list(flat_sequence)))


def traverse(func, structure, top_down=True):
    """Visit every node and leaf of `structure` with `func`, rebuilding it.

    Top down, a non-None result replaces the node (its children are not visited) and None
    keeps the node and visits its children; bottom up, `func` sees each node after its
    children were rebuilt. Returning `MAP_TO_NONE` puts `None` in place of the node.

    Returns:
        The rebuilt structure.
    """
    def children():
        if structure is None:
            return None
        subs, treedef = _tu.tree_flatten(structure, is_leaf=lambda x: x is not structure)
        if treedef.num_nodes == 1 and treedef.num_leaves == 1:
            return structure
        out = _tu.tree_unflatten(treedef, [traverse(func, c, top_down) for c in subs])
        return _keep_key_order(structure, out) if isinstance(structure, dict) else out

    if top_down:
        out = func(structure)
        if out is None:
            return children()
    else:
        rebuilt = children()
        out = func(rebuilt)
        if out is None:
            return rebuilt
    return None if out is MAP_TO_NONE else out


def lists_to_tuples(structure):
    """`structure` with every list turned into a tuple, at every depth."""
    return traverse(lambda x: tuple(x) if isinstance(x, list) else None, structure,
                    top_down=False)


def _is_shape(x):
    return isinstance(x, (list, tuple)) and all(isinstance(e, (int, type(None))) for e in x)


def map_shape_structure(func, structure):
    """`func` applied to every shape (a list or tuple of ints / None) in `structure`."""
    return _keep_key_order(structure, _tu.tree_map(
        func, structure, is_leaf=lambda x: x is None or _is_shape(x)))
