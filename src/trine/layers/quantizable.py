"""`Quantizable`: what Dense, EinsumDense and Embedding share to quantize their weights in
place (`layer.quantize("int8")`) and to build, save and load them quantized.

A quantized layer's dtype policy names the mode ("int8_from_float32"); built under such a
policy (a loaded model's config), a layer creates the quantized variables at once, so the
saved weights load into them in Keras's order (`_QUANTIZED_LAYOUT`).
"""
from __future__ import annotations

import numpy as np

from trine import quantizers
from trine.core.layer import Layer, current_context


# Keras's saved order of the variables of a kernel layer (Dense, EinsumDense), by mode
KERNEL_LAYOUT = {
    "int8": ("kernel", "bias", "kernel_scale"),
    "int4": ("kernel", "bias", "kernel_scale", "kernel_zero", "g_idx"),
    "float8": ("kernel", "bias", "inputs_scale", "inputs_amax_history", "kernel_scale",
               "kernel_amax_history", "outputs_grad_scale", "outputs_grad_amax_history"),
}


class Quantizable:
    """Mixin of layers with a `quantize` method. A layer sets `_QUANTIZED_LAYOUT` (mode ->
    the names of its variables in saved order) and writes `_quantize_weights(mode, config)`,
    which replaces its float weights with quantized ones."""

    _QUANTIZED_LAYOUT: dict = {}
    quantization_config = None

    @property
    def dtype_policy(self):
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value):
        """Set the policy; a quantized one on a built float layer quantizes it (as Keras)."""
        Layer.dtype_policy.fset(self, value)
        mode = self.quantization_mode
        if mode is not None and self.built and not self.__dict__.get("_is_quantized"):
            self.quantize(mode)

    def quantize(self, mode=None, type_check=True, config=None):
        """Quantize the weights in place: "int8", "int4" or "float8" (see
        `trine.quantizers`); the layer then computes with them, as Keras's.

        Args:
            mode: the mode; optional when `config` is given.
            type_check: refuse subclasses (their `call` may not know the quantized weights).
            config: a `trine.quantizers.QuantizationConfig` (default: the mode's default).

        Raises:
            ValueError: for an unknown mode or bad config, an unbuilt layer, a layer quantized
                already, or int8 with float16 compute.
            NotImplementedError: for a subclass (with type_check), a mode this layer does not
                have, or gptq / awq (their calibration is not built in trine).
        """
        config = quantizers.resolve_config(mode, config)
        mode = config.mode
        name = f"{type(self).__name__} layer '{self.name}'"
        if not self.built:
            raise ValueError(f"Cannot quantize {name}: it is not built yet. Call it on data or "
                             "build() it first.")
        if self.__dict__.get("_is_quantized"):
            raise ValueError(f"{name} is quantized already (dtype_policy="
                             f"'{self.dtype_policy.name}'), received mode={mode!r}. Quantize a "
                             "float model once.")
        if mode == "int8" and self.compute_dtype == "float16":
            raise ValueError(f"Cannot quantize {name} to int8 with compute_dtype 'float16'; use "
                             "a 'bfloat16' or 'mixed_bfloat16' policy first.")
        if type_check and type(self).__name__ not in ("Dense", "EinsumDense", "Embedding"):
            raise NotImplementedError(
                f"{name}: quantize() is refused for subclasses of {type(self).__mro__[1].__name__}"
                " (their call may not use the quantized weights); pass type_check=False to "
                "quantize anyway.")
        if mode in ("gptq", "awq"):
            raise NotImplementedError(
                f"{name}: mode {mode!r} needs its calibration algorithm, which trine does not "
                "have yet; use 'int8', 'int4' or 'float8'.")
        if mode not in self._QUANTIZED_LAYOUT:
            raise NotImplementedError(
                f"{name} cannot be quantized to {mode!r}; it supports "
                f"{[m for m in self._QUANTIZED_LAYOUT if m]}.")
        self.quantization_config = config
        self._quantize_weights(mode, config)
        self._is_quantized = True
        if self.quantization_mode is None:
            label = mode
            if mode == "int4":
                block = self._int4_block_size(config)
                label = f"int4/{-1 if block is None else block}"
            self.dtype_policy = f"{label}_from_{self.dtype_policy.name}"

    def _int4_block_size(self, config=None):
        """The int4 block size from the config, else the dtype policy (None: per channel)."""
        if isinstance(config, quantizers.Int4QuantizationConfig):
            block = config.block_size
        else:
            block = getattr(self.dtype_policy, "block_size", None)
        return None if block in (None, -1) else block

    def _drop_weight(self, attribute):
        """Forget the variable held in `attribute` (quantize replaces it; the new one comes
        last among the layer's variables, as Keras's delete and re-add leave it)."""
        old = self.__dict__.pop(attribute, None)
        self._own_variables[:] = [v for v in self._own_variables if v is not old]
        self._regularized[:] = [(v, r) for v, r in self._regularized if v is not old]

    def _swap_in_quantized(self, attribute, prefix, build, values, scale, zero=None):
        """Replace the float weight in `attribute` by the variables `build()` creates and
        fill them: the quantized values, `<prefix>_scale` and (blocks) `<prefix>_zero`."""
        self._drop_weight(attribute)
        build()
        getattr(self, attribute).assign(values)
        getattr(self, f"{prefix}_scale").assign(scale)
        if zero is not None:
            getattr(self, f"{prefix}_zero").assign(zero)

    def _build_integer_weights(self, prefix, stored_shape, scale_shape, block_size, group_len,
                               attribute=None):
        """`<prefix>` (int8, `stored_shape`, held in `attribute`, default the prefix) and
        `<prefix>_scale`; with a block size also `<prefix>_zero` and `g_idx` (the group of
        each of `group_len` positions). All frozen."""
        frozen = {"initializer": "zeros", "trainable": False}
        setattr(self, attribute or prefix, self.add_weight(name=prefix, shape=stored_shape,
                                                           dtype="int8", **frozen))
        setattr(self, f"{prefix}_scale", self.add_weight(
            name=f"{prefix}_scale", shape=scale_shape, initializer="ones", trainable=False))
        if block_size is not None:
            setattr(self, f"{prefix}_zero", self.add_weight(
                name=f"{prefix}_zero", shape=scale_shape, dtype="int8", **frozen))
            self.g_idx = self.add_weight(name="g_idx", shape=(group_len,), dtype="float32",
                                         **frozen)
            self.g_idx.assign(np.arange(group_len, dtype="float32") // block_size)

    def _build_float8_scales(self):
        """The delayed-scaling state of float8: a scale and an amax history each for the
        inputs, the kernel and the output gradient (float32, read without autocast)."""
        length = getattr(self.dtype_policy, "amax_history_length", 1024)
        for part in ("inputs", "kernel", "outputs_grad"):
            scale = self.add_weight(name=f"{part}_scale", shape=(), initializer="ones",
                                    dtype="float32", autocast=False)
            history = self.add_weight(name=f"{part}_amax_history", shape=(length,),
                                      initializer="zeros", dtype="float32", autocast=False)
            # their "gradients" are their next values (see quantizers.float8_inputs)
            scale.overwrite_with_gradient = history.overwrite_with_gradient = True
            setattr(self, f"{part}_scale", scale)
            setattr(self, f"{part}_amax_history", history)

    def _float8_contract(self, contract, inputs, kernel):
        """`contract(inputs, kernel)` with both quantized to float8 and back by their scales,
        and the output's gradient likewise (Keras's float8 training maths)."""
        dtype = self.compute_dtype
        context = current_context()
        training = bool(context is not None and context.training)
        x = contract(
            quantizers.float8_inputs(inputs, self.inputs_scale.value,
                                     self.inputs_amax_history.value, dtype, training),
            quantizers.float8_inputs(kernel, self.kernel_scale.value,
                                     self.kernel_amax_history.value, dtype, training))
        return quantizers.float8_output_gradient(
            x, self.outputs_grad_scale.value, self.outputs_grad_amax_history.value, dtype)

    def _add_bias(self, x):
        """`x + bias` (none without one); under float8 with float32 compute the bias is first
        rounded to bfloat16, as Keras's fused float8 bias add does."""
        if self.bias is None:
            return x
        bias = self.bias.value
        if self.quantization_mode == "float8" and self.compute_dtype == "float32":
            bias = bias.astype("bfloat16").astype(bias.dtype)
        return x + bias

    def _saved_order(self):
        """The variables in the order files hold them: Keras's for a quantized mode (read by
        `core.tracking.own_variables`); None for a float layer (the default order)."""
        mode = self.quantization_mode
        if mode is None:
            return None
        found = (getattr(self, n, None) for n in self._QUANTIZED_LAYOUT[mode])
        return [v for v in found if v is not None]
