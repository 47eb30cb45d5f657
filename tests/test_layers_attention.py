"""Attention layers: conformance, Keras parity (weights, masks, causal masks)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine
from trine.core.layer import get_mask
from trine.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from trine.layers.embedding import Embedding

from harness import check_layer


@pytest.fixture
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _close(a, b, atol=1e-5):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for p, q in zip(la, lb):
        np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=atol, atol=atol)


def _keras_mha(keras, layer, *shapes):
    """Keras's MultiHeadAttention from trine's config, built for `shapes`, trine's weights."""
    klayer = keras.layers.MultiHeadAttention.from_config(layer.get_config())
    klayer.build(*shapes)
    klayer.set_weights(layer.get_weights())
    return klayer


# ----------------------------------------------------------------------------- MHA
# One feature size, head count and head size throughout: every weight shape is shared, so
# the random initializers compile once (tests stay fast).
D, H, K = 3, 2, 2


def test_mha_vs_keras_layout_and_values(keras):
    q, v, k = _x((2, 3, D)), _x((2, 5, D), 1), _x((2, 5, D), 2)
    layer = MultiHeadAttention(num_heads=H, key_dim=K)
    out, scores = layer(q, v, key=k, return_attention_scores=True)
    assert out.shape == (2, 3, D) and scores.shape == (2, H, 3, 5)
    np.testing.assert_allclose(np.asarray(scores).sum(-1), 1.0, atol=1e-5)
    native = keras.layers.MultiHeadAttention(num_heads=H, key_dim=K)
    native.build(q.shape, v.shape, k.shape)
    assert [tuple(w.shape) for w in layer.weights] == [tuple(w.shape) for w in native.weights]
    klayer = _keras_mha(keras, layer, q.shape, v.shape, k.shape)
    _close((out, scores), klayer(q, v, key=k, return_attention_scores=True))
    _close(layer(q, v), klayer(q, v))  # Keras's fused dot_product_attention path
    inp_q, inp_v = trine.Input((3, D)), trine.Input((5, D))
    model = trine.Model([inp_q, inp_v], layer(inp_q, inp_v))
    assert [p for p, _ in model._path_map()] == [
        f"{layer.name}/{s}/{w}" for s in ("query", "key", "value", "attention_output")
        for w in ("kernel", "bias")]


@pytest.mark.slow
def test_mha_options_vs_keras(keras):
    q, v = _x((2, 3, D)), _x((2, 5, D), 1)
    layer = MultiHeadAttention(num_heads=H, key_dim=K, value_dim=3, output_shape=6,
                               use_bias=False)
    out = layer(q, v)
    assert out.shape == (2, 3, 6) and len(layer.weights) == 4
    assert layer.weights[2].shape == (D, H, 3) and layer.weights[3].shape == (H, 3, 6)
    # return_attention_scores=True takes Keras's einsum path: on JAX its fused path
    # fails when value_dim != key_dim
    klayer = _keras_mha(keras, layer, q.shape, v.shape)
    _close(out, klayer(q, v, return_attention_scores=True)[0])
    # attention over axis 2 of rank-4 inputs (axis 1 is a second batch-like axis)
    x4 = _x((2, 2, 3, D))
    layer = MultiHeadAttention(num_heads=H, key_dim=K, attention_axes=2)
    out, scores = layer(x4, x4, return_attention_scores=True)
    assert out.shape == x4.shape and scores.shape == (2, 2, H, 3, 3)
    klayer = _keras_mha(keras, layer, x4.shape, x4.shape)
    _close((out, scores), klayer(x4, x4, return_attention_scores=True))
    clone = MultiHeadAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_mha_causal_and_attention_mask_vs_keras(keras):
    x = _x((2, 3, D))
    layer = MultiHeadAttention(num_heads=H, key_dim=K)
    out, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    s = np.asarray(scores)
    assert np.all(s[..., np.triu_indices(3, 1)[0], np.triu_indices(3, 1)[1]] < 1e-7)
    klayer = _keras_mha(keras, layer, x.shape, x.shape)
    _close((out, scores), klayer(x, x, use_causal_mask=True, return_attention_scores=True))
    am = np.array([[[1, 1, 0], [1, 0, 1], [0, 1, 1]], [[1, 0, 0], [1, 1, 0], [1, 1, 1]]], bool)
    _close(layer(x, x, attention_mask=am, use_causal_mask=True, return_attention_scores=True),
           klayer(x, x, attention_mask=am, use_causal_mask=True, return_attention_scores=True))
    # causal: the output at position t depends only on inputs up to t
    x2 = x.copy()
    x2[:, 2] += 1.0
    np.testing.assert_allclose(np.asarray(layer(x2, x2, use_causal_mask=True))[:, :2],
                               np.asarray(out)[:, :2], atol=1e-6)


def test_mha_masks_from_embeddings_vs_keras(keras):
    """Query and value masks come from the inputs' masks, as in Keras."""
    tq = np.array([[1, 2, 0], [4, 0, 0]], np.int32)
    tv = np.array([[1, 0, 0, 3, 0], [2, 3, 4, 5, 6]], np.int32)

    def build(lib, Emb, Mha):
        iq, iv = lib.Input((3,), dtype="int32"), lib.Input((5,), dtype="int32")
        emb = Emb(10, D, mask_zero=True)
        out = Mha(num_heads=H, key_dim=K)(emb(iq), emb(iv), return_attention_scores=True)
        return lib.Model([iq, iv], list(out))

    model = build(trine, Embedding, MultiHeadAttention)
    kmodel = build(keras, keras.layers.Embedding, keras.layers.MultiHeadAttention)
    kmodel.set_weights(model.get_weights())
    out, scores = model([tq, tv])
    _close((out, scores), kmodel([tq, tv]))
    np.testing.assert_allclose(np.asarray(scores)[0, :, :2][..., [1, 2, 4]], 0.0, atol=1e-7)


def test_mha_fused_inference_matches_weights_path_and_keras(keras):
    """Inference without scores runs one dot_product_attention call; its outputs equal the
    einsum path's (the one that returns scores), masks, causal and fully masked rows included."""
    x, v = _x((2, 4, D)), _x((2, 5, D), seed=1)
    layer = MultiHeadAttention(num_heads=H, key_dim=K)
    layer(x, v)
    klayer = _keras_mha(keras, layer, x.shape, v.shape)
    am = np.ones((2, 4, 5), bool)
    am[0, 1] = False  # a query that may attend to nothing: zero weights, zero attention
    am[1, :, 3:] = False
    for kw in ({}, {"attention_mask": am}, {"attention_mask": am[:1]},
               {"value_mask": np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], bool)}):
        fused = layer(x, v, **kw)
        reference, _ = layer(x, v, return_attention_scores=True, **kw)
        _close(fused, reference, atol=1e-6)
    _close(layer(x, v), klayer(x, v), atol=1e-5)
    y = _x((2, 4, D), seed=2)
    self_layer = MultiHeadAttention(num_heads=H, key_dim=K)
    fused = self_layer(y, y, use_causal_mask=True)
    _close(fused, self_layer(y, y, use_causal_mask=True, return_attention_scores=True)[0],
           atol=1e-6)
    _close(fused, _keras_mha(keras, self_layer, y.shape, y.shape)(y, y, use_causal_mask=True),
           atol=1e-5)
    # value heads wider than key heads: dot_product_attention cannot, the einsum form runs
    wide = MultiHeadAttention(num_heads=H, key_dim=K, value_dim=K + 1)
    _close(wide(x, v), wide(x, v, return_attention_scores=True)[0], atol=1e-6)


def test_mha_explicit_masks_and_output_mask():
    x = _x((2, 3, D))
    layer = MultiHeadAttention(num_heads=H, key_dim=K)
    vm = np.array([[True, True, False], [True, False, False]])
    a = layer(x, x, value_mask=vm)
    b = layer(x, x, attention_mask=np.broadcast_to(vm[:, None, :], (2, 3, 3)))
    _close(a, b, atol=1e-6)
    h = Embedding(10, D, mask_zero=True)(jnp.array([[1, 2, 0]]))
    y = layer(h, h)
    np.testing.assert_array_equal(np.asarray(get_mask(y)), [[True, True, False]])


def test_mha_functional_jit_grads_and_config():
    iq, iv = trine.Input((3, D)), trine.Input((5, D))
    layer = MultiHeadAttention(num_heads=H, key_dim=K)
    model = trine.Model([iq, iv], layer(iq, iv))
    assert model.output_shape == (None, 3, D)
    q, v = _x((2, 3, D)), _x((2, 5, D), 1)
    p, s = model.get_params(), model.get_state()
    eager = model([q, v])

    def loss(p):
        y = model.stateless_call(p, s, [q, v])[0]
        return jnp.sum(y ** 2), y

    grads, jitted = jax.jit(jax.grad(loss, has_aux=True))(p)
    _close(eager, jitted, atol=1e-6)
    assert len(grads) == 8 and all(np.all(np.isfinite(np.asarray(g))) for g in grads.values())
    clone = MultiHeadAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone(q, v)
    clone.set_weights(layer.get_weights())
    _close(clone(q, v), eager, atol=1e-6)


def test_mha_dropout_training_only():
    x = _x((2, 3, D))
    layer = MultiHeadAttention(num_heads=H, key_dim=K, dropout=0.5, seed=1)
    ref = layer(x, x)
    np.testing.assert_array_equal(np.asarray(layer(x, x, training=False)), np.asarray(ref))
    a, b = layer(x, x, training=True), layer(x, x, training=True)
    assert np.all(np.isfinite(np.asarray(a)))
    assert not np.allclose(np.asarray(a), np.asarray(ref))
    assert not np.allclose(np.asarray(a), np.asarray(b))


def test_mha_errors():
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(0, 2)
    with pytest.raises(ValueError, match="key_dim"):
        MultiHeadAttention(2, None)
    with pytest.raises(TypeError, match="layer\\(query, value"):
        MultiHeadAttention(2, 2)(jnp.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="every axis but the last"):
        MultiHeadAttention(2, 2)(jnp.ones((1, 2, 3)), jnp.ones((1, 4, 3)), jnp.ones((1, 5, 3)))


def test_mha_config_keys_match_keras(keras):
    ours = set(MultiHeadAttention(2, 3).get_config())
    theirs = set(keras.layers.MultiHeadAttention(2, 3).get_config())
    assert ours == theirs, ours ^ theirs


# ----------------------------------------------------------------------------- Attention
@pytest.mark.parametrize("make, shapes", [
    (lambda: Attention(), [(2, 3, D), (2, 5, D)]),
    (lambda: Attention(use_scale=True, score_mode="concat"), [(2, 3, D), (2, 5, D), (2, 5, D)]),
    (lambda: AdditiveAttention(), [(2, 3, D), (2, 5, D)]),
], ids=["dot", "concat_scaled_with_key", "additive"])
def test_attention_conformance_and_keras(make, shapes):
    check_layer(make, shapes, keras_oracle=True)


@pytest.mark.parametrize("cls", ["Attention", "AdditiveAttention"])
def test_attention_masks_and_causal_vs_keras(keras, cls):
    q, v = _x((2, 4, D)), _x((2, 4, D), 1)
    layer = getattr(trine.layers.attention, cls)(use_scale=True)
    layer([q, v])
    klayer = getattr(keras.layers, cls).from_config(layer.get_config())
    klayer([q, v])
    klayer.set_weights(layer.get_weights())
    qm = np.array([[True, True, True, False], [True, True, False, False]])
    vm = np.array([[True, False, True, True], [True, True, True, False]])
    for kw in ({"mask": [qm, vm]}, {"use_causal_mask": True},
               {"mask": [None, vm], "use_causal_mask": True, "return_attention_scores": True}):
        _close(layer([q, v], **kw), klayer([q, v], **kw))
    out = layer([q, v], mask=[qm, vm])
    np.testing.assert_array_equal(np.asarray(out)[0, 3], 0.0)  # masked query -> zeros


def test_attention_masks_from_inputs_and_output_mask():
    tq = jnp.array([[1, 2, 0]])
    tv = jnp.array([[3, 0, 4, 0]])
    emb = Embedding(10, D, mask_zero=True)
    eq, ev = emb(tq), emb(tv)
    layer = Attention()
    out, w = layer([eq, ev], return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(w)[0, :, [1, 3]], 0.0, atol=1e-7)
    y = layer([eq, ev])
    np.testing.assert_array_equal(np.asarray(get_mask(y)), [[True, True, False]])


def test_attention_dropout_and_errors():
    q = _x((2, 3, D))
    layer = Attention(dropout=0.5)
    a = layer([q, q])
    b = layer([q, q], training=True)
    assert np.all(np.isfinite(np.asarray(b))) and not np.allclose(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError, match="score_mode"):
        Attention(score_mode="add")
    with pytest.raises(ValueError, match="list"):
        Attention()(q)
    with pytest.raises(ValueError, match="list"):
        Attention()([q, q, q, q])


def test_attention_config_keys_match_keras(keras):
    for cls in ("Attention", "AdditiveAttention"):
        ours = set(getattr(trine.layers.attention, cls)().get_config())
        theirs = set(getattr(keras.layers, cls)().get_config())
        assert ours == theirs, (cls, ours ^ theirs)
