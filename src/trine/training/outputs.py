"""Pairing targets, sample weights and per-output compile arguments with a model's outputs.

JAX pytrees flatten dicts in sorted key order, so `tree_leaves(y)` of a target dict lines up
with the model's outputs only by accident. Everything that meets the outputs goes through
here instead, by these rules (Keras 3's):

- the outputs are named: a model's `output_names` for list outputs, the keys for dict outputs
  (in `output_names` order when the keys are those names, sorted otherwise);
- a list / tuple follows that order, position by position;
- a dict follows the names, whatever its key order;
- a single array is the one output's target, or (sample weights only) every output's weight.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax


def _is_flat_dict(tree) -> bool:
    return isinstance(tree, dict) and not any(isinstance(v, (dict, list, tuple))
                                              for v in tree.values())


def resolve_names(y_pred, model_names: Sequence[str] | None) -> list[str]:
    """The output names, in the order every per-output list below uses.

    Args:
        y_pred: the model's output structure (values or specs).
        model_names: the model's `output_names`, or None where it has none.

    Returns:
        One name per output leaf.
    """
    leaves = jax.tree_util.tree_leaves(y_pred)
    if _is_flat_dict(y_pred):
        keys = list(y_pred.keys())
        if model_names and set(model_names) == set(keys) and len(model_names) == len(keys):
            return list(model_names)  # Keras: a perfect match keeps the model's output order
        return sorted(keys)
    if model_names and len(model_names) == len(leaves):
        return list(model_names)
    if len(leaves) == 1:
        return [model_names[0] if model_names else "output_1"]
    return [f"output_{i + 1}" for i in range(len(leaves))]


def flat_outputs(y_pred, names: Sequence[str]) -> list:
    """The model's outputs as a list aligned with `names`."""
    if _is_flat_dict(y_pred):
        return [y_pred[n] for n in names]
    return jax.tree_util.tree_leaves(y_pred)


def _unknown_keys_error(tree, names, what, model_name, fix):
    unknown = [k for k in tree if k not in names]
    if unknown:
        raise ValueError(
            f"{what} has keys {unknown} that are not outputs of model '{model_name}'. "
            f"Output names: {list(names)}. {fix}")


def flat_targets(y, names: Sequence[str], model_name: str, has_loss: Sequence[bool] = (),
                 y_pred=None) -> list:
    """Targets as a list aligned with the outputs `names` (None where a target is absent).

    Args:
        y: targets as passed by the user: an array, a list / tuple in output order, or a dict
            keyed by output name.
        names: the output names (see `resolve_names`).
        model_name: for error messages.
        has_loss: per output, whether a compiled loss needs its target; a list of targets
            for just those outputs is accepted (Keras: `loss=[None, "mse"]`, `y=[y2]`).
        y_pred: the outputs' structure, for deeply nested outputs.

    Returns:
        A list of len(names).

    Raises:
        ValueError: for keys that are no output's name, or a list of the wrong length.
    """
    n = len(names)
    if y is None:
        return [None] * n
    if isinstance(y, dict):
        if n == 1 and len(y) == 1 and not isinstance(y_pred, dict):
            return [next(iter(y.values()))] if names[0] not in y else [y[names[0]]]
        if _is_flat_dict(y) and all(k in names for k in y):
            return [y.get(k) for k in names]
        if y_pred is not None and not _is_flat_dict(y_pred) and jax.tree_util.tree_structure(
                y) == jax.tree_util.tree_structure(y_pred):
            return jax.tree_util.tree_leaves(y)  # same nested structure: pytree order agrees
        _unknown_keys_error(y, names, "y", model_name,
                            "Key the targets by output name.")
    if isinstance(y, (list, tuple)):
        leaves = jax.tree_util.tree_leaves(y, is_leaf=lambda v: v is None)
        if n == 1 and len(y) == 1:
            return [y[0]]
        if len(y) == n and all(not isinstance(v, (list, tuple, dict)) for v in y):
            return list(y)
        if len(leaves) == n and y_pred is not None and not isinstance(y_pred, (list, tuple)):
            return leaves
        if y_pred is not None and len(leaves) == n and jax.tree_util.tree_structure(
                y_pred) == jax.tree_util.tree_structure(y):
            return leaves
        needed = [i for i, h in enumerate(has_loss) if h]
        if has_loss and len(y) == len(needed) and len(needed) < n:
            out = [None] * n
            for i, t in zip(needed, y):
                out[i] = t
            return out
        raise ValueError(
            f"Model '{model_name}' has {n} outputs {list(names)}, but y is a "
            f"{type(y).__name__} of {len(y)} targets. Pass one target per output, in the "
            f"order of model.outputs, or a dict keyed by output name.")
    if n == 1:
        return [y]
    raise ValueError(
        f"Model '{model_name}' has {n} outputs {list(names)} but y is a single array. Pass a "
        f"list of {n} targets in the order of model.outputs, or a dict keyed by output name.")


def flat_sample_weights(sw, names: Sequence[str], model_name: str) -> list:
    """Sample weights aligned with the outputs: one array for every output, or one per output
    (a list in output order, or a dict by output name; absent outputs get None)."""
    n = len(names)
    if sw is None:
        return [None] * n
    if isinstance(sw, dict):
        _unknown_keys_error(sw, names, "sample_weight", model_name,
                            "Key the sample weights by output name.")
        return [sw.get(k) for k in names]
    if isinstance(sw, (list, tuple)):
        if n == 1 and len(sw) == 1:
            return [sw[0]]
        if len(sw) != n:
            raise ValueError(
                f"Model '{model_name}' has {n} outputs {list(names)}, but sample_weight is a "
                f"{type(sw).__name__} of {len(sw)} arrays. Pass one array for all outputs, or "
                f"one per output in the order of model.outputs.")
        return list(sw)
    return [sw] * n


def per_output_arg(arg: Any, names: Sequence[str], what: str, model_name: str) -> list:
    """A compile argument (loss, loss_weights) as one entry per output.

    A dict is read by output name, a list / tuple by position, anything else applies to every
    output.

    Raises:
        ValueError: for a dict key that is no output's name, or a list of the wrong length.
    """
    n = len(names)
    if arg is None:
        return [None] * n
    if isinstance(arg, dict):
        if n == 1 and len(arg) == 1 and names[0] not in arg:
            return [next(iter(arg.values()))]
        _unknown_keys_error(arg, names, f"compile({what}=...)", model_name,
                            "Use the output layers' names as keys.")
        return [arg.get(k) for k in names]
    if isinstance(arg, (list, tuple)):
        if n == 1 and len(arg) == 1:
            return [arg[0]]
        if n > 1:
            if len(arg) != n:
                raise ValueError(
                    f"compile({what}=...) has {len(arg)} entries but model '{model_name}' has "
                    f"{n} outputs {list(names)}. Pass one entry per output, in the order of "
                    f"model.outputs, or a dict keyed by output name.")
            return list(arg)
    return [arg] * n


def per_output_metrics(arg: Any, names: Sequence[str], what: str, model_name: str) -> list:
    """Compiled metrics as one list per output (Keras's rules: a dict by output name; a list
    with one entry per output pairs entry i with output i; otherwise every metric applies to
    every output)."""
    n = len(names)
    if arg is None:
        return [None] * n
    if isinstance(arg, dict):
        if n == 1 and not all(k in names for k in arg):
            return [list(arg.values())]
        _unknown_keys_error(arg, names, f"compile({what}=...)", model_name,
                            "Use the output layers' names as keys.")
        return [arg.get(k) for k in names]
    if isinstance(arg, (list, tuple)) and n > 1:
        nested = [a for a in arg if isinstance(a, (list, tuple, dict)) or a is None]
        if len(arg) == n:
            return list(arg)
        if nested:
            raise ValueError(
                f"compile({what}=...) has {len(arg)} lists but model '{model_name}' has {n} "
                f"outputs {list(names)}. Pass one list per output, or a dict keyed by output "
                "name.")
    return [arg] * n
