"""Preprocessing layers: numeric and image layers through the conformance harness (with Keras
as oracle where Keras runs without TensorFlow), random layers' training/inference behaviour
and determinism, adapt statistics against NumPy, and the host-side string layers against
hand-computed expectations (Keras's string layers need TensorFlow, which is not installed).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import trine  # noqa: E402
from trine.layers.preprocessing import (CategoryEncoding, CenterCrop, Discretization,  # noqa: E402
                                        Hashing, IntegerLookup, Normalization, RandomContrast,
                                        RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
                                        Rescaling, Resizing, StringLookup, TextVectorization)
from trine.layers.preprocessing._hash import fingerprint64, siphash24  # noqa: E402

from harness import check_layer  # noqa: E402


def _keras():
    return pytest.importorskip("keras")


def _images(n=4, h=8, w=6, c=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, h, w, c)).astype("float32")


# ======================================================================================
# numeric layers through the harness
def test_rescaling_harness_and_oracle():
    check_layer(lambda: Rescaling(1.0 / 127.5, offset=-1.0), (4, 5), keras_oracle=True)
    out = Rescaling(0.5)(np.array([[0, 4]], "uint8"))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, [[0.0, 2.0]])
    per_channel = Rescaling([1.0, 2.0, 3.0])(np.ones((2, 3)))
    np.testing.assert_allclose(per_channel, [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(TypeError, match="rescaling.*scale"):
        Rescaling("big")


def test_normalization_given_stats_harness_and_oracle():
    check_layer(lambda: Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0]), (4, 3),
                keras_oracle=True)
    check_layer(lambda: Normalization(mean=2.0, variance=4.0, invert=True), (4, 3),
                keras_oracle=True)
    check_layer(lambda: Normalization(axis=(1, 2), mean=[[0.5, 1.0], [2.0, 3.0]],
                                      variance=[[1.0, 2.0], [3.0, 4.0]]), (4, 2, 2),
                keras_oracle=True)


def test_normalization_adapt_array_matches_numpy():
    x = np.random.default_rng(0).normal(3.0, 2.0, (200, 4)).astype("float32")
    layer = Normalization()
    layer.adapt(x)
    mean, var, count = layer.get_weights()
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(var, x.var(0), rtol=1e-5)
    assert int(count) == 200
    np.testing.assert_allclose(layer(x), (x - x.mean(0)) / x.std(0), rtol=1e-4, atol=1e-4)
    # the adapted layer passes the harness (weights are non-trainable state)
    check_layer(lambda: _adapted(x), (4, 4))


def _adapted(x):
    layer = Normalization()
    layer.adapt(x)
    return layer


def test_normalization_adapt_streaming_equals_whole_array():
    x = np.random.default_rng(1).normal(-1.0, 5.0, (103, 2, 3)).astype("float32")
    whole = Normalization(axis=(1, 2))
    whole.adapt(x)
    streamed = Normalization(axis=(1, 2))
    streamed.adapt(iter([x[:40], x[40:41], x[41:]]))
    batched = Normalization(axis=(1, 2))
    batched.adapt(x, batch_size=16)
    tupled = Normalization(axis=(1, 2))
    tupled.adapt([(x[:50], None), (x[50:], None)])
    for other in (streamed, batched, tupled):
        for a, b in zip(whole.get_weights()[:2], other.get_weights()[:2]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(whole.get_weights()[0], x.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(whole.get_weights()[1], x.var(0), rtol=1e-5)
    limited = Normalization(axis=None)
    limited.adapt(iter([np.ones(4), np.zeros(4), np.full(4, 9.0)]), steps=2)
    np.testing.assert_allclose(limited.get_weights()[:2], [0.5, 0.25])


def test_normalization_errors():
    with pytest.raises(ValueError, match="both mean and variance"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        Normalization(mean=[1.0, 2.0], variance=[1.0])
    layer = Normalization(mean=0.0, variance=1.0)
    with pytest.raises(ValueError, match="fixed mean and variance"):
        layer.adapt(np.ones((3, 2)))
    layer = Normalization()
    layer.adapt(np.ones((3, 2)))
    with pytest.raises(ValueError, match="axis 1 differs"):
        layer.adapt(np.ones((3, 5)))
    with pytest.raises(ValueError, match="no data"):
        Normalization().adapt(iter([]))
    with pytest.raises(ValueError, match="out of range"):
        Normalization(axis=3)(np.ones((2, 2)))


def test_category_encoding_oracle_all_modes():
    data = np.array([[0, 1, 3], [2, 2, 0]], "int32")
    for mode in ("one_hot", "multi_hot", "count"):
        shape = (2, 3)
        check_layer(lambda m=mode: CategoryEncoding(num_tokens=4, output_mode=m), shape,
                    input_dtype="int32", input_data=data, keras_oracle=True)
    single = np.array([[1], [3]], "int32")
    out = CategoryEncoding(4, output_mode="one_hot")(single)
    np.testing.assert_array_equal(out, [[0, 1, 0, 0], [0, 0, 0, 1]])
    out = CategoryEncoding(4, output_mode="count")(data, count_weights=np.array(
        [[0.5, 1.0, 2.0], [1.0, 1.0, 3.0]], "float32"))
    np.testing.assert_allclose(out, [[0.5, 1.0, 0.0, 2.0], [3.0, 0.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match="count_weights"):
        CategoryEncoding(4, output_mode="multi_hot")(data, count_weights=np.ones((2, 3)))
    with pytest.raises(ValueError, match="num_tokens"):
        CategoryEncoding()
    with pytest.raises(ValueError, match="output_mode"):
        CategoryEncoding(3, output_mode="tf_idf")


def test_discretization_oracle_and_adapt_matches_keras():
    check_layer(lambda: Discretization(bin_boundaries=[-0.5, 0.0, 0.7]), (4, 3),
                keras_oracle=True, check_grads=False)
    check_layer(lambda: Discretization(bin_boundaries=[-0.5, 0.5], output_mode="multi_hot"),
                (4, 3), keras_oracle=True)
    np.testing.assert_array_equal(
        Discretization(bin_boundaries=[0.0, 1.0])(np.array([[-1.5, 0.0, 0.5, 1.0, 2.0]])),
        [[0, 1, 1, 2, 2]])
    data = np.random.default_rng(0).normal(size=(500, 2)).astype("float32")
    ours = Discretization(num_bins=5)
    ours.adapt(data)
    keras = _keras()
    ref = keras.layers.Discretization(num_bins=5)
    ref.update_state(data)  # Keras's adapt() itself needs TensorFlow
    ref.finalize_state()
    np.testing.assert_allclose(ours.bin_boundaries, ref.bin_boundaries, rtol=1e-6)
    streamed = Discretization(num_bins=3, epsilon=0.1)
    streamed.adapt(iter([np.arange(10.0), np.arange(5.0)]))
    ref = keras.layers.Discretization(num_bins=3, epsilon=0.1)
    ref.update_state(np.arange(10.0))
    ref.update_state(np.arange(5.0))
    ref.finalize_state()
    np.testing.assert_allclose(streamed.bin_boundaries, ref.bin_boundaries, rtol=1e-6)
    clone = Discretization.from_config(ours.get_config())
    assert clone.bin_boundaries == ours.bin_boundaries
    with pytest.raises(ValueError, match="not both"):
        Discretization(bin_boundaries=[0.0], num_bins=2)
    with pytest.raises(ValueError, match="no bin boundaries"):
        Discretization(num_bins=2)(np.ones((2, 2)))


# ======================================================================================
# image layers
def test_resizing_oracle_variants():
    shape = (2, 8, 6, 3)
    check_layer(lambda: Resizing(4, 5), shape, keras_oracle=True, keras_atol=1e-4)
    check_layer(lambda: Resizing(5, 5, interpolation="nearest", crop_to_aspect_ratio=True), shape,
                keras_oracle=True)
    keras = _keras()
    x = _images(*shape)
    kwargs = {"pad_to_aspect_ratio": True, "fill_value": 1.0}
    np.testing.assert_allclose(Resizing(4, 4, **kwargs)(x),
                               np.asarray(keras.layers.Resizing(4, 4, **kwargs)(x)), atol=1e-3)
    out = Resizing(3, 2)(np.full((8, 6, 1), 200, "uint8"))
    assert out.dtype == jnp.uint8 and out.shape == (3, 2, 1)
    with pytest.raises(ValueError, match="interpolation"):
        Resizing(2, 2, interpolation="area")
    with pytest.raises(ValueError, match="rank 3"):
        Resizing(2, 2)(np.ones((4, 4)))


def test_center_crop_oracle_crop_and_upscale():
    check_layer(lambda: CenterCrop(4, 3), (2, 8, 6, 3), keras_oracle=True)
    check_layer(lambda: CenterCrop(10, 4), (2, 8, 6, 3), keras_oracle=True, keras_atol=1e-4)
    x = np.arange(36, dtype="float32").reshape(6, 6, 1)
    np.testing.assert_array_equal(CenterCrop(2, 2)(x)[..., 0], [[14, 15], [20, 21]])
    cf = CenterCrop(2, 2, data_format="channels_first")(np.moveaxis(x, -1, 0))
    np.testing.assert_array_equal(cf[0], [[14, 15], [20, 21]])


RANDOM_LAYERS = [
    lambda: RandomFlip(),
    lambda: RandomRotation(0.2),
    lambda: RandomZoom(0.3, 0.2),
    lambda: RandomTranslation(0.2, 0.3),
    lambda: RandomContrast(0.5),
]


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_identity_at_inference_oracle(make):
    x = _images()
    check_layer(make, x.shape, input_data=x, call_kwargs={"training": False}, keras_oracle=True,
                keras_atol=1e-3)
    layer = make()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_training_jit_and_keys(make):
    x = _images(n=6)
    inp = trine.Input(shape=x.shape[1:])
    model = trine.Model(inp, make()(inp))
    fn = jax.jit(lambda x, k: model.stateless_call({}, {}, x, training=True, rng=k)[0])
    a, b = fn(x, jax.random.key(0)), fn(x, jax.random.key(0))
    c = fn(x, jax.random.key(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == jnp.float32
    assert not np.allclose(a, x) and not np.allclose(a, c)


def test_random_flip_outputs_are_flips():
    x = _images(n=32, seed=3)
    out = np.asarray(RandomFlip("horizontal")(x, training=True))
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    same = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or s for f, s in zip(flipped, same)) and any(flipped) and any(same)
    # eager calls draw a new key each time
    layer = RandomFlip("horizontal")
    assert not np.array_equal(layer(x, training=True), layer(x, training=True))
    one = np.asarray(layer(x[0], training=True))  # an unbatched image
    assert np.array_equal(one, x[0]) or np.array_equal(one, x[0][:, ::-1])
    out = np.asarray(RandomFlip()(x, training=True))
    kinds = set()
    for o, i in zip(out, x):
        for k, cand in enumerate((i, i[:, ::-1], i[::-1], i[::-1, ::-1])):
            if np.array_equal(o, cand):
                kinds.add(k)
                break
        else:
            raise AssertionError("output is not a flip of the input")
    assert len(kinds) >= 3  # the two flips are drawn independently
    with pytest.raises(ValueError, match="mode"):
        RandomFlip("diagonal")


def test_random_geometry_rotation_matches_keras_zoom_and_shift_by_hand():
    keras = _keras()
    x = _images(n=2, h=7, w=5, c=1, seed=4)
    ours = RandomRotation((0.25, 0.25), fill_mode="constant", fill_value=3.0)(x, training=True)
    # Keras's own rotation matrix for a fixed 90-degree turn, applied by Keras's (jitted) op
    matrix = keras.layers.RandomRotation((0.25, 0.25)).get_random_transformation(
        x, training=True)["rotation_matrix"]
    theirs = jax.jit(lambda im, tr: keras.ops.image.affine_transform(
        im, tr, interpolation="bilinear", fill_mode="constant", fill_value=3.0))(x, matrix)
    np.testing.assert_allclose(ours, np.asarray(theirs), atol=2e-3)
    img = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    # zoom factor +1 -> scale 2 about the centre: zoomed out, output (y, x) samples (2y-2, 2x-2)
    out = np.asarray(RandomZoom((1.0, 1.0), fill_mode="constant", interpolation="nearest")(
        img, training=True))[0, ..., 0]
    assert out[2, 2] == img[0, 2, 2, 0] and out[1, 1] == img[0, 0, 0, 0]
    assert out[3, 1] == img[0, 4, 0, 0] and np.all(out[0] == 0) and np.all(out[:, 4] == 0)
    # shift by 0.2 * 5 = 1 pixel down and 0.4 * 5 = 2 pixels right
    out = np.asarray(RandomTranslation((0.2, 0.2), (0.4, 0.4), fill_mode="constant",
                                       interpolation="nearest")(img, training=True))[0, ..., 0]
    np.testing.assert_array_equal(out[1:, 2:], img[0, :-1, :-2, 0])
    assert np.all(out[0] == 0) and np.all(out[:, :2] == 0)
    wrapped = np.asarray(RandomTranslation((0.2, 0.2), (0.4, 0.4), fill_mode="wrap",
                                           interpolation="nearest")(img, training=True))
    np.testing.assert_array_equal(wrapped[0, ..., 0], np.roll(img[0, ..., 0], (1, 2), (0, 1)))


def test_random_contrast_formula_and_range():
    x = _images(n=8, seed=5)
    out = np.asarray(RandomContrast((0.5, 0.5), value_range=(-1e9, 1e9))(x, training=True))
    mean = x.mean(axis=(1, 2), keepdims=True)
    c = ((out - mean) / (x - mean)).reshape(8, -1)
    np.testing.assert_allclose(c, c[:, :1] * np.ones_like(c), rtol=1e-3)
    assert np.all((c >= 0.5 - 1e-4) & (c <= 1.5 + 1e-4)) and c.min() < 1.0 < c.max()
    assert RandomContrast(0.3)(x[0], training=True).shape == x[0].shape  # unbatched image
    clipped = np.asarray(RandomContrast(1.0)(x, training=True))
    assert clipped.min() >= 0 and clipped.max() <= 255
    assert RandomContrast(0.2).get_config()["factor"] == (0.2, 0.2)
    with pytest.raises(ValueError, match="factor"):
        RandomContrast(1.5)


def test_random_layer_argument_errors():
    with pytest.raises(ValueError, match="factor"):
        RandomRotation(2.0)
    with pytest.raises(NotImplementedError, match="fill_mode"):
        RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="height_factor"):
        RandomZoom(-1.0)
    with pytest.raises(ValueError, match="width_factor"):
        RandomTranslation(0.1, (0.1, 0.2, 0.3))
    with pytest.raises(TypeError, match="seed"):
        RandomFlip(seed="x")


def test_seeded_random_layers_under_stateless_call():
    x = _images(n=16, seed=6)

    def run(seed):
        trine.clear_session()
        inp = trine.Input(shape=x.shape[1:])
        model = trine.Model(inp, RandomRotation(0.3, seed=seed)(inp))
        return np.asarray(model.stateless_call({}, {}, x, training=True,
                                               rng=jax.random.key(7))[0])

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.allclose(run(1), run(2))


def test_random_layers_in_fit_are_deterministic_under_seed():
    x = _images(n=16, h=6, w=6, c=1, seed=7) / 255.0
    y = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")

    def train():
        trine.clear_session()
        trine.utils.set_random_seed(3)
        model = trine.Sequential([trine.Input(shape=(6, 6, 1)), RandomFlip(),
                                  RandomContrast(0.5), trine.layers.Flatten(),
                                  trine.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse", steps_per_execution=1)
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        return model.get_weights(), history.history["loss"]

    (w1, l1), (w2, l2) = train(), train()
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert l1 == l2


# ======================================================================================
# hashing
def test_hash_functions_known_vectors():
    # FarmHash Fingerprint64 reference values and SipHash-2-4's published test vectors
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F
    assert fingerprint64(b"abcdefgh") == 0xFEE9D22990C82909
    assert fingerprint64(b"0123456789=012345") == 0x46A7416ED4861E3B
    assert fingerprint64(b"0123456789$0123456789!0") == 0xD78D5F852D522E6A
    assert fingerprint64(b"How can you write a big system without C++?  -Paul Glick") == \
        0x5A0A6EFD52E84E2A
    assert fingerprint64(b"For every action there is an equal and opposite government "
                         b"program.") == 0x55182F8859ECA4CE
    k0, k1 = int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little")
    assert siphash24(k0, k1, b"") == 0x726FDB47DD0E0E31
    assert siphash24(k0, k1, bytes(range(15))) == 0xA129CA6149BE45E5


def test_hashing_matches_keras_buckets():
    # expected buckets are those Keras/TF produce (Keras's own hashing tests)
    abc = np.array([["A"], ["B"], ["C"], ["D"], ["E"]])
    np.testing.assert_array_equal(Hashing(3)(abc).ravel(), [1, 0, 1, 1, 2])
    np.testing.assert_array_equal(Hashing(3, salt=[133, 137])(abc).ravel(), [1, 2, 1, 0, 2])
    np.testing.assert_array_equal(Hashing(3, salt=133)(abc).ravel(), [0, 0, 2, 1, 0])
    names = [["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]]
    np.testing.assert_array_equal(Hashing(2)(names).ravel(), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(Hashing(3, mask_value="")(
        [["A"], ["B"], [""], ["C"], ["D"]]).ravel(), [1, 1, 0, 2, 2])
    np.testing.assert_array_equal(Hashing(3, mask_value="omar")(names).ravel(), [0, 1, 2, 1, 1])
    ints = np.array([[0], [1], [2], [3], [4]])
    np.testing.assert_array_equal(Hashing(3)(ints).ravel(), [1, 0, 1, 0, 2])
    np.testing.assert_array_equal(Hashing(3, salt=[133, 137])(ints).ravel(), [1, 1, 2, 0, 1])
    np.testing.assert_array_equal(Hashing(3)(jnp.asarray(ints)).ravel(), [1, 0, 1, 0, 2])
    out = Hashing(3)(np.array([b"A", b"B"]))
    assert out.dtype == np.int64 and out.tolist() == [1, 0]


def test_hashing_output_modes_and_errors():
    ints = np.array([[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(Hashing(3, output_mode="multi_hot")(ints), [[1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(Hashing(3, output_mode="count")(ints), [[2.0, 2.0, 1.0]])
    one = Hashing(3, output_mode="one_hot")(np.array([[0], [1]]))
    np.testing.assert_array_equal(one, [[0, 1, 0], [1, 0, 0]])
    assert one.dtype == np.float32
    layer = Hashing(5, salt=(1, 2), mask_value="x", name="h")
    assert Hashing.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="num_bins"):
        Hashing(0)
    with pytest.raises(ValueError, match="salt"):
        Hashing(2, salt=[1])
    with pytest.raises(ValueError, match="dtype"):
        Hashing(3, dtype="float32")


# ======================================================================================
# host layers refuse symbolic and traced inputs
@pytest.mark.parametrize("make", [lambda: Hashing(3), lambda: StringLookup(vocabulary=["a"]),
                                  lambda: TextVectorization()])
def test_host_layers_refuse_graphs_and_jit(make):
    layer = make()
    with pytest.raises(TypeError, match="runs on the host.*before fit"):
        layer(trine.Input(shape=(1,), dtype="int32"))
    with pytest.raises(TypeError, match="cannot be traced"):
        jax.jit(lambda v: layer(v))(jnp.ones((2, 1), "int32"))


# ======================================================================================
# StringLookup
def test_string_lookup_vocabulary_oov_mask_and_invert():
    layer = StringLookup(vocabulary=["a", "b", "c", "d"])
    np.testing.assert_array_equal(layer(np.array([["a", "c", "d"], ["d", "z", "b"]])),
                                  [[1, 3, 4], [4, 0, 2]])
    assert layer.get_vocabulary() == ["[UNK]", "a", "b", "c", "d"]
    assert layer.vocabulary_size() == 5
    assert layer.get_vocabulary(include_special_tokens=False) == ["a", "b", "c", "d"]
    masked = StringLookup(vocabulary=["a", "b"], mask_token="")
    np.testing.assert_array_equal(masked([["a", "", "q"]]), [[2, 0, 1]])
    assert masked.get_vocabulary() == ["", "[UNK]", "a", "b"]
    # special tokens at the front of a given vocabulary are recognised, not duplicated
    same = StringLookup(vocabulary=["", "[UNK]", "a", "b"], mask_token="")
    assert same.get_vocabulary() == masked.get_vocabulary()
    inv = StringLookup(vocabulary=["a", "b"], mask_token="", invert=True)
    np.testing.assert_array_equal(inv(np.array([[2, 3, 0, 1, 9]])), [["a", "b", "", "[UNK]",
                                                                      "[UNK]"]])
    # several OOV buckets: FarmHash of the token modulo the bucket count
    two = StringLookup(vocabulary=["a"], num_oov_indices=2)
    out = two(["a", "zz", "yy"])
    assert out[0] == 2
    np.testing.assert_array_equal(out[1:], [fingerprint64(b"zz") % 2, fingerprint64(b"yy") % 2])
    # bytes inputs decode with `encoding`
    np.testing.assert_array_equal(layer(np.array([b"b", b"c"])), [2, 3])


def test_string_lookup_encodings_and_tf_idf():
    layer = StringLookup(vocabulary=["a", "b", "c"], output_mode="multi_hot")
    np.testing.assert_array_equal(layer([["a", "a", "z"], ["c", "b", "b"]]),
                                  [[1, 1, 0, 0], [0, 0, 1, 1]])
    count = StringLookup(vocabulary=["a", "b", "c"], output_mode="count", mask_token="")
    np.testing.assert_array_equal(count([["a", "a", ""], ["z", "", "c"]]),
                                  [[0, 2, 0, 0], [1, 0, 0, 1]])
    one = StringLookup(vocabulary=["a", "b"], output_mode="one_hot")
    np.testing.assert_array_equal(one(["b", "a", "q"]), [[0, 0, 1], [0, 1, 0], [1, 0, 0]])
    padded = StringLookup(vocabulary=["a"], output_mode="count", max_tokens=4,
                          pad_to_max_tokens=True)
    assert padded(["a", "a"]).shape == (4,)
    # tf_idf with given weights: OOV slot gets the mean weight
    tfidf = StringLookup(vocabulary=["a", "b"], idf_weights=[0.5, 1.5], output_mode="tf_idf")
    np.testing.assert_allclose(tfidf([["a", "a", "b", "q"]]), [[1.0, 1.0, 1.5]])
    with pytest.raises(RuntimeError, match="vocabulary must be set"):
        StringLookup(output_mode="multi_hot")(["a"])
    with pytest.raises(ValueError, match="idf_weights must be given"):
        StringLookup(vocabulary=["a"], output_mode="tf_idf")


def test_string_lookup_adapt_order_max_tokens_and_tf_idf_weights():
    layer = StringLookup()
    layer.adapt(np.array([["a", "c", "d"], ["d", "z", "b"]]))
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    capped = StringLookup(max_tokens=3, mask_token="[MASK]")
    capped.adapt(["x", "y", "y", "z", "z", "z", "[MASK]", "[UNK]"])
    assert capped.get_vocabulary() == ["[MASK]", "[UNK]", "z"]
    docs = [["a", "a", "b"], ["a", "c", "c"], ["b", "d", "d"]]
    learn = StringLookup(output_mode="tf_idf")
    learn.adapt(docs)
    # counts a3 b2 c2 d2 -> a, then ties by decreasing token d, c, b
    assert learn.get_vocabulary() == ["[UNK]", "a", "d", "c", "b"]
    df = np.array([2, 1, 1, 2], "float64")  # a, d, c, b appear in that many documents
    idf = np.log(1 + 3 / (1 + df)).astype("float32")
    expected_w = np.concatenate([[idf.mean()], idf])
    np.testing.assert_allclose(learn.idf_weights, expected_w, rtol=1e-6)
    out = learn([["a", "d", "d", "q"]])
    np.testing.assert_allclose(out, [[expected_w[0], idf[0], 2 * idf[1], 0, 0]], rtol=1e-6)
    # iterables of batches: each batch's rows are documents
    streamed = StringLookup(output_mode="tf_idf")
    streamed.adapt(iter([np.array(docs[:2]), np.array(docs[2:])]))
    np.testing.assert_allclose(streamed.idf_weights, learn.idf_weights)
    fixed = StringLookup(vocabulary=["a"])
    with pytest.raises(ValueError, match="cannot adapt"):
        fixed.adapt(["a"])


def test_string_lookup_vocabulary_errors_and_config(tmp_path):
    with pytest.raises(ValueError, match="repeated"):
        StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="mask token"):
        StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="max_tokens"):
        StringLookup(vocabulary=["a", "b", "c"], max_tokens=3)
    with pytest.raises(ValueError, match="num_oov_indices=1"):
        StringLookup(vocabulary=["a"], num_oov_indices=0)(["b"])
    with pytest.raises(ValueError, match="invert=True needs output_mode='int'"):
        StringLookup(invert=True, output_mode="count")
    path = tmp_path / "vocab.txt"
    path.write_text("cat\ndog\n")
    from_file = StringLookup(vocabulary=str(path))
    np.testing.assert_array_equal(from_file(["dog", "cat", "eel"]), [2, 1, 0])
    layer = StringLookup(vocabulary=["a", "b"], mask_token="", num_oov_indices=2, name="sl")
    cfg = layer.get_config()
    assert {"encoding", "vocabulary", "vocabulary_size", "oov_method", "salt"} <= set(cfg)
    assert "vocabulary_dtype" not in cfg
    clone = StringLookup.from_config(cfg)
    assert clone.get_config() == cfg and clone.get_vocabulary() == layer.get_vocabulary()
    adapted = StringLookup(output_mode="tf_idf")
    adapted.adapt([["p", "q"], ["q"]])
    adapted.save_assets(str(tmp_path))
    store = {}
    adapted.save_own_variables(store)
    restored = StringLookup.from_config(adapted.get_config())
    restored.load_own_variables(store)
    restored.load_assets(str(tmp_path))
    np.testing.assert_allclose(restored([["q", "p", "p"]]), adapted([["q", "p", "p"]]))


# ======================================================================================
# IntegerLookup (device lookups)
def test_integer_lookup_harness_and_jit():
    vocab = [12, 36, 1138, 42]
    data = np.array([[12, 1138, 42], [42, 1000, 36]], "int32")
    layer = IntegerLookup(vocabulary=vocab)
    out = layer(data)
    np.testing.assert_array_equal(out, [[1, 3, 4], [4, 0, 2]])
    np.testing.assert_array_equal(jax.jit(layer)(data), out)
    check_layer(lambda: IntegerLookup(vocabulary=vocab), data.shape, input_dtype="int32",
                input_data=data)
    check_layer(lambda: IntegerLookup(vocabulary=vocab, output_mode="multi_hot"), data.shape,
                input_dtype="int32", input_data=data)
    np.testing.assert_array_equal(
        IntegerLookup(vocabulary=vocab, output_mode="count")(data),
        [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])


def test_integer_lookup_oov_mask_invert_and_adapt():
    many = IntegerLookup(vocabulary=[5, 6], num_oov_indices=3)
    np.testing.assert_array_equal(many(np.array([5, 6, 7, 8, 9, -1])), [3, 4, 1, 2, 0, 2])
    farm = IntegerLookup(vocabulary=[5], num_oov_indices=3, oov_method="farmhash")
    out = jax.jit(farm)(np.array([5, 7, 100]))
    np.testing.assert_array_equal(out, [3, fingerprint64(b"7") % 3, fingerprint64(b"100") % 3])
    masked = IntegerLookup(vocabulary=[5, 6], mask_token=0)
    np.testing.assert_array_equal(masked(np.array([[5, 0, 9, 6]])), [[2, 0, 1, 3]])
    assert masked.get_vocabulary() == [0, -1, 5, 6]
    inv = IntegerLookup(vocabulary=[5, 6], mask_token=0, invert=True)
    np.testing.assert_array_equal(inv(np.array([2, 3, 0, 1, 7])), [5, 6, 0, -1, -1])
    with pytest.raises(ValueError, match="num_oov_indices=1"):
        IntegerLookup(vocabulary=[1, 2], num_oov_indices=0)(np.array([1, 3]))
    assert jax.jit(IntegerLookup(vocabulary=[1, 2], num_oov_indices=0))(
        np.array([1, 3])).tolist() == [0, -1]
    learn = IntegerLookup(max_tokens=4)
    learn.adapt(np.array([[3, 3, 3, 7], [7, 9, 8, -1]]))
    assert learn.get_vocabulary() == [-1, 3, 7, 9]  # count 3, 7; ties 9 > 8, capped
    tfidf = IntegerLookup(output_mode="tf_idf")
    tfidf.adapt([[1, 1], [1, 2]])
    idf = np.log(1 + 2 / (1 + np.array([2.0, 1.0]))).astype("float32")
    np.testing.assert_allclose(tfidf(np.array([[1, 2, 2, 5]])),
                               [[idf.mean(), idf[0], 2 * idf[1]]], rtol=1e-6)
    with pytest.raises(ValueError, match="int32"):
        IntegerLookup(vocabulary=[2**40])
    cfg = IntegerLookup(vocabulary=np.array([4, 5]), name="il").get_config()
    assert cfg["vocabulary"] == [4, 5] and cfg["vocabulary_dtype"] == "int64"
    assert IntegerLookup.from_config(cfg).get_config() == cfg


# ======================================================================================
# TextVectorization
def test_text_vectorization_int_mode():
    tv = TextVectorization(output_sequence_length=4)
    tv.adapt(["The cat sat.", "The dog sat on the cat!"])
    # counts: the 3, cat 2, sat 2, dog 1, on 1; ties by decreasing token
    assert tv.get_vocabulary() == ["", "[UNK]", "the", "sat", "cat", "on", "dog"]
    np.testing.assert_array_equal(tv(["the cat", "A dog, on THE mat sat"]),
                                  [[2, 4, 0, 0], [1, 6, 5, 2]])
    ragged = TextVectorization(vocabulary=["a", "b"])
    out = ragged(np.array([["a b a"], ["b"], [""]]))
    np.testing.assert_array_equal(out, [[2, 3, 2], [3, 0, 0], [0, 0, 0]])
    assert out.dtype == np.int64
    long = TextVectorization(vocabulary=["a"], output_sequence_length=2)
    np.testing.assert_array_equal(long(["a a a", "x"]), [[2, 2], [1, 0]])


def test_text_vectorization_standardize_split_ngrams():
    raw = TextVectorization(standardize=None, split="whitespace", vocabulary=["Hi", "hi"])
    np.testing.assert_array_equal(raw(["Hi hi\tHI"]), [[2, 3, 1]])
    # lowercasing is ASCII-only (as TensorFlow's tf.strings.lower); punctuation is ASCII
    low = TextVectorization(vocabulary=["éa", "Éa", "b"])
    np.testing.assert_array_equal(low(["ÉA É,a b!"]), [[3, 3, 4]])
    chars = TextVectorization(split="character", vocabulary=["a", "b", " "])
    np.testing.assert_array_equal(chars(["ab a"]), [[2, 3, 4, 2]])
    grams = TextVectorization(ngrams=2, vocabulary=["a", "b", "a b", "b c"])
    np.testing.assert_array_equal(grams(["a b c"]), [[2, 3, 1, 4, 5]])
    only_bigrams = TextVectorization(ngrams=(2,), vocabulary=["x y"])
    np.testing.assert_array_equal(only_bigrams(["x y z"]), [[2, 1]])
    custom = TextVectorization(standardize=lambda a: np.char.upper(a),
                               split=lambda s: s.split(","), vocabulary=["A", "B"])
    np.testing.assert_array_equal(custom(["a,b,c"]), [[2, 3, 1]])
    whole = TextVectorization(split=None, vocabulary=["new york", "paris"])
    np.testing.assert_array_equal(whole(["New York", "Rome"]), [[2], [1]])
    with pytest.raises(ValueError, match=r"rank 1 \(batch,\) or \(batch, 1\)"):
        TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))


def test_text_vectorization_bag_of_words_modes():
    multi = TextVectorization(output_mode="multi_hot", vocabulary=["a", "b"])
    np.testing.assert_array_equal(multi(["a a c", "b"]), [[1, 1, 0], [0, 0, 1]])
    count = TextVectorization(output_mode="count", vocabulary=["a", "b"], max_tokens=5,
                              pad_to_max_tokens=True)
    np.testing.assert_array_equal(count(["a a c", ""]), [[1, 2, 0, 0, 0], [0, 0, 0, 0, 0]])
    docs = ["a a b", "a c", "b b b"]
    tfidf = TextVectorization(output_mode="tf_idf")
    tfidf.adapt(docs)
    # counts: b 4, a 3, c 1 -> vocabulary [UNK], b, a, c ; doc freq b 2, a 2, c 1
    assert tfidf.get_vocabulary() == ["[UNK]", "b", "a", "c"]
    idf = np.log(1 + 3 / (1 + np.array([2.0, 2.0, 1.0]))).astype("float32")
    np.testing.assert_allclose(tfidf(["a b b zz"]), [[idf.mean(), 2 * idf[0], idf[1], 0]],
                               rtol=1e-6)
    given = TextVectorization(output_mode="tf_idf", vocabulary=["a", "b"], idf_weights=[1.0, 3.0])
    np.testing.assert_allclose(given(["b b q"]), [[2.0, 0.0, 6.0]])
    with pytest.raises(ValueError, match="output_sequence_length"):
        TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="one_hot"):
        TextVectorization(output_mode="one_hot")


def test_text_vectorization_adapt_iterables_config_and_max_tokens():
    tv = TextVectorization(max_tokens=4)
    tv.adapt(iter([(np.array(["b b a"]), 0), (np.array(["c b"]), 1)]))
    assert tv.get_vocabulary() == ["", "[UNK]", "b", "c"]
    assert tv.vocabulary_size() == 4
    cfg = TextVectorization(ngrams=(1, 2), vocabulary=["a"], output_sequence_length=3,
                            name="tv").get_config()
    clone = TextVectorization.from_config(dict(cfg, ngrams=list(cfg["ngrams"])))
    assert clone.get_config() == cfg
    with pytest.raises(ValueError, match="ngrams"):
        TextVectorization(ngrams=0)
    with pytest.raises(ValueError, match="standardize"):
        TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="ragged"):
        TextVectorization(ragged=True)
    with pytest.raises(ValueError, match="cannot adapt"):
        TextVectorization(vocabulary=["a"]).adapt(["a b"])
