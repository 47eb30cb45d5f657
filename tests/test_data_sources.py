"""Dataset sources into fit / evaluate / predict: PyDataset (threads, processes), grain, and
Keras's rules for them; each compared with the same batches given as arrays."""
import os
import time

import numpy as np
import pytest

import trine
from trine.training import pydataset as pyds_mod
from trine.training.sources import source_kind

N, D, BS = 96, 4, 16


class Batches(trine.utils.PyDataset):
    """Row slices of x / y: the batches fit(x, y, batch_size=bs, shuffle=False) makes."""

    def __init__(self, x, y, bs, fail_at=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.bs, self.fail_at = x, y, bs, fail_at
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.bs)

    def __getitem__(self, i):
        if self.fail_at is not None and i == self.fail_at:
            raise RuntimeError(f"bad batch {i}")
        s = slice(i * self.bs, (i + 1) * self.bs)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def _data():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(N, D)).astype("float32"),
            rng.normal(size=(N, 1)).astype("float32"))


def _model(steps_per_execution="auto"):
    trine.utils.set_random_seed(3)
    m = trine.Sequential([trine.layers.Input((D,)), trine.layers.Dense(5, activation="relu"),
                          trine.layers.Dense(1)])
    m.compile("sgd", "mse", metrics=["mae"], steps_per_execution=steps_per_execution)
    return m


def _same(m1, h1, m2, h2):
    assert h1.history == h2.history
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)


def _children():
    """Live child processes of this process, from the process table (/proc)."""
    me, kids = os.getpid(), []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            kids.append(int(pid))
    return kids


@pytest.mark.parametrize("spe", ["auto", 1])
@pytest.mark.parametrize("kw", [{}, {"workers": 3}, {"workers": 2, "use_multiprocessing": True}],
                         ids=["main", "threads", "processes"])
def test_pydataset_equals_arrays(kw, spe):
    x, y = _data()
    m1 = _model(spe)
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    m2 = _model(spe)
    ds = Batches(x, y, BS, **kw)
    h2 = m2.fit(ds, epochs=2, shuffle=False, verbose=0)
    _same(m1, h1, m2, h2)
    assert ds.epochs_ended == 2
    if spe == "auto":  # evaluate / predict share the loop; once a worker kind is enough
        assert m2.evaluate(ds, verbose=0) == m1.evaluate(x, y, batch_size=BS, verbose=0)
        np.testing.assert_array_equal(m2.predict(ds, verbose=0),
                                      m1.predict(x, batch_size=BS, verbose=0))
    assert not _children()


def test_pydataset_validation_data_and_sequence_alias():
    x, y = _data()
    assert trine.utils.Sequence is trine.utils.PyDataset
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0,
                validation_data=(x[:32], y[:32]))
    m2 = _model()
    h2 = m2.fit(Batches(x, y, BS), epochs=2, shuffle=False, verbose=0,
                validation_data=Batches(x[:32], y[:32], BS, workers=2))
    _same(m1, h1, m2, h2)


def test_pydataset_shuffle_is_a_batch_permutation_seeded_by_the_global_seed():
    x, y = _data()
    seen = []

    class Logged(Batches):
        def __getitem__(self, i):
            seen.append(i)
            return super().__getitem__(i)

    m = _model()
    m.fit(Logged(x, y, BS), epochs=2, verbose=0)  # shuffle=True: batch order per epoch
    n = N // BS
    first, second = seen[1:1 + n], seen[1 + n:]  # seen[0]: the peek that builds the model
    assert sorted(first) == sorted(second) == list(range(n))
    assert first != list(range(n)) and first != second
    seen.clear()
    m = _model()
    m.fit(Logged(x, y, BS), epochs=2, verbose=0)
    assert seen[1:] == first + second  # same seed, same orders


def test_steps_per_epoch_continues_the_pass_across_epochs():
    x, y = _data()
    seen = []

    class Logged(Batches):
        def __getitem__(self, i):
            seen.append(i)
            return super().__getitem__(i)

    ds = Logged(x, y, BS)  # 6 batches
    # Keras: epoch 2 takes batches 4, 5, ends the pass and warns; epoch 3 starts a new one.
    with pytest.warns(UserWarning, match="ran out of data after 2 of steps_per_epoch=4"):
        _model().fit(ds, epochs=3, steps_per_epoch=4, shuffle=False, verbose=0)
    assert seen[1:] == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]
    assert ds.epochs_ended == 1


def test_class_weight_with_pydataset_matches_arrays():
    x, _ = _data()
    y = (x[:, :1] > 0).astype("float32")
    cw = {0: 0.5, 1: 2.0}
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=1, shuffle=False, class_weight=cw, verbose=0)
    m2 = _model()
    h2 = m2.fit(Batches(x, y, BS), epochs=1, shuffle=False, class_weight=cw, verbose=0)
    _same(m1, h1, m2, h2)


def test_y_or_sample_weight_with_a_dataset_is_an_error():
    x, y = _data()
    m = _model()
    with pytest.raises(ValueError, match="PyDataset, `y` should not be passed"):
        m.fit(Batches(x, y, BS), y, verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` should not be passed"):
        m.fit(Batches(x, y, BS), sample_weight=np.ones(N), verbose=0)


def test_length_zero_is_an_error():
    x, y = _data()
    with pytest.raises(ValueError, match="has length 0"):
        _model().fit(Batches(x[:0], y[:0], BS), verbose=0)


def test_batches_changing_shape_or_dtype_mid_epoch_are_an_error():
    x, y = _data()

    class Drifting(Batches):
        def __getitem__(self, i):
            bx, by = super().__getitem__(i)
            return (bx[:, :3] if i == 2 else bx), by

    with pytest.raises(ValueError, match=r"batch 2 has per-sample shapes and dtypes \(3,\)"):
        _model().fit(Drifting(x, y, BS), shuffle=False, verbose=0)

    class Retyped(Batches):
        def __getitem__(self, i):
            bx, by = super().__getitem__(i)
            return bx, (by.astype("int32") if i == 3 else by)

    with pytest.raises(ValueError, match="int32"):
        _model().fit(Retyped(x, y, BS), shuffle=False, verbose=0)


def test_a_short_last_batch_is_fine():
    x, y = _data()
    m1 = _model()
    h1 = m1.fit(x[:90], y[:90], batch_size=BS, epochs=1, shuffle=False, verbose=0)
    m2 = _model()
    h2 = m2.fit(Batches(x[:90], y[:90], BS, workers=2), epochs=1, shuffle=False, verbose=0)
    _same(m1, h1, m2, h2)


@pytest.mark.parametrize("kw", [{"workers": 4, "use_multiprocessing": True}, {"workers": 4}],
                         ids=["processes", "threads"])
def test_worker_error_surfaces_with_traceback_and_no_worker_remains(kw):
    x, y = _data()
    m = _model(steps_per_execution=1)
    before = [w.copy() for w in m.get_weights()]
    with pytest.raises(RuntimeError, match="bad batch 4") as info:
        m.fit(Batches(x, y, BS, fail_at=4, **kw), shuffle=False, verbose=0)
    text = "".join(__import__("traceback").format_exception(info.value))
    assert "__getitem__" in text  # the worker's own frame is shown
    deadline = time.time() + 5
    while _children() and time.time() < deadline:
        time.sleep(0.05)
    assert not _children()
    # The model keeps what the four completed steps trained.
    ref = _model(steps_per_execution=1)
    ref.fit(x[:4 * BS], y[:4 * BS], batch_size=BS, shuffle=False, verbose=0)
    for a, b, c in zip(m.get_weights(), ref.get_weights(), before):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_fit_interrupted_by_a_callback_leaves_no_worker():
    x, y = _data()

    class Interrupt(trine.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _model(1).fit(Batches(x, y, BS, workers=2, use_multiprocessing=True), verbose=0,
                      callbacks=[Interrupt()])
    assert not _children()


def test_generator_raising_mid_epoch_keeps_completed_steps():
    x, y = _data()

    def gen():
        for i in range(6):
            if i == 3:
                raise OSError("disk went away")
            yield x[i * BS:(i + 1) * BS], y[i * BS:(i + 1) * BS]

    m = _model(1)
    with pytest.raises(OSError, match="disk went away"):
        m.fit(gen(), verbose=0)
    ref = _model(1)
    ref.fit(x[:3 * BS], y[:3 * BS], batch_size=BS, shuffle=False, verbose=0)
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_pydataset_arguments_are_checked():
    with pytest.raises(ValueError, match="max_queue_size must be an integer >= 1"):
        Batches(*_data(), BS, max_queue_size=0)
    with pytest.raises(ValueError, match="workers must be an integer >= 0"):
        Batches(*_data(), BS, workers=-1)

    class NoInit(trine.utils.PyDataset):
        def __len__(self):
            return 1

    ds = NoInit()  # forgot super().__init__(): Keras's defaults
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size) == (1, False, 10)


def test_ordered_batches_keeps_index_order_under_uneven_work():
    class Slow:
        def __getitem__(self, i):
            time.sleep(0.02 * (5 - i % 5))
            return i

    out = list(pyds_mod.ordered_batches(Slow(), range(12), 4, False, 6))
    assert out == list(range(12))


def test_import_trine_imports_no_optional_data_library():
    import subprocess
    import sys
    code = ("import sys, trine; bad = [m for m in ('grain', 'torch', 'tensorflow', 'datasets', "
            "'tensorboardX', 'PIL') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


# ---------------------------------------------------------------------------- grain
def _grain():
    import grain as g
    return g


def test_grain_map_dataset_equals_arrays():
    g = _grain()
    x, y = _data()
    ds = g.MapDataset.source(list(zip(x, y))).batch(BS)
    assert source_kind(ds) == "grain dataset"
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    m2 = _model()
    h2 = m2.fit(ds, epochs=2, shuffle=False, verbose=0)
    _same(m1, h1, m2, h2)
    np.testing.assert_array_equal(m2.predict(ds.map(lambda b: b[0]), verbose=0),
                                  m1.predict(x, batch_size=BS, verbose=0))


def test_grain_iter_dataset_with_prefetch_equals_arrays():
    g = _grain()
    x, y = _data()
    ds = g.MapDataset.source(list(zip(x, y))).to_iter_dataset().batch(BS)
    assert source_kind(ds) == "grain dataset"
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    m2 = _model()
    with pytest.warns(UserWarning, match="shuffle=True is ignored"):
        h2 = m2.fit(ds, epochs=2, verbose=0)
    _same(m1, h1, m2, h2)


def test_grain_data_loader_equals_arrays():
    g = _grain()
    x, y = _data()
    loader = g.DataLoader(data_source=list(zip(x, y)),
                          sampler=g.samplers.SequentialSampler(N, g.sharding.NoSharding()),
                          operations=[g.transforms.Batch(BS)], worker_count=0)
    assert source_kind(loader) == "grain dataset"
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    m2 = _model()
    h2 = m2.fit(loader, epochs=2, shuffle=False, verbose=0)
    _same(m1, h1, m2, h2)


def test_grain_with_y_is_an_error():
    g = _grain()
    x, y = _data()
    with pytest.raises(ValueError, match="grain dataset, `y` should not be passed"):
        _model().fit(g.MapDataset.source(list(zip(x, y))).batch(BS), y, verbose=0)


# ---------------------------------------------------------------------------- torch
def test_torch_data_loader_equals_arrays():
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    x, y = _data()
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=BS,
                        shuffle=False)
    assert source_kind(loader) == "torch DataLoader"
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    m2 = _model()
    h2 = m2.fit(loader, epochs=2, shuffle=False, verbose=0)
    _same(m1, h1, m2, h2)
    np.testing.assert_array_equal(
        m2.predict(DataLoader(TensorDataset(torch.from_numpy(x)), batch_size=BS), verbose=0),
        m1.predict(x, batch_size=BS, verbose=0))
    with pytest.raises(ValueError, match="torch DataLoader, `y` should not be passed"):
        m2.fit(loader, y, verbose=0)
    with pytest.raises(ValueError, match="class_weight is not supported with a torch"):
        m2.fit(loader, class_weight={0: 1.0}, verbose=0)


# ---------------------------------------------------------------------------- tf.data
def test_tf_data_dataset_equals_arrays():
    import tensorflow as tf
    x, y = _data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(BS)
    assert source_kind(ds) == "tf.data.Dataset"
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    m2 = _model()
    h2 = m2.fit(ds.prefetch(2), epochs=2, verbose=0)
    _same(m1, h1, m2, h2)
    with_val = _model().fit(ds, epochs=2, verbose=0, validation_data=ds).history
    assert with_val == _model().fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0,
                                    validation_data=(x, y)).history
    assert m2.evaluate(ds, verbose=0) == m1.evaluate(x, y, batch_size=BS, verbose=0)
    np.testing.assert_array_equal(
        m2.predict(tf.data.Dataset.from_tensor_slices(x).batch(BS), verbose=0),
        m1.predict(x, batch_size=BS, verbose=0))
    with pytest.raises(ValueError, match="tf.data.Dataset, `y` should not be passed"):
        m2.fit(ds, y, verbose=0)


def test_callbacks_see_the_steps_of_an_epoch():
    x, y = _data()
    seen = {}

    class Params(trine.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen["steps"] = self.params["steps"]

    _model().fit(Batches(x, y, BS), verbose=0, callbacks=[Params()])
    assert seen["steps"] == N // BS
    _model().fit(Batches(x, y, BS), steps_per_epoch=2, verbose=0, callbacks=[Params()])
    assert seen["steps"] == 2


# ---------------------------------------------------------------------------- Hugging Face
@pytest.mark.parametrize("fmt", ["numpy", "jax"])
def test_hugging_face_dataset_equals_arrays(fmt):
    import datasets as hf
    x, y = _data()
    ds = hf.Dataset.from_dict({"features": x, "label": y}).with_format(fmt)
    assert source_kind(ds) == "Hugging Face Dataset"
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    m2 = _model()
    h2 = m2.fit(ds, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    _same(m1, h1, m2, h2)
    assert m2.evaluate(ds, batch_size=BS, verbose=0) == m1.evaluate(x, y, batch_size=BS,
                                                                    verbose=0)
    np.testing.assert_array_equal(
        m2.predict(hf.Dataset.from_dict({"features": x}).with_format(fmt), batch_size=BS,
                   verbose=0),
        m1.predict(x, batch_size=BS, verbose=0))


def test_hugging_face_dataset_needs_numpy_or_jax_format_and_no_y():
    import datasets as hf
    x, y = _data()
    ds = hf.Dataset.from_dict({"features": x, "label": y})
    with pytest.raises(ValueError, match="with_format\\('numpy'\\)"):
        _model().fit(ds, verbose=0)
    with pytest.raises(ValueError, match="Hugging Face Dataset, `y` should not be passed"):
        _model().fit(ds.with_format("numpy"), y, verbose=0)


def test_a_keras_pydataset_subclass_feeds_trine_unchanged():
    import keras
    x, y = _data()

    class KerasBatches(keras.utils.PyDataset):  # code written for Keras, import unchanged
        def __len__(self):
            return N // BS

        def __getitem__(self, i):
            return x[i * BS:(i + 1) * BS], y[i * BS:(i + 1) * BS]

    ds = KerasBatches(workers=2)
    assert source_kind(ds) == "PyDataset"
    m1 = _model()
    h1 = m1.fit(x, y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    m2 = _model()
    h2 = m2.fit(ds, epochs=2, shuffle=False, verbose=0)
    _same(m1, h1, m2, h2)
