"""`Model.quantize`: quantize every layer that can, in place, as Keras's does."""
from __future__ import annotations

import re
import warnings

from trine import quantizers


def _selected(layer, filters) -> bool:
    if filters is None:
        return True
    if isinstance(filters, str):
        return bool(re.search(filters, layer.name))
    if isinstance(filters, (list, tuple)):
        return any(re.search(pattern, layer.name) for pattern in filters)
    return bool(filters(layer))


def quantize_model(model, mode=None, config=None, filters=None, **kwargs):
    """Quantize `model`'s leaf layers that support it; the others stay as they are (each
    is named in a warning), as in Keras.

    Args:
        mode: "int8", "int4" or "float8" (optional with `config`).
        config: a `trine.quantizers.QuantizationConfig`.
        filters: a regex over layer names, a list of them, or a callable `layer -> bool`.
        type_check: (keyword) passed on to each layer's `quantize`.

    Raises:
        ValueError: for unknown arguments, filters of another kind, an unknown mode, a
            contradictory config, or layers quantized already.
        NotImplementedError: for "gptq" / "awq", whose calibration trine does not have yet.
    """
    type_check = kwargs.pop("type_check", True)
    if kwargs:
        raise ValueError(f"{type(model).__name__}.quantize received unknown keyword arguments "
                         f"{sorted(kwargs)}; it takes mode, config, filters and type_check.")
    if filters is not None and not (isinstance(filters, (str, list, tuple)) or callable(filters)):
        raise ValueError("quantize: filters must be a regex string, a list of them, or a "
                         f"callable, received {type(filters).__name__}.")
    resolved = quantizers.resolve_config(mode, config)
    if resolved.mode in ("gptq", "awq"):
        raise NotImplementedError(
            f"quantize: mode {resolved.mode!r} calibrates the weights on `config.dataset` "
            "(GPTQ / AWQ), which trine does not implement yet; use 'int8', 'int4' or 'float8'.")
    changed = False
    for layer in model._flatten_layers():
        if len(layer._flatten_layers()) != 1 or not _selected(layer, filters):
            continue
        try:
            layer.quantize(mode, type_check=type_check, config=config)
            changed = True
        except NotImplementedError as e:
            warnings.warn(str(e), stacklevel=3)  # at the model.quantize call
    if changed:  # the jitted programs were traced with the float weights
        model._trainer_cache = {}
