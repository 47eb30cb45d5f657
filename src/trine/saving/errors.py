"""The errors raised when a model file cannot be written or read (defined in the registry)."""
from trine.registry.errors import SavingError, UnsafeFileError

__all__ = ["SavingError", "UnsafeFileError"]
