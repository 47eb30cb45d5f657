"""The three arguments Keras gives each weight of a layer (`<weight>_initializer`,
`<weight>_regularizer`, `<weight>_constraint`): resolved onto the layer, and written back
into its config in Keras's order."""
from __future__ import annotations

from trine import constraints, initializers, regularizers

_KINDS = (("initializer", initializers), ("regularizer", regularizers),
          ("constraint", constraints))


def _serialized(module, value):
    return None if value is None else module.serialize(value)


def set_weight_args(layer, weight, initializer, regularizer, constraint, attribute_prefix=""):
    """Resolve the arguments of `weight` and set them on `layer` as
    `<attribute_prefix><weight>_initializer`, `..._regularizer` and `..._constraint`."""
    for (kind, module), value in zip(_KINDS, (initializer, regularizer, constraint)):
        setattr(layer, f"{attribute_prefix}{weight}_{kind}", module.get(value))


def weight_args_config(layer, weights, activity_regularizer=False, attribute_prefix=""):
    """The config entries of these weights' arguments, in Keras's order: the initializers,
    the regularizers (then the activity regularizer, if asked), the constraints. The values
    are read from the attributes `set_weight_args` names."""
    cfg = {}
    for kind, module in _KINDS:
        for weight in weights:
            value = getattr(layer, f"{attribute_prefix}{weight}_{kind}")
            cfg[f"{weight}_{kind}"] = _serialized(module, value)
        if kind == "regularizer" and activity_regularizer:
            value = getattr(layer, f"{attribute_prefix}activity_regularizer")
            cfg["activity_regularizer"] = _serialized(regularizers, value)
    return cfg
