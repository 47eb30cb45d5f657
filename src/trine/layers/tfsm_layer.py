"""TFSMLayer: a TensorFlow SavedModel's endpoint as a trainable trine layer.

Keras offers this layer on its TensorFlow backend only. trine calls the endpoint in
TensorFlow on the host (`host_bridge`), with the SavedModel's variables held as trine
Variables, written into TensorFlow's before each call: `fit` trains the trainable ones,
`save_weights` / `load_weights` store them. TensorFlow is imported only when such a layer is
made.
"""
from __future__ import annotations

import jax
import numpy as np

from trine.core.layer import Layer
from trine.layers.host_bridge import as_struct, host_differentiable

__all__ = ["TFSMLayer"]


def _endpoint_variables(fns):
    """The variables the endpoint functions read, trainable ones first, each once."""
    trainable, other, seen = [], [], set()
    for fn in fns:
        concretes = getattr(fn, "concrete_functions", None) or [fn]
        for cf in concretes:
            for v in list(getattr(cf, "trainable_variables", ())) + list(
                    getattr(cf, "variables", ())):
                if id(v) in seen:
                    continue
                seen.add(id(v))
                (trainable if v.trainable else other).append(v)
    return trainable, other


class TFSMLayer(Layer):
    """Reload a TensorFlow SavedModel (e.g. from Keras's `model.export()`) as a layer.

    Args:
        filepath: the SavedModel's folder.
        call_endpoint: the endpoint `call` runs ("serve" for `model.export()`,
            "serving_default" for most other SavedModels).
        call_training_endpoint: an endpoint run when the layer is called with
            `training=True`, if the SavedModel has one.
        trainable: whether `fit` trains the SavedModel's trainable variables.

    The endpoint takes one `inputs` argument (a tensor, or a dict / list of them). Loading a
    SavedModel runs its TensorFlow graph, so it is done only on this explicit request: this
    layer is not in the allow-list of classes a `.keras` file may name, so loading a model
    file that holds it is refused. Rebuild the layer in code and call `load_weights`.
    """

    def __init__(self, filepath, call_endpoint="serve", call_training_endpoint=None,
                 trainable=True, name=None, dtype=None):
        import tensorflow as tf
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.filepath = str(filepath)
        self.call_endpoint = call_endpoint
        self.call_training_endpoint = call_training_endpoint
        self._reloaded = tf.saved_model.load(self.filepath)
        self._endpoint = self._resolve(call_endpoint)
        self._training_endpoint = (self._resolve(call_training_endpoint)
                                   if call_training_endpoint else None)
        fns = [f for f in (self._endpoint, self._training_endpoint) if f is not None]
        trainable_tf, other_tf = _endpoint_variables(fns)
        self._tf_variables = trainable_tf + other_tf
        self._variables_here = []
        for v, train in [(v, True) for v in trainable_tf] + [(v, False) for v in other_tf]:
            value = v.numpy()
            self._variables_here.append(self.add_weight(
                shape=value.shape, initializer=lambda s, d=None, a=value: a.astype(d or a.dtype),
                dtype=value.dtype.name, trainable=train, name=v.name.split(":")[0]))
        self._n_trainable = len(trainable_tf)
        self._out_structs = {}
        self.built = True

    def _resolve(self, endpoint):
        if hasattr(self._reloaded, endpoint):
            return getattr(self._reloaded, endpoint)
        signatures = getattr(self._reloaded, "signatures", {})
        if endpoint in signatures:
            return signatures[endpoint]
        raise ValueError(
            f"TFSMLayer: the SavedModel at '{self.filepath}' has no endpoint '{endpoint}'. "
            f"Its signatures are {list(signatures)}; pass one of them as call_endpoint (or "
            "call_training_endpoint).")

    def _run(self, values, inputs, training):
        import tensorflow as tf
        for var, value in zip(self._tf_variables, values):
            var.assign(value)
        fn = self._training_endpoint if (training and self._training_endpoint) else self._endpoint
        out = fn(jax.tree_util.tree_map(tf.constant, inputs))
        if isinstance(out, dict) and len(out) == 1:  # a signature returns {name: tensor}
            out = next(iter(out.values()))
        return out

    def _forward(self, training):
        def forward(values, inputs):
            out = self._run(values, inputs, training)
            return jax.tree_util.tree_map(lambda t: t.numpy(), out)
        return forward

    def _backward(self, training):
        def backward(values, inputs, cotangents):
            import tensorflow as tf
            x = jax.tree_util.tree_map(tf.constant, inputs)
            x_leaves = jax.tree_util.tree_leaves(x)
            watched = self._tf_variables[:self._n_trainable]
            with tf.GradientTape() as tape:
                for t in x_leaves:
                    if t.dtype.is_floating:
                        tape.watch(t)
                for var, value in zip(self._tf_variables, values):
                    var.assign(value)
                fn = (self._training_endpoint if (training and self._training_endpoint)
                      else self._endpoint)
                out = fn(x)
                if isinstance(out, dict) and len(out) == 1:
                    out = next(iter(out.values()))
            outs = jax.tree_util.tree_leaves(out)
            cots = [tf.constant(c) for c in jax.tree_util.tree_leaves(cotangents)]
            grads = tape.gradient(outs, watched + x_leaves, output_gradients=cots,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
            var_grads = [g.numpy() for g in grads[:len(watched)]]
            var_grads += [np.zeros(np.shape(v), np.float32) for v in values[len(watched):]]
            in_grads = [g.numpy() if t.dtype.is_floating else np.zeros(t.shape, np.float32)
                        for g, t in zip(grads[len(watched):], x_leaves)]
            return var_grads, jax.tree_util.tree_unflatten(
                jax.tree_util.tree_structure(inputs), in_grads)
        return backward

    def _out_struct(self, inputs, training):
        key = (str(jax.tree_util.tree_map(lambda x: (x.shape, str(x.dtype)), inputs)),
               bool(training))
        if key not in self._out_structs:
            zeros = jax.tree_util.tree_map(lambda x: np.zeros(x.shape, x.dtype), inputs)
            values = [v.numpy() for v in self._tf_variables]
            self._out_structs[key] = as_struct(self._forward(training)(values, zeros))
        return self._out_structs[key]

    def call(self, inputs, training=False):
        inputs = jax.tree_util.tree_map(jax.numpy.asarray, inputs)
        fn = host_differentiable(self._forward(training), self._backward(training),
                                 self._out_struct(inputs, training))
        return fn([v.value for v in self._variables_here], inputs)

    def get_config(self):
        cfg = super().get_config()
        cfg.update({"filepath": self.filepath, "call_endpoint": self.call_endpoint,
                    "call_training_endpoint": self.call_training_endpoint})
        return cfg
