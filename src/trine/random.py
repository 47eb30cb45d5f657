"""Random draws for layer and train-step code (Keras `keras.random`), on `jax.random`.

Every function takes `seed=`, as in Keras:

- a `SeedGenerator`: a new key per draw. Inside `fit`, `train_on_batch`, `evaluate`,
  `predict` and `stateless_call(..., rng=key)` the key comes from the step's key, the
  generator's index and the draw's number within the step, so a compiled step gets fresh
  noise every batch and the same seed gives the same run. Called eagerly, a generator
  advances a counter: `SeedGenerator(1337)` gives the same sequence as Keras's.
- an integer: the same draw every time (the key Keras makes of it, so numbers match Keras's).
- a JAX key, or a `[seed, counter]` pair of uint32 (what `SeedGenerator.next()` returns).
- None: a global generator, which works eagerly and inside trine's steps; inside a
  function you jit yourself, attach a `SeedGenerator` and pass a key through
  `stateless_call(..., rng=key)`.
"""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from trine.core import random as _core

_STREAM = 0x5EED  # keeps generator keys apart from the layers' own rng_key() stream
_names = itertools.count()


class SeedGenerator:
    """A source of random keys for `trine.random` functions (Keras `SeedGenerator`).

    Args:
        seed: an integer, or None to take one from the global seed
            (`trine.utils.set_random_seed`) the first time a key is drawn.
        name: a name for the generator.

    Example:
        >>> class Sampling(trine.layers.Layer):
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.seed_generator = trine.random.SeedGenerator(1337)
        ...     def call(self, inputs):
        ...         mean, log_var = inputs
        ...         eps = trine.random.normal(trine.ops.shape(mean), seed=self.seed_generator)
        ...         return mean + trine.ops.exp(0.5 * log_var) * eps
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and (isinstance(seed, bool)
                                 or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"SeedGenerator: seed must be an integer or None, received {seed!r} "
                            f"of type {type(seed).__name__}. Pass e.g. SeedGenerator(1337).")
        unknown = set(kwargs) - {"backend", "dtype"}
        if unknown:
            raise TypeError(f"SeedGenerator got unexpected arguments {sorted(unknown)}; it takes "
                            "seed and name.")
        self._seed = None if seed is None else int(seed) % (2 ** 32)
        self._gen = _core.LazySeed(self._seed)
        self.name = name or f"seed_generator_{next(_names)}"
        self._count = 0  # eager draws so far

    def __repr__(self):
        return f"<SeedGenerator name={self.name!r} seed={self._seed}>"

    def get_config(self):
        return {"seed": self._seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def next(self, ordered=True):
        """The next seed as a `[seed, counter]` uint32 pair (what Keras's returns); pass it
        as `seed=`, or use `key()` for a JAX key."""
        return jax.random.key_data(self.key())

    def key(self):
        """The next JAX key (see the module's docstring for where it comes from)."""
        from trine.core.layer import current_context
        ctx = current_context()
        if ctx is not None and ctx.rng is not None:
            root = _root_context(ctx)
            draws = root.__dict__.setdefault("_generator_draws", {})
            n = draws.get(id(self), 0)
            draws[id(self)] = n + 1
            seed, idx = self._gen.index
            key = jax.random.fold_in(ctx.rng, idx)
            if self._seed is not None:
                key = jax.random.fold_in(key, seed)
            return jax.random.fold_in(jax.random.fold_in(key, _STREAM), n)
        if _tracing():
            raise RuntimeError(
                f"{self.name}: a random draw inside a jitted function needs a key to derive "
                "its keys from, and none was given. Call the model with "
                "model.stateless_call(params, state, x, training=True, rng=jax.random.key(step)) "
                "inside your function (trine's fit, evaluate and predict do this for you).")
        n, self._count = self._count, self._count + 1
        if self._seed is not None:  # as Keras: the n-th draw uses the key [seed, n]
            return jax.random.wrap_key_data(np.array([self._seed, n], np.uint32))
        seed, idx = self._gen.index
        return _core.key_for(seed, idx, _STREAM, n)


def _root_context(ctx):
    """The outermost call context sharing `ctx`'s key: nested layer calls push their own
    contexts, but draws are numbered per step."""
    from trine.core.context import context_stack
    for c in context_stack():
        if c.rng is ctx.rng:
            return c
    return ctx


def _tracing():
    return isinstance(jnp.zeros(()), jax.core.Tracer)


_GLOBAL: tuple[int, SeedGenerator] | None = None


def _global_generator():
    """The generator behind `seed=None`; `set_random_seed` starts a new one."""
    global _GLOBAL
    if _GLOBAL is None or _GLOBAL[0] != _core.GENERATION:
        _GLOBAL = (_core.GENERATION, SeedGenerator(name="global_seed_generator"))
    return _GLOBAL[1]


def _key(seed, fn):
    if isinstance(seed, SeedGenerator):
        return seed.key()
    if seed is None:
        return _global_generator().key()
    if isinstance(seed, bool):
        raise TypeError(f"trine.random.{fn}: seed must be an integer, a SeedGenerator, a key or "
                        f"None, received {seed!r}.")
    if isinstance(seed, (int, np.integer)):
        return jax.random.wrap_key_data(np.array([int(seed) % (2 ** 32), 0], np.uint32))
    if isinstance(seed, jax.Array) and jnp.issubdtype(seed.dtype, jax.dtypes.prng_key):
        return seed
    try:
        data = jnp.asarray(seed)
    except TypeError:
        data = None
    if data is None or data.shape != (2,) or not jnp.issubdtype(data.dtype, jnp.integer):
        raise TypeError(
            f"trine.random.{fn}: seed must be an integer, a SeedGenerator, a JAX key or a "
            f"[seed, counter] pair of integers, received {type(seed).__name__}"
            + (f" of shape {tuple(data.shape)} and dtype {data.dtype}" if data is not None else "")
            + ". Attach a trine.random.SeedGenerator to your layer and pass it as seed=.")
    return jax.random.wrap_key_data(data.astype(jnp.uint32))


def _shape(shape, fn):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"trine.random.{fn}: shape must be a tuple of integers, received "
                        f"{shape!r}. Batch sizes unknown at graph-building time cannot be "
                        "used; draw inside a layer's call, where shapes are known.") from None
    if any(d < 0 for d in out):
        raise ValueError(f"trine.random.{fn}: shape must not have negative sizes, received "
                         f"{out}.")
    return out


def _float(dtype, fn):
    from trine.backend import floatx
    dt = jnp.dtype(dtype or floatx())
    if not jnp.issubdtype(dt, jnp.floating):
        raise ValueError(f"trine.random.{fn}: dtype must be a float type, received {dt}.")
    return dt


def _value(x):
    from trine.core.variable import Variable
    return x.value if isinstance(x, Variable) else x


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from N(mean, stddev²), of `shape`."""
    dt = _float(dtype, "normal")
    z = jax.random.normal(_key(seed, "normal"), _shape(shape, "normal"), dt)
    return z * jnp.asarray(stddev, dt) + jnp.asarray(mean, dt)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples from U[minval, maxval), of `shape`."""
    dt = _float(dtype, "uniform")
    return jax.random.uniform(_key(seed, "uniform"), _shape(shape, "uniform"), dt,
                              minval=jnp.asarray(minval, dt), maxval=jnp.asarray(maxval, dt))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from N(mean, stddev²) redrawn beyond two standard deviations."""
    dt = _float(dtype, "truncated_normal")
    z = jax.random.truncated_normal(_key(seed, "truncated_normal"), -2.0, 2.0,
                                    _shape(shape, "truncated_normal"), dt)
    return z * jnp.asarray(stddev, dt) + jnp.asarray(mean, dt)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers from [minval, maxval), of `shape`."""
    dt = jnp.dtype(dtype)
    if not jnp.issubdtype(dt, jnp.integer):
        raise ValueError(f"trine.random.randint: dtype must be an integer type, received {dt}.")
    return jax.random.randint(_key(seed, "randint"), _shape(shape, "randint"), minval, maxval,
                              dt)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each entry with probability `rate` and scale the rest by 1 / (1 - rate)."""
    x = jnp.asarray(_value(inputs))
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"trine.random.dropout: rate must be in [0, 1), received {rate}.")
    shape = x.shape if noise_shape is None else tuple(
        x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep = jax.random.bernoulli(_key(seed, "dropout"), 1.0 - float(rate), shape)
    return jnp.where(keep, x / (1.0 - float(rate)), jnp.zeros((), x.dtype)).astype(x.dtype)


def shuffle(x, axis=0, seed=None):
    """`x` with its slices along `axis` in a random order."""
    return jax.random.permutation(_key(seed, "shuffle"), jnp.asarray(_value(x)), axis=axis,
                                  independent=False)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """`num_samples` class indices per row of 2-D `logits` (unnormalised log-probabilities):
    shape `(batch, num_samples)`."""
    logits = jnp.asarray(_value(logits))
    if logits.ndim != 2:
        raise ValueError("trine.random.categorical: logits must be 2-D (batch, classes), "
                         f"received shape {tuple(logits.shape)}.")
    out = jax.random.categorical(_key(seed, "categorical"), logits, axis=-1,
                                 shape=(int(num_samples), logits.shape[0]))
    return out.T.astype(dtype)


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples from Gamma(alpha, 1), of `shape`."""
    dt = _float(dtype, "gamma")
    return jax.random.gamma(_key(seed, "gamma"), jnp.asarray(alpha, dt), _shape(shape, "gamma"),
                            dt)


def beta(shape, alpha, beta, dtype=None, seed=None):  # noqa: A002 - Keras's argument name
    """Samples from Beta(alpha, beta), of `shape`."""
    dt = _float(dtype, "beta")
    return jax.random.beta(_key(seed, "beta"), jnp.asarray(alpha, dt), jnp.asarray(beta, dt),
                           _shape(shape, "beta"), dt)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Samples from Binomial(counts, probabilities), of `shape` (as floats, like Keras)."""
    dt = _float(dtype, "binomial")
    return jax.random.binomial(_key(seed, "binomial"), jnp.asarray(counts, dt),
                               jnp.asarray(probabilities, dt), _shape(shape, "binomial"), dt)


__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal",
           "randint", "shuffle", "truncated_normal", "uniform"]
