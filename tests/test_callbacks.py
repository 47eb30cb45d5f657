"""Callbacks against a small fake model that implements the interface callbacks rely on."""
import csv
import math

import numpy as np
import pytest

from trine.training import callbacks as cbm
from trine.training.callbacks import (
    CSVLogger, Callback, CallbackList, EarlyStopping, History, LambdaCallback,
    LearningRateScheduler, ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau, TerminateOnNaN)


class FakeOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class FakeMetric:
    def __init__(self, name, direction):
        self.name = name
        self._direction = direction


class FakeModel:
    """stop_training, get/set_weights, save/save_weights, optimizer.learning_rate."""

    def __init__(self, learning_rate=0.1, metrics=()):
        self.stop_training = False
        self.weights = [np.zeros(2, np.float32), np.zeros(3, np.float32)]
        self.optimizer = FakeOptimizer(learning_rate)
        self.metrics = list(metrics)
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save_weights(self, filepath, overwrite=True):
        with open(filepath, "w") as f:
            f.write("weights")
        self.saved.append(("weights", filepath))

    def save(self, filepath):
        with open(filepath, "w") as f:
            f.write("model")
        self.saved.append(("model", filepath))


def fit(model, callbacks, epoch_logs, steps=2, batch_logs=None, verbose=0):
    """Drives the hooks the way Model.fit does; weights hold the epoch number."""
    cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                       verbose=verbose, epochs=len(epoch_logs), steps=steps)
    model.stop_training = False
    cbs.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        for b in range(steps):
            cbs.on_train_batch_begin(b)
            blogs = batch_logs(epoch, b) if batch_logs else {
                k: v for k, v in logs.items() if not k.startswith("val_")}
            cbs.on_train_batch_end(b, blogs)
            if model.stop_training:
                break
        model.weights = [np.full_like(w, epoch) for w in model.weights]
        cbs.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    cbs.on_train_end()
    return cbs.history


def losses(*values, key="val_loss"):
    return [{"loss": 1.0, key: v} for v in values]


# ============================================================== base / list / history
def test_callback_base_hooks_and_model():
    cb = Callback()
    assert cb.model is None and cb.params is None
    model = FakeModel()
    cb.set_model(model)
    cb.set_params({"epochs": 3})
    assert cb.model is model and cb.params == {"epochs": 3}
    for hook in cbm.base.HOOKS:
        args = () if hook.endswith(("train_begin", "train_end", "test_begin", "test_end",
                                    "predict_begin", "predict_end")) else (0,)
        getattr(cb, hook)(*args, None)  # all defaults exist and do nothing


def test_train_batch_hooks_default_to_legacy_batch_hooks():
    seen = []

    class Legacy(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, logs))

    fit(FakeModel(), [Legacy()], losses(1.0), steps=2)
    assert seen == [(0, {"loss": 1.0}), (1, {"loss": 1.0})]


def test_callback_list_dispatch_order_logs_and_params():
    calls = []

    class Recorder(Callback):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def on_epoch_end(self, epoch, logs=None):
            calls.append((self.tag, epoch, logs))
            logs[f"from_{self.tag}"] = 1.0  # later callbacks see what earlier ones add

    model = FakeModel()
    a, b = Recorder("a"), Recorder("b")
    cbs = CallbackList([a, [b]], add_history=True, model=model, verbose=0, epochs=1, steps=1)
    assert cbs.callbacks[:2] == [a, b] and isinstance(cbs.callbacks[2], History)
    assert a.params == {"verbose": 0, "epochs": 1, "steps": 1} and b.model is model
    assert model.history is cbs.history
    cbs.on_train_begin()
    cbs.on_epoch_end(0, {"val_loss": np.float32(0.5), "loss": np.array(2.0)})
    assert calls[0][2] is calls[1][2]
    logs = calls[0][2]
    assert list(logs)[:2] == ["loss", "val_loss"]
    assert type(logs["loss"]) is float and type(logs["val_loss"]) is float
    assert cbs.history.history == {"loss": [2.0], "val_loss": [0.5], "from_a": [1.0],
                                   "from_b": [1.0]}


def test_callback_list_reuses_given_history_and_progbar():
    hist, bar = History(), ProgbarLogger()
    cbs = CallbackList([hist, bar], add_history=True, add_progbar=True, model=FakeModel(),
                       verbose=1, epochs=1, steps=1)
    assert cbs.callbacks == [hist, bar] and cbs.history is hist


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="LambdaCallback"):
        CallbackList([lambda epoch, logs: None])


def test_history_records_epochs_params_and_model():
    model = FakeModel()
    history = fit(model, [], [{"loss": 1.0, "accuracy": 0.5}, {"loss": 0.5, "accuracy": 0.75}])
    assert history.history == {"accuracy": [0.5, 0.75], "loss": [1.0, 0.5]}
    assert history.epoch == [0, 1]
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 2}
    assert history.model is model and model.history is history


# ============================================================== EarlyStopping
def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    model = FakeModel()
    es = EarlyStopping(patience=0)
    history = fit(model, [es], losses(1.0, 0.9, 0.95, 0.5))
    assert es.stopped_epoch == 2 and model.stop_training
    assert history.epoch == [0, 1, 2]


def test_early_stopping_never_stops_after_first_epoch():
    es = EarlyStopping(patience=0, baseline=0.1)
    history = fit(FakeModel(), [es], losses(1.0, 2.0))
    assert history.epoch == [0, 1] and es.stopped_epoch == 1


def test_early_stopping_patience():
    es = EarlyStopping(monitor="val_loss", patience=2)
    history = fit(FakeModel(), [es], losses(1.0, 0.9, 0.95, 0.96, 0.5))
    assert history.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best == 0.9


def test_early_stopping_min_delta():
    es = EarlyStopping(min_delta=0.1, patience=1)
    history = fit(FakeModel(), [es], losses(1.0, 0.95, 0.5))
    assert history.epoch == [0, 1]  # 0.05 better is not an improvement of 0.1
    es = EarlyStopping(min_delta=0.01, patience=1)
    history = fit(FakeModel(), [es], losses(1.0, 0.95, 0.5))
    assert history.epoch == [0, 1, 2]


def test_early_stopping_restore_best_weights(capsys):
    model = FakeModel()
    es = EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    fit(model, [es], losses(1.0, 0.5, 0.7, 0.8, 0.9))
    assert es.best_epoch == 1 and es.stopped_epoch == 3
    assert all((w == 1).all() for w in model.weights)
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_early_stopping_restores_even_without_stopping():
    model = FakeModel()
    fit(model, [EarlyStopping(patience=5, restore_best_weights=True)], losses(1.0, 0.2, 0.4))
    assert all((w == 1).all() for w in model.weights)


def test_early_stopping_baseline_must_be_beaten():
    # improving, but never below the baseline: the wait counter is not reset
    es = EarlyStopping(patience=2, baseline=0.5)
    history = fit(FakeModel(), [es], losses(0.9, 0.8, 0.85, 0.1))
    assert history.epoch == [0, 1, 2]
    no_baseline = EarlyStopping(patience=2)
    history = fit(FakeModel(), [no_baseline], losses(0.9, 0.8, 0.85, 0.1))
    assert history.epoch == [0, 1, 2, 3]


def test_early_stopping_start_from_epoch():
    es = EarlyStopping(patience=0, start_from_epoch=2)
    history = fit(FakeModel(), [es], losses(1.0, 2.0, 3.0, 4.0))
    assert history.epoch == [0, 1, 2, 3]  # epoch 2 sets the best, 3 stops
    assert es.stopped_epoch == 3


@pytest.mark.parametrize("monitor,expected", [
    ("val_loss", np.less), ("loss", np.less), ("accuracy", np.greater),
    ("val_accuracy", np.greater), ("val_sparse_categorical_accuracy", np.greater),
    ("val_auc", np.greater), ("precision", np.greater), ("val_mean_squared_error", np.less),
    ("val_mae", np.less),
])
def test_mode_auto_resolution(monitor, expected):
    es = EarlyStopping(monitor=monitor)
    es.set_model(FakeModel())
    es._set_monitor_op()
    assert es.monitor_op is expected


def test_mode_auto_uses_model_metric_direction_and_explicit_modes():
    es = EarlyStopping(monitor="val_score")
    es.set_model(FakeModel(metrics=[FakeMetric("score", "up")]))
    es._set_monitor_op()
    assert es.monitor_op is np.greater
    es = EarlyStopping(monitor="val_score")
    es.set_model(FakeModel())
    with pytest.raises(ValueError, match="mode='max'"):
        es._set_monitor_op()
    es = EarlyStopping(monitor="val_accuracy", mode="min")
    es._set_monitor_op()
    assert es.monitor_op is np.less
    with pytest.warns(UserWarning, match="unknown"):
        es = EarlyStopping(mode="sideways")
    assert es.mode == "auto"


def test_early_stopping_accuracy_maximised():
    es = EarlyStopping(monitor="val_accuracy", patience=0)
    history = fit(FakeModel(), [es], losses(0.5, 0.6, 0.55, key="val_accuracy"))
    assert history.epoch == [0, 1, 2] and es.best == 0.6


def test_early_stopping_missing_metric_warns():
    es = EarlyStopping(monitor="val_loss")
    with pytest.warns(UserWarning, match="not available"):
        history = fit(FakeModel(), [es], [{"loss": 1.0}, {"loss": 2.0}])
    assert history.epoch == [0, 1]


# ============================================================== ReduceLROnPlateau
def test_reduce_lr_on_plateau_cooldown_and_min_lr(capsys):
    model = FakeModel(learning_rate=0.1)
    cb = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.02, verbose=1)
    history = fit(model, [cb], losses(*[1.0] * 8))
    # reduce at epoch 1, two cooldown epochs (the counter runs down at the start of each),
    # then again at 3 and 5, never below min_lr
    assert history.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    out = capsys.readouterr().out
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05." in out
    assert out.count("reducing") == 3  # at min_lr it stops reducing


def test_reduce_lr_improvement_resets_wait():
    model = FakeModel(learning_rate=1.0)
    cb = ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=2, min_delta=0.0)
    fit(model, [cb], losses(1.0, 0.9, 0.95, 0.8, 0.85, 0.86))
    assert model.optimizer.learning_rate == pytest.approx(0.1)  # only after epochs 4 and 5


def test_reduce_lr_arguments_and_schedules():
    with pytest.raises(ValueError, match="factor must be < 1"):
        ReduceLROnPlateau(factor=1.5)
    model = FakeModel(learning_rate=lambda step: 0.1)
    cb = ReduceLROnPlateau(patience=0)
    with pytest.raises(TypeError, match="float learning_rate"):
        fit(model, [cb], losses(1.0, 1.0))


def test_reduce_lr_with_a_trine_optimizer():
    from trine import optimizers
    model = FakeModel()
    model.optimizer = optimizers.Adam(0.01)
    fit(model, [ReduceLROnPlateau(patience=0, factor=0.5)], losses(1.0, 1.0))
    assert model.optimizer.learning_rate == pytest.approx(0.005)


# ============================================================== ModelCheckpoint
def test_model_checkpoint_formats_filename(tmp_path):
    model = FakeModel()
    path = str(tmp_path / "ckpt" / "w-{epoch:02d}-{val_loss:.2f}.weights.h5")
    fit(model, [ModelCheckpoint(path, save_weights_only=True)], losses(0.5, 0.25))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "w-01-0.50.weights.h5", "w-02-0.25.weights.h5"]
    assert [kind for kind, _ in model.saved] == ["weights", "weights"]


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    model = FakeModel()
    path = str(tmp_path / "m-{epoch}.keras")
    cb = ModelCheckpoint(path, monitor="val_accuracy", save_best_only=True, verbose=1)
    fit(model, [cb], losses(0.5, 0.4, 0.7, 0.7, key="val_accuracy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-1.keras", "m-3.keras"]
    assert [kind for kind, _ in model.saved] == ["model", "model"]
    out = capsys.readouterr().out
    assert "val_accuracy improved from None to 0.50000" in out
    assert "Epoch 2: val_accuracy did not improve from 0.50000" in out


def test_model_checkpoint_initial_value_threshold_and_mode(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "best.keras"), save_best_only=True, mode="min",
                         initial_value_threshold=0.3)
    fit(model, [cb], losses(0.5, 0.4, 0.2))
    assert len(model.saved) == 1 and cb.best == 0.2


def test_model_checkpoint_save_freq_batches(tmp_path):
    model = FakeModel()
    cb = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.weights.h5"),
                         save_weights_only=True, save_freq=3)
    fit(model, [cb], losses(1.0, 1.0), steps=4)
    # 8 batches, every 3rd: epoch 1 batch 3, epoch 2 batch 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1-b3.weights.h5",
                                                          "e2-b2.weights.h5"]


def test_model_checkpoint_argument_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        ModelCheckpoint(str(tmp_path / "w.h5"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"\.keras"):
        ModelCheckpoint(str(tmp_path / "model.pkl"))
    with pytest.raises(ValueError, match="save_freq"):
        ModelCheckpoint(str(tmp_path / "m.keras"), save_freq="batch")
    cb = ModelCheckpoint(str(tmp_path / "m-{val_acc}.keras"))
    with pytest.raises(KeyError, match="val_acc"):
        fit(FakeModel(), [cb], losses(1.0))


# ============================================================== CSVLogger
def test_csv_logger_writes_rows(tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), [CSVLogger(path)], [{"loss": 1.0, "val_loss": 2.0},
                                         {"loss": 0.5, "val_loss": 1.5}])
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,1.0,2.0",
                                             "1,0.5,1.5"]


def test_csv_logger_append_and_separator(tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), [CSVLogger(path, separator=";")], [{"loss": 1.0, "val_loss": 2.0}])
    fit(FakeModel(), [CSVLogger(path, separator=";", append=True)],
        [{"loss": 0.5, "val_loss": 1.5}])
    assert path.read_text().splitlines() == ["epoch;loss;val_loss", "0;1.0;2.0", "0;0.5;1.5"]
    fit(FakeModel(), [CSVLogger(path)], [{"loss": 0.25, "val_loss": 0.5}])  # overwrite
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,0.25,0.5"]


def test_csv_logger_without_validation_adds_val_columns(tmp_path):
    path = tmp_path / "log.csv"
    fit(FakeModel(), [CSVLogger(path)], [{"loss": 1.0, "accuracy": 0.5}])
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows == [["epoch", "accuracy", "loss", "val_accuracy", "val_loss"],
                    ["0", "0.5", "1.0", "NA", "NA"]]


# ============================================================== LearningRateScheduler
def test_lr_scheduler_epoch_only_signature():
    model = FakeModel(learning_rate=1.0)
    history = fit(model, [LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))],
                  losses(1.0, 1.0, 1.0))
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert model.optimizer.learning_rate == pytest.approx(0.1 / 3)


def test_lr_scheduler_epoch_and_lr_signature(capsys):
    model = FakeModel(learning_rate=1.0)

    def schedule(epoch, lr):
        return lr if epoch < 1 else lr * 0.5

    history = fit(model, [LearningRateScheduler(schedule, verbose=1)], losses(1.0, 1.0, 1.0))
    assert history.history["learning_rate"] == [1.0, 0.5, 0.25]
    assert "Epoch 3: LearningRateScheduler setting learning rate to 0.25." in \
        capsys.readouterr().out


def test_lr_scheduler_with_trine_optimizer_and_numpy_result():
    from trine import optimizers
    model = FakeModel()
    model.optimizer = optimizers.SGD(0.1)
    fit(model, [LearningRateScheduler(lambda e, lr: np.float32(lr * 0.5))], losses(1.0, 1.0))
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert isinstance(model.optimizer.learning_rate, float)


def test_lr_scheduler_errors():
    with pytest.raises(ValueError, match="must return a float"):
        fit(FakeModel(), [LearningRateScheduler(lambda epoch: "fast")], losses(1.0))
    with pytest.raises(TypeError, match="schedule must be a function"):
        LearningRateScheduler(0.1)


# ============================================================== TerminateOnNaN / Lambda
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_terminate_on_nan(bad, capsys):
    model = FakeModel()
    history = fit(model, [TerminateOnNaN()], losses(1.0, 1.0, 1.0), steps=3,
                  batch_logs=lambda e, b: {"loss": bad if (e, b) == (1, 1) else 1.0})
    assert model.stop_training and history.epoch == [0, 1]
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_raise_error():
    with pytest.raises(RuntimeError, match="NaN or Inf loss"):
        fit(FakeModel(), [TerminateOnNaN(raise_error=True)], losses(1.0),
            batch_logs=lambda e, b: {"loss": float("nan")})


def test_lambda_callback_hooks():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin{epoch}"),
        on_train_batch_begin=lambda batch, logs: events.append(f"batch_begin{batch}"),
        on_train_batch_end=lambda batch, logs: events.append(f"batch_end{batch}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end{epoch}:{logs['loss']}"),
        on_train_end=lambda logs: events.append("train_end"),
        on_test_end=lambda logs: events.append("test_end"),
    )
    fit(FakeModel(), [cb], losses(1.0), steps=2)
    assert events == ["train_begin", "epoch_begin0", "batch_begin0", "batch_end0",
                      "batch_begin1", "batch_end1", "epoch_end0:1.0", "train_end"]
    cb.on_test_end({})
    assert events[-1] == "test_end"
    with pytest.raises(TypeError, match="on_epoch_finish"):
        LambdaCallback(on_epoch_finish=print)


# ============================================================== ProgbarLogger
def test_progbar_logger_fit_verbose_1(capsys):
    fit(FakeModel(), [], [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5}],
        steps=3, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("3/3 " + "\u2501" * 20)
    assert lines[1].endswith("- accuracy: 0.2500 - loss: 0.5000")
    assert lines[3].endswith("- accuracy: 0.5000 - loss: 0.2500")
    assert len(lines) == 4


def test_progbar_logger_fit_verbose_2(capsys):
    fit(FakeModel(), [], [{"loss": 0.5}], steps=3, verbose=2)
    out = capsys.readouterr().out
    assert out.startswith("3/3 - 0s - ") and out.endswith("- loss: 0.5000\n")
    assert out.count("\n") == 1  # one epoch: no "Epoch 1/1" line


def test_progbar_logger_evaluate_and_predict(capsys):
    cbs = CallbackList(None, add_progbar=True, model=FakeModel(), verbose=1, epochs=1,
                       steps=2)
    cbs.on_test_begin()
    for b in range(2):
        cbs.on_test_batch_begin(b)
        cbs.on_test_batch_end(b, {"loss": 0.75})
    cbs.on_test_end({"loss": 0.75})
    assert capsys.readouterr().out.endswith("- loss: 0.7500\n")
    cbs.on_predict_begin()
    for b in range(2):
        cbs.on_predict_batch_end(b, {"outputs": np.zeros(3)})
    cbs.on_predict_end()
    out = capsys.readouterr().out
    assert out.startswith("2/2 ") and "outputs" not in out


def test_progbar_logger_silent_for_validation_inside_fit(capsys):
    bar = ProgbarLogger()
    cbs = CallbackList([bar], model=FakeModel(), verbose=1, epochs=1, steps=1)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 1.0})
    cbs.on_test_begin()
    cbs.on_test_batch_end(0, {"loss": 9.0})
    cbs.on_test_end({"loss": 9.0})
    cbs.on_epoch_end(0, {"loss": 1.0, "val_loss": 9.0})
    cbs.on_train_end()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "val_loss: 9.0000" in out


def test_unknown_steps_progbar(capsys):
    fit(FakeModel(), [], [{"loss": 0.5}], steps=3, verbose=1)
    cbs = CallbackList(None, add_progbar=True, model=FakeModel(), verbose=1, epochs=1,
                       steps=None)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    for b in range(4):
        cbs.on_train_batch_end(b, {"loss": 0.5})
    cbs.on_epoch_end(0, {"loss": 0.5})
    assert capsys.readouterr().out.splitlines()[-1].startswith("4/4 ")
