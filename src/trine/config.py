"""Global settings (Keras `keras.config`): floatx, epsilon, image data format, logging, limits.

Each setting lives in one place here and is read where it matters: `floatx()` by layers and
variables without an explicit dtype, `epsilon()` by losses and ops whose `epsilon=None`,
`image_data_format()` by every op and layer whose `data_format=None`, `max_epochs()` /
`max_steps_per_epoch()` by `fit`, and `unsafe_deserialization_enabled()` by `load_model`'s
default `safe_mode`.

    trine.config.set_image_data_format("channels_first")
    trine.config.set_max_epochs(2)          # every fit stops after 2 epochs
"""
from __future__ import annotations

import contextlib
import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "DTypePolicy", "ExecutionPolicy", "backend", "disable_flash_attention",
    "disable_interactive_logging", "disable_traceback_filtering", "dtype_policy",
    "enable_flash_attention", "enable_interactive_logging", "enable_traceback_filtering",
    "enable_unsafe_deserialization", "epsilon", "execution_policy", "fit_limits", "floatx",
    "image_data_format", "is_flash_attention_enabled", "is_interactive_logging_enabled",
    "is_nnx_enabled", "is_traceback_filtering_enabled", "max_epochs", "max_steps_per_epoch",
    "on_accelerator", "resolved_execution_policy", "set_backend", "set_dtype_policy",
    "set_epsilon", "set_execution_policy", "set_floatx", "set_image_data_format",
    "set_max_epochs", "set_max_steps_per_epoch", "unsafe_deserialization_enabled",
]


@dataclasses.dataclass(frozen=True)
class ExecutionPolicy:
    """How fit / evaluate / predict run their compiled steps; None leaves a field to the
    backend (`resolved` fills it in). Every field gives the same results, only speed and
    memory differ.

    Attributes:
        donate_state: donate the train state to the compiled steps, so XLA updates weights
            and optimizer state in place (default: on accelerators; the CPU gains little).
        static_loops: run a fused chunk as a loop of fixed trip count, one program per chunk
            length (default: on accelerators, where a run-time count makes the device read
            the loop predicate back every step); else one program for any count.
        device_data_budget: the largest data set in bytes put on the device whole; larger
            ones stream (None: the rule of `trine.training.data.fits_on_device`).
        sliced_copies: send large NumPy arrays to the device as row slices in parallel, in
            the background (default: on accelerators; on the CPU a put is a host copy).
    """
    donate_state: bool | None = None
    static_loops: bool | None = None
    device_data_budget: int | None = None
    sliced_copies: bool | None = None

    def resolved(self) -> "ExecutionPolicy":
        """This policy with the backend's choice in each boolean left None."""
        accelerator = on_accelerator()
        return dataclasses.replace(self, **{
            f: accelerator if getattr(self, f) is None else bool(getattr(self, f))
            for f in ("donate_state", "static_loops", "sliced_copies")})


def on_accelerator() -> bool:
    """Whether JAX runs on an accelerator (GPU / TPU) rather than the CPU: the one place the
    execution defaults choose by backend."""
    return jax.default_backend() != "cpu"


def _env_budget():
    value = os.environ.get("TRINE_DEVICE_DATA_BUDGET")
    return None if value is None else int(value)


def set_execution_policy(**fields) -> None:
    """Change fields of the process-wide execution policy (see `ExecutionPolicy`).

    Raises:
        ValueError: for a negative device_data_budget.
        TypeError: for a name that is not a field of ExecutionPolicy.
    """
    budget = fields.get("device_data_budget")
    if budget is not None and int(budget) < 0:
        raise ValueError(f"device_data_budget expected bytes >= 0 or None, received "
                         f"{budget!r}.")
    if budget is not None:
        fields["device_data_budget"] = int(budget)
    _SETTINGS["execution_policy"] = dataclasses.replace(_SETTINGS["execution_policy"], **fields)


def resolved_execution_policy() -> ExecutionPolicy:
    """The execution policy now in force, with the backend's defaults filled in."""
    return _SETTINGS["execution_policy"].resolved()


@contextlib.contextmanager
def execution_policy(**fields):
    """Run a block under changed execution-policy fields, restored afterwards:

        with trine.config.execution_policy(donate_state=True, device_data_budget=0):
            model.fit(x, y)   # the donating, streaming path, on any backend
    """
    saved = _SETTINGS["execution_policy"]
    set_execution_policy(**fields)
    try:
        yield _SETTINGS["execution_policy"]
    finally:
        _SETTINGS["execution_policy"] = saved


_FLOATS = ("bfloat16", "float16", "float32", "float64")
_FORMATS = ("channels_last", "channels_first")

# The one store of global settings (Keras keeps these as module globals too; one dict here so
# tests can snapshot and restore them).
_SETTINGS = {
    "floatx": "float32",
    "epsilon": 1e-7,
    "image_data_format": "channels_last",
    "interactive_logging": True,
    "traceback_filtering": True,
    "unsafe_deserialization": False,
    "max_epochs": None,
    "max_steps_per_epoch": None,
    "flash_attention": None,
    "execution_policy": ExecutionPolicy(device_data_budget=_env_budget()),
    "dtype_policy": None,  # a DTypePolicy, or None: follow floatx()
}


def backend() -> str:
    """The name of the backend: always "jax"."""
    return "jax"


def set_backend(backend: str) -> None:
    """Keras's backend switch; trine runs on JAX only.

    Raises:
        ValueError: for any backend other than "jax".
    """
    if backend != "jax":
        raise ValueError(f"set_backend: trine runs on JAX only, received backend={backend!r}. "
                         "Use backend='jax' (or install Keras for other backends).")


def floatx() -> str:
    """The default float dtype of layers and variables ("float32" unless set)."""
    return _SETTINGS["floatx"]


def set_floatx(value: str) -> None:
    """Set the default float dtype of layers and variables made from now on.

    Args:
        value: "bfloat16", "float16", "float32" or "float64".

    Raises:
        ValueError: for any other value.
    """
    if value not in _FLOATS:
        raise ValueError(f"set_floatx: value must be one of {_FLOATS}, received {value!r}.")
    _SETTINGS["floatx"] = str(value)


def epsilon() -> float:
    """The fuzz factor used by numeric expressions (1e-7 unless set)."""
    return _SETTINGS["epsilon"]


def set_epsilon(value: float) -> None:
    """Set the fuzz factor used by numeric expressions.

    Raises:
        ValueError: if `value` is not a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"set_epsilon: value must be a float, received {value!r}.")
    _SETTINGS["epsilon"] = float(value)


def image_data_format() -> str:
    """The default `data_format` of image ops and layers ("channels_last" unless set)."""
    return _SETTINGS["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    """Set the default `data_format` of image ops and layers.

    Args:
        data_format: "channels_last" or "channels_first" (case-insensitive).

    Raises:
        ValueError: for any other value.
    """
    value = str(data_format).lower() if isinstance(data_format, str) else data_format
    if value not in _FORMATS:
        raise ValueError(f"set_image_data_format: data_format must be one of {_FORMATS}, "
                         f"received {data_format!r}.")
    _SETTINGS["image_data_format"] = value


def standardize_data_format(data_format, who: str = "data_format") -> str:
    """`data_format` checked, or the global `image_data_format()` when None.

    Raises:
        ValueError: for a value other than None, "channels_last" or "channels_first".
    """
    if data_format is None:
        return image_data_format()
    value = data_format.lower() if isinstance(data_format, str) else data_format
    if value not in _FORMATS:
        raise ValueError(f"{who}: argument `data_format` must be 'channels_last' or "
                         f"'channels_first', received data_format={data_format!r}.")
    return value


_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


def _dtype_name(name):
    return jnp.dtype(name).name


class DTypePolicy:
    """A dtype policy: `compute_dtype` for the maths, `variable_dtype` for the weights.

    Args:
        name: "float32", "float16", "bfloat16", "float64", "mixed_float16",
            "mixed_bfloat16", or any other dtype name (e.g. "int32") for both.

    Raises:
        ValueError: if the name is neither a mixed policy nor a dtype.
    """

    def __init__(self, name=None):
        if name is None:
            name = dtype_policy().name
        if isinstance(name, DTypePolicy):
            name = name.name
        if not isinstance(name, str):
            try:
                name = _dtype_name(name)
            except TypeError:
                raise ValueError(
                    f"DTypePolicy expected a policy name such as 'float32' or "
                    f"'mixed_bfloat16', received {name!r}.") from None
        if name in _MIXED:
            self._compute, self._variable = _MIXED[name], "float32"
        else:
            try:
                self._compute = self._variable = _dtype_name(name)
            except TypeError:
                raise ValueError(
                    f"DTypePolicy: unknown policy {name!r}. Use 'float32', 'bfloat16', "
                    f"'float16', 'mixed_bfloat16' or 'mixed_float16'.") from None
            name = self._compute
        self._name = name

    name = property(lambda self: self._name)
    compute_dtype = property(lambda self: self._compute)
    variable_dtype = property(lambda self: self._variable)

    @property
    def is_mixed(self) -> bool:
        return self._compute != self._variable

    @property
    def quantization_mode(self):
        """None: float weights (see `trine.dtype_policies` for the quantized policies)."""
        return None

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


_FLOAT32 = DTypePolicy("float32")


def set_dtype_policy(policy) -> None:
    """Set the dtype policy layers made from now on take when given no `dtype` (None:
    follow `floatx()`); see `trine.mixed_precision`.

    Raises:
        ValueError: for a policy whose variables would not be floating.
    """
    if policy is None:
        _SETTINGS["dtype_policy"] = None
        return
    p = policy if isinstance(policy, DTypePolicy) else DTypePolicy(policy)
    if not np.issubdtype(np.dtype(p.variable_dtype), np.floating):
        raise ValueError(
            f"set_global_policy expected a floating policy, received {p.name!r}: layers "
            "need floating weights by default.")
    _SETTINGS["dtype_policy"] = p


def dtype_policy() -> DTypePolicy:
    """The global dtype policy: the one set, else `floatx()`'s (float32 unless set)."""
    if _SETTINGS["dtype_policy"] is not None:
        return _SETTINGS["dtype_policy"]
    fx = floatx()
    return _FLOAT32 if fx == "float32" else DTypePolicy(fx)


def enable_unsafe_deserialization() -> None:
    """Let `load_model` default to `safe_mode=False` (lambdas in files load), as in Keras."""
    _SETTINGS["unsafe_deserialization"] = True


def unsafe_deserialization_enabled() -> bool:
    """Whether `enable_unsafe_deserialization()` was called (saving reads it for safe_mode)."""
    return _SETTINGS["unsafe_deserialization"]


def enable_interactive_logging() -> None:
    """Print progress bars and logs to stdout (the default)."""
    _SETTINGS["interactive_logging"] = True


def disable_interactive_logging() -> None:
    """Send progress and logs to Python's `logging` instead of printing them."""
    _SETTINGS["interactive_logging"] = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress and logs are printed to stdout."""
    return _SETTINGS["interactive_logging"]


def enable_traceback_filtering() -> None:
    """Keras's switch for hiding library frames in tracebacks (recorded; trine shows all)."""
    _SETTINGS["traceback_filtering"] = True


def disable_traceback_filtering() -> None:
    """Keras's switch for showing library frames in tracebacks."""
    _SETTINGS["traceback_filtering"] = False


def is_traceback_filtering_enabled() -> bool:
    """Whether traceback filtering is on (Keras's default: True)."""
    return _SETTINGS["traceback_filtering"]


def enable_flash_attention() -> None:
    """Ask `dot_product_attention` for a fused (flash) kernel where the device has one."""
    _SETTINGS["flash_attention"] = True


def disable_flash_attention() -> None:
    """Never use a fused (flash) attention kernel."""
    _SETTINGS["flash_attention"] = False


def is_flash_attention_enabled():
    """True / False when set, None when left to the op (Keras's default)."""
    return _SETTINGS["flash_attention"]


def is_nnx_enabled() -> bool:
    """Keras's Flax NNX integration switch: trine never uses NNX."""
    return False


def _check_limit(value, fn):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ValueError(f"{fn}: expected None or an integer >= 1, received {value!r}.")
    return value


def _from_env(key, variable):
    value = _SETTINGS[key]
    if value is None and os.environ.get(variable):  # Keras reads the same variables
        try:
            value = int(os.environ[variable])
        except ValueError:
            raise ValueError(f"The environment variable {variable} must be an integer, "
                             f"received {os.environ[variable]!r}.") from None
    return value


def max_epochs():
    """The cap on epochs of every `fit` (None: no cap); set here or by KERAS_MAX_EPOCHS."""
    return _from_env("max_epochs", "KERAS_MAX_EPOCHS")


def set_max_epochs(max_epochs) -> None:
    """Cap the number of epochs of every `fit` (None removes the cap); handy for smoke tests.

    Raises:
        ValueError: for a value that is neither None nor an integer >= 1.
    """
    _SETTINGS["max_epochs"] = _check_limit(max_epochs, "set_max_epochs")


def max_steps_per_epoch():
    """The cap on steps in each epoch of `fit` (None: no cap); set here or by
    KERAS_MAX_STEPS_PER_EPOCH."""
    return _from_env("max_steps_per_epoch", "KERAS_MAX_STEPS_PER_EPOCH")


def set_max_steps_per_epoch(max_steps_per_epoch) -> None:
    """Cap the number of steps in each epoch of `fit` (None removes the cap).

    Raises:
        ValueError: for a value that is neither None nor an integer >= 1.
    """
    _SETTINGS["max_steps_per_epoch"] = _check_limit(max_steps_per_epoch,
                                                    "set_max_steps_per_epoch")


def fit_limits(epochs, steps_per_epoch):
    """`(epochs, steps_per_epoch)` of a `fit` call after the global caps (what fit runs)."""
    cap_epochs, cap_steps = max_epochs(), max_steps_per_epoch()
    if cap_epochs and cap_epochs < epochs:
        epochs = cap_epochs
    if cap_steps and (not steps_per_epoch or cap_steps < steps_per_epoch):
        steps_per_epoch = cap_steps
    return epochs, steps_per_epoch
