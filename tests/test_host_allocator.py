"""`TRINE_HOST_ALLOCATOR=reuse`: `import trine` keeps large host allocations mapped between XLA
executions (glibc only); without it glibc's settings stay."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not (hasattr(os, "confstr") and os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="the allocator settings are glibc's")

# Runs a jitted program whose intermediates are far over glibc's 32 MiB mmap threshold five
# times; prints the fewest minor page faults of a run after the first.
_PROBE = r"""
import json, resource
import trine
import jax, jax.numpy as jnp
from trine._util import host_allocator

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

@jax.jit
def step(x):
    y = jnp.sin(x) * 2.0          # 64 MiB intermediates
    return (jnp.cos(y) + y).sum()

x = jnp.ones((4096, 4096), jnp.float32)
xla = []
for _ in range(5):  # the last run's scratch may still be in use as the next one starts
    before = faults(); step(x).block_until_ready(); xla.append(faults() - before)
xla = min(xla[1:])
print(json.dumps({"applied": host_allocator.large_allocations_reused(), "xla": xla}))
"""


def _run(env_value):
    env = dict(os.environ)
    env.pop("TRINE_HOST_ALLOCATOR", None)
    if env_value is not None:
        env["TRINE_HOST_ALLOCATOR"] = env_value
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                         text=True, timeout=300, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_second_execution_reuses_mapped_memory():
    reused, system, default = _run("reuse"), _run("system"), _run(None)
    assert reused["applied"] is True and system["applied"] is False
    assert default["applied"] is False
    pages = 2 ** 26 // 4096  # one 64 MiB intermediate in 4 KiB pages
    # glibc's own behaviour: every large request is a fresh, zero-filled mapping
    assert system["xla"] > pages
    # trine's: the second run finds the first one's pages still mapped
    assert reused["xla"] < pages * 0.05


def test_the_settings_apply_once_and_report_it():
    from trine._util import host_allocator
    first = host_allocator.large_allocations_reused()
    assert host_allocator.reuse_large_allocations() is first
    assert host_allocator.large_allocations_reused() is first
