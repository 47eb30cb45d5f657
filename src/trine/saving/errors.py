"""The errors raised when a model file cannot be written or read (defined in the registry),
and how a weights loader reports the layers it could not load."""
from __future__ import annotations

import warnings

from trine.registry.errors import SavingError, UnsafeFileError

__all__ = ["SavingError", "UnsafeFileError"]


def report_unloaded_layers(problems: list, label: str, skip_mismatch: bool, *, fix: str,
                           skipped: str, stacklevel: int) -> None:
    """Raise a SavingError listing `problems` (one line a layer), or warn when `skip_mismatch`.

    Args:
        problems: what went wrong, one entry per layer; nothing happens when empty.
        label: the file, as the reader names it.
        skip_mismatch: warn and go on instead of raising.
        fix: the sentence after "Nothing was loaded." that says how to fix it.
        skipped: the sentence that says what happens to the skipped layers.
        stacklevel: the caller's warnings stacklevel (this helper adds its own frame).
    """
    if not problems:
        return
    msg = (f"{len(problems)} layer(s) could not be loaded from {label}:\n  - "
           + "\n  - ".join(problems))
    if not skip_mismatch:
        raise SavingError(f"{msg}\nNothing was loaded. {fix}")
    warnings.warn(f"{msg}\n{skipped}", stacklevel=stacklevel + 1)
