"""Distributions (data parallel, model parallel), the current one, and multi-process start-up.

A distribution says how variables and batches are laid out over a `DeviceMesh`. Set one with
`set_distribution(d)` or `with d.scope():`; while it is current, `fit` / `evaluate` / `predict`
place the model's state and each batch accordingly and XLA's SPMD partitioner does the rest.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import warnings

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from trine.distribution.mesh import DeviceMesh, LayoutMap, TensorLayout
from trine.distribution.transfer import place

DEFAULT_BATCH_DIM_NAME = "batch"
_tokens = itertools.count(1)
_current = [None]


class Distribution:
    """Base class: a mesh, the mesh axis the batch is split over, and variable layouts.

    Args:
        device_mesh: the `DeviceMesh`.
        batch_dim_name: the mesh axis that splits the batch dimension of the data.
        auto_shard_dataset: in a multi-process run, True: every process passes the same
            global data (arrays, PyDataset, grain, any iterable) and feeds its devices only
            their rows. False (Keras's mode for sources it cannot shard): every process
            passes its own shard, e.g. a PyDataset reading rows `jax.process_index()::n` or
            a grain pipeline with `ShardByJaxProcess`, and each global batch joins the
            processes' batches in process order; `predict` returns each process its rows.
    """

    def __init__(self, device_mesh: DeviceMesh, batch_dim_name: str | None = None,
                 auto_shard_dataset: bool = True):
        if not isinstance(device_mesh, DeviceMesh):
            raise ValueError(
                f"{type(self).__name__} needs a DeviceMesh, received "
                f"{type(device_mesh).__name__}.")
        if batch_dim_name is not None and batch_dim_name not in device_mesh.axis_names:
            raise ValueError(
                f"{type(self).__name__}: batch_dim_name '{batch_dim_name}' is not an axis of the "
                f"mesh {device_mesh.axis_names}. Pass one of {list(device_mesh.axis_names)}.")
        self._device_mesh = device_mesh
        self._batch_dim_name = batch_dim_name
        self._auto_shard_dataset = bool(auto_shard_dataset)
        self._token = next(_tokens)

    # ------------------------------------------------------------------ properties
    @property
    def device_mesh(self) -> DeviceMesh:
        return self._device_mesh

    @property
    def batch_dim_name(self) -> str | None:
        return self._batch_dim_name

    @property
    def auto_shard_dataset(self) -> bool:
        return self._auto_shard_dataset

    @auto_shard_dataset.setter
    def auto_shard_dataset(self, value):
        self._auto_shard_dataset = bool(value)

    @property
    def num_processes(self) -> int:
        return jax.process_count()

    @property
    def process_id(self) -> int:
        return jax.process_index()

    @property
    def num_model_replicas(self) -> int:
        """How many copies of the model see different data (the batch axis's size)."""
        return self._device_mesh.axis_size(self._batch_dim_name)

    @property
    def data_shard_id(self) -> int:
        replicas = self.num_model_replicas
        if replicas >= self.num_processes:
            return self.process_id
        return self.process_id // (self.num_processes // replicas)

    # ------------------------------------------------------------------ layouts
    def get_data_layout(self, data_shape) -> TensorLayout:
        """Layout for a batch of `data_shape`: first dimension split over the batch axis."""
        axes = [None] * len(data_shape)
        if axes:
            axes[0] = self._batch_dim_name
        return TensorLayout(axes, self._device_mesh)

    def get_variable_layout(self, variable) -> TensorLayout:
        """Layout for a Variable (or a variable path): replicated unless a subclass says so."""
        own = getattr(variable, "_layout", None)
        if own is not None:
            return own
        path = variable if isinstance(variable, str) else getattr(variable, "path", "")
        shape = getattr(variable, "shape", None)
        found = self._layout_for_path(path)
        if found is not None:
            return found
        return TensorLayout([None] * (len(shape) if shape is not None else 0), self._device_mesh)

    def _layout_for_path(self, path):
        return None

    def get_tensor_layout(self, path):
        """Layout for an intermediate tensor by path (None: let XLA decide)."""
        return None

    def distribute_dataset(self, dataset):
        """Return `dataset` unchanged: fit shards arrays itself (each process feeds its rows)."""
        return dataset

    # ------------------------------------------------------------------ scope
    @contextlib.contextmanager
    def scope(self):
        """Make this distribution current inside a `with` block.

        Example:
            >>> with DataParallel().scope():
            ...     model.fit(x, y, batch_size=64)
        """
        previous = distribution()
        set_distribution(self)
        try:
            yield self
        finally:
            set_distribution(previous)

    # ------------------------------------------------------------------ helpers for placement
    @property
    def _batch_shards(self) -> int:
        return self._device_mesh.axis_size(self._batch_dim_name)

    def _replicated(self) -> NamedSharding:
        if getattr(self, "_rep", None) is None:
            self._rep = NamedSharding(self._device_mesh.jax_mesh, PartitionSpec())
        return self._rep

    def __repr__(self):
        return (f"<{type(self).__name__} device_mesh={self._device_mesh}, "
                f"batch_dim_name={self._batch_dim_name!r}>")


class DataParallel(Distribution):
    """Data parallelism: each device gets a slice of every batch; variables are replicated.

    Gradients are averaged over the whole global batch, so training matches one device up to
    floating-point reassociation. The batch size must be a multiple of the device count (the
    last, shorter batch of an epoch may be any size: it runs replicated).

    Args:
        device_mesh: a 1-D `DeviceMesh` (with more axes, the first splits the batch).
        devices: devices for a 1-D mesh named "batch" (when `device_mesh` is not given).
        auto_shard_dataset: see `Distribution`.

    Raises:
        ValueError: when both `device_mesh` and `devices` are given, or the mesh is not one.

    Example:
        >>> trine.distribution.set_distribution(trine.distribution.DataParallel())
        >>> model.fit(x, y, batch_size=256)
    """

    def __init__(self, device_mesh: DeviceMesh | None = None, devices=None,
                 auto_shard_dataset: bool = True):
        if device_mesh is not None and devices is not None:
            raise ValueError("DataParallel takes device_mesh or devices, not both.")
        if device_mesh is None:
            devs = jax.devices() if devices is None else list(np.asarray(devices, object).reshape(-1))
            device_mesh = DeviceMesh((len(devs),), (DEFAULT_BATCH_DIM_NAME,), devs)
        elif not isinstance(device_mesh, DeviceMesh):
            raise ValueError(
                f"DataParallel(device_mesh=...) must be a DeviceMesh, received "
                f"{type(device_mesh).__name__}.")
        elif len(device_mesh.shape) != 1:
            warnings.warn(
                f"DataParallel expects a 1-D mesh, received shape {device_mesh.shape}; the first "
                f"axis '{device_mesh.axis_names[0]}' splits the batch and variables are "
                "replicated over all devices.", stacklevel=2)
        super().__init__(device_mesh, device_mesh.axis_names[0], auto_shard_dataset)


class ModelParallel(Distribution):
    """Model (and data) parallelism: variables laid out by a `LayoutMap`, batches split over
    `batch_dim_name`.

    Variables whose path no key matches are replicated. Optimizer slots (momentum, Adam's
    moments) follow their variable's layout.

    Args:
        layout_map: the `LayoutMap` (its mesh is the distribution's mesh).
        batch_dim_name: the mesh axis that splits the batch; default the mesh's first axis.
        auto_shard_dataset: see `Distribution`.

    Raises:
        ValueError: without a LayoutMap, or when batch_dim_name is not a mesh axis.

    Example:
        >>> mesh = DeviceMesh((2, 4), ("batch", "model"))
        >>> layout_map = LayoutMap(mesh)
        >>> layout_map["dense.*kernel"] = (None, "model")
        >>> set_distribution(ModelParallel(layout_map=layout_map, batch_dim_name="batch"))
    """

    def __init__(self, *, layout_map: LayoutMap | None = None, batch_dim_name: str | None = None,
                 auto_shard_dataset: bool = True, **kwargs):
        mesh_arg = kwargs.pop("device_mesh", None)
        if kwargs:
            raise TypeError(f"ModelParallel got unexpected arguments {sorted(kwargs)}.")
        if layout_map is None:
            raise ValueError(
                "ModelParallel needs layout_map=LayoutMap(mesh) saying how to split variables, "
                "e.g. layout_map['dense.*kernel'] = (None, 'model').")
        if not isinstance(layout_map, LayoutMap):
            raise ValueError(
                f"ModelParallel(layout_map=...) must be a LayoutMap, received "
                f"{type(layout_map).__name__}.")
        mesh = layout_map.device_mesh
        if mesh_arg is not None and mesh_arg is not mesh:
            raise ValueError("ModelParallel: device_mesh differs from layout_map.device_mesh; "
                             "leave device_mesh out (the layout map's mesh is used).")
        super().__init__(mesh, batch_dim_name or mesh.axis_names[0], auto_shard_dataset)
        self._layout_map = layout_map

    @property
    def layout_map(self) -> LayoutMap:
        return self._layout_map

    def _layout_for_path(self, path):
        return self._layout_map[path] if path else None

    def get_tensor_layout(self, path):
        return self._layout_map[path]


def distribution() -> Distribution | None:
    """The current distribution (None: one device, the default)."""
    return _current[0]


def set_distribution(value: Distribution | None) -> None:
    """Make `value` the current distribution for fit / evaluate / predict (None to unset).

    Raises:
        ValueError: when `value` is not a Distribution or None.
    """
    if value is not None and not isinstance(value, Distribution):
        raise ValueError(
            f"set_distribution expected a DataParallel / ModelParallel or None, received "
            f"{type(value).__name__}.")
    _current[0] = value


def distribute_tensor(tensor, layout):
    """Lay `tensor` out as `layout` says: a sharding constraint under jit, else a transfer.

    Args:
        tensor: an array.
        layout: a `TensorLayout` or a `jax.sharding.Sharding`.

    Returns:
        The array with that sharding.
    """
    sharding = layout.sharding if isinstance(layout, TensorLayout) else layout
    if isinstance(tensor, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(tensor, sharding)
    return place(tensor, sharding)


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, **kwargs) -> None:
    """Join a multi-process run (`jax.distributed.initialize`); call it first in every process.

    Afterwards `list_devices()` lists every process's devices, and a `DataParallel()` spans
    them all. Every process then runs the same program on the same arrays; each feeds its own
    devices their rows of every batch. Unset arguments come from the environment
    (`TRINE_COORDINATOR_ADDRESS` / `TRINE_NUM_PROCESSES` / `TRINE_PROCESS_ID`, or Keras's
    `KERAS_DISTRIBUTION_JOB_ADDRESSES` / `..._NUM_PROCESSES` / `..._PROCESS_ID`), else JAX
    detects them (SLURM, Cloud TPU, ...). When no seed was set, process 0's seed is shared so
    that all processes build the same initial weights.

    Args:
        coordinator_address: "host:port" of process 0 (a comma-separated list of job
            addresses, as Keras takes, uses its first entry).
        num_processes: how many processes take part.
        process_id: this process's index, 0 .. num_processes - 1.
        **kwargs: passed on to `jax.distributed.initialize` (e.g. `local_device_ids`).

    Example:
        >>> trine.distribution.initialize("10.0.0.1:1234", num_processes=2, process_id=0)
    """
    env = os.environ
    if coordinator_address is None:
        coordinator_address = (env.get("TRINE_COORDINATOR_ADDRESS")
                               or env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES"))
    if num_processes is None:
        n = env.get("TRINE_NUM_PROCESSES") or env.get("KERAS_DISTRIBUTION_NUM_PROCESSES")
        num_processes = int(n) if n else None
    if process_id is None:
        p = env.get("TRINE_PROCESS_ID") or env.get("KERAS_DISTRIBUTION_PROCESS_ID")
        process_id = int(p) if p else None
    if coordinator_address and "," in coordinator_address:
        coordinator_address = coordinator_address.split(",")[0].strip()
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id, **kwargs)
    _agree_on_seed()


def _agree_on_seed():
    from trine.core import random as random_mod
    if jax.process_count() == 1 or getattr(random_mod, "_SEED", 0) is not None:
        return
    from jax.experimental import multihost_utils
    mine = np.asarray(random_mod.global_seed(), np.uint32)
    shared = multihost_utils.broadcast_one_to_all(mine)
    random_mod.set_random_seed(int(np.asarray(shared)))
