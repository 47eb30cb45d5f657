"""The loader under mutation: valid and hostile archives mutated in their function names,
class names, node arguments and sizes, loaded in a subprocess under the audit-hook tripwire of
tests/audit_loader.py. Every case must load or raise trine's SavingError family: no other
exception, no audited event (no code run, no file touched), no crash of the interpreter (the
process exits 0) and no hang (a time limit on the process; per-case times are reported)."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def fuzz(cases, seed, timeout):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.path.join(HERE, "..", "src")]))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "fuzz_loader.py"), str(cases),
                           str(seed)], capture_output=True, text=True, timeout=timeout, env=env)
    last_case = (proc.stderr.strip().splitlines() or ["none"])[-1]
    assert proc.returncode == 0, (f"the loader crashed (exit {proc.returncode}) at {last_case}:"
                                  f"\n{proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n_escaped"] == 0, summary["escaped"]
    assert summary["n_audited"] == 0, summary["audited"]
    assert sum(summary["outcomes"].values()) >= cases * 0.95
    assert summary["slowest_s"] < 10, summary  # a near-hang on one file
    return summary


def test_fuzzed_loads_stay_inside_the_library_errors():
    outcomes = fuzz(400, 20261206, timeout=300)["outcomes"]
    assert outcomes.get("UnsafeFileError", 0) > 0 and outcomes.get("SavingError", 0) > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_fuzzed_loads_ten_thousand_cases(seed):
    fuzz(10_000, seed, timeout=1800)
