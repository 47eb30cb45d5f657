"""Training on many devices and many processes, on `jax.sharding` and `jax.distributed`.

Keras 3's distribution API: a `DeviceMesh` of devices, `TensorLayout`s and a `LayoutMap` for
variables, and a distribution (`DataParallel`, `ModelParallel`) made current with
`set_distribution` or `with distribution.scope():`. While one is current, `fit`, `evaluate`
and `predict` lay out the model's state and every batch on the mesh and XLA partitions the
compiled programs. See docs/distribution.md.

Example:
    >>> import trine
    >>> trine.distribution.set_distribution(trine.distribution.DataParallel())
    >>> model.fit(x, y, batch_size=256)
"""
from trine.distribution.mesh import (
    DeviceMesh,
    LayoutMap,
    TensorLayout,
    get_device_count,
    list_devices,
)
from trine.distribution.placement import variable_shardings
from trine.distribution.strategies import (
    DataParallel,
    Distribution,
    ModelParallel,
    distribute_tensor,
    distribution,
    initialize,
    set_distribution,
)

__all__ = [
    "DataParallel",
    "DeviceMesh",
    "Distribution",
    "LayoutMap",
    "ModelParallel",
    "TensorLayout",
    "distribute_tensor",
    "distribution",
    "get_device_count",
    "initialize",
    "list_devices",
    "set_distribution",
    "variable_shardings",
]
