"""Pipeline: apply a list of preprocessing layers in order (Keras `Pipeline`)."""
from __future__ import annotations

from trine.core.layer import Layer

__all__ = ["Pipeline"]


class Pipeline(Layer):
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
        from trine.layers.recurrent import serialize_layer
        cfg = super().get_config()
        cfg["layers"] = [serialize_layer(l) for l in self._pipeline_layers]
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from trine.layers.recurrent import deserialize_layer
        config = dict(config)
        layers = [deserialize_layer(c, custom_objects) for c in config.pop("layers")]
        return cls(layers, **config)
