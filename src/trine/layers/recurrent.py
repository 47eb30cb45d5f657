"""Recurrent layers: SimpleRNN, LSTM, GRU, their cells, the generic RNN, and the wrappers
Bidirectional and TimeDistributed.

Weights have Keras's layouts and gate orders, so they transfer to and from Keras unchanged:

- SimpleRNN: kernel `(input_dim, units)`, recurrent_kernel `(units, units)`, bias `(units,)`.
- LSTM: kernel `(input_dim, 4 * units)`, recurrent_kernel `(units, 4 * units)`, bias
  `(4 * units,)`, gates in the order input, forget, cell candidate, output (i, f, c, o).
- GRU: kernel `(input_dim, 3 * units)`, recurrent_kernel `(units, 3 * units)`, gates in the
  order update, reset, candidate (z, r, h); bias `(2, 3 * units)` (input bias, recurrent
  bias) with `reset_after=True` (the default), `(3 * units,)` otherwise.

The time loop is one `jax.lax.scan`. The input projection of every timestep is computed
before the loop as one matrix product, so only the recurrent product runs step by step.
Masked timesteps (a mask from `Embedding(mask_zero=True)` or `Masking`) keep the previous
state and repeat the previous output, as in Keras.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine import activations, constraints, initializers, regularizers
from trine.core.layer import InputSpec, Layer

__all__ = ["RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "SimpleRNN", "LSTM",
           "GRU", "Bidirectional", "TimeDistributed"]


# ------------------------------------------------------------------------------- helpers
def _ser(mod, obj):
    return mod.serialize(obj) if obj is not None else None


def _check_units(cls, name, units):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError(
            f"{cls} layer '{name}' expected units to be a positive integer, received "
            f"units={units!r}. Pass e.g. units=32.")
    return int(units)


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


def serialize_layer(layer) -> dict:
    """A layer as Keras's nested-object dict: `{"module", "class_name", "config", ...}`."""
    return {"module": "keras.layers", "class_name": type(layer).__name__,
            "config": layer.get_config(), "registered_name": None}


def deserialize_layer(config, custom_objects=None):
    """Rebuild a layer from a serialized dict (trine's or Keras 3's), or pass a Layer through.

    Goes through `trine.saving.deserialize_keras_object` (dtype policies, custom objects, the
    allow-list of `trine.registry`).

    Raises:
        ValueError: if `config` is neither a Layer nor a serialized layer dict, or names an
            unknown class.
    """
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Expected a layer or a serialized layer dict with 'class_name' and 'config', "
            f"received {config!r}.")
    # trine's own layer classes resolve through the registry's allow-list, never by scanning
    classes = dict(custom_objects or {})
    try:
        from trine.registry.deserialize import deserialize_keras_object
    except ImportError:
        deserialize_keras_object = None
    if deserialize_keras_object is not None:
        layer = deserialize_keras_object(config, custom_objects=classes)
    else:
        cls = classes.get(config["class_name"])
        if cls is None:
            raise ValueError(
                f"Unknown layer class '{config['class_name']}' in a serialized config. Pass "
                f"it in custom_objects={{'{config['class_name']}': ...}}.")
        layer = cls.from_config(dict(config.get("config") or {}))
    if not isinstance(layer, Layer):
        raise ValueError(
            f"Expected a serialized layer, the config rebuilt a {type(layer).__name__}.")
    return layer


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
        self.units = _check_units(cls, self.name, units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _check_rate(cls, self.name, "dropout", dropout)
        self.recurrent_dropout = _check_rate(cls, self.name, "recurrent_dropout",
                                             recurrent_dropout)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(
                f"{cls} layer '{self.name}' expected seed to be an integer or None, received "
                f"seed={seed!r}.")
        self.seed = None if seed is None else int(seed)

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

    def _init_value(self, init, shape, dtype):
        """The value `add_weight` would give initializer `init` as the next weight."""
        if isinstance(init, initializers.Initializer):
            if getattr(init, "seed", None) is not None:
                return init(shape, dtype)
            return init(shape, dtype, key=self._seed_gen.key(len(self._own_variables)))
        return init(shape, dtype)

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
    def _project(sequences, kernel, in_m, units):
        """`sequences @ kernel` for all steps, one dropout mask per gate if several."""
        if in_m is None:
            return jnp.matmul(sequences, kernel)
        if len(in_m) == 1:
            return jnp.matmul(sequences * in_m[0][:, None, :], kernel)
        return jnp.concatenate([jnp.matmul(sequences * m[:, None, :],
                                           kernel[:, g * units:(g + 1) * units])
                                for g, m in enumerate(in_m)], axis=-1)

    def _common_config(self):
        return {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _ser(initializers, self.kernel_initializer),
            "recurrent_initializer": _ser(initializers, self.recurrent_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "recurrent_regularizer": _ser(regularizers, self.recurrent_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "recurrent_constraint": _ser(constraints, self.recurrent_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
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
        xp = _Cell._project(sequences, kernel, in_m, units)
        if bias is not None:
            xp = xp + bias

        def step(states, xp_t):
            h = states[0]
            if rec_m is not None:
                h = h * rec_m[0]
            out = act(xp_t + jnp.matmul(h, rk))
            return out, [out]

        return _time_major(xp), step

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
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        # Keras: implementation 1 (one dropout mask per gate) whenever recurrent dropout is on.
        self.implementation = 1 if self.recurrent_dropout != 0.0 else int(implementation)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        self._build_kernels(input_shape)
        if self.use_bias:
            u = self.units
            if self.unit_forget_bias:
                def bias_init(shape, dtype=None):
                    init = self.bias_initializer
                    first = self._init_value(init, (u,), dtype)
                    rest = self._init_value(init, (2 * u,), dtype)
                    return jnp.concatenate([jnp.asarray(first, dtype), jnp.ones((u,), dtype),
                                            jnp.asarray(rest, dtype)])
                init = bias_init
            else:
                init = self.bias_initializer
            self.bias = self.add_weight(shape=(4 * u,), initializer=init,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None
        self.built = True

    @staticmethod
    def _fused(static, params, sequences, masks):
        _, u, act, ract, _, spec = static
        kernel, r, bias = params
        in_m, rec_m = masks
        xp = _Cell._project(sequences, kernel, in_m, u)
        if bias is not None:
            xp = xp + bias

        def step(states, z_x):
            h, c = states[0], states[1]
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

        return _time_major(xp), step

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
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)
        self.implementation = 1 if self.recurrent_dropout != 0.0 else int(implementation)
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
        xp = _Cell._project(sequences, kernel, in_m, u)
        rec_bias = None
        if bias is not None:
            if reset_after:
                xp = xp + bias[0]
                rec_bias = bias[1]
            else:
                xp = xp + bias

        def rec(h, g0, g1):
            """h @ R[:, gates g0:g1], each gate with its own recurrent dropout mask."""
            if rec_m is None:
                return jnp.matmul(h, r[:, g0 * u:g1 * u])
            return jnp.concatenate([jnp.matmul(h * rec_m[g], r[:, g * u:(g + 1) * u])
                                    for g in range(g0, g1)], axis=-1)

        def step(states, x_t):
            h = states[0]
            x_z, x_r, x_h = jnp.split(x_t, 3, axis=-1)
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

        return _time_major(xp), step

    def get_config(self):
        cfg = super().get_config()
        cfg.update(self._common_config())
        cfg["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        cfg["reset_after"] = self.reset_after
        return cfg


class StackedRNNCells(Layer):
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
        cfg = super().get_config()
        cfg["cells"] = [serialize_layer(c) for c in self.cells]
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [deserialize_layer(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


# ------------------------------------------------------------------------------- RNN layers
def _as_dtype(tree, dtype):
    return jax.tree_util.tree_map(lambda s: jnp.asarray(s).astype(dtype), tree)


def _scan(xs, step, states, mask, go_backwards, zero_output_for_mask, return_sequences,
          out_dtype):
    """Run `step(states, x_t) -> (output, new_states)` over time-major `xs`.

    Where `mask` (batch, time) is False the states are kept and the output repeats the
    previous one (the first state, as Keras assumes), or is zero with `zero_output_for_mask`.
    Returns `(outputs or last output, final states)`.
    """
    if mask is None:
        def body(carry, x_t):
            out, new = step(carry, x_t)
            return new, out
        scan_xs = xs
    else:
        scan_xs = (xs, _time_major(mask))

        def body(carry, inp):
            x_t, m_t = inp
            out, new = step(carry, x_t)

            def keep(new_v, old_v):
                k = m_t.reshape((m_t.shape[0],) + (1,) * (new_v.ndim - 1))
                return jnp.where(k, new_v, old_v)

            # the previous output is the first state (of the last cell, for stacked cells)
            prev = carry[-1][0] if _is_nested(carry[0]) else carry[0]
            prev = jax.tree_util.tree_leaves(prev)[0]
            if zero_output_for_mask or prev.shape != out.shape:
                out = keep(out, jnp.zeros_like(out))
            else:
                out = keep(out, prev.astype(out.dtype))
            new = jax.tree_util.tree_map(keep, new, carry)
            return new, out

    final, outs = jax.lax.scan(body, states, scan_xs, reverse=go_backwards)
    if go_backwards:
        outs = jnp.flip(outs, axis=0)
    out = _time_major(outs) if return_sequences else outs[-1]
    return out.astype(out_dtype), final


def _prime_cells(cell, batch, features, dtype, training):
    """Draw the dropout masks of built-in cells (also inside stacks) outside the time loop."""
    primed = []
    cells = cell.cells if isinstance(cell, StackedRNNCells) else [cell]
    for c in cells:
        if isinstance(c, _Cell):
            c._prime_dropout(batch, features, dtype, training)
            primed.append(c)
        size = getattr(c, "output_size", None)
        if size is None:
            size = c.state_size[0] if _is_nested(c.state_size) else c.state_size
        features = size
    return primed


def _fused_loop_impl(static, params, sequences, states, mask, masks):
    cell_static, sizes, flags = static[0], static[1], static[2:]
    if states is None:
        states = [jnp.zeros((sequences.shape[0], d), sequences.dtype) for d in sizes]
    states = _as_dtype(list(states), sequences.dtype)
    if mask is not None:
        mask = mask.astype(bool)
    xs, step = cell_static[0]._fused(cell_static, params, sequences, masks)
    return _scan(xs, step, states, mask, *flags)


# Built-in cells: one compiled loop per (cell maths, flags, shapes), shared by all layers,
# so eager calls reuse it; inside an outer jit it is inlined.
_fused_loop = jax.jit(_fused_loop_impl, static_argnums=0)


class RNN(Layer):
    """Run a cell over the time axis of `(batch, timesteps, features)` inputs.

    Args:
        cell: an RNN cell (`SimpleRNNCell`, `LSTMCell`, `GRUCell`, or any layer with
            `call(inputs, states) -> (output, new_states)` and `state_size`), or a list
            of cells (stacked).
        return_sequences: return the output of every timestep `(batch, timesteps, units)`
            instead of the last one `(batch, units)`.
        return_state: also return the final states: `[output, *states]`.
        go_backwards: process the sequence in reverse (the returned sequence is reversed).
        stateful: not supported (raises NotImplementedError); pass `initial_state`.
        unroll: accepted for compatibility; the loop is always a `jax.lax.scan`, which XLA
            compiles once whatever the sequence length.
        zero_output_for_mask: masked timesteps output zeros instead of repeating the
            previous output (with `return_sequences`).

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: a list of initial state arrays (default zeros).
        mask: boolean `(batch, timesteps)`, True for timesteps to use (taken from the input
            automatically after `Embedding(mask_zero=True)` or `Masking`).
        training: enables dropout.

    Returns:
        The output, or `[output, *states]` with `return_state`.

    Raises:
        ValueError: on an invalid cell, inputs that are not 3-D, or a wrong number of
            initial states.
        NotImplementedError: for `stateful=True`.

    Example:
        >>> layer = RNN(LSTMCell(4), return_sequences=True)
        >>> layer(jnp.ones((2, 5, 3))).shape
        (2, 5, 4)
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        super().__init__(**kwargs)
        cls = type(self).__name__
        if not callable(getattr(cell, "call", None)):
            raise ValueError(
                f"{cls} layer '{self.name}' expected a cell with a call(inputs, states) "
                f"method, received {cell!r}. Pass e.g. LSTMCell(32).")
        state_size = getattr(cell, "state_size", None)
        if state_size is None or not isinstance(state_size, (int, np.integer, list, tuple)):
            raise ValueError(
                f"{cls} layer '{self.name}' expected its cell to have a state_size attribute "
                f"(an integer, or a list of integers, one per state), received "
                f"state_size={state_size!r}.")
        if stateful:
            raise NotImplementedError(
                f"{cls} layer '{self.name}': stateful=True is not supported in trine (a "
                "layer keeps no state between batches). Pass stateful=False and carry the "
                "state yourself: call the layer with return_state=True and feed the returned "
                "states back as initial_state=[...].")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)
        self.state_size = list(state_size) if _is_nested(state_size) else [int(state_size)]
        self.single_state = not _is_nested(state_size)

    # -- structure -------------------------------------------------------------------
    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        if len(shape) < 3:
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expected inputs of shape (batch, "
                f"timesteps, features), received shape {shape}. Add a time axis, e.g. with "
                "Reshape, or feed sequences.")
        step_shape = (shape[0],) + shape[2:]
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True
        self.built = True

    def compute_mask(self, inputs, previous_mask=None):
        mask = previous_mask
        if _is_nested(mask):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self.state_size)
        return out

    def get_initial_state(self, batch_size):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            s = fn(batch_size=batch_size)
            return list(s) if _is_nested(s) else [s]
        dtype = getattr(self.cell, "compute_dtype", self.compute_dtype)
        return [jnp.zeros((batch_size, d), dtype) for d in self.state_size]

    # -- the loop --------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        cls = type(self).__name__
        sequences = jnp.asarray(sequences)
        batch = sequences.shape[0]
        states = None
        if initial_state is not None:
            states = list(initial_state) if _is_nested(initial_state) else [initial_state]
            if len(states) != len(self.state_size):
                raise ValueError(
                    f"{cls} layer '{self.name}' expects {len(self.state_size)} initial "
                    f"state(s) (state sizes {self.state_size}), received {len(states)}. Pass "
                    f"initial_state as a list of {len(self.state_size)} arrays of shape "
                    "(batch, size).")
        if _is_nested(mask):
            mask = mask[0] if mask else None
        if mask is not None:
            if tuple(np.shape(mask)) != tuple(sequences.shape[:2]):
                raise ValueError(
                    f"{cls} layer '{self.name}' expected a mask of shape (batch, timesteps) = "
                    f"{sequences.shape[:2]}, received mask of shape {np.shape(mask)}.")
        flags = (self.go_backwards, self.zero_output_for_mask, self.return_sequences,
                 jnp.dtype(self.compute_dtype).name)
        if hasattr(self.cell, "_fused_args"):
            static, params, masks = self.cell._fused_args(sequences, training)
            full = (static, tuple(self.state_size)) + flags
            try:
                hash(full)
                loop = _fused_loop
            except TypeError:  # e.g. an unhashable activation object: run it uncached
                loop = _fused_loop_impl
            output, final = loop(full, params, sequences, states, mask, masks)
        else:
            if states is None:
                states = self.get_initial_state(batch)
            cell = self.cell
            kw = {"training": training} if getattr(cell, "_call_has_training", False) else {}

            def step(states, x_t):
                out, new = cell.call(x_t, states, **kw)
                return out, (list(new) if _is_nested(new) else [new])

            xs = jax.tree_util.tree_map(_time_major, sequences)
            primed = _prime_cells(cell, batch, sequences.shape[-1], sequences.dtype, training)
            try:
                output, final = _scan(xs, step, _as_dtype(states, sequences.dtype),
                                      None if mask is None else jnp.asarray(mask).astype(bool),
                                      *flags)
            finally:
                for c in primed:
                    c._primed_masks = None
        if self.return_state:
            return (output, *final)
        return output

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        })
        cfg["cell"] = serialize_layer(self.cell)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = deserialize_layer(config.pop("cell"), custom_objects)
        return cls(cell, **config)


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
        cfg = Layer.get_config(self)
        cfg.update({
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        })
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
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"LSTM layer expected use_cudnn to be 'auto', True or False, received "
                f"use_cudnn={use_cudnn!r}.")
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
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"GRU layer expected use_cudnn to be 'auto', True or False, received "
                f"use_cudnn={use_cudnn!r}.")
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
def _removeprefix(s, prefix):
    return s[len(prefix):] if s.startswith(prefix) else s


_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


class Bidirectional(Layer):
    """Run a recurrent layer forwards and a copy of it backwards, and merge the outputs.

    The forward layer is a fresh copy of `layer` named `forward_<name>`; the backward layer
    is `backward_layer` or a copy with `go_backwards=True` named `backward_<name>`. Neither
    shares weights with `layer` itself. With `return_sequences`, masked timesteps output
    zeros (both copies get `zero_output_for_mask=True`, as in Keras).

    Args:
        layer: an `RNN` instance (LSTM, GRU, SimpleRNN, RNN(cell)).
        merge_mode: "concat" (default), "sum", "mul", "ave", or None (return both).
        backward_layer: optional layer for the backward direction; it must have
            `go_backwards` opposite to `layer` and the same `return_sequences`,
            `return_state` and `stateful`.

    Call arguments:
        sequences, initial_state (forward states then backward states), mask, training.

    Returns:
        The merged output (a pair with merge_mode=None), followed by the forward then the
        backward final states with `return_state`.

    Raises:
        ValueError: on an invalid merge mode, a non-layer argument, or mismatched layers.

    Example:
        >>> Bidirectional(LSTM(4))(jnp.ones((2, 5, 3))).shape
        (2, 8)
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                "Bidirectional expected `layer` to be a Layer instance such as LSTM(32), "
                f"received {layer!r}.")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(
                "Bidirectional expected `backward_layer` to be a Layer instance or None, "
                f"received {backward_layer!r}.")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Bidirectional expected merge_mode to be one of {list(_MERGE_MODES)}, "
                f"received merge_mode={merge_mode!r}.")
        super().__init__(**kwargs)
        cfg = layer.get_config()
        cfg["name"] = "forward_" + _removeprefix(layer.name, "forward_")
        self.forward_layer = type(layer).from_config(cfg)
        if backward_layer is None:
            cfg = layer.get_config()
            cfg["go_backwards"] = True
            cfg["name"] = "backward_" + _removeprefix(layer.name, "backward_")
            backward_layer = type(layer).from_config(cfg)
        self.backward_layer = backward_layer
        if hasattr(layer, "use_cudnn"):
            self.forward_layer.use_cudnn = layer.use_cudnn
            self.backward_layer.use_cudnn = layer.use_cudnn
        self._verify()
        for sub in (self.forward_layer, self.backward_layer):
            if getattr(sub, "zero_output_for_mask", None) is not None:
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.stateful = getattr(layer, "stateful", False)
        self.return_sequences = getattr(layer, "return_sequences", False)
        self.return_state = getattr(layer, "return_state", False)
        self.supports_masking = True
        self.input_spec = layer.input_spec
        self._initial_weights = weights

    def _verify(self):
        f, b = self.forward_layer, self.backward_layer
        if getattr(f, "go_backwards", False) == getattr(b, "go_backwards", False):
            raise ValueError(
                f"Bidirectional '{self.name}': the forward and backward layers must have "
                f"different go_backwards values, received forward go_backwards="
                f"{getattr(f, 'go_backwards', False)} and backward go_backwards="
                f"{getattr(b, 'go_backwards', False)}. Pass backward_layer with "
                "go_backwards=True.")
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(f, a, None) != getattr(b, a, None):
                raise ValueError(
                    f"Bidirectional '{self.name}': the forward and backward layers must have "
                    f"the same {a}, received {getattr(f, a, None)} (forward) and "
                    f"{getattr(b, a, None)} (backward).")

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(shape)
                sub.built = True
        self.built = True
        if self._initial_weights is not None:
            w, self._initial_weights = list(self._initial_weights), None
            self.set_weights(w)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        kw = {}
        if self.forward_layer._call_has_training and training is not None:
            kw["training"] = training
        if self.forward_layer._call_has_mask and mask is not None:
            kw["mask"] = mask
        fwd_state = bwd_state = None
        if initial_state is not None:
            states = list(initial_state)
            if len(states) % 2:
                raise ValueError(
                    f"Bidirectional '{self.name}' expects initial_state to hold the forward "
                    f"states then the backward states (an even count), received "
                    f"{len(states)} arrays.")
            half = len(states) // 2
            fwd_state, bwd_state = states[:half], states[half:]
        if fwd_state is not None:
            y = self.forward_layer(sequences, initial_state=fwd_state, **kw)
            y_rev = self.backward_layer(sequences, initial_state=bwd_state, **kw)
        else:
            y = self.forward_layer(sequences, **kw)
            y_rev = self.backward_layer(sequences, **kw)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            output = jnp.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = (y, y_rev)
        if self.return_state:
            return (output + states) if self.merge_mode is None else ((output,) + states)
        return output

    def compute_mask(self, inputs, previous_mask=None):
        mask = previous_mask
        if _is_nested(mask):
            mask = mask[0] if mask else None
        if self.return_sequences:
            out = [mask, mask] if self.merge_mode is None else mask
        else:
            out = [None, None] if self.merge_mode is None else None
        if self.return_state:
            n = len(getattr(self.forward_layer, "state_size", [])) * 2
            out = (out if isinstance(out, list) else [out]) + [None] * n
        return out

    def get_config(self):
        cfg = super().get_config()
        cfg["merge_mode"] = self.merge_mode
        cfg["layer"] = serialize_layer(self.forward_layer)
        cfg["backward_layer"] = serialize_layer(self.backward_layer)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], custom_objects)
        back = config.pop("backward_layer", None)
        if back is not None:
            config["backward_layer"] = deserialize_layer(back, custom_objects)
        return cls(**config)


class TimeDistributed(Layer):
    """Apply a layer to every timestep (axis 1) of its input, with shared weights.

    The batch and time axes are merged, the layer runs once on `(batch * timesteps, ...)`,
    and the result is split back to `(batch, timesteps, ...)`: the same numbers as applying
    it to each timestep for layers that treat samples independently (Dense, Conv2D...).

    Args:
        layer: the layer to apply (e.g. `Dense(8)`).

    Returns:
        `(batch, timesteps, *layer_output_shape)`.

    Raises:
        ValueError: if `layer` is not a Layer, or the input has fewer than 3 axes.

    Example:
        >>> TimeDistributed(Dense(8))(jnp.ones((2, 5, 3))).shape
        (2, 5, 8)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"TimeDistributed expected a Layer instance such as Dense(8), received "
                f"{layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)

    def _child_shape(self, input_shape):
        if not _is_nested(input_shape) or len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}' expected inputs with at least 3 axes (batch, "
                f"timesteps, ...), received shape {input_shape}.")
        b, t = input_shape[0], input_shape[1]
        merged = None if b is None or t is None else b * t
        return (merged,) + tuple(input_shape[2:])

    def build(self, input_shape):
        child = self._child_shape(tuple(input_shape))
        if not self.layer.built:
            self.layer.build(child)
            self.layer.built = True
        self.built = True

    def call(self, inputs, training=None, mask=None):
        x = jnp.asarray(inputs)
        b, t = x.shape[0], x.shape[1]
        flat = jnp.reshape(x, (b * t,) + x.shape[2:])
        kw = {}
        if training is not None and self.layer._call_has_training:
            kw["training"] = training
        if mask is not None and self.layer._call_has_mask:
            mask = jnp.asarray(mask)
            if mask.ndim < 2 or mask.shape[:2] != (b, t):
                raise ValueError(
                    f"TimeDistributed '{self.name}' expected a mask whose first two axes are "
                    f"(batch, timesteps) = {(b, t)}, received mask of shape {mask.shape}.")
            kw["mask"] = jnp.reshape(mask, (b * t,) + mask.shape[2:])
        y = self.layer(flat, **kw)
        return jax.tree_util.tree_map(lambda a: jnp.reshape(a, (b, t) + a.shape[1:]), y)

    def get_config(self):
        cfg = super().get_config()
        cfg["layer"] = serialize_layer(self.layer)
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        return cls(layer, **config)
