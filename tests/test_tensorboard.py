"""TensorBoard callback: Keras's folders and tags, values read back equal History."""
import os
import struct

import numpy as np
import pytest

import trine

tbparse = pytest.importorskip("tbparse")


def _model():
    trine.utils.set_random_seed(0)
    m = trine.Sequential([trine.layers.Input((4,)), trine.layers.Dense(3, activation="relu"),
                          trine.layers.Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return m


def _data():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    return x, (x[:, :1] > 0).astype("float32")


def _scalars(log_dir):
    df = tbparse.SummaryReader(str(log_dir), extra_columns={"dir_name"}).scalars
    return {(r.dir_name, r.tag, int(r.step)): float(r.value) for r in df.itertuples()}


def _events(path):
    """Raw events of a TFRecord event file (length, crc, payload, crc)."""
    from tensorboardX.proto import event_pb2
    out = []
    with open(path, "rb") as f:
        while True:
            head = f.read(12)
            if len(head) < 12:
                return out
            (n,) = struct.unpack("<Q", head[:8])
            ev = event_pb2.Event()
            ev.ParseFromString(f.read(n))
            f.read(4)
            out.append(ev)


def test_epoch_scalars_match_history_in_keras_layout(tmp_path):
    x, y = _data()
    m = _model()
    h = m.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0,
              callbacks=[trine.callbacks.TensorBoard(tmp_path, write_steps_per_second=True)])
    s = _scalars(tmp_path)
    for epoch in range(3):
        for name in ("loss", "accuracy"):
            assert s[("train", f"epoch_{name}", epoch)] == pytest.approx(h.history[name][epoch])
            assert s[("validation", f"epoch_{name}", epoch)] == pytest.approx(
                h.history[f"val_{name}"][epoch])
        assert s[("train", "epoch_learning_rate", epoch)] == pytest.approx(0.001)
        assert s[("train", "epoch_steps_per_second", epoch)] > 0
    assert not any(tag.startswith("batch_") for _, tag, _ in s)  # update_freq="epoch"
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]


def test_batch_scalars_every_update_freq_steps_under_fused_steps(tmp_path):
    x, y = _data()
    m = _model()  # steps_per_execution="auto": steps fused, logs per step still reported
    h = m.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[trine.callbacks.TensorBoard(tmp_path, update_freq=2)])
    s = _scalars(tmp_path)
    steps = sorted(step for d, tag, step in s if tag == "batch_loss")
    assert steps == [2, 4, 6, 8]  # 4 steps an epoch, global step count
    # The last step of an epoch carries the epoch's running mean: History's value.
    assert s[("train", "batch_loss", 4)] == pytest.approx(h.history["loss"][0])
    assert s[("train", "batch_accuracy", 8)] == pytest.approx(h.history["accuracy"][1])


def test_histograms_graph_and_images(tmp_path):
    x, y = _data()
    m = _model()
    m.fit(x, y, batch_size=16, epochs=2, verbose=0,
          callbacks=[trine.callbacks.TensorBoard(tmp_path, histogram_freq=1, write_images=True)])
    events = [e for f in os.listdir(tmp_path / "train") if f.startswith("events")
              for e in _events(tmp_path / "train" / f)]
    hist = {(v.tag, e.step): v.histo for e in events for v in e.summary.value
            if v.HasField("histo")}
    kernel = sorted({t for t, _ in hist if t.endswith("/histogram") and "kernel" in t})
    assert len(kernel) == 2 and {st for _, st in hist} == {0, 1}
    first_kernel = m.layers[0].kernel.numpy()
    h = hist[(kernel[0], 1)] if "dense/" in kernel[0] or kernel[0] < kernel[1] else None
    assert h is not None and h.num == first_kernel.size
    assert h.min == pytest.approx(float(first_kernel.min()))
    assert h.max == pytest.approx(float(first_kernel.max()))
    images = {v.tag for e in events for v in e.summary.value if v.HasField("image")}
    assert any(t.endswith("/image") for t in images)
    graphs = [e.graph_def for e in events if e.graph_def]
    assert len(graphs) == 1
    from tensorboardX.proto import graph_pb2
    g = graph_pb2.GraphDef()
    g.ParseFromString(graphs[0])
    ops = {n.name: (n.op, list(n.input)) for n in g.node}
    dense = [n for n, (op, _) in ops.items() if op == "Dense"]
    assert len(dense) == 2
    assert any(ops[d][1] == [dense[0]] for d in dense) or any(
        ops[d][1] == [dense[1]] for d in dense)  # one Dense feeds the other


def test_profile_batch_writes_a_jax_trace(tmp_path):
    x, y = _data()
    m = _model()
    m.fit(x, y, batch_size=16, epochs=1, verbose=0,
          callbacks=[trine.callbacks.TensorBoard(tmp_path, profile_batch=2)])
    found = [f for _, _, files in os.walk(tmp_path / "train" / "plugins" / "profile")
             for f in files if f.endswith(".xplane.pb")]
    assert found


def test_evaluate_writes_evaluation_vs_iterations(tmp_path):
    x, y = _data()
    m = _model()
    tb = trine.callbacks.TensorBoard(tmp_path)
    m.fit(x, y, batch_size=16, verbose=0)
    loss, _ = m.evaluate(x, y, verbose=0, callbacks=[tb])
    s = _scalars(tmp_path)
    (found,) = [(d, st, v) for (d, tag, st), v in s.items()
                if tag == "evaluation_loss_vs_iterations"]
    assert found[0] == "validation" and found[2] == pytest.approx(loss)
    assert found[1] == 4  # steps trained so far (64 samples, batch 16): Keras's iterations


def test_bad_arguments_and_unwritable_log_dir(tmp_path):
    with pytest.raises(ValueError, match="update_freq must be 'epoch', 'batch'"):
        trine.callbacks.TensorBoard(tmp_path, update_freq=0)
    with pytest.raises(ValueError, match="profile_batch must be"):
        trine.callbacks.TensorBoard(tmp_path, profile_batch=(3, 1))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    x, y = _data()
    with pytest.raises(ValueError, match="log_dir .*file/run' cannot be written"):
        _model().fit(x, y, verbose=0,
                     callbacks=[trine.callbacks.TensorBoard(blocker / "run")])


def test_epoch_only_logging_adds_no_batch_hooks(tmp_path):
    from trine.training.callbacks import CallbackList
    cbs = CallbackList([trine.callbacks.TensorBoard(tmp_path)], model=_model())
    assert not cbs.has_batch_hooks("train")
    cbs = CallbackList([trine.callbacks.TensorBoard(tmp_path, update_freq="batch")],
                       model=_model())
    assert cbs.has_batch_hooks("train")


def test_embeddings_written_for_the_projector(tmp_path):
    trine.utils.set_random_seed(0)
    m = trine.Sequential([trine.layers.Input((3,), dtype="int32"),
                          trine.layers.Embedding(7, 2, name="words"),
                          trine.layers.Flatten(), trine.layers.Dense(1)])
    m.compile("sgd", "mse")
    x = np.random.default_rng(0).integers(0, 7, size=(16, 3)).astype("int32")
    labels = tmp_path / "labels.tsv"
    labels.write_text("\n".join(f"w{i}" for i in range(7)) + "\n")
    m.fit(x, np.zeros((16, 1), "float32"), verbose=0, epochs=1, callbacks=[
        trine.callbacks.TensorBoard(tmp_path / "logs", embeddings_freq=1,
                                    embeddings_metadata={"words": str(labels)})])
    found = {f: os.path.join(r, f) for r, _, fs in os.walk(tmp_path / "logs") for f in fs}
    assert "projector_config.pbtxt" in found
    table = np.loadtxt(found["tensors.tsv"], delimiter="\t", ndmin=2)
    np.testing.assert_allclose(table, m.get_layer("words").embeddings.numpy(), rtol=1e-5)
    assert open(found["metadata.tsv"]).read().split() == [f"w{i}" for i in range(7)]


def test_write_graph_traces_a_subclassed_model(tmp_path):
    class Two(trine.Model):
        def __init__(self):
            super().__init__()
            self.a = trine.layers.Dense(3, activation="relu")
            self.b = trine.layers.Dense(1, activation="sigmoid")

        def call(self, x):
            return self.b(self.a(x))

    trine.utils.set_random_seed(0)
    m = Two()
    m.compile("adam", "binary_crossentropy")
    x, y = _data()
    m.fit(x, y, verbose=0, callbacks=[trine.callbacks.TensorBoard(tmp_path)])
    from tensorboardX.proto import graph_pb2
    (raw,) = [e.graph_def for f in os.listdir(tmp_path / "train") if f.startswith("events")
              for e in _events(tmp_path / "train" / f) if e.graph_def]
    g = graph_pb2.GraphDef()
    g.ParseFromString(raw)
    ops = {n.name: (n.op, list(n.input)) for n in g.node}
    assert [op for op, _ in ops.values()].count("Dense") == 2
    assert ops[m.b.name][1] == [m.a.name]


def test_fit_validation_writes_evaluation_vs_iterations(tmp_path):
    # Keras's fit runs its validation through evaluate with the fit's callbacks: TensorBoard
    # writes evaluation_<name>_vs_iterations at the step count of each validated epoch.
    x, y = _data()
    m = _model()
    history = m.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x, y),
                    callbacks=[trine.callbacks.TensorBoard(tmp_path)])
    s = _scalars(tmp_path)
    found = sorted((st, v) for (d, tag, st), v in s.items()
                   if d == "validation" and tag == "evaluation_loss_vs_iterations")
    assert [st for st, _ in found] == [4, 8]  # 64 samples at batch 16: 4 steps an epoch
    assert [v for _, v in found] == pytest.approx(history.history["val_loss"])
