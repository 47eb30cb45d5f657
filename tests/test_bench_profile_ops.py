"""bench/profile_ops.py sorts a compiled program's operations into categories by what each
fused operation holds (checked on a real optimized program, not a hand-written one)."""
import importlib.util
import pathlib
import re

import jax
import jax.numpy as jnp
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("profile_ops", ROOT / "bench" / "profile_ops.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="names XLA's CPU fusions")
def test_operations_are_sorted_by_what_they_hold():
    def f(x, k):
        y = jax.lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.transpose(jnp.tanh(y), (3, 1, 2, 0)), jnp.sum(y * y, axis=(0, 1, 2))

    x, k = jnp.ones((8, 16, 16, 4)), jnp.ones((3, 3, 4, 8))
    hlo = jax.jit(f).lower(x, k).compile().as_text()
    entry = hlo[hlo.index("ENTRY"):]
    names = re.findall(r"%([\w.\-]+) = \S+ (?:fusion|convolution|dot|transpose)\(", entry)
    assert names
    times = {n: 10.0 for n in names}
    by_category, rows = _bench().classify(hlo, times)
    assert sum(n for _, n in by_category.values()) == len(names)
    assert sum(t for t, _ in by_category.values()) == 10.0 * len(names)
    assert any(c.startswith("library: convolution") for c in by_category), by_category
    assert any(c.startswith("loop: ") for c in by_category), by_category
    assert len(rows) == len(names) and all(t == 10.0 for t, _ in rows)


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="names XLA's CPU fusions")
def test_a_backward_pass_is_not_counted_as_transposes():
    # its fusions carry op_name="...transpose(jvp(...))..." metadata, but hold no transpose
    grad = jax.jit(jax.grad(lambda x: jnp.sum(jnp.tanh(x) * x)))
    hlo = grad.lower(jnp.ones((64, 32))).compile().as_text()
    assert "transpose(jvp" in hlo
    entry = hlo[hlo.index("ENTRY"):]
    names = re.findall(r"%([\w.\-]+) = \S+ fusion\(", entry)
    assert names
    by_category, _ = _bench().classify(hlo, {n: 1.0 for n in names})
    assert "loop: transpose" not in by_category, by_category
