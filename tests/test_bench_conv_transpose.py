"""bench/conv_transpose.py: each row times XLA's and trine's input-dilated convolutions and
reports their agreement; the generator rows time trine and Keras on one model (run here at
toy sizes)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "bench") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "bench"))

import conv_transpose  # noqa: E402


def test_rows_compare_xla_and_trine(monkeypatch):
    monkeypatch.setattr(conv_transpose, "CASES", [
        ("transpose 3x3 /2", (2, 4, 5, 3), (3, 3), 2, (2, 2), "transpose"),
        ("transpose 2x2x2 /2 3-D", (2, 3, 2, 3, 2), (2, 2, 2), 2, (2, 2, 2), "transpose"),
        ("strided conv 3x3x3 /2 3-D", (2, 5, 4, 5, 2), (3, 3, 3), 3, (2, 2, 2), "strided")])
    lines = []
    rows = conv_transpose.run(1, log=lines.append)
    assert [r["case"] for r in rows] == [c[0] for c in conv_transpose.CASES]
    for r in rows:
        assert r["max_relative_error"] < 1e-5
        assert all(v > 0 for v in r["ms"].values())
    assert lines[1].startswith("| transpose 2x2x2 /2 3-D | 2x3x2x3x2 | ")


def test_generator_rows_time_both_systems():
    seconds = conv_transpose.model_rows(1, True, samples=256, log=lambda s: None)
    assert set(seconds) == {f"{s} {part}" for s in ("trine", "Keras 3")
                            for part in ("fit", "predict", "first fit + predict")}
    assert all(v > 0 for v in seconds.values())
