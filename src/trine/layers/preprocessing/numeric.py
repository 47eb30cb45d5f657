"""Numeric preprocessing layers that run on the device (inside jit and `fit`):
Rescaling, Normalization, CategoryEncoding, Discretization.

`Normalization.adapt` and `Discretization.adapt` compute their statistics on the host
(NumPy) once, before training; the layers' `call` is plain `jax.numpy`.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer
from trine.layers._int_args import positive_int_arg
from trine.layers.preprocessing._utils import (ENCODE_MODES, check_choice, encode_categorical,
                                               is_int_like, is_traced, reject_sparse)

_EPSILON = 1e-7  # keras.backend.epsilon()


def _as_config_value(v):
    if isinstance(v, (np.ndarray, jax.Array)):
        return np.asarray(v).tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


# --------------------------------------------------------------------------------------
class Rescaling(Layer):
    """Multiply inputs by `scale` and add `offset` (e.g. pixels in [0, 255] to [0, 1]).

    Runs on the device, in training and at inference. Integer inputs become floats.

    Args:
        scale: a float, or an array broadcast against the input (e.g. one per channel).
        offset: a float or array added after scaling (default 0.0).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Returns:
        `inputs * scale + offset` in the layer's dtype (float32 by default).

    Raises:
        TypeError: if `scale` or `offset` is not a number or an array of numbers.

    Example:
        >>> layer = Rescaling(1.0 / 127.5, offset=-1.0)
        >>> layer(np.array([[0.0, 255.0]]))   # -> [[-1., 1.]]
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, v in (("scale", scale), ("offset", offset)):
            try:
                np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"Rescaling layer '{self.name}' expected {arg} to be a number or an array of "
                    f"numbers, received {arg}={v!r}.") from None
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs):
        dtype = self.compute_dtype
        scale = jnp.asarray(np.asarray(self.scale), dtype)
        offset = jnp.asarray(np.asarray(self.offset), dtype)
        return jnp.asarray(inputs).astype(dtype) * scale + offset

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"scale": _as_config_value(self.scale), "offset": _as_config_value(self.offset)})
        return cfg


# --------------------------------------------------------------------------------------
class Normalization(Layer):
    """Shift and scale inputs to zero mean and unit variance per feature: `(x - mean) / sqrt(var)`.

    The statistics are either given (`mean=`, `variance=`) or learned with `adapt(data)`
    before training; they are stored as non-trainable weights ("mean", "variance", "count")
    when adapted, so they are saved with the model. `call` runs on the device.

    Args:
        axis: the axis or axes that keep separate statistics (default -1, one per feature
            of the last axis); `None` for one scalar mean and variance.
        mean: given mean, broadcast to the kept axes (with `variance`).
        variance: given variance (with `mean`).
        invert: apply the inverse, `x * sqrt(var) + mean`.
        **kwargs: base layer arguments.

    Returns:
        The normalized inputs, float32.

    Raises:
        ValueError: if only one of `mean` / `variance` is given, if their shapes differ or
            have more axes than `axis`, or if a kept axis of the input is unknown or out of range.

    Example:
        >>> layer = Normalization(axis=None)
        >>> layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
        >>> layer(np.array([1.0, 2.0, 3.0]))   # -> [-1.414, -0.707, 0.]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif is_int_like(axis):
            axis = (int(axis),)
        else:
            try:
                axis = tuple(int(a) for a in axis)
            except TypeError:
                raise TypeError(
                    f"Normalization layer '{self.name}' expected axis to be an int, a tuple of "
                    f"ints or None, received axis={axis!r}.") from None
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True
        self.mean = None
        self.variance = None
        if (mean is None) != (variance is None):
            raise ValueError(
                f"Normalization layer '{self.name}' needs both mean and variance when either is "
                f"given, received mean={mean!r} and variance={variance!r}. Pass both, or "
                "neither and call adapt(data).")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    f"Normalization layer '{self.name}' expected mean and variance of the same "
                    f"shape, received shapes {np.shape(mean)} and {np.shape(variance)}.")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(
                    f"Normalization layer '{self.name}': mean has {len(np.shape(mean))} axes "
                    f"(shape {np.shape(mean)}) but axis={self.axis} keeps only "
                    f"{len(self.axis)}. Give one value per kept axis, or set axis accordingly.")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                f"Normalization layer '{self.name}' got axis={self.axis}, out of range for inputs "
                f"of rank {ndim} (shape {input_shape}). Use axes in [-{ndim}, {ndim}).")
        keep = tuple(sorted(a % ndim for a in self.axis))
        for d in keep:
            if input_shape[d] is None:
                raise ValueError(
                    f"Normalization layer '{self.name}' keeps statistics along axis {d}, whose "
                    f"size is unknown in input shape {input_shape}. Give that axis a fixed size "
                    "(e.g. Input(shape=...)) or choose another axis.")
        self._build_input_shape = input_shape
        self._keep_axis = keep
        self._reduce_axis = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        self._stat_shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape=self._stat_shape, initializer="zeros",
                                              trainable=False, name="mean")
            self.adapt_variance = self.add_weight(shape=self._stat_shape, initializer="ones",
                                                  trainable=False, name="variance")
            self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros",
                                         trainable=False, name="count")
        else:
            mean = np.asarray(self.input_mean, dtype=np.float64)
            var = np.asarray(self.input_variance, dtype=np.float64)
            expanded = [1] * ndim
            for i in range(1, mean.ndim + 1):
                expanded[keep[-i]] = mean.shape[-i]
            try:
                mean = np.broadcast_to(mean.reshape(expanded), self._broadcast_shape)
                var = np.broadcast_to(var.reshape(expanded), self._broadcast_shape)
            except ValueError:
                raise ValueError(
                    f"Normalization layer '{self.name}': mean of shape "
                    f"{np.shape(self.input_mean)} cannot be broadcast to the kept axes "
                    f"{self._stat_shape} of inputs of shape {input_shape}.") from None
            self.mean = mean.astype(self.compute_dtype)
            self.variance = var.astype(self.compute_dtype)
        self.built = True

    def _stats(self):
        if self.input_mean is not None:
            return jnp.asarray(self.mean), jnp.asarray(self.variance)
        mean = jnp.reshape(self.adapt_mean.value, self._broadcast_shape).astype(self.compute_dtype)
        var = jnp.reshape(self.adapt_variance.value, self._broadcast_shape).astype(self.compute_dtype)
        return mean, var

    def call(self, inputs):
        x = jnp.asarray(inputs).astype(self.compute_dtype)
        mean, var = self._stats()
        std = jnp.maximum(jnp.sqrt(var), _EPSILON)
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def adapt(self, data, batch_size=None, steps=None):
        """Compute the mean and variance of `data` and store them in the layer.

        The statistics are the population mean and variance (ddof=0) over all axes not in
        `axis`, as Keras computes them: over the whole array at once, or, for an iterable of
        batches (and for an array with `batch_size`), merged batch by batch with the
        exact pooled-variance update. Runs on the host in float64.

        Args:
            data: a NumPy/JAX array, or an iterable of batches (a list of arrays, a generator,
                a dataset yielding `x` or `(x, y, ...)` tuples).
            batch_size: for an array, process it in batches of this many samples (same result,
                less memory).
            steps: for an iterable, use at most this many batches.

        Raises:
            ValueError: if the layer was given `mean`/`variance`, if the data is empty, or if
                a batch's kept axes differ from the layer's.
            TypeError: for data that is neither an array nor an iterable of arrays.

        Example:
            >>> layer = Normalization()
            >>> layer.adapt([np.ones((4, 3)), np.zeros((4, 3))])
        """
        if self.input_mean is not None:
            raise ValueError(
                f"Normalization layer '{self.name}' was created with fixed mean and variance; "
                "adapt() would have nowhere to store new statistics. Create the layer without "
                "mean/variance to learn them from data.")
        if isinstance(data, (np.ndarray, jax.Array)) or (
                isinstance(data, list) and data and (np.isscalar(data[0])
                                                     or isinstance(data[0], list))):
            arr = np.asarray(data)
            if batch_size is not None and arr.ndim > 0:
                batch_size = int(batch_size)
                batches = (arr[i:i + batch_size] for i in range(0, arr.shape[0], batch_size))
                if steps is not None:
                    batches = (b for i, b in enumerate(batches) if i < steps)
            else:
                batches = iter([arr])
        elif hasattr(data, "__iter__"):
            def gen():
                for i, b in enumerate(data):
                    if steps is not None and i >= steps:
                        break
                    yield b[0] if isinstance(b, tuple) else b
            batches = gen()
        else:
            raise TypeError(
                f"Normalization layer '{self.name}': adapt() expected a NumPy/JAX array or an "
                f"iterable of array batches, received {type(data).__name__}.")
        total_mean = total_var = None
        total_count = 0
        for batch in batches:
            if is_traced(batch):
                raise TypeError(
                    f"Normalization layer '{self.name}': adapt() runs on the host and cannot be "
                    "called inside jax.jit. Call it on concrete data before training.")
            b = np.asarray(batch, dtype=np.float64)
            if not self.built:
                self.build(b.shape)
            self._check_adapt_shape(b.shape)
            if self._reduce_axis:
                n = math.prod(b.shape[d] for d in self._reduce_axis)
            else:
                n = 1
            if n == 0:
                continue
            bm = b.mean(axis=self._reduce_axis)
            bv = b.var(axis=self._reduce_axis)
            if total_mean is None:
                total_mean, total_var, total_count = bm, bv, n
                continue
            total_count += n
            w_new = n / total_count
            w_old = 1.0 - w_new
            new_mean = total_mean * w_old + bm * w_new
            total_var = ((total_var + (total_mean - new_mean) ** 2) * w_old
                         + (bv + (bm - new_mean) ** 2) * w_new)
            total_mean = new_mean
        if total_mean is None:
            raise ValueError(
                f"Normalization layer '{self.name}': adapt() received no data (an empty array "
                "or an iterable with no batches). Pass at least one non-empty batch.")
        self.adapt_mean.assign(jnp.asarray(np.reshape(total_mean, self._stat_shape), "float32"))
        self.adapt_variance.assign(jnp.asarray(np.reshape(total_var, self._stat_shape), "float32"))
        self.count.assign(jnp.asarray(min(total_count, 2**31 - 1), "int32"))

    def _check_adapt_shape(self, shape):
        if len(shape) != len(self._build_input_shape):
            raise ValueError(
                f"Normalization layer '{self.name}' was built for inputs of rank "
                f"{len(self._build_input_shape)} (shape {self._build_input_shape}); adapt() "
                f"received a batch of shape {tuple(shape)}.")
        for d in self._keep_axis:
            if shape[d] != self._build_input_shape[d]:
                raise ValueError(
                    f"Normalization layer '{self.name}' was built for inputs of shape "
                    f"{self._build_input_shape}; adapt() received a batch of shape "
                    f"{tuple(shape)}, whose axis {d} differs. All batches must match on the "
                    f"kept axes {self._keep_axis}.")

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "axis": self.axis,
            "invert": self.invert,
            "mean": np.array(self.input_mean).tolist(),
            "variance": np.array(self.input_variance).tolist(),
        })
        return cfg


# --------------------------------------------------------------------------------------
class CategoryEncoding(Layer):
    """Encode integer category indices as one-hot, multi-hot or count vectors.

    Runs on the device. Indices outside `[0, num_tokens)` contribute nothing (an all-zero
    row), as in Keras 3.

    Args:
        num_tokens: number of categories; indices must lie in `[0, num_tokens)`.
        output_mode: "multi_hot" (default; "binary" is an alias), "one_hot" or "count".
        sparse: must be False (trine has no sparse outputs).
        **kwargs: base layer arguments.

    Call args:
        inputs: integer indices; rank-1 input is one sample for multi_hot/count, and a
            batch of single indices for one_hot.
        count_weights: with output_mode "count", a weight per index (same shape as inputs).

    Returns:
        float32 encodings; `(batch, num_tokens)` for `(batch, n)` input.

    Raises:
        ValueError: on a missing/invalid `num_tokens` or `output_mode`, `sparse=True`, or
            `count_weights` with another output mode.

    Example:
        >>> CategoryEncoding(num_tokens=4, output_mode="multi_hot")(np.array([[0, 1], [0, 0]]))
        # -> [[1., 1., 0., 0.], [1., 0., 0., 0.]]
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        check_choice(self.name, "output_mode", output_mode, ENCODE_MODES)
        if num_tokens is None:
            raise ValueError(
                f"CategoryEncoding layer '{self.name}' needs num_tokens (the number of "
                "categories). If the categories are not known in advance, use IntegerLookup "
                "or StringLookup instead.")
        num_tokens = positive_int_arg(self, "num_tokens", num_tokens, 10)
        reject_sparse(self, sparse)
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(
                f"CategoryEncoding layer '{self.name}': count_weights is only used with "
                f"output_mode='count', but output_mode={self.output_mode!r}. Drop "
                "count_weights or use output_mode='count'.")
        idx = jnp.asarray(inputs).astype(jnp.int32)
        return encode_categorical(jnp, idx, self.output_mode, self.num_tokens,
                                  self.compute_dtype, count_weights=count_weights)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"num_tokens": self.num_tokens, "output_mode": self.output_mode})
        return cfg


# --------------------------------------------------------------------------------------
# Discretization's approximate quantiles: a weighted summary (values, weights) that is
# merged and compressed to 1/epsilon points, then cut into num_bins equal-weight parts.
def _quantile_summary(values, epsilon):
    v = np.sort(np.reshape(values, -1))
    step = max(v.size / (1.0 / epsilon), 1)
    picked = v[int(step - 1)::int(step)]
    return np.stack([picked, np.ones_like(picked) * step])


def _compress(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    targets = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    frac = cum / cum[-1]
    points = np.interp(targets, frac, summary[0])
    cum_at = np.interp(targets, frac, cum)
    weights = cum_at - np.concatenate((np.array([0]), cum_at[:-1]))
    return np.stack((points, weights)).astype("float32")


def _merge(a, b, epsilon):
    both = np.concatenate((a, b), axis=1)
    both = np.take(both, np.argsort(both[0]), axis=1)
    return _compress(both, epsilon)


class Discretization(Layer):
    """Bucket continuous values into integer bins (`jnp.digitize`), or encode the bins.

    `bin_boundaries=[0., 1.]` gives bins `(-inf, 0)`, `[0, 1)`, `[1, inf)` -> 0, 1, 2.
    With `num_bins`, call `adapt(data)` first: it computes approximate quantiles on the host
    with Keras's algorithm, so the boundaries match Keras for the same data. `call` runs on
    the device.

    Args:
        bin_boundaries: sorted boundaries (exclusive of -inf/inf).
        num_bins: number of bins to learn with `adapt` (instead of `bin_boundaries`).
        epsilon: error tolerance of the quantile summary (default 0.01).
        output_mode: "int" (default, int32 bin indices), "one_hot", "multi_hot" or "count".
        sparse: must be False.
        dtype: dtype of encoded outputs (float32 by default).
        name: layer name.

    Returns:
        int32 bin indices, or float encodings of depth `len(bin_boundaries) + 1`.

    Raises:
        ValueError: if both or neither of `bin_boundaries`/`num_bins` are given, on an
            invalid `output_mode`, or when called before boundaries exist.

    Example:
        >>> Discretization(bin_boundaries=[0.0, 1.0])(np.array([[-1.5, 0.5, 2.0]]))
        # -> [[0, 1, 2]]
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None, **kwargs):
        super().__init__(dtype=dtype, name=name, **kwargs)
        check_choice(self.name, "output_mode", output_mode, ("int",) + ENCODE_MODES)
        reject_sparse(self, sparse)
        if num_bins is not None and (not is_int_like(num_bins) or num_bins < 0):
            raise ValueError(
                f"Discretization layer '{self.name}' expected num_bins to be a non-negative "
                f"integer, received num_bins={num_bins!r}.")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(
                f"Discretization layer '{self.name}' takes bin_boundaries or num_bins, not both; "
                f"received bin_boundaries={bin_boundaries!r} and num_bins={num_bins!r}.")
        if num_bins is None and bin_boundaries is None:
            raise ValueError(
                f"Discretization layer '{self.name}' needs bin_boundaries (e.g. [0., 1.]) or "
                "num_bins (then call adapt(data)); received neither.")
        self.bin_boundaries = None if bin_boundaries is None else [float(b) for b in bin_boundaries]
        self.num_bins = num_bins
        self.epsilon = float(epsilon)
        self.output_mode = output_mode
        self.sparse = False
        self.summary = None if self.bin_boundaries else np.zeros((2, 0), "float32")

    @property
    def output_dtype(self):
        return "int32" if self.output_mode == "int" else self.compute_dtype

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(
                f"Discretization layer '{self.name}' has no bin boundaries yet. Pass "
                "bin_boundaries=... when creating it, or call adapt(data) before using it.")
        x = jnp.asarray(inputs).astype("float32")
        bins = jnp.asarray(np.asarray(self.bin_boundaries, "float32"))
        idx = jnp.digitize(x, bins).astype("int32")
        if self.output_mode == "int":
            return idx
        return encode_categorical(jnp, idx, self.output_mode, len(self.bin_boundaries) + 1,
                                  self.output_dtype)

    def adapt(self, data, steps=None):
        """Learn `num_bins` bin boundaries from `data` (approximate quantiles, on the host).

        Args:
            data: an array, or an iterable of array batches.
            steps: for an iterable, use at most this many batches.

        Raises:
            ValueError: if the layer was created with `bin_boundaries`.
        """
        if self.num_bins is None:
            raise ValueError(
                f"Discretization layer '{self.name}' was created with bin_boundaries; adapt() "
                "learns boundaries only for a layer created with num_bins=...")
        self.summary = np.zeros((2, 0), "float32")
        if isinstance(data, (np.ndarray, jax.Array, list, tuple)):
            batches = [data]
        elif hasattr(data, "__iter__"):
            batches = (b for i, b in enumerate(data) if steps is None or i < steps)
        else:
            raise TypeError(
                f"Discretization layer '{self.name}': adapt() expected an array or an iterable "
                f"of array batches, received {type(data).__name__}.")
        for batch in batches:
            if isinstance(batch, tuple):
                batch = batch[0]
            values = np.array(batch).astype("float32")
            self.summary = _merge(_quantile_summary(values, self.epsilon), self.summary,
                                  self.epsilon)
        if self.summary.shape[1] == 0:
            raise ValueError(
                f"Discretization layer '{self.name}': adapt() received no values.")
        self.bin_boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = (len(self.bin_boundaries) + 1 if self.bin_boundaries is not None
                 else self.num_bins)
        from trine.layers.preprocessing._utils import encoded_shape
        return encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": self.sparse,
                "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = [float(b) for b in boundaries]
            return layer
        return cls(**config)
