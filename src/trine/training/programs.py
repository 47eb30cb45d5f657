"""The compiled programs fit / evaluate / predict run: up to K steps in one jitted call,
gathering each batch from device-resident arrays ("gather") or from a stacked chunk of
batches ("stacked"), with per-step logs stacked for callbacks.

A program is cached per (kind, source, K, batch size, guard, loop form, distribution);
programs a pass needs later are compiled ahead on a worker thread, and models of the same
structure share compiled executables (`shared_programs`).
"""
from __future__ import annotations

import concurrent.futures

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import jaxpr_as_fun

from trine.core.layer import CallContext
from trine.core.random import global_seed
from trine.distribution import placement as _distribution
from trine.ops.cpu_dilated import runs_as_library_call
from trine.training.shared_programs import SharedProgram

_POOLS = {}


def worker_pool(name, workers):
    """A process-wide worker pool, made on first use: "compile" compiles programs a pass
    needs later (XLA drops the GIL), "prefetch" gathers the next host chunk (so does
    NumPy's take)."""
    if name not in _POOLS:
        _POOLS[name] = concurrent.futures.ThreadPoolExecutor(workers, f"trine-{name}")
    return _POOLS[name]


# XLA's CPU backend can run a convolution many times slower inside a loop body than as a
# program of its own: with one in a step, "auto" runs one step per call on the CPU. That holds
# only outside the runtime's library layout (`runs_in_library`): JAX's own transposes of a
# convolution (a W5 step fused 4 to a call: 42 s instead of 2.7 s), grouped or channels-first
# ones, 3-D input-dilated ones, as user code may write with `jax.lax`. trine's CPU
# convolutions and their gradients are in that layout or elementwise (`trine.ops.conv_gradients`,
# `cpu_grouped`, `cpu_dilated`; channels-first ones run channels-last), and fused they gain
# like dense models do (W3 37%, W5 12%; bench/README.md).


def runs_in_library(eqn) -> bool:
    """Whether a `conv_general_dilated` equation is in the layout XLA's CPU runtime runs as
    a library call in any loop body: batch-spatial-feature input and output,
    spatial-in-out kernel, no feature or batch groups, no 3-D input dilation."""
    numbers = eqn.params["dimension_numbers"]
    rank = len(numbers.lhs_spec) - 2
    channels_last = (0, rank + 1, *range(1, rank + 1))
    return (tuple(numbers.lhs_spec) == channels_last and tuple(numbers.out_spec) == channels_last
            and tuple(numbers.rhs_spec) == (rank + 1, rank, *range(rank))
            and eqn.params["feature_group_count"] == 1 and eqn.params["batch_group_count"] == 1
            and runs_as_library_call(rank, eqn.params["lhs_dilation"]))


def equations(jaxpr):
    """Every equation of `jaxpr` (a Jaxpr or ClosedJaxpr), those of nested jaxprs included."""
    for eqn in getattr(jaxpr, "jaxpr", jaxpr).eqns:
        yield eqn
        for value in eqn.params.values():
            for sub in (value if isinstance(value, (tuple, list)) else (value,)):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from equations(inner)


def slow_in_cpu_loops(jaxpr) -> set:
    """Names of the primitives in `jaxpr` (nested ones included) that XLA's CPU backend would
    run slowly in a loop body: `{"conv_general_dilated"}` or nothing."""
    return {eqn.primitive.name for eqn in equations(jaxpr)
            if eqn.primitive.name == "conv_general_dilated" and not runs_in_library(eqn)}


def jaxpr_primitives(jaxpr) -> set:
    """Names of all primitives in `jaxpr` (a Jaxpr or ClosedJaxpr), nested ones included."""
    return {eqn.primitive.name for eqn in equations(jaxpr)}


# evaluate / predict steps fold (pass seed, batch number in the pass) into this key
_EVAL_KEY = np.array([0x7E57, 0x5EED], np.uint32)


class _EvalSeeded:
    """An evaluate / predict runner called with two more arguments: a uint32 seed new with
    every pass (from the global seed and a per-model count of passes) and the number of the
    chunk's first batch in the pass (counted from the `n_steps` of earlier calls), so
    `trine.random` draws and `Layer.rng_key()` in those steps get a key per pass and batch:
    fresh noise every batch and every predict call, reproducible, and the same whatever
    `steps_per_execution` is. `trace` (to inspect, to compile ahead) passes placeholders."""

    def __init__(self, fn, model):
        self.fn, self.model = fn, model

    def __call__(self, *args):
        m = self.model
        seed, first = m._eval_pass
        m._eval_pass = (seed, first + int(args[-1]))
        return self.fn(*args, seed, np.int32(first))

    def __getattr__(self, name):  # `trace` only where the runner is jitted
        if name == "trace":
            inner = getattr(self.fn, "trace")
            return lambda *args: inner(*args, np.uint32(0), np.int32(0))
        if name == "compile_ahead":
            inner = getattr(self.fn, "compile_ahead")
            return lambda pool, *args: inner(pool, *args, np.uint32(0), np.int32(0))
        raise AttributeError(name)


def batch_spec(source, data, bs):
    """Shapes and dtypes of one batch of a runner's data argument (nothing computed)."""
    if source == "gather":
        return jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((bs,) + tuple(a.shape[1:]), a.dtype), data)
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(tuple(a.shape[1:]), a.dtype),
                                  data)


def step_signature(carry, batch):
    """What a step's traced shapes depend on: the structure and types of its arguments."""
    leaves, tree = jax.tree_util.tree_flatten((carry, batch))
    return tree, tuple(jax.typeof(l) if not isinstance(l, jax.ShapeDtypeStruct)
                       else jax.core.ShapedArray(l.shape, l.dtype) for l in leaves)


class CompiledPrograms:
    """Mixin of `Trainer`: the jitted runners and their cache (`_trainer_cache`)."""

    def _runner(self, kind, source, K, bs, guard=False):
        """A jitted function running up to K steps of `kind` ('train'/'test'/'predict')."""
        key = (kind, source, K, bs, guard, self._policy.static_loops, _distribution.cache_token())
        pending = self._compiling.pop(key, None)
        if pending is not None:
            pending.result()  # compiled ahead on a worker thread: the call will find it
        fn = self._trainer_cache.get(key)
        if fn is not None:
            return fn
        step = _distribution.wrap_step(self, self._wrapped_step(kind, guard), kind)

        static = self._policy.static_loops
        replayable = _distribution.cache_token() is None and not self._run_eagerly

        def loop(carry, get_batch, n_steps, seed=()):
            self.trace_counts[kind] += 1
            if seed:  # evaluate / predict: random draws get a key per pass and batch
                base = jax.random.fold_in(jax.random.wrap_key_data(_EVAL_KEY), seed[0])

                def run_step(c, batch, i):
                    with CallContext(rng=jax.random.fold_in(base, seed[1] + i)):
                        return step(c, batch)
            else:
                def run_step(c, batch, i):
                    traced = replayable and self._traced_steps.get(
                        (guard, global_seed(), step_signature(c, batch)))
                    if not traced:
                        return step(c, batch)
                    jaxpr, out_tree = traced  # the step as `_slow_primitives` traced it
                    out = jaxpr_as_fun(jaxpr)(*jax.tree_util.tree_leaves((c, batch)))
                    return jax.tree_util.tree_unflatten(out_tree, out)
            if K == 1:
                carry, logs = run_step(carry, get_batch(0), 0)
                return carry, jax.tree_util.tree_map(lambda l: l[None], logs)
            if static:  # always K steps (n_steps == K): a loop XLA knows the length of
                return jax.lax.scan(lambda c, i: run_step(c, get_batch(i), i), carry,
                                    jnp.arange(K, dtype=jnp.int32))
            log_spec = self._log_specs.get(step_signature(carry, get_batch(0)))
            if log_spec is None:
                _, log_spec = jax.eval_shape(lambda c, b: run_step(c, b, 0), carry,
                                             get_batch(0))
            buf = jax.tree_util.tree_map(lambda s: jnp.zeros((K,) + s.shape, s.dtype), log_spec)

            def body(i, c):
                carry, buf = c
                carry, logs = run_step(carry, get_batch(i), i)
                buf = jax.tree_util.tree_map(lambda b, l: b.at[i].set(l), buf, logs)
                return carry, buf

            return jax.lax.fori_loop(0, n_steps, body, (carry, buf))

        if source == "gather":
            def run(carry, data, perm, start_row, n_steps, *seed):
                def get(i):
                    idx = jax.lax.dynamic_slice_in_dim(perm, start_row + i * bs, bs)
                    return jax.tree_util.tree_map(lambda a: jnp.take(a, idx, axis=0), data)
                return loop(carry, get, n_steps, seed)
        else:
            def run(carry, batches, n_steps, *seed):
                def get(i):
                    if K == 1:
                        return jax.tree_util.tree_map(lambda a: a[0], batches)
                    # rows i*bs.. of the flattened chunk, as a gather: XLA's CPU backend
                    # runs W2 about 20% faster per step this way than with a dynamic slice
                    return jax.tree_util.tree_map(lambda a: jnp.take(
                        a.reshape((-1,) + a.shape[2:]), i * a.shape[1] + jnp.arange(a.shape[1]),
                        axis=0), batches)
                return loop(carry, get, n_steps, seed)

        run = _distribution.wrap_run(self, run, kind)
        donate = kind == "train" and self._policy.donate_state
        if self._run_eagerly:
            fn = run
        elif _distribution.cache_token() is None:
            fn = SharedProgram(run, donate_first=donate)
        else:  # a distribution places the arguments itself: its programs stay per model
            fn = jax.jit(run, donate_argnums=(0,) if donate else ())
        if kind != "train":
            fn = _EvalSeeded(fn, self)
        self._trainer_cache[("traceable",) + key] = fn
        fn = _distribution.wrap_runner(self, fn, kind, source)
        self._trainer_cache[key] = fn
        return fn

    def _traceable_step(self, kind, guard):
        """The wrapped step as the runner calls it, to trace alone: evaluate / predict steps
        under a key for random draws."""
        step = self._wrapped_step(kind, guard)
        if kind == "train":
            return step
        key = jax.random.wrap_key_data(_EVAL_KEY)

        def keyed(c, batch):
            with CallContext(rng=key):
                return step(c, batch)
        return keyed

    def _slow_primitives(self, kind, source, k, bs, guard, args):
        """The primitives of one step, traced alone, that XLA's CPU backend runs slowly in a
        loop (`slow_in_cpu_loops`). The runner then
        replays a train step's trace and takes the logs' shapes from it, so a step is traced
        once whichever program runs it (tracing the fused program here, as before, traced
        the step twice, and a third time where one step per call was chosen). Under a
        distribution the fused program is traced (its step needs the runner's placement)."""
        if _distribution.cache_token() is not None:
            fn = self._traceable(kind, source, k, bs, guard)
            return slow_in_cpu_loops(fn.trace(*args).jaxpr)
        step = self._traceable_step(kind, guard)
        carry, batch = args[0], batch_spec(source, args[1], bs)
        jaxpr, shapes = jax.make_jaxpr(step, return_shape=True)(carry, batch)
        signature = step_signature(carry, batch)
        self._log_specs[signature] = shapes[1]
        if kind == "train" and not self._run_eagerly:
            # the runner replays this jaxpr instead of tracing the step again (W5: 0.7 s);
            # keyed by the global seed, whose dropout key the jaxpr holds. Evaluate /
            # predict steps trace under a per-pass key, so they are traced anew.
            self._traced_steps[(guard, global_seed(), signature)] = (
                jaxpr, jax.tree_util.tree_structure(shapes))
        return slow_in_cpu_loops(jaxpr)

    def _step_log_bytes(self, kind, source, bs, guard, carry, data):
        """Bytes of one step's logs (a predict step's are its outputs), from the step's
        shapes: those `_slow_primitives` recorded, else traced here (and kept for the
        runner, which reads the same shapes when it is traced)."""
        batch = batch_spec(source, data, bs)
        signature = step_signature(carry, batch)
        spec = self._log_specs.get(signature)
        if spec is None:
            step = self._traceable_step(kind, guard)
            spec = self._log_specs[signature] = jax.eval_shape(step, carry, batch)[1]
        return sum(int(np.prod(s.shape)) * np.dtype(s.dtype).itemsize
                   for s in jax.tree_util.tree_leaves(spec))

    def _compile_ahead(self, kind, source, K, bs, guard, args):
        """Start compiling a program this pass needs later (the last partial chunk, the
        shorter last batch) on a worker thread, while this thread compiles and runs the
        first chunks: first epochs are mostly compiles, and XLA compiles in parallel.
        Tracing stays on this thread. Skipped under a distribution (its runner places the
        arguments first) and when running eagerly."""
        if self._run_eagerly or _distribution.cache_token() is not None:
            return
        key = (kind, source, K, bs, guard, self._policy.static_loops, None)
        sig = (key, tuple((np.shape(a), str(getattr(a, "dtype", type(a))))
                          for a in jax.tree_util.tree_leaves(args)))
        if sig in self._ahead or key in self._compiling:
            return
        self._ahead.add(sig)
        fn = self._traceable(kind, source, K, bs, guard)
        self._compiling[key] = fn.compile_ahead(worker_pool("compile", 2), *args)

    def _traceable(self, kind, source, K, bs, guard):
        """The jitted function inside the runner for these arguments (built if needed): the
        one `.trace()` / `.lower()` work on, before a distribution's argument placement."""
        self._runner(kind, source, K, bs, guard)
        return self._trainer_cache[("traceable", kind, source, K, bs, guard,
                                    self._policy.static_loops, _distribution.cache_token())]

    def _new_eval_pass(self):
        """Start numbering evaluate / predict batches afresh, under a new pass seed."""
        self._eval_passes = getattr(self, "_eval_passes", 0) + 1
        self._eval_pass = (np.uint32((global_seed() * 0x9E3779B1 + self._eval_passes) % 2 ** 32),
                           0)
