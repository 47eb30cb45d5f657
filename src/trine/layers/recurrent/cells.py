"""The recurrent cells: one timestep of SimpleRNN, LSTM and GRU (Keras's weight layouts and
gate orders), and StackedRNNCells, which chains cells into one.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine import activations, config, initializers
from trine.core.layer import Layer
from trine.layers._int_args import positive_int_arg
from trine.layers._weight_args import set_weight_args, weight_args_config
from trine.layers.recurrent.layer_config import NestsLayerList


def _ser(mod, obj):
    return mod.serialize(obj) if obj is not None else None


def _check_rate(cls, name, arg, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(
            f"{cls} layer '{name}' expected {arg} to be a float in [0, 1], received "
            f"{arg}={value!r}.")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{cls} layer '{name}' expected {arg} in [0, 1] (the fraction of units to drop), "
            f"received {arg}={value!r}.")
    return value


def init_recurrent_weight_args(layer, owner, activation, use_bias, kernel_initializer,
                               recurrent_initializer, bias_initializer, kernel_regularizer,
                               recurrent_regularizer, bias_regularizer, kernel_constraint,
                               recurrent_constraint, bias_constraint, dropout,
                               recurrent_dropout, seed):
    """Check and set on `layer` what every recurrent cell takes besides its size: the
    activation, the kernel / recurrent kernel / bias arguments, the dropout rates and seed.
    `owner` is the class name the errors give."""
    layer.activation = activations.get(activation)
    layer.use_bias = bool(use_bias)
    set_weight_args(layer, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
    set_weight_args(layer, "recurrent", recurrent_initializer, recurrent_regularizer,
                    recurrent_constraint)
    set_weight_args(layer, "bias", bias_initializer, bias_regularizer, bias_constraint)
    layer.dropout = _check_rate(owner, layer.name, "dropout", dropout)
    layer.recurrent_dropout = _check_rate(owner, layer.name, "recurrent_dropout",
                                          recurrent_dropout)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(
            f"{owner} layer '{layer.name}' expected seed to be an integer or None, received "
            f"seed={seed!r}.")
    layer.seed = None if seed is None else int(seed)


def _initializer_value(layer, init, shape, dtype):
    """The value `add_weight` would give initializer `init` as `layer`'s next weight."""
    if isinstance(init, initializers.Initializer) and getattr(init, "seed", None) is None:
        return init(shape, dtype, key=layer._seed_gen.key(len(layer._own_variables)))
    return init(shape, dtype)


def add_lstm_bias(layer, units):
    """Set `layer.bias`: an LSTM's `(4 * units,)` bias (gates i, f, c, o), or None without
    `use_bias`. With `unit_forget_bias` the forget gate's part starts at 1 (so early
    gradients flow through the cell state) and `bias_initializer` fills the others."""
    if not layer.use_bias:
        layer.bias = None
        return

    def forget_gate_at_one(shape, dtype=None):
        first = _initializer_value(layer, layer.bias_initializer, (units,), dtype)
        rest = _initializer_value(layer, layer.bias_initializer, (2 * units,), dtype)
        return jnp.concatenate([jnp.asarray(first, dtype), jnp.ones((units,), dtype),
                                jnp.asarray(rest, dtype)])

    init = forget_gate_at_one if layer.unit_forget_bias else layer.bias_initializer
    layer.bias = layer.add_weight(shape=(4 * units,), initializer=init,
                                  regularizer=layer.bias_regularizer,
                                  constraint=layer.bias_constraint, name="bias")


def _is_nested(x):
    return isinstance(x, (list, tuple))


# ------------------------------------------------------------------------------- cells
class _Cell(Layer):
    """What the built-in cells share: the common arguments, dropout masks, initial state.

    A cell processes one timestep: `call(inputs, states, training) -> (output, new_states)`.
    For whole sequences the RNN layer calls the pure `_fused(static, params, sequences,
    dropout_masks)` (masks drawn once per call and shared by all timesteps, as Keras), which
    projects the inputs of all steps at once (time-major) and returns them with a
    `step(states, x_t)` function. The loop around it is jitted once per cell configuration
    and shape, so eager calls do not recompile.
    """

    _n_gates = 1

    def _init_common(self, units, activation, use_bias, kernel_initializer,
                     recurrent_initializer, bias_initializer, kernel_regularizer,
                     recurrent_regularizer, bias_regularizer, kernel_constraint,
                     recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed):
        cls = type(self).__name__
        self.units = positive_int_arg(self, "units", units, 32)
        init_recurrent_weight_args(
            self, cls, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, seed)

    def _init_gates(self, recurrent_activation, implementation):
        """The gated cells' (LSTM, GRU) gate activation and Keras's `implementation`."""
        self.recurrent_activation = activations.get(recurrent_activation)
        # Keras: implementation 1 (one dropout mask per gate) whenever recurrent dropout is on.
        self.implementation = 1 if self.recurrent_dropout != 0.0 else int(implementation)

    def _build_kernels(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' needs a known feature axis to create its "
                f"kernel, received input shape {tuple(input_shape)}.")
        g = self._n_gates
        self.kernel = self.add_weight(
            shape=(input_dim, g * self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
            name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, g * self.units), initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
            name="recurrent_kernel")

    # -- dropout ---------------------------------------------------------------------
    def _dropout_key(self):
        key = self.rng_key()
        if self.seed is not None:
            key = jax.random.fold_in(key, self.seed)
        return key

    @staticmethod
    def _masks(key, like_shape, dtype, rate, count):
        keep = 1.0 - rate
        keys = jax.random.split(key, count)
        return [jax.random.bernoulli(k, keep, like_shape).astype(dtype) / jnp.asarray(keep, dtype)
                for k in keys]

    def _dropout_spec(self, training):
        """Static dropout settings for this call: None, or (rate, recurrent_rate, n_in, n_rec)."""
        drop = bool(training) and 0.0 < self.dropout < 1.0
        rdrop = bool(training) and 0.0 < self.recurrent_dropout < 1.0
        if not (drop or rdrop):
            return None
        n_in = self._n_gates if getattr(self, "implementation", 2) == 1 else 1
        return (self.dropout if drop else 0.0, self.recurrent_dropout if rdrop else 0.0, n_in,
                self._n_gates)

    @staticmethod
    def _masks_from(spec, key, batch, features, units, dtype):
        """Keras-style masks, fixed for all timesteps of one call: (input masks, state masks)."""
        if spec is None:
            return None, None
        rate, rrate, n_in, n_rec = spec
        in_m = (_Cell._masks(jax.random.fold_in(key, 0), (batch, features), dtype, rate, n_in)
                if rate else None)
        rec_m = (_Cell._masks(jax.random.fold_in(key, 1), (batch, units), dtype, rrate, n_rec)
                 if rrate else None)
        return in_m, rec_m

    # -- states ----------------------------------------------------------------------
    def get_initial_state(self, batch_size=None):
        """Zero states, one `(batch_size, size)` array per entry of `state_size`."""
        sizes = self.state_size if _is_nested(self.state_size) else [self.state_size]
        return [jnp.zeros((batch_size, d), self.compute_dtype) for d in sizes]

    def call(self, inputs, states, training=False):
        """One timestep: `(output, new_states)` for `inputs` `(batch, features)`."""
        single = not _is_nested(states)
        states = [states] if single else list(states)
        seq = jnp.asarray(inputs)[:, None, :]
        static, params, masks = self._fused_args(seq, training)
        xs, step = type(self)._fused(static, params, seq, masks)
        out, new = step(states, xs[0])
        return out, (new[0] if single else new)

    # -- the pure maths, shared by `call` and the RNN layer's jitted loop ---------------
    def _static(self, training=False):
        """A hashable description of the cell's maths (a static argument of the loop)."""
        return (type(self), self.units, self.activation,
                getattr(self, "recurrent_activation", None), getattr(self, "reset_after", None),
                self._dropout_spec(training))

    def _params(self):
        return (self.kernel.value, self.recurrent_kernel.value,
                None if self.bias is None else self.bias.value)

    def _fused_args(self, sequences, training):
        """`(static, params, dropout_masks)` for `_fused` on these sequences.

        The masks are drawn here, outside the compiled loop, so that eager calls share one
        compiled random generator per shape instead of compiling it into every loop.
        """
        static = self._static(training)
        masks = (None, None)
        if static[-1] is not None:
            masks = self.__dict__.get("_primed_masks")
            if masks is None:
                masks = self._masks_from(static[-1], self._dropout_key(), sequences.shape[0],
                                         sequences.shape[-1], self.units, sequences.dtype)
        return static, self._params(), masks

    def _prime_dropout(self, batch, features, dtype, training):
        """Draw this call's masks before a loop that calls `call` step by step (as Keras)."""
        spec = self._dropout_spec(training)
        self._primed_masks = (None if spec is None else
                              self._masks_from(spec, self._dropout_key(), batch, features,
                                               self.units, dtype))

    @staticmethod
    def _project(x, kernel, in_m, units):
        """`x @ kernel` (one step's inputs or all steps'), one dropout mask per gate if
        several."""
        def masked(m):  # a (batch, features) mask over x's batch and feature axes
            return x * jnp.expand_dims(m, tuple(range(1, x.ndim - 1)))
        if in_m is None:
            return jnp.matmul(x, kernel)
        if len(in_m) == 1:
            return jnp.matmul(masked(in_m[0]), kernel)
        return jnp.concatenate([jnp.matmul(masked(m), kernel[:, g * units:(g + 1) * units])
                                for g, m in enumerate(in_m)], axis=-1)

    @staticmethod
    def _step_inputs(sequences, kernel, in_m, units, bias):
        """The time-major inputs the loop scans and `project(x_t)`, which turns one of them
        into the step's input projection (bias added). On accelerators every step is
        projected before the loop, in one large matmul; on the CPU each step projects its own
        slice, which XLA's CPU backend runs faster (W7 in bench/README.md)."""
        def project(x):
            z = _Cell._project(x, kernel, in_m, units)
            return z if bias is None else z + bias
        if config.on_accelerator():
            return _time_major(project(sequences)), lambda z: z
        return _time_major(sequences), project

    def _common_config(self):
        return {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_args_config(self, ("kernel", "recurrent", "bias")),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def _time_major(x):
    return jnp.swapaxes(x, 0, 1)


class SimpleRNNCell(_Cell):
    """One step of a fully connected RNN: `h = activation(x @ kernel + h_prev @ recurrent + b)`.

    Args:
        units: size of the state and output.
        activation: default "tanh".
        use_bias: whether to add a bias.
        kernel_initializer / recurrent_initializer / bias_initializer: default
            "glorot_uniform" / "orthogonal" / "zeros".
        kernel_regularizer / recurrent_regularizer / bias_regularizer: penalties.
        kernel_constraint / recurrent_constraint / bias_constraint: projections.
        dropout: fraction of the inputs dropped in training (one mask for all steps).
        recurrent_dropout: fraction of the previous state dropped in training.
        seed: optional integer folded into the dropout keys.

    Returns:
        `call(inputs, states)` returns `(output, new_states)`.

    Raises:
        ValueError: if `units` is not a positive integer or a rate is outside [0, 1].

    Example:
        >>> layer = RNN(SimpleRNNCell(4))
        >>> layer(jnp.ones((2, 5, 3))).shape
        (2, 4)
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self._init_common(units, activation, use_bias, kernel_initializer,
                          recurrent_initializer, bias_initializer, kernel_regularizer,
                          recurrent_regularizer, bias_regularizer, kernel_constraint,
                          recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        self._build_kernels(input_shape)
        self.bias = (self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint, name="bias")
                     if self.use_bias else None)
        self.built = True

    @staticmethod
    def _fused(static, params, sequences, masks):
        _, units, act, _, _, spec = static
        kernel, rk, bias = params
        in_m, rec_m = masks
        xs, project = _Cell._step_inputs(sequences, kernel, in_m, units, bias)

        def step(states, x_t):
            h = states[0]
            if rec_m is not None:
                h = h * rec_m[0]
            out = act(project(x_t) + jnp.matmul(h, rk))
            return out, [out]

        return xs, step

    def get_config(self):
        cfg = super().get_config()
        cfg.update(self._common_config())
        return cfg


class LSTMCell(_Cell):
    """One step of a Long Short-Term Memory network (Hochreiter & Schmidhuber, 1997).

    Gates in Keras's order i, f, c, o: `c = f * c_prev + i * activation(z_c)`,
    `h = o * activation(c)`, with `i, f, o = recurrent_activation(z_i, z_f, z_o)`.
    States are `[h, c]`.

    Args:
        units: size of the state and output.
        activation: default "tanh".
        recurrent_activation: activation of the gates, default "sigmoid".
        use_bias: whether to add a bias.
        kernel_initializer / recurrent_initializer / bias_initializer: default
            "glorot_uniform" / "orthogonal" / "zeros".
        unit_forget_bias: if True (default), the forget gate's bias starts at 1 (and
            `bias_initializer` is used for the other gates).
        kernel_regularizer / recurrent_regularizer / bias_regularizer: penalties.
        kernel_constraint / recurrent_constraint / bias_constraint: projections.
        dropout / recurrent_dropout: fractions of inputs / previous state dropped in training.
        seed: optional integer folded into the dropout keys.

    Returns:
        `call(inputs, [h, c])` returns `(h, [h, c])`.

    Raises:
        ValueError: if `units` is not a positive integer or a rate is outside [0, 1].

    Example:
        >>> layer = RNN(LSTMCell(4))
        >>> layer(jnp.ones((2, 5, 3))).shape
        (2, 4)
    """

    _n_gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**kwargs)
        self._init_common(units, activation, use_bias, kernel_initializer,
                          recurrent_initializer, bias_initializer, kernel_regularizer,
                          recurrent_regularizer, bias_regularizer, kernel_constraint,
                          recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed)
        self._init_gates(recurrent_activation, implementation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        self._build_kernels(input_shape)
        add_lstm_bias(self, self.units)
        self.built = True

    @staticmethod
    def _fused(static, params, sequences, masks):
        _, u, act, ract, _, spec = static
        kernel, r, bias = params
        in_m, rec_m = masks
        xs, project = _Cell._step_inputs(sequences, kernel, in_m, u, bias)

        def step(states, x_t):
            h, c = states[0], states[1]
            z_x = project(x_t)
            if rec_m is None:
                z = z_x + jnp.matmul(h, r)
            else:
                z = z_x + jnp.concatenate(
                    [jnp.matmul(h * m, r[:, g * u:(g + 1) * u]) for g, m in enumerate(rec_m)],
                    axis=-1)
            zi, zf, zc, zo = jnp.split(z, 4, axis=-1)
            c = ract(zf) * c + ract(zi) * act(zc)
            h = ract(zo) * act(c)
            return h, [h, c]

        return xs, step

    def get_config(self):
        cfg = super().get_config()
        cfg.update(self._common_config())
        cfg["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        cfg["unit_forget_bias"] = self.unit_forget_bias
        return cfg


class GRUCell(_Cell):
    """One step of a Gated Recurrent Unit (Cho et al., 2014).

    Gates in Keras's order z (update), r (reset), h (candidate):
    `h = z * h_prev + (1 - z) * activation(x_h + r * (h_prev @ R_h + b_rh))` with
    `reset_after=True` (the default, cuDNN-compatible), or
    `activation(x_h + (r * h_prev) @ R_h)` with `reset_after=False`.

    Args:
        units: size of the state and output.
        activation: default "tanh".
        recurrent_activation: activation of the gates, default "sigmoid".
        use_bias: whether to add biases; with `reset_after` the bias has shape
            `(2, 3 * units)`: input bias and recurrent bias.
        kernel_initializer / recurrent_initializer / bias_initializer: default
            "glorot_uniform" / "orthogonal" / "zeros".
        kernel_regularizer / recurrent_regularizer / bias_regularizer: penalties.
        kernel_constraint / recurrent_constraint / bias_constraint: projections.
        dropout / recurrent_dropout: fractions of inputs / previous state dropped in training.
        reset_after: apply the reset gate after the recurrent matrix product (default True).
        seed: optional integer folded into the dropout keys.

    Returns:
        `call(inputs, h)` returns `(h, new_h)`.

    Raises:
        ValueError: if `units` is not a positive integer or a rate is outside [0, 1].

    Example:
        >>> layer = RNN(GRUCell(4))
        >>> layer(jnp.ones((2, 5, 3))).shape
        (2, 4)
    """

    _n_gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, reset_after=True,
                 seed=None, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**kwargs)
        self._init_common(units, activation, use_bias, kernel_initializer,
                          recurrent_initializer, bias_initializer, kernel_regularizer,
                          recurrent_regularizer, bias_regularizer, kernel_constraint,
                          recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed)
        self._init_gates(recurrent_activation, implementation)
        self.reset_after = bool(reset_after)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        self._build_kernels(input_shape)
        if self.use_bias:
            shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
            self.bias = self.add_weight(shape=shape, initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None
        self.built = True

    @staticmethod
    def _fused(static, params, sequences, masks):
        _, u, act, ract, reset_after, spec = static
        kernel, r, bias = params
        in_m, rec_m = masks
        rec_bias = None
        in_bias = bias
        if bias is not None and reset_after:
            in_bias, rec_bias = bias[0], bias[1]
        xs, project = _Cell._step_inputs(sequences, kernel, in_m, u, in_bias)

        def rec(h, g0, g1):
            """h @ R[:, gates g0:g1], each gate with its own recurrent dropout mask."""
            if rec_m is None:
                return jnp.matmul(h, r[:, g0 * u:g1 * u])
            return jnp.concatenate([jnp.matmul(h * rec_m[g], r[:, g * u:(g + 1) * u])
                                    for g in range(g0, g1)], axis=-1)

        def step(states, x_t):
            h = states[0]
            x_z, x_r, x_h = jnp.split(project(x_t), 3, axis=-1)
            if reset_after:
                inner = rec(h, 0, 3)
                if rec_bias is not None:
                    inner = inner + rec_bias
                r_z, r_r, r_h = jnp.split(inner, 3, axis=-1)
                z = ract(x_z + r_z)
                rg = ract(x_r + r_r)
                hh = act(x_h + rg * r_h)
            else:
                r_z, r_r = jnp.split(rec(h, 0, 2), 2, axis=-1)
                z = ract(x_z + r_z)
                rg = ract(x_r + r_r)
                h_c = rg * h if rec_m is None else rg * h * rec_m[2]
                hh = act(x_h + jnp.matmul(h_c, r[:, 2 * u:]))
            h_new = z * h + (1 - z) * hh
            return h_new, [h_new]

        return xs, step

    def get_config(self):
        cfg = super().get_config()
        cfg.update(self._common_config())
        cfg["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        cfg["reset_after"] = self.reset_after
        return cfg


class StackedRNNCells(NestsLayerList, Layer):
    """Several cells run as one: each step feeds the output of one cell to the next.

    Args:
        cells: a list of RNN cells.

    Returns:
        A cell whose states are the list of the cells' states.

    Raises:
        ValueError: if `cells` is empty or an element is not a cell.

    Example:
        >>> layer = RNN([LSTMCell(8), LSTMCell(4)])
        >>> layer(jnp.ones((2, 5, 3))).shape
        (2, 4)
    """

    nested_layers_key = "cells"

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError(f"StackedRNNCells '{self.name}' needs at least one cell, received [].")
        for c in cells:
            if not hasattr(c, "call") or not hasattr(c, "state_size"):
                raise ValueError(
                    f"StackedRNNCells '{self.name}': every cell needs a call method and a "
                    f"state_size attribute, received {c!r}.")
        self.cells = cells

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        if size is None:
            size = last.state_size[0] if _is_nested(last.state_size) else last.state_size
        return size

    def get_initial_state(self, batch_size=None):
        out = []
        for c in self.cells:
            fn = getattr(c, "get_initial_state", None)
            if fn is not None:
                s = fn(batch_size=batch_size)
            else:
                sizes = c.state_size if _is_nested(c.state_size) else [c.state_size]
                s = [jnp.zeros((batch_size, d), self.compute_dtype) for d in sizes]
            out.append(list(s) if _is_nested(s) else [s])
        return out

    def build(self, input_shape):
        shape = tuple(input_shape)
        for c in self.cells:
            if isinstance(c, Layer) and not c.built:
                c.build(shape)
                c.built = True
            size = getattr(c, "output_size", None)
            if size is None:
                size = c.state_size[0] if _is_nested(c.state_size) else c.state_size
            shape = (shape[0], size)
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        x = inputs
        for c, s in zip(self.cells, states):
            s = list(s) if _is_nested(s) else [s]
            kw = {"training": training} if getattr(c, "_call_has_training", False) else {}
            x, ns = c.call(x, s, **kw)
            new_states.append(list(ns) if _is_nested(ns) else [ns])
        return x, new_states

    def get_config(self):
        return self._with_nested_layers(super().get_config(), self.cells)
