"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
UnitNormalization.

BatchNormalization keeps its moving statistics as non-trainable weights. In training they are
updated with `Variable.assign` (which, under `fit` / `stateless_call`, becomes new state of the
pure step function); in inference they replace the batch statistics.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine import constraints, initializers, regularizers
from trine.core.layer import InputSpec, Layer
from trine.core.naming import layer_label
from trine.layers._weight_args import set_weight_args, weight_args_config
from trine.ops.normalization import (batch_norm, group_norm, layer_norm, masked_moments,
                                     moving_average, unit_norm)


def _ser(mod, obj):
    return mod.serialize(obj) if obj is not None else None


def _canonical_axes(layer, axis, ndim: int) -> list[int]:
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{layer_label(layer)}: axis {a} is out of range for inputs of rank {ndim} "
                f"(received axis={axis!r}). Use an axis in [-{ndim}, {ndim - 1}].")
        out.append(a % ndim)
    return sorted(out)


def _known_axis_size(layer, input_shape, axis: int) -> int:
    """The size of `input_shape` on the one normalized `axis`, which must exist and be known."""
    ndim = len(input_shape)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{layer_label(layer)}: axis {axis} is out of range for inputs of shape "
            f"{input_shape}. Use an axis in [-{ndim}, {ndim - 1}].")
    dim = input_shape[axis]
    if dim is None:
        raise ValueError(
            f"{layer_label(layer)} needs a known size on axis {axis} (its features), received "
            f"input shape {input_shape}.")
    return dim


def _check_axis_arg(layer, axis):
    ok_int = isinstance(axis, (int, np.integer)) and not isinstance(axis, bool)
    ok_list = isinstance(axis, (list, tuple)) and axis and all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis)
    if not (ok_int or ok_list):
        raise TypeError(
            f"{layer_label(layer)}: argument `axis` must be an integer or a list of integers, "
            f"received axis={axis!r}.")
    return int(axis) if ok_int else [int(a) for a in axis]


def _value(var):
    return None if var is None else var.value


class _ScaleOffset:
    """Mixin for the normalizations that learn a scale `gamma` and an offset `beta`: their
    arguments, their weights and their config entries."""

    def _init_scale_offset(self, center, scale, beta_initializer, gamma_initializer,
                           beta_regularizer, gamma_regularizer, beta_constraint,
                           gamma_constraint):
        self.center = bool(center)
        self.scale = bool(scale)
        set_weight_args(self, "beta", beta_initializer, beta_regularizer, beta_constraint)
        set_weight_args(self, "gamma", gamma_initializer, gamma_regularizer, gamma_constraint)
        self.gamma = self.beta = None

    def _add_scale_offset(self, shape, with_gamma, with_beta):
        """Create `gamma` then `beta` (Keras's weight order) of this shape, as asked."""
        if with_gamma:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint, name="gamma")
        if with_beta:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint, name="beta")

    def _scale_offset_config(self):
        return weight_args_config(self, ("beta", "gamma"))


# --------------------------------------------------------------------------------------
class BatchNormalization(_ScaleOffset, Layer):
    """Normalize each feature with the batch's statistics in training and moving statistics
    in inference: `gamma * (x - mean) / sqrt(var + epsilon) + beta`.

    In training (`training=True`, and the layer trainable) it uses the mean and variance of
    the batch over all axes but `axis`, and updates
    `moving = moving * momentum + batch_stat * (1 - momentum)`. Otherwise it uses the moving
    statistics. A frozen layer (`trainable=False`) always runs in inference mode, as Keras 3.

    Args:
        axis: the feature axis (default -1; 1 for channels_first images).
        momentum: momentum of the moving statistics (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center: learn an offset `beta` (default True).
        scale: learn a scale `gamma` (default True).
        beta_initializer / gamma_initializer: default "zeros" / "ones".
        moving_mean_initializer / moving_variance_initializer: default "zeros" / "ones".
        beta_regularizer / gamma_regularizer: penalties.
        beta_constraint / gamma_constraint: projections after each update.
        renorm: use batch renormalization (default False).
        renorm_clipping: dict with optional "rmax", "rmin", "dmax" for renorm.
        renorm_momentum: momentum of the renorm statistics (default 0.99).
        synchronized: only supported by Keras's TensorFlow backend; must be False.

    Weights, in Keras's order: gamma, beta (trainable), moving_mean, moving_variance.

    Returns (when called):
        A tensor of the input's shape.

    Raises:
        ValueError: on invalid arguments, or an input whose feature axis is unknown.

    Example:
        >>> bn = BatchNormalization()
        >>> y = bn(jnp.ones((4, 3)), training=True)
        >>> [w.name for w in bn.weights]
        ['gamma', 'beta', 'moving_mean', 'moving_variance']
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        label = layer_label(self)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(
                f"{label}: argument `axis` must be an integer, received axis={axis!r}. "
                "BatchNormalization normalizes one feature axis.")
        if synchronized:
            raise ValueError(
                f"{label}: synchronized=True is only supported by Keras's TensorFlow backend; "
                "trine runs on JAX. Pass synchronized=False (under data parallelism, the batch "
                "statistics are those of each device's shard).")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self._init_scale_offset(center, scale, beta_initializer, gamma_initializer,
                                beta_regularizer, gamma_regularizer, beta_constraint,
                                gamma_constraint)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.synchronized = False
        self.renorm = bool(renorm)
        if self.renorm:
            clip = dict(renorm_clipping or {})
            unknown = set(clip) - {"rmax", "rmin", "dmax"}
            if unknown:
                raise ValueError(
                    f"{label}: renorm_clipping accepts the keys 'rmax', 'rmin', 'dmax', received "
                    f"unknown key(s) {sorted(unknown)}.")
            rmax, rmin, dmax = clip.get("rmax"), clip.get("rmin"), clip.get("dmax")
            if rmax is not None and rmin is not None and rmax < rmin:
                raise ValueError(
                    f"{label}: renorm_clipping needs rmax >= rmin, received rmax={rmax}, "
                    f"rmin={rmin}.")
            if dmax is not None and dmax < 0:
                raise ValueError(
                    f"{label}: renorm_clipping needs dmax >= 0, received dmax={dmax}.")
            renorm_clipping = clip
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.supports_masking = True
        self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        dim = _known_axis_size(self, input_shape, self.axis)
        shape = (int(dim),)
        self._add_scale_offset(shape, self.scale, self.center)
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape,
                                               initializer=self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        if self.renorm:
            var_init = self.moving_variance_initializer
            std = lambda shp, dtype=None: jnp.sqrt(  # noqa: E731
                jnp.asarray(initializers.get(var_init)(shp, dtype or "float32")))
            self.moving_stddev = self.add_weight(shape=shape, initializer=std, trainable=False,
                                                 name="moving_stddev")
            self.renorm_mean = self.add_weight(shape=shape,
                                               initializer=self.moving_mean_initializer,
                                               trainable=False, name="renorm_mean")
            self.renorm_stddev = self.add_weight(shape=shape, initializer=std, trainable=False,
                                                 name="renorm_stddev")
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: int(dim)})
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if mask is not None and jnp.ndim(mask) != inputs.ndim - 1:
            raise ValueError(
                f"{layer_label(self)}: the mask must have one axis less than the inputs, received "
                f"mask shape {tuple(jnp.shape(mask))} and input shape {tuple(inputs.shape)}.")
        axis = self.axis % inputs.ndim
        gamma, beta = _value(self.gamma), _value(self.beta)
        if training and self.trainable:
            axes = tuple(i for i in range(inputs.ndim) if i != axis)
            mean, var = masked_moments(inputs, None if mask is None else jnp.asarray(mask), axes)
            if self.renorm:
                gamma, beta = self._renorm(mean, var, gamma, beta, mean.dtype)
            else:
                self.moving_mean.assign(moving_average(self.moving_mean.value, mean,
                                                        self.momentum))
                self.moving_variance.assign(moving_average(self.moving_variance.value, var,
                                                            self.momentum))
        else:
            mean, var = self.moving_mean.value, self.moving_variance.value
        return batch_norm(inputs, mean, var, gamma, beta, axis, self.epsilon)

    def _renorm(self, mean, var, gamma, beta, dtype):
        """Batch renormalization: correct the batch statistics towards the moving ones."""
        stddev = jnp.sqrt(var + self.epsilon)
        r_mean = self.renorm_mean.value.astype(dtype)
        r_std = self.renorm_stddev.value.astype(dtype)
        r_std_safe = jnp.maximum(r_std, jnp.sqrt(jnp.asarray(self.epsilon, dtype)))
        r = stddev / r_std_safe
        d = (mean - r_mean) / r_std_safe
        clip = self.renorm_clipping or {}
        if clip.get("rmin") is not None:
            r = jnp.maximum(r, clip["rmin"])
        if clip.get("rmax") is not None:
            r = jnp.minimum(r, clip["rmax"])
        if clip.get("dmax") is not None:
            d = jnp.clip(d, -clip["dmax"], clip["dmax"])
        r, d = jax.lax.stop_gradient(r), jax.lax.stop_gradient(d)
        if gamma is not None:
            new_gamma, new_beta = r * gamma, d * gamma
        else:
            new_gamma, new_beta = r, d
        if beta is not None:
            new_beta = new_beta + beta
        rm = self.renorm_momentum
        self.renorm_mean.assign(r_mean * rm + mean * (1.0 - rm))
        self.renorm_stddev.assign(r_std * rm + stddev * (1.0 - rm))
        m = self.momentum
        self.moving_mean.assign(self.moving_mean.value.astype(dtype) * m + mean * (1.0 - m))
        new_std = self.moving_stddev.value.astype(dtype) * m + stddev * (1.0 - m)
        self.moving_stddev.assign(new_std)
        self.moving_variance.assign(jax.nn.relu(new_std * new_std - self.epsilon))
        return new_gamma, new_beta

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": _ser(initializers, self.beta_initializer),
            "gamma_initializer": _ser(initializers, self.gamma_initializer),
            "moving_mean_initializer": _ser(initializers, self.moving_mean_initializer),
            "moving_variance_initializer": _ser(initializers, self.moving_variance_initializer),
            "beta_regularizer": _ser(regularizers, self.beta_regularizer),
            "gamma_regularizer": _ser(regularizers, self.gamma_regularizer),
            "beta_constraint": _ser(constraints, self.beta_constraint),
            "gamma_constraint": _ser(constraints, self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        })
        return cfg


# --------------------------------------------------------------------------------------
class LayerNormalization(_ScaleOffset, Layer):
    """Normalize each sample over `axis` (the features):
    `gamma * (x - mean) / sqrt(var + epsilon) + beta`, statistics per sample.

    Args:
        axis: int or list of ints, the axes to normalize over (default -1).
        epsilon: added to the variance (default 1e-3).
        center: learn an offset `beta` (default True).
        scale: learn a scale `gamma` (default True).
        rms_scaling: Keras's deprecated flag: scale by `1 / sqrt(var + epsilon)` without
            centering and learn only `gamma` (default False).
        beta_initializer / gamma_initializer: default "zeros" / "ones".
        beta_regularizer / gamma_regularizer: penalties.
        beta_constraint / gamma_constraint: projections after each update.

    Returns (when called):
        A tensor of the input's shape.

    Raises:
        TypeError: if `axis` is not an int or a list of ints.
        ValueError: if an axis is out of range for the input.

    Example:
        >>> LayerNormalization()(jnp.arange(6.0).reshape(2, 3)).shape
        (2, 3)
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis_arg(self, axis)
        self.epsilon = float(epsilon)
        self._init_scale_offset(center, scale, beta_initializer, gamma_initializer,
                                beta_regularizer, gamma_regularizer, beta_constraint,
                                gamma_constraint)
        self.rms_scaling = bool(rms_scaling)
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        axes = _canonical_axes(self, self.axis, len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(
                f"{layer_label(self)} needs known sizes on the normalized axes {self.axis}, received "
                f"input shape {input_shape}.")
        self._add_scale_offset(shape, self.scale or self.rms_scaling,
                               self.center and not self.rms_scaling)
        self.built = True

    def call(self, inputs):
        axes = tuple(_canonical_axes(self, self.axis, inputs.ndim))
        return layer_norm(inputs, _value(self.gamma), _value(self.beta), axes, self.epsilon,
                           self.rms_scaling)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
        })
        cfg.update(self._scale_offset_config())
        return cfg


# --------------------------------------------------------------------------------------
class GroupNormalization(_ScaleOffset, Layer):
    """Split the channels into `groups` and normalize each group of each sample over its
    channels and all other non-batch axes (Wu & He, 2018).

    `groups=1` is layer normalization over all non-batch axes; `groups=channels` (or -1) is
    instance normalization.

    Args:
        groups: number of groups; must divide the channel count (default 32; -1 = one group
            per channel).
        axis: the channel axis (default -1).
        epsilon: added to the variance (default 1e-3).
        center / scale: learn `beta` / `gamma`, one per channel (default True).
        beta_initializer / gamma_initializer: default "zeros" / "ones".
        beta_regularizer / gamma_regularizer, beta_constraint / gamma_constraint.

    Returns (when called):
        A tensor of the input's shape.

    Raises:
        ValueError: if the channel count is unknown, smaller than `groups`, or not a
            multiple of it.

    Example:
        >>> GroupNormalization(groups=2)(jnp.ones((2, 5, 4))).shape
        (2, 5, 4)
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        label = layer_label(self)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or (
                groups <= 0 and groups != -1):
            raise ValueError(
                f"{label}: argument `groups` must be a positive integer or -1, received "
                f"groups={groups!r}.")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{label}: argument `axis` must be an integer, received {axis!r}.")
        self.groups = int(groups)
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        self._init_scale_offset(center, scale, beta_initializer, gamma_initializer,
                                beta_regularizer, gamma_regularizer, beta_constraint,
                                gamma_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        dim = _known_axis_size(self, input_shape, self.axis)
        groups = dim if self.groups == -1 else self.groups
        if dim < groups or dim % groups:
            raise ValueError(
                f"{layer_label(self)}: the {dim} channels on axis {self.axis} cannot be split into "
                f"groups={groups} equal groups (input shape {input_shape}). Use a number of "
                "groups that divides the channel count.")
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: dim})
        self._add_scale_offset((dim,), self.scale, self.center)
        self.built = True

    def call(self, inputs):
        axis = self.axis % inputs.ndim
        groups = inputs.shape[axis] if self.groups == -1 else self.groups
        return group_norm(inputs, _value(self.gamma), _value(self.beta), axis, groups,
                           self.epsilon)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        })
        cfg.update(self._scale_offset_config())
        return cfg


# --------------------------------------------------------------------------------------
class UnitNormalization(Layer):
    """Scale each sample to unit L2 norm over `axis`: `x / max(||x||, 1e-12)`.

    Args:
        axis: int or list of ints (default -1).

    Returns (when called):
        A tensor of the input's shape.

    Raises:
        TypeError: if `axis` is not an int or a list of ints.

    Example:
        >>> UnitNormalization()(jnp.array([[3.0, 4.0]]))
        Array([[0.6, 0.8]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis_arg(self, axis)
        self.supports_masking = True

    def call(self, inputs):
        return unit_norm(inputs, tuple(_canonical_axes(self, self.axis, inputs.ndim)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


__all__ = ["BatchNormalization", "GroupNormalization", "LayerNormalization", "UnitNormalization"]
