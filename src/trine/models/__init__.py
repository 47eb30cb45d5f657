"""Models (Keras `keras.models`)."""
from trine.models.functional import Functional
from trine.models.model import Model
from trine.models.sequential import Sequential
from trine.models.upper import upper


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved with `model.save` (see trine.saving)."""
    return upper("saving").load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Save a model to a `.keras` archive (see trine.saving.save_model)."""
    return upper("saving").save_model(model, filepath, overwrite=overwrite, zipped=zipped, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """Rebuild a model from `model.to_json()` (see trine.saving.model_json)."""
    return upper("model_json").model_from_json(json_string, custom_objects=custom_objects)


from trine.models.cloning import clone_model  # noqa: E402 - after the model classes it clones

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json",
           "save_model"]
