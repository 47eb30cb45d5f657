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

from trine.config import DTypePolicy, dtype_policy, set_dtype_policy
from trine.optimizers.loss_scale import LossScaleOptimizer

__all__ = ["DTypePolicy", "LossScaleOptimizer", "Policy", "global_policy", "set_global_policy",
           "dtype_policy", "set_dtype_policy"]

Policy = DTypePolicy
set_global_policy = set_dtype_policy
global_policy = dtype_policy
