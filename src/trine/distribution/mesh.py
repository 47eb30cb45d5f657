"""Devices, meshes and layouts: Keras 3's distribution vocabulary on `jax.sharding`.

A `DeviceMesh` names the axes of an array of devices (a `jax.sharding.Mesh`); a `TensorLayout`
says which mesh axis each dimension of a tensor is split over (a `NamedSharding`); a
`LayoutMap` maps variable paths (regular expressions) to layouts.
"""
from __future__ import annotations

import collections.abc
import math
import re

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from trine._util.pattern_keys import key_for_path


def list_devices(device_type: str | None = None) -> list[str]:
    """The devices available for distributed computation, as strings like "gpu:0".

    In a multi-process run these are the global devices (all processes').

    Args:
        device_type: "cpu", "gpu" or "tpu"; default: the default backend's devices
            (accelerators when present, else CPUs).

    Returns:
        A list of "platform:id" strings, one device type only.

    Raises:
        RuntimeError: when no device of `device_type` exists.

    Example:
        >>> trine.distribution.list_devices()
        ['cpu:0', 'cpu:1', ...]
    """
    return [f"{d.platform}:{d.id}" for d in _jax_devices(device_type)]


def get_device_count(device_type: str | None = None) -> int:
    """How many devices `list_devices(device_type)` returns."""
    return len(_jax_devices(device_type))


def _jax_devices(device_type):
    if device_type is None:
        return jax.devices()
    kind = str(device_type).lower()
    try:
        return jax.devices(kind)
    except RuntimeError as e:
        raise RuntimeError(
            f"No '{kind}' devices are available (JAX says: {e}). Available: "
            f"{[f'{d.platform}:{d.id}' for d in jax.devices()]}. Call list_devices() without "
            "a device_type to use the default devices.") from None


def to_jax_device(device):
    """A `jax.Device` from a device or a "platform:id" string."""
    if isinstance(device, jax.Device):
        return device
    if isinstance(device, str) and ":" in device:
        platform, _, ident = device.partition(":")
        platform = platform.lower()
        try:
            ident = int(ident)
        except ValueError:
            ident = None
        if ident is not None:
            for d in _jax_devices(platform):
                if d.id == ident:
                    return d
    raise ValueError(
        f"Unknown device {device!r}: expected a jax.Device or a string 'platform:id' from "
        f"list_devices() ({list_devices()}).")


class DeviceMesh:
    """Devices arranged in a named grid (`jax.sharding.Mesh`).

    Args:
        shape: the grid's shape, e.g. `(8,)` for data parallelism or `(2, 4)` for data and
            model parallelism together.
        axis_names: one name per axis, e.g. `("batch", "model")`; layouts refer to them.
        devices: the devices (strings from `list_devices()` or `jax.Device`s); default all.

    Raises:
        ValueError: when shape and axis_names are empty or differ in length, or the shape
            does not hold exactly the devices given.

    Example:
        >>> mesh = DeviceMesh((2, 4), ("batch", "model"))
    """

    def __init__(self, shape, axis_names, devices=None):
        if not shape or not axis_names:
            raise ValueError(
                f"DeviceMesh needs a non-empty shape and axis_names, received shape={shape!r}, "
                f"axis_names={axis_names!r}. Example: DeviceMesh((8,), ('batch',)).")
        shape = tuple(int(s) for s in shape)
        axis_names = tuple(str(a) for a in axis_names)
        if len(shape) != len(axis_names):
            raise ValueError(
                f"DeviceMesh: shape {shape} has {len(shape)} axes but axis_names {axis_names} "
                f"has {len(axis_names)} names; give one name per axis.")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"DeviceMesh: axis_names {axis_names} must be distinct.")
        if devices is None:
            devices = jax.devices()
        flat = [to_jax_device(d) for d in np.asarray(devices, dtype=object).reshape(-1)]
        if math.prod(shape) != len(flat):
            raise ValueError(
                f"DeviceMesh shape {shape} holds {math.prod(shape)} devices, but {len(flat)} "
                f"were given. Pass a shape whose product is {len(flat)}, or pass "
                f"devices=list_devices()[:{math.prod(shape)}].")
        self._shape = shape
        self._axis_names = axis_names
        self._devices = np.array(flat, dtype=object).reshape(shape)
        self._jax_mesh = None

    @property
    def shape(self) -> tuple:
        return self._shape

    @property
    def axis_names(self) -> tuple:
        return self._axis_names

    @property
    def devices(self) -> np.ndarray:
        """The `jax.Device`s, as an array of the mesh's shape."""
        return self._devices

    @property
    def jax_mesh(self) -> Mesh:
        """The `jax.sharding.Mesh` this mesh stands for."""
        if self._jax_mesh is None:
            self._jax_mesh = Mesh(self._devices, self._axis_names)
        return self._jax_mesh

    backend_mesh = jax_mesh  # Keras's name

    def axis_size(self, name: str) -> int:
        return self._shape[self._axis_names.index(name)]

    def __repr__(self):
        return f"<DeviceMesh shape={self._shape}, axis_names={self._axis_names}>"


class TensorLayout:
    """How a tensor is split over a mesh (`jax.sharding.NamedSharding`).

    Args:
        axes: one entry per tensor dimension: a mesh axis name to split that dimension
            over, or None to keep it whole (replicated).
        device_mesh: the mesh; may be left out and set later (a `LayoutMap` sets it).

    Raises:
        ValueError: when an axis name is not one of the mesh's.

    Example:
        >>> TensorLayout((None, "model"), mesh)   # a kernel split by columns
    """

    def __init__(self, axes, device_mesh: DeviceMesh | None = None):
        if isinstance(axes, str):
            axes = (axes,)
        self._axes = tuple(axes)
        self._device_mesh = None
        if device_mesh is not None:
            self.device_mesh = device_mesh

    @property
    def axes(self) -> tuple:
        return self._axes

    @property
    def device_mesh(self) -> DeviceMesh | None:
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, mesh):
        if self._device_mesh is not None:
            raise ValueError(
                f"TensorLayout {self._axes} already has a device mesh ({self._device_mesh}); "
                "create a new TensorLayout for another mesh.")
        if not isinstance(mesh, DeviceMesh):
            raise ValueError(
                f"TensorLayout.device_mesh must be a DeviceMesh, received {type(mesh).__name__}.")
        names = [a for a in self._axes if a is not None]
        flat = []
        for a in names:
            flat.extend(a if isinstance(a, (tuple, list)) else [a])
        unknown = [a for a in flat if a not in mesh.axis_names]
        if unknown:
            raise ValueError(
                f"TensorLayout axes {self._axes} name {unknown}, which are not axes of the mesh "
                f"{mesh.axis_names}. Use one of {list(mesh.axis_names)} or None.")
        self._device_mesh = mesh

    @property
    def partition_spec(self) -> PartitionSpec:
        return PartitionSpec(*[tuple(a) if isinstance(a, list) else a for a in self._axes])

    @property
    def sharding(self) -> NamedSharding:
        """The `NamedSharding` for this layout (needs the mesh)."""
        if self._device_mesh is None:
            raise ValueError(
                f"TensorLayout {self._axes} has no device mesh yet; pass device_mesh= or add it "
                "to a LayoutMap.")
        return NamedSharding(self._device_mesh.jax_mesh, self.partition_spec)

    backend_layout = sharding  # Keras's name

    def __repr__(self):
        return f"<TensorLayout axes={self._axes}, device_mesh={self._device_mesh}>"


class LayoutMap(collections.abc.MutableMapping):
    """Variable paths (regular expressions) to `TensorLayout`s.

    A lookup first tries the key exactly, then every stored key as a regular expression that
    must match the whole path (`re.fullmatch`). Values may be given as tuples of axis names.
    Paths are the model's variable paths, e.g. "dense/kernel" (see `model.weights`'s `.path`).

    Args:
        device_mesh: the mesh the layouts refer to.

    Raises:
        ValueError: on a duplicate key, a value that is not a layout, or (on lookup) a path
            matched by several keys.

    Example:
        >>> layout_map = LayoutMap(mesh)
        >>> layout_map[".*dense.*kernel"] = (None, "model")
        >>> layout_map[".*dense.*bias"] = ("model",)
    """

    def __init__(self, device_mesh: DeviceMesh):
        if not isinstance(device_mesh, DeviceMesh):
            raise ValueError(
                f"LayoutMap needs a DeviceMesh, received {type(device_mesh).__name__}.")
        self._device_mesh = device_mesh
        self._layouts: dict = {}

    @property
    def device_mesh(self) -> DeviceMesh:
        return self._device_mesh

    def __getitem__(self, key: str):
        """The layout for path `key`, or None when no key matches."""
        found = key_for_path(self._layouts, key, lambda hits: ValueError(
            f"Path '{key}' matches several LayoutMap keys {hits}; make the regular "
            "expressions specific enough that each path matches at most one."))
        return None if found is None else self._layouts[found]

    def __setitem__(self, key: str, layout):
        if key in self._layouts:
            raise ValueError(
                f"LayoutMap already has the key '{key}' ({self._layouts[key]}); delete it first "
                "to replace it.")
        if isinstance(layout, (tuple, list)):
            layout = TensorLayout(layout)
        if not isinstance(layout, TensorLayout):
            raise ValueError(
                f"LayoutMap['{key}'] must be a TensorLayout or a tuple of axis names, received "
                f"{type(layout).__name__}.")
        try:
            re.compile(key)
        except re.error as e:
            raise ValueError(f"LayoutMap key '{key}' is not a valid regular expression: {e}.") from None
        if layout.device_mesh is None:
            layout.device_mesh = self._device_mesh
        self._layouts[key] = layout

    def __delitem__(self, key):
        del self._layouts[key]

    def __len__(self):
        return len(self._layouts)

    def __iter__(self):
        return iter(self._layouts)

    def __repr__(self):
        return f"<LayoutMap {dict(self._layouts)}>"
