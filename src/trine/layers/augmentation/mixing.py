"""Batch-mixing augmentations: MixUp and CutMix (Keras 3's semantics). They take images, or
a dict `{"images": ..., "labels": ...}` whose labels are mixed with the same draw."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.layers.augmentation._two_phase import TwoPhaseLayer, keras_factor

__all__ = ["CutMix", "MixUp"]


class MixUp(TwoPhaseLayer):
    """Blend each image (and label) with another of the batch during training.

    A permutation of the batch and a weight `w ~ Beta(alpha, alpha)` per image give
    `w * x + (1 - w) * x[perm]`; labels in a dict input mix with the same `w` and `perm`.

    Args:
        alpha: the Beta distribution's parameter (default 0.2).
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        Images of the input's shape, or the dict with mixed images and labels.

    Raises:
        ValueError: for alpha not positive.

    Example:
        >>> out = MixUp(seed=0)({"images": x, "labels": y_onehot}, training=True)
    """

    _mixes_labels = True

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(f"MixUp layer '{self.name}' expected alpha to be a positive number, "
                             f"received alpha={alpha!r}.")
        self.alpha = alpha

    def _draw(self, key, x):
        k1, k2 = jax.random.split(key)
        n = x.shape[0]
        return {"mix_weight": jax.random.beta(k2, self.alpha, self.alpha, (n,)),
                "permutation_order": jax.random.permutation(k1, n)}

    def _apply(self, x, t):
        w = t["mix_weight"].astype(x.dtype).reshape(-1, 1, 1, 1)
        return w * x + (1.0 - w) * jnp.take(x, t["permutation_order"], axis=0)

    def _apply_labels(self, labels, t):
        w = t["mix_weight"].reshape(-1, 1)
        return w * labels + (1.0 - w) * jnp.take(labels, t["permutation_order"], axis=0)

    def get_config(self):
        cfg = super().get_config()
        cfg["alpha"] = self.alpha
        return cfg


class CutMix(TwoPhaseLayer):
    """Paste a random rectangle of another batch image into each image during training.

    `alpha` is drawn from `factor` once per batch, `w ~ Beta(alpha, alpha)` per image; the
    rectangle's sides are `sqrt(1 - w)` of the image's, at a uniform position. Labels in a dict
    input mix by the pasted area. A single (unbatched) image is returned unchanged, as Keras.

    Args:
        factor: a number `f` in [0, 1] (the range `(0, f)`) or a pair.
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape, or the dict with mixed images and labels.

    Raises:
        ValueError: for a bad factor.
    """

    _mixes_labels = True

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, factor, (0.0, 1.0))

    def _draw(self, key, x):
        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        ks = jax.random.split(key, 5)
        alpha = jax.random.uniform(ks[0], (), minval=self.factor[0], maxval=self.factor[1]) + 1e-6
        ratio = jnp.sqrt(1.0 - jax.random.beta(ks[1], alpha, alpha, (n,)))

        def bounds(k, length):
            size = ratio * length
            start = jax.random.uniform(k, (n,)) * (length - size)
            return start, start + size
        x0, x1 = bounds(ks[2], w)
        y0, y1 = bounds(ks[3], h)
        gy, gx = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32),
                              indexing="ij")
        inside = ((gx[None] >= x0[:, None, None]) & (gx[None] < x1[:, None, None]) &
                  (gy[None] >= y0[:, None, None]) & (gy[None] < y1[:, None, None]))
        return {"permutation_order": jax.random.permutation(ks[4], n),
                "batch_masks": inside[..., None],
                "mix_weight": 1.0 - (x1 - x0) * (y1 - y0) / (w * h)}

    def _apply(self, x, t):
        return jnp.where(t["batch_masks"], jnp.take(x, t["permutation_order"], axis=0), x)

    def _apply_labels(self, labels, t):
        w = t["mix_weight"].reshape(-1, 1)
        return w * labels + (1.0 - w) * jnp.take(labels, t["permutation_order"], axis=0)

    def call(self, inputs, training=False):
        images = inputs["images"] if isinstance(inputs, dict) else inputs
        if len(getattr(images, "shape", np.shape(images))) == 3:
            training = False  # Keras leaves one unbatched image untouched
        return super().call(inputs, training=training)

    def get_config(self):
        cfg = super().get_config()
        cfg["factor"] = self.factor
        return cfg
