"""plot_model (PNG / SVG / DOT, built-in renderer without Graphviz) and training curves."""
import json
import os
import shutil
import warnings
import xml.etree.ElementTree as ET

import jax.numpy as jnp
import pytest

import trine as keras
from trine.inspect import model_to_dot, plot_history, plot_model
from trine.layers import Dense

from inspect_models import (TWO_INPUT_LAYERS, Siamese, nested_model, seed_models,
                            two_input_model)

PIL = pytest.importorskip("PIL.Image")
SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(path):
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return root, [t.text for t in root.iter(f"{SVG}text")]


@pytest.fixture(scope="module")
def two_input():
    return two_input_model()


def test_two_input_model_png_and_svg(tmp_path, two_input):
    png, svg = tmp_path / "two.png", tmp_path / "two.svg"
    keras.utils.plot_model(two_input, to_file=str(png), show_shapes=True, show_trainable=True,
                           renderer="builtin", dpi=96)
    plot_model(two_input, to_file=svg, show_shapes=True, show_trainable=True, renderer="builtin")
    with PIL.open(png) as im:
        im.load()
        assert im.format == "PNG" and im.mode in ("RGBA", "RGB")
        w, h = im.size
        assert 300 <= w <= 4000 and 400 <= h <= 6000 and h > w  # a top-to-bottom graph
        meta = json.loads(im.text["Description"])
        colors = im.convert("RGB").getcolors(1 << 20)
    assert meta["layers"] == TWO_INPUT_LAYERS
    assert sorted(map(tuple, meta["edges"])) == sorted([
        ("input_1", "dense_1"), ("input_2", "dense_2"), ("dense_1", "concat"),
        ("dense_2", "concat"), ("concat", "dense_3"), ("dense_3", "output")])
    assert len(colors) > 20  # real drawing: text anti-aliasing, boxes, green cells
    root, texts = svg_texts(svg)
    for name in TWO_INPUT_LAYERS:
        assert any(t.startswith(f"{name} (") for t in texts), name
    assert "Output shape: (None, 128)" in texts and "Input shape: [(None, 64), (None, 64)]" in texts
    assert texts.count("Trainable") == 4
    assert len(list(root.iter(f"{SVG}path"))) == 6  # one arrow per connection


def test_seed_models_plot_in_all_three_styles(tmp_path):
    for api, model in seed_models().items():
        out = tmp_path / f"{api}.svg"
        plot_model(model, out, show_shapes=True, show_dtype=True, show_layer_activations=True,
                   renderer="builtin")
        _, texts = svg_texts(out)
        names = [l.name for l in model.layers]
        for name in names:
            if not name.endswith("input_layer"):
                assert any(t.startswith(f"{name} (") for t in texts), (api, name)
        assert "Output shape: (None, 10)" in texts and "Activation: softmax" in texts
        assert "Output dtype: float32" in texts
        boxes = [t for t in texts if "(InputLayer)" in t]
        assert len(boxes) == (0 if api == "Sequential" else 1)  # Keras omits Sequential's


def test_shared_layer_and_nested_models_are_visible(tmp_path):
    s = Siamese()
    s.build([(None, 6), (None, 6)])
    plot_model(s, tmp_path / "siamese.svg", renderer="builtin")
    root, texts = svg_texts(tmp_path / "siamese.svg")
    assert "shared: 2 calls" in texts and "encoder (Dense)" in texts
    assert len(list(root.iter(f"{SVG}path"))) == 4
    m = nested_model()
    plot_model(m, tmp_path / "nested.svg", expand_nested=True, rankdir="LR", renderer="builtin")
    root, texts = svg_texts(tmp_path / "nested.svg")
    assert "inner (Sequential)" in texts and "in_a (Dense)" in texts
    assert root.get("width") and float(root.get("width")[:-2]) > float(root.get("height")[:-2])
    plot_model(m, tmp_path / "flat.svg", renderer="builtin")
    _, texts = svg_texts(tmp_path / "flat.svg")
    assert "in_a (Dense)" not in texts and "inner (Sequential)" in texts


def test_dot_source(tmp_path, two_input):
    dot = model_to_dot(two_input, show_shapes=True)
    assert dot.startswith("digraph") and dot.count("->") == 6
    for name in TWO_INPUT_LAYERS:
        assert f'"{name}"' in dot
    plot_model(two_input, tmp_path / "m.dot")
    assert (tmp_path / "m.dot").read_text() == model_to_dot(two_input)


@pytest.mark.skipif(shutil.which("dot") is not None, reason="Graphviz is installed here")
def test_without_graphviz_auto_uses_the_builtin_renderer(tmp_path, two_input):
    plot_model(two_input, tmp_path / "auto.svg")  # never fails for want of Graphviz
    assert (tmp_path / "auto.svg").stat().st_size > 1000
    with pytest.raises(RuntimeError, match="renderer='builtin'"):
        plot_model(two_input, tmp_path / "gv.png", renderer="graphviz")
    assert not (tmp_path / "gv.png").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_renderer(tmp_path, two_input):
    plot_model(two_input, tmp_path / "gv.png", show_shapes=True, renderer="graphviz", dpi=72)
    with PIL.open(tmp_path / "gv.png") as im:
        assert im.format == "PNG" and im.size[0] > 100 and im.size[1] > 100
    plot_model(two_input, tmp_path / "gv.svg", renderer="graphviz")
    _, texts = svg_texts(tmp_path / "gv.svg")
    joined = " ".join(t for t in texts if t)
    assert all(name in joined for name in TWO_INPUT_LAYERS)


def test_bad_input(tmp_path, two_input):
    with pytest.raises(ValueError, match="not built.*model.build"):
        plot_model(keras.Sequential([Dense(2)]), tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_model(two_input, tmp_path / "missing" / "x.svg")
    (tmp_path / "adir.svg").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        plot_model(two_input, tmp_path / "adir.svg")
    with pytest.raises(ValueError, match="rankdir"):
        plot_model(two_input, tmp_path / "x.svg", rankdir="XY")
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if not os.access(locked, os.W_OK):  # (root can write anywhere)
            with pytest.raises(PermissionError, match="permission denied"):
                plot_model(two_input, locked / "x.svg")
        assert [p for p in os.listdir(locked) if not p.startswith("x.svg")] == []
    finally:
        os.chmod(locked, 0o700)
    assert sorted(os.listdir(tmp_path)) == ["adir.svg", "locked"]  # no partial files


def test_untraceable_model_is_drawn_as_one_box(tmp_path):
    class UsesJnp(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(2)

        def call(self, x):
            return jnp.tanh(self.d(x))

    m = UsesJnp()
    m.build((None, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_model(m, tmp_path / "one.svg", renderer="builtin")
    assert any("line" in str(w.message) for w in caught)
    _, texts = svg_texts(tmp_path / "one.svg")
    assert texts[0] == "uses_jnp (UsesJnp)"


def fake_history(epochs=4, scale=1.0):
    return {"loss": [1.0 * scale / (i + 1) for i in range(epochs)],
            "accuracy": [0.5 + 0.1 * i for i in range(epochs)],
            "val_loss": [1.2 * scale / (i + 1) for i in range(epochs)],
            "val_accuracy": [0.45 + 0.1 * i for i in range(epochs)]}


class FakeHistory:
    def __init__(self, h):
        self.history = h


def test_plot_history(tmp_path):
    fig = plot_history(FakeHistory(fake_history()), tmp_path / "curves.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert [l.get_label() for l in fig.axes[0].lines] == ["training", "validation"]
    with PIL.open(tmp_path / "curves.png") as im:
        assert im.size[0] > im.size[1] > 100
    runs = {api: FakeHistory(fake_history(scale=k + 1))
            for k, api in enumerate(["Sequential", "Functional", "Subclassing"])}
    fig = plot_history(runs, tmp_path / "overlay.svg", metrics=["val_loss"])
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 6
    ET.parse(tmp_path / "overlay.svg")
    with pytest.raises(ValueError, match="no metric named 'auc'"):
        plot_history(fake_history(), tmp_path / "x.png", metrics=["auc"])
    with pytest.raises(ValueError, match="no recorded epochs"):
        plot_history({"loss": []}, tmp_path / "y.png")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_history_plot_method(tmp_path):
    from trine.training.callbacks import History
    h = History()
    h.on_train_begin()
    for epoch, logs in enumerate([{"loss": 0.9, "accuracy": 0.6, "val_loss": 1.0},
                                  {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.7}]):
        h.on_epoch_end(epoch, logs)
    fig = h.plot(tmp_path / "fit.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    assert (tmp_path / "fit.png").stat().st_size > 1000
