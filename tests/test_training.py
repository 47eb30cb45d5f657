"""compile / fit / evaluate / predict, data forms, callbacks, fusion and bad input."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import trine as keras
from trine.layers import Dense, Dropout, Flatten, Input, concatenate
from trine.models import Model, Sequential


def toy_data(n=256, d=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=(d, classes))
    y = np.argmax(x @ w, axis=1).astype(np.int32)
    return x, y


def mlp(d=8, classes=3, dropout=0.0):
    layers = [Input(shape=(d,)), Dense(16, activation="relu")]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(classes, activation="softmax"))
    return Sequential(layers)


def compiled(model, **kw):
    kw.setdefault("optimizer", "adam")
    kw.setdefault("loss", "sparse_categorical_crossentropy")
    kw.setdefault("metrics", ["accuracy"])
    model.compile(**kw)
    return model


def test_fit_learns_and_history_has_every_epoch():
    x, y = toy_data()
    m = compiled(mlp())
    h = m.fit(x, y, epochs=30, batch_size=16, verbose=0, validation_split=0.25)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 30 for v in h.history.values())
    assert h.history["loss"][-1] < h.history["loss"][0]
    loss, acc = m.evaluate(x, y, verbose=0)
    assert acc > 0.8
    d = m.evaluate(x, y, verbose=0, return_dict=True)
    assert d["loss"] == pytest.approx(loss) and d["accuracy"] == pytest.approx(acc)
    p = m.predict(x, verbose=0, batch_size=50)
    assert p.shape == (256, 3) and isinstance(p, np.ndarray)
    assert (np.argmax(p, 1) == y).mean() == pytest.approx(acc)


def test_evaluate_matches_manual_computation():
    x, y = toy_data(n=100)
    m = compiled(mlp())
    m.fit(x, y, epochs=1, verbose=0)
    p = m.predict(x, verbose=0)
    pc = np.clip(p / p.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    manual = -np.log(pc[np.arange(100), y]).mean()
    loss, acc = m.evaluate(x, y, batch_size=32, verbose=0)
    assert loss == pytest.approx(manual, rel=1e-5)
    assert acc == pytest.approx((p.argmax(1) == y).mean())


def test_validation_split_takes_last_fraction_before_shuffle():
    x, y = toy_data(n=100)
    m = compiled(mlp())
    h = m.fit(x, y, epochs=1, verbose=0, validation_split=0.2, shuffle=True)
    val = m.evaluate(x[80:], y[80:], verbose=0, return_dict=True)
    # the validation at the end of the epoch used exactly the last 20 rows
    assert h.history["val_loss"][0] == pytest.approx(val["loss"], rel=1e-6)


def test_two_input_model_trains_end_to_end():
    input1 = Input(shape=(784,), name="input_1")
    input2 = Input(shape=(784,), name="input_2")
    x1 = Dense(64, activation="relu", name="dense_1")(input1)
    x2 = Dense(64, activation="relu", name="dense_2")(input2)
    concat = concatenate([x1, x2], name="concat")
    x = Dense(32, activation="tanh", name="dense_3")(concat)
    outputs = Dense(10, activation="softmax", name="output")(x)
    model = Model(inputs=[input1, input2], outputs=outputs)
    rng = np.random.default_rng(0)
    a = rng.random((512, 784), dtype=np.float32)
    b = rng.random((512, 784), dtype=np.float32)
    y = (a[:, :10].argmax(1)).astype(np.int32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit([a, b], y, epochs=8, batch_size=32, verbose=0)
    assert h.history["accuracy"][-1] > h.history["accuracy"][0]
    assert model.predict([a, b], verbose=0).shape == (512, 10)
    d = model.fit({"input_1": a, "input_2": b}, y, epochs=1, verbose=0)
    assert len(d.history["loss"]) == 1


def test_multi_output_losses_and_weights():
    inp = Input(shape=(8,))
    h = Dense(16, activation="relu")(inp)
    m = Model(inp, [Dense(3, activation="softmax", name="cls")(h), Dense(1, name="reg")(h)])
    m.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"],
              loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]])
    x, y = toy_data()
    r = x.sum(1, keepdims=True)
    h = m.fit(x, [y, r], epochs=2, verbose=0)
    assert {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"} <= set(h.history)
    d = m.evaluate(x, [y, r], verbose=0, return_dict=True)
    assert d["loss"] == pytest.approx(d["cls_loss"] + 0.5 * d["reg_loss"], rel=1e-5)


def test_generator_input():
    x, y = toy_data()

    def batches():
        for i in range(0, 256, 32):
            yield x[i:i + 32], y[i:i + 32]

    class Batches:  # re-iterable: each epoch starts again
        def __iter__(self):
            return batches()

    m = compiled(mlp())
    h = m.fit(Batches(), epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
    assert m.evaluate(batches(), verbose=0)[0] > 0
    assert m.predict(((xb,) for xb, _ in batches()), verbose=0).shape == (256, 3)


def test_sample_weight_and_class_weight():
    x, y = toy_data(n=64)
    m = compiled(mlp(), optimizer="sgd")
    m.fit(x, y, epochs=1, verbose=0)
    base = m.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    sw = np.zeros(64, np.float32)
    sw[:32] = 2.0
    weighted = m.evaluate(x, y, sample_weight=sw, verbose=0, batch_size=64, return_dict=True)["loss"]
    p = m.predict(x, verbose=0)
    per = -np.log(np.clip(p[np.arange(64), y], 1e-7, 1))
    assert weighted == pytest.approx((per * sw).sum() / 64, rel=1e-5)
    assert weighted != pytest.approx(base)
    h = m.fit(x, y, class_weight={0: 1.0, 1: 2.0, 2: 0.5}, epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"][0])


def test_on_batch_methods():
    x, y = toy_data(n=32)
    m = compiled(mlp())
    before = m.get_weights()
    out = m.train_on_batch(x, y)
    assert len(out) == 2 and np.isfinite(out[0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    d = m.test_on_batch(x, y, return_dict=True)
    assert set(d) == {"loss", "accuracy"}
    assert m.predict_on_batch(x).shape == (32, 3)


def assert_runs_identical(runs):
    """Each (weights, history, predictions) equals the first, bit for bit."""
    w0, h0, p0 = runs[0]
    for w, h, p in runs[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(w0, w))
        assert h == h0
        assert np.array_equal(p, p0)


def test_fused_and_unfused_are_bit_identical():
    x, y = toy_data(n=300)
    runs = []
    for spe in (1, 7, "auto", "epoch"):
        keras.utils.set_random_seed(3)
        m = compiled(mlp(dropout=0.3), steps_per_execution=spe)
        h = m.fit(x, y, epochs=3, batch_size=32, verbose=0)
        runs.append((m.get_weights(), h.history, m.predict(x, verbose=0)))
    assert_runs_identical(runs)


def test_no_recompilation_across_epochs_and_partial_batch():
    x, y = toy_data(n=300)  # 9 full batches of 32 and a partial one of 12
    m = compiled(mlp(), steps_per_execution=4)
    m.fit(x, y, epochs=3, batch_size=32, verbose=0)
    first = dict(m.trace_counts)
    m.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert dict(m.trace_counts) == first
    # one program for the chunk and one for the partial batch
    assert first["train"] == 2


def test_callbacks_see_every_step_with_fusion():
    x, y = toy_data(n=320)
    seen = []
    cb = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append((batch, logs["loss"])))
    m = compiled(mlp(), steps_per_execution=4)
    m.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[cb])
    assert [b for b, _ in seen] == list(range(10)) * 2
    assert all(math.isfinite(l) for _, l in seen)


def assert_same_fit(x, y, configure, variants, **fit_kwargs):
    """Fit a fresh seeded model once per variant (after `configure(variant)`): weights and
    history must be exactly equal across them."""
    results = []
    for v in variants:
        configure(v)
        keras.utils.set_random_seed(5)
        m = compiled(mlp(), steps_per_execution=4)
        h = m.fit(x, y, epochs=2, batch_size=32, verbose=0, **fit_kwargs)
        results.append((m.get_weights(), h.history))
    assert all(np.array_equal(a, b) for a, b in zip(results[0][0], results[1][0]))
    assert results[0][1] == results[1][1]


def test_streaming_path_gives_same_result(monkeypatch):
    x, y = toy_data(n=300)
    assert_same_fit(x, y, lambda budget: keras.config.set_execution_policy(
        device_data_budget=budget), (1 << 30, 0))


def test_sliced_device_put_is_the_same_data_and_the_same_fit(monkeypatch):
    """Accelerators get large arrays as row slices joined on the device (faster over the
    host link); forced here on the CPU with a tiny slice size: the arrays, the tree and a
    fit's weights and history are exactly those of a plain put."""
    from trine.training import data as data_mod
    rng = np.random.default_rng(0)
    tree = ({"a": rng.random((1001, 7), dtype=np.float32)}, rng.integers(0, 9, 1001),
            np.arange(3, dtype=np.float32), jnp.ones((5, 2)))
    monkeypatch.setattr(data_mod, "_SLICE_BYTES", 1000)
    out = data_mod.put_on_device(tree, sliced=True)
    assert jax.tree_util.tree_structure(out) == jax.tree_util.tree_structure(tree)
    plain = jax.device_put(tree)
    for got, want in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(plain)):
        assert isinstance(got, jax.Array) and got.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    x, y = toy_data(n=300)
    keras.config.set_execution_policy(device_data_budget=1 << 30)
    put = data_mod.put_on_device
    assert_same_fit(x, y, lambda sliced: monkeypatch.setattr(
        data_mod, "put_on_device", lambda t: put(t, sliced=sliced)), (False, True))


def test_fit_before_compile_is_a_clear_error():
    with pytest.raises(RuntimeError, match="compile\\(\\)"):
        mlp().fit(*toy_data(), verbose=0)


def test_mismatched_sample_counts():
    x, y = toy_data()
    m = compiled(mlp())
    with pytest.raises(ValueError, match="x: 256.*y: 255"):
        m.fit(x, y[:-1], verbose=0)


@pytest.mark.parametrize("bad", [3, -1])
def test_labels_out_of_range(bad):
    x, y = toy_data(n=64)
    y = y.copy()
    y[5] = bad
    m = compiled(mlp())
    with pytest.raises(ValueError, match=f"\\[0, 3\\).*{bad}"):
        m.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="\\[0, 3\\)"):
        m.evaluate(x, y, verbose=0)


def test_device_labels_are_checked_once_per_array():
    """JAX labels are immutable: one passed check stands for that array object (fetching it
    again would sync with the device on every call); a new array is checked afresh."""
    from trine.training import compile as compile_mod
    x, y = toy_data(n=64)
    good = jnp.asarray(y)
    m = compiled(mlp())
    m.fit(x, good, verbose=0)
    assert compile_mod.labels_known_good(good, (3, None))
    m.fit(x, good, verbose=0)
    bad = jnp.asarray(y).at[7].set(3)
    assert not compile_mod.labels_known_good(bad, (3, None))
    with pytest.raises(ValueError, match="\\[0, 3\\).*3"):
        m.fit(x, bad, verbose=0)
    assert not compile_mod.labels_known_good(bad, (3, None))
    assert not compile_mod.labels_known_good(y, (3, None))  # NumPy: always checked
    key = id(good)
    del good
    import gc
    gc.collect()
    assert key not in compile_mod.GOOD_LABELS


def test_repeated_fits_shuffle_afresh_and_equal_one_longer_fit():
    """Keras shuffles each fit(epochs=1) call of a loop differently; here the n-th epoch a
    model trains is shuffled by n, so two fits of one epoch give exactly the weights and
    losses of one fit of two epochs, and differ from the same epoch shuffled twice alike."""
    x, y = toy_data(n=256)

    def model():
        keras.utils.set_random_seed(11)
        return compiled(mlp(), optimizer=keras.optimizers.SGD(0.1))

    a, b = model(), model()
    ha = a.fit(x, y, epochs=2, batch_size=32, verbose=0)
    hb = [b.fit(x, y, epochs=1, batch_size=32, verbose=0).history["loss"][0] for _ in range(2)]
    assert ha.history["loss"] == hb
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    from trine.training import data as data_mod
    orders = []
    real = data_mod.ArrayData.permutation
    c = model()
    try:
        data_mod.ArrayData.permutation = lambda self, seed: orders.append(seed) or real(self, seed)
        c.fit(x, y, epochs=1, batch_size=32, verbose=0)
        c.fit(x, y, epochs=1, batch_size=32, verbose=0)
        c.fit(x, y, epochs=2, initial_epoch=1, batch_size=32, verbose=0)  # resumes at 2
        c.fit(x, y, epochs=7, initial_epoch=6, batch_size=32, verbose=0)  # names epoch 6
    finally:
        data_mod.ArrayData.permutation = real
    assert [s[-1] for s in orders] == [0, 1, 2, 6]
    first, second = (real(data_mod.ArrayData(x, y, shuffle=True), s) for s in orders[:2])
    assert not np.array_equal(first, second)
    d = data_mod.ArrayData(x, y, shuffle=True)  # drawn ahead on the worker: the same numbers
    d.permutation_ahead(orders[1])
    np.testing.assert_array_equal(d.permutation(orders[1]), second)
    d.permutation_ahead(orders[0])  # a different seed asked for: drawn directly
    np.testing.assert_array_equal(d.permutation(orders[1]), second)


def test_background_device_copy_gives_the_same_fit(monkeypatch):
    """On accelerators the resident copy starts on a worker thread as fit begins; forced
    here on the CPU, a fit and its validation are exactly those of the direct copy."""
    from trine.training import data as data_mod
    x, y = toy_data(n=300)
    keras.config.set_execution_policy(device_data_budget=1 << 30)
    start = data_mod.ArrayData.start_device_copy
    assert_same_fit(x, y, lambda background: monkeypatch.setattr(
        data_mod.ArrayData, "start_device_copy",
        lambda self: start(self, background=background)), (False, True),
        validation_split=0.25)
    d = data_mod.ArrayData(x, y)
    start(d, background=True)  # the method as written (the patch above still stands)
    assert d._copying is not None
    dev = d.device_arrays()
    assert d._copying is None and isinstance(dev[0], jax.Array)
    np.testing.assert_array_equal(np.asarray(dev[0]), x)


def test_unknown_names_list_valid_ones():
    with pytest.raises(ValueError, match="sgd"):
        mlp().compile(optimizer="sgdd", loss="mse")
    with pytest.raises(ValueError, match="mean_squared_error|mse"):
        mlp().compile(optimizer="sgd", loss="msee")
    with pytest.raises(ValueError, match="accuracy"):
        mlp().compile(optimizer="sgd", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="relu"):
        Dense(3, activation="rleu")


def test_terminate_on_nan_keeps_last_finite_weights():
    x, y = toy_data(n=128)
    x = x.copy()
    x[70] = np.nan  # batch 2 (rows 64..95) produces a NaN loss
    m = compiled(mlp(), optimizer="sgd", steps_per_execution=4)
    w_init = m.get_weights()
    seen = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs["loss"]))
    m.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0,
          callbacks=[keras.callbacks.TerminateOnNaN(), cb])
    assert math.isnan(seen[-1]) and len(seen) == 3
    assert all(np.all(np.isfinite(w)) for w in m.get_weights())
    # the same weights as training on the first two batches only
    ref = compiled(mlp(), optimizer="sgd")
    ref.set_weights(w_init)
    ref.fit(x[:64], y[:64], epochs=1, batch_size=32, shuffle=False, verbose=0)
    for a, b in zip(ref.get_weights(), m.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_optax_transformation_as_optimizer():
    import optax
    x, y = toy_data()
    m = compiled(mlp(), optimizer=optax.adam(1e-2))
    h = m.fit(x, y, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


def test_learning_rate_callbacks_change_training():
    x, y = toy_data()
    m = compiled(mlp(), optimizer="sgd")
    sched = keras.callbacks.LearningRateScheduler(lambda epoch: 0.0)
    w0 = m.get_weights()
    m.fit(x, y, epochs=2, verbose=0, callbacks=[sched])
    assert all(np.array_equal(a, b) for a, b in zip(w0, m.get_weights()))


def test_early_stopping_restores_best():
    x, y = toy_data()
    m = compiled(mlp())
    es = keras.callbacks.EarlyStopping(monitor="loss", patience=0, restore_best_weights=True,
                                       min_delta=10.0)
    h = m.fit(x, y, epochs=10, verbose=0, callbacks=[es])
    assert len(h.history["loss"]) == 2


def test_progress_output_formats(capsys):
    x, y = toy_data(n=64)
    m = compiled(mlp())
    m.fit(x, y, epochs=2, batch_size=32, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out and "accuracy:" in out
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert capsys.readouterr().out == ""
    m.fit(x, y, epochs=1, batch_size=32, verbose=1)
    out = capsys.readouterr().out
    assert "2/2" in out and "━" in out


def test_regularizer_losses_reach_the_loss():
    x, y = toy_data(n=64)
    keras.utils.set_random_seed(0)
    a = compiled(Sequential([Input(shape=(8,)), Dense(3, activation="softmax",
                                                      kernel_regularizer=keras.regularizers.L2(1.0))]))
    keras.utils.set_random_seed(0)
    b = compiled(Sequential([Input(shape=(8,)), Dense(3, activation="softmax")]))
    la = a.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    lb = b.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    k = a.layers[0].kernel.numpy()
    assert la == pytest.approx(lb + float((k ** 2).sum()), rel=1e-5)


@pytest.mark.parametrize("budget", [1 << 30, 0], ids=["device-resident", "streaming"])
def test_donated_state_path_matches_and_never_reuses_deleted_arrays(monkeypatch, budget):
    """Off the CPU fit donates its train state; force that path here (the CPU honours
    donation too) through auto's measurement, a second fit, evaluate, predict and a
    checkpoint of the weights, and check it gives exactly the undonated results."""
    keras.config.set_execution_policy(device_data_budget=budget)
    x, y = toy_data(n=1100)  # enough batches for auto to measure
    runs = []
    for donate in (False, True):
        keras.config.set_execution_policy(donate_state=donate)
        keras.utils.set_random_seed(9)
        m = compiled(mlp(dropout=0.2))
        h = m.fit(x, y, epochs=2, batch_size=32, verbose=0)
        w_mid = m.get_weights()
        h2 = m.fit(x, y, epochs=1, batch_size=32, verbose=0, validation_split=0.1)
        ev = m.evaluate(x, y, verbose=0)
        runs.append((w_mid, m.get_weights(), h.history, h2.history, ev,
                     m.predict(x, verbose=0)))
    a, b = runs
    for wa, wb in zip(a[0] + a[1], b[0] + b[1]):
        assert np.array_equal(wa, wb)
    assert a[2:5] == b[2:5]
    assert np.array_equal(a[5], b[5])


@pytest.mark.parametrize("source", ["device-resident", "streaming", "generator"])
def test_fixed_trip_count_loops_match_single_steps(monkeypatch, source):
    """Accelerators run each fused chunk as a loop of fixed length (a run-time trip count
    makes a GPU read the loop predicate back every step); the last partial chunk then gets a
    program of its own length. Force that path on the CPU: every steps_per_execution gives the
    single-step results bit for bit, and later epochs compile nothing new."""
    keras.config.set_execution_policy(static_loops=True)
    if source == "streaming":
        keras.config.set_execution_policy(device_data_budget=0)
    x, y = toy_data(n=300)  # 9 full batches of 32 and a partial one of 12

    def data():
        if source == "generator":
            class Batches:  # re-iterable, one pass per epoch
                def __iter__(self):
                    return ((x[i:i + 32], y[i:i + 32]) for i in range(0, 300, 32))
            return dict(x=Batches())
        return dict(x=x, y=y, batch_size=32)

    runs = []
    for spe in (1, 4, "auto", "epoch"):
        keras.utils.set_random_seed(3)
        m = compiled(mlp(dropout=0.3), steps_per_execution=spe)
        h = m.fit(**data(), epochs=2, verbose=0, shuffle=False)
        counts = dict(m.trace_counts)
        m.fit(**data(), epochs=1, verbose=0, shuffle=False)
        assert dict(m.trace_counts) == counts, spe  # no recompilation in later epochs
        runs.append((m.get_weights(), h.history, m.predict(x, verbose=0)))
    assert_runs_identical(runs)


@pytest.mark.parametrize("budget,source", [(1 << 30, "gather"), (0, "stacked")],
                         ids=["device-resident", "streaming"])
def test_auto_fuses_dense_and_library_layout_convolution_steps_on_cpu(
        monkeypatch, budget, source):
    """On the CPU "auto" reads one traced step's jaxpr: dense models and trine's
    convolutions (channels-last or -first, grouped or depthwise: all in the CPU runtime's
    library layout or elementwise there) fuse AUTO_CHUNK steps per call; a convolution
    outside that layout written with `jax.lax` (XLA's CPU backend runs its gradients many
    times slower in a loop body) makes every call one step. One program is compiled either
    way, and results equal steps_per_execution=1 bit for bit."""
    keras.config.set_execution_policy(device_data_budget=budget)
    x, y = toy_data(n=2100)
    runs = []
    for spe in (1, "auto"):
        keras.utils.set_random_seed(4)
        m = compiled(mlp(dropout=0.2), steps_per_execution=spe)
        h = m.fit(x, y, epochs=2, batch_size=32, verbose=0)
        runs.append((m.get_weights(), h.history, m))
    auto = runs[1][2]
    assert auto._auto_k["train"] == auto.AUTO_CHUNK
    # two programs traced once each: the fused chunk and the last, shorter batch; no
    # single-step program was built
    assert auto.trace_counts["train"] == 2
    assert not [key for key in auto._trainer_cache if key[:3] == ("train", source, 1)]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))
    assert runs[0][1] == runs[1][1]

    xi = np.random.default_rng(0).random((300, 8, 8, 2), np.float32)
    yi = (xi.mean(axis=(1, 2, 3)) > 0.5).astype(np.int32)
    def lax_channels_first(t):
        kernel = jnp.ones((4, 4, 3, 3), t.dtype) / 36.0
        return jax.lax.conv_general_dilated(t, kernel, (1, 1), "SAME",
                                            dimension_numbers=("NCHW", "OIHW", "NCHW"))

    for data_format, fused in (("channels_last", True), ("channels_first", True),
                               ("lax_channels_first", False)):
        if data_format == "channels_first":
            xi = np.ascontiguousarray(xi.transpose(0, 3, 1, 2))
        layer_format = "channels_first" if data_format == "lax_channels_first" else data_format
        runs = []
        for spe in (1, "auto"):
            keras.utils.set_random_seed(4)
            extra = ([keras.layers.Lambda(lax_channels_first)]
                     if data_format == "lax_channels_first" else [])
            cnn = keras.Sequential([
                keras.Input(xi.shape[1:]),
                keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                                    data_format=layer_format),
                keras.layers.DepthwiseConv2D(3, padding="same", data_format=layer_format),
                keras.layers.Conv2D(4, 3, padding="same", groups=2, data_format=layer_format),
                *extra,
                keras.layers.Conv2D(4, 3, activation="relu", data_format=layer_format),
                keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
            cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                        steps_per_execution=spe)
            h = cnn.fit(xi, yi, epochs=2, batch_size=32, verbose=0)
            cnn.evaluate(xi, yi, verbose=0)
            runs.append((cnn.get_weights(), h.history, cnn))
        cnn = runs[1][2]
        expected = cnn.AUTO_CHUNK if fused else 1
        assert cnn._auto_k["train"] == expected, data_format
        assert cnn._auto_k["test"] == expected, data_format
        assert all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0])), data_format
        assert runs[0][1] == runs[1][1], data_format


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the CPU's fused loops")
@pytest.mark.parametrize("budget,source", [(1 << 30, "gather"), (0, "stacked")],
                         ids=["device-resident", "streaming"])
def test_predict_chunks_hold_at_most_stream_chunk_bytes_of_outputs(budget, source):
    """A fused predict loop stacks its outputs in a buffer of every slot of the chunk, filled
    in full each call; under "auto" on the CPU the slots hold at most STREAM_CHUNK_BYTES of
    outputs (64 slots of a 3D layer's outputs page-faulted 181 MB a call for 8 steps).
    Small outputs keep AUTO_CHUNK slots, and outputs equal one step per call's."""
    keras.config.set_execution_policy(device_data_budget=budget)
    x = np.random.default_rng(0).random((300, 16, 16, 4), np.float32)
    for layer, per_step in ((keras.layers.UpSampling2D(4), 32 * 64 * 64 * 4 * 4),
                            (keras.layers.Dense(2), 32 * 16 * 16 * 2 * 4)):
        outs = []
        for spe in ("auto", 1):
            m = keras.Sequential([keras.Input((16, 16, 4)), layer])
            m.compile(loss="mse", steps_per_execution=spe)
            outs.append((m.predict(x, batch_size=32, verbose=0), m))
        np.testing.assert_array_equal(outs[0][0], outs[1][0])
        auto = outs[0][1]
        slots = {key[2] for key in auto._trainer_cache
                 if key[:2] == ("predict", source) and key[3] == 32}
        assert slots == {min(auto.AUTO_CHUNK, auto.STREAM_CHUNK_BYTES // per_step)}, layer


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the CPU's fused loops")
def test_iterable_chunks_hold_at_most_stream_chunk_bytes():
    """Batches from an iterable are stacked k to a chunk (a short pass padded to k): under
    "auto" a chunk holds at most STREAM_CHUNK_BYTES of batches and, in predict, of outputs
    (a 10-batch generator padded to 64 batches and filled 64 output slots: 165,000 page
    faults a call). Results equal one step per call's, in fit and in predict."""
    rng = np.random.default_rng(0)
    x = rng.random((10 * 64, 32, 32, 8), np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.int32)

    def batches(with_y=True):
        for i in range(0, len(x), 64):
            yield (x[i:i + 64], y[i:i + 64]) if with_y else (x[i:i + 64],)

    runs = []
    for spe in ("auto", 1):
        keras.utils.set_random_seed(3)
        m = keras.Sequential([keras.Input((32, 32, 8)), keras.layers.UpSampling2D(2),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
        m.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True), steps_per_execution=spe)
        h = m.fit(batches(), epochs=1, verbose=0)
        up = keras.Sequential([keras.Input((32, 32, 8)), keras.layers.UpSampling2D(2)])
        up.compile(loss="mse", steps_per_execution=spe)
        runs.append((m.get_weights(), h.history, up.predict(batches(False), verbose=0), m, up))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))
    assert runs[0][1] == runs[1][1]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    m, up = runs[0][3], runs[0][4]
    batch_bytes = 64 * 32 * 32 * 8 * 4 + 64 * 4  # x and y: 2 MiB and a bit
    assert {k[2] for k in m._trainer_cache if k[:2] == ("train", "stacked")} == {
        m.STREAM_CHUNK_BYTES // batch_bytes}
    # 64 upsampled images are 8 MiB of outputs: one step a call
    assert {k[2] for k in up._trainer_cache if k[:2] == ("predict", "stacked")} == {1}


def test_auto_chunking_traces_the_train_step_once_and_replays_it_exactly():
    """The auto check traces one train step; the runner replays that trace instead of
    tracing the step again (a convolution model: one step per call; a dense one: the
    fused loop), with the same weights as steps_per_execution=1, bit for bit."""
    traces = []

    class Counting(Model):
        def train_step(self, state, data):
            traces.append(1)  # Python side effect: runs once per trace of the step
            return super().train_step(state, data)

    xi = np.random.default_rng(1).random((256, 8, 8, 1), np.float32)
    yi = (xi.mean(axis=(1, 2, 3)) > 0.5).astype(np.int32)
    for conv in (True, False):
        runs = []
        for spe in (1, "auto"):
            keras.utils.set_random_seed(7)
            inp = Input((8, 8, 1))
            h = (keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp) if conv
                 else Dense(4, activation="relu")(inp))
            out = Dense(2, activation="softmax")(Dropout(0.3)(Flatten()(h)))
            m = Counting(inp, out)
            m.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      steps_per_execution=spe)
            traces.clear()
            h = m.fit(xi, yi, epochs=2, batch_size=32, verbose=0)
            runs.append((m.get_weights(), h.history, len(traces)))
        assert runs[1][2] == 1, conv  # traced by the check, replayed by the runner
        assert all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0])), conv
        assert runs[0][1] == runs[1][1], conv


def test_jaxpr_primitives_sees_nested_loops_and_calls():
    from trine.training.trainer import jaxpr_primitives

    def f(x):
        def body(c, _):
            return jax.jit(lambda v: jnp.sin(v) * 2)(c), None
        return jax.lax.scan(body, x, None, length=3)[0]

    prims = jaxpr_primitives(jax.make_jaxpr(f)(jnp.ones(2)))
    assert {"scan", "sin", "mul"} <= prims


def test_logs_stay_on_device_until_epoch_end_when_no_callback_reads_batches(monkeypatch):
    """With no per-batch callback, fit and evaluate fetch the stacked logs once per pass
    (no device-to-host sync per chunk); History and evaluate's results equal those of a run
    whose callback reads every batch."""
    from trine.training import loop as loop_mod
    fetched = []
    real_fetch = loop_mod.fetch
    monkeypatch.setattr(loop_mod, "fetch", lambda t: fetched.append(1) or real_fetch(t))
    x, y = toy_data(n=1100)  # 34 full batches and a tail: 10 calls per epoch at 4 steps

    class Steps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append(batch)

    runs = []
    for cbs in ([], [Steps()]):
        keras.utils.set_random_seed(5)
        m = compiled(mlp(), steps_per_execution=4)
        fetched.clear()
        h = m.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=cbs)
        fit_fetches = len(fetched)
        fetched.clear()
        ev = m.evaluate(x, y, verbose=0, return_dict=True)
        runs.append((h.history, ev, fit_fetches, len(fetched)))
    (h0, ev0, f0, e0), (h1, ev1, f1, e1) = runs
    assert h0 == h1 and ev0 == ev1
    assert f0 == 2 and e0 == 1  # one fetch per pass
    assert f1 == 2 * 10 and e1 == 1  # the batch callback needs every chunk's logs


def test_cpu_default_budget_streams_copies_and_keeps_in_place_arrays(monkeypatch):
    """By default on the CPU only arrays the device can use without a copy stay resident
    (JAX arrays, 64-byte aligned NumPy arrays); others stream, so fit never doubles the
    data's memory. An explicit budget applies as given."""
    from trine.training import data as data_mod
    keras.config.set_execution_policy(device_data_budget=None)
    base = np.ones((101, 3), np.float32)
    unaligned = base[1:] if base[1:].ctypes.data % 64 else base[:100]
    unaligned = np.ascontiguousarray(unaligned)
    if unaligned.ctypes.data % 64 == 0:  # the allocator happened to align it: shift it
        raw = np.empty(100 * 3 * 4 + 64 + 4, np.uint8)
        off = (-raw.ctypes.data) % 64 + 4
        unaligned = raw[off:off + 1200].view(np.float32).reshape(100, 3)
    aligned = data_mod.aligned_empty((100, 3), np.float32)
    y = np.zeros(100, np.int32)
    y_al = data_mod.aligned_empty((100,), np.int32)
    assert not data_mod.ArrayData(unaligned, y).on_device
    assert data_mod.ArrayData(aligned, y_al).on_device
    assert data_mod.ArrayData(jnp.ones((100, 3)), jnp.zeros(100, jnp.int32)).on_device
    data_mod.set_device_data_budget(1 << 20)
    assert data_mod.ArrayData(unaligned, y).on_device
    data_mod.set_device_data_budget(None)
    assert data_mod.device_data_budget() is None
    with pytest.raises(ValueError, match="bytes >= 0"):
        data_mod.set_device_data_budget(-1)


def test_programs_needed_later_compile_ahead_once(monkeypatch):
    """The shorter last batch's program (and, with fixed-length loops, the last partial
    chunk's) is compiled on a worker thread while the first chunks run; the call then finds
    it: every program of the pass is compiled exactly once, and results are unchanged."""
    from jax._src import monitoring

    from trine.training import shared_programs
    compiled_runs, active = [], [True]

    def listen(event, duration, **kw):
        if active[0] and event.endswith("backend_compile_duration") and kw.get(
                "fun_name") == "jit(run)":
            compiled_runs.append(duration)

    monitoring.register_event_duration_secs_listener(listen)
    try:
        x, y = toy_data(n=1100)  # 34 full batches of 32 and a last batch of 12
        for static in (False, True):
            keras.config.set_execution_policy(static_loops=static)
            shared_programs.clear()  # models of one structure share executables otherwise
            compiled_runs.clear()
            keras.utils.set_random_seed(6)
            m = compiled(mlp(), steps_per_execution=8)
            h = m.fit(x, y, epochs=2, batch_size=32, verbose=0)
            # fused chunk + last batch (+ the 2-step last chunk with fixed-length loops)
            assert len(compiled_runs) == (3 if static else 2), static
            assert not m._compiling
            keras.utils.set_random_seed(6)
            ref = compiled(mlp(), steps_per_execution=1)
            h1 = ref.fit(x, y, epochs=2, batch_size=32, verbose=0)
            assert h.history == h1.history
            assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), ref.get_weights()))
    finally:
        active[0] = False


def test_fixed_length_loops_split_a_pass_evenly(monkeypatch):
    """With fixed-length loops (accelerators) every chunk length is a program: "auto" picks
    a length near AUTO_CHUNK_ACCELERATOR that divides the pass, so one program runs it."""
    from trine.training.trainer import even_chunk
    assert [even_chunk(t, 256) for t in (58, 512, 1875, 1000, 997)] == [58, 512, 375, 250, 256]
    keras.config.set_execution_policy(static_loops=True)
    keras.config.set_execution_policy(device_data_budget=1 << 30)  # device-resident, as on a GPU
    x, y = toy_data(n=32 * 90)
    keras.utils.set_random_seed(7)
    m = compiled(mlp())
    monkeypatch.setattr(m, "AUTO_CHUNK_ACCELERATOR", 40)
    m.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert m.trace_counts["train"] == 1  # 2 chunks of 45 steps: one program
    assert [k for k in m._trainer_cache if k[0] == "train"] == [("train", "gather", 45, 32, False, True, None)]


def test_streaming_keeps_at_most_max_in_flight_chunks_queued(monkeypatch):
    """Without per-chunk log fetches nothing would stop dispatch from queueing a whole
    epoch of host chunks (each holds its batches): the loop waits for the chunk
    MAX_IN_FLIGHT behind the newest before dispatching more."""
    keras.config.set_execution_policy(device_data_budget=0)
    waited = []
    real = jax.block_until_ready
    monkeypatch.setattr(jax, "block_until_ready", lambda t: waited.append(1) or real(t))
    x, y = toy_data(n=32 * 40)  # 10 chunks of 4 steps
    m = compiled(mlp(), steps_per_execution=4)
    m.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert len(waited) >= 10 - m.MAX_IN_FLIGHT


def test_freezing_a_layer_mid_fit_takes_effect_at_the_next_fit():
    """fit takes the model's variable lists once: a callback that freezes a layer between
    epochs (Keras: trainable changes apply from the next compile / fit) leaves this fit's
    epochs exactly as without it, instead of writing one layer's state into another's."""
    from trine.training.callbacks import Callback
    x, y = toy_data(n=128)

    class Freeze(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.model.layers[0].trainable = False

    runs = []
    for cbs in ([], [Freeze()]):
        keras.utils.set_random_seed(4)
        m = compiled(mlp())
        h = m.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=cbs)
        runs.append((m, h.history, [w for layer in m.layers for w in layer.get_weights()]))
    (_, ha, wa), (frozen, hb, wb) = runs
    assert ha == hb
    for a, b in zip(wa, wb):
        np.testing.assert_array_equal(a, b)
    # and the next fit trains only what is trainable now
    before = frozen.layers[0].get_weights()
    frozen.fit(x, y, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(before, frozen.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(wb[-1], frozen.layers[-1].get_weights()[-1])


@pytest.mark.parametrize("api", ["sequential", "functional", "subclassed"])
def test_freezing_after_fit_moves_weights_to_non_trainable(api):
    """Fine-tuning as Keras's guides do it: train, freeze a layer, compile and fit again.
    The model's caches (variable paths, fit's variable lists) must not count as weights the
    model owns, or the frozen layer's weights stay trainable and appear twice."""
    x, y = toy_data(n=64)
    if api == "sequential":
        m = mlp()
    elif api == "functional":
        i = Input(shape=(8,))
        m = Model(i, Dense(3, activation="softmax")(Dense(16, activation="relu")(i)))
    else:
        class Net(Model):
            def __init__(self):
                super().__init__()
                self.hidden = Dense(16, activation="relu")
                self.out = Dense(3, activation="softmax")

            def call(self, x):
                return self.out(self.hidden(x))
        m = Net()
    compiled(m).fit(x, y, epochs=1, batch_size=32, verbose=0)
    first = [layer for layer in m.layers if layer.weights][0]
    first.trainable = False
    assert len(m.weights) == len({id(v) for v in m.weights}) == 4
    assert [v.path for v in m.non_trainable_weights] == [v.path for v in first.weights]
    assert len(m.trainable_weights) == 2
    before = first.get_weights()
    compiled(m).fit(x, y, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(before, first.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_set_by_a_callback_at_epoch_end_carry_on_training():
    """Keras reads the Variables again at each epoch's start: a callback's set_weights at the
    end of an epoch is where the next epoch starts, and after the last epoch it stands."""
    from trine.training.callbacks import Callback
    x, y = toy_data(n=96)

    def set_first(model):  # constant 0.05, rather: zeros would stop relu's gradient
        layer = model.layers[0]
        layer.set_weights([np.full_like(w, 0.05) for w in layer.get_weights()])

    class SetAt(Callback):
        def __init__(self, at):
            super().__init__()
            self.at = at

        def on_epoch_end(self, epoch, logs=None):
            if epoch == self.at:
                set_first(self.model)

    def model():
        keras.utils.set_random_seed(6)
        return compiled(mlp(), optimizer=keras.optimizers.SGD(0.1))

    a = model()
    ha = a.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[SetAt(0)])
    b = model()
    hb = b.fit(x, y, epochs=1, batch_size=32, verbose=0)
    set_first(b)
    hb2 = b.fit(x, y, epochs=3, initial_epoch=1, batch_size=32, verbose=0)
    assert ha.history["loss"] == hb.history["loss"] + hb2.history["loss"]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert np.any(a.layers[0].get_weights()[0] != 0.05)  # trained on from the set values

    c = model()
    c.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[SetAt(1)])
    assert np.all(c.layers[0].get_weights()[0] == 0.05)


@pytest.mark.parametrize("donate", [False, True], ids=["kept", "donated"])
def test_mid_epoch_checkpoints_save_the_latest_state(monkeypatch, tmp_path, donate):
    """A checkpoint with a batch save_freq (ModelCheckpoint, BackupAndRestore) reads the model
    mid-epoch: fit writes its device-resident state back first (Keras's jax_state_sync), so
    the file holds the weights after the steps run so far, not the epoch's starting ones.
    With the state donated (GPUs), the model's copies stay readable (no deleted arrays)."""
    keras.config.set_execution_policy(donate_state=donate)
    x, y = toy_data(n=256)  # 8 batches of 32

    def model():
        keras.utils.set_random_seed(5)
        return compiled(mlp(), steps_per_execution=1)

    path = tmp_path / "ckpt.weights.h5"
    a = model()
    a.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(str(path), save_weights_only=True, save_freq=3)])
    b = model()
    b.fit(x[:6 * 32], y[:6 * 32], epochs=1, batch_size=32, shuffle=False, verbose=0)
    c = model()
    c.load_weights(str(path))  # the last save: after 6 steps
    for wb, wc in zip(b.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wb, wc)
    full = model()
    full.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    for wa, wf in zip(a.get_weights(), full.get_weights()):  # and training went on unchanged
        np.testing.assert_array_equal(wa, wf)
    # a whole-model checkpoint (optimizer state included) mid-epoch, in a later epoch too
    a.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq=5)])
    assert keras.models.load_model(str(tmp_path / "m.keras")).optimizer is not None


def test_fresh_models_of_one_structure_share_compiled_programs():
    """A second fresh model of the same architecture (a notebook cell run again, a tuning
    trial) runs the executables the first compiled: no XLA compile, and the same numbers as
    when it compiles its own. A model whose maths differ compiles its own."""
    from jax._src import monitoring

    from trine.training import shared_programs
    compiles, active = [], [True]

    def listen(event, duration, **kw):
        if active[0] and event.endswith("backend_compile_duration"):
            compiles.append(kw.get("fun_name"))

    monitoring.register_event_duration_secs_listener(listen)
    x, y = toy_data(n=300)

    def run(model):
        keras.utils.set_random_seed(3)
        m = compiled(model)
        h = m.fit(x, y, epochs=2, batch_size=32, verbose=0, validation_split=0.2)
        return (h.history, m.evaluate(x, y, verbose=0), m.predict(x[:50], verbose=0),
                m.get_weights())

    try:
        shared_programs.clear()
        keras.utils.set_random_seed(3)
        first = run(mlp())
        compiles.clear()
        keras.utils.set_random_seed(3)
        second = run(mlp())
        assert [c for c in compiles if c == "jit(run)"] == []
        shared_programs.clear()
        keras.utils.set_random_seed(3)
        alone = run(mlp())  # compiles its own programs
        assert "jit(run)" in compiles
        assert second[0] == alone[0] and second[1] == alone[1]
        np.testing.assert_array_equal(second[2], alone[2])
        assert all(np.array_equal(a, b) for a, b in zip(second[3], alone[3]))
        assert first[0]["loss"] != [] and len(first[3]) == len(second[3])
        compiles.clear()
        run(mlp(classes=3, dropout=0.5))  # other maths: its own programs
        assert "jit(run)" in compiles
    finally:
        active[0] = False
