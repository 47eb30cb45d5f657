"""Model files (Keras `keras.saving`): `.keras` archives and `.weights.h5` files in Keras 3's
layouts, read and written in both directions, loaded without ever running code from a file.

    model.save("model.keras")
    model = trine.saving.load_model("model.keras")
    model.save_weights("model.weights.h5"); model.load_weights("model.weights.h5")

See docs/saving.md for the layouts and the safety rules.
"""
from trine.core.allocation import max_load_bytes, set_max_load_bytes
from trine.saving.archive import load_model, save_model
from trine.saving.errors import SavingError, UnsafeFileError
from trine.saving.file_editor import KerasFileEditor
from trine.saving.serialization import (CustomObjectScope, custom_object_scope,
                                        deserialize_keras_object, get_custom_objects,
                                        get_registered_name,
                                        get_registered_object, register_keras_serializable,
                                        register_serializable, serialize_keras_object)
from trine.saving.weights import load_weights, save_weights

__all__ = [
    "CustomObjectScope", "KerasFileEditor", "SavingError", "UnsafeFileError", "custom_object_scope",
    "deserialize_keras_object", "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
    "load_weights", "max_load_bytes", "register_keras_serializable", "register_serializable",
    "save_model", "save_weights", "serialize_keras_object", "set_max_load_bytes",
]
