"""KerasTuner's errors: which failures end a trial, and which end the search.

A `FailedTrialError` raised in `build` or `run_trial` fails the trial at once (no retry);
any other ordinary exception is retried up to `max_retries_per_trial` times; a `FatalError`
stops the whole search and is raised from `search`.
"""


class FailedTrialError(Exception):
    """Raise in `build` or `run_trial` to fail this trial without retrying it."""


class FatalError(Exception):
    """Raise to stop the search; `search` re-raises it."""


class FatalValueError(FatalError, ValueError):
    """A FatalError that is also a ValueError."""


class FatalTypeError(FatalError, TypeError):
    """A FatalError that is also a TypeError."""


class FatalRuntimeError(FatalError, RuntimeError):
    """A FatalError that is also a RuntimeError."""
