"""The harness's record of keras-oracle layers, and bench/layer_predict_harness.py's timing of it."""
import importlib.util
import json
import pathlib

import pytest

import trine
from harness import check_layer

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location(
        "layer_predict_harness", ROOT / "bench" / "layer_predict_harness.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_check_layer_records_keras_oracle_calls(tmp_path, monkeypatch):
    pytest.importorskip("keras")
    path = tmp_path / "rec.jsonl"
    monkeypatch.setenv("TRINE_HARNESS_RECORD", str(path))
    layer = check_layer(lambda: trine.layers.Dense(3), (2, 4), keras_oracle=True)
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["class"] == "Dense"
    assert rec["config"] == json.loads(json.dumps(layer.get_config()))
    assert rec["input_shape"] == [2, 4] and rec["input_dtype"] == "float32"
    assert rec["call_kwargs"] == {} and rec["keras_name"] is None


def test_timing_of_recorded_cases(tmp_path):
    pytest.importorskip("keras")
    path = tmp_path / "rec.jsonl"
    with open(path, "w") as f:
        for layer, shape in ((trine.layers.Dense(3), [2, 4]),
                             (trine.layers.LayerNormalization(), [2, 5, 4])):
            f.write(json.dumps({"class": type(layer).__name__, "keras_name": None,
                                "config": layer.get_config(), "input_shape": shape,
                                "input_dtype": "float32", "call_kwargs": {}}) + "\n")
    bench = _bench()
    cases = bench.load_cases(str(path))
    assert [c["class"] for c in cases] == ["Dense", "LayerNormalization"]
    rows = bench.run(cases, n=8, batch=4, rounds=1, out=lambda s: None)
    # Dense at (4,); LayerNormalization at (5, 4) and the larger (20, 4)
    assert [(r["layer"], r["shape"]) for r in rows] == [
        ("Dense", "(4,)"), ("LayerNormalization", "(5, 4)"), ("LayerNormalization", "(20, 4)")]
    for r in rows:
        assert r["error"] is None
        assert isinstance(r["trine_s"], float) and r["trine_s"] > 0
        assert isinstance(r["keras_s"], float) and r["keras_s"] > 0
        assert r["agree"] is True
