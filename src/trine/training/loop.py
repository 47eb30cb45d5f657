"""One chunk loop for every data source: a pass runs as chunks of steps, one compiled call
each (see programs.py), whatever feeds them.

A source turns a pass into chunks `(first_step, runner, data_arguments, steps, streamed)`:
device-resident arrays (batches gathered inside the program), streamed arrays (chunks
gathered on the host, the next one while the current runs) and iterables of batches (stacked
as they arrive). The loop pushes a changed learning rate, runs each chunk, keeps at most
MAX_IN_FLIGHT streamed chunks queued and hands every chunk's logs to `on_chunk`.
"""
from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import numpy as np

from trine.distribution import placement as _distribution
from trine.training import data as data_mod
from trine.training.programs import worker_pool


def even_chunk(total, k):
    """A chunk length near `k` that splits `total` steps evenly, where one exists.

    With fixed-length loops every distinct chunk length is a program to compile, so a pass
    of 1875 steps (Fashion-MNIST at batch 32) runs as 5 chunks of 375 rather than 7 of 256
    and a last one of 83: one compile fewer in the first epoch (0.8 s on an H200). Passes of
    up to 2k steps are one chunk; totals with no divisor in [k/2, 2k] keep k."""
    if total <= 0:
        return k
    if total <= 2 * k:
        return total
    for d in sorted(range(k // 2, 2 * k + 1), key=lambda d: (abs(d - k), -d)):
        if total % d == 0:
            return d
    return k


def log_value(v):
    """One step's logged value: a Python float, or a NumPy array for a metric whose result
    is one (F1Score(average=None), Precision with a list of thresholds), as Keras logs it."""
    v = np.asarray(v)
    return float(v) if v.ndim == 0 else v.copy()


def last_step_logs(chunk, into):
    """Put the last step's values of a chunk's stacked logs into the dict `into`."""
    logs, n = chunk
    into.clear()
    into.update({k: log_value(v[n - 1]) for k, v in fetch(logs).items()})


def fetch(tree):
    return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))


class StepLogs:
    """The `on_chunk` of one pass that reports per-step logs to batch hooks.

    With no batch hook (`replay=False`) a chunk's stacked logs stay on the device (no sync per
    chunk) and only the last chunk's last step reaches `into`, in `finish()`. Otherwise each
    step's logs go through `begin(step)` / `end(step, logs)` and into `into`; `stop()` is asked
    after each step and ends the pass when it says True. `on_carry(carry)` sees each chunk's
    state first.
    """

    def __init__(self, into, replay, begin, end, stop=lambda: False, on_carry=None):
        self.into, self.replay = into, replay
        self.begin, self.end, self.stop, self.on_carry = begin, end, stop, on_carry
        self._pending = None

    def __call__(self, first, logs, n, carry=None):
        if self.on_carry is not None:
            self.on_carry(carry)
        if not self.replay:
            self._pending = (logs, n)
            return False
        logs = fetch(logs)
        for i in range(n):
            self.begin(first + i)
            step_logs = {k: log_value(v[i]) for k, v in logs.items()}
            self.end(first + i, step_logs)
            self.into.clear()
            self.into.update(step_logs)
            if self.stop():
                return True
        return False

    def finish(self):
        """Bring the last step's logs of an un-replayed pass into `into`."""
        if self._pending is not None:
            last_step_logs(self._pending, self.into)
            self._pending = None


def _until_error(it, failed):
    """The items of `it`; an exception it raises goes into `failed` instead of propagating,
    so the caller can first run the batches already read."""
    try:
        yield from it
    except Exception as e:  # noqa: BLE001 - re-raised by the caller, traceback intact
        failed.append(e)


class ChunkLoop:
    """Mixin of `Trainer`: chunk planning and the one loop over a pass."""

    # ================================================================== chunking
    AUTO_CHUNK = 64
    # On accelerators (fixed-length loops, no timing) a longer chunk: each call ends in a
    # device-to-host sync for the logs, which costs a GPU far more than a CPU.
    AUTO_CHUNK_ACCELERATOR = 256  # a target: see even_chunk
    # Streamed data: at most this many bytes of batches per chunk under "auto", and at most
    # MAX_IN_FLIGHT chunks dispatched ahead of the one running (when no callback syncs per
    # chunk, dispatch would otherwise queue a whole epoch of host chunks: +170 MiB on W1).
    # 8 MiB, not 32: predict of 1,024 32x32x16 images (8 MiB batches) took 15-19 ms against
    # 26-33 ms in 32 MiB chunks (the first chunk's gather blocks, and glibc maps every
    # allocation over 32 MiB afresh, so each 32 MiB chunk page-faulted; bench/README.md).
    STREAM_CHUNK_BYTES = 8 * 1024 ** 2
    MAX_IN_FLIGHT = 2

    def _cap_output_slots(self, k, kind, source, bs, guard, carry, data):
        """`k`, lowered under "auto" on the CPU so a predict chunk's slots hold at most
        STREAM_CHUNK_BYTES of outputs: a fused loop stacks its outputs in a buffer of every
        slot of the chunk, zero-filled each call. (A 1,024-sample Cropping3D predict on
        device-resident data filled 64 slots of 2.8 MB, 181 MB, for 8 steps: 44,353 page
        faults and 50 ms a call instead of 16 ms.) Unchanged for other kinds (their logs are
        scalars), fixed-length loops (a chunk's slots are its steps), an explicit
        `steps_per_execution` and under a distribution."""
        spe = self.steps_per_execution if self.compiled else "auto"
        if (kind != "predict" or spe != "auto" or self._policy.static_loops
                or _distribution.cache_token() is not None):
            return k
        per_step = self._step_log_bytes(kind, source, bs, guard, carry, data)
        return min(k, max(1, self.STREAM_CHUNK_BYTES // max(1, per_step)))

    def _chunk_len(self, kind, total_steps, fused=None):
        """Steps per XLA call for a pass of `total_steps` full batches.

        An integer or "epoch" is taken as given. "auto" on accelerators fuses
        AUTO_CHUNK_ACCELERATOR steps per call. On the CPU it fuses AUTO_CHUNK steps unless the
        step holds an operation XLA's CPU backend runs slowly inside a loop
        (`slow_in_cpu_loops`: convolutions outside its library layout), read from the jaxpr
        of one traced step; then every call runs one step. The choice is made once per
        model, compile and kind, without timing: one program is compiled, not two, and every
        process of a multi-process run decides alike.
        `fused()` gives (source, K, batch_size, guard, args): the fused program's arguments.
        On the CPU chunks always hold the same number of slots, so any pass length reuses one
        compiled program; a shorter last chunk runs fewer iterations of the same loop.
        """
        spe = self.steps_per_execution if self.compiled else "auto"
        if spe == "epoch":
            return max(1, total_steps)
        if spe != "auto":
            return int(spe)
        if self._policy.static_loops:
            return even_chunk(total_steps, self.AUTO_CHUNK_ACCELERATOR)
        k = self._auto_k.get(kind)
        if k is None:
            k = self.AUTO_CHUNK
            if fused is not None:
                slow = self._slow_primitives(kind, *fused())
                k = 1 if slow else k
                self._auto_k[kind] = k
        return k

    def _throttle(self, in_flight, logs):
        """Back-pressure on streamed chunks: each queued chunk holds its host batches, so wait
        for the one MAX_IN_FLIGHT behind the newest."""
        in_flight.append(logs)
        if len(in_flight) > self.MAX_IN_FLIGHT:
            jax.block_until_ready(in_flight.popleft())

    def _iterate(self, kind, carry, data, perm, on_chunk, guard=False):
        """One pass over `data`; `on_chunk(first_step, logs, n, carry)` after each call (True
        stops). Returns `(carry, stopped)`."""
        if kind != "train":
            self._new_eval_pass()
        if data.kind == "arrays":
            _distribution.check_batch_size(self, data, kind)
            resident = data.on_device and not _distribution.process_local_data()
            source = self._resident_chunks if resident else self._streamed_chunks
            chunks = source(kind, carry, data, perm, guard)
        else:
            chunks = self._iterable_chunks(kind, carry, data, guard)
        in_flight = collections.deque()
        for first, runner, args, n, streamed in chunks:
            if kind == "train":
                carry = self._push_learning_rate(carry)
            carry, logs = runner(carry, *args, n)
            if streamed:
                self._throttle(in_flight, logs)
            if on_chunk(first, logs, n, carry):
                chunks.close()
                return carry, True
        return carry, False

    def _resident_chunks(self, kind, carry, data, perm, guard):
        """Chunks of device-resident arrays: each program gathers its batches by `perm`."""
        bs, full = data.batch_size, data.full_steps
        static = self._policy.static_loops
        dev = _distribution.device_arrays(data)
        perm = jnp.asarray(perm)  # once per pass, not with every call
        k = self._chunk_len(kind, full, lambda: (
            "gather", self.AUTO_CHUNK, bs, guard,
            (carry, dev, perm, 0, min(self.AUTO_CHUNK, full)))) if full else 1
        k = max(1, min(k, full)) if static else k
        if full:
            k = self._cap_output_slots(k, kind, "gather", bs, guard, carry, dev)
        k_tail = 1 if (k == 1 or static) else k
        if full and static and full % k:
            self._compile_ahead(kind, "gather", full % k, bs, guard,
                                (carry, dev, perm, 0, full % k))
        if data.tail:
            self._compile_ahead(kind, "gather", k_tail, data.tail, guard,
                                (carry, dev, perm, 0, 1))
        runner = self._runner(kind, "gather", k, bs, guard) if full else None
        s = 0
        while s < full:
            n, r = min(k, full - s), runner
            if static and n < k:  # the last partial chunk: a program of its own length
                r = self._runner(kind, "gather", n, bs, guard)
            yield s, r, (dev, perm, s * bs), n, False
            s += n
        if data.tail:
            yield (full, self._runner(kind, "gather", k_tail, data.tail, guard),
                   (dev, perm, full * bs), 1, False)

    def _streamed_chunks(self, kind, carry, data, perm, guard):
        """Chunks gathered on the host, the next one on a worker thread while this one runs."""
        bs, full = data.batch_size, data.full_steps
        static = self._policy.static_loops
        perm_np = np.asarray(perm)
        spe = self.steps_per_execution if self.compiled else "auto"

        def load(start, k):
            n = min(k, full - start)
            host = data.host_chunk(perm_np, start, n, pad_to=n if static else k)
            return jax.device_put(host), n

        # "auto" bounds a chunk's bytes: streaming exists to keep memory down
        cap = max(1, self.STREAM_CHUNK_BYTES // data.batch_nbytes())
        k_auto = min(self.AUTO_CHUNK, cap)
        first = None
        if full and spe == "auto" and not static and self._auto_k.get(kind) is None:
            first = load(0, k_auto)
        k = self._chunk_len(kind, full, lambda: ("stacked", k_auto, bs, guard,
                                                 (carry, first[0], first[1]))) if full else 1
        if spe == "auto" and k > cap:
            k = even_chunk(full, cap) if static else cap
        # after `_chunk_len`, whose trace of the step recorded its outputs' shapes
        if full:
            k = self._cap_output_slots(k, kind, "stacked", bs, guard, carry,
                                       data.chunk_spec(1, bs))
        k = max(1, min(k, full)) if (spe == "epoch" or static) else k
        kt = 1 if static else k
        if full and static and full % k:
            self._compile_ahead(kind, "stacked", full % k, bs, guard,
                                (carry, data.chunk_spec(full % k, bs), full % k))
        if data.tail:
            self._compile_ahead(kind, "stacked", kt, data.tail, guard,
                                (carry, data.chunk_spec(kt, data.tail), 1))
        runner = self._runner(kind, "stacked", k, bs, guard) if full else None
        s = 0
        nxt = (first if first is not None and k == k_auto else load(0, k)) if full else None
        try:
            while s < full:
                batches, n = nxt if isinstance(nxt, tuple) else nxt.result()
                nxt = worker_pool("prefetch", 1).submit(load, s + n, k) if s + n < full else None
                r = runner if (n == k or not static) else self._runner(kind, "stacked", n, bs,
                                                                      guard)
                yield s, r, (batches,), n, True
                s += n
        except GeneratorExit:  # stopped: let the chunk being gathered finish first
            if nxt is not None:
                nxt.result()
            raise
        if data.tail:
            host = data.host_chunk(perm_np, full, 1, size=data.tail, pad_to=kt)
            yield (full, self._runner(kind, "stacked", kt, data.tail, guard),
                   (jax.device_put(host),), 1, False)

    def _iterable_chunks(self, kind, carry, data, guard):
        """Chunks of batches stacked as an iterable yields them; a chunk ends early where the
        batch signature (shapes, dtypes) changes."""
        spe = self.steps_per_execution if self.compiled else "auto"
        k = 1 if spe == "epoch" else self._chunk_len(kind, 0)
        step = 0
        pending, sig = [], None

        def chunk(pending):
            n = len(pending)
            kk = k
            if self._policy.static_loops and n < kk:  # a partial chunk: its own length
                kk = n
            stacked = data_mod.stack_batches(pending)
            if n < kk:
                stacked = jax.tree_util.tree_map(
                    lambda a: np.concatenate([a, np.zeros((kk - n,) + a.shape[1:], a.dtype)]),
                    stacked)
            bs = jax.tree_util.tree_leaves(pending[0][0])[0].shape[0]
            return step, self._runner(kind, "stacked", kk, bs, guard), (jax.device_put(stacked),), n

        failed = []
        for batch in _until_error(data.epoch_iterator(), failed):
            if kind != "predict" and batch[1] is None:
                raise ValueError(
                    f"{'fit' if kind == 'train' else 'evaluate'}: the data yielded a batch "
                    "without targets. Yield (x, y) or (x, y, sample_weight) tuples.")
            if kind != "predict":
                self._check_labels(batch[1])
            if kind == "predict":
                batch = (batch[0], None, None)
            s = data_mod.batch_signature(batch)
            if not step and not pending and spe == "auto":
                spec = jax.tree_util.tree_map(
                    lambda a: jax.ShapeDtypeStruct((self.AUTO_CHUNK,) + np.shape(a),
                                                   np.asarray(a).dtype), batch)
                bs = jax.tree_util.tree_leaves(batch[0])[0].shape[0]
                if self._auto_k.get(kind) is None:
                    k = self._chunk_len(kind, 0, lambda: ("stacked", self.AUTO_CHUNK, bs,
                                                          guard, (carry, spec, 1)))
                # a chunk stacks (and a short pass pads) k batches on the host: at most
                # STREAM_CHUNK_BYTES of them, and of a predict chunk's outputs, as streamed
                # arrays are chunked
                nbytes = sum(np.asarray(a).nbytes for a in jax.tree_util.tree_leaves(batch))
                k = min(k, max(1, self.STREAM_CHUNK_BYTES // max(1, nbytes)))
                k = self._cap_output_slots(k, kind, "stacked", bs, guard, carry, spec)
            if pending and (s != sig or len(pending) == k):
                yield chunk(pending) + (True,)
                step += len(pending)
                pending = []
            pending.append(batch)
            sig = s
        if pending:
            try:
                yield chunk(pending) + (False,)
            except GeneratorExit:
                if failed:  # the source's error wins over the stop
                    raise failed[0]
                raise
        if failed:  # raised by the source: the batches it gave before have trained
            raise failed[0]
