"""Core layers: Input, Dense, Flatten, Activation, Reshape, Dropout, Identity."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from trine import activations, quantizers
from trine.core.layer import InputSpec, Layer, unique_name
from trine.core.random import LazySeed
from trine.core.symbolic import KerasTensor, Node
from trine.layers._weight_args import set_weight_args, weight_args_config
from trine.layers.quantizable import KERNEL_LAYOUT, Quantizable


class InputLayer(Layer):
    """The entry point of a Functional graph; its output is a symbolic tensor.

    Args:
        shape: shape of one sample, without the batch axis (e.g. `(28, 28)`).
        batch_size: optional fixed batch size.
        dtype: dtype of the input (default float32).
        batch_shape: full shape including the batch axis (instead of shape/batch_size).
        name: layer name (default "input_layer", "input_layer_1", ...).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs and shape is None:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs and batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name or unique_name("input_layer"), dtype=dtype, **kwargs)
        if shape is not None and batch_shape is not None:
            raise ValueError(
                f"InputLayer '{self.name}': pass shape= or batch_shape=, not both "
                f"(received shape={shape}, batch_shape={batch_shape}).")
        if shape is None and batch_shape is None:
            raise ValueError(
                f"InputLayer '{self.name}' needs shape= (one sample, e.g. shape=(28, 28)) "
                "or batch_shape=; received neither.")
        if batch_shape is None:
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.batch_shape = batch_shape
        self.sparse = bool(sparse)
        self.optional = optional
        self.built = True
        out = KerasTensor(batch_shape, self.dtype, name=self.name)
        Node(self, (), {}, out)
        self._output_tensor = out

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype,
                "sparse": self.sparse, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False):
    """A symbolic input of a Functional model (Keras `keras.Input`).

    Args:
        shape: shape of one sample, without the batch axis.
        batch_size: optional fixed batch size.
        dtype: dtype (default float32).
        batch_shape: full shape including batch axis (instead of shape).
        name: a unique name; it is also the key of this input in dict inputs.

    Returns:
        A `KerasTensor`.

    Example:
        >>> x = Input(shape=(28, 28))
        >>> x.shape
        (None, 28, 28)
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, optional=optional)
    return layer._output_tensor


class Dense(Quantizable, Layer):
    """Densely connected layer: `activation(inputs @ kernel + bias)`.

    Args:
        units: size of the output's last axis.
        activation: a name or callable (default: none, i.e. linear).
        use_bias: whether to add a bias.
        kernel_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        kernel_regularizer / bias_regularizer / activity_regularizer: penalties.
        kernel_constraint / bias_constraint: projections after each update.
        quantization_config: the `trine.quantizers` config of a quantized layer (set by
            `quantize`, saved in the config).

    `quantize("int8" | "int4" | "float8")` quantizes the kernel in place (see Quantizable).

    Example:
        >>> layer = Dense(10, activation="relu")
        >>> layer(jnp.ones((2, 4))).shape
        (2, 10)
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                f"Dense layer '{self.name}' expected units to be a positive integer, received "
                f"units={units!r}.")
        if lora_rank is not None:
            raise NotImplementedError(f"Dense layer '{self.name}': lora_rank is not supported yet.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_args(self, "kernel", kernel_initializer, kernel_regularizer,
                        kernel_constraint)
        set_weight_args(self, "bias", bias_initializer, bias_regularizer, bias_constraint)
        self.quantization_config = quantizers.get(quantization_config)  # a file's record: rebuilt
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    _QUANTIZED_LAYOUT = KERNEL_LAYOUT

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(
                f"Dense layer '{self.name}' needs a known last axis to create its kernel, "
                f"received input shape {tuple(input_shape)}.")
        mode = self.quantization_mode
        if mode in ("int8", "int4"):
            self._build_quantized_kernel(mode, in_dim, self.quantization_config)
        else:
            if mode == "float8":
                self._build_float8_scales()
            self.kernel = self.add_weight(
                shape=(in_dim, self.units), initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")
        else:
            self.bias = None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.built = True

    def _build_quantized_kernel(self, mode, in_dim, config):
        """The int8 kernel `(in, units)` or the int4 one packed along units, their scales
        (per unit, or per block of input rows and unit) and the input quantizer."""
        default = quantizers.AbsMaxQuantizer() if mode == "int8" else None
        self.inputs_quantizer = quantizers.QuantizationConfig.activation_quantizer_or_default(
            config, default)
        if mode == "int8":
            self._build_integer_weights("kernel", (in_dim, self.units), (self.units,), None, 0)
            return
        block = self._int4_block_size(config)
        scale_shape = (self.units,) if block is None else (-(-in_dim // block), self.units)
        self._build_integer_weights("kernel", (in_dim, (self.units + 1) // 2), scale_shape,
                                    block, in_dim)

    def _quantize_weights(self, mode, config):
        if mode == "float8":
            self._build_float8_scales()
            return
        kernel = self.kernel.value
        block = self._int4_block_size(config) if mode == "int4" else None
        zero = None
        if block is None:
            default = quantizers.AbsMaxQuantizer(
                axis=0, value_range=(-127, 127) if mode == "int8" else (-8, 7))
            quantizer = quantizers.QuantizationConfig.weight_quantizer_or_default(config, default)
            values, scale = quantizer(kernel, to_numpy=True)
            scale = scale[0]
        else:
            values, scale, zero = quantizers.abs_max_quantize_grouped_with_zero_point(
                kernel, block_size=block, to_numpy=True)
        if mode == "int4":
            values = quantizers.pack_int4(values, axis=-1)[0]
        self._swap_in_quantized("kernel", "kernel",
                                lambda: self._build_quantized_kernel(mode, kernel.shape[0], config),
                                values, scale, zero)

    def _quantized_matmul(self, inputs, mode):
        dtype = self.compute_dtype
        if mode == "float8":
            return self._float8_contract(jnp.matmul, inputs, self.kernel.value)
        kernel = self.kernel.value
        if mode == "int4":
            kernel = quantizers.unpack_int4(kernel, self.units, axis=-1)
            if self.__dict__.get("kernel_zero") is not None:  # blocks: dequantize, float matmul
                float_kernel = quantizers.dequantize_grouped(
                    kernel, self.kernel_scale.value, self.kernel_zero.value,
                    self.g_idx.value, group_axis=0)
                return jnp.matmul(inputs, float_kernel.astype(dtype))
        quantizer = self.inputs_quantizer
        return quantizers.quantized_contraction(
            inputs, kernel, self.kernel_scale.value, contract=jnp.matmul,
            contract_grad=lambda g, k: jnp.matmul(g, k.T),
            float_kernel=lambda k, s: k.astype(dtype) / s,
            quantize_inputs=None if quantizer is None else (lambda x: quantizer(x, axis=-1)),
            compute_dtype=dtype)

    def call(self, inputs):
        mode = self.quantization_mode
        if mode is None:
            x = jnp.matmul(inputs, self.kernel.value)
        else:
            x = self._quantized_matmul(inputs, mode)
        return self.activation(self._add_bias(x))

    def get_config(self):
        cfg = super().get_config()
        cfg.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_args_config(self, ("kernel", "bias"), activity_regularizer=True),
            "quantization_config": quantizers.serialize(self.quantization_config),
        })
        return cfg


class Flatten(Layer):
    """Flatten each sample to one axis: (batch, d1, d2, ...) -> (batch, d1*d2*...).

    Args:
        data_format: "channels_last" (default) or "channels_first"; with channels_first the
            channel axis is moved last before flattening, so weights keep their order.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(
                f"Flatten layer '{self.name}' expected data_format 'channels_last' or "
                f"'channels_first', received {data_format!r}.")
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        x = inputs
        if self.data_format == "channels_first" and x.ndim >= 3:
            x = jnp.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
        return jnp.reshape(x, (x.shape[0], -1))

    def get_config(self):
        cfg = super().get_config()
        cfg["data_format"] = self.data_format
        return cfg


class Activation(Layer):
    """Apply an activation function (by name or callable)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        cfg = super().get_config()
        cfg["activation"] = activations.serialize(self.activation)
        return cfg


class Reshape(Layer):
    """Reshape each sample to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(int(d) for d in target_shape)
        if sum(1 for d in target_shape if d == -1) > 1:
            raise ValueError(
                f"Reshape layer '{self.name}': at most one dimension of target_shape may be -1, "
                f"received {target_shape}.")
        self.target_shape = target_shape

    def build(self, input_shape):
        size = input_shape[1:]
        if all(d is not None for d in size):
            n = int(np.prod(size))
            known = int(np.prod([d for d in self.target_shape if d != -1]))
            ok = (n % known == 0) if -1 in self.target_shape else (n == known)
            if not ok:
                raise ValueError(
                    f"Reshape layer '{self.name}' cannot reshape samples of shape "
                    f"{tuple(size)} ({n} values) to {self.target_shape}. Pick a target shape "
                    f"with {n} values, or use -1 for one dimension.")
        self.built = True

    def call(self, inputs):
        return jnp.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg["target_shape"] = list(self.target_shape)
        return cfg


class _RandomLayer(Layer):
    """A layer with a `seed=` argument whose randomness acts only in training."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        if seed is not None:
            self._seed_gen = LazySeed(seed)
        self.supports_masking = True

    def build(self, input_shape):
        self._seed_gen.index  # take this layer's draw index now, in build order
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class Dropout(_RandomLayer):
    """Randomly zero a fraction `rate` of inputs during training, scaling the rest by 1/(1-rate).

    Args:
        rate: fraction to drop, in [0, 1).
        noise_shape: shape of the keep mask, broadcast against the input (None dims follow it).
        seed: optional integer seed for this layer.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not 0 <= float(rate) < 1:
            raise ValueError(
                f"Dropout layer '{self.name}' expected rate in [0, 1), received rate={rate!r}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(inputs.shape, self.noise_shape))
        keep = jax.random.bernoulli(self.rng_key(), 1.0 - self.rate, shape)
        return jnp.where(keep, inputs / (1.0 - self.rate), jnp.zeros((), inputs.dtype))

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return cfg


class Identity(Layer):
    """Return the input unchanged."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs
