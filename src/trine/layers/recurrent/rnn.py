"""RNN: runs a cell over the time axis in one `jax.lax.scan`.

On accelerators the input projection of every timestep is computed before the loop as one
matrix product, so only the recurrent product runs step by step; on the CPU each step projects
its own input, which XLA's CPU backend runs about 2x faster (`_Cell._step_inputs`). Masked
timesteps (a mask from `Embedding(mask_zero=True)` or `Masking`) keep the previous state and
repeat the previous output, as in Keras.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine.core.layer import InputSpec, Layer
from trine.layers.recurrent.cells import StackedRNNCells, _Cell, _is_nested, _time_major
from trine.layers.recurrent.layer_config import NestsOneLayer


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


class RNN(NestsOneLayer, Layer):
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

    nested_layer_key = "cell"

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

    def _loop_config(self):
        """The base layer's config and the loop's flags: what every RNN layer's config starts
        with, before its cell (nested or flattened into it)."""
        cfg = Layer.get_config(self)
        cfg.update({
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        })
        return cfg

    def get_config(self):
        return self._with_nested_layer(self._loop_config())
