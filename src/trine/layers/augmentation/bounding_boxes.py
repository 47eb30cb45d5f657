"""MaxNumBoundingBoxes: pad or cut the boxes of a batch to a fixed count (Keras 3)."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine.core.layer import Layer

__all__ = ["MaxNumBoundingBoxes"]


class MaxNumBoundingBoxes(Layer):
    """Give every image exactly `max_number` boxes: extra boxes are dropped, missing ones are
    filled with `fill_value`. Images and other entries pass through unchanged.

    Args:
        max_number: the number of boxes per image.
        fill_value: the value of padded boxes and labels (default -1).

    Returns:
        The input dict with `bounding_boxes["boxes"]` of shape (batch, max_number, 4) and
        `bounding_boxes["labels"]` of shape (batch, max_number); a plain images array as is.

    Raises:
        ValueError: for max_number below 1, or bounding boxes of the wrong rank.
        KeyError: for bounding_boxes keys other than "boxes" and "labels" (as Keras).

    Example:
        >>> out = MaxNumBoundingBoxes(3)({"images": x, "bounding_boxes":
        ...                               {"boxes": boxes, "labels": labels}})
    """

    def __init__(self, max_number, fill_value=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(max_number, bool) or not isinstance(max_number, (int, np.integer)) \
                or max_number < 1:
            raise ValueError(f"MaxNumBoundingBoxes layer '{self.name}' expected max_number to be "
                             f"a positive integer, received max_number={max_number!r}.")
        self.max_number = int(max_number)
        self.fill_value = int(fill_value)

    def _fit(self, a, rank):
        a = jnp.asarray(a)
        if a.ndim != rank:
            raise ValueError(
                f"MaxNumBoundingBoxes layer '{self.name}' expected batched bounding boxes "
                f"({'(batch, boxes, 4)' if rank == 3 else '(batch, boxes)'}), received shape "
                f"{tuple(a.shape)}. Add a batch axis.")
        a = a[:, :self.max_number]
        pad = [(0, 0), (0, self.max_number - a.shape[1])] + [(0, 0)] * (rank - 2)
        return jnp.pad(a, pad, constant_values=self.fill_value)

    def call(self, inputs):
        if not isinstance(inputs, dict) or "bounding_boxes" not in inputs:
            return inputs
        boxes = inputs["bounding_boxes"]
        extra = set(boxes) - {"boxes", "labels"}
        if extra:
            raise KeyError(f"MaxNumBoundingBoxes layer '{self.name}': unsupported keys in "
                           f"bounding_boxes: {sorted(extra)}. Only 'boxes' and 'labels' are.")
        out = dict(inputs)
        out["bounding_boxes"] = {"boxes": self._fit(boxes["boxes"], 3),
                                 "labels": self._fit(boxes["labels"], 2)}
        return out

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"max_number": self.max_number, "fill_value": self.fill_value})
        return cfg
