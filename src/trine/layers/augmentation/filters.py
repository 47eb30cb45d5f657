"""Filter augmentations: RandomSharpness, RandomGaussianBlur, Equalization (Keras 3's
semantics)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine import ops_image
from trine.layers.augmentation._base import check_value_range
from trine.layers.augmentation._two_phase import TwoPhaseLayer, keras_factor
from trine.ops.convolution import convolve

__all__ = ["Equalization", "RandomGaussianBlur", "RandomSharpness"]


def _apply_mask(flags, a, b):
    return jnp.where(flags[:, None, None, None], a, b)


def _per_image_probability(key, n, factor):
    k1, k2 = jax.random.split(key)
    p = jax.random.uniform(k1, (n,), minval=factor[0], maxval=factor[1])
    return jax.random.uniform(k2, (n,)) < p


class RandomSharpness(TwoPhaseLayer):
    """Sharpen or blur each image by a random amount during training.

    Each image draws `f` from `factor`; with the 3x3 smoothing kernel `S` (centre 5/13, rest
    1/13), the output is `x + (1 - 2 f) (S * x - x)`: 0.5 keeps the image, 0 blurs, 1 sharpens.

    Args:
        factor: a number `f` in [0, 1] (the range `(0, f)`) or a pair.
        value_range: `(low, high)` of the pixel values (default (0, 255)); outputs are clipped.
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad factor or value_range.

    Example:
        >>> y = RandomSharpness(0.5, seed=0)(np.random.rand(2, 8, 8, 3) * 255, training=True)
    """

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        self.value_range = check_value_range(self, value_range)

    def _draw(self, key, x):
        return {"factor": jax.random.uniform(key, (x.shape[0],), minval=self.factor[0],
                                             maxval=self.factor[1])}

    def _apply(self, x, t):
        s = (t["factor"] * 2).astype(x.dtype)[:, None, None, None]
        a, b = 1.0 / 13.0, 5.0 / 13.0
        kernel = jnp.asarray([[a, a, a], [a, b, a], [a, a, a]], x.dtype)
        c = x.shape[-1]
        smooth = convolve(x, jnp.tile(kernel[:, :, None, None], (1, 1, 1, c)), (1, 1), "same",
                          (1, 1), "channels_last", groups=c)
        y = x + (1.0 - s) * (smooth - x)
        return jnp.clip(y, self.value_range[0], self.value_range[1])

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "value_range": self.value_range})
        return cfg


def _kernel_size(layer, k):
    bad = ValueError(
        f"RandomGaussianBlur layer '{layer.name}' expected kernel_size to be an odd integer or "
        f"a pair of odd integers, received kernel_size={k!r}.")
    ks = tuple(k) if isinstance(k, (tuple, list)) else (k, k)
    if len(ks) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                           or v < 1 or v % 2 == 0 for v in ks):
        raise bad
    return tuple(int(v) for v in ks)


class RandomGaussianBlur(TwoPhaseLayer):
    """Blur each image with probability drawn from `factor`, with a random Gaussian sigma.

    One sigma pair (width, height) is drawn per batch from `sigma` (as Keras does); each
    image is blurred if a uniform draw falls below its probability drawn from `factor`.

    Args:
        factor: a number `f` in [0, 1] (the range `(0, f)`) or a pair: the blur probability.
        kernel_size: an odd integer or a pair (width, height) (default 3).
        sigma: a number `s` in [0, 1] (the range `(0, s)`) or a pair (default 1.0).
        value_range: `(low, high)` of the pixel values (default (0, 255)); outputs are clipped.
        data_format: "channels_last" (default) or "channels_first".
        seed: optional integer seed.

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad factor, sigma, kernel_size or value_range.
    """

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255),
                 data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        self.kernel_size = _kernel_size(self, kernel_size)
        self.sigma = keras_factor(self, sigma, (0.0, 1.0), arg="sigma")
        self.value_range = tuple(check_value_range(self, value_range))

    def _draw(self, key, x):
        k1, k2 = jax.random.split(key)
        sigma = jax.random.uniform(k2, (2,), minval=self.sigma[0], maxval=self.sigma[1]) + 1e-6
        return {"should_apply_blur": _per_image_probability(k1, x.shape[0], self.factor),
                "blur_factor": sigma}

    def _apply(self, x, t):
        blurred = ops_image.gaussian_blur(x, self.kernel_size, t["blur_factor"].astype(x.dtype),
                                          data_format="channels_last")
        y = _apply_mask(t["should_apply_blur"], blurred, x)
        return jnp.clip(y, self.value_range[0], self.value_range[1])

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "kernel_size": self.kernel_size, "sigma": self.sigma,
                    "value_range": self.value_range})
        return cfg


class Equalization(TwoPhaseLayer):
    """Histogram-equalize each channel during training (no randomness).

    As in Keras, a channel's histogram is taken over the whole batch, not image by image,
    and a channel with at most one occupied bin is left as it is.

    Args:
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        bins: number of histogram bins (default 256).
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape (float).

    Raises:
        ValueError: for a bad value_range or bins.

    Example:
        >>> y = Equalization()(np.random.rand(2, 8, 8, 3) * 255, training=True)
    """

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
            raise ValueError(f"Equalization layer '{self.name}' expected bins to be an integer "
                             f">= 2, received bins={bins!r}.")
        self.bins = int(bins)
        self.value_range = check_value_range(self, value_range)

    def _draw(self, key, x):
        return {}

    def _equalize(self, channel):
        lo, hi = self.value_range
        c = (channel - lo) * (255.0 / (hi - lo))  # work on the 0-255 scale, as Keras does
        idx = jnp.clip((c * (self.bins - 1) / 255.0).astype(jnp.int32), 0, self.bins - 1)
        hist = jnp.bincount(idx.reshape(-1), length=self.bins)
        cdf = jnp.cumsum(hist)
        cdf_min = cdf[jnp.argmax(cdf > 0)]
        denom = cdf[-1] - cdf_min
        denom = jnp.where(denom == 0, 1, denom)
        lut = jnp.clip(jnp.round((cdf - cdf_min) * 255 / denom), 0, 255)
        look = jnp.clip(c / 255.0 * (self.bins - 1), 0, self.bins - 1).astype(jnp.int32)
        eq = jnp.where(jnp.count_nonzero(hist) <= 1, c, jnp.take(lut, look).astype(c.dtype))
        return (eq * ((hi - lo) / 255.0) + lo).astype(channel.dtype)

    def _apply(self, x, t):
        return jnp.stack([self._equalize(x[..., i]) for i in range(x.shape[-1])], axis=-1)

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("seed")
        cfg.update({"bins": self.bins, "value_range": self.value_range})
        return cfg
