"""The benchmark's "where the time goes" accounting: XLA's FLOP count for the reference step
agrees with the arithmetic done by hand, and the printed breakdown is computed from it."""
import os
import sys

import numpy as np
import optax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.__main__ import print_where  # noqa: E402
from bench.reference import Reference  # noqa: E402


def test_mlp_step_flops_match_the_matmuls():
    bs = 32
    ref = Reference("mlp", optax.sgd(0.01), bs)
    x = np.zeros((64, 28, 28), np.float32)
    y = np.zeros((64,), np.int32)
    flops = ref.step_flops(x, y)
    dims = [(784, 300), (300, 100), (100, 10)]
    forward = sum(2 * bs * a * b for a, b in dims)
    weight_grads = forward
    input_grads = sum(2 * bs * a * b for a, b in dims[1:])  # the data needs no gradient
    by_hand = forward + weight_grads + input_grads
    # the rest is elementwise work (bias, relu, softmax, loss, the update): a few percent
    assert by_hand <= flops <= 1.05 * by_hand, (flops, by_hand)


def test_where_the_time_goes_table(capsys):
    report = {"matmul_gflops": 50.0, "workloads": [
        {"workload": "W1", "batch_size": 32, "gflop_per_epoch": 100.0,
         "steady_epoch_s": {"trine fit": 4.0, "JAX jit step": 5.5, "JAX epoch scan": 3.5}},
        {"workload": "W4", "batch_size": 32, "steady_epoch_s": {"trine fit": 1.0}},
    ]}
    print_where(report)
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| W")]
    assert len(rows) == 1  # W4 has no reference, so no FLOP count and no row
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    # GFLOP, floor (100 / 50), scan, trine, rate (100 / 4) and share of 50, dispatch, trine - scan
    assert cells[1:] == ["100.0", "2.000", "3.500", "4.000", "25 (50%)", "2.000", "0.500"]


def test_no_rate_prints_nothing(capsys):
    print_where({"workloads": [{"workload": "W1", "batch_size": 32, "gflop_per_epoch": 1.0,
                                "steady_epoch_s": {"trine fit": 1.0}}]})
    assert capsys.readouterr().out == ""
