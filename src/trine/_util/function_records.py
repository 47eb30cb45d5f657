"""A named custom function in a saved config: `{"class_name": "function", "config": name}`,
written by name and found again in the `custom_objects` passed when loading."""
from __future__ import annotations


def named_function_record(fn) -> dict | None:
    """The record that saves callable `fn` by its name; None for a lambda or a nameless or
    non-callable object (it cannot be found again by name)."""
    name = getattr(fn, "__name__", None)
    if not (callable(fn) and isinstance(name, str) and name != "<lambda>"):
        return None
    return {"module": getattr(fn, "__module__", None), "class_name": "function",
            "config": name, "registered_name": name}


def custom_function(record: dict, custom_objects: dict | None, what: str):
    """The function a `named_function_record` names, taken from `custom_objects`.

    Raises:
        ValueError: when `custom_objects` does not hold it, saying how to pass it.
    """
    fn = (custom_objects or {}).get(record.get("config"))
    if fn is None:
        raise ValueError(
            f"The config names the custom {what} function {record.get('config')!r}. Pass it "
            "when loading: custom_objects={name: function}.")
    return fn
