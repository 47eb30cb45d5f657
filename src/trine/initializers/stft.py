"""The STFT initializer: a convolution kernel whose filters are windowed DFT bases.

A `Conv1D` with this kernel of shape `(frame_length, input_channels, fft_length)` computes
the real or imaginary part of a short-time Fourier transform, as Keras's
`keras.initializers.STFT` (also exported as `stft` and `STFTInitializer`). Re-exported from
`trine.initializers`.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from trine.initializers.base import Initializer

__all__ = ["STFT"]


def _scipy_window(name, length: int, periodic: bool):
    import scipy.signal  # a JAX dependency; imported here so `import trine` stays fast
    return scipy.signal.get_window(name, length, fftbins=periodic)


class STFT(Initializer):
    """Windowed Fourier-basis kernel for a short-time Fourier transform by convolution.

    `kernel[t, c, f] = trig(-2 pi t f / ((fft_length - 1) * 2)) * window[t] / scale`, with
    `trig` the cosine (`side="real"`) or sine (`side="imag"`), for a shape
    `(frame_length, input_channels, fft_length)`.

    Args:
        side: "real" or "imag". Default "real".
        window: a scipy window name ("hann", "hamming", ...), an array of length
            `frame_length`, or None for no window. Default "hann".
        scaling: "density" (divide by the window's L2 norm), "spectrum" (by its L1 norm) or
            None. Default "density".
        periodic: a periodic (DFT-even) window instead of a symmetric one. Default False.

    Raises:
        ValueError: for an unknown side, scaling or window name, or (when called) a shape
            that is not rank 3 or a window of the wrong length.

    Example:
        >>> STFT(side="imag", window="hamming")((16, 1, 9)).shape
        (16, 1, 9)
    """

    def __init__(self, side: str = "real", window="hann", scaling: str | None = "density",
                 periodic: bool = False):
        if side not in ("real", "imag"):
            raise ValueError(f"STFT: side must be 'real' or 'imag', received side={side!r}.")
        if isinstance(window, str):
            try:
                _scipy_window(window, 1, periodic)
            except ValueError as e:
                raise ValueError(
                    f"STFT: unknown window {window!r} ({e}). Pass a scipy.signal window name "
                    "such as 'hann' or 'hamming', an array, or None.") from None
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(
                "STFT: scaling must be None, 'density' or 'spectrum', received "
                f"scaling={scaling!r}.")
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = periodic

    def __call__(self, shape, dtype=None, key=None):
        dtype = jnp.dtype("float32" if dtype is None else dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"STFT builds a float kernel, received dtype={dtype.name}. Use a "
                             "float dtype such as 'float32'.")
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3:
            raise ValueError(
                "STFT expects a kernel shape (frame_length, input_channels, fft_length), "
                f"received shape={shape}.")
        frame_length, _, fft_length = shape
        win, scale = None, 1
        if self.window is not None:
            win = self.window
            if isinstance(win, str):
                win = _scipy_window(win, frame_length, self.periodic)
            win = jnp.asarray(np.asarray(win), dtype)
            if win.ndim != 1 or win.shape[0] != frame_length:
                raise ValueError(
                    f"STFT: the window must have shape ({frame_length},) (frame_length), "
                    f"received shape {tuple(win.shape)}.")
            win = win.reshape(frame_length, 1, 1)
            if self.scaling == "density":
                scale = jnp.sqrt(jnp.sum(jnp.square(win)))
            elif self.scaling == "spectrum":
                scale = jnp.sum(jnp.abs(win))
        freq = jnp.arange(fft_length, dtype=dtype).reshape(1, 1, fft_length) / (
            (fft_length - 1) * 2)
        time = jnp.arange(frame_length, dtype=dtype).reshape(frame_length, 1, 1)
        args = (-2 * time) * freq * jnp.arccos(jnp.asarray(-1, dtype))
        kernel = jnp.cos(args) if self.side == "real" else jnp.sin(args)
        kernel = kernel.astype(dtype)
        if win is not None:
            kernel = (kernel * win) / scale
        # one filter bank per input channel (Keras leaves the channel axis at 1)
        return jnp.broadcast_to(kernel, shape).astype(dtype)

    def get_config(self) -> dict:
        window = self.window
        if isinstance(window, (np.ndarray, jnp.ndarray)):
            window = np.asarray(window).tolist()
        return {"side": self.side, "window": window, "periodic": self.periodic,
                "scaling": self.scaling}
