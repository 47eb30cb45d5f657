"""RandomElasticTransform: smooth random displacement fields (Simard et al., 2003)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine import random as trine_random
from trine.layers.augmentation._base import check_value_range
from trine.layers.augmentation._two_phase import TwoPhaseLayer, keras_factor

__all__ = ["RandomElasticTransform"]

_INTERPOLATION = {"nearest": 0, "bilinear": 1}
_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _kernel_size(sigma: float) -> int:
    return int(6 * float(sigma)) | 1


def _blur(field, sigma, size):
    """Zero-padded "same" Gaussian blur of `(n, h, w)` fields; `size` static, `sigma` may be traced."""
    t = jnp.arange(size, dtype=field.dtype) - (size - 1) / 2
    g = jnp.exp(-0.5 * (t / sigma) ** 2)
    g = g / jnp.sum(g)
    k = jnp.outer(g, g)[:, :, None, None]
    return jax.lax.conv_general_dilated(field[..., None], k, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))[..., 0]


class RandomElasticTransform(TwoPhaseLayer):
    """Distort images with a random, smooth displacement field, in training only.

    Each image is transformed with probability drawn in `factor`; one distortion strength
    `d` in `scale` per batch sets the displacement `alpha = 0.1 d max(h, w)` and smoothness
    `sigma = 0.05 d min(h, w)` of a Gaussian-blurred normal field (the same field moves both
    axes, as Keras). Results are clipped to `value_range`.

    Args:
        factor: probability range of transforming an image (a number f means (0, f)).
        scale: range of the distortion strength in [0, 1] (default 1.0).
        interpolation: "bilinear" (default) or "nearest".
        fill_mode: "reflect" (default), "constant", "nearest", "wrap" or "mirror".
        fill_value: the value outside the image with `fill_mode="constant"`.
        value_range: `(low, high)` of the pixel values (default (0, 255)).
        seed: optional integer seed.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        Images of the input's shape.

    Raises:
        ValueError: for a bad factor, scale or value_range.
        NotImplementedError: for an unknown interpolation or fill_mode (as Keras).

    Example:
        >>> y = RandomElasticTransform(seed=1)(np.random.rand(2, 16, 16, 3) * 255,
        ...                                    training=True)
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect",
                 fill_value=0.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor(self, factor, (0.0, 1.0))
        self.scale = keras_factor(self, scale, (0.0, 1.0), arg="scale")
        if interpolation not in _INTERPOLATION:
            raise NotImplementedError(
                f"RandomElasticTransform layer '{self.name}': unknown interpolation "
                f"{interpolation!r}; expected one of {sorted(_INTERPOLATION)}.")
        if fill_mode not in _FILL_MODES:
            raise NotImplementedError(
                f"RandomElasticTransform layer '{self.name}': unknown fill_mode {fill_mode!r}; "
                f"expected one of {list(_FILL_MODES)}.")
        self.interpolation = interpolation
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.value_range = check_value_range(self, value_range)

    def _draw(self, key, x):
        n = x.shape[0]
        kp, kt, kd, kf = jax.random.split(key, 4)
        prob = jax.random.uniform(kp, (n,), minval=self.factor[0], maxval=self.factor[1])
        apply = jax.random.uniform(kt, (n,)) < prob
        d = jax.random.uniform(kd, (), minval=self.scale[0], maxval=self.scale[1])
        return {"apply_transform": apply, "distortion_factor": d, "field_key": kf}

    def _apply(self, x, t):
        if self.scale[1] == 0 or self.factor[1] == 0:
            return x
        n, h, w, _ = x.shape
        d = t["distortion_factor"]
        alpha = max(h, w) * 0.1 * d
        sigma = min(h, w) * 0.05 * d
        try:  # a concrete strength: the kernel Keras would use
            size = _kernel_size(sigma)
        except (TypeError, jax.errors.ConcretizationTypeError):
            # traced (inside fit): the kernel of the strongest distortion, a static size
            size = _kernel_size(min(h, w) * 0.05 * self.scale[1])
        sigma = jnp.maximum(jnp.asarray(sigma, x.dtype), 1e-6)
        field = trine_random.normal((n, h, w), dtype=x.dtype, seed=t["field_key"]) * sigma
        field = _blur(field, sigma, size)
        yy, xx = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
        rows = yy[None] + alpha * field
        cols = xx[None] + alpha * field
        order = _INTERPOLATION[self.interpolation]

        def one(image, r, c):
            def channel(ch):
                return jax.scipy.ndimage.map_coordinates(ch, [r, c], order=order,
                                                         mode=self.fill_mode,
                                                         cval=self.fill_value)
            return jnp.moveaxis(jax.vmap(channel)(jnp.moveaxis(image, -1, 0)), 0, -1)

        moved = jax.vmap(one)(x, rows, cols).astype(x.dtype)
        out = jnp.where(t["apply_transform"][:, None, None, None], moved, x)
        return jnp.clip(out, self.value_range[0], self.value_range[1]).astype(x.dtype)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"factor": self.factor, "scale": self.scale,
                    "interpolation": self.interpolation, "fill_mode": self.fill_mode,
                    "fill_value": self.fill_value, "value_range": self.value_range})
        return cfg
