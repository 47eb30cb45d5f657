"""A model's compile settings as the `compile_config` Keras 3 writes, and back.

Optimizer, loss and metric entries are Keras records: they resolve through the registry's
allow-list, your registered objects and the custom objects in scope, never by importing.
"""
from __future__ import annotations

import warnings

import numpy as np

from trine.core.registration import get_registered_object, scope_objects
from trine.registry.deserialize import (COMPILE_EXTRAS, deserialize_config, refuse_name,
                                        resolve_function_record)
from trine.registry.errors import SavingError, UnsafeFileError
from trine.registry.serialize import (allowlist_of, kerasify, kinds_of_module,
                                      serialize_keras_object)


def get_compile_config(model) -> dict:
    """The `compile_config` Keras 3 writes for a compiled model ({} if not compiled)."""
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return {}
    try:
        optimizer = serialize_keras_object(model.optimizer)
        import json
        json.dumps(optimizer)
    except (TypeError, ValueError):
        warnings.warn(
            f"The optimizer of model '{model.name}' ({type(model.optimizer).__name__}) cannot be "
            "written as a Keras config, so the file records no compile settings; compile the "
            "model again after loading.", stacklevel=3)
        return {}

    cfg = optimizer.get("config") if isinstance(optimizer, dict) else None
    if isinstance(cfg, dict) and isinstance(cfg.get("learning_rate"), float):
        # Keras keeps the rate in a float32 variable and writes that value back
        cfg["learning_rate"] = float(np.float32(cfg["learning_rate"]))

    def ser(v):
        return kerasify(serialize_keras_object(v))

    spe = getattr(model, "steps_per_execution", 1)
    return {
        "optimizer": optimizer,
        "loss": ser(getattr(model, "_loss_arg", None)),
        "loss_weights": ser(getattr(model, "_loss_weights_arg", None)),
        "metrics": ser(getattr(model, "_metrics_arg", None)),
        "weighted_metrics": ser(getattr(model, "_weighted_metrics_arg", None)),
        "run_eagerly": bool(getattr(model, "_run_eagerly", False)),
        "steps_per_execution": spe if isinstance(spe, int) and not isinstance(spe, bool) else 1,
        "jit_compile": not bool(getattr(model, "_run_eagerly", False)),
    }


def _compile_arg(value, custom, kind):
    """A loss/metric entry of a compile config -> what `compile` accepts."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_compile_arg(v, custom, kind) for v in value]
    if isinstance(value, dict):
        if "class_name" in value and "config" in value:
            if value["class_name"] == "function":
                try:
                    return resolve_function_record(value, custom)
                except UnsafeFileError:
                    name = value.get("config")
                    if isinstance(name, str) and kinds_of_module(value.get("module")) in (
                            ["losses"], ["metrics"]):
                        return name  # compile() resolves Keras names itself
                    raise
            return deserialize_config(value, custom, 0)
        return {k: _compile_arg(v, custom, kind) for k, v in value.items()}
    return value


def compile_from_config(model, config: dict, custom_objects=None) -> None:
    """Compile `model` from a Keras 3 `compile_config`."""
    custom = dict(scope_objects())
    custom.update(custom_objects or {})
    if not isinstance(config, dict):
        raise SavingError(f"Invalid compile_config {config!r}: expected a dict.")
    opt = config.get("optimizer")
    if isinstance(opt, dict):
        from trine import optimizers
        cls_name = opt.get("class_name")
        reg = get_registered_object(opt.get("registered_name"), custom) if opt.get(
            "registered_name") else None
        if reg is not None:
            opt = deserialize_config(opt, custom, 0)
        else:
            if cls_name not in allowlist_of("optimizers"):
                raise refuse_name("optimizer class", cls_name, opt.get("module"),
                                   opt.get("registered_name"))
            inner = dict(opt.get("config") or {})
            lr = inner.get("learning_rate")
            if isinstance(lr, dict) and "class_name" in lr:
                if lr.get("class_name") not in allowlist_of("schedules"):
                    reg_lr = get_registered_object(lr.get("registered_name"), custom)
                    if reg_lr is None:
                        raise refuse_name("learning-rate schedule", lr.get("class_name"),
                                           lr.get("module"), lr.get("registered_name"))
                    inner["learning_rate"] = deserialize_config(lr, custom, 0)
            try:
                opt = optimizers.deserialize({"class_name": cls_name, "config": inner})
            except (TypeError, ValueError) as e:
                raise SavingError(f"Could not rebuild optimizer {cls_name} from the file: {e}.") from e
    elif opt is not None and not isinstance(opt, str):
        raise SavingError(f"Invalid optimizer entry {opt!r} in compile_config.")
    spe = config.get("steps_per_execution", 1)
    extras = COMPILE_EXTRAS.get() or {}
    if extras.get("steps_per_execution") in ("auto", "epoch"):
        spe = extras["steps_per_execution"]
    if not (spe in ("auto", "epoch") or (isinstance(spe, int) and not isinstance(spe, bool)
                                         and spe >= 1)):
        raise SavingError(f"Invalid steps_per_execution {spe!r} in compile_config.")
    kwargs = dict(
        optimizer=opt if opt is not None else "rmsprop",
        loss=_compile_arg(config.get("loss"), custom, "losses"),
        loss_weights=config.get("loss_weights"),
        metrics=_compile_arg(config.get("metrics"), custom, "metrics"),
        weighted_metrics=_compile_arg(config.get("weighted_metrics"), custom, "metrics"),
        run_eagerly=bool(config.get("run_eagerly", False)),
        steps_per_execution=spe,
    )
    try:
        model.compile(**kwargs)
    except (TypeError, ValueError) as e:
        raise SavingError(f"Could not compile model '{model.name}' from the file's "
                          f"compile_config: {e}") from e
