"""The opt-in persistent compilation cache: a second process loads fit's programs."""
import os
import subprocess
import sys

import pytest

import trine

SCRIPT = r"""
import numpy as np
from jax import monitoring
hits = []
monitoring.register_event_listener(
    lambda e, **k: hits.append(e) if e == "/jax/compilation_cache/cache_hits" else None)
import trine
x = np.random.default_rng(0).random((256, 8), dtype=np.float32)
y = np.random.default_rng(1).integers(0, 3, 256).astype(np.int32)
trine.utils.set_random_seed(0)
m = trine.Sequential([trine.Input((8,)), trine.layers.Dense(16, activation="relu"),
                      trine.layers.Dense(3, activation="softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
h = m.fit(x, y, batch_size=32, epochs=2, verbose=0)
print(len(hits), repr(h.history["loss"]))
"""


def _run(env):
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    hits, losses = out.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(hits), losses


def test_second_process_loads_compiled_programs(tmp_path):
    env = dict(os.environ, TRINE_COMPILATION_CACHE=str(tmp_path / "xla"))
    _, first = _run(env)
    assert os.listdir(tmp_path / "xla")  # programs were written
    hits, second = _run(env)
    assert hits > 0
    assert second == first  # same programs, same results


def test_enable_compilation_cache_arguments(tmp_path):
    with pytest.raises(ValueError, match="min_compile_time_secs"):
        trine.backend.enable_compilation_cache(tmp_path, min_compile_time_secs=-1)
    # enabling changes process-wide JAX state: check it in a process of its own
    code = ("import jax, trine; d = trine.backend.enable_compilation_cache(%r, 0.5); "
            "print(d, jax.config.jax_compilation_cache_dir, "
            "jax.config.jax_persistent_cache_min_compile_time_secs)" % str(tmp_path / "c"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    d, configured, min_time = out.stdout.split()
    assert d == configured == str(tmp_path / "c") and os.path.isdir(d)
    assert float(min_time) == 0.5
