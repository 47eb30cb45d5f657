"""Audio front ends: STFTSpectrogram (a trainable STFT by convolution) and MelSpectrogram.

STFTSpectrogram holds the windowed Fourier bases as convolution kernels (the `STFT`
initializer), so they can be fine-tuned; MelSpectrogram is a fixed transform: `stft`,
magnitude to a power, a triangular mel filter bank (HTK mel scale), and decibels.
"""
from __future__ import annotations

import math
import warnings

import jax.numpy as jnp
import numpy as np

from trine.core.layer import InputSpec, Layer
from trine.initializers.stft import STFT
from trine.layers._int_args import is_positive_int
from trine.ops.convolution import convolve, normalize_data_format
from trine.ops_signal import stft

__all__ = ["MelSpectrogram", "STFTSpectrogram"]

_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")
_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _epsilon() -> float:
    from trine.config import epsilon
    return epsilon()


class STFTSpectrogram(Layer):
    """Spectrogram of multi-channel signals by a short-time Fourier transform convolution.

    Input `(batch, time, channels)` (channels_last) or `(batch, channels, time)`.

    Args:
        mode: "log" (default, log magnitude), "magnitude", "psd" (power spectral density),
            "real", "imag", "angle", or "stft" (real and imaginary parts concatenated).
        frame_length: window length in samples (default 256).
        frame_step: hop between windows; default `frame_length // 2`.
        fft_length: FFT size >= frame_length; default the next power of two.
        window: a scipy window name, or None for a rectangular window (default "hann").
        periodic: use a periodic (DFT-even) window.
        scaling: "density" (default), "spectrum" or None, as the `STFT` initializer.
        padding: "valid" or "same" (of the frames' convolution).
        expand_dims: keep frequencies and channels on separate axes:
            `(batch, time, freq, channels)` instead of `(batch, time, channels * freq)`.
        data_format: "channels_last" or "channels_first"; default from `trine.config`.

    Returns:
        `(batch, frames, channels * freq)` (channels_last; `(batch, channels * freq, frames)`
        channels_first), or the expanded layouts above; freq is `fft_length // 2 + 1`
        (doubled for "stft").

    Raises:
        ValueError: on an invalid argument. TypeError: for non-float inputs.

    Example:
        >>> STFTSpectrogram(frame_length=8, frame_step=4)(jnp.ones((2, 32, 1))).shape
        (2, 7, 5)
    """

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None,
                 window="hann", periodic=False, scaling="density", padding="valid",
                 expand_dims=False, data_format=None, **kwargs):
        label = "STFTSpectrogram layer"
        if not is_positive_int(frame_length):
            raise ValueError(f"{label}: `frame_length` must be a positive integer, received "
                             f"frame_length={frame_length!r}.")
        if frame_step is not None and (not is_positive_int(frame_step)
                                       or frame_step > frame_length):
            raise ValueError(
                f"{label}: `frame_step` must be a positive integer not greater than "
                f"`frame_length`, received frame_step={frame_step!r}, "
                f"frame_length={frame_length}.")
        if fft_length is not None and (not is_positive_int(fft_length)
                                       or fft_length < frame_length):
            raise ValueError(
                f"{label}: `fft_length` must be an integer >= `frame_length`, received "
                f"fft_length={fft_length!r}, frame_length={frame_length}.")
        if fft_length is not None and fft_length & -fft_length != fft_length:
            warnings.warn(f"{label}: `fft_length` is best a power of two, received "
                          f"fft_length={fft_length}.", stacklevel=2)
        if mode not in _MODES:
            raise ValueError(f"{label}: `mode` must be one of {', '.join(_MODES)}, received "
                             f"mode={mode!r}.")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(f"{label}: `scaling` must be None, 'density' or 'spectrum', "
                             f"received scaling={scaling!r}.")
        if padding not in ("valid", "same"):
            raise ValueError(f"{label}: `padding` must be 'valid' or 'same', received "
                             f"padding={padding!r}.")
        STFT("real", window, scaling, periodic)  # validates the window name early
        super().__init__(**kwargs)
        self.mode = mode
        self.frame_length = int(frame_length)
        self.frame_step = None if frame_step is None else int(frame_step)
        self._frame_step = self.frame_step or self.frame_length // 2
        self.fft_length = None if fft_length is None else int(fft_length)
        self._fft_length = self.fft_length or 2 ** int(math.ceil(math.log2(self.frame_length)))
        self.window = window
        self.periodic = bool(periodic)
        self.scaling = scaling
        self.padding = padding
        self.expand_dims = bool(expand_dims)
        self.data_format = normalize_data_format(data_format, label)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        self.real_kernel = self.imag_kernel = None
        if self.mode != "imag":
            self.real_kernel = self.add_weight(
                name="real_kernel", shape=shape,
                initializer=STFT("real", self.window, self.scaling, self.periodic))
        if self.mode != "real":
            self.imag_kernel = self.add_weight(
                name="imag_kernel", shape=shape,
                initializer=STFT("imag", self.window, self.scaling, self.periodic))
        self.built = True

    def _apply_conv(self, x, kernel):
        """Every channel framed and transformed alone: `(batch, channels, freq, frames)`."""
        last = self.data_format == "channels_last"
        if last:
            batch, time, channels = x.shape
            x = jnp.reshape(jnp.swapaxes(x, 1, 2), (-1, time, 1))
        else:
            batch, channels, time = x.shape
            x = jnp.reshape(x, (-1, 1, time))
        k = jnp.asarray(kernel.value).astype(x.dtype)
        y = convolve(x, k, (self._frame_step,), self.padding, (1,), self.data_format)
        if last:
            y = jnp.swapaxes(y, 1, 2)
        return jnp.reshape(y, (batch, channels) + tuple(y.shape[1:]))

    def _layout(self, y):
        batch, channels, freq, frames = y.shape
        if self.expand_dims:
            return (jnp.transpose(y, (0, 3, 2, 1)) if self.data_format == "channels_last"
                    else jnp.transpose(y, (0, 1, 3, 2)))
        y = jnp.reshape(y, (batch, channels * freq, frames))
        return jnp.swapaxes(y, 1, 2) if self.data_format == "channels_last" else y

    def call(self, inputs):
        x = jnp.asarray(inputs)
        if jnp.dtype(x.dtype).name not in _FLOATS:
            raise TypeError(
                f"STFTSpectrogram layer '{self.name}' expected float16, float32 or float64 "
                f"signals, received dtype {x.dtype}. Cast them first, e.g. x.astype('float32').")
        real = imag = None
        if self.mode != "imag":
            real = self._apply_conv(x, self.real_kernel)
        if self.mode != "real":
            imag = self._apply_conv(x, self.imag_kernel)
        if self.mode == "real":
            return self._layout(real)
        if self.mode == "imag":
            return self._layout(imag)
        if self.mode == "angle":
            return self._layout(jnp.arctan2(imag, real))
        if self.mode == "stft":
            return self._layout(jnp.concatenate([real, imag], axis=2))
        power = jnp.square(real) + jnp.square(imag)
        if self.mode == "psd":
            # one-sided density: every bin but DC and Nyquist counts its mirror image twice
            inner = jnp.pad(power[:, :, 1:-1, :], [(0, 0), (0, 0), (1, 1), (0, 0)])
            return self._layout(power + inner)
        eps = _epsilon()
        magnitude = self._layout(jnp.sqrt(jnp.maximum(power, eps)))
        if self.mode == "magnitude":
            return magnitude
        return jnp.log(jnp.maximum(magnitude, eps))

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"mode": self.mode, "frame_length": self.frame_length,
                    "frame_step": self.frame_step, "fft_length": self.fft_length,
                    "window": self.window, "periodic": self.periodic, "scaling": self.scaling,
                    "padding": self.padding, "data_format": self.data_format,
                    "expand_dims": self.expand_dims})
        return cfg


_MEL_BREAK_HZ = 700.0
_MEL_HIGH_Q = 1127.0


def _hz_to_mel(f):
    return _MEL_HIGH_Q * np.log(1.0 + f / _MEL_BREAK_HZ)


def linear_to_mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sampling_rate,
                                lower_edge_hertz, upper_edge_hertz) -> np.ndarray:
    """`(num_spectrogram_bins, num_mel_bins)` triangular filters on the HTK mel scale.

    Each filter peaks at 1.0; the DC bin gets no weight (as TensorFlow / Keras).
    """
    f32 = np.float32
    nyquist = f32(sampling_rate) / f32(2.0)
    freqs = np.linspace(f32(0.0), nyquist, num_spectrogram_bins, dtype=f32)[1:]
    bins_mel = _hz_to_mel(freqs).astype(f32)[:, None]
    edges = np.linspace(_hz_to_mel(f32(lower_edge_hertz)), _hz_to_mel(f32(upper_edge_hertz)),
                        num_mel_bins + 2, dtype=f32)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(f32(0.0), np.minimum(lower_slopes, upper_slopes)).astype(f32)
    return np.pad(weights, [(1, 0), (0, 0)])


class MelSpectrogram(Layer):
    """Mel-scaled power spectrogram of mono signals, in decibels by default.

    Input `(batch, samples)` or `(samples,)`; output `(batch, num_mel_bins, frames)` with
    `frames = 1 + samples // sequence_stride` (the signal is reflect-padded by
    `fft_length // 2` on both sides).

    Args:
        fft_length: FFT size (default 2048).
        sequence_stride: hop between frames (default 512).
        sequence_length: window length (default `fft_length`), <= fft_length.
        window: "hann" (default), "hamming" or None.
        sampling_rate: samples per second (default 16000).
        num_mel_bins: number of mel filters (default 128).
        min_freq / max_freq: band edges in Hz (default 20 / sampling_rate / 2).
        power_to_db: convert to decibels (default True).
        top_db: dynamic range kept below the maximum of the whole batch, in dB (default 80).
        mag_exp: exponent of the magnitude (2 gives power; default 2.0).
        min_power: floor before the logarithm (default 1e-10).
        ref_power: the power of 0 dB (default 1.0).

    Returns:
        `(batch, num_mel_bins, frames)` in the layer's compute dtype.

    Raises:
        ValueError: if `fft_length < sequence_length` or an argument is out of range.

    Example:
        >>> MelSpectrogram(fft_length=64, sequence_stride=16, num_mel_bins=8)(
        ...     jnp.ones((2, 128))).shape
        (2, 8, 9)
    """

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None,
                 window="hann", sampling_rate=16000, num_mel_bins=128, min_freq=20.0,
                 max_freq=None, power_to_db=True, top_db=80.0, mag_exp=2.0, min_power=1e-10,
                 ref_power=1.0, **kwargs):
        label = "MelSpectrogram layer"
        for arg, v in (("fft_length", fft_length), ("sequence_stride", sequence_stride),
                       ("num_mel_bins", num_mel_bins)):
            if not is_positive_int(v):
                raise ValueError(f"{label}: `{arg}` must be a positive integer, received "
                                 f"{arg}={v!r}.")
        self.fft_length = int(fft_length)
        self.sequence_stride = int(sequence_stride)
        self.sequence_length = int(sequence_length or fft_length)
        if self.fft_length < self.sequence_length:
            raise ValueError(
                f"{label}: `fft_length` must be >= `sequence_length`, received "
                f"sequence_length={self.sequence_length}, fft_length={self.fft_length}.")
        if not isinstance(sampling_rate, (int, float, np.integer, np.floating)) or \
                sampling_rate <= 0:
            raise ValueError(f"{label}: `sampling_rate` must be a positive number, received "
                             f"sampling_rate={sampling_rate!r}.")
        self.window = window
        self.sampling_rate = sampling_rate
        self.num_mel_bins = int(num_mel_bins)
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        if not 0 <= self.min_freq < self.max_freq:
            raise ValueError(f"{label}: expected 0 <= min_freq < max_freq, received "
                             f"min_freq={min_freq!r}, max_freq={self.max_freq!r}.")
        self.power_to_db = bool(power_to_db)
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power
        super().__init__(**kwargs)

    def call(self, inputs):
        work = self.compute_dtype if self.compute_dtype in ("float32", "float64") else "float32"
        x = jnp.asarray(inputs).astype(work)
        real, imag = stft(x, self.sequence_length, self.sequence_stride, self.fft_length,
                          window=self.window, center=True)
        spec = jnp.power(jnp.sqrt(jnp.square(real) + jnp.square(imag)), self.mag_exp)
        mel = linear_to_mel_weight_matrix(self.num_mel_bins, spec.shape[-1], self.sampling_rate,
                                          self.min_freq, self.max_freq)
        out = jnp.tensordot(spec, jnp.asarray(mel, spec.dtype), axes=1)
        if self.power_to_db:
            out = 10.0 * jnp.log10(jnp.maximum(out, self.min_power))
            ref = max(abs(self.ref_power), self.min_power)
            out = out - 10.0 * jnp.log10(jnp.asarray(ref, out.dtype))
            out = jnp.maximum(out, jnp.max(out) - self.top_db)
        return jnp.swapaxes(out, -1, -2).astype(self.compute_dtype)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"fft_length": self.fft_length, "sequence_stride": self.sequence_stride,
                    "sequence_length": self.sequence_length, "window": self.window,
                    "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins,
                    "min_freq": self.min_freq, "max_freq": self.max_freq,
                    "power_to_db": self.power_to_db, "top_db": self.top_db,
                    "mag_exp": self.mag_exp, "min_power": self.min_power,
                    "ref_power": self.ref_power})
        return cfg
