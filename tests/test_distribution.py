"""trine.distribution: the API in this process (one device), and training over 8 forced host
devices and over 2 processes in subprocesses (so every other test keeps one device).

Tolerance: data / model parallel runs are compared with a one-device run of the same model,
seed and batches. They differ only by float reassociation (gradient sums split over devices,
matmuls split over the "model" axis): after 2 epochs of Adam the largest parameter difference
seen is ~2e-6, so parameters must agree within PARAM_ATOL = 1e-5 and losses / metrics /
predictions within LOSS_ATOL = 1e-5.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import trine
from trine import distribution as dist

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
WORKERS = os.path.join(HERE, "distribution_workers.py")
PARAM_ATOL = 1e-5
LOSS_ATOL = 1e-5
TIMEOUT_S = 900


def _env(n_devices: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n_devices}"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([SRC] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _assert_close(diff: dict, what: str):
    assert diff["param_diff"] <= PARAM_ATOL, (what, diff)
    assert diff["loss_diff"] <= LOSS_ATOL, (what, diff)
    assert diff["eval_diff"] <= LOSS_ATOL, (what, diff)
    assert diff["pred_diff"] <= LOSS_ATOL, (what, diff)


# ====================================================================== API, one device
def test_list_devices_and_mesh():
    devices = dist.list_devices()
    assert devices and all(":" in d for d in devices)
    assert dist.get_device_count() == len(devices)
    mesh = dist.DeviceMesh((len(devices),), ("batch",), devices)
    assert mesh.shape == (len(devices),) and mesh.axis_names == ("batch",)
    assert dict(mesh.jax_mesh.shape) == {"batch": len(devices)}
    with pytest.raises(ValueError, match="one name per axis"):
        dist.DeviceMesh((1,), ("a", "b"))
    with pytest.raises(ValueError, match="holds 2 devices"):
        dist.DeviceMesh((2,), ("batch",), devices[:1])
    with pytest.raises(ValueError, match="Unknown device"):
        dist.DeviceMesh((1,), ("batch",), ["nodevice"])


def test_tensor_layout_and_layout_map():
    mesh = dist.DeviceMesh((1, 1), ("batch", "model"))
    layout = dist.TensorLayout((None, "model"), mesh)
    assert tuple(layout.sharding.spec) == (None, "model")
    with pytest.raises(ValueError, match="not axes of the mesh"):
        dist.TensorLayout(("data",), mesh)
    lm = dist.LayoutMap(mesh)
    lm[".*dense.*kernel"] = (None, "model")
    lm["dense/bias"] = ("model",)
    assert lm["dense_3/kernel"].axes == (None, "model")
    assert lm["dense_3/kernel"].device_mesh is mesh
    assert lm["dense/bias"].axes == ("model",)
    assert lm["conv2d/kernel"] is None and lm.get("conv2d/kernel") is None
    assert lm["mydense/kernelx"] is None
    assert len(lm) == 2 and list(lm) == [".*dense.*kernel", "dense/bias"]
    with pytest.raises(ValueError, match="already has the key"):
        lm["dense/bias"] = ("model",)
    with pytest.raises(ValueError, match="TensorLayout or a tuple"):
        lm["x"] = "model"
    lm[".*"] = (None,)
    with pytest.raises(ValueError, match="matches several LayoutMap keys"):
        lm["dense/kernel"]
    del lm[".*"]


def test_distribution_objects_and_scope():
    assert dist.distribution() is None
    dp = dist.DataParallel()
    assert dp.batch_dim_name == "batch" and dp.num_model_replicas == dist.get_device_count()
    with dp.scope():
        assert dist.distribution() is dp
    assert dist.distribution() is None
    dist.set_distribution(dp)
    try:
        assert dist.distribution() is dp
    finally:
        dist.set_distribution(None)
    with pytest.raises(ValueError, match="set_distribution expected"):
        dist.set_distribution("data")
    with pytest.raises(ValueError, match="needs layout_map"):
        dist.ModelParallel()
    with pytest.raises(ValueError, match="not both"):
        dist.DataParallel(device_mesh=dp.device_mesh, devices=dist.list_devices())
    mesh = dist.DeviceMesh((1, 1), ("data", "model"))
    mp = dist.ModelParallel(layout_map=dist.LayoutMap(mesh))
    assert mp.batch_dim_name == "data"
    assert mp.get_data_layout((8, 3)).axes == ("data", None)


def test_data_parallel_on_one_device_matches_plain_fit():
    """The hooks run in this process too (a mesh of one device): same numbers as no
    distribution, fused and single-step, fit / evaluate / predict."""
    x = np.random.default_rng(0).random((40, 6), dtype=np.float32)
    y = (x.sum(axis=1) > 3).astype(np.int32)

    def run(d):
        trine.clear_session()
        trine.utils.set_random_seed(3)
        m = trine.Sequential([trine.Input(shape=(6,)), trine.layers.Dense(8, activation="relu"),
                              trine.layers.Dense(2, activation="softmax")])
        m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        with d.scope() if d else contextlib.nullcontext():
            h = m.fit(x, y, batch_size=8, epochs=2, verbose=0)
            ev = m.evaluate(x, y, batch_size=8, verbose=0)
            p = m.predict(x, batch_size=8, verbose=0)
            m.train_on_batch(x[:8], y[:8])
        return m.get_weights(), h.history["loss"], ev, p

    a, b = run(None), run(dist.DataParallel())
    for u, v in zip(a[0], b[0]):
        np.testing.assert_allclose(u, v, atol=PARAM_ATOL)
    np.testing.assert_allclose(a[1], b[1], atol=LOSS_ATOL)
    np.testing.assert_allclose(a[2], b[2], atol=LOSS_ATOL)
    np.testing.assert_allclose(a[3], b[3], atol=LOSS_ATOL)


def test_later_fits_under_a_distribution_compile_nothing():
    """Placed train state and fresh metric values carry the mesh in their type; a one-device
    value only equivalent to that sharding once made every early fit compile again."""
    x = np.random.default_rng(1).random((100, 6), dtype=np.float32)
    y = (x.sum(axis=1) > 3).astype(np.int32)
    trine.clear_session()
    m = trine.Sequential([trine.Input(shape=(6,)), trine.layers.Dense(8, activation="relu"),
                          trine.layers.Dense(2, activation="softmax")])
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    with dist.DataParallel().scope():
        m.fit(x, y, batch_size=8, epochs=1, verbose=0)
        counts = dict(m.trace_counts)
        for _ in range(2):
            m.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert dict(m.trace_counts) == counts


# ====================================================================== 8 forced host devices
@pytest.fixture(scope="module")
def eight(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distribution")
    out = tmp / "out.json"
    proc = subprocess.run([sys.executable, WORKERS, "devices", str(out), str(tmp)],
                          env=_env(8), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return json.loads(out.read_text())


def test_eight_devices_seen(eight):
    assert eight["n_devices"] == 8


def test_data_parallel_mlp_equals_one_device(eight):
    _assert_close(eight["mlp_dp"], "DataParallel MLP")
    assert eight["mlp_dp"]["compared"] == {"eval": ["accuracy", "loss"], "pred": True}
    # variables and optimizer state replicated over all 8 devices
    assert eight["mlp_dp_param_specs"] == [[]] * 6
    assert eight["mlp_dp_param_ndev"] == [8] * 6
    assert eight["mlp_dp_opt_specs"] == ["[]"]


def test_model_parallel_mlp_equals_one_device_and_follows_layout(eight):
    _assert_close(eight["mlp_mp"], "ModelParallel MLP")
    want = {}
    for name in ("dense", "dense_1", "dense_2"):
        want[f"{name}/kernel"] = [None, "model"]
        want[f"{name}/bias"] = ["model"]
    assert eight["mlp_mp_param_specs"] == want
    assert eight["mlp_mp_slot_specs"] == want  # Adam's moments follow their variable
    assert eight["variable_shardings"]["dense/kernel"] == "P(None, 'model')"


def test_custom_train_step_sees_sharded_batch_and_params(eight):
    """A Keras-style custom train_step runs unchanged under ModelParallel; inside it the batch
    is split over "batch" and the kernel over "model" (jax.debug.inspect_array_sharding)."""
    assert eight["custom_x_sharded"]
    assert eight["custom_kernel_sharded"]


def test_streamed_single_step_data_parallel_equals_one_device(eight):
    _assert_close(eight["mlp_dp_stream"], "DataParallel, host-streamed chunks, 1 step/call")


def test_iterable_source_data_parallel_equals_one_device(eight):
    _assert_close(eight["mlp_dp_iterable"], "DataParallel, a list of (x, y) batches")


def test_two_input_model_data_and_model_parallel(eight):
    _assert_close(eight["two_dp"], "DataParallel two-input model")
    _assert_close(eight["two_mp"], "ModelParallel two-input model")
    specs = eight["two_mp_param_specs"]
    assert specs["dense_3/kernel"] == [None, "model"] and specs["dense_1/bias"] == ["model"]
    assert specs["output/kernel"] == [] and specs["output/bias"] == []  # no key matches


def test_batch_size_not_divisible_is_a_clear_error(eight):
    msg = eight["batch_error"]
    assert msg is not None
    for part in ("batch_size=60", "8 devices", "multiple of 8", "56 or 64"):
        assert part in msg, msg


def test_layout_that_does_not_divide_a_variable_is_a_clear_error(eight):
    msg = eight["layout_error"]
    assert msg is not None
    for part in ("dense_2/kernel", "(100, 10)", "size 10", "4 devices"):
        assert part in msg, msg


def test_checkpoint_saved_on_8_devices_resumes_on_4(eight):
    """save_weights gathers the state to the host; loaded under DataParallel over 4 devices
    (and on one device) it continues training identically."""
    assert eight["dp4_param_ndev"] == 4
    _assert_close(eight["resume"], "resume on 4 devices vs 1")


# ====================================================================== 2 processes
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_train_data_parallel(tmp_path):
    """Two processes on localhost (2 CPU devices each, XLA's CPU collectives over Gloo) train
    the seed MLP with DataParallel over all 4 devices: both end with identical parameters,
    equal to a one-process run; the checkpoint process 0 writes loads on one device. Process 1
    holds its data at an unaligned address, so a data placement chosen per process by memory
    address (which made the processes run different programs) would fail here."""
    sys.path.insert(0, HERE)
    try:
        import distribution_workers as w
    finally:
        sys.path.remove(HERE)
    _run_processes("process", tmp_path)

    infos = [json.loads((tmp_path / f"process{i}.json").read_text()) for i in range(2)]
    assert [i["process_count"] for i in infos] == [2, 2]
    assert [i["devices"] for i in infos] == [4, 4]
    runs = [np.load(tmp_path / f"process{i}.npz") for i in range(2)]
    n = len([k for k in runs[0].files if k.startswith("arr_")])
    w0 = [runs[0][f"arr_{i}"] for i in range(n)]
    w1 = [runs[1][f"arr_{i}"] for i in range(n)]
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)  # identical in both processes
    assert infos[0]["eval"] == infos[1]["eval"]

    x, y = w.data()
    ref = w.train(w.mlp(trine), x, y, full=True)
    for a, b in zip(ref["weights"], w0):
        np.testing.assert_allclose(a, b, atol=PARAM_ATOL)
    np.testing.assert_allclose(ref["loss"], runs[0]["loss"], atol=LOSS_ATOL)
    np.testing.assert_allclose(ref["pred"], runs[0]["pred"], atol=LOSS_ATOL)
    for k, v in ref["eval"].items():
        assert abs(v - infos[0]["eval"][k]) <= LOSS_ATOL

    restored = w.mlp(trine)
    restored.load_weights(str(tmp_path / "mp.weights.h5"))
    for a, b in zip(restored.get_weights(), w0):
        np.testing.assert_array_equal(a, b)


def _run_processes(mode, tmp_path):
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, WORKERS, mode, str(pid), str(port), "2",
                               str(tmp_path)], env=_env(2), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for pid in range(2)]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=TIMEOUT_S)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-6000:]


def test_two_processes_each_feed_their_own_shard(tmp_path):
    """auto_shard_dataset=False, Keras's mode for sources it cannot shard: each process passes
    only its rows (arrays, and a PyDataset), every global batch joins the two processes'
    batches, and both processes end equal to a one-process fit on those joined batches;
    predict gives each process the predictions of its own rows."""
    sys.path.insert(0, HERE)
    try:
        import distribution_workers as w
    finally:
        sys.path.remove(HERE)
    _run_processes("process_local", tmp_path)
    runs = [np.load(tmp_path / f"local{i}.npz") for i in range(2)]

    xg, yg = w.joined_batches()
    ref = w.mlp(trine)
    ref.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    hist = ref.fit(xg, yg, batch_size=2 * w.LOCAL_BATCH, epochs=2, shuffle=False, verbose=0)
    n = len(ref.get_weights())
    for source in ("arrays", "pydataset"):
        for i, a in enumerate(ref.get_weights()):
            np.testing.assert_array_equal(runs[0][f"{source}_{i}"], runs[1][f"{source}_{i}"])
            np.testing.assert_allclose(runs[0][f"{source}_{i}"], a, atol=PARAM_ATOL)
        np.testing.assert_allclose(runs[0][f"{source}_loss"], hist.history["loss"],
                                   atol=LOSS_ATOL)
        for pid in range(2):
            x, _ = w.local_shard(pid)
            assert runs[pid][f"{source}_pred"].shape == (w.LOCAL_ROWS, 10)
            np.testing.assert_allclose(runs[pid][f"{source}_pred"], ref.predict(x, verbose=0),
                                       atol=LOSS_ATOL)
    assert n == 6
