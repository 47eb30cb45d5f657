"""A layer's own variables: the one definition of "own" that Layer's saving hooks and the
weight files share (Keras: `_trainable_variables + _non_trainable_variables`), and whether a
class overrides the saving hooks.

A layer owns the variables it created with `add_weight`, then those held in its attributes
(directly or in lists / dicts), except in the attributes trine's own machinery sets. Each
trine class names those in a class attribute `_machinery_attrs`; the names a layer skips are
the union over its class's MRO, so core never needs to know the classes above it.
"""
from __future__ import annotations

from trine.core.variable import Variable

# how deep nested lists / dicts of variables are looked into (as the layer walk does)
_MAX_DEPTH = 4


def machinery_attrs(cls) -> frozenset:
    """Attribute names trine's classes in `cls`'s MRO set for themselves (never user state)."""
    names = set()
    for klass in cls.__mro__:
        names |= klass.__dict__.get("_machinery_attrs", frozenset())
    return frozenset(names)


def own_variables(layer) -> list:
    """The variables `save_own_variables` writes for `layer` by default, trainable first, each
    group in creation order; sublayers' variables and machinery caches are not looked into.
    A layer whose `_saved_order()` gives a list (a quantized layer: Keras's order) sets it."""
    ordered = getattr(layer, "_saved_order", lambda: None)()
    if ordered is not None:
        return ordered
    found = list(layer._own_variables)
    seen = {id(v) for v in found}
    skipped = machinery_attrs(type(layer))

    def visit(value, depth):
        if isinstance(value, Variable):
            if id(value) not in seen:
                seen.add(id(value))
                found.append(value)
        elif depth < _MAX_DEPTH and isinstance(value, (list, tuple)):
            for element in value:
                visit(element, depth + 1)
        elif depth < _MAX_DEPTH and isinstance(value, dict):
            for element in value.values():
                visit(element, depth + 1)

    for name, value in layer.__dict__.items():
        if name not in skipped and name != "_own_variables":
            visit(value, 0)
    return [v for v in found if v.trainable] + [v for v in found if not v.trainable]


def overrides(obj, method: str) -> bool:
    """Whether `obj`'s class overrides one of Keras's saving hooks (`save_own_variables`,
    `get_build_config`, `compile_from_config`, ...) of the trine class that defines it."""
    definers = [klass for klass in type(obj).__mro__ if method in klass.__dict__]
    return bool(definers) and getattr(type(obj), method) is not definers[-1].__dict__[method]
