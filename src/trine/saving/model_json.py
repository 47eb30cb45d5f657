"""A model's architecture as JSON (Keras `Model.to_json` / `keras.models.model_from_json`).

The JSON is `serialize_keras_object(model)`, the same record a `.keras` archive's config.json
holds, so Keras reads trine's JSON and the other way round. Reading goes through
`deserialize_keras_object`: names resolve only through the allow-list, the registry and
`custom_objects`, under the load budget; nothing in the string can run code.
"""
from __future__ import annotations

import json

from trine.saving.errors import SavingError

# a JSON config larger than any real architecture is refused before parsing
MAX_JSON_CHARS = 64 << 20


def model_to_json(model, **kwargs) -> str:
    """The model's config as a JSON string (`json.dumps` keyword arguments pass through).

    Raises:
        TypeError: when part of the model cannot be serialized (named in the message).
    """
    from trine.saving.serialization import serialize_keras_object
    config = serialize_keras_object(model)
    try:
        return json.dumps(config, **kwargs)
    except TypeError as e:
        raise TypeError(f"Model '{model.name}' cannot be written as JSON: {e}") from e


def model_from_json(json_string, custom_objects=None):
    """Rebuild a model (with fresh weights) from `model.to_json()`.

    Args:
        json_string: the JSON text written by `Model.to_json()` (trine or Keras 3).
        custom_objects: `{name: class or function}` for your own classes and functions.

    Returns:
        A new, uncompiled model with the saved architecture and freshly initialized weights.

    Raises:
        TypeError: if `json_string` is not a str / bytes.
        SavingError: for text that is not JSON, or JSON that is not a model config.
        UnsafeFileError: for a class or function that is not allowed (not built in, not
            registered, not in `custom_objects`).

    Example:
        >>> clone = trine.models.model_from_json(model.to_json())
    """
    from trine.saving.zip_reading import _as_saving_error
    from trine.saving.serialization import deserialize_keras_object
    if isinstance(json_string, (bytes, bytearray)):
        try:
            json_string = bytes(json_string).decode("utf-8")
        except UnicodeDecodeError as e:
            raise SavingError(f"model_from_json: the bytes are not UTF-8 text ({e}). Pass the "
                              "string returned by model.to_json().") from e
    if not isinstance(json_string, str):
        raise TypeError("model_from_json: json_string must be the str returned by "
                        f"model.to_json(), received {type(json_string).__name__}.")
    if len(json_string) > MAX_JSON_CHARS:
        raise SavingError(f"model_from_json: the JSON has {len(json_string)} characters, more "
                          f"than the limit of {MAX_JSON_CHARS}.")
    try:
        config = json.loads(json_string)
    except (ValueError, RecursionError) as e:
        raise SavingError(f"model_from_json: the string is not valid JSON ({e}). Pass the "
                          "string returned by model.to_json().") from e
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config \
            or not isinstance(config.get("config"), (dict, type(None))):
        got = type(config).__name__ if not isinstance(config, dict) else f"keys {sorted(config)[:8]}"
        raise SavingError(
            "model_from_json: the JSON is not a model config: expected an object with "
            f"'class_name' and 'config' (what model.to_json() writes), received {got}.")
    # as Keras, whatever object the record names comes back (a layer's JSON gives the layer)
    return _as_saving_error(
        lambda: deserialize_keras_object(config, custom_objects=custom_objects),
        "the JSON model config")


__all__ = ["MAX_JSON_CHARS", "model_from_json", "model_to_json"]
