"""Neural-network operations (Keras's `keras.ops.nn` group): activations, one-hot,
normalization, cross-entropies, CTC, PSNR and attention."""
from __future__ import annotations

import builtins as _bi

import jax
import jax.numpy as jnp
import numpy as _np

from trine.ops import normalization as _normalization
from trine.ops._dispatch import _axes, _float, _op


__all__ = [
    "leaky_relu", "softsign", "hard_silu", "hard_swish", "hard_shrink", "soft_shrink",
    "tanh_shrink", "threshold", "squareplus", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "one_hot", "multi_hot", "normalize", "moments", "batch_normalization",
    "layer_normalization", "rms_normalization", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "ctc_loss", "psnr", "polar",
    "dot_product_attention"]


@_op
def leaky_relu(x, negative_slope=0.2):
    """`x` for positive values, `negative_slope * x` otherwise (Keras's default slope 0.2)."""
    return jax.nn.leaky_relu(x, negative_slope=negative_slope)


@_op
def softsign(x):
    """`x / (abs(x) + 1)`."""
    return jax.nn.soft_sign(jnp.asarray(x))


@_op
def hard_silu(x):
    """`x * hard_sigmoid(x)`."""
    return jax.nn.hard_silu(jnp.asarray(x))


@_op
def hard_swish(x):
    """`x * hard_sigmoid(x)` (same as `hard_silu`)."""
    return jax.nn.hard_silu(jnp.asarray(x))


@_op
def hard_shrink(x, threshold=0.5):
    """`x` where `abs(x) > threshold`, else 0."""
    x = jnp.asarray(x)
    return jnp.where(jnp.abs(x) > threshold, x, jnp.zeros((), x.dtype))


@_op
def soft_shrink(x, threshold=0.5):
    """`x` moved toward 0 by `threshold`; 0 within it."""
    x = jnp.asarray(x)
    zero = jnp.zeros((), x.dtype)
    return jnp.where(x > threshold, x - threshold, jnp.where(x < -threshold, x + threshold, zero))


@_op
def tanh_shrink(x):
    """`x - tanh(x)`."""
    x = jnp.asarray(x)
    return x - jnp.tanh(x)


@_op
def threshold(x, threshold, default_value):
    """`x` where `x > threshold`, else `default_value`."""
    x = jnp.asarray(x)
    return jnp.where(x > threshold, x, jnp.asarray(default_value, x.dtype))


@_op
def squareplus(x, b=4):
    """`(x + sqrt(x**2 + b)) / 2`."""
    return jax.nn.squareplus(jnp.asarray(x), b=b)


@_op
def sparse_plus(x):
    """0 below -1, `x` above 1, `(x + 1)**2 / 4` between."""
    return jax.nn.sparse_plus(jnp.asarray(x))


@_op
def sparse_sigmoid(x):
    """0 below -1, 1 above 1, `(x + 1) / 2` between."""
    return jax.nn.sparse_sigmoid(jnp.asarray(x))


@_op
def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of `x` onto the
    probability simplex along `axis`; outputs sum to 1 and are often exactly 0."""
    x = _float(x)
    z = -jnp.sort(-x, axis=axis)                      # descending
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    k = jnp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    cum = jnp.cumsum(z, axis=axis)
    support = 1 + k * z > cum                         # a prefix of the sorted entries
    n = jnp.sum(support, axis=axis, keepdims=True)
    tau = (jnp.take_along_axis(cum, n - 1, axis=axis) - 1) / n.astype(x.dtype)
    return jnp.maximum(x - tau, 0)


@_op
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot encoding of integer `x` with a new axis of size `num_classes` at `axis`
    (negative labels give all zeros)."""
    if sparse:
        raise ValueError("one_hot: trine has no sparse tensors; received sparse=True.")
    return jax.nn.one_hot(x, num_classes, dtype=dtype or jnp.float32, axis=axis)


@_op
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """Multi-hot encoding: for each row of integer labels (or the single vector of a rank-1
    input), a vector of size `num_classes` with ones at the labels present."""
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected arguments {sorted(kwargs)}.")
    if num_classes is None:
        raise ValueError("multi_hot: argument `num_classes` must be given.")
    if sparse:
        raise ValueError("multi_hot: trine has no sparse tensors; received sparse=True.")
    x = jnp.asarray(inputs).astype(jnp.int32)
    encoded = jax.nn.one_hot(x, num_classes, dtype=dtype or jnp.float32, axis=axis)
    return jnp.max(encoded, axis=1 if x.ndim > 1 else 0)


@_op
def normalize(x, axis=-1, order=2, epsilon=None):
    """`x / max(norm(x, order), epsilon)` along `axis` (epsilon defaults to
    `trine.config.epsilon()`)."""
    if isinstance(order, _bi.bool) or not isinstance(order, (int, _np.integer)) or order < 1:
        raise ValueError(f"normalize: argument `order` must be an integer >= 1, received "
                         f"order={order!r}.")
    x = _float(x)
    if x.ndim == 0:
        x = x[None]
    if epsilon is None:
        from trine.config import epsilon as _global_epsilon
        epsilon = _global_epsilon()
    eps = epsilon
    axis = _axes(axis)
    if order == 2:
        inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
        return x * jnp.minimum(inv_norm, 1.0 / eps)
    n = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(n, eps)


@_op
def moments(x, axes, keepdims=False, synchronized=False):
    """`(mean, variance)` of `x` over `axes`.

    Half-precision inputs are reduced in float32. `synchronized` is accepted for Keras
    compatibility: under trine's sharded `jit` the statistics already span all devices.
    """
    x = jnp.asarray(x)
    axes = _axes(axes)
    half = x.dtype in (jnp.float16, jnp.bfloat16)
    xc = x.astype(jnp.float32) if half else x
    mean = jnp.mean(xc, axis=axes, keepdims=keepdims)
    variance = jnp.var(xc, axis=axes, keepdims=keepdims)
    if half:
        info = jnp.finfo(x.dtype)
        mean = jnp.clip(mean, info.min, info.max).astype(x.dtype)
        variance = jnp.clip(variance, info.min, info.max).astype(x.dtype)
    return mean, variance


@_op
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset`, the statistics (vectors)
    laid along `axis` of `x`."""
    x, mean = jnp.asarray(x), jnp.asarray(mean)
    shape = [1] * x.ndim
    shape[axis] = mean.shape[0]

    def bc(v):
        return None if v is None else jnp.reshape(jnp.asarray(v), shape)

    return _normalization.affine(x, bc(mean), bc(variance), bc(scale), bc(offset), epsilon)


def _norm_axes(axis, ndim, op):
    axes = [axis] if isinstance(axis, (int, _np.integer)) else list(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for an input of rank {ndim}.")
    return tuple(sorted(int(a) % ndim for a in axes))


@_op
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Normalize `x` to zero mean and unit variance over `axis`, then scale by `gamma` and
    shift by `beta` (epsilon defaults to 1e-7). Computed in at least float32."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}.")
    if epsilon is None:
        from trine.config import epsilon as _global_epsilon
        epsilon = _global_epsilon()
    eps = epsilon
    x = jnp.asarray(x)
    orig = x.dtype
    x = x.astype(jnp.result_type(x.dtype, jnp.float32))
    axes = _norm_axes(axis, x.ndim, "layer_normalization")
    bshape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]

    def bc(v):
        if v is None:
            return None
        v = jnp.asarray(v, x.dtype)
        # vectors over the normalized axes are laid along them; others broadcast as given
        if v.ndim != x.ndim and axes != (x.ndim - 1,):
            v = jnp.reshape(v, bshape)
        return v

    return _normalization.normalize_over(x, axes, bc(gamma), bc(beta), eps, rms_scaling).astype(orig)


@_op
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """`x / sqrt(mean(x**2) + epsilon) * scale` over `axis` (epsilon defaults to 1e-7)."""
    if epsilon is None:
        from trine.config import epsilon as _global_epsilon
        epsilon = _global_epsilon()
    eps = epsilon
    x = jnp.asarray(x)
    orig = x.dtype
    x = x.astype(jnp.result_type(x.dtype, jnp.float32))
    if x.ndim == 0:
        x = x[None]
    y = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=_axes(axis), keepdims=True) + eps)
    if scale is not None:
        y = y * jnp.asarray(scale, x.dtype)
    return y.astype(orig)


def _epsilon():
    from trine.config import epsilon
    return epsilon()


def _clipped_log_probs(output, axis):
    """Keras's probability path: renormalise along `axis`, clip to [eps, 1-eps], log."""
    p = output / jnp.sum(output, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(p, _epsilon(), 1.0 - _epsilon()))


def _check_class_axis(axis, op):
    if isinstance(axis, _bi.bool) or not isinstance(axis, (int, _np.integer)):
        raise ValueError(f"{op} expected axis to be an integer, received axis={axis!r}.")


@_op
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary cross-entropy (probabilities clipped to [eps, 1 - eps] unless
    `from_logits`)."""
    output = _float(output)
    target = jnp.asarray(target).astype(output.dtype)
    if target.shape != output.shape:
        raise ValueError(f"binary_crossentropy: target and output must have the same shape, "
                         f"received {tuple(target.shape)} and {tuple(output.shape)}.")
    if from_logits:
        import optax  # imported on first use: keeps `import trine` fast
        return optax.sigmoid_binary_cross_entropy(output, target)
    p = jnp.clip(output, _epsilon(), 1.0 - _epsilon())
    return -(target * jnp.log(p) + (1.0 - target) * jnp.log(1.0 - p))


@_op
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy between distributions `target` and `output` along `axis` (`output`
    renormalised and clipped to [eps, 1 - eps] unless `from_logits`)."""
    _check_class_axis(axis, "categorical_crossentropy")
    output = _float(output)
    target = jnp.asarray(target).astype(output.dtype)
    if target.shape != output.shape:
        raise ValueError(
            f"categorical_crossentropy expected y_true and y_pred of the same shape, received "
            f"y_true.shape={tuple(target.shape)} and y_pred.shape={tuple(output.shape)}. For "
            "integer class labels use sparse_categorical_crossentropy instead.")
    if output.ndim < 1:
        raise ValueError("categorical_crossentropy expected inputs of rank >= 1, received scalars.")
    if from_logits:
        import optax
        return optax.softmax_cross_entropy(output, target, axis=axis)
    return -jnp.sum(target * _clipped_log_probs(output, axis), axis=axis)


@_op
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy between integer labels `target` (shape `output.shape[:-1]`; a trailing
    axis of size 1 is squeezed) and distributions `output`."""
    _check_class_axis(axis, "sparse_categorical_crossentropy")
    output = _float(output)
    target = jnp.asarray(target)
    if output.ndim < 1:
        raise ValueError(
            "sparse_categorical_crossentropy expected y_pred of rank >= 1 (the class axis "
            f"last), received shape {tuple(output.shape)}.")
    if target.ndim == output.ndim and target.shape[axis] == 1:
        target = jnp.squeeze(target, axis=axis)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, axis=-1)
    if tuple(target.shape) != tuple(output.shape[:-1]):
        raise ValueError(
            "sparse_categorical_crossentropy expected y_true of shape y_pred.shape[:-1] "
            f"(one integer label per sample), received y_true.shape={tuple(target.shape)} and "
            f"y_pred.shape={tuple(output.shape)}. For one-hot targets use "
            "categorical_crossentropy instead.")
    log_probs = (jax.nn.log_softmax(output, axis=axis) if from_logits
                 else _clipped_log_probs(output, axis))
    one_hot = jax.nn.one_hot(target.astype(jnp.int32), output.shape[axis], dtype=output.dtype,
                             axis=axis)
    return -jnp.sum(one_hot * log_probs, axis=axis)


@_op
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Per-sequence CTC loss of logits `output` `(batch, time, classes)` for the labels
    `target` `(batch, max_label_length)`; `mask_index` is the blank class."""
    import optax
    target = jnp.asarray(target).astype(jnp.int32)
    output = jnp.asarray(output)
    output = output.astype(jnp.result_type(output.dtype, jnp.float32))
    target_length = jnp.asarray(target_length).astype(jnp.int32)
    output_length = jnp.asarray(output_length).astype(jnp.int32)

    def paddings(lengths, size):
        return (jnp.arange(size)[None, :] >= lengths[:, None]).astype(output.dtype)

    return optax.ctc_loss(output, paddings(output_length, output.shape[1]), target,
                          paddings(target_length, target.shape[1]), blank_id=mask_index)


@_op
def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio (dB) between `x1` and `x2`, over all entries."""
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    if x1.shape != x2.shape:
        raise ValueError(f"psnr: x1 and x2 must have the same shape, received "
                         f"{tuple(x1.shape)} and {tuple(x2.shape)}.")
    mse = jnp.mean(jnp.square(x1 - x2))
    return 20 * jnp.log10(jnp.asarray(max_val, x2.dtype)) - 10 * jnp.log10(mse)


@_op
def polar(abs_, angle):
    """The complex numbers `abs_ * (cos(angle) + i sin(angle))`."""
    abs_, angle = _float(abs_), _float(angle)
    return jax.lax.complex(abs_ * jnp.cos(angle), abs_ * jnp.sin(angle))


@_op
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None,
                          is_causal=False, flash_attention=None, attn_logits_soft_cap=None):
    """`softmax(query @ key.T * scale + bias, masked) @ value` per head.

    Inputs are `(batch, time, heads, depth)` (keys and values may have fewer heads that
    divide the query's); `mask` (True: attend) and `bias` broadcast to
    `(batch, heads, query_time, key_time)`; `scale` defaults to `1 / sqrt(depth)`.
    `flash_attention=True` asks for cuDNN's fused kernel, False for XLA's.
    """
    if attn_logits_soft_cap is not None:
        raise NotImplementedError("dot_product_attention: attn_logits_soft_cap is not "
                                  "supported (it needs a TPU kernel); leave it None.")
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        raise ValueError(
            "dot_product_attention: expected 4D inputs (batch, time, heads, depth), received "
            f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}.")
    dt = jnp.result_type(query.dtype, key.dtype, value.dtype)
    query, key, value = query.astype(dt), key.astype(dt), value.astype(dt)
    if bias is not None:
        bias = jnp.asarray(bias, dt)
    if mask is not None:
        mask = jnp.asarray(mask).astype(jnp.bool_)
    impl = {None: None, True: "cudnn", False: "xla"}.get(flash_attention, "invalid")
    if impl == "invalid":
        raise ValueError("dot_product_attention: flash_attention must be None, True or "
                         f"False, received {flash_attention!r}.")
    return jax.nn.dot_product_attention(query, key, value, bias=bias, mask=mask, scale=scale,
                                        is_causal=is_causal, implementation=impl)
