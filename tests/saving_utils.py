"""Helpers shared by the saving tests."""
import numpy as np
import pytest


def cheap_random_init():
    """Patch jax.random's uniform / normal / truncated_normal to shape-seeded NumPy values.

    Drawing random numbers in JAX compiles one XLA program per new shape (about a second on
    a slow CPU). Tests that overwrite or only compare weights do not need real random
    initial values, so this keeps them fast. Returns the MonkeyPatch; call `.undo()`.

    Any function jitted while the patch is on (trine's bucketed sampler, a Dropout step)
    traces the patched draw into a constant of its compiled program, and jit's cache keeps
    that program after the patch is undone: later tests would silently get the same
    "random" values. So JAX's caches are cleared when the patch goes on and when it comes off.
    """
    import jax
    import jax.numpy as jnp

    def values(shape, dtype, scale=0.05):
        shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        dt = jax.dtypes.canonicalize_dtype(dtype if dtype is not None else jnp.float32)
        rng = np.random.default_rng(abs(hash(shape)) % (2 ** 32))
        return jnp.asarray(rng.uniform(-scale, scale, size=shape).astype(dt))

    class _Patch(pytest.MonkeyPatch):
        def undo(self):
            super().undo()
            jax.clear_caches()

    jax.clear_caches()
    mp = _Patch()
    mp.setattr(jax.random, "uniform",
               lambda key, shape=(), dtype=float, minval=0.0, maxval=1.0: values(shape, dtype))
    mp.setattr(jax.random, "normal", lambda key, shape=(), dtype=float: values(shape, dtype))
    mp.setattr(jax.random, "truncated_normal",
               lambda key, lower, upper, shape=(), dtype=float: values(shape, dtype))
    return mp
