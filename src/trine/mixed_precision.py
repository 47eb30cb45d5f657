"""Dtype policies and mixed precision (Keras `keras.mixed_precision`).

A policy names the dtype a layer computes in and the dtype its variables are stored in:
"float32" (the default), "bfloat16", "float16", and the mixed ones "mixed_bfloat16" and
"mixed_float16", which keep variables in float32 and compute in the 16-bit type. Under a
mixed policy a layer casts its floating inputs to the compute dtype and reads its weights
cast to it inside `call` (gradients still reach the float32 variables); losses are computed
in float32.

    trine.mixed_precision.set_global_policy("mixed_bfloat16")
    model = ...                        # layers made now take the policy
    trine.mixed_precision.set_global_policy("float32")

A layer's own `dtype=` argument (a name or a `DTypePolicy`) overrides the global policy,
e.g. `Dense(10, activation="softmax", dtype="float32")` for a float32 output layer.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DTypePolicy", "Policy", "global_policy", "set_global_policy", "dtype_policy",
           "set_dtype_policy"]

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


def _dtype_name(name):
    import jax.numpy as jnp
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
            name = global_policy().name
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


Policy = DTypePolicy
_FLOAT32 = DTypePolicy("float32")
_GLOBAL = [None]


def set_global_policy(policy) -> None:
    """Set the policy layers made from now on take when given no `dtype`."""
    if policy is None:
        _GLOBAL[0] = None
        return
    p = policy if isinstance(policy, DTypePolicy) else DTypePolicy(policy)
    if not np.issubdtype(np.dtype(p.variable_dtype), np.floating):
        raise ValueError(
            f"set_global_policy expected a floating policy, received {p.name!r}: layers "
            "need floating weights by default.")
    _GLOBAL[0] = p


def global_policy() -> DTypePolicy:
    """The global policy (float32 unless `set_global_policy` said otherwise)."""
    if _GLOBAL[0] is not None:
        return _GLOBAL[0]
    from trine.config import floatx  # Keras: the default policy is floatx()
    fx = floatx()
    return _FLOAT32 if fx == "float32" else DTypePolicy(fx)


set_dtype_policy = set_global_policy  # keras.config names
dtype_policy = global_policy
