"""Layers nested in a recurrent layer's or a wrapper's config, written and read as Keras's
nested-object records."""
from __future__ import annotations

from trine.core.layer import Layer
from trine.registry.deserialize import deserialize_keras_object


def serialize_layer(layer) -> dict:
    """A layer as Keras's nested-object dict: `{"module", "class_name", "config", ...}`."""
    return {"module": "keras.layers", "class_name": type(layer).__name__,
            "config": layer.get_config(), "registered_name": None}


def check_wrapped_layer(owner: str, arg: str, layer, example: str) -> None:
    """Refuse anything but a Layer as the layer a wrapper wraps.

    Raises:
        ValueError: naming the wrapper `owner`, its argument `arg` and an `example` layer.
    """
    if not isinstance(layer, Layer):
        raise ValueError(
            f"{owner} expected `{arg}` to be a Layer instance such as {example}, received "
            f"{layer!r} of type {type(layer).__name__}.")


def deserialize_layer(config, custom_objects=None):
    """Rebuild a layer from a serialized dict (trine's or Keras 3's), or pass a Layer through.

    Goes through `trine.registry.deserialize.deserialize_keras_object` (dtype policies, custom objects, the
    allow-list of `trine.registry`).

    Raises:
        ValueError: if `config` is neither a Layer nor a serialized layer dict, or names an
            unknown class.
    """
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Expected a layer or a serialized layer dict with 'class_name' and 'config', "
            f"received {config!r}.")
    # trine's own layer classes resolve through the registry's allow-list, never by scanning
    layer = deserialize_keras_object(config, custom_objects=dict(custom_objects or {}))
    if not isinstance(layer, Layer):
        raise ValueError(
            f"Expected a serialized layer, the config rebuilt a {type(layer).__name__}.")
    return layer


class NestsOneLayer:
    """Mixin (before `Layer` in the bases) for a layer built around one other layer, held in
    the attribute named by `nested_layer_key`, which is also its config key and its first
    constructor argument: the config carries that layer as Keras's nested record."""

    nested_layer_key = "layer"

    def _with_nested_layer(self, cfg):
        cfg[self.nested_layer_key] = serialize_layer(getattr(self, self.nested_layer_key))
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        nested = deserialize_layer(config.pop(cls.nested_layer_key), custom_objects)
        return cls(nested, **config)


class NestsLayerList:
    """Mixin (before `Layer` in the bases) for a layer built around a list of layers, its
    first constructor argument: the config carries them under `nested_layers_key` as
    Keras's nested records."""

    nested_layers_key = "layers"

    def _with_nested_layers(self, cfg, layers):
        cfg[self.nested_layers_key] = [serialize_layer(layer) for layer in layers]
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layers = [deserialize_layer(c, custom_objects) for c in config.pop(cls.nested_layers_key)]
        return cls(layers, **config)
