"""ReversibleEmbedding: an embedding that can also project vectors back to vocabulary logits
(tied or separate weights), as in language models (Keras `ReversibleEmbedding`)."""
from __future__ import annotations

import jax.numpy as jnp

from trine.layers.embedding import Embedding

__all__ = ["ReversibleEmbedding"]


class ReversibleEmbedding(Embedding):
    """An `Embedding` whose `call(x, reverse=True)` maps `(..., output_dim)` to logits
    `(..., input_dim)`.

    Args:
        input_dim, output_dim, embeddings_initializer, embeddings_regularizer,
        embeddings_constraint, mask_zero: as in `Embedding`.
        tie_weights: reverse with the transposed embedding table (default True); False makes
            a separate `reverse_embeddings` weight of shape `(output_dim, input_dim)`.
        reverse_dtype: dtype of the reverse matmul (e.g. "float32" under mixed precision).
        logit_soft_cap: if set, logits become `tanh(logits / cap) * cap`.

    Returns:
        Embeddings (forward) or logits (`reverse=True`).

    Raises:
        ValueError: as `Embedding`, or if `logit_soft_cap` is not positive.

    Example:
        >>> layer = ReversibleEmbedding(100, 8)
        >>> h = layer(jnp.array([[1, 2]]))
        >>> layer(h, reverse=True).shape
        (1, 2, 100)
    """

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 reverse_dtype=None, logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer,
                         embeddings_constraint=embeddings_constraint, mask_zero=mask_zero,
                         **kwargs)
        if logit_soft_cap is not None and not (
                isinstance(logit_soft_cap, (int, float)) and logit_soft_cap > 0):
            raise ValueError(
                f"ReversibleEmbedding layer '{self.name}' expected logit_soft_cap to be a "
                f"positive number or None, received logit_soft_cap={logit_soft_cap!r}.")
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap

    def build(self, input_shape=None):
        if self.built:
            return
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(
                shape=(self.output_dim, self.input_dim), initializer=self.embeddings_initializer,
                name="reverse_embeddings")
        self.built = True

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        x = jnp.asarray(inputs)
        kernel = (self.embeddings.value.T if self.tie_weights
                  else self.reverse_embeddings.value)
        if self.reverse_dtype is not None:
            x, kernel = x.astype(self.reverse_dtype), kernel.astype(self.reverse_dtype)
        else:
            kernel = kernel.astype(x.dtype)
        logits = jnp.matmul(x, kernel)
        if self.logit_soft_cap is not None:
            cap = jnp.asarray(self.logit_soft_cap, logits.dtype)
            logits = jnp.tanh(logits / cap) * cap
        return logits

    def compute_mask(self, inputs, previous_mask=None):
        # reverse calls take float vectors: only integer token ids carry a padding mask
        if not self.mask_zero or jnp.issubdtype(jnp.asarray(inputs).dtype, jnp.floating):
            return None
        return super().compute_mask(inputs, previous_mask)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                    "logit_soft_cap": self.logit_soft_cap})
        return cfg
