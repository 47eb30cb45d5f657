"""The packages above models that Model's methods offer: files (`trine.saving`) and the
summary (`trine.inspect`).

They read and write models, so they sit above them; a model reaches them by their fixed
module names on first use (as `trine` loads them lazily), never by importing them.
"""
from __future__ import annotations

import importlib

# what a model may ask for -> the module that provides it (a fixed table)
_MODULES = {"saving": "trine.saving", "model_json": "trine.saving.model_json",
            "summary": "trine.inspect.summary"}


def upper(name: str):
    """The module behind `name` ("saving", "model_json" or "summary"), loaded on first use."""
    return importlib.import_module(_MODULES[name])
