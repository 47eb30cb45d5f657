"""Convolutional LSTM layers: ConvLSTM1D, ConvLSTM2D, ConvLSTM3D (Shi et al., 2015).

An LSTM whose input and recurrent transformations are convolutions. Weights have Keras's
layouts so they transfer unchanged: kernel `kernel_size + (in_channels, 4 * filters)`,
recurrent_kernel `kernel_size + (filters, 4 * filters)`, bias `(4 * filters,)`, gates in the
order input, forget, cell candidate, output (i, f, c, o). The recurrent convolution always
uses stride 1, no dilation and "same" padding, so the state keeps the output's spatial shape.

The input convolution of every timestep runs before the time loop as one batched
convolution; only the recurrent convolution runs inside the `jax.lax.scan`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine import activations, constraints, initializers, regularizers
from trine.core.layer import InputSpec, Layer, unique_name
from trine.layers.conv import _conv_geometry
from trine.layers.recurrent.cells import add_lstm_bias, init_recurrent_weight_args
from trine.ops.convolution import conv_output_length, convolve
from trine.layers.recurrent.rnn import RNN, _scan

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]


def _ser(mod, obj):
    return mod.serialize(obj) if obj is not None else None


def _gate_masks(key, shape, dtype, rate):
    """Four dropout masks (one per gate), scaled by 1 / keep as Keras's dropout."""
    keep = 1.0 - rate
    return [jax.random.bernoulli(k, keep, shape).astype(dtype) / jnp.asarray(keep, dtype)
            for k in jax.random.split(key, 4)]


class ConvLSTMCell(Layer):
    """One step of a convolutional LSTM (the cell behind `ConvLSTM1D/2D/3D`).

    Args:
        rank: number of spatial axes (1, 2 or 3).
        filters: channels of the output and of the states h and c.
        kernel_size / strides / padding / data_format / dilation_rate: the input
            convolution, as in `Conv2D`.
        activation / recurrent_activation: default "tanh" / "sigmoid".
        use_bias, kernel/recurrent/bias initializers, regularizers and constraints,
        unit_forget_bias, dropout, recurrent_dropout, seed: as in `LSTMCell`.

    Returns:
        `call(inputs, [h, c])` returns `(h, [h, c])`.

    Raises:
        ValueError: on a bad filters / kernel / stride / padding / rate argument.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 owner="ConvLSTM", **kwargs):
        super().__init__(**kwargs)
        label = f"{owner} layer"
        if rank not in (1, 2, 3):
            raise ValueError(f"{label}: rank must be 1, 2 or 3, received rank={rank!r}.")
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(
                f"{label}: argument `filters` must be a positive integer, received "
                f"filters={filters!r}. Pass e.g. filters=16.")
        self.rank = rank
        self.filters = int(filters)
        (self.kernel_size, self.strides, self.dilation_rate, self.padding,
         self.data_format) = _conv_geometry(label, rank, kernel_size, strides, dilation_rate,
                                            padding, data_format)
        init_recurrent_weight_args(
            self, owner, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, seed)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._owner = owner
        self.state_size = [self.filters, self.filters]
        self.output_size = self.filters
        self._primed_masks = None

    # -- shapes ----------------------------------------------------------------------
    @property
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _spatial(self, shape):
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def output_spatial(self, spatial):
        """The spatial shape of the output (and states) for inputs of spatial shape `spatial`."""
        return tuple(conv_output_length(n, k, s, self.padding, d) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def state_shape(self, batch, spatial):
        out = self.output_spatial(spatial)
        if self.data_format == "channels_last":
            return (batch,) + out + (self.filters,)
        return (batch, self.filters) + out

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != self.rank + 2:
            raise ValueError(
                f"{self._owner} layer expected each timestep to have rank {self.rank + 2} "
                f"(batch, {self.rank} spatial axes, channels), received step shape {shape}.")
        spatial = self._spatial(shape)
        ch = shape[self._channel_axis]
        if None in spatial or ch is None:
            raise ValueError(
                f"{self._owner} layer needs static spatial and channel sizes, received step "
                f"shape {shape}. Give the Input a full shape, e.g. shape=(time, 8, 8, 3).")
        out = self.output_spatial(spatial)
        if any(o <= 0 for o in out):
            raise ValueError(
                f"{self._owner} layer: inputs of spatial shape {spatial} are too small for "
                f"kernel_size={self.kernel_size}, dilation_rate={self.dilation_rate}, "
                f"strides={self.strides} with padding={self.padding!r}. Use larger inputs, a "
                "smaller kernel, or padding='same'.")
        self.spatial_dims = spatial
        self.input_dim = int(ch)
        f = self.filters
        self.kernel = self.add_weight(
            shape=self.kernel_size + (self.input_dim, 4 * f), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint, name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=self.kernel_size + (f, 4 * f), initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
            name="recurrent_kernel")
        add_lstm_bias(self, f)
        self.built = True

    def get_initial_state(self, batch_size=None):
        """Zero `[h, c]` of the output's shape."""
        shape = self.state_shape(batch_size, self.spatial_dims)
        return [jnp.zeros(shape, self.compute_dtype), jnp.zeros(shape, self.compute_dtype)]

    # -- dropout ---------------------------------------------------------------------
    def draw_masks(self, step_shape, state_shape, dtype, training):
        """This call's masks, fixed for every timestep: (input masks or None, state masks or None)."""
        drop = bool(training) and 0.0 < self.dropout < 1.0
        rdrop = bool(training) and 0.0 < self.recurrent_dropout < 1.0
        if not (drop or rdrop):
            return None, None
        key = self.rng_key()
        if self.seed is not None:
            key = jax.random.fold_in(key, self.seed)
        in_m = (_gate_masks(jax.random.fold_in(key, 0), step_shape, dtype, self.dropout)
                if drop else None)
        rec_m = (_gate_masks(jax.random.fold_in(key, 1), state_shape, dtype,
                             self.recurrent_dropout) if rdrop else None)
        return in_m, rec_m

    # -- maths -----------------------------------------------------------------------
    def _split(self, w):
        return jnp.split(w, 4, axis=-1)

    def project_inputs(self, x, in_m):
        """Input convolution + bias of every step of `x` `(batch, time, *step)`, time-major.

        Time folds into the batch axis, so all steps are one convolution (one per gate with
        dropout masks, which are shared by all steps).
        """
        batch, steps, step = x.shape[0], x.shape[1], tuple(x.shape[2:])

        def conv(v, k):
            return convolve(jnp.reshape(v, (batch * steps,) + step), k, self.strides,
                         self.padding, self.dilation_rate, self.data_format)

        kernel = self.kernel.value
        if in_m is None:
            z = conv(x, kernel)
        else:
            z = jnp.concatenate([conv(x * m[:, None], k)
                                 for m, k in zip(in_m, self._split(kernel))],
                                axis=self._channel_axis)
        if self.bias is not None:
            shape = ((1,) * (self.rank + 1) + (-1,) if self.data_format == "channels_last"
                     else (1, -1) + (1,) * self.rank)
            z = z + jnp.reshape(self.bias.value, shape).astype(z.dtype)
        return jnp.swapaxes(jnp.reshape(z, (batch, steps) + tuple(z.shape[1:])), 0, 1)

    def recurrent_step(self, states, z_x, rec_m):
        """One timestep from the projected input `z_x`: `(h, [h, c])`."""
        h, c = states[0], states[1]
        rk = self.recurrent_kernel.value
        one = (1,) * self.rank
        if rec_m is None:
            z_h = convolve(h, rk, one, "same", one, self.data_format)
        else:
            z_h = jnp.concatenate(
                [convolve(h * m, k, one, "same", one, self.data_format)
                 for m, k in zip(rec_m, self._split(rk))], axis=self._channel_axis)
        z = z_x + z_h.astype(z_x.dtype)
        zi, zf, zc, zo = jnp.split(z, 4, axis=self._channel_axis)
        ract, act = self.recurrent_activation, self.activation
        c = ract(zf) * c + ract(zi) * act(zc)
        h = ract(zo) * act(c)
        return h, [h, c]

    def call(self, inputs, states, training=False):
        """One timestep: `(h, [h, c])` for `inputs` of shape `(batch, *spatial, channels)`."""
        inputs = jnp.asarray(inputs)
        masks = self._primed_masks
        if masks is None:
            masks = self.draw_masks(inputs.shape, jnp.shape(states[0]), inputs.dtype, training)
        z = self.project_inputs(inputs[:, None], masks[0])[0]
        return self.recurrent_step(list(states), z, masks[1])

    def get_config(self):
        cfg = super().get_config()
        cfg.update(_cell_config(self))
        cfg["rank"] = self.rank
        return cfg


def _cell_config(cell):
    return {
        "filters": cell.filters,
        "kernel_size": cell.kernel_size,
        "strides": cell.strides,
        "padding": cell.padding,
        "data_format": cell.data_format,
        "dilation_rate": cell.dilation_rate,
        "activation": activations.serialize(cell.activation),
        "recurrent_activation": activations.serialize(cell.recurrent_activation),
        "use_bias": cell.use_bias,
        "kernel_initializer": _ser(initializers, cell.kernel_initializer),
        "recurrent_initializer": _ser(initializers, cell.recurrent_initializer),
        "bias_initializer": _ser(initializers, cell.bias_initializer),
        "unit_forget_bias": cell.unit_forget_bias,
        "kernel_regularizer": _ser(regularizers, cell.kernel_regularizer),
        "recurrent_regularizer": _ser(regularizers, cell.recurrent_regularizer),
        "bias_regularizer": _ser(regularizers, cell.bias_regularizer),
        "kernel_constraint": _ser(constraints, cell.kernel_constraint),
        "recurrent_constraint": _ser(constraints, cell.recurrent_constraint),
        "bias_constraint": _ser(constraints, cell.bias_constraint),
        "dropout": cell.dropout,
        "recurrent_dropout": cell.recurrent_dropout,
        "seed": cell.seed,
    }


_DELEGATED = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
              "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "unit_forget_bias",
              "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout")


class _ConvLSTM(RNN):
    """The N-d convolutional LSTM layer; `ConvLSTM1D/2D/3D` fix `rank`."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, **kwargs):
        if kwargs.get("name") is None:  # Keras's default name: conv_lstm2d, not conv_lst_m2d
            kwargs["name"] = unique_name(f"conv_lstm{self.rank}d")
        cell = ConvLSTMCell(
            self.rank, filters, kernel_size, strides=strides, padding=padding,
            data_format=data_format, dilation_rate=dilation_rate, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            owner=type(self).__name__, name="conv_lstm_cell", dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=self.rank + 3)

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) != self.rank + 3:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expected inputs of rank "
                f"{self.rank + 3} (batch, time, {self.rank} spatial axes, channels), received "
                f"shape {shape}.")
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        cls = type(self).__name__
        cell = self.cell
        x = jnp.asarray(sequences)
        batch, steps = x.shape[0], x.shape[1]
        step_shape = (batch,) + tuple(x.shape[2:])
        state_shape = cell.state_shape(batch, cell._spatial(step_shape))
        if initial_state is None:
            states = [jnp.zeros(state_shape, x.dtype), jnp.zeros(state_shape, x.dtype)]
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [
                initial_state]
            if len(states) != 2:
                raise ValueError(
                    f"{cls} layer '{self.name}' expects 2 initial states [h, c], received "
                    f"{len(states)}. Pass initial_state=[h, c], each of shape {state_shape}.")
            for s in states:
                if tuple(jnp.shape(s)) != state_shape:
                    raise ValueError(
                        f"{cls} layer '{self.name}' expected initial states of shape "
                        f"{state_shape}, received {tuple(jnp.shape(s))}.")
        states = [jnp.asarray(s).astype(x.dtype) for s in states]
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is not None:
            if np.ndim(mask) > 2 and tuple(np.shape(mask)[:2]) == (batch, steps):
                # Masking before a ConvLSTM masks per position: a step counts if any position does
                mask = jnp.any(jnp.asarray(mask), axis=tuple(range(2, np.ndim(mask))))
            if tuple(np.shape(mask)) != (batch, steps):
                raise ValueError(
                    f"{cls} layer '{self.name}' expected a mask of shape (batch, timesteps) = "
                    f"{(batch, steps)}, received mask of shape {np.shape(mask)}.")
            mask = jnp.asarray(mask).astype(bool)
        in_m, rec_m = cell.draw_masks(step_shape, state_shape, x.dtype, training)
        z = cell.project_inputs(x, in_m)

        def step(carry, z_t):
            return cell.recurrent_step(carry, z_t, rec_m)

        output, final = _scan(z, step, states, mask, self.go_backwards,
                              self.zero_output_for_mask, self.return_sequences,
                              jnp.dtype(self.compute_dtype).name)
        if self.return_state:
            return (output, *final)
        return output

    def get_config(self):
        cfg = self._loop_config()
        cfg.update(_cell_config(self.cell))
        cfg["activity_regularizer"] = _ser(regularizers, self.activity_regularizer)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


for _n in _DELEGATED:
    setattr(_ConvLSTM, _n, property(lambda self, _n=_n: getattr(self.cell, _n)))


_DOC = """{rank}D convolutional LSTM: an LSTM whose transformations are {rank}D convolutions.

    Inputs are `(batch, time, {axes}, channels)` (channels_last) or
    `(batch, time, channels, {axes})` (channels_first).

    Args:
        filters: channels of the output and of the states.
        kernel_size: int or tuple of {rank} ints, the convolution window.
        strides: int or tuple of {rank} ints (input convolution only); > 1 excludes dilation.
        padding: "valid" or "same" (input convolution; the recurrent one is always "same").
        data_format: "channels_last" or "channels_first"; default from `trine.config`.
        dilation_rate: int or tuple of {rank} ints (input convolution only).
        activation / recurrent_activation: default "tanh" / "sigmoid".
        use_bias: whether to add a bias.
        kernel_initializer / recurrent_initializer / bias_initializer: default
            "glorot_uniform" / "orthogonal" / "zeros".
        unit_forget_bias: forget-gate bias starts at 1 (default True).
        kernel_regularizer / recurrent_regularizer / bias_regularizer /
            activity_regularizer: penalties.
        kernel_constraint / recurrent_constraint / bias_constraint: projections.
        dropout / recurrent_dropout: fractions of inputs / state dropped in training (one mask
            per gate, fixed for all timesteps of a call).
        seed: optional integer folded into the dropout keys.
        return_sequences / return_state / go_backwards: as in `RNN`.
        stateful: not supported (raises NotImplementedError); pass `initial_state`.

    Call arguments:
        sequences: the inputs above.
        initial_state: `[h, c]`, each of the output's per-step shape (default zeros).
        mask: boolean `(batch, time)`; masked steps keep the state. A per-position mask
            `(batch, time, ...)` (from `Masking`) keeps a step if any position is kept.
        training: enables dropout.

    Returns:
        `(batch, {out_axes}, filters)` (channels_last), with a time axis after batch with
        `return_sequences`; followed by the final `h` and `c` with `return_state`.

    Raises:
        ValueError: on bad arguments, or inputs of the wrong rank or without static sizes.
        NotImplementedError: for `stateful=True`.

    Example:
        >>> layer = {name}(4, 3, padding="same")
        >>> layer(jnp.ones({example})).shape
        {result}
    """


class ConvLSTM1D(_ConvLSTM):
    rank = 1
    __doc__ = _DOC.format(rank=1, axes="length", out_axes="new_length", name="ConvLSTM1D",
                          example="(2, 5, 8, 3)", result="(2, 8, 4)")


class ConvLSTM2D(_ConvLSTM):
    rank = 2
    __doc__ = _DOC.format(rank=2, axes="rows, cols", out_axes="new_rows, new_cols",
                          name="ConvLSTM2D", example="(2, 5, 8, 8, 3)", result="(2, 8, 8, 4)")


class ConvLSTM3D(_ConvLSTM):
    rank = 3
    __doc__ = _DOC.format(rank=3, axes="dim1, dim2, dim3",
                          out_axes="new_dim1, new_dim2, new_dim3", name="ConvLSTM3D",
                          example="(2, 3, 4, 4, 4, 3)", result="(2, 4, 4, 4, 4)")
