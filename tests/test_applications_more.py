"""ConvNeXt, InceptionResNetV2 and NASNet against Keras as the oracle (see
test_applications.py: Keras builds with weights=None and random weights, saves them, and
trine loads the file and must give the same numbers, parameter count and layer names)."""
import numpy as np
import pytest

import trine
from trine import applications as A

keras = pytest.importorskip("keras")
from test_applications import _check  # noqa: E402  (after the importorskip)


def test_convnexttiny_matches_keras(tmp_path):
    _check(keras.applications.ConvNeXtTiny, A.ConvNeXtTiny, tmp_path, classes=10,
           layout="keras3")  # takes [0, 255] pixels: it normalizes them itself


@pytest.mark.slow  # one family member per code path runs by default
def test_convnextsmall_no_top_matches_keras(tmp_path):
    # the Keras 3 layout, and the LayerNormalization Keras puts after the pooling
    _check(keras.applications.ConvNeXtSmall, A.ConvNeXtSmall, tmp_path, include_top=False,
           pooling="avg", layout="keras3", include_preprocessing=False,
           pre=lambda x: x / 255.0)


@pytest.mark.slow  # the wider variants: same code, more channels
@pytest.mark.parametrize("variant", ["ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"])
def test_wide_convnexts_match_keras_shape(variant):
    keras.backend.clear_session()
    trine.clear_session()
    km = getattr(keras.applications, variant)(weights=None, include_top=False,
                                              input_shape=(32, 32, 3))
    tm = getattr(A, variant)(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert tm.count_params() == km.count_params() and tm.name == km.name


def test_convnext_rules():
    from trine.applications import convnext
    x = np.ones((1, 2, 2, 3))
    assert convnext.preprocess_input(x) is x
    with pytest.raises(ValueError, match=r"name must contain 'convnext_tiny'.*'mine'"):
        A.ConvNeXtTiny(name="mine")
    with pytest.raises(ValueError, match=r"classes must be 1000.*classes=10"):
        A.ConvNeXtTiny(classes=10)
    from trine import config
    old = config.image_data_format()
    config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels_last"):
            A.ConvNeXtTiny(weights=None)
    finally:
        config.set_image_data_format(old)


def test_convnext_imagenet_weights_offline_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TRINE_HOME", str(tmp_path))
    from trine.applications import convnext
    monkeypatch.setattr(convnext, "BASE_WEIGHTS_PATH", "http://127.0.0.1:9/")
    with pytest.raises(OSError, match=r"convnext_tiny_notop\.h5.*" + str(tmp_path)):
        A.ConvNeXtTiny(include_top=False, input_shape=(32, 32, 3))


@pytest.mark.slow  # the published files' legacy layout, with the nested stem models
def test_convnexttiny_legacy_h5_matches_keras(tmp_path):
    _check(keras.applications.ConvNeXtTiny, A.ConvNeXtTiny, tmp_path, include_top=False,
           layout="legacy")


@pytest.mark.slow  # about a minute of CPU: Keras's build of 55M parameters dominates
def test_inception_resnet_v2_matches_keras(tmp_path):
    # most convolutions and every scale layer are auto-named: Keras's order must hold
    _check(keras.applications.InceptionResNetV2, A.InceptionResNetV2, tmp_path, size=75,
           include_top=False, pooling="max", layout="legacy",
           pre=A.inception_resnet_v2.preprocess_input)


@pytest.mark.slow  # about a minute of CPU: Keras's build of 770 layers dominates
def test_nasnetmobile_matches_keras(tmp_path):
    # auto-named activations, paddings, crops and adds must come out in Keras's order
    _check(keras.applications.NASNetMobile, A.NASNetMobile, tmp_path, classes=10,
           layout="legacy", pre=A.nasnet.preprocess_input)


@pytest.mark.slow  # the N=6, P=4032 configuration: skip_reduction and 96 stem filters
def test_nasnetlarge_no_top_matches_keras(tmp_path):
    _check(keras.applications.NASNetLarge, A.NASNetLarge, tmp_path, include_top=False,
           pooling="avg", layout="keras3", pre=A.nasnet.preprocess_input)


# Parameter counts Keras 3.15 gives for these configurations, so the default run checks the
# architectures without building Keras's (the slow tests above compare numbers with Keras).
def test_nasnetmobile_and_inception_resnet_v2_shapes():
    m = A.NASNetMobile(weights=None, include_top=False, pooling="avg", input_shape=(32, 32, 3))
    assert m.count_params() == 4269716 and len(m.layers) == 770
    assert m.output.shape == (None, 1056) and m.name == "nasnet_mobile"
    names = {layer.name for layer in m.layers}
    assert {"reduction_concat_reduce_4", "normal_concat_12", "adjust_bn_stem_2"} <= names
    trine.clear_session()
    m = A.InceptionResNetV2(weights=None, include_top=False, input_shape=(75, 75, 3))
    assert m.count_params() == 54336736 and m.output.shape == (None, 1, 1, 1536)
    names = {layer.name for layer in m.layers}
    assert {"block35_10_ac", "block17_20_mixed", "block8_10_conv", "conv_7b_ac"} <= names
    assert "block8_10_ac" not in names  # the last block is linear


def test_nasnet_and_inception_resnet_v2_rules(tmp_path, monkeypatch):
    from trine import config
    x = np.full((1, 2, 2, 3), 255.0, "float32")
    np.testing.assert_allclose(A.nasnet.preprocess_input(x.copy()), 1.0)
    np.testing.assert_allclose(A.inception_resnet_v2.preprocess_input(x.copy()), 1.0)
    with pytest.raises(ValueError, match=r"static.*\(None, None, 3\)"):
        A.NASNetMobile(include_top=False, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match=r"penultimate_filters.*96.*1000"):
        A.nasnet.NASNet(weights=None, include_top=False, input_shape=(32, 32, 3),
                        penultimate_filters=1000)
    with pytest.raises(ValueError, match=r"at least 75x75.*\(64, 64, 3\)"):
        A.InceptionResNetV2(weights=None, include_top=False, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match=r"classes must be 1000"):
        A.NASNetLarge(classes=10)
    old = config.image_data_format()
    config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels_last"):
            A.NASNetMobile(weights=None)
    finally:
        config.set_image_data_format(old)
    # the published file's name differs from the cached one: both appear in the error
    monkeypatch.setenv("TRINE_HOME", str(tmp_path))
    monkeypatch.setattr(A.nasnet, "BASE_WEIGHTS_PATH", "http://127.0.0.1:9/")
    with pytest.raises(OSError, match=r"nasnet_mobile_no_top\.h5.*NASNet-mobile-no-top\.h5"):
        A.NASNetMobile(include_top=False, input_shape=(32, 32, 3))


def test_family_layers_reload_from_keras_archive(tmp_path):
    from trine.applications.convnext import LayerScale
    from trine.applications.inception_resnet_v2 import CustomScaleLayer
    inp = trine.Input((4, 4, 8))
    out = CustomScaleLayer(0.2)([inp, LayerScale(0.5, 8, name="scale")(inp)])
    m = trine.Model(inp, out)
    path = str(tmp_path / "m.keras")
    m.save(path)
    r = trine.saving.load_model(path)
    x = np.random.RandomState(0).rand(2, 4, 4, 8).astype("float32")
    np.testing.assert_allclose(np.asarray(r(x)), np.asarray(m(x)), rtol=1e-6)
    assert [layer.name for layer in r.layers] == ["input_layer", "scale", "custom_scale_layer"]
