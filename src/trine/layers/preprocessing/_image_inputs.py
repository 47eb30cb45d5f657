"""The inputs of the image layers: one image (rank 3) or a batch (rank 4) as an array. The
dicts with bounding boxes or segmentation masks that Keras also takes are refused."""
from __future__ import annotations

import jax.numpy as jnp


def check_image_rank(layer, x) -> None:
    """Raise unless `x` is an array of rank 3 or 4.

    Raises:
        TypeError: for a dict of images and annotations.
        ValueError: for another rank.
    """
    if isinstance(x, dict):
        raise TypeError(
            f"{type(layer).__name__} layer '{layer.name}' received a dict; trine's image "
            "layers take an images array only (no bounding boxes or segmentation masks yet). "
            "Pass the images array.")
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expected images of rank 3 (height, "
            f"width, channels) or a batch of rank 4, received shape {tuple(x.shape)}. Add a "
            "channel axis (x[..., None]) or a batch axis.")


def float_images(layer, inputs):
    """`inputs`, checked by `check_image_rank`, in the layer's compute dtype."""
    x = inputs if isinstance(inputs, dict) else jnp.asarray(inputs)
    check_image_rank(layer, x)
    return x.astype(layer.compute_dtype)
