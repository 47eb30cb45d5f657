"""GroupQueryAttention: attention with fewer key/value heads than query heads, each key/value
head shared by a group of query heads (Ainslie et al., 2023; Keras `GroupQueryAttention`).

Weights follow Keras's layout: sublayers `query` (dim, num_query_heads, head_dim), `key` and
`value` (dim, num_key_value_heads, head_dim), optional `gate`, and `attention_output`
(num_query_heads, head_dim, dim), each an EinsumDense with a kernel and an optional bias.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.context import get_mask
from trine.core.layer import Layer
from trine.layers._attention_dropout import checked_dropout_rate, drop_attention_weights
from trine.layers._int_args import positive_int_arg
from trine.layers._query_value_call import QueryValueKeyCall
from trine.layers._weight_args import set_weight_args, weight_args_config
from trine.layers.einsum_dense import EinsumDense

__all__ = ["GroupQueryAttention"]


class GroupQueryAttention(QueryValueKeyCall, Layer):
    """Grouped-query attention over `(batch, seq, dim)` inputs.

    Args:
        head_dim: size of each attention head.
        num_query_heads: number of query heads.
        num_key_value_heads: number of key/value heads; must divide num_query_heads.
        dropout: dropout rate on the attention weights (training only).
        use_bias: whether the projections have biases (default True).
        sliding_window: if set, a position attends only to positions less than this far
            away (combined with the causal mask when `use_causal_mask=True`).
        flash_attention: accepted for compatibility; trine computes attention explicitly.
        kernel_initializer / bias_initializer / *_regularizer / *_constraint: as in Dense.
        use_gate: multiply the attention output by `sigmoid(gate(query))` before the output
            projection.
        seed: optional integer seed for the dropout.

    Call args:
        query `(B, T, dim)`, value `(B, S, dim)`, key (default value), query_mask,
        value_mask, key_mask, attention_mask `(B, T, S)`, return_attention_scores,
        training, use_causal_mask.

    Returns:
        `(B, T, dim)`, and the scores `(B, num_query_heads, T, S)` with
        `return_attention_scores=True`.

    Raises:
        ValueError: for bad sizes, a num_query_heads not divisible by num_key_value_heads,
            a bad sliding_window, or inputs that are not rank 3.

    Example:
        >>> gqa = GroupQueryAttention(head_dim=8, num_query_heads=4, num_key_value_heads=2)
        >>> gqa(jnp.ones((2, 5, 16)), jnp.ones((2, 7, 16))).shape
        (2, 5, 16)
    """

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0,
                 use_bias=True, sliding_window=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.supports_masking = True
        self.head_dim = positive_int_arg(self, "head_dim", head_dim)
        self.num_query_heads = positive_int_arg(self, "num_query_heads", num_query_heads)
        self.num_key_value_heads = positive_int_arg(self, "num_key_value_heads",
                                                 num_key_value_heads)
        if self.num_query_heads % self.num_key_value_heads:
            raise ValueError(
                f"GroupQueryAttention layer '{self.name}': num_query_heads="
                f"{num_query_heads} must be divisible by num_key_value_heads="
                f"{num_key_value_heads}.")
        self.num_repeats = self.num_query_heads // self.num_key_value_heads
        checked_dropout_rate(self, dropout)
        self.dropout = dropout  # as given: the config echoes it
        self.use_bias = bool(use_bias)
        self.use_gate = bool(use_gate)
        if sliding_window is not None and (isinstance(sliding_window, bool) or not isinstance(
                sliding_window, (int, np.integer)) or sliding_window <= 0):
            raise ValueError(
                f"GroupQueryAttention layer '{self.name}' expected sliding_window to be None "
                f"or a positive integer, received sliding_window={sliding_window!r}.")
        self.sliding_window = sliding_window
        self._flash_attention = flash_attention
        set_weight_args(self, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        set_weight_args(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.seed = seed
        self._inverse_sqrt_head_dim = 1.0 / math.sqrt(float(self.head_dim))

    # -- build -----------------------------------------------------------------------
    def _dense(self, equation, out_shape, bias_axes, name, activation=None):
        init_k = type(self.kernel_initializer).from_config(self.kernel_initializer.get_config())
        init_b = type(self.bias_initializer).from_config(self.bias_initializer.get_config())
        return EinsumDense(equation, output_shape=out_shape,
                           bias_axes=bias_axes if self.use_bias else None, activation=activation,
                           kernel_initializer=init_k, bias_initializer=init_b,
                           kernel_regularizer=self.kernel_regularizer,
                           bias_regularizer=self.bias_regularizer,
                           kernel_constraint=self.kernel_constraint,
                           bias_constraint=self.bias_constraint, name=name,
                           dtype=self.dtype_policy)

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:
            raise ValueError(
                f"GroupQueryAttention layer '{self.name}' needs both the query and the value "
                "shape to build: call it as layer(query, value).")
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for what, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) != 3 or s[-1] is None:
                raise ValueError(
                    f"GroupQueryAttention layer '{self.name}' expected {what} of shape (batch, "
                    f"seq, features) with known features, received shape {s}.")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"GroupQueryAttention layer '{self.name}': value and key must agree in every "
                f"axis but the last, received {value_shape} and {key_shape}.")
        self._record_build_shapes(query_shape, value_shape, key_shape)
        self._seed_gen.index  # this layer's draw index before the sublayers'
        self.feature_dim = query_shape[-1]
        nq, nkv, hd = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self._query_dense = self._dense("bqm,muh->bquh", (None, nq, hd), "uh", "query")
        self._query_dense.build(query_shape)
        self._key_dense = self._dense("bkm,mvh->bkvh", (None, nkv, hd), "vh", "key")
        self._key_dense.build(key_shape)
        if self.use_gate:
            self._gate_dense = self._dense("bqm,muh->bquh", (None, nq, hd), "uh", "gate",
                                           activation="sigmoid")
            self._gate_dense.build(query_shape)
        self._value_dense = self._dense("bkm,mvh->bkvh", (None, nkv, hd), "vh", "value")
        self._value_dense.build(value_shape)
        self._output_dense = self._dense("bquh,uhm->bqm", (None, self.feature_dim), "m",
                                         "attention_output")
        self._output_dense.build((None, None, nq, hd))
        self.built = True

    # -- call ------------------------------------------------------------------------
    def _attention_mask(self, tq, ts, query_mask, value_mask, key_mask, attention_mask,
                        use_causal_mask):
        auto = None
        if query_mask is not None:
            auto = jnp.asarray(query_mask).astype(bool)[..., None]
        for m in (value_mask, key_mask):
            if m is not None:
                m = jnp.asarray(m).astype(bool)[..., None, :]
                auto = m if auto is None else auto & m
        if use_causal_mask:
            m = (jnp.arange(tq)[:, None] >= jnp.arange(ts)[None, :])[None]
            auto = m if auto is None else auto & m
        if self.sliding_window is not None:
            m = (jnp.abs(jnp.arange(tq)[:, None] - jnp.arange(ts)[None, :])
                 < self.sliding_window)[None]
            auto = m if auto is None else auto & m
        if attention_mask is not None:
            attention_mask = jnp.asarray(attention_mask).astype(bool)
            return attention_mask if auto is None else attention_mask & auto
        return auto

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        if query_mask is None:
            query_mask = get_mask(query)
        if value_mask is None:
            value_mask = get_mask(value)
        if key is not None and key_mask is None and key is not value:
            key_mask = get_mask(key)
        key = value if key is None else key
        query, value, key = jnp.asarray(query), jnp.asarray(value), jnp.asarray(key)
        mask = self._attention_mask(query.shape[1], value.shape[1], query_mask, value_mask,
                                    key_mask, attention_mask, use_causal_mask)
        gate = self._gate_dense(query) if self.use_gate else None
        q = self._query_dense(query)
        k = jnp.repeat(self._key_dense(key), self.num_repeats, axis=2)
        v = jnp.repeat(self._value_dense(value), self.num_repeats, axis=2)
        q = q * jnp.asarray(self._inverse_sqrt_head_dim, q.dtype)
        scores = jnp.einsum("bquh,bkuh->buqk", q, k)
        if mask is not None:
            m = mask[:, None] if mask.ndim == 3 else mask
            scores = jnp.where(m, scores, jnp.asarray(-1e9 if scores.dtype != jnp.float16
                                                      else -3e4, scores.dtype))
        probs = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(scores.dtype)
        if mask is not None:
            probs = jnp.where(m, probs, jnp.zeros((), probs.dtype))  # fully masked rows -> 0
        dropped = drop_attention_weights(self, probs, self.dropout, training)
        out = jnp.einsum("buqk,bkuh->bquh", dropped, v)
        if gate is not None:
            out = out * gate
        out = self._output_dense(out)
        if return_attention_scores:
            return out, probs
        return out

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "head_dim": self.head_dim,
            "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "use_bias": self.use_bias,
            "use_gate": self.use_gate,
            "dropout": self.dropout,
            "sliding_window": self.sliding_window,
            **weight_args_config(self, ("kernel", "bias"), activity_regularizer=True),
            "seed": self.seed,
        })
        return cfg
