"""SimpleRNN, LSTM and GRU: an RNN with a built-in cell whose arguments are the layer's."""
from __future__ import annotations

from trine import activations, regularizers
from trine.core.layer import InputSpec
from trine.layers.recurrent.cells import GRUCell, LSTMCell, SimpleRNNCell, _ser
from trine.layers.recurrent.rnn import RNN


def _delegate(*names):
    """Read-only properties that forward to `self.cell` (LSTM.units -> LSTM.cell.units)."""
    def deco(klass):
        for n in names:
            setattr(klass, n, property(lambda self, n=n: getattr(self.cell, n)))
        return klass
    return deco


_COMMON = ("units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
           "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
           "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
           "dropout", "recurrent_dropout")


class _CellLayer(RNN):
    """An RNN with a built-in cell whose arguments are flattened into the layer's."""

    def _rnn_config(self, extra):
        cfg = self._loop_config()
        cell_cfg = self.cell._common_config()
        cell_cfg.pop("seed")
        cfg.update(cell_cfg)
        cfg.update(extra)
        cfg["activity_regularizer"] = _ser(regularizers, self.activity_regularizer)
        cfg["seed"] = self.cell.seed
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_use_cudnn(layer_class, use_cudnn):
    """Keras's `use_cudnn` is accepted and ignored (XLA compiles the scan), but checked."""
    if use_cudnn not in ("auto", True, False):
        raise ValueError(
            f"{layer_class} layer expected use_cudnn to be 'auto', True or False, received "
            f"use_cudnn={use_cudnn!r}.")


def _cell_kwargs(kwargs):
    return {"dtype": kwargs.get("dtype"), "trainable": kwargs.get("trainable", True)}


@_delegate(*_COMMON)
class SimpleRNN(_CellLayer):
    """A fully connected RNN whose output is fed back as the next input state.

    Args:
        units: size of the output and state.
        activation: default "tanh".
        use_bias: whether to add a bias.
        kernel_initializer / recurrent_initializer / bias_initializer: default
            "glorot_uniform" / "orthogonal" / "zeros".
        kernel_regularizer / recurrent_regularizer / bias_regularizer /
            activity_regularizer: penalties.
        kernel_constraint / recurrent_constraint / bias_constraint: projections.
        dropout / recurrent_dropout: fractions of inputs / state dropped in training.
        seed: optional integer folded into the dropout keys.
        return_sequences / return_state / go_backwards / stateful / unroll: as in `RNN`.

    Returns:
        `(batch, units)`, `(batch, timesteps, units)` with `return_sequences`, and the final
        state after it with `return_state`.

    Raises:
        ValueError: if `units` is not a positive integer, or the input is not 3-D.
        NotImplementedError: for `stateful=True`.

    Example:
        >>> SimpleRNN(4)(jnp.ones((2, 5, 3))).shape
        (2, 4)
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        cell = SimpleRNNCell(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="simple_rnn_cell",
            **_cell_kwargs(kwargs))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)

    def get_config(self):
        cfg = self._rnn_config({})
        if cfg["seed"] is None:
            del cfg["seed"]  # Keras's SimpleRNN config has no seed; keep one only if set
        return cfg


@_delegate(*_COMMON, "recurrent_activation", "unit_forget_bias")
class LSTM(_CellLayer):
    """Long Short-Term Memory layer (Hochreiter & Schmidhuber, 1997).

    Args:
        units: size of the output and of the states h and c.
        activation: default "tanh".
        recurrent_activation: activation of the gates, default "sigmoid".
        use_bias: whether to add a bias.
        kernel_initializer / recurrent_initializer / bias_initializer: default
            "glorot_uniform" / "orthogonal" / "zeros".
        unit_forget_bias: forget-gate bias starts at 1 (default True).
        kernel_regularizer / recurrent_regularizer / bias_regularizer /
            activity_regularizer: penalties.
        kernel_constraint / recurrent_constraint / bias_constraint: projections.
        dropout / recurrent_dropout: fractions of inputs / state dropped in training.
        seed: optional integer folded into the dropout keys.
        return_sequences / return_state / go_backwards / stateful / unroll: as in `RNN`.
        use_cudnn: accepted for compatibility ("auto", True, False); XLA compiles the scan.

    Returns:
        `(batch, units)`, `(batch, timesteps, units)` with `return_sequences`, followed by
        the final `h` and `c` with `return_state`.

    Raises:
        ValueError: if `units` is not a positive integer, or the input is not 3-D.
        NotImplementedError: for `stateful=True`.

    Example:
        >>> out, h, c = LSTM(4, return_state=True)(jnp.ones((2, 5, 3)))
        >>> out.shape, c.shape
        ((2, 4), (2, 4))
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", **kwargs):
        _check_use_cudnn("LSTM", use_cudnn)
        cell = LSTMCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="lstm_cell",
            implementation=kwargs.pop("implementation", 2), **_cell_kwargs(kwargs))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3)
        self.use_cudnn = use_cudnn

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)

    def get_config(self):
        return self._rnn_config({
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        })


@_delegate(*_COMMON, "recurrent_activation", "reset_after")
class GRU(_CellLayer):
    """Gated Recurrent Unit layer (Cho et al., 2014), Keras's layout (`reset_after=True`).

    Args:
        units: size of the output and state.
        activation: default "tanh".
        recurrent_activation: activation of the gates, default "sigmoid".
        use_bias: whether to add biases.
        kernel_initializer / recurrent_initializer / bias_initializer: default
            "glorot_uniform" / "orthogonal" / "zeros".
        kernel_regularizer / recurrent_regularizer / bias_regularizer /
            activity_regularizer: penalties.
        kernel_constraint / recurrent_constraint / bias_constraint: projections.
        dropout / recurrent_dropout: fractions of inputs / state dropped in training.
        seed: optional integer folded into the dropout keys.
        return_sequences / return_state / go_backwards / stateful / unroll: as in `RNN`.
        reset_after: apply the reset gate after the recurrent product (default True; the
            bias then has shape `(2, 3 * units)`).
        use_cudnn: accepted for compatibility ("auto", True, False).

    Returns:
        `(batch, units)`, `(batch, timesteps, units)` with `return_sequences`, followed by
        the final state with `return_state`.

    Raises:
        ValueError: if `units` is not a positive integer, or the input is not 3-D.
        NotImplementedError: for `stateful=True`.

    Example:
        >>> GRU(4, return_sequences=True)(jnp.ones((2, 5, 3))).shape
        (2, 5, 4)
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 use_cudnn="auto", **kwargs):
        _check_use_cudnn("GRU", use_cudnn)
        cell = GRUCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, reset_after=reset_after,
            seed=seed, name="gru_cell", implementation=kwargs.pop("implementation", 2),
            **_cell_kwargs(kwargs))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=3)
        self.use_cudnn = use_cudnn

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, initial_state=initial_state, mask=mask,
                            training=training)

    def get_config(self):
        return self._rnn_config({
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        })


# ------------------------------------------------------------------------------- wrappers
