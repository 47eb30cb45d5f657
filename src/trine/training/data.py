"""Turn what users pass to fit / evaluate / predict into batches.

Two sources:
- `ArrayData`: NumPy / JAX arrays (or lists / dicts of them). When they fit in the device
  budget they are put on the device once and batches are gathered inside the fused program;
  otherwise chunks of batches are gathered on the host and sent ahead (double buffering).
- `IterableData`: a Python iterable / generator of `(x, y)` or `(x, y, sample_weight)` batches.
"""
from __future__ import annotations

import functools
import math

import jax
import numpy as np

from trine import config

_ACCELERATOR_BUDGET = 2 * 1024**3


def set_device_data_budget(nbytes) -> None:
    """Largest data set (bytes) that fit puts on the device whole; larger ones stream.

    None (the default, or the TRINE_DEVICE_DATA_BUDGET environment variable when set)
    chooses by backend: 2 GiB on accelerators and in multi-process runs; on a single-process
    CPU, where the "device" is host memory and a resident copy would double the data's
    footprint, only arrays the CPU device can use in place (JAX arrays, 64-byte aligned NumPy
    arrays) stay resident and others stream. Sets `trine.config`'s execution policy.
    """
    try:
        config.set_execution_policy(device_data_budget=nbytes)
    except ValueError:
        raise ValueError(f"set_device_data_budget expected bytes >= 0 or None, received "
                         f"{nbytes!r}.") from None


def device_data_budget():
    """The budget in bytes, or None for the backend's default rule."""
    return config.resolved_execution_policy().device_data_budget


def _usable_in_place(a) -> bool:
    """Whether the CPU device can use `a` without a copy."""
    if isinstance(a, jax.Array):
        return True
    return (isinstance(a, np.ndarray) and a.flags.c_contiguous and a.ctypes.data % 64 == 0
            and a.dtype in (np.float32, np.int32, np.uint8, np.int8, np.bool_, np.float16,
                            np.uint32, np.int16, np.uint16))


def fits_on_device(arrays, nbytes) -> bool:
    budget = device_data_budget()
    if budget is not None:
        return nbytes <= budget
    if not config.on_accelerator() and jax.process_count() == 1:
        return all(_usable_in_place(a) for a in jax.tree_util.tree_leaves(arrays))
    # Several processes must all choose the same program (else their collectives mismatch),
    # so the choice rests on sizes, never on where each process's allocator put the arrays.
    return nbytes <= _ACCELERATOR_BUDGET


# An accelerator's copy of one large NumPy array runs at a fraction of the host link's rate
# (an H200: 188 MB in 28 ms, 7 GB/s); the same bytes as 16 row slices in one device_put call
# travel in parallel and arrive in 8 ms, joined on the device included (bench/transfer_probe.py,
# bench/results/gpu-h200-transfer.log). Slices of at least _SLICE_BYTES, at most _MAX_SLICES.
_SLICE_BYTES = 12 * 1024**2
_MAX_SLICES = 16


@functools.lru_cache(maxsize=None)
def _joiner():
    import jax.numpy as jnp
    return jax.jit(lambda parts: jnp.concatenate(parts))


def _draw_permutation(n, seed):
    return np.random.default_rng(list(seed)).permutation(n).astype(np.int32)


@functools.lru_cache(maxsize=None)
def _worker():
    import concurrent.futures
    return concurrent.futures.ThreadPoolExecutor(1, "trine-data")  # device copies, permutations


def put_on_device(tree, sliced=None):
    """`jax.device_put(tree)`, with large NumPy leaves sent as row slices in parallel and
    joined on the device: the same arrays, bit for bit. `sliced` defaults to the execution
    policy's sliced_copies (on accelerators: on the CPU a put is a host copy that slicing
    does not speed up)."""
    if not (config.resolved_execution_policy().sliced_copies if sliced is None else sliced):
        return jax.device_put(tree)
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    counts = [min(_MAX_SLICES, a.nbytes // _SLICE_BYTES)
              if isinstance(a, np.ndarray) and a.ndim and a.nbytes >= 2 * _SLICE_BYTES else 1
              for a in leaves]
    if max(counts, default=1) == 1:
        return jax.device_put(tree)
    pieces = [np.array_split(a, k) if k > 1 else [a] for a, k in zip(leaves, counts)]
    placed = jax.device_put(pieces)  # one call: the slices' copies overlap
    out = [_joiner()(p) if len(p) > 1 else p[0] for p in placed]
    return jax.tree_util.tree_unflatten(treedef, out)


def _is_array(a) -> bool:
    return isinstance(a, (np.ndarray, jax.Array)) or (
        hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "__array__"))


def standardize_array(a, what: str):
    """NumPy float64 -> float32, int64 -> int32, lists -> arrays (as JAX would)."""
    if isinstance(a, jax.Array):
        return a
    if hasattr(a, "values") and hasattr(a, "columns"):  # pandas DataFrame
        a = a.values
    a = np.asarray(a)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    elif a.dtype == np.int64:
        a = a.astype(np.int32)
    elif a.dtype == np.uint64:
        a = a.astype(np.uint32)
    elif a.dtype == object:
        raise TypeError(
            f"{what} has dtype object; trine needs numeric arrays. Convert with "
            "np.asarray(..., dtype=np.float32).")
    elif a.dtype.kind in "USa":  # Keras: "Invalid dtype: str32"; NumPy maths would fail later
        raise ValueError(
            f"{what} holds strings (dtype {a.dtype}); trine trains on numbers. Encode labels "
            f"as integers first, e.g. classes, {what.split('[')[0]}_int = np.unique({what}, "
            "return_inverse=True), or a StringLookup layer applied before fit.")
    if a.ndim == 0:
        raise ValueError(f"{what} must have a batch axis, received a scalar.")
    return a


def map_structure(fn, struct, prefix):
    if isinstance(struct, dict):
        return {k: map_structure(fn, v, f"{prefix}['{k}']") for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(map_structure(fn, v, f"{prefix}[{i}]") for i, v in enumerate(struct))
    return fn(struct, prefix)


def count_samples(struct, prefix: str) -> dict:
    out = {}

    def f(a, p):
        out[p] = int(a.shape[0])
        return a

    map_structure(f, struct, prefix)
    return out


def check_counts(x, y, sample_weight) -> int:
    counts = count_samples(x, "x")
    if y is not None:
        counts.update(count_samples(y, "y"))
    if sample_weight is not None:
        counts.update(count_samples(sample_weight, "sample_weight"))
    values = set(counts.values())
    if len(values) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        raise ValueError(
            f"Data cardinality is ambiguous: the arrays have different numbers of samples "
            f"({detail}). Make sure all arrays contain the same number of samples.")
    if not values:
        raise ValueError("x is empty: pass at least one array.")
    return values.pop()


def class_weight_to_sample_weight(y, class_weight: dict):
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:
        cls = np.argmax(y, axis=-1)
    else:
        cls = y.reshape(y.shape[0], -1)[:, 0].astype(np.int64)
    maxc = int(cls.max()) if cls.size else -1
    table = np.ones(max(maxc + 1, max(class_weight) + 1 if class_weight else 0), np.float32)
    for k, v in class_weight.items():
        if int(k) < 0:
            raise ValueError(f"class_weight keys must be class indices >= 0, received {k!r}.")
        table[int(k)] = float(v)
    return table[cls].astype(np.float32)


class ArrayData:
    """Arrays split into batches; `batch_size` rows each, the last batch possibly shorter."""

    kind = "arrays"

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False,
                 steps=None, with_weights=False):
        self.x = map_structure(standardize_array, x, "x")
        self.y = None if y is None else map_structure(standardize_array, y, "y")
        self.n = check_counts(self.x, self.y, sample_weight)
        if sample_weight is None and with_weights:
            sample_weight = np.ones((self.n,), np.float32)
        self.sw = None if sample_weight is None else map_structure(standardize_array, sample_weight,
                                                                   "sample_weight")
        if isinstance(self.sw, np.ndarray) and self.sw.dtype != np.float32:
            self.sw = self.sw.astype(np.float32)
        self.batch_size = int(batch_size)
        if self.batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}.")
        self.shuffle = shuffle
        self.full_steps = self.n // self.batch_size
        self.tail = self.n - self.full_steps * self.batch_size
        if steps is not None:
            steps = int(steps)
            if steps < 1:
                raise ValueError(f"steps must be >= 1, received {steps}.")
            if steps < self.full_steps + (1 if self.tail else 0):
                self.full_steps = min(self.full_steps, steps)
                self.tail = 0
        self.steps = self.full_steps + (1 if self.tail else 0)
        self.arrays = (self.x, self.y, self.sw)
        self.nbytes = sum(int(np.prod(a.shape)) * a.dtype.itemsize
                          for a in jax.tree_util.tree_leaves(self.arrays))
        self.on_device = fits_on_device(self.arrays, self.nbytes)
        self._device = None
        self._copying = None
        self._ahead = None

    def start_device_copy(self, background=None):
        """Begin putting the arrays on the device on a worker thread, so that the host work
        before the first step (building the train state, the epoch's permutation) runs
        while they travel; `device_arrays` waits for it. `background` defaults to the
        policy's sliced_copies (accelerators: on the CPU only arrays usable in place are
        resident, nothing travels)."""
        if background is None:
            background = config.resolved_execution_policy().sliced_copies
        if (background and self.on_device and self._device is None and self._copying is None
                and any(isinstance(a, np.ndarray) for a in jax.tree_util.tree_leaves(self.arrays))):
            self._copying = _worker().submit(put_on_device, self.arrays)

    def device_arrays(self):
        if self._device is None:
            copying, self._copying = self._copying, None
            self._device = copying.result() if copying is not None else put_on_device(self.arrays)
        return self._device

    def batch_nbytes(self) -> int:
        """Bytes of one full batch of x, y and sample weights."""
        return max(1, self.nbytes * self.batch_size // max(1, self.n))

    def chunk_spec(self, steps, size):
        """Shapes of a stacked host chunk of `steps` batches of `size` rows."""
        return jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((steps, size) + tuple(a.shape[1:]), a.dtype),
            self.arrays)

    def batch_spec(self, size=None):
        size = self.batch_size if size is None else size
        return jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((size,) + tuple(a.shape[1:]), a.dtype), self.arrays)

    def first_batch(self, size=None):
        size = min(self.n, self.batch_size if size is None else size)
        return jax.tree_util.tree_map(lambda a: a[:size], self.arrays)

    def permutation(self, seed):
        """The pass's sample order (NumPy int32): shuffled by a generator seeded with the
        integers `seed` when shuffling (identical in every process of a multi-process run),
        else 0..n-1. Drawn on the host: a JAX permutation costs a compile in the first epoch
        and comes back to the host anyway for streamed data."""
        if not self.shuffle:
            return np.arange(self.n, dtype=np.int32)
        seed = tuple(seed)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == seed:
            return ahead[1].result()
        return _draw_permutation(self.n, seed)

    def permutation_ahead(self, seed):
        """Draw the permutation for `seed` on a worker thread while the current epoch runs
        (1 ms for 60,000 samples: a tenth of a W1 epoch at batch 1024 on an H200);
        `permutation(seed)` then takes it. The numbers are those drawn directly."""
        if self.shuffle:
            seed = tuple(seed)
            self._ahead = (seed, _worker().submit(_draw_permutation, self.n, seed))

    def host_chunk(self, perm_np, start_step, n_steps, size=None, pad_to=None):
        """Gather `n_steps` batches starting at `start_step` into stacked host arrays with
        room for `pad_to` steps. The arrays are new and 64-byte aligned, so on the CPU
        `jax.device_put` uses them in place instead of copying them. The slots after
        `n_steps` are left unwritten: a chunk runs only its first `n_steps` iterations, and
        zeroing them cost more than the gather for short passes (63 empty batches of W1:
        6 MB written per predict call on one batch)."""
        size = self.batch_size if size is None else size
        lo = start_step * self.batch_size
        idx = perm_np[lo:lo + n_steps * size].reshape(n_steps, size)
        slots = max(n_steps, pad_to or 0)

        def gather(a):
            a = np.asarray(a)
            out = aligned_empty((slots, size) + a.shape[1:], a.dtype)
            np.take(a, idx, axis=0, out=out[:n_steps], mode="clip")  # "raise" buffers `out`
            return out

        return jax.tree_util.tree_map(gather, self.arrays)


def aligned_empty(shape, dtype, align=64):
    """An uninitialised C-contiguous array whose data starts on an `align`-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + align, np.uint8)
    offset = (-raw.ctypes.data) % align
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


class IterableData:
    """A Python iterable of batches: `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""

    kind = "iterable"

    def __init__(self, source, steps=None, with_targets=True):
        self.source = source
        self.steps = None if steps is None else int(steps)
        self._it = None
        self.with_targets = with_targets
        self.reiterable = not (iter(source) is source)
        self.exhausted = False

    def peek(self):
        """The first batch of a one-shot source, put back so the first epoch yields it too
        (a generator passed to fit on an unbuilt model builds it from that batch); None if
        the source is empty."""
        import itertools
        if self.reiterable:
            return next(iter(self.source), None)
        it = self._it if self._it is not None else iter(self.source)
        try:
            first = next(it)
        except StopIteration:
            self._it = it
            return None
        self._it = itertools.chain([first], it)
        return first

    def epoch_iterator(self):
        if self.reiterable:
            it = iter(self.source)
        else:
            if self._it is None:
                self._it = iter(self.source)
            it = self._it
        count = 0
        while self.steps is None or count < self.steps:
            try:
                item = next(it)
            except StopIteration:
                if not self.reiterable:
                    self.exhausted = True
                return
            count += 1
            yield self._unpack(item)

    def _unpack(self, item):
        if isinstance(item, tuple) and len(item) in (1, 2, 3) and not isinstance(item, np.ndarray):
            x = item[0]
            y = item[1] if len(item) > 1 else None
            sw = item[2] if len(item) > 2 else None
        else:
            x, y, sw = item, None, None
        x = map_structure(standardize_array, x, "x")
        y = None if y is None else map_structure(standardize_array, y, "y")
        n = check_counts(x, y, sw)
        if sw is not None:
            sw = np.asarray(sw, np.float32)
        return (x, y, sw)


def batch_signature(batch):
    return tuple((tuple(a.shape), str(a.dtype)) for a in jax.tree_util.tree_leaves(batch))


def stack_batches(batches):
    return jax.tree_util.tree_map(lambda *a: np.stack([np.asarray(e) for e in a]), *batches)


def split_validation(x, y, sw, validation_split):
    if not 0.0 < validation_split < 1.0:
        raise ValueError(
            f"validation_split must be in (0, 1), received {validation_split!r}.")
    n = check_counts(x, y, sw)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} leaves an empty training or validation set "
            f"for {n} samples.")

    def head(a, p):
        return a[:split_at]

    def tail(a, p):
        return a[split_at:]

    take = lambda s, f: None if s is None else map_structure(f, s, "")
    return ((take(x, head), take(y, head), take(sw, head)),
            (take(x, tail), take(y, tail), take(sw, tail)))
