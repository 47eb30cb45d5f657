"""Sequential: a stack of layers that builds the same graph as the Functional API."""
from __future__ import annotations

from trine.core.layer import Layer
from trine.core.symbolic import KerasTensor
from trine.graph.functional_config import sequential_config, sequential_from_config
from trine.layers.core import InputLayer
from trine.models.functional import Functional
from trine.models.model import Model
from trine.training.trainer import Trainer


class Sequential(Model):
    """A linear stack of layers (Keras `keras.Sequential`).

    The input shape comes from an `Input`/`InputLayer` first, from `input_shape=` on the
    first layer, or from the first call / fit. As soon as it is known, the model builds a
    Functional graph with exactly the calls the Functional API would make.

    Args:
        layers: a list of layers (optional).
        name: model name.

    Example:
        >>> model = Sequential([Flatten(input_shape=[28, 28]), Dense(10)])
    """

    # the stack's bookkeeping: its layers are reached through `layers`, never these
    _machinery_attrs = frozenset({"_input_layer", "_seq_layers"})

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        Layer.__init__(self, trainable=trainable, name=name, **kwargs)
        Trainer.__init__(self)
        self._seq_layers: list = []
        self._input_layer = None
        self._functional = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    @property
    def layers(self) -> list:
        return list(self._seq_layers)

    def add(self, layer, rebuild: bool = True) -> None:
        """Append a layer (or an `Input` tensor as the first item)."""
        if isinstance(layer, KerasTensor):
            hist = layer._keras_history
            if hist is None or not isinstance(hist[0], InputLayer):
                raise ValueError(
                    f"Sequential '{self.name}'.add received a tensor that is not from Input(): "
                    f"{layer!r}.")
            layer = hist[0]
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential '{self.name}'.add expected a Layer, received "
                f"{type(layer).__name__}: {layer!r}.")
        if isinstance(layer, InputLayer):
            if self._seq_layers or self._input_layer is not None:
                raise ValueError(
                    f"Sequential '{self.name}': an InputLayer can only be the first item, but "
                    "layers were already added.")
            self._input_layer = layer
        else:
            names = [l.name for l in self._seq_layers]
            if layer.name in names:
                raise ValueError(
                    f"Sequential '{self.name}': a layer named '{layer.name}' is already in the "
                    "model. All layer names in a model must be unique.")
            self._seq_layers.append(layer)
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove and return the last layer."""
        if not self._seq_layers:
            raise IndexError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._seq_layers.pop()
        self._functional = None
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        self._functional = None
        self.built = False
        if self._input_layer is not None:
            self._build_graph(self._input_layer.batch_shape, self._input_layer.dtype)
        elif self._seq_layers and self._seq_layers[0]._batch_input_shape is not None:
            self._build_graph(self._seq_layers[0]._batch_input_shape, self._seq_layers[0].dtype)

    def _build_graph(self, batch_shape, dtype="float32"):
        if not self._seq_layers:
            return
        if self._input_layer is None or tuple(self._input_layer.batch_shape) != tuple(batch_shape):
            self._input_layer = InputLayer(batch_shape=batch_shape, dtype=dtype,
                                           name=f"{self.name}_input")
        inputs = self._input_layer._output_tensor
        x = inputs
        for layer in self._seq_layers:
            x = layer(x)
        self._functional = Functional(inputs, x, name=f"{self.name}_graph")
        self._functional._reported_as = (self, self._seq_layers[0])  # errors name the user's
        self.built = True

    def build(self, input_shape=None):
        if input_shape is None:
            if self._functional is None:
                raise ValueError(
                    f"Sequential '{self.name}' does not know its input shape. Pass "
                    "input_shape= to the first layer, start with Input(shape=...), or call "
                    "build((None, ...)).")
            return
        shape = tuple(input_shape)
        if self._functional is not None and tuple(self._functional.input_shape[1:]) == shape[1:]:
            return
        self._build_graph((None,) + shape[1:])

    def _maybe_build(self, first_arg):
        if self._functional is None:
            shape = tuple(first_arg.shape) if hasattr(first_arg, "shape") else None
            if shape is None:
                raise ValueError(
                    f"Sequential '{self.name}' can only infer its input shape from a single "
                    "array input. Start the model with Input(shape=...).")
            dtype = first_arg.dtype if str(first_arg.dtype).startswith("float") else "float32"
            self._build_graph((None,) + shape[1:], str(dtype))
        self.built = True

    def _build_from_batch(self, x_batch):  # fit's first batch gives the input shape
        self._maybe_build(x_batch)

    def call(self, inputs, training=None, mask=None):
        if self._functional is None:
            self._maybe_build(inputs)
        return self._functional.call(inputs, training=training)

    @property
    def inputs(self):
        return self._functional.inputs if self._functional else None

    @property
    def outputs(self):
        return self._functional.outputs if self._functional else None

    @property
    def input_shape(self):
        if self._functional is None:
            raise AttributeError(f"Sequential '{self.name}' is not built yet.")
        return self._functional.input_shape

    @property
    def output_shape(self):
        if self._functional is None:
            raise AttributeError(f"Sequential '{self.name}' is not built yet.")
        return self._functional.output_shape

    @property
    def output_names(self):
        return [self._seq_layers[-1].name] if self._seq_layers else []

    def get_config(self) -> dict:
        return sequential_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return sequential_from_config(cls, config, custom_objects=custom_objects)

    def _saved_build_config(self):
        if self._functional is None:
            return None
        return {"input_shape": tuple(self._input_layer.batch_shape)}
