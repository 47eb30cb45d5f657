"""W3's training step in hand-written JAX, with each CPU convolution/pooling formulation that
was tried, in fresh processes: where XLA's CPU convolution loses and what each attempt gives.

    python bench/conv_cpu.py                 # every variant, seconds per 10,000 images
    python bench/conv_cpu.py xla patches     # some of them

Variants (conv / max-pool gradient):
  xla           XLA convolution, reduce_window (what plain JAX code gets)
  nchw          the same in NCHW layout
  flag-*        `xla` under one of XLA's CPU library flags (XNNPACK, YNNPACK, oneDNN)
  concat        patches by concatenating slices, differentiated by JAX; reduce_window
  concat+rs     the same with pooling as reshape + max, differentiated by JAX
  xla+rs        XLA convolution, reshape + max pooling
  patches       trine's CPU path: gathered patches x matrix with its own derivative rule, masked-copy
                max-pool gradient (`trine.ops.cpu_paths`)
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

FLAGS = {
    "flag-xnn": "--xla_cpu_experimental_xnn_fusion_type="
                "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT",
    "flag-ynn": "--xla_cpu_experimental_ynn_fusion_type="
                "LIBRARY_FUSION_TYPE_INDIVIDUAL_CONVOLUTION,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT",
    "flag-onednn": "--xla_cpu_use_onednn=true",
    "flag-xnn-graph": "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY",
}
VARIANTS = ["xla", "nchw", *FLAGS, "concat", "concat+rs", "xla+rs", "patches"]


def run_variant(variant, n_images=2560, batch=128):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(here, "src"))
    from trine.ops import cpu_paths as _cpu_paths

    def conv_xla(x, k):
        return _cpu_paths._xla_valid_conv(x, k, (1, 1), (1, 1))

    def conv_nchw(x, k):
        y = jax.lax.conv_general_dilated(jnp.transpose(x, (0, 3, 1, 2)), k, (1, 1), "VALID",
                                         dimension_numbers=("NCHW", "HWIO", "NCHW"))
        return jnp.transpose(y, (0, 2, 3, 1))

    def conv_concat(x, k):
        kh, kw, c, f = k.shape
        oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
        p = jnp.concatenate([x[:, i:i + oh, j:j + ow] for i in range(kh) for j in range(kw)], -1)
        return (p.reshape(-1, kh * kw * c) @ k.reshape(-1, f)).reshape(p.shape[:3] + (f,))

    def conv_patches(x, k):
        return _cpu_paths.conv_channels_last(x, k, (1, 1), ((0, 0), (0, 0)), (1, 1), conv_xla)

    def pool_rw(x):
        return _cpu_paths._reduce_window_max(x, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def pool_rs(x):
        n, h, w, c = x.shape
        x = x[:, :h // 2 * 2, :w // 2 * 2]
        return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))

    def pool_masked(x):
        return _cpu_paths.max_pool(x, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    base = variant.split("+")[0]
    conv = {"nchw": conv_nchw, "concat": conv_concat, "patches": conv_patches}.get(base, conv_xla)
    pool = pool_rs if variant.endswith("+rs") else (
        pool_masked if variant == "patches" else pool_rw)

    def model(p, x):
        h = pool(jax.nn.relu(conv(x, p["k1"]) + p["b1"]))
        h = pool(jax.nn.relu(conv(h, p["k2"]) + p["b2"]))
        return h.reshape(h.shape[0], -1) @ p["w"] + p["b"]

    ks = jax.random.split(jax.random.key(0), 3)
    params = {"k1": jax.random.normal(ks[0], (3, 3, 1, 32)) * 0.3, "b1": jnp.zeros(32),
              "k2": jax.random.normal(ks[1], (3, 3, 32, 64)) * 0.06, "b2": jnp.zeros(64),
              "w": jax.random.normal(ks[2], (1600, 10)) * 0.03, "b": jnp.zeros(10)}
    tx = optax.adam(1e-3)
    state = tx.init(params)

    def loss(p, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model(p, x), y).mean()

    @jax.jit
    def step(p, s, x, y):
        val, g = jax.value_and_grad(loss)(p, x, y)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, val

    rng = np.random.default_rng(0)
    xs = [jnp.asarray(rng.random((batch, 28, 28, 1), np.float32))
          for _ in range(n_images // batch)]
    ys = [jnp.asarray(rng.integers(0, 10, batch)) for _ in xs]
    params, state, val = step(params, state, xs[0], ys[0])
    val.block_until_ready()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for x, y in zip(xs, ys):
            params, state, val = step(params, state, x, y)
        val.block_until_ready()
        best = min(best, time.perf_counter() - t)
    return best * 10000 / (len(xs) * batch)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--one"]:
        print(f"{run_variant(argv[1]):.3f}")
        return
    for v in argv or VARIANTS:
        env = dict(os.environ)
        if v in FLAGS:
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + FLAGS[v]).strip()
        out = subprocess.run([sys.executable, __file__, "--one", v], env=env, check=True,
                             capture_output=True, text=True).stdout.split()[-1]
        print(f"{v:16s} {float(out):6.2f} s per 10,000 images", flush=True)


if __name__ == "__main__":
    main()
