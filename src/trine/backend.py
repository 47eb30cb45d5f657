"""Backend helpers (Keras `keras.backend`), and trine's opt-in compilation cache."""
import os

from trine.core.layer import clear_session


def backend() -> str:
    return "jax"


def floatx() -> str:
    return "float32"


def epsilon() -> float:
    return 1e-7


def enable_compilation_cache(directory=None, min_compile_time_secs=0.0) -> str:
    """Keep compiled XLA programs on disk, so the next process skips their compiles.

    Uses JAX's persistent compilation cache: a later process running the same programs
    (same model, batch size, JAX version and device) loads them instead of compiling them,
    which is most of a first epoch. Also turned on by setting the environment variable
    TRINE_COMPILATION_CACHE to a directory before importing trine.

    Args:
        directory: where to keep the programs; default `~/.trine/xla-cache`.
        min_compile_time_secs: programs that compiled faster than this are not stored
            (JAX's default of 1 s would skip most of a small model's programs).

    Returns:
        The directory used.

    Raises:
        ValueError: if `min_compile_time_secs` is negative.
    """
    import jax

    if min_compile_time_secs is None or float(min_compile_time_secs) < 0:
        raise ValueError("enable_compilation_cache: min_compile_time_secs must be a number "
                         f">= 0, received {min_compile_time_secs!r}.")
    directory = os.path.abspath(os.path.expanduser(
        directory or os.path.join("~", ".trine", "xla-cache")))
    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs))
    return directory


__all__ = ["backend", "clear_session", "enable_compilation_cache", "epsilon", "floatx"]
