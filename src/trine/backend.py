"""Backend helpers (Keras `keras.backend`)."""
from trine.core.layer import clear_session


def backend() -> str:
    return "jax"


def floatx() -> str:
    return "float32"


def epsilon() -> float:
    return 1e-7


__all__ = ["backend", "clear_session", "epsilon", "floatx"]
