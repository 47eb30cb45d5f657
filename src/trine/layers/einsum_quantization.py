"""Where the per-channel scales of a quantized EinsumDense live: which axes of the inputs
and the kernel are contracted, and how a scale (the operand's shape with those axes kept as
1) is moved to broadcast against the output. Keras stores the kernel scale in that moved
layout, so trine computes it the same way to read and write the same files."""
from __future__ import annotations

import re
import string
from typing import NamedTuple

import jax.numpy as jnp


def _moved(scale, steps):
    """`scale` after each `(op, axes)` step whose axes are not empty."""
    for op, axes in steps:
        if axes:
            scale = op(scale, axes)
    return scale


class ScaleLayout(NamedTuple):
    """How a scale moves from an operand's layout to the output's: transpose, then add the
    `expand` axes, then drop the `squeeze` axes."""
    reduced: tuple
    transpose: tuple
    expand: tuple
    squeeze: tuple

    def to_output(self, scale):
        return _moved(scale, ((jnp.transpose, self.transpose), (jnp.expand_dims, self.expand),
                              (jnp.squeeze, self.squeeze)))

    def to_operand(self, scale):
        inverse = tuple(sorted(range(len(self.transpose)), key=self.transpose.__getitem__))
        return _moved(scale, ((jnp.expand_dims, self.squeeze), (jnp.squeeze, self.expand),
                              (jnp.transpose, inverse)))

    def scale_shape(self, shape):
        """The stored shape of the scale of an operand of `shape`."""
        kept = [1 if i in self.reduced else d for i, d in enumerate(shape)]
        out = [kept[i] for i in self.transpose]
        for a in sorted(self.expand):
            out.insert(a, 1)
        for a in sorted(self.squeeze, reverse=True):
            out.pop(a)
        return tuple(out)


class EinsumQuantization(NamedTuple):
    inputs: ScaleLayout
    kernel: ScaleLayout
    gradient_equation: str  # "output,kernel->input": the inputs' gradient from the kernel


def _full_specs(equation, ndim):
    """The three letter specs with any "..." spelled out as letters for the input's rank."""
    eq = equation.replace("...", "0")
    for pattern, leading in (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
                             ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
                             ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False)):
        m = re.match(pattern, eq)
        if m is None:
            continue
        inp, ker, out = m.groups()
        if leading is not None:
            free = sorted(set(string.ascii_letters) - set(inp + ker + out))
            extra = "".join(free[:ndim - len(inp)])
            if leading:  # Keras prepends the letters one by one
                inp, out = extra[::-1] + inp, extra[::-1] + out
            else:
                inp, out = inp + extra, out + extra
        return inp, ker, out
    raise ValueError(f"EinsumDense: invalid equation {equation!r} for quantization; expected "
                     "'ab,bc->ac', '...ab,bc->...ac' or 'ab...,bc->ac...'.")


def _layout(spec, out, carried):
    """The ScaleLayout of an operand `spec` (and the position Keras's placement of a
    reduced axis falls back to, carried from the previous operand)."""
    reduced = [i for i, c in enumerate(spec) if c not in out]
    expand = [i for i, c in enumerate(out) if c not in spec]
    transpose = [spec.find(c) for c in out if c in spec]
    free_slots, squeeze, position = expand, [], carried
    for axis in reduced:
        if free_slots:
            position = free_slots.pop(0)
        else:
            squeeze.append(axis)  # placed where the last reduced axis went (as Keras)
        transpose.insert(position, axis)
    # the output axes left unfilled by reduced axes are added to the scale as size 1
    return ScaleLayout(tuple(reduced), tuple(transpose), tuple(free_slots),
                       tuple(squeeze)), position


def einsum_quantization(equation, ndim) -> EinsumQuantization:
    """The scale layouts of the inputs and kernel of `equation` for inputs of rank `ndim`."""
    inp, ker, out = _full_specs(equation, ndim)
    inputs, position = _layout(inp, out, out.find(ker[-1]))
    kernel, _ = _layout(ker, out, position)
    return EinsumQuantization(inputs, kernel, f"{out},{ker}->{inp}")
