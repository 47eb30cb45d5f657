"""The A1 (ResNet50) bench rows: the table prints each system's first and steady seconds and
divides trine's predict and train step by the same kind of row of each other system."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.applications import print_applications  # noqa: E402


def test_application_table_ratios(capsys):
    steady = {"trine predict": 2.0, "Keras 3 (JAX) predict": 4.0, "PyTorch eager predict": 1.0,
              "trine train step": 6.0, "Keras 3 (JAX) train step": 3.0}
    print_applications({"workloads": [
        {"workload": "W1", "steady_epoch_s": {"trine fit": 1.0}},
        {"workload": "A1", "model": "ResNet50", "batch_size": 32, "input": [224, 224, 3],
         "classes": 1000, "first_s": {k: 10.0 for k in steady}, "steady_s": steady}]})
    out = capsys.readouterr().out
    cells = [[c.strip() for c in ln.strip("|").split("|")]
             for ln in out.splitlines() if ln.startswith("| ")]
    rows = {c[0]: c[1:] for c in cells}
    assert rows["Keras 3 (JAX) predict"] == ["10.00", "4.00", "0.50"]
    assert rows["PyTorch eager predict"] == ["10.00", "1.00", "2.00"]
    assert rows["Keras 3 (JAX) train step"] == ["10.00", "3.00", "2.00"]
    assert "ResNet50 weights=None, batch 32 x 224x224x3, 1000 classes" in out
