"""Moving one value onto a sharding, in one process or across several."""
from __future__ import annotations

import jax
import numpy as np


def multi_process() -> bool:
    """Whether this run spans several processes (jax.distributed)."""
    return jax.process_count() > 1


def place(x, sharding):
    """`x` (host or device, local or global) as a global array with `sharding`."""
    if x is None:
        return None
    if isinstance(x, jax.Array):
        # Equal, not merely equivalent: a one-device array is equivalent to a replicated
        # NamedSharding but its type carries no mesh, and jit keys programs on that type
        # (each fit then compiled its programs again for the first chunks). device_put
        # between equivalent shardings relabels without copying.
        if x.sharding == sharding:
            return x
        if not (multi_process() and x.is_fully_addressable and not sharding.is_fully_addressable):
            return jax.device_put(x, sharding)
    host = np.asarray(x)
    if not multi_process() or sharding.is_fully_addressable:
        return jax.device_put(host, sharding)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
