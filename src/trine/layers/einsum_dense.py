"""EinsumDense: a dense layer whose contraction is any einsum equation (Keras `EinsumDense`)."""
from __future__ import annotations

import math
import re

import jax.numpy as jnp

from trine import activations, initializers, quantizers
from trine.core.layer import InputSpec, Layer
from trine.layers.einsum_quantization import einsum_quantization
from trine.layers._weight_args import set_weight_args, weight_args_config
from trine.layers.quantizable import KERNEL_LAYOUT, Quantizable

__all__ = ["EinsumDense", "analyze_einsum"]


def _bad_equation(name, equation):
    return ValueError(
        f"EinsumDense layer '{name}' received an invalid equation={equation!r}. Expected the "
        "form 'ab,bc->ac', '...ab,bc->...ac' or 'ab...,bc->ac...' (input,kernel->output, "
        "letters only, at most one '...').")


def analyze_einsum(name, equation, bias_axes, input_shape, output_shape):
    """Resolve the kernel, bias and full output shapes of an einsum projection.

    Args:
        name: the layer's name (for errors).
        equation: `input,kernel->output` with optional `...` at the start or end.
        bias_axes: output letters that get a bias, or None.
        input_shape: the full input shape (batch included).
        output_shape: the output shape without the batch axis (None entries are inferred).

    Returns:
        `(kernel_shape, bias_shape or None, full_output_shape, input_axes, output_axes)`;
        the axes are the kernel axes that count into fan-in and fan-out.

    Raises:
        ValueError: for a malformed equation or shapes that disagree with it.
    """
    eq = equation.replace("...", "0")
    left = False
    m = re.fullmatch(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", eq)
    if m is None:
        m = re.fullmatch(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", eq)
        left = m is not None
    if m is None:
        m = re.fullmatch(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", eq)
    if m is None:
        raise _bad_equation(name, equation)
    in_spec, w_spec, out_spec = m.groups()
    input_shape = list(input_shape)
    elided = len(input_shape) - len(in_spec)
    if elided < 0:
        raise ValueError(
            f"EinsumDense layer '{name}': equation {equation!r} names {len(in_spec)} input axes "
            f"but received input of rank {len(input_shape)} (shape {tuple(input_shape)}).")
    out = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    out.insert(0, input_shape[0])
    if elided > 0 and left:
        for i in range(1, elided):
            out.insert(1, input_shape[i])
    elif elided > 0:
        out.extend(input_shape[len(input_shape) - elided:])
    if left:
        in_map = {d: i + elided - len(input_shape) for i, d in enumerate(in_spec)}
        out_map = {d: i + elided for i, d in enumerate(out_spec)}
    else:
        in_map = {d: i for i, d in enumerate(in_spec)}
        out_map = {d: i for i, d in enumerate(out_spec)}
    if len(out) != len(out_spec) + max(elided, 0):
        raise ValueError(
            f"EinsumDense layer '{name}': output_shape={output_shape!r} does not match the "
            f"output spec {out_spec!r} of equation {equation!r}. Give one size per output "
            "letter after the batch axis (None to take it from the input).")
    for d in in_spec:
        if d in out_map:
            o = out[out_map[d]]
            i = input_shape[in_map[d]]
            if o is None:
                out[out_map[d]] = i
            elif i is not None and o != i:
                raise ValueError(
                    f"EinsumDense layer '{name}': input and output disagree on shared axis "
                    f"'{d}' ({i} vs {o}). Set output_shape to {i} (or None) on that axis.")
    for d in out_spec:
        if d not in in_spec and d not in w_spec:
            raise ValueError(
                f"EinsumDense layer '{name}': output axis '{d}' of {equation!r} appears in "
                "neither the input nor the kernel spec.")
    kernel, in_axes, out_axes = [], [], []
    for i, d in enumerate(w_spec):
        if d in out_map:
            kernel.append(out[out_map[d]])
            out_axes.append(i)
        elif d in in_map:
            kernel.append(input_shape[in_map[d]])
            in_axes.append(i)
        else:
            raise ValueError(
                f"EinsumDense layer '{name}': kernel axis '{d}' of {equation!r} is in neither "
                "the input nor the output spec; the kernel must be fully determined.")
    bias = None
    if bias_axes is not None:
        lead = elided if left else 0
        sizes = {c: out[i + lead] for i, c in enumerate(out_spec)}
        for c in bias_axes:
            if c not in out_spec:
                raise ValueError(
                    f"EinsumDense layer '{name}': bias_axes letter '{c}' is not in the output "
                    f"spec {out_spec!r}. Pick bias_axes from the output letters.")
        first = min(out_spec.find(c) for c in bias_axes)
        bias = [sizes[c] if c in bias_axes else 1 for c in out_spec[first:]]
        if not left:
            bias.extend([1] * max(elided, 0))
    return kernel, bias, out, in_axes, out_axes


class EinsumDense(Quantizable, Layer):
    """A dense layer computing `activation(einsum(equation, inputs, kernel) + bias)`.

    Args:
        equation: e.g. "ab,bc->ac", "abc,cd->abd" or "...b,bc->...c".
        output_shape: the output shape without the batch axis (an int for one axis; None
            entries are taken from the input).
        activation: activation name or callable (default linear).
        bias_axes: output letters that get a bias, e.g. "c" (default no bias).
        kernel_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        kernel_regularizer / bias_regularizer / activity_regularizer: penalties.
        kernel_constraint / bias_constraint: projections after each update.
        lora_rank, lora_alpha: LoRA is not supported (must be None).
        quantization_config: the `trine.quantizers` config of a quantized layer (set by
            `quantize("int8" | "int4" | "float8")`, saved in the config).

    Returns:
        A tensor of the full output shape.

    Raises:
        ValueError: for a malformed equation, mismatched shapes or bias_axes.

    Example:
        >>> layer = EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")
        >>> layer(jnp.ones((2, 32, 128))).shape
        (2, 32, 64)
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        kwargs.pop("gptq_unpacked_column_size", None)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(equation, str):
            raise _bad_equation(self.name, equation)
        if lora_rank:
            raise NotImplementedError(
                f"EinsumDense layer '{self.name}': lora_rank is not supported yet; pass "
                "lora_rank=None.")
        self.equation = equation
        self.partial_output_shape = ((int(output_shape),) if isinstance(output_shape, int)
                                     else tuple(output_shape))
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        set_weight_args(self, "kernel", kernel_initializer, kernel_regularizer,
                        kernel_constraint)
        set_weight_args(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.lora_rank = None
        self.lora_alpha = None
        self.quantization_config = quantizers.get(quantization_config)  # a file's record: rebuilt

    _QUANTIZED_LAYOUT = KERNEL_LAYOUT

    def build(self, input_shape):
        kshape, bshape, _, in_axes, out_axes = analyze_einsum(
            self.name, self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        if any(d is None for d in kshape):
            raise ValueError(
                f"EinsumDense layer '{self.name}' needs known sizes for the kernel axes; the "
                f"kernel shape resolved to {tuple(kshape)} from input shape "
                f"{tuple(input_shape)}. Give those sizes in output_shape or the Input shape.")
        init = self.kernel_initializer
        # Keras gives VarianceScaling the fan axes of a multi-axis kernel (same draw, right scale)
        if isinstance(init, initializers.VarianceScaling) and (
                init.input_axes is None or init.output_axes is None):
            init = type(init).from_config({**init.get_config(), "input_axes": in_axes,
                                           "output_axes": out_axes})
        self.input_spec = InputSpec(ndim=len(input_shape))
        self._kernel_shape = tuple(kshape)
        self._scales = einsum_quantization(self.equation, len(input_shape))
        mode = self.quantization_mode
        if mode in ("int8", "int4"):
            self._build_quantized_kernel(mode, self.quantization_config)
        else:
            if mode == "float8":
                self._build_float8_scales()
            self._kernel = self.add_weight(shape=tuple(kshape), initializer=init,
                                           regularizer=self.kernel_regularizer,
                                           constraint=self.kernel_constraint, name="kernel")
        self.bias = (self.add_weight(shape=tuple(bshape), initializer=self.bias_initializer,
                                     regularizer=self.bias_regularizer,
                                     constraint=self.bias_constraint, name="bias")
                     if bshape is not None else None)
        self.built = True

    @property
    def kernel(self):
        if not self.built:
            raise AttributeError(
                f"EinsumDense layer '{self.name}' has no kernel until it is built; call it on "
                "an input first.")
        return self._kernel

    def _int4_matrix_shape(self):
        """Keras's 2D view of the kernel for int4: (contracted sizes, kept sizes)."""
        reduced = self._scales.kernel.reduced
        rows = math.prod(d for i, d in enumerate(self._kernel_shape) if i in reduced)
        return rows, math.prod(self._kernel_shape) // rows

    def _build_quantized_kernel(self, mode, config):
        """The int8 kernel (scale in the output's layout) or the int4 one (the 2D view packed
        along its columns; a scale per column, or per block of rows and column)."""
        default = quantizers.AbsMaxQuantizer() if mode == "int8" else None
        self.inputs_quantizer = quantizers.QuantizationConfig.activation_quantizer_or_default(
            config, default)
        if mode == "int8":
            self._build_integer_weights(
                "kernel", self._kernel_shape, self._scales.kernel.scale_shape(self._kernel_shape),
                None, 0, attribute="_kernel")
            return
        rows, columns = self._int4_matrix_shape()
        block = self._int4_block_size(config)
        scale_shape = (columns,) if block is None else (-(-rows // block), columns)
        self._build_integer_weights("kernel", (rows, (columns + 1) // 2), scale_shape, block,
                                    rows, attribute="_kernel")

    def _quantize_weights(self, mode, config):
        if mode == "float8":
            self._build_float8_scales()
            return
        kernel, zero = self._kernel.value, None
        if mode == "int8":
            default = quantizers.AbsMaxQuantizer(axis=self._scales.kernel.reduced)
            quantizer = quantizers.QuantizationConfig.weight_quantizer_or_default(config, default)
            values, scale = quantizer(kernel, to_numpy=True)
            scale = self._scales.kernel.to_output(scale)
        else:
            block = self._int4_block_size(config)
            matrix = jnp.reshape(kernel, self._int4_matrix_shape())
            if block is None:
                values, scale = quantizers.abs_max_quantize(matrix, 0, (-8, 7), to_numpy=True)
                scale = scale[0]
            else:
                values, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(
                    matrix, block_size=block, to_numpy=True)
            values = quantizers.pack_int4(values, axis=-1)[0]
        self._swap_in_quantized("_kernel", "kernel",
                                lambda: self._build_quantized_kernel(mode, config),
                                values, scale, zero)

    def _einsum(self, x, kernel, **kwargs):
        return jnp.einsum(self.equation, x, kernel, **kwargs)

    def _quantize_inputs(self):
        """`x -> (quantized x, its scale in the output's layout)`, or None (float inputs)."""
        quantizer, layout = self.inputs_quantizer, self._scales.inputs
        if quantizer is None:
            return None

        def quantize(x):
            q, scale = quantizer(x, axis=layout.reduced)
            return q, layout.to_output(scale)
        return quantize

    def _int4_float_kernel(self):
        rows, columns = self._int4_matrix_shape()
        values = quantizers.unpack_int4(self._kernel.value, columns, axis=-1)
        if self.__dict__.get("kernel_zero") is None:
            matrix = values.astype(self.compute_dtype) / self.kernel_scale.value
        else:
            matrix = quantizers.dequantize_grouped(values, self.kernel_scale.value,
                                                   self.kernel_zero.value, self.g_idx.value,
                                                   group_axis=0).astype(self.compute_dtype)
        return jnp.reshape(matrix, self._kernel_shape)

    def _quantized_einsum(self, inputs, mode):
        dtype = self.compute_dtype
        if mode == "float8":
            return self._float8_contract(self._einsum, inputs, self._kernel.value)
        if mode == "int4":
            float_kernel = self._int4_float_kernel()
            quantize = self._quantize_inputs()
            if quantize is None:
                return self._einsum(inputs, float_kernel)

            def forward(x, kernel):
                q, scale = quantize(x)
                return self._einsum(q, kernel).astype(dtype) / scale
            return quantizers.with_float_kernel_gradient(
                inputs, float_kernel, forward,
                lambda g, k: jnp.einsum(self._scales.gradient_equation, g, k))
        layout = self._scales.kernel
        return quantizers.quantized_contraction(
            inputs, self._kernel.value, self.kernel_scale.value, contract=self._einsum,
            contract_grad=lambda g, k: jnp.einsum(self._scales.gradient_equation, g, k),
            float_kernel=lambda k, s: k.astype(dtype) / layout.to_operand(s),
            quantize_inputs=self._quantize_inputs(), compute_dtype=dtype)

    def call(self, inputs):
        mode = self.quantization_mode
        if mode is None:
            x = jnp.einsum(self.equation, inputs, self._kernel.value)
        else:
            x = self._quantized_einsum(inputs, mode)
        return self.activation(self._add_bias(x))

    def compute_output_shape(self, input_shape):
        return tuple(analyze_einsum(self.name, self.equation, self.bias_axes, input_shape,
                                    self.partial_output_shape)[2])

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            **weight_args_config(self, ("kernel", "bias"), activity_regularizer=True),
            "quantization_config": quantizers.serialize(self.quantization_config),
        })
        return cfg
