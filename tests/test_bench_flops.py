"""bench/real_models.py counts a workload's FLOPs from the traced program: products and
convolutions, a scan body once per iteration (XLA's cost analysis counts it once)."""
import importlib.util
import pathlib
import sys

import jax
import jax.numpy as jnp

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _real_models():
    sys.path.insert(0, str(ROOT))
    try:
        spec = importlib.util.spec_from_file_location("bench_real_models",
                                                      ROOT / "bench" / "real_models.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ROOT))


def test_products_convolutions_and_scan_bodies_are_counted():
    count = _real_models()._product_flops
    a, b = jnp.ones((8, 16)), jnp.ones((16, 4))
    assert count(jax.make_jaxpr(jnp.matmul)(a, b).jaxpr) == 2 * 8 * 16 * 4

    def conv(x, k):
        return jax.lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
    x, k = jnp.ones((2, 5, 5, 3)), jnp.ones((3, 3, 3, 7))
    assert count(jax.make_jaxpr(conv)(x, k).jaxpr) == 2 * (2 * 5 * 5 * 7) * (3 * 3 * 3)

    def loop(xs, w):
        return jax.lax.scan(lambda c, x: (c, x @ w), 0.0, xs)[1]
    xs = jnp.ones((10, 8, 16))
    assert count(jax.make_jaxpr(jax.jit(loop))(xs, b).jaxpr) == 10 * 2 * 8 * 16 * 4
