"""Layer names: Keras's snake_case of a class name and the per-session unique suffixes."""
from __future__ import annotations

import re

_NAME_UIDS: dict[str, int] = {}


def to_snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s)
    return s.lower()


def unique_name(base: str) -> str:
    n = _NAME_UIDS.get(base, 0)
    _NAME_UIDS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def clear_session() -> None:
    """Reset layer name counters (as `keras.backend.clear_session`)."""
    _NAME_UIDS.clear()


def layer_label(layer) -> str:
    """How errors name a layer: its class and its name, e.g. "Conv2D layer 'conv2d_1'"."""
    return f"{type(layer).__name__} layer '{layer.name}'"
