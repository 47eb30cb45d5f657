"""Keras's saving guides run on trine with only the import changed (see tests/guides/)."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_guide(name, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "src"))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "guides", name)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


def test_customizing_saving_guide(tmp_path):
    out = run_guide("customizing_saving.py", tmp_path)
    for part in ("1 ok", "2 ok", "3 ok", "4 ok"):
        assert part in out


def test_serialization_and_saving_guide(tmp_path):
    out = run_guide("serialization_and_saving.py", tmp_path)
    for part in ("saving ok", "registered ok", "custom_objects ok", "scope ok",
                 "serialization ok", "weights ok", "custom objects ok"):
        assert part in out
