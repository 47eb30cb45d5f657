"""`keras.layers.serialize` / `deserialize`: a layer to and from its Keras record."""
from __future__ import annotations

from trine.core.layer import Layer

__all__ = ["serialize", "deserialize"]


def serialize(layer: Layer) -> dict:
    """A layer as Keras's nested record `{"module", "class_name", "config", ...}`.

    Args:
        layer: the layer.

    Returns:
        The record (JSON-compatible).

    Raises:
        TypeError: if `layer` is not a Layer.
    """
    if not isinstance(layer, Layer):
        raise TypeError(
            f"layers.serialize expected a Layer, received {layer!r} of type "
            f"{type(layer).__name__}. Pass a layer instance such as Dense(4).")
    from trine.registry.serialize import serialize_keras_object
    return serialize_keras_object(layer)


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """Rebuild a layer from `serialize`'s record (trine's or Keras 3's).

    Args:
        config: the record.
        custom_objects: user classes by name.

    Returns:
        A new, unbuilt layer.

    Raises:
        ValueError: if the record is malformed or names a class that is not allowed.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"layers.deserialize expected a record with 'class_name' and 'config' (from "
            f"layers.serialize), received {config!r}.")
    from trine.registry.deserialize import deserialize_keras_object
    return deserialize_keras_object(config, custom_objects=custom_objects)
