"""The layer conformance harness: one function every layer's tests call.

`check_layer(make, input_shape)` proves, for a layer built by `make()`:
1. eager output shape == the symbolic (Functional) output shape, batch axis aside;
2. config round trip: `from_config(get_config())` rebuilds an equal config, and with the same
   weights gives the same outputs;
3. jit equals eager: `Model.stateless_call` under `jax.jit` reproduces the eager outputs;
4. gradients with respect to the weights (and float inputs) are finite;
5. weights survive `get_weights` / `set_weights` (and `save_weights` / `load_weights` once the
   saving module is present);
6. optionally, Keras 3 (JAX backend) built from the same config with the same weights gives
   the same outputs (tolerance `keras_atol`), where Keras is installed;
7. mixed precision: made under the "mixed_bfloat16" global policy, the layer keeps float32
   variables, computes in bfloat16 (floating outputs are bfloat16) and with the same weights
   matches the float32 outputs to bfloat16 accuracy (`check_mixed=False` opts out, with the
   reason said at the call).
"""
from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

import trine


def _make_input(input_shape, dtype, seed, low=None, high=None):
    rng = np.random.default_rng(seed)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(low or 0, high or 10, size=input_shape).astype(dtype)
    return rng.normal(size=input_shape).astype(dtype)


def _structure_inputs(input_shape, dtype, seed, input_data):
    if input_data is not None:
        return input_data
    if isinstance(input_shape, list):
        return [_make_input(s, dtype, seed + i) for i, s in enumerate(input_shape)]
    return _make_input(input_shape, dtype, seed)


def _sym(input_shape, dtype):
    if isinstance(input_shape, list):
        return [trine.Input(batch_shape=(None,) + tuple(s[1:]), dtype=dtype) for s in input_shape]
    return trine.Input(batch_shape=(None,) + tuple(input_shape[1:]), dtype=dtype)


def _leaves(x):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(x)]


def check_layer(make, input_shape, *, input_dtype="float32", input_data=None, call_kwargs=None,
                expected_output_shape=None, check_grads=True, rtol=1e-5, atol=1e-5,
                keras_oracle=False, keras_atol=1e-5, keras_name=None, training=False,
                check_jit=True, seed=0, check_mixed=True, mixed_tol=5e-2):
    """Run the conformance checks for one layer; returns the layer it built."""
    call_kwargs = dict(call_kwargs or {})
    x = _structure_inputs(input_shape, input_dtype, seed, input_data)
    layer = make()
    eager = layer(x, **call_kwargs) if not training else layer(x, training=True, **call_kwargs)
    out = _leaves(eager)
    # 1. symbolic shape agrees with the eager one
    sym_in = _sym(input_shape, input_dtype)
    layer_sym = make()
    sym_out = layer_sym(sym_in, **call_kwargs)
    for o, s in zip(out, jax.tree_util.tree_leaves(sym_out, is_leaf=lambda t: hasattr(t, "_keras_history"))):
        assert tuple(s.shape)[1:] == tuple(o.shape)[1:], (s.shape, o.shape)
        assert s.shape[0] in (None, o.shape[0])
    if expected_output_shape is not None:
        assert tuple(out[0].shape) == tuple(expected_output_shape), (out[0].shape, expected_output_shape)
    for o in out:
        if np.issubdtype(o.dtype, np.floating):
            assert np.all(np.isfinite(o)), "non-finite output"
    # 2. config round trip
    cfg = layer.get_config()
    clone = type(layer).from_config(cfg)
    assert clone.get_config() == cfg
    clone(x, **call_kwargs)
    clone.set_weights(layer.get_weights())
    if not training:
        for a, b in zip(out, _leaves(clone(x, **call_kwargs))):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    # 5. weights round trip
    w = layer.get_weights()
    layer.set_weights([np.asarray(a) for a in w])
    for a, b in zip(w, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    # 3. jit equals eager, through a Functional model's pure seam
    inp = _sym(input_shape, input_dtype)
    model = trine.Model(inp, layer(inp, **call_kwargs))
    params, state = model.get_params(), model.get_state()
    if check_jit:
        fn = jax.jit(lambda p, s, x: model.stateless_call(p, s, x, training=training,
                                                          rng=jax.random.key(0))[0])
        jitted = _leaves(fn(params, state, x))
        if not training:
            ref = _leaves(model(x))
            for a, b in zip(ref, jitted):
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
        else:
            again = _leaves(fn(params, state, x))
            for a, b in zip(jitted, again):
                np.testing.assert_array_equal(a, b)
    # 4. finite gradients
    if check_grads and params:
        def loss(p):
            y, _ = model.stateless_call(p, state, x, training=training, rng=jax.random.key(0))
            return sum(jnp.sum(jnp.asarray(l, jnp.float32) ** 2) for l in jax.tree_util.tree_leaves(y)
                       if jnp.issubdtype(jnp.asarray(l).dtype, jnp.floating))
        grads = jax.grad(loss)(params)
        for k, g in grads.items():
            assert np.all(np.isfinite(np.asarray(g))), f"non-finite gradient for {k}"
    # 7. mixed precision
    if check_mixed and not training:
        _check_mixed(make, x, call_kwargs, layer, out, mixed_tol)
    # 6. Keras oracle
    if keras_oracle and not training:
        try:
            os.environ.setdefault("KERAS_BACKEND", "jax")
            import keras
        except ImportError:
            return layer
        kcls = getattr(keras.layers, keras_name or type(layer).__name__)
        kcfg = {k: v for k, v in cfg.items() if k not in ("batch_input_shape",)}
        klayer = kcls.from_config(kcfg)
        kout = klayer(x, **call_kwargs)
        klayer.set_weights(layer.get_weights())
        kout = [np.asarray(a) for a in jax.tree_util.tree_leaves(klayer(x, **call_kwargs))]
        for a, b in zip(out, kout):
            np.testing.assert_allclose(a, b, rtol=keras_atol, atol=keras_atol)
        if os.environ.get("TRINE_HARNESS_RECORD"):
            _record(os.environ["TRINE_HARNESS_RECORD"], layer, keras_name, cfg, x, call_kwargs)
    return layer


def _record(path, layer, keras_name, cfg, x, call_kwargs):
    # bench/layer_predict_harness.py times every layer both systems build, from these lines
    xs = x if isinstance(x, (list, tuple)) else [x]
    shapes = [list(np.shape(a)) for a in xs]
    dtypes = [str(np.asarray(a).dtype) for a in xs]
    multi = isinstance(x, (list, tuple))
    rec = {"class": type(layer).__name__, "keras_name": keras_name, "config": cfg,
           "input_shape": shapes if multi else shapes[0],
           "input_dtype": dtypes if multi else dtypes[0], "call_kwargs": call_kwargs}
    try:
        line = json.dumps(rec, sort_keys=True)
    except (TypeError, ValueError):
        return  # a config or call_kwargs JSON cannot hold: not recorded
    with open(path, "a") as f:
        f.write(line + "\n")


def _check_mixed(make, x, call_kwargs, layer, out, tol):
    from trine import mixed_precision as mp
    prev = mp.global_policy()
    mp.set_global_policy("mixed_bfloat16")
    try:
        lm = make()
    finally:
        mp.set_global_policy(prev)
    assert lm.compute_dtype == "bfloat16" and lm.variable_dtype == "float32"
    lm(x, **call_kwargs)
    lm.set_weights(layer.get_weights())
    for w in lm.weights:
        if np.issubdtype(np.dtype(w.dtype), np.floating):
            assert np.dtype(w.dtype) == np.float32, (w.path, w.dtype)
    mixed = _leaves(lm(x, **call_kwargs))
    for a, b in zip(out, mixed):
        if np.issubdtype(a.dtype, np.floating):
            assert b.dtype == jnp.bfloat16, f"mixed-precision output dtype {b.dtype}"
            b = np.asarray(b, np.float32)
            scale = max(1.0, float(np.max(np.abs(a))) if a.size else 1.0)
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)
