"""Attention layers: MultiHeadAttention, Attention (Luong) and AdditiveAttention (Bahdanau).

MultiHeadAttention keeps Keras's weight layout, so weights transfer both ways: four
projection sublayers named `query`, `key`, `value` and `attention_output`, each with a
`kernel` and a `bias`. For inputs of shape `(batch, T, dim)`:
query/key kernels `(dim, num_heads, key_dim)`, value kernel `(dim, num_heads, value_dim)`,
their biases `(num_heads, head_dim)`, the output kernel `(num_heads, value_dim, out_dim)`
and its bias `(out_dim,)`.

Masks: the masks attached to `query`, `value` and `key` (from `Embedding(mask_zero=True)`
or `Masking`) are combined with `attention_mask` and the causal mask; the output keeps the
query's mask. A query position that may attend to nothing (e.g. a padded query) gets all-zero
attention weights, as Keras's masked softmax gives them.
"""
from __future__ import annotations

import math
import string

import jax
import jax.numpy as jnp
import numpy as np

from trine import regularizers
from trine.core.context import get_mask
from trine.core.layer import Layer
from trine.layers._attention_dropout import checked_dropout_rate, drop_attention_weights
from trine.layers._query_value_call import QueryValueKeyCall
from trine.layers._weight_args import set_weight_args, weight_args_config

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]


def _large_negative(dtype):
    return -3e4 if jnp.dtype(dtype) == jnp.float16 else -1e9


def _causal_mask(tq, tv):
    """`(1, tq, tv)` boolean, True where the query position may see the value position."""
    return (jnp.arange(tq)[:, None] >= jnp.arange(tv)[None, :])[None]


class _Projection(Layer):
    """An einsum projection with a kernel and an optional bias (Keras's EinsumDense layout)."""

    def __init__(self, equation, kernel_shape, bias_shape, kernel_initializer,
                 bias_initializer, kernel_regularizer, bias_regularizer, kernel_constraint,
                 bias_constraint, **kwargs):
        super().__init__(**kwargs)
        self.equation = equation
        self.kernel_shape = tuple(kernel_shape)
        self.bias_shape = None if bias_shape is None else tuple(bias_shape)
        self._inits = (kernel_initializer, bias_initializer)
        self._regs = (kernel_regularizer, bias_regularizer)
        self._cons = (kernel_constraint, bias_constraint)

    def build(self, input_shape=None):
        self.kernel = self.add_weight(shape=self.kernel_shape, initializer=self._inits[0],
                                      regularizer=self._regs[0], constraint=self._cons[0],
                                      name="kernel")
        self.bias = (self.add_weight(shape=self.bias_shape, initializer=self._inits[1],
                                     regularizer=self._regs[1], constraint=self._cons[1],
                                     name="bias")
                     if self.bias_shape is not None else None)
        self.built = True

    def call(self, inputs):
        y = jnp.einsum(self.equation, inputs, self.kernel.value)
        if self.bias is not None:
            y = y + self.bias.value
        return y


def _proj_equation(free_dims, bound_dims, output_dims):
    """`input,kernel->output` for a projection keeping `free_dims` leading axes."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims:free_dims + bound_dims]
    out = letters[free_dims + bound_dims:free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{out}->{free}{out}"


def _attention_equations(rank, attn_axes):
    """Einsum equations for scores and combination of projected `(B, ..., N, H)` tensors.

    Returns `(dot, combine, scores_rank)`: `dot` maps (key, query) to scores laid out as
    (batch axes incl. heads, query attention axes, key attention axes); `combine` maps
    (scores, value) back to the query's layout.
    """
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source = list(target)
    nxt = rank
    for i in attn_axes:
        source[i] = letters[nxt]
        nxt += 1
    source = "".join(source)
    product = ("".join(target[i] for i in batch) + "".join(target[i] for i in attn_axes)
               + "".join(source[i] for i in attn_axes))
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


class MultiHeadAttention(QueryValueKeyCall, Layer):
    """Multi-head attention (Vaswani et al., 2017) with Keras's weights and call signature.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value (default `key_dim`).
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        output_shape: last dimension(s) of the output (default: the query's last dim).
        attention_axes: axes over which attention is applied (default: all axes but batch,
            heads and features, i.e. the sequence axis).
        kernel_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        kernel_regularizer / bias_regularizer / activity_regularizer: penalties.
        kernel_constraint / bias_constraint: projections after each update.
        seed: optional integer folded into the dropout key.

    Call arguments:
        query: `(batch, T, dim)`; value: `(batch, S, dim)`; key: optional `(batch, S, dim)`
            (default `value`).
        attention_mask: boolean `(batch, T, S)`, True where attention is allowed.
        return_attention_scores: also return the probabilities `(batch, heads, T, S)`.
        training: enables dropout.
        use_causal_mask: forbid attention to later positions (decoder self-attention).

    Returns:
        `(batch, T, out_dim)`, and the attention scores if asked.

    Raises:
        ValueError: on invalid arguments or incompatible input shapes.

    Example:
        >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> x = jnp.ones((2, 5, 8))
        >>> mha(x, x, use_causal_mask=True).shape
        (2, 5, 8)
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        for arg, v in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(
                    f"MultiHeadAttention layer '{self.name}' expected {arg} to be a positive "
                    f"integer, received {arg}={v!r}.")
        if value_dim is not None and (isinstance(value_dim, bool) or not isinstance(
                value_dim, (int, np.integer)) or value_dim <= 0):
            raise ValueError(
                f"MultiHeadAttention layer '{self.name}' expected value_dim to be a positive "
                f"integer or None, received value_dim={value_dim!r}.")
        if use_gate:
            raise NotImplementedError(
                f"MultiHeadAttention layer '{self.name}': use_gate=True is not supported yet.")
        if sliding_window is not None:
            raise NotImplementedError(
                f"MultiHeadAttention layer '{self.name}': sliding_window is not supported "
                "yet; pass an attention_mask with the band you need instead.")
        self._num_heads = int(num_heads)
        self._key_dim = int(key_dim)
        self._value_dim = int(value_dim) if value_dim else self._key_dim
        self._dropout = checked_dropout_rate(self, dropout)
        self._use_bias = bool(use_bias)
        if output_shape:
            if isinstance(output_shape, (int, np.integer)):
                output_shape = (int(output_shape),)
            elif isinstance(output_shape, (list, tuple)):
                output_shape = tuple(int(d) for d in output_shape)
            else:
                raise ValueError(
                    f"MultiHeadAttention layer '{self.name}' expected output_shape to be an "
                    f"int, a tuple or a list, received output_shape={output_shape!r}.")
        else:
            output_shape = None
        self._output_shape = output_shape
        if isinstance(attention_axes, (int, np.integer)):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None:
            if not isinstance(attention_axes, (list, tuple)):
                raise ValueError(
                    f"MultiHeadAttention layer '{self.name}' expected attention_axes to be an "
                    f"int, a list or a tuple, received attention_axes={attention_axes!r}.")
            attention_axes = tuple(int(a) for a in attention_axes)
        self._attention_axes = attention_axes
        # Keras keeps these private on MultiHeadAttention
        set_weight_args(self, "kernel", kernel_initializer, kernel_regularizer,
                        kernel_constraint, attribute_prefix="_")
        set_weight_args(self, "bias", bias_initializer, bias_regularizer, bias_constraint,
                        attribute_prefix="_")
        # as in Keras, the activity penalty applies to each projection's output
        self._activity_regularizer = regularizers.get(activity_regularizer)
        self.seed = seed
        self.supports_masking = True
        # Public names, as the attributes Keras's weight files use for the sublayers.
        self.query_dense = None
        self.key_dense = None
        self.value_dense = None
        self.output_dense = None

    # -- properties as Keras ---------------------------------------------------------
    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    _query_dense = property(lambda self: self.query_dense)
    _key_dense = property(lambda self: self.key_dense)
    _value_dense = property(lambda self: self.value_dense)
    _output_dense = property(lambda self: self.output_dense)

    # -- build -----------------------------------------------------------------------
    def _proj(self, equation, kernel_shape, bias_shape, name):
        return _Projection(
            equation, kernel_shape, bias_shape if self._use_bias else None,
            self._kernel_initializer, self._bias_initializer, self._kernel_regularizer,
            self._bias_regularizer, self._kernel_constraint, self._bias_constraint,
            activity_regularizer=self._activity_regularizer, name=name, dtype=self.dtype_policy)

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the four projections for inputs of these shapes.

        Raises:
            ValueError: if value and key differ in any axis but the last, or a feature
                axis is unknown.
        """
        if value_shape is None:
            raise ValueError(
                f"MultiHeadAttention layer '{self.name}' needs both the query and the value "
                "shape to build: call it as layer(query, value) or build(query_shape, "
                "value_shape).")
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"MultiHeadAttention layer '{self.name}': value and key must agree in every "
                f"axis but the last, received value shape {value_shape} and key shape "
                f"{key_shape}.")
        if len(query_shape) != len(value_shape):
            raise ValueError(
                f"MultiHeadAttention layer '{self.name}': query and value must have the same "
                f"rank, received query shape {query_shape} and value shape {value_shape}.")
        for what, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) < 3 or s[-1] is None:
                raise ValueError(
                    f"MultiHeadAttention layer '{self.name}' expected {what} of shape (batch, "
                    f"..., features) with a known feature axis, received {s}.")
        self._record_build_shapes(query_shape, value_shape, key_shape)
        self._seed_gen.index  # take this layer's draw index before the sublayers'
        n, kd, vd = self._num_heads, self._key_dim, self._value_dim
        r = len(query_shape)
        self.query_dense = self._proj(_proj_equation(r - 1, 1, 2), (query_shape[-1], n, kd),
                                       (n, kd), "query")
        self.query_dense.build()
        self.key_dense = self._proj(_proj_equation(len(key_shape) - 1, 1, 2),
                                     (key_shape[-1], n, kd), (n, kd), "key")
        self.key_dense.build()
        self.value_dense = self._proj(_proj_equation(len(value_shape) - 1, 1, 2),
                                       (value_shape[-1], n, vd), (n, vd), "value")
        self.value_dense.build()
        out = self._output_shape or (query_shape[-1],)
        self.output_dense = self._proj(_proj_equation(r - 1, 2, len(out)), (n, vd) + tuple(out),
                                        tuple(out), "attention_output")
        self.output_dense.build()
        rank = r + 1  # projected: (batch, ..., heads, head_dim)
        if self._attention_axes is None:
            axes = tuple(range(1, rank - 2))
        else:
            axes = tuple(a if a >= 0 else (rank - 1) + a for a in self._attention_axes)
            bad = [a for a in axes if not 1 <= a < rank - 2]
            if bad:
                raise ValueError(
                    f"MultiHeadAttention layer '{self.name}': attention_axes "
                    f"{self._attention_axes} must name axes between the batch and the feature "
                    f"axis of inputs of rank {r}.")
        self._resolved_axes = axes
        self._dot_eq, self._combine_eq, scores_rank = _attention_equations(rank, axes)
        self._norm_axes = tuple(range(scores_rank - len(axes), scores_rank))
        # Keras tracks a Softmax and a Dropout sublayer here; they hold no weights, but their
        # (empty) groups are part of the weight-file layout, so trine tracks the same two.
        # The maths stays in _compute_attention (masked rows get zero weights there).
        from trine.layers.activation_layers import Softmax
        from trine.layers.core import Dropout
        self._softmax = Softmax(axis=list(self._norm_axes), name="softmax", dtype=self.dtype_policy)
        self._dropout_layer = Dropout(self._dropout, seed=self.seed, name="dropout",
                                      dtype=self.dtype_policy)
        self.built = True

    # -- call ------------------------------------------------------------------------
    def _compute_attention_mask(self, query, value, query_mask=None, value_mask=None,
                                key_mask=None, attention_mask=None, use_causal_mask=False):
        """Merge the query/value/key masks, the causal mask and `attention_mask` (AND)."""
        auto = None
        if query_mask is not None:
            auto = jnp.asarray(query_mask).astype(bool)[..., None]           # (B, T, 1)
        for m in (value_mask, key_mask):
            if m is not None:
                m = jnp.asarray(m).astype(bool)[..., None, :]                  # (B, 1, S)
                auto = m if auto is None else auto & m
        if use_causal_mask:
            m = _causal_mask(query.shape[1], value.shape[1])
            auto = m if auto is None else auto & m
        if attention_mask is not None:
            attention_mask = jnp.asarray(attention_mask).astype(bool)
        if auto is not None:
            attention_mask = auto if attention_mask is None else attention_mask & auto
        return attention_mask

    def _fused_inference(self, query, key, value, attention_mask):
        """Inference over one attention axis as one `jax.nn.dot_product_attention` call:
        XLA's CPU backend ran the einsum-softmax-einsum form 1.7x slower in predict (it fuses
        the softmax into the products; bench/README.md). Rows that may attend to nothing
        get zero output, as the einsum form's zero weights give. (`dot_product_attention`
        needs value heads as wide as key heads; other layers keep the einsum form.)"""
        scale = 1.0 / math.sqrt(float(self._key_dim))
        if attention_mask is None:
            return jax.nn.dot_product_attention(query, key, value, scale=scale)
        m = attention_mask
        while m.ndim < 3:
            m = m[None]
        m = jnp.broadcast_to(m, (query.shape[0], query.shape[1], key.shape[1]))
        out = jax.nn.dot_product_attention(query, key, value, mask=m[:, None], scale=scale)
        return jnp.where(jnp.any(m, axis=-1)[..., None, None], out, jnp.zeros((), out.dtype))

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=True):
        if (not training and not return_attention_scores and query.ndim == 4
                and self._resolved_axes == (1,) and value.shape[-1] == query.shape[-1]
                and (attention_mask is None or attention_mask.ndim <= 3)):
            return self._fused_inference(query, key, value, attention_mask), None
        query = query * jnp.asarray(1.0 / math.sqrt(float(self._key_dim)), query.dtype)
        scores = jnp.einsum(self._dot_eq, key, query)
        if attention_mask is not None:
            m = attention_mask
            axis = -len(self._resolved_axes) * 2 - 1
            while m.ndim < scores.ndim:
                m = jnp.expand_dims(m, axis)
            scores = jnp.where(m, scores, jnp.asarray(_large_negative(scores.dtype), scores.dtype))
        probs = jax.nn.softmax(scores, axis=self._norm_axes)  # over the key attention axes
        if attention_mask is not None:
            # rows with every position masked get zero weights, not a uniform average
            probs = jnp.where(m, probs, jnp.zeros((), probs.dtype))
        dropped = drop_attention_weights(self, probs, self._dropout, training)
        out = jnp.einsum(self._combine_eq, dropped, value)
        return out, probs

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if query_mask is None:
            query_mask = get_mask(query)
        if value_mask is None:
            value_mask = get_mask(value)
        if key is not None and key_mask is None and key is not value:
            key_mask = get_mask(key)
        if key is None:
            key = value
        query = jnp.asarray(query)
        value = jnp.asarray(value)
        key = jnp.asarray(key)
        attention_mask = self._compute_attention_mask(
            query, value, query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
            attention_mask=attention_mask, use_causal_mask=use_causal_mask)
        q = self.query_dense(query)
        k = self.key_dense(key)
        v = self.value_dense(value)
        out, scores = self._compute_attention(q, k, v, attention_mask, training,
                                              return_attention_scores)
        out = self.output_dense(out)
        if return_attention_scores:
            return out, scores
        return out

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "num_heads": self._num_heads,
            "key_dim": self._key_dim,
            "value_dim": self._value_dim,
            "dropout": self._dropout,
            "use_bias": self._use_bias,
            "use_gate": False,
            "output_shape": self._output_shape,
            "attention_axes": self._attention_axes,
            "sliding_window": None,
            **weight_args_config(self, ("kernel", "bias"), activity_regularizer=True,
                                 attribute_prefix="_"),
            "seed": self.seed,
        })
        return cfg


class Attention(Layer):
    """Dot-product (Luong-style) attention over `[query, value]` or `[query, value, key]`.

    Scores are `query @ key^T` (times a learned `scale` with `use_scale`) for
    `score_mode="dot"`, or `concat_score_weight * sum(tanh(scale * (query + key)))` for
    `score_mode="concat"`; the output is `softmax(scores) @ value`.

    Args:
        use_scale: learn a scalar that scales the scores (default False).
        score_mode: "dot" (default) or "concat".
        dropout: dropout rate on the attention weights (training only).
        seed: optional integer folded into the dropout key.

    Call arguments:
        inputs: `[query (batch, Tq, dim), value (batch, Tv, dim)]`, optionally `key`
            third (default `value`).
        mask: `[query_mask, value_mask]`, booleans `(batch, Tq)` and `(batch, Tv)` (taken
            from the inputs' masks automatically).
        return_attention_scores: also return the weights `(batch, Tq, Tv)`.
        use_causal_mask: forbid attention to later positions.

    Returns:
        `(batch, Tq, dim)`, and the attention weights if asked.

    Raises:
        ValueError: if `inputs` is not a list of 2 or 3 arrays, or `score_mode` is invalid.

    Example:
        >>> q, v = jnp.ones((2, 3, 4)), jnp.ones((2, 5, 4))
        >>> Attention()([q, v]).shape
        (2, 3, 4)
    """

    _default_use_scale = False

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expected score_mode 'dot' or "
                f"'concat', received score_mode={score_mode!r}.")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = checked_dropout_rate(self, dropout)
        self.seed = seed
        self.supports_masking = True

    def _validate(self, inputs, mask=None):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(
                f"{name} layer '{self.name}' must be called on a list [query, value] or "
                f"[query, value, key], received {type(inputs).__name__}"
                + (f" of length {len(inputs)}" if isinstance(inputs, (list, tuple)) else "")
                + ".")
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(
                f"{name} layer '{self.name}' expected mask to be a list [query_mask, "
                f"value_mask], received {mask!r}.")

    def build(self, input_shape):
        self._validate(input_shape)
        self._seed_gen.index
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(shape=(), initializer="ones",
                                                       name="concat_score_weight")
        self.built = True

    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = jnp.matmul(query, jnp.swapaxes(key, -2, -1))
            if self.scale is not None:
                scores = scores * self.scale.value
            return scores
        q = query[..., :, None, :]
        k = key[..., None, :, :]
        s = q + k
        if self.scale is not None:
            s = self.scale.value * s
        return self.concat_score_weight.value * jnp.sum(jnp.tanh(s), axis=-1)

    def _apply_scores(self, scores, value, scores_mask=None, training=False):
        if scores_mask is not None:
            padding = jnp.logical_not(scores_mask)
            if padding.ndim == 2:
                padding = padding[:, None, :]
            big = 65504.0 if scores.dtype == jnp.float16 else 1.0e9
            scores = jnp.where(padding, scores - big, scores)
        weights = jax.nn.softmax(scores, axis=-1)
        weights = drop_attention_weights(self, weights, self.dropout, training)
        return jnp.matmul(weights, value), weights

    def call(self, inputs, mask=None, training=False, return_attention_scores=False,
             use_causal_mask=False):
        self._validate(inputs, mask)
        q = jnp.asarray(inputs[0])
        v = jnp.asarray(inputs[1])
        k = jnp.asarray(inputs[2]) if len(inputs) > 2 else v
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None
        scores = self._calculate_scores(q, k)
        scores_mask = None if v_mask is None else jnp.asarray(v_mask).astype(bool)
        if use_causal_mask:
            causal = _causal_mask(scores.shape[-2], scores.shape[-1])
            scores_mask = causal if scores_mask is None else (scores_mask[..., None, :] & causal)
        out, weights = self._apply_scores(scores, v, scores_mask, training)
        if q_mask is not None:
            out = jnp.where(jnp.asarray(q_mask).astype(bool)[..., None], out,
                            jnp.zeros((), out.dtype))
        if return_attention_scores:
            return out, weights
        return out

    def compute_mask(self, inputs, previous_mask=None):
        if not previous_mask or previous_mask[0] is None:
            return None
        return previous_mask[0]

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"use_scale": self.use_scale, "score_mode": self.score_mode,
                    "dropout": self.dropout, "seed": self.seed})
        return cfg


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: scores `sum(scale * tanh(query + key))`.

    Args:
        use_scale: learn a per-feature `scale` vector (default True).
        dropout: dropout rate on the attention weights (training only).
        seed: optional integer folded into the dropout key.

    Call arguments, returns and masks: as `Attention`.

    Raises:
        ValueError: if `inputs` is not a list of 2 or 3 arrays.

    Example:
        >>> q, v = jnp.ones((2, 3, 4)), jnp.ones((2, 5, 4))
        >>> AdditiveAttention()([q, v]).shape
        (2, 3, 4)
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._validate(input_shape)
        self._seed_gen.index
        dim = input_shape[0][-1]
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(shape=(dim,), initializer="glorot_uniform",
                                         name="scale")
        self.built = True

    def _calculate_scores(self, query, key):
        s = jnp.tanh(query[..., :, None, :] + key[..., None, :, :])
        if self.use_scale:
            s = self.scale.value * s
        return jnp.sum(s, axis=-1)

    def get_config(self):
        cfg = super().get_config()
        del cfg["score_mode"]
        return cfg
