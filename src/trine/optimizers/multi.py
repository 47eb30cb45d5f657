"""`MultiOptimizer` and `OptimizerMap`: different optimizers for different variables, as in Keras.

An `OptimizerMap` assigns optimizers to variable paths (exact keys first, then keys as
regular expressions matched in full) with a default for the rest; a `MultiOptimizer` built on
it (or on any callable `variable -> optimizer`) is one optax `multi_transform` whose parts are
the sub-optimizers' own transformations, so each keeps its Keras arithmetic, clipping,
weight decay and learning-rate schedule. Re-exported from `trine.optimizers`.

Example:
    >>> from trine import optimizers
    >>> opt = optimizers.MultiOptimizer(optimizers.OptimizerMap(
    ...     optimizers.SGD(0.1), {"encoder/.*": optimizers.Adam(1e-3)}))
"""
from __future__ import annotations

from collections.abc import MutableMapping
from typing import Callable, Optional, Union

import jax

from trine._util.pattern_keys import key_for_path
from trine.optimizers.base import Optimizer, deserialize, register_builtin, serialize
from trine.optimizers.rules import _path_str

__all__ = ["MultiOptimizer", "OptimizerMap"]


def _check_sub(who: str, optimizer, what: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who}: {what} must be a trine Optimizer instance, received "
                        f"{optimizer!r} ({type(optimizer).__name__}).")
    if isinstance(optimizer, MultiOptimizer) or getattr(optimizer, "_wraps_optimizer", False):
        raise ValueError(
            f"{who}: {what} cannot be a {type(optimizer).__name__}; nest plain optimizers "
            "only (put a LossScaleOptimizer around the MultiOptimizer instead).")


class OptimizerMap(MutableMapping):
    """A mapping from variable paths (or regular expressions over them) to optimizers.

    Looking up a path tries an exact key first, then every key as a regular expression that
    must match the whole path (`re.fullmatch`); without a match the default optimizer is
    returned. `"encoder/.*"` covers every variable under the layer `encoder`.

    Args:
        default_optimizer: the optimizer of unmapped variables.
        optimizer_map: a dict `{path or pattern: optimizer}`. Default empty.

    Raises:
        TypeError: if the default is not an Optimizer or the map is not a dict.
        ValueError: on a lookup that matches several patterns.

    Example:
        >>> m = OptimizerMap(SGD(), {"dense_1/.*": Adam()})
        >>> type(m["dense_1/kernel"]).__name__
        'Adam'
    """

    def __init__(self, default_optimizer: Optimizer, optimizer_map: Optional[dict] = None):
        _check_sub("OptimizerMap", default_optimizer, "default_optimizer")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(
                "OptimizerMap: optimizer_map must be a dict {path or regex: optimizer}, "
                f"received {optimizer_map!r} ({type(optimizer_map).__name__}).")
        self._default_optimizer = default_optimizer
        self._optimizer_map: dict = {}
        for key, opt in (optimizer_map or {}).items():
            self[key] = opt

    @property
    def default_optimizer(self) -> Optimizer:
        """The optimizer of variables no key matches."""
        return self._default_optimizer

    def __getitem__(self, key: str) -> Optimizer:
        found = key_for_path(self._optimizer_map, key, lambda matches: ValueError(
            f"OptimizerMap: variable {key!r} matches several patterns {matches}; make the "
            "patterns disjoint or add the exact path as a key."))
        return self._default_optimizer if found is None else self._optimizer_map[found]

    def __setitem__(self, key: str, optimizer: Optimizer) -> None:
        if not isinstance(key, str):
            raise ValueError(f"OptimizerMap: keys must be strings (a path or a regular "
                             f"expression), received {key!r}.")
        if key in self._optimizer_map:
            raise ValueError(
                f"OptimizerMap: {key!r} is already mapped to {self._optimizer_map[key]!r}. "
                "Delete it first, or use another key.")
        _check_sub("OptimizerMap", optimizer, f"the optimizer for {key!r}")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable) -> Optimizer:
        """The optimizer of a variable, looked up by its `path`."""
        return self[variable.path]

    def get_config(self) -> dict:
        """The default and the mapped optimizers, each serialised."""
        return {"default_optimizer": serialize(self._default_optimizer),
                "optimizer_map": {k: serialize(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config: dict, custom_objects: Optional[dict] = None) -> "OptimizerMap":
        """Rebuilds the map from `get_config()`'s output."""
        default = deserialize(config["default_optimizer"], custom_objects)
        mapped = {k: deserialize(v, custom_objects)
                  for k, v in (config.get("optimizer_map") or {}).items()}
        return cls(default, mapped)

    def __repr__(self) -> str:
        return (f"OptimizerMap(default={self._default_optimizer!r}, "
                f"map={self._optimizer_map!r})")


Selector = Union[OptimizerMap, Callable]


class MultiOptimizer(Optimizer):
    """Applies a different optimizer to each group of variables.

    Args:
        optimizer_map: an `OptimizerMap`, or a callable `variable -> optimizer` (it is
            called once per variable at `build`).
        loss_scale_factor: Keras's loss scaling; only None is supported.
        name: Default "multi_optimizer".

    Raises:
        TypeError: if optimizer_map is neither an OptimizerMap nor callable.

    `learning_rate` is not defined on a MultiOptimizer (each sub-optimizer has its own; read
    and set them through `optimizers`), as in Keras.

    Example:
        >>> opt = MultiOptimizer(lambda v: Adam() if "encoder" in v.path else SGD())
    """

    def __init__(self, optimizer_map: Selector, loss_scale_factor=None,
                 name: Optional[str] = None):
        if not isinstance(optimizer_map, OptimizerMap) and not callable(optimizer_map):
            raise TypeError(
                "MultiOptimizer: optimizer_map must be an OptimizerMap or a callable "
                f"variable -> optimizer, received {optimizer_map!r} "
                f"({type(optimizer_map).__name__}).")
        super().__init__(0.0, loss_scale_factor=loss_scale_factor, name=name)
        self._optimizer_map = optimizer_map
        self._inner: list = []
        if isinstance(optimizer_map, OptimizerMap):
            for opt in list(optimizer_map.values()) + [optimizer_map.default_optimizer]:
                self._add_inner(opt)
        self._labels: Optional[dict] = None

    def _add_inner(self, opt) -> int:
        for i, known in enumerate(self._inner):
            if known is opt:
                return i
        self._inner.append(opt)
        return len(self._inner) - 1

    @property
    def optimizers(self) -> list:
        """The sub-optimizers, in the order they were first met."""
        return list(self._inner)

    @property
    def learning_rate(self):
        """Not available: each sub-optimizer has its own learning rate.

        Raises:
            AttributeError: always (as Keras), so callbacks see no single rate.
        """
        raise AttributeError(
            "Learning rate cannot be accessed on a MultiOptimizer. Read it on the "
            "sub-optimizers instead: [o.learning_rate for o in optimizer.optimizers].")

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        raise AttributeError(
            "Learning rate cannot be set on a MultiOptimizer. Set it on a sub-optimizer: "
            "optimizer.optimizers[i].learning_rate = value.")

    def build(self, variables, paths=None) -> None:
        """Assigns each variable its sub-optimizer, then binds to the variables.

        Raises:
            TypeError / ValueError: if the selector returns something other than a plain
                Optimizer for a variable.
        """
        paths = list(paths) if paths is not None else [v.path for v in variables]
        labels = {}
        for var, path in zip(variables, paths):
            opt = self._optimizer_map(var)
            _check_sub("MultiOptimizer", opt, f"the optimizer chosen for {path!r}")
            labels[path] = str(self._add_inner(opt))
        self._labels = labels
        super().build(variables, paths)

    def _label_of(self, path: str) -> str:
        if self._labels is not None and path in self._labels:
            return self._labels[path]
        if isinstance(self._optimizer_map, OptimizerMap):
            return str(self._add_inner(self._optimizer_map[path]))
        raise RuntimeError(
            f"MultiOptimizer '{self.name}' with a callable selector must be built on the "
            f"variables first (optimizer.build(variables); fit does this); no optimizer is "
            f"known for {path!r}.")

    def to_optax(self):
        """One `optax.multi_transform` over the sub-optimizers' transformations.

        Returns:
            An `optax.GradientTransformation`; parameters are labelled by their path.
        """
        import optax

        def labels(params):
            return jax.tree_util.tree_map_with_path(
                lambda kp, _: self._label_of(_path_str(kp)), params)

        if isinstance(self._optimizer_map, OptimizerMap):  # entries added after __init__
            for opt in self._optimizer_map.values():
                self._add_inner(opt)
        if self._labels is not None:
            used = sorted(set(self._labels.values()), key=int)
        else:
            used = [str(i) for i in range(len(self._inner))]
        transforms = {k: self._inner[int(k)].to_optax() for k in used}
        return optax.multi_transform(transforms, labels)

    def get_config(self) -> dict:
        """`{"optimizer_map": ..., "loss_scale_factor": None, "name": ...}` (Keras's keys).

        An OptimizerMap is serialised; a callable selector is kept as the object itself
        (not JSON-serialisable).
        """
        sel = self._optimizer_map
        if isinstance(sel, OptimizerMap):
            sel = {"module": "trine.optimizers", "class_name": "OptimizerMap",
                   "config": sel.get_config()}
        return {"optimizer_map": sel, "loss_scale_factor": None, "name": self.name}

    @classmethod
    def from_config(cls, config: dict, custom_objects: Optional[dict] = None):
        """Rebuilds the optimizer from `get_config()`'s output."""
        config = dict(config)
        sel = config.pop("optimizer_map")
        if isinstance(sel, dict):
            if sel.get("class_name") != "OptimizerMap":
                raise ValueError(
                    "MultiOptimizer config: optimizer_map must be an OptimizerMap config, "
                    f"received class_name={sel.get('class_name')!r}.")
            sel = OptimizerMap.from_config(sel.get("config") or {}, custom_objects)
        return cls(sel, **config)

    def __repr__(self) -> str:
        return f"<MultiOptimizer name={self.name!r} optimizers={self._inner!r}>"


# built around other optimizers, so by config only (a bare name cannot make one)
register_builtin(MultiOptimizer, by_name=False)
