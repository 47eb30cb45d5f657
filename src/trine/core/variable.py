"""`Variable`: a named, mutable handle on a JAX array, and the scope that swaps values in.

Outside any scope a Variable holds its value. Inside `StatelessScope(mapping)` (what
`stateless_call` uses), reading a Variable returns the value the mapping gives for it, and
`assign` records the new value in the scope instead of mutating the Variable; the caller reads
the updates back from the scope. That keeps `Layer.call` ordinary `jax.numpy` code while every
jitted function stays pure.
"""
from __future__ import annotations

import threading

import jax
import jax.numpy as jnp
import numpy as np

_local = threading.local()


def _scopes() -> list:
    if not hasattr(_local, "scopes"):
        _local.scopes = []
    return _local.scopes


def current_scope() -> "StatelessScope | None":
    s = _scopes()
    return s[-1] if s else None


def _autocasts() -> list:
    if not hasattr(_local, "autocast"):
        _local.autocast = []
    return _local.autocast


class AutocastScope:
    """Inside it, floating variables (with `autocast`) read as `dtype`; None: as stored.

    A layer under a mixed policy runs its `call` in one with its compute dtype, so its
    weights take part in the maths in that dtype while the variables stay float32.
    """

    def __init__(self, dtype):
        self.dtype = None if dtype is None else jnp.dtype(dtype)

    def __enter__(self):
        _autocasts().append(self.dtype)
        return self

    def __exit__(self, *exc):
        _autocasts().pop()
        return False


class StatelessScope:
    """Substitute values for Variables while tracing a pure function.

    Args:
        values: mapping from Variable to the array to use for it.
        collect_assignments: record `assign` calls (else they raise).
    """

    def __init__(self, values=None, collect_assignments: bool = True):
        self.values = {id(v): x for v, x in (values or {}).items()}
        self.collect = collect_assignments
        self.updates: dict[int, object] = {}

    def get(self, var):
        k = id(var)
        if k in self.updates:
            return self.updates[k]
        return self.values.get(k, None)

    def assign(self, var, value):
        if not self.collect:
            raise RuntimeError(
                f"Variable '{var.path}' was assigned inside a pure (jitted) function where "
                "assignments are not collected. Return the new value as state instead.")
        self.updates[id(var)] = value

    def __enter__(self):
        _scopes().append(self)
        return self

    def __exit__(self, *exc):
        _scopes().pop()
        return False


def _standardize_dtype(dtype):
    if dtype is None:
        from trine.config import floatx
        return floatx()
    return jnp.dtype(dtype).name


class Variable:
    """A trainable or non-trainable value owned by a layer (Keras `keras.Variable`).

    Args:
        initializer: an array, or a callable `initializer(shape, dtype)`.
        shape: needed when `initializer` is callable.
        dtype: the variable's dtype (default float32).
        trainable: whether gradients flow to it in `fit`.
        name: short name, e.g. "kernel".

    Attributes:
        overwrite_with_gradient: when True, an optimizer replaces the value with its
            "gradient" instead of stepping along it (float8's scales, as in Keras).

    Example:
        >>> v = Variable(np.zeros((2, 3)), name="w")
        >>> v.assign(v + 1.0)
    """

    def __init__(self, initializer, shape=None, dtype=None, trainable: bool = True,
                 name: str | None = None, aggregation: str = "none"):
        self.name = name or "variable"
        self.path = self.name
        self.trainable = bool(trainable)
        self.overwrite_with_gradient = False
        self.aggregation = aggregation
        if callable(initializer):
            if shape is None:
                raise ValueError(
                    f"Variable '{self.name}': a callable initializer needs shape=, received "
                    "shape=None. Pass shape=(...) or an array as initializer.")
            dtype = _standardize_dtype(dtype)
            value = initializer(tuple(shape), dtype)
        else:
            value = initializer
            if dtype is None and hasattr(value, "dtype") and jnp.issubdtype(value.dtype, jnp.floating):
                dtype = jnp.dtype(value.dtype).name
            if dtype is None and hasattr(value, "dtype"):
                dtype = jnp.dtype(value.dtype).name
                if dtype == "float64":
                    dtype = "float32"
            dtype = _standardize_dtype(dtype)
        self._value = jnp.asarray(value, dtype=dtype)
        if shape is not None and tuple(self._value.shape) != tuple(shape):
            raise ValueError(
                f"Variable '{self.name}' expected initial value of shape {tuple(shape)}, "
                f"received shape {tuple(self._value.shape)}.")
        self.constraint = None

    # --- value access -----------------------------------------------------------------
    @property
    def value(self):
        scope = current_scope()
        v = None
        if scope is not None:
            v = scope.get(self)
        if v is None:
            v = self._value
        casts = getattr(_local, "autocast", None)
        if casts and casts[-1] is not None and getattr(self, "autocast", True):
            dt = casts[-1]
            if v.dtype != dt and jnp.issubdtype(v.dtype, jnp.floating):
                v = v.astype(dt)
        return v

    def assign(self, value):
        if not (isinstance(value, jax.Array) and value.dtype == self._value.dtype):
            value = jnp.asarray(value, dtype=self.dtype)  # an eager op: ~0.1 ms even if a no-op
        if tuple(value.shape) != self.shape:
            raise ValueError(
                f"Variable '{self.path}' has shape {self.shape}; cannot assign a value of "
                f"shape {tuple(value.shape)}.")
        scope = current_scope()
        if scope is not None and scope.get(self) is not None:
            scope.assign(self, value)
            return value
        if isinstance(value, jax.core.Tracer):
            raise RuntimeError(
                f"Variable '{self.path}' was assigned a traced value inside a jitted function "
                "(a custom train_step, or your own jax.jit). Inside jit, variables cannot be "
                "mutated: keep the value in the state. Assign it inside a layer's call() run by "
                "model.stateless_call(params, state, x), which returns the new value in the "
                "non-trainable state; or, in train_step, return the new value at its position "
                "in the non-trainable state (i = model.non_trainable_variables.index(var)); or "
                "update the variable after the step.")
        self._value = value
        return value

    def assign_add(self, delta):
        return self.assign(self.value + delta)

    def assign_sub(self, delta):
        return self.assign(self.value - delta)

    @property
    def shape(self) -> tuple:
        return tuple(self._value.shape)

    @property
    def dtype(self) -> str:
        return jnp.dtype(self._value.dtype).name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numpy(self) -> np.ndarray:
        return np.asarray(self.value)

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self.value)
        return a.astype(dtype) if dtype is not None else a

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"trainable={self.trainable}>")

    # --- arithmetic, so `x @ self.kernel` works in call ---------------------------------
    def __len__(self):
        return self.shape[0]

    def __getitem__(self, idx):
        return self.value[idx]

    def __neg__(self):
        return -self.value

    def __pos__(self):
        return self.value

    def __abs__(self):
        return abs(self.value)

    def __add__(self, o):
        return self.value + _unwrap(o)

    def __radd__(self, o):
        return _unwrap(o) + self.value

    def __sub__(self, o):
        return self.value - _unwrap(o)

    def __rsub__(self, o):
        return _unwrap(o) - self.value

    def __mul__(self, o):
        return self.value * _unwrap(o)

    def __rmul__(self, o):
        return _unwrap(o) * self.value

    def __truediv__(self, o):
        return self.value / _unwrap(o)

    def __rtruediv__(self, o):
        return _unwrap(o) / self.value

    def __matmul__(self, o):
        return self.value @ _unwrap(o)

    def __rmatmul__(self, o):
        return _unwrap(o) @ self.value

    def __pow__(self, o):
        return self.value ** _unwrap(o)

    def __lt__(self, o):
        return self.value < _unwrap(o)

    def __le__(self, o):
        return self.value <= _unwrap(o)

    def __gt__(self, o):
        return self.value > _unwrap(o)

    def __ge__(self, o):
        return self.value >= _unwrap(o)

    __hash__ = object.__hash__


def _unwrap(x):
    return x.value if isinstance(x, Variable) else x
