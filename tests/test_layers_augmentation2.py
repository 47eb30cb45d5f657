"""Augmentation layers, second set (issue 23): conformance harness, Keras's numbers with the
random draw pinned (the same draw fed to trine's `_apply` and Keras's `transform_images`),
reproducibility under a seed, dict inputs, and model files without custom_objects."""
import jax
import numpy as np
import pytest

import trine
from harness import check_layer
from trine import layers as L

X = (np.random.default_rng(0).random((2, 8, 6, 3)) * 255).astype(np.float32)

CASES = [
    lambda: L.RandomSaturation(0.5, seed=1),
    lambda: L.RandomHue(0.3, seed=2),
    lambda: L.RandomColorJitter(brightness_factor=0.2, contrast_factor=0.3,
                                saturation_factor=0.4, hue_factor=0.2, seed=3),
    lambda: L.RandomSharpness(0.5, seed=4),
    lambda: L.RandomShear(0.3, 0.2, seed=5),
    lambda: L.RandomPerspective(scale=0.5, seed=6),
    lambda: L.RandomErasing(seed=7),
    lambda: L.RandomGaussianBlur(seed=8),
    lambda: L.Equalization(),
    lambda: L.MixUp(seed=9),
    lambda: L.CutMix(seed=10),
    lambda: L.RandAugment(seed=11),
    lambda: L.MaxNumBoundingBoxes(4),
]


@pytest.mark.parametrize("make", CASES)
@pytest.mark.parametrize("training", [False, True])
def test_conformance(make, training):
    # mixed precision only at inference: random draws in bfloat16 differ from float32 ones
    check_layer(make, X.shape, input_data=X, training=training, check_mixed=not training,
                mixed_tol=2e-2)


def _keras_pair(name, **kw):
    import keras
    return getattr(L, name)(**kw), getattr(keras.layers, name)(**kw)


def _close(a, b, atol=1e-3):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=atol)


def test_colour_layers_match_keras_for_a_pinned_draw():
    f = np.array([0.2, 0.7], np.float32)
    for vr in [(0, 255), (0, 1)]:
        x = X if vr == (0, 255) else X / 255.0
        t, k = _keras_pair("RandomSaturation", factor=0.5, value_range=vr)
        _close(t._apply(x, {"factor": f}), k.transform_images(x, {"factor": f}))
        t, k = _keras_pair("RandomHue", factor=0.5, value_range=vr)
        h = np.array([0.2, -0.1], np.float32)
        _close(t._apply(x, {"factor": h}), k.transform_images(x, {"factor": h}))
        t, k = _keras_pair("RandomSharpness", factor=0.5, value_range=vr)
        _close(t._apply(x, {"factor": f}), k.transform_images(x, {"factor": f}))
    t, k = _keras_pair("Equalization")
    _close(t._apply(X, {}), k.transform_images(X, None))
    t, k = _keras_pair("Equalization", value_range=(0, 1), bins=32)
    _close(t._apply(X / 255.0, {}), k.transform_images(X / 255.0, None), atol=1e-5)


def test_filters_and_geometry_match_keras_for_a_pinned_draw():
    t, k = _keras_pair("RandomGaussianBlur", kernel_size=(3, 5), sigma=(0.2, 0.9))
    d = {"should_apply_blur": np.array([True, False]), "blur_factor": np.array([0.5, 0.8],
                                                                                np.float32)}
    _close(t._apply(X, d), k.transform_images(X, d))
    t, k = _keras_pair("RandomShear", x_factor=0.3, y_factor=0.3)
    d = {"shear_factor": np.array([[0.2, -0.1], [-0.3, 0.25]], np.float32),
         "input_shape": X.shape}
    _close(t._apply(X, d), k.transform_images(X, d))
    t, k = _keras_pair("RandomPerspective", scale=0.6)
    start = np.broadcast_to(np.array([[0, 0], [5, 0], [0, 7], [5, 7]], np.float32), (2, 4, 2))
    d = {"apply_perspective": np.array([True, True]), "start_points": start,
         "end_points": start * (1 + np.random.default_rng(1).uniform(-.3, .3, (2, 4, 2))
                                ).astype(np.float32), "input_shape": X.shape}
    _close(t._apply(X, d), k.transform_images(X, d), atol=2e-2)


def test_mixing_and_erasing_match_keras_for_a_pinned_draw():
    mask = np.zeros(X.shape, bool)
    mask[:, 2:5, 1:4] = True
    t, k = _keras_pair("RandomErasing")
    d = {"apply_erasing": np.array([True, False]), "batch_masks": mask,
         "fill_value": np.full(X.shape, 7.0, np.float32)}
    _close(t._apply(X, d), k.transform_images(X, d))
    t, k = _keras_pair("MixUp")
    d = {"mix_weight": np.array([0.3, 0.9], np.float32), "permutation_order": np.array([1, 0])}
    _close(t._apply(X, d), k.transform_images(X, d))
    lab = np.eye(2, dtype=np.float32)
    _close(t._apply_labels(lab, d), k.transform_labels(lab, d), atol=1e-6)
    t, k = _keras_pair("CutMix")
    d = {"permutation_order": np.array([1, 0]), "batch_masks": mask,
         "mix_weight": np.array([0.6, 0.75], np.float32)}
    _close(t._apply(X, d), k.transform_images(X, d))
    _close(t._apply_labels(lab, d), k.transform_labels(lab, d), atol=1e-6)


def test_keras_reads_trine_configs():
    import keras
    for make in CASES:
        layer = make()
        if isinstance(layer, L.RandomShear):
            continue  # Keras refuses its own stored (negative) shear pairs: a Keras bug
        cfg = layer.get_config()
        kl = getattr(keras.layers, type(layer).__name__).from_config(cfg)
        assert kl.name == layer.name


def test_pinned_probability_zero_is_identity_and_one_always_applies():
    for cls in (L.RandomGaussianBlur, L.RandomErasing, L.RandomPerspective):
        np.testing.assert_array_equal(np.asarray(cls(factor=0.0, seed=0)(X, training=True)), X)
    y = np.asarray(L.RandomErasing(factor=(1.0, 1.0), fill_value=3.0, seed=0)(X, training=True))
    assert np.all(np.any(y == 3.0, axis=(1, 2, 3)))


@pytest.mark.parametrize("make", CASES[:-1])
def test_same_seed_same_augmentations_eager_and_fused(make):
    a, b = make(), make()
    np.testing.assert_array_equal(np.asarray(a(X, training=True)), np.asarray(b(X, training=True)))
    inp = trine.Input(X.shape[1:])
    m = trine.Model(inp, make()(inp))
    key = jax.random.key(3)
    fn = jax.jit(lambda x, k: m.stateless_call(m.get_params(), m.get_state(), x, training=True,
                                               rng=k)[0])
    r2 = m.stateless_call(m.get_params(), m.get_state(), X, training=True, rng=key)[0]
    np.testing.assert_allclose(np.asarray(fn(X, key)), np.asarray(r2), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(np.asarray(m.predict(X, verbose=0)), X)  # inactive


def test_dict_inputs_labels_and_boxes():
    lab = np.eye(2, dtype=np.float32)
    for layer in (L.MixUp(seed=0), L.CutMix(seed=0)):
        out = layer({"images": X, "labels": lab}, training=True)
        np.testing.assert_allclose(np.asarray(out["labels"]).sum(-1), 1.0, atol=1e-5)
        assert out["images"].shape == X.shape
    np.testing.assert_array_equal(np.asarray(L.CutMix(seed=0)(X[0], training=True)), X[0])
    boxes = {"boxes": np.ones((2, 5, 4), np.float32), "labels": np.ones((2, 5), np.float32)}
    out = L.MaxNumBoundingBoxes(3)({"images": X, "bounding_boxes": boxes})
    assert out["bounding_boxes"]["boxes"].shape == (2, 3, 4)
    out = L.MaxNumBoundingBoxes(7)({"images": X, "bounding_boxes": boxes})
    np.testing.assert_array_equal(np.asarray(out["bounding_boxes"]["labels"])[:, 5:], -1)
    with pytest.raises(TypeError, match="RandomHue layer .*bounding_boxes"):
        L.RandomHue(0.1)({"images": X, "bounding_boxes": boxes}, training=True)
    with pytest.raises(KeyError, match="MaxNumBoundingBoxes"):
        L.MaxNumBoundingBoxes(3)({"images": X, "bounding_boxes": {"boxes": boxes["boxes"],
                                                                  "labels": boxes["labels"],
                                                                  "x": 1}})


def test_rand_augment_statistics_and_fit_then_load_without_custom_objects(tmp_path):
    y = np.random.default_rng(1).normal(size=(2, 1)).astype(np.float32)

    def run():
        trine.utils.set_random_seed(5)
        model = trine.Sequential([
            trine.Input(X.shape[1:]), L.RandAugment(num_ops=1, seed=1),
            L.RandomColorJitter(brightness_factor=0.1, hue_factor=0.1, seed=2),
            L.RandomShear(0.2, seed=3), L.RandomErasing(seed=4), L.Equalization(),
            L.RandomSaturation(0.3, seed=5), L.RandomSharpness(0.3, seed=6),
            L.RandomPerspective(seed=7), L.RandomGaussianBlur(seed=8), L.MixUp(seed=9),
            L.CutMix(seed=10), L.RandomHue(0.2, seed=11), L.MaxNumBoundingBoxes(2),
            L.Flatten(), L.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(X, y, epochs=2, batch_size=2, verbose=0)
        return model

    m1, m2 = run(), run()
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    path = tmp_path / "aug2.keras"
    m1.save(path)
    loaded = trine.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), m1.predict(X, verbose=0), atol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="RandomSaturation layer .* factor"):
        L.RandomSaturation(1.5)
    with pytest.raises(ValueError, match="RandomHue layer .* factor"):
        L.RandomHue((2.0, 3.0))
    with pytest.raises(ValueError, match="RandomGaussianBlur layer .* kernel_size"):
        L.RandomGaussianBlur(kernel_size=4)
    with pytest.raises(ValueError, match="RandomShear layer .* x_factor"):
        L.RandomShear(x_factor=1.5)
    with pytest.raises(NotImplementedError, match="RandomShear layer .* fill_mode"):
        L.RandomShear(0.1, fill_mode="bogus")
    with pytest.raises(ValueError, match="RandomPerspective layer .* scale"):
        L.RandomPerspective(scale=2)
    with pytest.raises(ValueError, match="RandomErasing layer .* fill_value"):
        L.RandomErasing(fill_value=(1, 2))
    with pytest.raises(ValueError, match="MixUp layer .* alpha"):
        L.MixUp(alpha=0)
    with pytest.raises(ValueError, match="RandAugment layer .* num_ops"):
        L.RandAugment(num_ops=-1)
    with pytest.raises(ValueError, match="MaxNumBoundingBoxes layer .* max_number"):
        L.MaxNumBoundingBoxes(0)
    with pytest.raises(ValueError, match="Equalization layer .* bins"):
        L.Equalization(bins=1)
