"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum."""
from __future__ import annotations

import jax.numpy as jnp

from trine.core.layer import Layer


class _Merge(Layer):
    _min_inputs = 2
    _max_inputs = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _validate(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(
                input_shape[0], (list, tuple)):
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expected a list of at least "
                f"{self._min_inputs} inputs, received a single input of shape {input_shape}. "
                "Call it on a list: layer([x1, x2]).")
        n = len(input_shape)
        if n < self._min_inputs or (self._max_inputs and n > self._max_inputs):
            exp = (f"exactly {self._max_inputs}" if self._max_inputs == self._min_inputs
                   else f"at least {self._min_inputs}")
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' expected {exp} inputs, received {n}.")

    def build(self, input_shape):
        self._validate(input_shape)
        self._check_broadcast(input_shape)
        self.built = True

    def _check_broadcast(self, shapes):
        ranks = {len(s) for s in shapes}
        if len(ranks) > 1:
            return
        for axis in range(1, len(shapes[0])):
            dims = {s[axis] for s in shapes if s[axis] is not None and s[axis] != 1}
            if len(dims) > 1:
                raise ValueError(
                    f"{type(self).__name__} layer '{self.name}' needs inputs of the same shape "
                    f"(or broadcastable), received shapes {[tuple(s) for s in shapes]}.")

    def _merge(self, inputs):
        raise NotImplementedError

    def call(self, inputs):
        return self._merge(list(inputs))


class Add(_Merge):
    """Element-wise sum of a list of inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    """`inputs[0] - inputs[1]` (exactly two inputs)."""
    _max_inputs = 2

    def _merge(self, xs):
        return xs[0] - xs[1]


class Multiply(_Merge):
    """Element-wise product of a list of inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Average(_Merge):
    """Element-wise mean of a list of inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out / len(xs)


class Maximum(_Merge):
    """Element-wise maximum of a list of inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = jnp.maximum(out, x)
        return out


class Minimum(_Merge):
    """Element-wise minimum of a list of inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = jnp.minimum(out, x)
        return out


class Concatenate(_Merge):
    """Concatenate a list of inputs along `axis` (default -1)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _check_broadcast(self, shapes):
        ranks = {len(s) for s in shapes}
        if len(ranks) > 1:
            raise ValueError(
                f"Concatenate layer '{self.name}' needs inputs of the same rank, received "
                f"shapes {[tuple(s) for s in shapes]}.")
        rank = ranks.pop()
        ax = self.axis % rank
        for i in range(1, rank):
            if i == ax:
                continue
            dims = {s[i] for s in shapes if s[i] is not None}
            if len(dims) > 1:
                raise ValueError(
                    f"Concatenate layer '{self.name}' needs inputs that match on every axis but "
                    f"the concatenation axis ({self.axis}), received shapes "
                    f"{[tuple(s) for s in shapes]}.")

    def _merge(self, xs):
        return jnp.concatenate(xs, axis=self.axis)

    def get_config(self):
        cfg = super().get_config()
        cfg["axis"] = self.axis
        return cfg


def _functional(cls):
    def fn(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = f"Functional form of {cls.__name__}: `{fn.__name__}([x1, x2, ...], **kwargs)`."
    return fn


add = _functional(Add)
subtract = _functional(Subtract)
multiply = _functional(Multiply)
average = _functional(Average)
maximum = _functional(Maximum)
minimum = _functional(Minimum)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of Concatenate: `concatenate([x1, x2], axis=-1, name=...)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)
