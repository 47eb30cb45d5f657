"""Pipeline: apply a list of preprocessing layers in order (Keras `Pipeline`)."""
from __future__ import annotations

from trine.core.layer import Layer
from trine.layers.recurrent.layer_config import NestsLayerList

__all__ = ["Pipeline"]


class Pipeline(NestsLayerList, Layer):
    """Apply `layers` one after another, passing `training` to those that take it.

    Unlike Sequential it is a plain layer (no model API) meant for preprocessing stacks.

    Args:
        layers: a list of layers.
        name: optional name.

    Returns:
        The last layer's output.

    Raises:
        ValueError: if `layers` is not a list of Layer instances.

    Example:
        >>> aug = Pipeline([RandomFlip(), RandomBrightness(0.1)])
        >>> y = aug(np.random.rand(2, 8, 8, 3) * 255, training=True)
    """

    def __init__(self, layers, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(layers, (list, tuple)) or not all(isinstance(l, Layer) for l in layers):
            raise ValueError(
                f"Pipeline '{self.name}' expected layers to be a list of Layer instances, "
                f"received {layers!r}.")
        self._pipeline_layers = list(layers)

    @property
    def layers(self):
        return self._pipeline_layers

    def call(self, inputs, training=True):
        x = inputs
        for layer in self._pipeline_layers:
            x = layer(x, training=training) if layer._call_has_training else layer(x)
        return x

    def get_config(self):
        return self._with_nested_layers(super().get_config(), self._pipeline_layers)
