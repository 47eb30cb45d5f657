"""TorchModuleWrapper and TFSMLayer: a PyTorch module and a TensorFlow SavedModel trained
inside trine models, checked against the other framework's own numbers (Keras offers these
layers only on its PyTorch / TensorFlow backends, so the oracle is the framework itself)."""
import numpy as np
import pytest

import trine


def _regression(n=32, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, (x @ rng.normal(size=(d, 1))).astype("float32")


# ------------------------------------------------------------------------- PyTorch
def test_torch_module_forward_matches_pytorch():
    import torch
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    layer = trine.layers.TorchModuleWrapper(module)
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-6, atol=1e-6)
    assert [v.name for v in layer.trainable_variables] == ["0.weight", "0.bias", "2.weight",
                                                           "2.bias"]
    assert len(list(layer.parameters())) == 4


def test_torch_module_trains_in_fit_as_the_same_dense_layer():
    import torch
    x, y = _regression()
    torch.manual_seed(0)
    linear = torch.nn.Linear(3, 4)
    w, b = linear.weight.detach().numpy().T.copy(), linear.bias.detach().numpy().copy()
    models = []
    for wrapped in (True, False):
        trine.utils.set_random_seed(5)
        hidden = (trine.layers.TorchModuleWrapper(linear) if wrapped
                  else trine.layers.Dense(4, name="dense_twin"))
        model = trine.Sequential([trine.Input((3,)), hidden, trine.layers.Dense(1)])
        if not wrapped:
            hidden.set_weights([w, b])
        model.layers[-1].set_weights(models[0].layers[-1].get_weights() if models else
                                     model.layers[-1].get_weights())
        model.compile(optimizer=trine.optimizers.SGD(0.05), loss="mse")
        models.append(model)
    for m in models:
        m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    (tw, tb), (dw, db) = models[0].layers[0].get_weights(), models[1].layers[0].get_weights()
    np.testing.assert_allclose(tw.T, dw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tb, db, rtol=1e-5, atol=1e-6)
    assert not np.allclose(tw.T, w)  # it trained
    # the module's own parameters are untouched: the trained values live in the Variables
    np.testing.assert_array_equal(linear.weight.detach().numpy().T, w)


def test_torch_module_training_flag_weights_round_trip_and_no_config(tmp_path):
    import torch
    module = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.5))
    layer = trine.layers.TorchModuleWrapper(module)
    x = np.ones((64, 3), np.float32)
    assert np.array_equal(np.asarray(layer(x, training=False)), np.asarray(layer(x)))
    assert (np.asarray(layer(x, training=True)) == 0).mean() > 0.2  # dropout ran

    model = trine.Sequential([trine.Input((3,)), trine.layers.TorchModuleWrapper(
        torch.nn.Linear(3, 2)), trine.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(*_regression(), epochs=1, verbose=0)
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    again = trine.Sequential([trine.Input((3,)), trine.layers.TorchModuleWrapper(
        torch.nn.Linear(3, 2)), trine.layers.Dense(1)])
    again.load_weights(path)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(NotImplementedError, match="pickle, which runs code"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()
    with pytest.raises(ValueError, match="expected a torch.nn.Module, received Dense"):
        trine.layers.TorchModuleWrapper(trine.layers.Dense(2))


# ------------------------------------------------------------------------- TensorFlow
def _saved_model(path):
    """A SavedModel with a 'serve' endpoint: y = tanh(x @ w + b), w and b trainable."""
    import tensorflow as tf

    class Affine(tf.Module):
        def __init__(self):
            super().__init__()
            rng = np.random.default_rng(2)
            self.w = tf.Variable(rng.normal(size=(3, 2)).astype("float32"), name="w")
            self.b = tf.Variable(np.zeros(2, np.float32), name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def serve(self, x):
            return tf.tanh(tf.matmul(x, self.w) + self.b)

    module = Affine()
    tf.saved_model.save(module, str(path))
    return module.w.numpy(), module.b.numpy()


def test_tfsm_layer_forward_gradients_and_training_match_tensorflow(tmp_path):
    import tensorflow as tf
    w, b = _saved_model(tmp_path / "sm")
    layer = trine.layers.TFSMLayer(tmp_path / "sm", call_endpoint="serve")
    x, y = _regression()
    np.testing.assert_allclose(np.asarray(layer(x)), np.tanh(x @ w + b), rtol=1e-5, atol=1e-6)
    assert [tuple(v.shape) for v in layer.trainable_variables] == [(3, 2), (2,)]

    # gradients of a loss through the layer equal TensorFlow's own
    import jax
    import jax.numpy as jnp
    values = [v.value for v in layer.trainable_variables]

    holder = trine.Sequential([trine.Input((3,)), layer])

    def loss(vals):
        out, _ = holder.stateless_call(vals, [], x)
        return jnp.sum(out ** 2)

    ours = jax.grad(loss)(values)
    tw, tb = tf.Variable(w), tf.Variable(b)
    with tf.GradientTape() as tape:
        ref = tf.reduce_sum(tf.tanh(tf.matmul(x, tw) + tb) ** 2)
    theirs = tape.gradient(ref, [tw, tb])
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), t.numpy(), rtol=1e-4, atol=1e-5)

    model = trine.Sequential([trine.Input((3,)), layer, trine.layers.Dense(1)])
    model.compile(optimizer=trine.optimizers.SGD(0.05), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=8, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    assert not np.allclose(layer.get_weights()[0], w)


def test_tfsm_layer_bad_endpoint_and_model_files_that_name_it(tmp_path):
    _saved_model(tmp_path / "sm")
    with pytest.raises(ValueError, match="has no endpoint 'predict'"):
        trine.layers.TFSMLayer(tmp_path / "sm", call_endpoint="predict")
    model = trine.Sequential([trine.Input((3,)), trine.layers.TFSMLayer(tmp_path / "sm")])
    model.save(tmp_path / "m.keras")
    with pytest.raises(Exception, match="TFSMLayer"):
        trine.models.load_model(tmp_path / "m.keras")
    weights = tmp_path / "w.weights.h5"
    model.save_weights(weights)
    again = trine.Sequential([trine.Input((3,)), trine.layers.TFSMLayer(tmp_path / "sm")])
    again.load_weights(weights)
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
