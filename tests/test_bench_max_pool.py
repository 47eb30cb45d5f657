"""bench/max_pool.py: each row times XLA's and trine's max pool and its gradient, and
reports whether the gradients are bit-identical (run here at toy sizes)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "bench") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "bench"))

import max_pool  # noqa: E402


def test_rows_compare_xla_and_trine(monkeypatch):
    monkeypatch.setattr(max_pool, "CASES", [
        ("3x3 /2", (2, 9, 9, 3), 3, 2, "SAME"), ("2x2 /2", (2, 8, 8, 3), 2, 2, "VALID")])
    lines = []
    rows = max_pool.run(1, log=lines.append)
    assert [r["case"] for r in rows] == ["3x3 /2", "2x2 /2"]
    assert all(r["gradients_equal"] for r in rows)
    assert all(v > 0 for r in rows for v in r["ms"].values())
    assert lines[0].startswith("| 3x3 /2 | 2x9x9x3 | ")
