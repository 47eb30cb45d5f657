"""Bidirectional (a recurrent layer forwards and backwards, outputs merged) and TimeDistributed
(a layer applied to every timestep)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from trine.core.layer import InputSpec, Layer
from trine.layers.recurrent.cells import _is_nested
from trine.layers.recurrent.layer_config import (NestsOneLayer, check_wrapped_layer,
                                                 deserialize_layer, serialize_layer)


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
        check_wrapped_layer("Bidirectional", "layer", layer, "LSTM(32)")
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


class TimeDistributed(NestsOneLayer, Layer):
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
        check_wrapped_layer("TimeDistributed", "layer", layer, "Dense(8)")
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
        return self._with_nested_layer(super().get_config())
