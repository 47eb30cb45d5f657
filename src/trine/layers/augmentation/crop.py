"""RandomCrop: a random `(height, width)` window in training, the centre at inference."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine.layers._int_args import positive_int_arg
from trine.layers.augmentation._base import AugmentationLayer

__all__ = ["RandomCrop"]


class RandomCrop(AugmentationLayer):
    """Randomly crop images to `(height, width)` during training.

    In training each batch is cropped at one random offset (as Keras draws one per call).
    At inference, and in training when an image is not larger than the target on both axes,
    the largest centred window of the target aspect ratio is cropped and resized to
    `(height, width)` (bilinear).

    Args:
        height, width: the output size.
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images `(batch, height, width, channels)` (float).

    Raises:
        ValueError: for non-positive sizes or images of unknown size.

    Note:
        Keras 3.15 returns the input unchanged at inference (so the output shape depends on
        the mode), contradicting its docstring; trine follows the documented centre crop so
        a model's output shape is the same in training and at inference.

    Example:
        >>> RandomCrop(24, 24, seed=0)(np.random.rand(2, 32, 32, 3), training=True).shape
        (2, 24, 24, 3)
    """

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, name=name, **kwargs)
        height = positive_int_arg(self, "height", height)
        width = positive_int_arg(self, "width", width)
        self.height, self.width = int(height), int(width)

    def _resize(self, x):
        if x.shape[1:3] == (self.height, self.width):
            return x
        return jax.image.resize(x, (x.shape[0], self.height, self.width, x.shape[3]),
                                method="bilinear", antialias=False)

    def _inference(self, x):
        h, w = x.shape[1], x.shape[2]
        ch = max(min(h, int(float(w * self.height) / self.width)), 1)
        cw = max(min(w, int(float(h * self.width) / self.height)), 1)
        top, left = int(float(h - ch) / 2), int(float(w - cw) / 2)
        return self._resize(x[:, top:top + ch, left:left + cw])

    def _augment(self, x, key):
        h, w = x.shape[1], x.shape[2]
        if not (h > self.height and w > self.width):
            return self._inference(x)
        kh, kw = jax.random.split(key)
        top = jax.random.randint(kh, (), 0, h - self.height + 1)
        left = jax.random.randint(kw, (), 0, w - self.width + 1)
        return jax.lax.dynamic_slice(x, (0, top, left, 0),
                                     (x.shape[0], self.height, self.width, x.shape[3]))

    def compute_output_shape(self, input_shape):
        s = list(input_shape)
        h_ax = -3 if self.data_format == "channels_last" else -2
        s[h_ax], s[h_ax + 1] = self.height, self.width
        return tuple(s)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"height": self.height, "width": self.width})
        return cfg
