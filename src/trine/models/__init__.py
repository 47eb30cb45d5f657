"""Models (Keras `keras.models`)."""
from trine.models.functional import Functional
from trine.models.model import Model
from trine.models.sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved with `model.save` (see trine.saving)."""
    from trine.saving import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


__all__ = ["Functional", "Model", "Sequential", "load_model"]
