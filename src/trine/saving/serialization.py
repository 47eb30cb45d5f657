"""Configs in Keras 3's format (Keras `keras.saving`'s serialization names), gathered from the
layers that define them: the records and the allow-list in `trine.registry`, the graph
configs in `trine.graph.functional_config`, the compile config in
`trine.models.compile_config`.
"""
from __future__ import annotations

from trine.core.registration import (CustomObjectScope, custom_object_scope,
                                     get_custom_objects, get_registered_name,
                                     get_registered_object, register_keras_serializable,
                                     register_serializable)
from trine.graph.functional_config import (functional_config, functional_from_config,
                                           sequential_config, sequential_from_config)
from trine.graph.topology import keras_layer_order
from trine.models.compile_config import compile_from_config, get_compile_config
from trine.registry.deserialize import deserialize_keras_object, in_safe_mode
from trine.registry.serialize import serialize_keras_object


__all__ = [
    "CustomObjectScope", "compile_from_config", "custom_object_scope",
    "deserialize_keras_object", "functional_config", "functional_from_config",
    "get_compile_config", "get_custom_objects", "get_registered_name", "get_registered_object",
    "in_safe_mode", "keras_layer_order", "register_keras_serializable", "register_serializable",
    "sequential_config", "sequential_from_config", "serialize_keras_object",
]
