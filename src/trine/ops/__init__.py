"""Array operations for layer code (Keras `keras.ops`), on jax.numpy.

Every function of `jax.numpy` is available under its own name, plus `jax.nn`'s activations
and the Keras operations written out below (control flow, indexing, nn, linalg, fft, ...),
with Keras's argument names, order and defaults. Arguments that are trine Variables are
read as their values, so `ops.matmul(x, self.kernel)` works inside `call` as in Keras; an
array op called on symbolic tensors (a Functional graph being built) becomes a graph node
that is saved by the op's name.

The Keras sub-namespaces exist too: `ops.numpy`, `ops.nn`, `ops.linalg`, `ops.math`,
`ops.core` and `ops.image` (e.g. `ops.nn.relu`, `from trine.ops.linalg import qr`).
"""
from __future__ import annotations

import sys
import types

import jax
import jax.numpy as jnp

# The operations, one module per Keras group; each module's `__all__` lists what it adds here.
# Several shadow Python builtins (`sum`, `max`, `min`, `abs`, `round`, `all`, `any`, `slice`,
# `map`, ...): inside those modules the builtins are spelled `_bi.<name>`.
from trine.ops._core import *  # noqa: F401,F403
from trine.ops._dispatch import _NN, _wrap
from trine.ops._image import *  # noqa: F401,F403
from trine.ops._image import (  # noqa: F401  (the namespace `ops.image` names them)
    _image_map_coordinates, _image_resize, _image_rgb_to_grayscale)
from trine.ops._linalg import *  # noqa: F401,F403
from trine.ops._math import *  # noqa: F401,F403
from trine.ops._nn import *  # noqa: F401,F403
from trine.ops._nn_spatial import *  # noqa: F401,F403
from trine.ops._numpy import *  # noqa: F401,F403


# ============================================================================ namespaces
class _Namespace(types.ModuleType):
    """`trine.ops.<group>` (Keras's `keras.ops.nn`, ...): names forwarded to `trine.ops`."""

    def __init__(self, group, names, doc, open_names=None):
        super().__init__(f"{__name__}.{group}", doc)
        self._group = group
        self._names = dict(names)
        self._open = open_names

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        target = self._names.get(name)
        if target is None and self._open is not None and self._open(name):
            target = name
        if target is None:
            raise AttributeError(f"trine.ops.{self._group} has no operation {name!r}.")
        fn = getattr(sys.modules[__name__], target)
        setattr(self, name, fn)
        return fn

    def __dir__(self):
        names = set(self._names)
        if self._open is not None:
            names.update(n for n in dir(jnp) if self._open(n))
        return sorted(names)


def _jnp_function(name):
    if name.startswith("_"):
        return False
    a = getattr(jnp, name, None)
    return callable(a) and not isinstance(a, (type, types.ModuleType))


_NUMPY_EXTRA = ("divide_no_nan", "get_item", "slogdet", "view")
_NN_NAMES = (
    "adaptive_average_pool", "adaptive_max_pool", "ctc_decode", "fold", "unfold",
    "average_pool", "batch_normalization", "binary_crossentropy", "categorical_crossentropy",
    "celu", "conv", "conv_transpose", "ctc_loss", "depth_to_space", "depthwise_conv",
    "dot_product_attention", "elu", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "layer_normalization", "leaky_relu", "log_sigmoid",
    "log_softmax", "max_pool", "moments", "multi_hot", "normalize", "one_hot", "polar", "psnr",
    "relu", "relu6", "rms_normalization", "selu", "separable_conv", "sigmoid", "silu",
    "soft_shrink", "softmax", "softplus", "softsign", "space_to_depth",
    "sparse_categorical_crossentropy", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "swish", "tanh_shrink", "threshold")
_LINALG_NAMES = ("cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq",
                 "lu_factor", "matrix_rank", "norm", "pinv", "qr", "solve", "solve_triangular",
                 "svd")
_MATH_NAMES = ("cdist", "erf", "erfc", "erfinv", "fft", "fft2", "ifft2", "in_top_k", "irfft",
               "logdet", "logsumexp", "rfft", "rsqrt", "segment_max", "segment_min",
               "segment_prod", "segment_sum", "top_k", "view_as_complex", "view_as_real")
_CORE_NAMES = ("associative_scan", "cast", "cond", "convert_to_numpy", "convert_to_tensor",
               "custom_gradient", "dtype", "fori_loop", "is_tensor", "map", "saturate_cast",
               "scan", "scatter", "scatter_update", "shape", "slice", "slice_update",
               "stop_gradient", "switch", "unstack", "vectorized_map", "while_loop")
_IMAGE_NAMES = {"resize": "_image_resize", "rgb_to_grayscale": "_image_rgb_to_grayscale",
                "map_coordinates": "_image_map_coordinates"}
# Ops written in their own modules (loaded on first use): ops name -> (module, function)
_IMAGE_MORE = ("affine_transform", "crop_images", "elastic_transform", "extract_patches",
               "extract_patches_3d", "gaussian_blur", "hsv_to_rgb", "pad_images",
               "perspective_transform", "rgb_to_hsv", "scale_and_translate", "sobel_edges", "ssim")
_IMAGE_NAMES.update({n: f"_image_{n}" for n in _IMAGE_MORE})
_ELSEWHERE = {f"_image_{n}": ("trine.ops_image", n) for n in _IMAGE_MORE}
_ELSEWHERE.update({n: ("trine.ops_signal", n) for n in ("extract_sequences", "istft", "stft")})
_ELSEWHERE.update({n: ("trine.ops_extra", n) for n in (
    "adaptive_average_pool", "adaptive_max_pool", "ctc_decode", "fold", "rearrange", "unfold",
    "view")})


def _names(seq):
    return {n: n for n in seq}


numpy = _Namespace("numpy", _names(_NUMPY_EXTRA), "NumPy-style operations (keras.ops.numpy).",
                   open_names=_jnp_function)
nn = _Namespace("nn", _names(_NN_NAMES), "Neural-network operations (keras.ops.nn).")
linalg = _Namespace("linalg", _names(_LINALG_NAMES), "Linear algebra (keras.ops.linalg).")
math = _Namespace("math", _names(_MATH_NAMES), "Math operations (Keras's ops.math group).")
core = _Namespace("core", _names(_CORE_NAMES), "Core and control-flow operations.")
image = _Namespace("image", _IMAGE_NAMES, "Image operations (keras.ops.image).")
for _ns in (numpy, nn, linalg, math, core, image):
    sys.modules[_ns.__name__] = _ns
del _ns


def __getattr__(name):
    if name in _ELSEWHERE:
        import importlib
        module, attr = _ELSEWHERE[name]
        fn = _wrap(getattr(importlib.import_module(module), attr), name)
    elif name in _NN and hasattr(jax.nn, name):
        fn = _wrap(getattr(jax.nn, name), name)
    elif not name.startswith("_") and hasattr(jnp, name) and not isinstance(
            getattr(jnp, name), types.ModuleType):
        fn = _wrap(getattr(jnp, name), name)
    else:
        raise AttributeError(f"trine.ops has no operation {name!r} (jax.numpy has none either).")
    globals()[name] = fn
    return fn

