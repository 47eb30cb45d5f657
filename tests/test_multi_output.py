"""Multi-output training: targets, losses, weights and metrics pair with outputs by name.

Every snippet runs on trine and on Keras (the oracle) with the same constant initial weights;
the outputs have equal shapes and names that sort the other way from their order ("zeta"
before "alpha"), so pairing by sorted key (the pytree order) would swap them silently.
"""
import numpy as np
import pytest

import keras
import trine

X = np.linspace(-1.0, 1.0, 24, dtype=np.float32).reshape(8, 3)
Y_ZETA = np.zeros((8, 2), np.float32)
Y_ALPHA = np.full((8, 2), 100.0, np.float32)


def _model(K, dict_outputs=False):
    inp = K.Input((3,), name="x")
    z = K.layers.Dense(2, name="zeta", kernel_initializer=K.initializers.Constant(0.1))(inp)
    a = K.layers.Dense(2, name="alpha", kernel_initializer=K.initializers.Constant(-0.2))(inp)
    return K.Model(inp, {"zeta": z, "alpha": a} if dict_outputs else [z, a])


def _both(snippet):
    """The snippet's result on trine and on Keras."""
    return snippet(trine), snippet(keras)


def _close(a, b, tol=1e-4):
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), (sorted(a), sorted(b))
        for k in a:
            _close(a[k], b[k], tol)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), (a, b)
        for u, v in zip(a, b):
            _close(u, v, tol)
    else:
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                   rtol=tol, atol=tol)


def _fit_eval(K, compile_kw, y, dict_outputs=False, **fit_kw):
    m = _model(K, dict_outputs)
    m.compile(optimizer=K.optimizers.SGD(0.01), **compile_kw)
    h = m.fit(X, y, epochs=2, batch_size=8, shuffle=False, verbose=0, **fit_kw)
    ev = m.evaluate(X, y, batch_size=8, verbose=0, return_dict=True)
    return {k: v for k, v in h.history.items()}, ev, [np.asarray(w) for w in m.get_weights()]


def test_issue_example_dict_targets_follow_output_names():
    loss = {"zeta": "mse", "alpha": "mae"}
    t, k = _both(lambda K: _fit_eval(K, {"loss": loss}, {"zeta": Y_ZETA, "alpha": Y_ALPHA}))
    _close(t, k)
    assert t[1]["zeta_loss"] < 1.0  # trained on zeta's zeros, not alpha's hundreds


@pytest.mark.parametrize("y", [
    [Y_ZETA, Y_ALPHA],
    {"alpha": Y_ALPHA, "zeta": Y_ZETA},
    {"zeta": Y_ZETA, "alpha": Y_ALPHA},
], ids=["list", "dict-sorted", "dict-output-order"])
@pytest.mark.parametrize("loss,loss_weights", [
    (["mse", "mae"], None),
    ({"alpha": "mae", "zeta": "mse"}, {"alpha": 0.5, "zeta": 2.0}),
    (["mse", "mae"], [2.0, 0.5]),
], ids=["list", "dict-weights", "list-weights"])
def test_targets_losses_and_weights_pair_by_name(y, loss, loss_weights):
    kw = {"loss": loss, "loss_weights": loss_weights}
    t, k = _both(lambda K: _fit_eval(K, kw, y))
    _close(t, k)


def test_none_loss_skips_an_output():
    """`loss=[None, "mae"]` trains alpha alone; Keras takes its targets as a one-item list."""
    t, k = _both(lambda K: _fit_eval(K, {"loss": [None, "mae"]}, [Y_ALPHA]))
    _close(t, k)
    # the same pairing by name (Keras cannot: it requires every output in a loss dict)
    t2 = _fit_eval(trine, {"loss": {"alpha": "mae"}}, {"alpha": Y_ALPHA})
    _close(t2[1]["loss"], k[1]["loss"])
    _close(t2[2], k[2])


@pytest.mark.parametrize("metrics", [
    {"alpha": "mae"},
    ["mae", "mse"],  # Keras: one entry per output pairs entry i with output i
    [["mae"], ["mse", "mae"]],
    [None, ["mae"]],
], ids=["dict", "one-per-output", "lists", "none"])
def test_metrics_per_output(metrics):
    kw = {"loss": "mse", "metrics": metrics}
    t, k = _both(lambda K: _fit_eval(K, kw, {"alpha": Y_ALPHA, "zeta": Y_ZETA}))
    _close(t, k)


def test_metrics_names_follow_output_order():
    def snippet(K):
        m = _model(K)
        m.compile(optimizer="sgd", loss="mse", metrics={"alpha": "mae", "zeta": "mae"})
        return m.evaluate(X, [Y_ZETA, Y_ALPHA], verbose=0)  # a list in metrics order
    t, k = _both(snippet)
    _close(t, k)


def test_sample_weight_per_output_list():
    sw = [np.ones(8, np.float32), np.arange(8, dtype=np.float32)]
    kw = {"loss": "mse", "weighted_metrics": ["mae", "mse"]}
    t, k = _both(lambda K: _fit_eval(K, kw, [Y_ZETA, Y_ALPHA], sample_weight=sw))
    _close(t, k)


def test_sample_weight_dict_follows_output_names():
    """Keras fails on a dict of sample weights for list outputs (KeyError 0); trine pairs it
    by name, which must give Keras's numbers for the same weights as a list."""
    sw_list = [np.ones(8, np.float32), np.arange(8, dtype=np.float32)]
    sw_dict = {"alpha": sw_list[1], "zeta": sw_list[0]}
    kw = {"loss": {"zeta": "mse", "alpha": "mae"}}
    k = _fit_eval(keras, kw, [Y_ZETA, Y_ALPHA], sample_weight=sw_list)
    t = _fit_eval(trine, kw, {"alpha": Y_ALPHA, "zeta": Y_ZETA}, sample_weight=sw_dict)
    _close(t[0], k[0])
    _close(t[2], k[2])


def test_one_sample_weight_applies_to_every_output():
    kw = {"loss": ["mse", "mae"]}
    sw = np.arange(8, dtype=np.float32)
    t, k = _both(lambda K: _fit_eval(K, kw, [Y_ZETA, Y_ALPHA], sample_weight=sw))
    _close(t, k)


def test_class_weight_needs_a_single_output():
    m = _model(trine)
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="class_weight is only supported for models with a "
                                         "single output"):
        m.fit(X, [Y_ZETA, Y_ALPHA], class_weight={0: 1.0}, verbose=0)


def test_dict_outputs_with_dict_targets():
    kw = {"loss": {"zeta": "mse", "alpha": "mae"}, "metrics": {"zeta": ["mae"]}}
    t, k = _both(lambda K: _fit_eval(K, kw, {"alpha": Y_ALPHA, "zeta": Y_ZETA},
                                     dict_outputs=True))
    _close(t, k)


def test_train_and_test_on_batch_pair_by_name():
    def snippet(K):
        m = _model(K)
        m.compile(optimizer=K.optimizers.SGD(0.01), loss={"zeta": "mse", "alpha": "mae"})
        y = {"alpha": Y_ALPHA, "zeta": Y_ZETA}
        a = m.train_on_batch(X, y, return_dict=True)
        b = m.test_on_batch(X, y, return_dict=True)
        return a, b, m.get_weights()
    t, k = _both(snippet)
    _close(t, k)


def test_custom_train_step_compute_loss_pairs_by_name():
    """Keras's JAX custom-step pattern with dict targets: compute_loss pairs them by name."""
    import jax

    def snippet(K):
        class M(K.Model):
            def train_step(self, state, data):
                tv, ntv, ov, mv = state
                x, y = data

                def loss_fn(tv, ntv, mv):
                    y_pred, ntv = self.stateless_call(tv, ntv, x, training=True)
                    loss, (_, _, mv) = self.stateless_compute_loss(
                        tv, ntv, mv, x=x, y=y, y_pred=y_pred, training=True)
                    return loss, (ntv, mv)

                (loss, (ntv, mv)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                    tv, ntv, mv)
                tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
                return {"total": loss}, (tv, ntv, ov, mv)

        base = _model(K)
        m = M(base.inputs, base.outputs)
        m.compile(optimizer=K.optimizers.SGD(0.01), loss={"zeta": "mse", "alpha": "mae"})
        h = m.fit(X, {"alpha": Y_ALPHA, "zeta": Y_ZETA}, epochs=2, batch_size=8, verbose=0)
        return h.history["total"], m.get_weights()
    t, k = _both(snippet)
    _close(t, k)


def test_wrong_target_keys_are_named():
    m = _model(trine)
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"y has keys \['beta'\].*Output names: \['zeta', "
                                         r"'alpha'\]"):
        m.fit(X, {"zeta": Y_ZETA, "beta": Y_ALPHA}, verbose=0)


def test_training_guide_score_and_class_outputs():
    """Keras's "training with built-in methods" guide: outputs of different shapes, targets
    keyed by name in the other order than the outputs."""
    rng = np.random.default_rng(0)
    img = rng.random((16, 8, 8, 1)).astype(np.float32)
    ts = rng.random((16, 10, 3)).astype(np.float32)
    score = rng.random((16, 1)).astype(np.float32)
    cls = rng.random((16, 5)).astype(np.float32)

    def snippet(K):
        image_input = K.Input(shape=(8, 8, 1), name="img_input")
        timeseries_input = K.Input(shape=(None, 3), name="ts_input")
        x1 = K.layers.Conv2D(3, 3, kernel_initializer=K.initializers.Constant(0.05))(
            image_input)
        x1 = K.layers.GlobalMaxPooling2D()(x1)
        x2 = K.layers.Conv1D(3, 3, kernel_initializer=K.initializers.Constant(-0.05))(
            timeseries_input)
        x2 = K.layers.GlobalMaxPooling1D()(x2)
        x = K.layers.concatenate([x1, x2])
        score_output = K.layers.Dense(1, name="score_output",
                                      kernel_initializer=K.initializers.Constant(0.1))(x)
        class_output = K.layers.Dense(5, name="class_output",
                                      kernel_initializer=K.initializers.Constant(0.2))(x)
        model = K.Model(inputs=[image_input, timeseries_input],
                        outputs=[score_output, class_output])
        model.compile(
            optimizer=K.optimizers.RMSprop(1e-3),
            loss={"score_output": K.losses.MeanSquaredError(),
                  "class_output": K.losses.CategoricalCrossentropy()},
            metrics={"score_output": [K.metrics.MeanAbsolutePercentageError(),
                                      K.metrics.MeanAbsoluteError()],
                     "class_output": [K.metrics.CategoricalAccuracy()]},
            loss_weights={"score_output": 2.0, "class_output": 1.0})
        h = model.fit({"img_input": img, "ts_input": ts},
                      {"score_output": score, "class_output": cls},
                      batch_size=8, epochs=1, shuffle=False, verbose=0)
        return h.history, model.get_weights()
    t, k = _both(snippet)
    _close(t, k, tol=1e-3)
