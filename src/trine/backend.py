"""Backend helpers (Keras `keras.backend`): settings, dtype rules, and trine's opt-in
compilation cache."""
import os

from trine.config import (backend, epsilon, floatx, image_data_format, set_epsilon,
                          set_floatx, set_image_data_format)
from trine.core import layer as _layer

_ALLOWED = ("float16", "float32", "float64", "uint8", "uint16", "uint32", "uint64", "int8",
            "int16", "int32", "int64", "bfloat16", "bool", "string", "float8_e4m3fn",
            "float8_e5m2", "complex64", "complex128")
# Python types and Keras's short names, as Keras maps them on its JAX backend
_PYTHON = {bool: "bool", int: "int32", float: "float32", str: "string", "int": "int32",
           complex: "complex64"}


def clear_session(free_memory: bool = True) -> None:
    """Reset the automatic layer-name counters (Keras's `clear_session`); JAX frees device
    memory by itself, so `free_memory` changes nothing."""
    _layer.clear_session()


def get_uid(prefix: str = "") -> int:
    """The next number for `prefix`, shared with automatic layer names: after two Dense
    layers, `get_uid("dense")` is 3 (Keras's)."""
    name = _layer.unique_name(prefix)
    return 1 if name == prefix else int(name.rsplit("_", 1)[1]) + 1


def standardize_dtype(dtype) -> str:
    """A dtype (None, a name, a Python type, a NumPy / JAX dtype) as Keras's dtype name.

    None means `floatx()`; `int` means "int32" and `float` "float32" (JAX's defaults).

    Raises:
        ValueError: for a dtype Keras does not support (e.g. "double", "float").
    """
    if dtype is None:
        return floatx()
    try:
        dtype = _PYTHON.get(dtype, dtype)
    except TypeError:  # unhashable dtype-likes
        pass
    if hasattr(dtype, "name"):
        dtype = dtype.name
    elif hasattr(dtype, "__name__"):
        dtype = dtype.__name__
    elif "jax.numpy" in str(dtype):
        dtype = str(dtype).split(".")[-1]
    if dtype not in _ALLOWED:
        raise ValueError(f"standardize_dtype: invalid dtype {dtype!r}; expected one of "
                         f"{list(_ALLOWED)} or a Python type (bool, int, float).")
    return dtype


def result_type(*dtypes) -> str:
    """The dtype of an operation on values of `dtypes` (JAX's promotion; Python types weak).

    With no dtypes, or None among them, `floatx()` stands in.

    Raises:
        ValueError: for float8 dtypes, which never promote implicitly.
    """
    import jax.numpy as jnp

    if not dtypes:
        return floatx()
    if any(d in ("float8_e4m3fn", "float8_e5m2") for d in dtypes if isinstance(d, str)):
        raise ValueError("result_type: float8 dtypes have no implicit conversions; cast "
                         f"explicitly. Received {dtypes}.")
    import jax

    args = [floatx() if d is None else d for d in dtypes]
    weak = {d for d in args if d in (int, float, bool)}
    concrete = [standardize_dtype(d) for d in args if d not in (int, float, bool)]
    if not concrete:  # Python types alone: JAX's defaults
        out = "float32" if float in weak else "int32" if int in weak else "bool"
    else:
        out = concrete[0]
        for d in concrete[1:]:  # promote first, canonicalize after (as Keras's lattice does)
            out = jnp.promote_types(out, d)
        kind = jnp.dtype(out).kind
        if float in weak and kind in "biu":
            out = jnp.promote_types(out, "float32")
        elif int in weak and kind == "b":
            out = "int32"
    return standardize_dtype(jax.dtypes.canonicalize_dtype(out))


def is_float_dtype(dtype) -> bool:
    """Whether `dtype` is a floating dtype (float8 / 16 / 32 / 64 or bfloat16)."""
    name = standardize_dtype(dtype)
    return name.startswith("float") or name.startswith("bfloat")


def is_int_dtype(dtype) -> bool:
    """Whether `dtype` is a signed or unsigned integer dtype (bool is not)."""
    name = standardize_dtype(dtype)
    return name.startswith("int") or name.startswith("uint")


def is_keras_tensor(x) -> bool:
    """Whether `x` is a symbolic tensor (from `Input` or a layer on one), not a value."""
    from trine.core.symbolic import KerasTensor
    return isinstance(x, KerasTensor)


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


__all__ = ["backend", "clear_session", "enable_compilation_cache", "epsilon", "floatx",
           "get_uid", "image_data_format", "is_float_dtype", "is_int_dtype", "is_keras_tensor",
           "result_type", "set_epsilon", "set_floatx", "set_image_data_format",
           "standardize_dtype"]
