"""bench/conv_grouped.py: each row times XLA's and trine's forms of the same convolution and
reports their agreement and gradient memory (run here at toy sizes)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "bench") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "bench"))

import conv_grouped  # noqa: E402


def test_rows_compare_xla_and_trine(monkeypatch):
    monkeypatch.setattr(conv_grouped, "CASES", [
        ("depthwise 3x3", (2, 6, 6, 4), (3, 3), 1, 8, 4),
        ("2 groups 3x3", (2, 6, 6, 4), (3, 3), 2, 4, 2),
        ("1x1 4->3", (2, 5, 5, 4), (1, 1), 4, 3, 1)])
    lines = []
    rows = conv_grouped.run(1, log=lines.append)
    assert [r["case"] for r in rows] == ["depthwise 3x3", "2 groups 3x3", "1x1 4->3"]
    for r in rows:
        assert r["max_relative_error"] < 1e-5
        assert set(r["ms"]) == {"XLA forward", "XLA gradients", "trine forward",
                                "trine gradients"}
        assert all(v > 0 for v in r["ms"].values())
    assert lines[0].startswith("| depthwise 3x3 | 2x6x6x4 | ")
