"""Signal operations of `keras.ops`: framing (extract_sequences) and the short-time Fourier
transform (stft / istft), complex values travelling as (real, imag) pairs as in Keras."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _check_positive(op, **values):
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{op}: argument `{name}` must be an integer >= 1, received "
                             f"{name}={v!r}.")


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of `sequence_length` samples every `sequence_stride` along the last axis.

    Args:
        x: signals, shape (..., length).
        sequence_length: samples per frame.
        sequence_stride: samples between frame starts.

    Returns:
        Shape (..., num_frames, sequence_length), num_frames = (length - sequence_length) //
        sequence_stride + 1.

    Raises:
        ValueError: for a non-positive length or stride.
    """
    _check_positive("extract_sequences", sequence_length=sequence_length,
                    sequence_stride=sequence_stride)
    x = jnp.asarray(x)
    n = (x.shape[-1] - sequence_length) // sequence_stride + 1
    if n < 1:
        raise ValueError(f"extract_sequences: signals of length {x.shape[-1]} are shorter than "
                         f"sequence_length={sequence_length}.")
    # a gather of (frame, offset) indices: exact for every dtype, and XLA fuses it
    idx = np.arange(n)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    return x[..., idx]


def _window(window, sequence_length, fft_length, dtype, op):
    """The analysis window, zero-padded to `fft_length` (centred), as Keras builds it."""
    if window is None:  # a boxcar over the whole FFT, as Keras (not zero-padded)
        return jnp.ones((fft_length,), dtype)
    if isinstance(window, str):
        n = np.arange(sequence_length)
        # periodic windows (scipy's get_window default), the STFT convention
        if window == "hann":
            win = 0.5 - 0.5 * np.cos(2 * np.pi * n / sequence_length)
        elif window == "hamming":
            win = 0.54 - 0.46 * np.cos(2 * np.pi * n / sequence_length)
        else:
            raise ValueError(f"{op}: a string `window` must be 'hann' or 'hamming', received "
                             f"window={window!r}.")
    else:
        win = window
    win = jnp.asarray(win, dtype)
    if win.ndim != 1 or win.shape[0] != sequence_length:
        raise ValueError(f"{op}: `window` must have shape ({sequence_length},) "
                         f"(sequence_length), received {tuple(win.shape)}.")
    left = (fft_length - sequence_length) // 2
    return jnp.pad(win, (left, fft_length - sequence_length - left))


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform of real signals along the last axis.

    Args:
        x: float32 or float64 signals, shape (..., length).
        sequence_length: window length in samples.
        sequence_stride: hop between windows.
        fft_length: FFT size (>= sequence_length); the window is zero-padded to it.
        window: "hann", "hamming", an array of shape (sequence_length,), or None (boxcar).
        center: reflect-pad the signal by fft_length // 2 on both sides first.

    Returns:
        (real, imag), each of shape (..., num_frames, fft_length // 2 + 1).

    Raises:
        TypeError: for non-float signals.
        ValueError: for fft_length < sequence_length or a bad window.
    """
    x = jnp.asarray(x)
    if x.dtype not in (jnp.float32, jnp.float64):
        raise TypeError(f"stft: expected float32 or float64 signals, received dtype {x.dtype}. "
                        "Cast them first.")
    _check_positive("stft", sequence_length=sequence_length, sequence_stride=sequence_stride,
                    fft_length=fft_length)
    if fft_length < sequence_length:
        raise ValueError(f"stft: fft_length ({fft_length}) must be >= sequence_length "
                         f"({sequence_length}).")
    win = _window(window, sequence_length, fft_length, x.dtype, "stft")
    if center:
        pads = [(0, 0)] * (x.ndim - 1) + [(fft_length // 2, fft_length // 2)]
        x = jnp.pad(x, pads, mode="reflect")
    frames = extract_sequences(x, fft_length, sequence_stride) * win
    spec = jnp.fft.rfft(frames, n=fft_length, axis=-1)
    return jnp.real(spec).astype(x.dtype), jnp.imag(spec).astype(x.dtype)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
          center=True):
    """Inverse of `stft`: overlap-add of the windowed inverse FFTs, normalised by the summed
    squared window.

    Args:
        x: (real, imag) pair, each of shape (..., num_frames, fft_length // 2 + 1).
        sequence_length, sequence_stride, fft_length, window, center: as given to `stft`.
        length: the output length (None: everything, less the centre padding).

    Returns:
        The signals, shape (..., length).

    Raises:
        ValueError: when `x` is not a (real, imag) pair of equal shapes of rank >= 2.
    """
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError("istft: `x` must be a (real, imag) pair of arrays, received "
                         f"{type(x).__name__}.")
    real, imag = jnp.asarray(x[0]), jnp.asarray(x[1])
    if real.shape != imag.shape or real.ndim < 2:
        raise ValueError("istft: real and imag parts must share one shape of rank >= 2, "
                         f"received {tuple(real.shape)} and {tuple(imag.shape)}.")
    _check_positive("istft", sequence_length=sequence_length, sequence_stride=sequence_stride,
                    fft_length=fft_length)
    dtype = real.dtype if jnp.issubdtype(real.dtype, jnp.floating) else jnp.float32
    win = _window(window, sequence_length, fft_length, dtype, "istft")
    n_frames = real.shape[-2]
    frames = jnp.fft.irfft(real + 1j * imag, n=fft_length, axis=-1).astype(dtype) * win
    total = fft_length + sequence_stride * (n_frames - 1)
    idx = (np.arange(n_frames)[:, None] * sequence_stride + np.arange(fft_length)[None]).ravel()
    batch = frames.shape[:-2]
    flat = frames.reshape(-1, n_frames * fft_length)
    signal = jax.vmap(lambda f: jnp.zeros(total, dtype).at[idx].add(f))(flat)
    norm = jnp.zeros(total, dtype).at[idx].add(jnp.tile(win * win, n_frames))
    # samples no window covers stay unnormalised (as scipy's istft)
    signal = signal / jnp.where(norm > 1e-10, norm, 1.0)
    if window is None:
        signal = signal * fft_length / sequence_stride
    signal = signal.reshape(batch + (total,))
    start = fft_length // 2 if center else 0
    if length is not None:
        end = start + length
    elif center:
        end = total - fft_length // 2
    else:
        end = total
    return signal[..., start:end]
