"""Programs that tests/test_distribution.py runs in subprocesses (they need several devices).

    python tests/distribution_workers.py devices OUT.json TMPDIR
        (under XLA_FLAGS=--xla_force_host_platform_device_count=8): DataParallel and
        ModelParallel runs next to single-device runs in the same process; writes numbers and
        shardings to OUT.json.
    python tests/distribution_workers.py process PID PORT NPROC OUTDIR
        one process of a multi-process DataParallel run over localhost.
    python tests/distribution_workers.py process_local PID PORT NPROC OUTDIR
        the same with auto_shard_dataset=False: each process feeds only its own rows.

Not a test module itself (no test_ prefix); the test asserts on what these write.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

N, BATCH, EPOCHS = 300, 64, 2  # 4 full batches and a 44-row tail per epoch


def data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 28, 28), dtype=np.float32),
            rng.integers(0, 10, n).astype(np.int32))


def two_input_data(n=256, seed=1):
    rng = np.random.default_rng(seed)
    return ([rng.random((n, 784), dtype=np.float32), rng.random((n, 784), dtype=np.float32)],
            rng.integers(0, 10, n).astype(np.int32))


def mlp(trine, cls=None):
    """The seed MLP (W1)."""
    trine.clear_session()
    trine.utils.set_random_seed(7)
    k = trine
    inputs = k.Input(shape=(28, 28))
    h = k.layers.Flatten()(inputs)
    h = k.layers.Dense(300, activation="relu")(h)
    h = k.layers.Dense(100, activation="relu")(h)
    out = k.layers.Dense(10, activation="softmax")(h)
    return (cls or k.Model)(inputs, out)


def two_input(trine):
    """The seed's two-input model (W2)."""
    trine.clear_session()
    trine.utils.set_random_seed(11)
    k = trine
    i1 = k.Input(shape=(784,), name="input_1")
    i2 = k.Input(shape=(784,), name="input_2")
    a = k.layers.Dense(64, activation="relu", name="dense_1")(i1)
    b = k.layers.Dense(64, activation="relu", name="dense_2")(i2)
    c = k.layers.concatenate([a, b], name="concat")
    h = k.layers.Dense(32, activation="tanh", name="dense_3")(c)
    return k.Model([i1, i2], k.layers.Dense(10, activation="softmax", name="output")(h))


def train(model, x, y, dist=None, optimizer="adam", epochs=EPOCHS, batch_size=BATCH,
          full=False, compile_kw=None):
    """Fit (and with full=True evaluate and predict) under `dist`; numbers to compare."""
    import contextlib
    if not model.compiled:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], **(compile_kw or {}))
    out = {"eval": {}, "pred": np.zeros(())}
    with dist.scope() if dist is not None else contextlib.nullcontext():
        hist = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
        if full:
            out["eval"] = model.evaluate(x, y, batch_size=batch_size, verbose=0,
                                         return_dict=True)
            out["pred"] = model.predict(x, batch_size=batch_size, verbose=0)
    out["weights"] = [np.asarray(w) for w in model.get_weights()]
    out["loss"] = [float(v) for v in hist.history["loss"]]
    return out


def compare(a, b) -> dict:
    """Largest differences; evaluate / predict only where both runs have them."""
    both = [k for k in a["eval"] if k in b["eval"]]
    same_pred = np.shape(a["pred"]) == np.shape(b["pred"])
    return {
        "param_diff": max(float(np.max(np.abs(p - q))) for p, q in zip(a["weights"], b["weights"])),
        "loss_diff": max(abs(p - q) for p, q in zip(a["loss"], b["loss"])),
        "eval_diff": max([abs(a["eval"][k] - b["eval"][k]) for k in both] + [0.0]),
        "pred_diff": float(np.max(np.abs(a["pred"] - b["pred"]))) if same_pred else 0.0,
        "compared": {"eval": both, "pred": bool(same_pred and np.ndim(a["pred"]))},
    }


def spec_of(array) -> list | None:
    s = getattr(array, "sharding", None)
    spec = getattr(s, "spec", None)
    if spec is None:
        return None
    return [list(e) if isinstance(e, tuple) else e for e in spec]


def devices_main(out_path, tmp):
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P

    import trine
    from trine import distribution as dist
    from trine.training import data as data_mod

    res = {"n_devices": jax.device_count()}
    x, y = data()
    seen = {}

    class Inspecting(trine.Model):
        """A custom train_step (Keras 3's JAX pattern) that reports the shardings it sees."""

        def train_step(self, state, batch):
            jax.debug.inspect_array_sharding(batch[0], callback=lambda s: seen.setdefault("x", s))
            jax.debug.inspect_array_sharding(state[0][0],
                                             callback=lambda s: seen.setdefault("kernel", s))
            return super().train_step(state, batch)

    # ---- seed MLP: one device vs DataParallel(8) vs ModelParallel(4 x 2, custom train_step)
    ref = train(mlp(trine), x, y, full=True)
    dp = dist.DataParallel()
    m_dp = mlp(trine)
    res["mlp_dp"] = compare(ref, train(m_dp, x, y, dp, full=True))
    res["mlp_dp_param_specs"] = [spec_of(v.value) for v in m_dp.trainable_variables]
    res["mlp_dp_param_ndev"] = [len(v.value.sharding.device_set) for v in m_dp.trainable_variables]
    res["mlp_dp_opt_specs"] = sorted({str(spec_of(a))
                                      for a in jax.tree_util.tree_leaves(m_dp._opt_state)})

    mesh = dist.DeviceMesh((4, 2), ("batch", "model"))
    layout_map = dist.LayoutMap(mesh)
    layout_map[".*dense.*kernel"] = (None, "model")
    layout_map[".*dense.*bias"] = ("model",)
    mp = dist.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
    m_mp = mlp(trine, Inspecting)
    res["mlp_mp"] = compare(ref, train(m_mp, x, y, mp))
    res["mlp_mp_param_specs"] = {p: spec_of(v.value) for p, v in m_mp._path_map()}
    slots = getattr(getattr(m_mp._opt_state, "inner_state", None), "slots", None)
    res["mlp_mp_slot_specs"] = {k: spec_of(a) for k, a in slots[0].items()} if slots else None
    res["variable_shardings"] = {p: str(s.spec) for p, s in
                                 dist.variable_shardings(m_mp, mp).items()}
    jm = mesh.jax_mesh
    res["custom_x_sharded"] = bool(seen["x"].is_equivalent_to(
        NamedSharding(jm, P("batch", None, None)), 3))
    res["custom_kernel_sharded"] = bool(seen["kernel"].is_equivalent_to(
        NamedSharding(jm, P(None, "model")), 2))

    # ---- host-streamed chunks, one step per call, under DataParallel
    data_mod.set_device_data_budget(0)
    try:
        m_s = mlp(trine)
        res["mlp_dp_stream"] = compare(ref, train(m_s, x, y, dp,
                                                  compile_kw={"steps_per_execution": 1}))
    finally:
        data_mod.set_device_data_budget(None)

    # ---- a Python iterable of batches (the last one 44 rows: replicated)
    class Batches:  # a re-iterable source, as a tf.data / grain pipeline would be
        def __iter__(self):
            return iter([(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N, BATCH)])

    batches = Batches()
    ref_it = train(mlp(trine), batches, None, epochs=1, batch_size=None)
    res["mlp_dp_iterable"] = compare(ref_it, train(mlp(trine), batches, None, dp, epochs=1,
                                                   batch_size=None))

    # ---- the two-input model
    xs, ys = two_input_data()
    ref2 = train(two_input(trine), xs, ys, batch_size=32, epochs=1)
    res["two_dp"] = compare(ref2, train(two_input(trine), xs, ys, dp, batch_size=32, epochs=1))
    m2 = two_input(trine)
    res["two_mp"] = compare(ref2, train(m2, xs, ys, mp, batch_size=32, epochs=1))
    res["two_mp_param_specs"] = {p: spec_of(v.value) for p, v in m2._path_map()}

    # ---- errors
    try:
        train(mlp(trine), x, y, dp, batch_size=60)
        res["batch_error"] = None
    except ValueError as e:
        res["batch_error"] = str(e)
    bad = dist.LayoutMap(dist.DeviceMesh((2, 4), ("batch", "model")))
    bad["dense.*kernel"] = (None, "model")
    try:
        train(mlp(trine), x, y, dist.ModelParallel(layout_map=bad))
        res["layout_error"] = None
    except ValueError as e:
        res["layout_error"] = str(e)

    # ---- checkpoint: saved under 8 devices, resumed on 4 devices and on one
    path = os.path.join(tmp, "dp8.weights.h5")
    m_dp.save_weights(path)
    dp4 = dist.DataParallel(devices=dist.list_devices()[:4])
    resumed = {}
    for name, d in (("one", None), ("dp4", dp4)):
        m = mlp(trine)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.load_weights(path)
        resumed[name] = train(m, x, y, d, epochs=1)
        if d is not None:
            res["dp4_param_ndev"] = len(m.trainable_variables[0].value.sharding.device_set)
    res["resume"] = compare(resumed["one"], resumed["dp4"])

    with open(out_path, "w") as f:
        json.dump(res, f)


def process_main(pid, port, nproc, outdir):
    import trine
    from trine import distribution as dist

    dist.initialize(f"localhost:{port}", num_processes=nproc, process_id=pid)
    import jax
    x, y = data()
    if pid == 1:  # the same values at an address no allocator promises to align
        raw = np.empty(x.nbytes + 64, np.uint8)
        start = 4 if raw.ctypes.data % 64 == 0 else 0
        while (raw.ctypes.data + start) % 64 == 0:
            start += 4
        x = np.frombuffer(raw[start:start + x.nbytes], np.float32).reshape(x.shape)
        x[...] = data()[0]
    model = mlp(trine)
    got = train(model, x, y, dist.DataParallel(), full=True)
    np.savez(os.path.join(outdir, f"process{pid}.npz"), *got["weights"],
             loss=np.asarray(got["loss"]), pred=got["pred"])
    with open(os.path.join(outdir, f"process{pid}.json"), "w") as f:
        json.dump({"process_count": jax.process_count(), "devices": jax.device_count(),
                   "local_devices": jax.local_device_count(), "eval": got["eval"]}, f)
    if pid == 0:
        model.save_weights(os.path.join(outdir, "mp.weights.h5"))
    jax.distributed.shutdown()


LOCAL_ROWS, LOCAL_BATCH = 128, 32  # per process: 4 batches an epoch, no short batch


def local_shard(pid):
    """Process `pid`'s own rows for the auto_shard_dataset=False run."""
    x, y = data(2 * LOCAL_ROWS, seed=3)
    return x[pid * LOCAL_ROWS:(pid + 1) * LOCAL_ROWS], y[pid * LOCAL_ROWS:(pid + 1) * LOCAL_ROWS]


def joined_batches(nproc=2):
    """The global batches a process-local run trains on: batch i joins every process's
    batch i in process order (what a one-process reference fits with shuffle=False)."""
    shards = [local_shard(p) for p in range(nproc)]
    xs, ys = [], []
    for i in range(0, LOCAL_ROWS, LOCAL_BATCH):
        for x, y in shards:
            xs.append(x[i:i + LOCAL_BATCH])
            ys.append(y[i:i + LOCAL_BATCH])
    return np.concatenate(xs), np.concatenate(ys)


def process_local_main(pid, port, nproc, outdir):
    """auto_shard_dataset=False: each process feeds only its shard, as arrays and as a
    PyDataset; writes the weights each way and the predictions of its own rows."""
    import trine
    from trine import distribution as dist

    dist.initialize(f"localhost:{port}", num_processes=nproc, process_id=pid)
    import jax
    x, y = local_shard(pid)

    class Shard(trine.utils.PyDataset):
        def __len__(self):
            return LOCAL_ROWS // LOCAL_BATCH

        def __getitem__(self, i):
            return x[i * LOCAL_BATCH:(i + 1) * LOCAL_BATCH], y[i * LOCAL_BATCH:(i + 1) * LOCAL_BATCH]

    results = {}
    for name, source in (("arrays", (x, y)), ("pydataset", (Shard(),))):
        model = mlp(trine)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        with dist.DataParallel(auto_shard_dataset=False).scope():
            kw = {"batch_size": LOCAL_BATCH} if name == "arrays" else {}
            hist = model.fit(*source, epochs=2, shuffle=False, verbose=0, **kw)
            pred = model.predict(x, batch_size=LOCAL_BATCH, verbose=0)
        results[name] = [np.asarray(w) for w in model.get_weights()]
        results[name + "_loss"] = np.asarray(hist.history["loss"])
        results[name + "_pred"] = pred
    np.savez(os.path.join(outdir, f"local{pid}.npz"),
             **{f"{k}_{i}": w for k in ("arrays", "pydataset") for i, w in enumerate(results[k])},
             **{k: v for k, v in results.items() if k.endswith(("_loss", "_pred"))})
    jax.distributed.shutdown()


if __name__ == "__main__":
    if sys.argv[1] == "devices":
        devices_main(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "process":
        process_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "process_local":
        process_local_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
