"""Augmentations split in two pure steps, as Keras splits them: draw the random parameters,
then apply them. The split lets tests pin a draw and compare with Keras's
`transform_images`, and lets MixUp / CutMix mix `labels` with the same draw as the images.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine.layers.augmentation._base import AugmentationLayer


def keras_factor(layer, factor, bounds, arg="factor"):
    """Keras's factor rule: a pair is kept (sorted) unless wholly outside `bounds`; a number
    `f` in `bounds` means `(max(-|f|, low), |f|)`."""
    def bad():
        return ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected {arg} to be a number in "
            f"[{bounds[0]}, {bounds[1]}] or a pair of numbers overlapping that range, received "
            f"{arg}={factor!r}.")

    def number(v):
        return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(number(v) for v in factor):
            raise bad()
        if factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise bad()
        lo, hi = sorted(float(v) for v in factor)
        return lo, hi
    if not number(factor) or not bounds[0] <= factor <= bounds[1]:
        raise bad()
    f = abs(float(factor))
    return max(-f, float(bounds[0])), f


class TwoPhaseLayer(AugmentationLayer):
    """An augmentation with `_draw(key, images) -> dict` and `_apply(images, draw) -> images`
    on channels-last float batches; `_apply_labels(labels, draw)` where labels mix too."""

    _mixes_labels = False

    def _draw(self, key, x):
        raise NotImplementedError

    def _apply(self, x, t):
        raise NotImplementedError

    def _apply_labels(self, labels, t):
        return labels

    def _augment(self, x, key):
        return self._apply(x, self._draw(key, x))

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict):
            return super().call(inputs, training=training)
        allowed = {"images", "labels"} if self._mixes_labels else {"images"}
        extra = set(inputs) - allowed
        if "images" not in inputs or extra:
            raise TypeError(
                f"{type(self).__name__} layer '{self.name}' received a dict with keys "
                f"{sorted(inputs)}; it takes a dict with keys {sorted(allowed)} ('images' "
                "required; bounding boxes and segmentation masks are not supported yet). Pass "
                "the images array, or a dict of those keys.")
        x = self._images(inputs["images"])
        out = dict(inputs)
        if not training:
            out["images"] = self._channels_last(self._inference, x)
            return out
        single = x.ndim == 3
        xb = x[None] if single else x
        if self.data_format == "channels_first":
            xb = jnp.moveaxis(xb, 1, -1)
        t = self._draw(self._key(), xb)
        y = self._apply(xb, t)
        if self.data_format == "channels_first":
            y = jnp.moveaxis(y, -1, 1)
        out["images"] = y[0] if single else y
        if "labels" in inputs:
            out["labels"] = self._apply_labels(jnp.asarray(inputs["labels"]), t)
        return out
