"""The layers added for Keras 3.15 parity (issue 23 part B): EinsumDense, RMSNormalization,
GroupQueryAttention, adaptive pooling, ReversibleEmbedding, Wrapper, SpectralNormalization,
the aliases and layers.serialize/deserialize; conformance harness + Keras numbers."""
import numpy as np
import pytest

import trine
from harness import check_layer
from trine import layers as L


# Loading names the new classes through custom_objects too, so these tests check the layers'
# round trip independently of when the allow-list (trine.registry.allowlist) reviews them.
NEW_CLASSES = {c.__name__: c for c in (
    L.EinsumDense, L.RMSNormalization, L.GroupQueryAttention, L.AdaptiveAveragePooling1D,
    L.SpectralNormalization, L.ReversibleEmbedding)}


def randomized(factory, input_shape, seed=0):
    def make():
        layer = factory()
        layer.build((None,) + tuple(input_shape[1:]))
        rng = np.random.default_rng(seed)
        layer.set_weights([rng.uniform(0.5, 1.5, v.shape) for v in layer.weights])
        return layer
    return make


CASES = [
    (lambda: L.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c"), (3, 5)),
    (lambda: L.EinsumDense("abc,cd->abd", output_shape=(None, 6), bias_axes="d",
                           activation="relu"), (2, 3, 5)),
    (lambda: L.EinsumDense("...b,bc->...c", output_shape=4), (2, 3, 4, 5)),
    (lambda: L.EinsumDense("ab...,bc->ac...", output_shape=(4,), bias_axes="c"), (2, 5, 3)),
    (lambda: L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de"),
     (2, 4, 5)),
    (lambda: L.RMSNormalization(), (3, 4, 5)),
    (lambda: L.RMSNormalization(axis=[1, 2], epsilon=1e-3), (3, 4, 5)),
    (lambda: L.AdaptiveAveragePooling1D(3), (2, 7, 3)),
    (lambda: L.AdaptiveMaxPooling1D(4), (2, 9, 2)),
    (lambda: L.AdaptiveAveragePooling2D((3, 2)), (2, 7, 5, 3)),
    (lambda: L.AdaptiveMaxPooling2D(2, data_format="channels_first"), (2, 3, 5, 7)),
    (lambda: L.AdaptiveAveragePooling3D((2, 3, 2)), (1, 5, 7, 4, 2)),
    (lambda: L.AdaptiveMaxPooling3D(2), (1, 4, 5, 3, 2)),
]


@pytest.mark.parametrize("make,shape", CASES, ids=lambda v: "" if callable(v) else str(v))
def test_conformance_and_keras_oracle(make, shape):
    check_layer(randomized(make, shape), shape, keras_oracle=True, keras_atol=1e-5)


def test_einsum_dense_keras_shapes_and_initializer_fans():
    import keras
    for eq, out, bias, shape in [("abc,cde->abde", (None, 2, 3), "de", (None, 4, 5)),
                                 ("ab...,bc->ac...", (4,), "c", (None, 5, 3)),
                                 ("...b,bc->...c", 4, None, (None, 3, 5))]:
        t = L.EinsumDense(eq, output_shape=out, bias_axes=bias)
        k = keras.layers.EinsumDense(eq, output_shape=out, bias_axes=bias)
        t.build(shape)
        k.build(shape)
        assert [tuple(w.shape) for w in t.weights] == [tuple(w.shape) for w in k.weights]
        # trine fills an output None from the matching input axis where Keras leaves it None
        ts, ks = t.compute_output_shape(shape), tuple(k.compute_output_shape(shape))
        assert len(ts) == len(ks) and all(b is None or a == b for a, b in zip(ts, ks))
    # multi-axis kernels: glorot uses the equation's fans, not the last two axes
    t = L.EinsumDense("abc,cde->abde", output_shape=(None, 8, 16))
    t.build((None, 4, 32))
    limit = np.sqrt(6.0 / (32 + 8 * 16))
    w = t.kernel.numpy()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.8 * limit


def test_einsum_dense_bad_input():
    with pytest.raises(ValueError, match="EinsumDense layer .* equation"):
        L.EinsumDense("ab->b", output_shape=3)(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="bias_axes"):
        L.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="z")(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="output_shape"):
        L.EinsumDense("ab,bc->ac", output_shape=(3, 4))(np.ones((2, 3), np.float32))


def test_adaptive_pooling_against_numpy_windows():
    x = np.random.default_rng(0).normal(size=(2, 10, 3)).astype(np.float32)
    y = np.asarray(L.AdaptiveAveragePooling1D(4)(x))
    starts, ends = [0, 2, 5, 7], [3, 5, 8, 10]
    ref = np.stack([x[:, s:e].mean(1) for s, e in zip(starts, ends)], 1)
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
    ym = np.asarray(L.AdaptiveMaxPooling1D(4)(x))
    np.testing.assert_allclose(ym, np.stack([x[:, s:e].max(1) for s, e in zip(starts, ends)], 1))
    with pytest.raises(ValueError, match="AdaptiveAveragePooling2D layer .* output_size"):
        L.AdaptiveAveragePooling2D((2, 2, 2))
    with pytest.raises(ValueError, match="rank 4"):
        L.AdaptiveMaxPooling2D(2)(x)


def test_rms_normalization_matches_formula_and_rejects_bad_axis():
    x = np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32)
    y = np.asarray(L.RMSNormalization(epsilon=1e-6)(x))
    np.testing.assert_allclose(y, x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6), rtol=1e-5)
    with pytest.raises(ValueError, match="RMSNormalization layer .* axis"):
        L.RMSNormalization(axis=3)(x)


def _gqa_pair(**kw):
    import keras
    t = L.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2, **kw)
    k = keras.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2,
                                         **kw)
    return t, k


@pytest.mark.parametrize("kw,call_kw", [({}, {}), ({"use_gate": True}, {}),
                                        ({}, {"use_causal_mask": True}),
                                        ({"sliding_window": 2}, {"use_causal_mask": True}),
                                        ({"use_bias": False}, {"return_attention_scores": True})])
def test_group_query_attention_matches_keras(kw, call_kw):
    rng = np.random.default_rng(2)
    q = rng.normal(size=(2, 5, 6)).astype(np.float32)
    v = rng.normal(size=(2, 5, 6)).astype(np.float32)
    t, k = _gqa_pair(**kw)
    t(q, v)
    k(q, v)
    assert [tuple(w.shape) for w in t.weights] == [tuple(w.shape) for w in k.weights]
    weights = [rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in t.weights]
    t.set_weights(weights)
    k.set_weights(weights)
    mask = np.ones((2, 5, 5), bool)
    mask[0, :, 4:] = False  # no fully masked row: Keras's fused path and its softmax path differ there
    for extra in ({}, {"attention_mask": mask}):
        a = t(q, v, **call_kw, **extra)
        b = k(q, v, **call_kw, **extra)
        if call_kw.get("return_attention_scores"):
            np.testing.assert_allclose(np.asarray(a[1]), np.asarray(b[1]), atol=1e-5)
            a, b = a[0], b[0]
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def test_group_query_attention_harness_and_errors():
    shape = [(2, 4, 6), (2, 3, 6)]
    x = [np.random.default_rng(0).normal(size=s).astype(np.float32) for s in shape]
    layer = L.GroupQueryAttention(2, 4, 2)
    y = layer(x[0], x[1])
    clone = L.GroupQueryAttention.from_config(layer.get_config())
    clone(x[0], x[1])
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x[0], x[1])), np.asarray(y), atol=1e-6)
    qi, vi = trine.Input((4, 6)), trine.Input((3, 6))
    model = trine.Model([qi, vi], layer(qi, vi))
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), np.asarray(y), atol=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        L.GroupQueryAttention(2, 3, 2)
    with pytest.raises(ValueError, match="sliding_window"):
        L.GroupQueryAttention(2, 4, 2, sliding_window=0)


def test_reversible_embedding_matches_keras():
    import keras
    ids = np.array([[1, 2, 0], [3, 4, 5]])
    for kw in ({}, {"tie_weights": False, "logit_soft_cap": 2.0}):
        t = L.ReversibleEmbedding(10, 4, **kw)
        k = keras.layers.ReversibleEmbedding(10, 4, **kw)
        t(ids)
        k(ids)
        w = [np.random.default_rng(3).normal(size=v.shape).astype(np.float32) for v in t.weights]
        t.set_weights(w)
        k.set_weights(w)
        np.testing.assert_allclose(np.asarray(t(ids)), np.asarray(k(ids)), atol=1e-6)
        h = np.random.default_rng(4).normal(size=(2, 3, 4)).astype(np.float32)
        np.testing.assert_allclose(np.asarray(t(h, reverse=True)),
                                   np.asarray(k(h, reverse=True)), rtol=1e-5, atol=1e-5)
        assert L.ReversibleEmbedding.from_config(t.get_config()).get_config() == t.get_config()
    check_layer(lambda: L.ReversibleEmbedding(10, 4, tie_weights=False), (2, 3),
                input_dtype="int32")


def test_spectral_normalization_matches_keras():
    import keras
    x = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    t = L.SpectralNormalization(L.Dense(5), power_iterations=2)
    k = keras.layers.SpectralNormalization(keras.layers.Dense(5), power_iterations=2)
    t(x)
    k(x)
    # Keras lists trainable weights first; trine lists the wrapped layer's, then its own
    assert sorted(w.name for w in t.weights) == sorted(w.name for w in k.weights)
    rng = np.random.default_rng(6)
    values = {w.name: rng.normal(size=w.shape).astype(np.float32) for w in t.weights}
    for layer in (t, k):
        for w in layer.weights:
            w.assign(values[w.name])
    for training in (True, False, True):
        np.testing.assert_allclose(np.asarray(t(x, training=training)),
                                   np.asarray(k(x, training=training)), rtol=1e-5, atol=1e-5)
    kw = {w.name: np.asarray(w.numpy()) for w in k.weights}
    for w in t.weights:
        np.testing.assert_allclose(w.numpy(), kw[w.name], rtol=1e-5, atol=1e-6)
    # after normalization the kernel's largest singular value is about 1
    t2 = L.SpectralNormalization(L.Dense(5), power_iterations=20)
    t2(x, training=True)
    assert abs(np.linalg.svd(t2.layer.kernel.numpy(), compute_uv=False)[0] - 1.0) < 1e-3
    with pytest.raises(ValueError, match="power_iterations"):
        L.SpectralNormalization(L.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="neither a 'kernel'"):
        L.SpectralNormalization(L.ReLU())(x)
    with pytest.raises(ValueError, match="Wrapper|SpectralNormalization"):
        L.SpectralNormalization("dense")


def test_spectral_normalization_trains_in_fit_and_round_trips(tmp_path):
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 2)).astype(np.float32)
    model = trine.Sequential([trine.Input((3,)), L.SpectralNormalization(L.Dense(2))])
    model.compile(optimizer="sgd", loss="mse")
    u0 = model.layers[0].vector_u.numpy().copy()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not np.allclose(model.layers[0].vector_u.numpy(), u0)
    path = tmp_path / "sn.keras"
    model.save(path)
    loaded = trine.saving.load_model(path, custom_objects=NEW_CLASSES)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_wrapper_base_serializes_inner_layer():
    class Twice(L.Wrapper):
        def call(self, inputs):
            return self.layer(inputs) * 2.0

    w = Twice(L.Dense(3, name="inner"))
    x = np.ones((2, 4), np.float32)
    y = w(x)
    cfg = w.get_config()
    assert cfg["layer"]["class_name"] == "Dense"
    clone = Twice.from_config(cfg)
    clone(x)
    clone.set_weights(w.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(y))


def test_aliases_and_serialize_deserialize():
    assert L.GlobalMaxPool3D is L.GlobalMaxPooling3D
    assert L.GlobalAvgPool3D is L.GlobalAveragePooling3D
    assert L.Convolution2DTranspose is L.Conv2DTranspose
    assert L.SeparableConvolution1D is L.SeparableConv1D
    layer = L.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c", name="ed")
    rec = L.serialize(layer)
    assert rec["class_name"] == "EinsumDense"
    back = L.deserialize(rec, custom_objects=NEW_CLASSES)
    assert isinstance(back, L.EinsumDense) and back.get_config() == layer.get_config()
    with pytest.raises(TypeError, match="layers.serialize"):
        L.serialize("dense")
    with pytest.raises(ValueError, match="layers.deserialize"):
        L.deserialize({"config": {}})


def test_new_layers_save_and_load(tmp_path):
    inp = trine.Input((4, 6))
    h = L.EinsumDense("abc,cd->abd", output_shape=(None, 6), bias_axes="d")(inp)
    h = L.RMSNormalization()(h)
    h = L.GroupQueryAttention(2, 4, 2)(h, h)
    h = L.AdaptiveAveragePooling1D(2)(h)
    model = trine.Model(inp, h)
    x = np.random.default_rng(8).normal(size=(2, 4, 6)).astype(np.float32)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = trine.saving.load_model(path, custom_objects=NEW_CLASSES)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
