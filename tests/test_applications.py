"""trine.applications against Keras as the oracle, without the network.

Keras builds each architecture with weights=None at a small input size, its weights are set to
random values (so BatchNorm statistics matter) and saved in Keras 3's `.weights.h5` layout and
in the legacy `.h5` layout Keras's published ImageNet files use; trine builds the same
architecture with `weights=<that file>` and must give the same numbers, parameter count and
layer names.
"""
import os

import h5py
import numpy as np
import pytest

import trine
from trine import applications as A
from trine.applications import imagenet_utils
from trine.layers.ops_layer import OpLayer

keras = pytest.importorskip("keras")


def _randomize(km, seed=0):
    rng = np.random.RandomState(seed)
    for v in km.weights:
        shape = tuple(v.shape)
        if v.path.endswith("count"):
            continue
        if "variance" in v.path:
            val = rng.uniform(0.5, 1.5, shape)
        elif "gamma" in v.path:
            val = rng.uniform(0.8, 1.2, shape)
        else:
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 10
            val = rng.normal(0, 1.0 / np.sqrt(max(fan_in, 1)), shape)
        v.assign(val.astype("float32"))
    for layer in km.layers:  # Keras's Normalization reads its statistics from a cache
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()


def _save_legacy(km, path):
    from keras.src.legacy.saving import legacy_h5_format
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, km)


def _check(kfn, tfn, tmp_path, size=32, layout="both", atol=1e-4, pre=None, **kw):
    keras.backend.clear_session()
    trine.clear_session()
    km = kfn(weights=None, input_shape=(size, size, 3), **kw)
    _randomize(km)
    paths = []
    if layout in ("both", "keras3"):
        paths.append(str(tmp_path / "k.weights.h5"))
        km.save_weights(paths[-1])
    if layout in ("both", "legacy"):
        paths.append(str(tmp_path / "k_legacy.h5"))
        _save_legacy(km, paths[-1])
    x = np.random.RandomState(1).uniform(0, 255, (2, size, size, 3)).astype("float32")
    x = pre(x) if pre is not None else x  # the family's preprocessing, as in real use
    want = np.asarray(km(x, training=False))
    for path in paths:
        trine.clear_session()
        tm = tfn(weights=path, input_shape=(size, size, 3), **kw)
        assert tm.name == km.name
        assert tm.count_params() == km.count_params()
        # Keras keeps ops on symbolic tensors (MobileNetV3's `x + 3.0`) out of `layers`
        assert sorted(layer.name for layer in tm.layers if not isinstance(layer, OpLayer)) \
            == sorted(layer.name for layer in km.layers)
        got = np.asarray(tm(x, training=False))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=atol, rtol=0, err_msg=path)
    return km, tm


def test_resnet50_matches_keras(tmp_path):
    _check(keras.applications.ResNet50, A.ResNet50, tmp_path, classes=10,
           pre=A.resnet.preprocess_input)


@pytest.mark.slow  # one family member per code path runs by default
def test_resnet50v2_matches_keras(tmp_path):
    _check(keras.applications.ResNet50V2, A.ResNet50V2, tmp_path, include_top=False,
           pooling="max", layout="legacy", pre=A.resnet_v2.preprocess_input)


def test_vgg16_matches_keras(tmp_path):
    _check(keras.applications.VGG16, A.VGG16, tmp_path, classes=10, layout="legacy",
           pre=A.vgg16.preprocess_input)


@pytest.mark.slow  # one family member per code path runs by default
def test_vgg19_no_top_matches_keras(tmp_path):
    _check(keras.applications.VGG19, A.VGG19, tmp_path, include_top=False, pooling="avg",
           layout="keras3", pre=A.vgg19.preprocess_input)


def test_deeper_resnets_share_the_blocks():
    # ResNet101/152 and their V2s are the same code with more blocks: count the blocks.
    for fn, n in ((A.ResNet101, 23), (A.ResNet152V2, 36)):
        trine.clear_session()
        m = fn(weights=None, include_top=False, input_shape=(32, 32, 3))
        names = {layer.name for layer in m.layers}
        assert f"conv4_block{n}_3_conv" in names and f"conv4_block{n + 1}_3_conv" not in names


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_matches_keras(mode, data_format):
    from keras.src.applications import imagenet_utils as kiu
    shape = (2, 3, 5, 5) if data_format == "channels_first" else (2, 5, 5, 3)
    x = np.random.RandomState(0).uniform(0, 255, shape).astype("float32")
    want = kiu.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    got = imagenet_utils.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)
    tensor = imagenet_utils.preprocess_input(trine.ops.convert_to_tensor(x),
                                             data_format=data_format, mode=mode)
    np.testing.assert_allclose(np.asarray(tensor), want, rtol=1e-6, atol=1e-5)
    one = imagenet_utils.preprocess_input(x[0].copy(), data_format=data_format, mode=mode)
    np.testing.assert_allclose(one, want[0], rtol=1e-6, atol=1e-5)


def test_family_preprocess_modes():
    x = np.full((1, 2, 2, 3), 255.0, "float32")
    np.testing.assert_allclose(A.resnet_v2.preprocess_input(x.copy()), 1.0)
    np.testing.assert_allclose(A.resnet.preprocess_input(x.copy())[0, 0, 0],
                               255.0 - np.array([103.939, 116.779, 123.68]), rtol=1e-6)
    assert A.resnet50.ResNet50 is A.ResNet50
    ints = np.full((1, 2, 2, 3), 255, "uint8")
    assert A.vgg16.preprocess_input(ints).dtype == np.float32


def test_preprocess_input_symbolic():
    inp = trine.Input((4, 4, 3))
    out = A.resnet.preprocess_input(inp)
    m = trine.Model(inp, out)
    x = np.random.RandomState(0).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(m(x)), A.resnet.preprocess_input(x.copy()),
                               rtol=1e-6, atol=1e-4)


def test_decode_predictions_from_cached_index(tmp_path, monkeypatch):
    monkeypatch.setenv("TRINE_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    os.makedirs(tmp_path / "models")
    import json
    (tmp_path / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    monkeypatch.setattr(imagenet_utils, "_CLASS_INDEX_HASH", None)
    preds = np.zeros((2, 1000), "float32")
    preds[0, 7], preds[0, 3], preds[1, 999] = 0.9, 0.1, 1.0
    out = A.resnet.decode_predictions(preds, top=2)
    assert out[0][0][:2] == ("n00000007", "class_7") and out[0][1][1] == "class_3"
    assert out[1][0][1] == "class_999" and len(out[1]) == 2


def test_decode_predictions_offline_error_names_file_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRINE_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", "http://127.0.0.1:9/index.json")
    with pytest.raises(OSError, match=r"imagenet_class_index\.json.*" + str(tmp_path)):
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))
    with pytest.raises(ValueError, match=r"\(samples, 1000\).*\(1, 10\)"):
        imagenet_utils.decode_predictions(np.zeros((1, 10)))


def test_imagenet_weights_offline_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TRINE_HOME", str(tmp_path))
    from trine.applications import resnet
    monkeypatch.setattr(resnet, "BASE_WEIGHTS_PATH", "http://127.0.0.1:9/")
    with pytest.raises(OSError, match=r"resnet50_weights_tf_dim_ordering_tf_kernels_notop\.h5"
                       r".*" + str(tmp_path)):
        A.ResNet50(include_top=False, input_shape=(32, 32, 3))


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match=r"weights=.*nope\.h5"):
        A.ResNet50(weights=str(tmp_path / "nope.h5"))
    with pytest.raises(ValueError, match=r"classes must be 1000.*classes=10"):
        A.VGG16(classes=10)
    with pytest.raises(ValueError, match=r"at least 32x32.*\(16, 16, 3\)"):
        A.ResNet50(weights=None, include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match=r"must be \(224, 224, 3\).*\(64, 64, 3\)"):
        A.VGG16(input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match=r"3 channels.*\(64, 64, 1\)"):
        A.VGG16(include_top=False, input_shape=(64, 64, 1))
    with pytest.raises(ValueError, match=r"input shape must be static"):
        A.VGG16(weights=None, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=r"classifier_activation.*'relu'"):
        A.ResNet50(weights="imagenet", classifier_activation="relu")
    with pytest.raises(ValueError, match=r"pooling=.*'mean'"):
        A.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="mean")
    with pytest.raises(ValueError, match=r"mode=.*'bgr'"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode="bgr")


def test_input_tensor_and_variable_size():
    inp = trine.Input((48, 40, 3))
    m = A.VGG16(weights=None, include_top=False, input_tensor=inp, pooling="max")
    assert m.inputs[0] is inp and m.output.shape == (None, 512)
    m = A.ResNet50(weights=None, include_top=False)
    assert tuple(m.input.shape) == (None, None, None, 3)
    assert np.asarray(m(np.zeros((1, 64, 96, 3), "float32"))).shape == (1, 2, 3, 2048)


def test_legacy_file_mismatch_loads_nothing(tmp_path):
    m = A.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"block1_conv1"]
        g = f.create_group("block1_conv1")
        g.attrs["weight_names"] = [b"block1_conv1/kernel:0", b"block1_conv1/bias:0"]
        g.create_dataset("block1_conv1/kernel:0", data=np.zeros((3, 3, 3, 64), "float32"))
        g.create_dataset("block1_conv1/bias:0", data=np.zeros((64,), "float32"))
    before = [np.asarray(v) for v in m.weights]
    with pytest.raises(trine.saving.SavingError, match=r"1 layers.*13 layers"):
        A.VGG16(weights=str(path), include_top=False, input_shape=(32, 32, 3))
    from trine.saving.legacy_h5 import load_legacy_h5_weights
    with pytest.raises(trine.saving.SavingError, match=r"1 layers"):
        load_legacy_h5_weights(m, path)
    assert all(np.array_equal(a, np.asarray(v)) for a, v in zip(before, m.weights))


def test_legacy_file_with_links_is_refused(tmp_path):
    m = A.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "link.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"block1_conv1"]
        g = f.create_group("block1_conv1")
        g.attrs["weight_names"] = [b"kernel:0"]
        g["kernel:0"] = h5py.ExternalLink("/etc/passwd", "/x")
    from trine.saving.legacy_h5 import load_legacy_h5_weights
    with pytest.raises(trine.saving.UnsafeFileError):
        load_legacy_h5_weights(m, path)


def test_mobilenetv2_matches_keras(tmp_path):
    _check(keras.applications.MobileNetV2, A.MobileNetV2, tmp_path, alpha=0.35, classes=10,
           layout="legacy", pre=A.mobilenet_v2.preprocess_input)


@pytest.mark.slow  # one family member per code path runs by default
def test_mobilenet_matches_keras(tmp_path):
    _check(keras.applications.MobileNet, A.MobileNet, tmp_path, alpha=0.25, classes=10,
           layout="keras3", pre=A.mobilenet.preprocess_input)


@pytest.mark.slow  # one family member per code path runs by default
def test_densenet121_matches_keras(tmp_path):
    _check(keras.applications.DenseNet121, A.DenseNet121, tmp_path, include_top=False,
           pooling="avg", layout="legacy", pre=A.densenet.preprocess_input)


def test_mobilenet_names_and_imagenet_rules():
    m = A.MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3), alpha=0.5)
    assert m.name == "mobilenetv2_0.50_96"
    assert A.MobileNet(weights=None, include_top=False, input_shape=(40, 40, 3)).name == \
        "mobilenet_1.00_40"
    with pytest.raises(ValueError, match=r"alpha.*alpha=0\.3"):
        A.MobileNetV2(alpha=0.3, include_top=False, input_shape=(96, 96, 3))
    with pytest.raises(ValueError, match=r"depth_multiplier=2"):
        A.MobileNet(depth_multiplier=2, include_top=False, input_shape=(128, 128, 3))
    with pytest.raises(ValueError, match=r"input_tensor.*input_shape"):
        A.MobileNetV2(weights=None, include_top=False, input_tensor=trine.Input((64, 64, 3)),
                      input_shape=(32, 32, 3))


def test_densenet_variants_and_channels_first():
    for fn, n in ((A.DenseNet169, 32), (A.DenseNet201, 48)):
        trine.clear_session()
        m = fn(weights=None, include_top=False, input_shape=(32, 32, 3))
        names = {layer.name for layer in m.layers}
        assert f"conv4_block{n}_concat" in names and f"conv4_block{n + 1}_concat" not in names
    from trine import config
    old = config.image_data_format()
    config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels_last"):
            A.DenseNet121(weights=None)
    finally:
        config.set_image_data_format(old)


@pytest.mark.slow  # one family member per code path runs by default
def test_efficientnetb0_matches_keras(tmp_path):
    _check(keras.applications.EfficientNetB0, A.EfficientNetB0, tmp_path, classes=10,
           layout="legacy")  # takes [0, 255] pixels: it normalizes them itself


def test_efficientnet_variants_scale():
    from trine.applications import efficientnet
    assert efficientnet.preprocess_input is not None
    x = np.ones((1, 2, 2, 3))
    assert efficientnet.preprocess_input(x) is x
    m = A.EfficientNetB3(weights=None, include_top=False, input_shape=(32, 32, 3))
    names = {layer.name for layer in m.layers}
    # B3: depth 1.4 gives ceil(1.4 * 4) = 6 blocks in stage 6, width 1.2 gives 384 filters
    assert "block6f_add" in names and "block6g_project_conv" not in names
    assert m.get_layer("top_conv").filters == 1536
    assert m.name == "efficientnetb3"


def test_saved_application_reloads_without_custom_objects(tmp_path):
    m = A.EfficientNetB0(weights=None, include_top=False, input_shape=(32, 32, 3),
                         pooling="avg")
    path = str(tmp_path / "effnet.keras")
    m.save(path)
    r = trine.saving.load_model(path)
    x = np.random.RandomState(0).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(r(x)), np.asarray(m(x)))
    assert [layer.name for layer in r.layers] == [layer.name for layer in m.layers]


@pytest.mark.slow  # one family member per code path runs by default
def test_xception_matches_keras(tmp_path):
    # its residual projections are auto-named (conv2d, batch_normalization, add, ...)
    _check(keras.applications.Xception, A.Xception, tmp_path, size=71, include_top=False,
           pooling="avg", pre=A.xception.preprocess_input)


def test_legacy_file_pairs_unmatched_names_in_order(tmp_path):
    # a published file saved by Keras 2 may name auto-named layers differently
    m = A.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    rng = np.random.RandomState(0)
    path = tmp_path / "renamed.h5"
    names = [layer.name for layer in m.layers if layer.weights]
    values = {}
    with h5py.File(path, "w") as f:
        stored = [("old_" + n if n in ("block1_conv1", "block3_conv2") else n) for n in names]
        f.attrs["layer_names"] = [n.encode() for n in stored]
        for n, layer in zip(stored, [layer for layer in m.layers if layer.weights]):
            g = f.create_group(n)
            wn = [f"{n}/w{i}:0" for i in range(len(layer.weights))]
            g.attrs["weight_names"] = [w.encode() for w in wn]
            for w, v in zip(wn, layer.weights):
                values[id(v)] = rng.normal(size=tuple(v.shape)).astype("float32")
                g.create_dataset(w, data=values[id(v)])
    from trine.saving.legacy_h5 import load_legacy_h5_weights
    load_legacy_h5_weights(m, path)
    for v in m.weights:
        np.testing.assert_array_equal(np.asarray(v), values[id(v)])


@pytest.mark.slow  # one family member per code path runs by default
def test_inceptionv3_matches_keras(tmp_path):
    # every convolution is auto-named: the names must come out in Keras's order
    _check(keras.applications.InceptionV3, A.InceptionV3, tmp_path, size=75,
           include_top=False, layout="legacy", pre=A.inception_v3.preprocess_input)


def test_mobilenetv3small_matches_keras(tmp_path):
    _check(keras.applications.MobileNetV3Small, A.MobileNetV3Small, tmp_path, classes=10,
           layout="legacy")


@pytest.mark.slow  # one family member per code path runs by default
def test_mobilenetv3large_minimalistic_matches_keras(tmp_path):
    _check(keras.applications.MobileNetV3Large, A.MobileNetV3Large, tmp_path,
           include_top=False, minimalistic=True, pooling="avg", layout="keras3")


def test_efficientnetv2b0_matches_keras(tmp_path):
    _check(keras.applications.EfficientNetV2B0, A.EfficientNetV2B0, tmp_path, classes=10,
           layout="both")


@pytest.mark.slow  # one family member per code path runs by default
def test_efficientnetv2s_no_preprocessing_matches_keras(tmp_path):
    # the S/M/L stage tables and the [-1, 1] path; fused blocks with expand_ratio 1
    _check(keras.applications.EfficientNetV2S, A.EfficientNetV2S, tmp_path,
           include_top=False, pooling="avg", layout="legacy", include_preprocessing=False,
           pre=lambda x: x / 127.5 - 1.0)
