"""trine.tuner: KerasTuner's API on Optuna — spaces, tuners, pruning, storage, processes."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")  # a test-extra dependency; always present in CI

import trine as keras  # noqa: E402
import trine.tuner as kt  # noqa: E402
from trine.tuner import errors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---- HyperParameters ----------------------------------------------------------------------
def test_import_trine_does_not_import_optuna():
    code = "import sys, trine; assert 'optuna' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")})
    assert out.stdout.strip() == "ok", out.stderr


def test_defaults_values_and_get():
    hp = kt.HyperParameters()
    assert hp.Int("units", 32, 512, step=32) == 32
    assert hp.Float("lr", 1e-4, 1e-2, sampling="log") == 1e-4
    assert hp.Choice("act", ["relu", "tanh"]) == "relu"
    assert hp.Boolean("bn") is False
    assert hp.Fixed("seed", 3) == 3
    assert hp.values == {"units": 32, "lr": 1e-4, "act": "relu", "bn": False, "seed": 3}
    assert hp.get("units") == 32 and "act" in hp and "nope" not in hp
    assert [h.name for h in hp.space] == ["units", "lr", "act", "bn", "seed"]
    with pytest.raises(KeyError, match="does not exist"):
        hp.get("nope")


def test_step_grid_follows_keras_tuner():
    hp = kt.HyperParameters()
    assert hp.space == [] and hp.Int("n", 6, 13, step=3) == 6
    assert hp.space[0].values == [6, 9, 12]  # a step that does not divide stops inside
    hp.Int("b", 2, 32, step=2, sampling="log")
    assert hp.space[1].values == [2, 4, 8, 16, 32]


@pytest.mark.parametrize("call, match", [
    (lambda hp: hp.Int("a", 5, 1), "min_value 5 is greater than the max_value 1"),
    (lambda hp: hp.Float("a", 1.0, 0.5), "greater than the max_value"),
    (lambda hp: hp.Choice("a", []), "non-empty list"),
    (lambda hp: hp.Int("a", 0, 10, sampling="log"), "positive range"),
    (lambda hp: hp.Int("a", 1, 10, sampling="cubic"), "sampling must be one of"),
    (lambda hp: hp.Choice("a", [1, 2], default=3), "default should be one of"),
])
def test_bad_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(kt.HyperParameters())


def test_reused_name_with_another_definition_is_an_error():
    hp = kt.HyperParameters()
    hp.Int("units", 1, 4)
    assert hp.Int("units", 1, 4) == 1  # the same definition: the same value
    with pytest.raises(ValueError, match="already declared"):
        hp.Int("units", 1, 8)


def test_conditional_scope_inactive_returns_none():
    hp = kt.HyperParameters()
    kind = hp.Choice("kind", ["mlp", "cnn"])
    with hp.conditional_scope("kind", ["cnn"]):
        filters = hp.Int("filters", 8, 64)
    units = hp.Int("units", 8, 64, parent_name="kind", parent_values=["mlp"])
    assert kind == "mlp" and filters is None and units == 8
    assert "filters" not in hp.values
    with pytest.raises(ValueError, match="inactive"):
        hp.get("filters")
    with pytest.raises(ValueError, match="not defined"):
        with hp.conditional_scope("missing", [1]):
            pass


# ---- Objective ----------------------------------------------------------------------------
def test_objective_direction_inferred_as_keras_tuner():
    from trine.tuner.objective import create_objective
    assert create_objective("val_accuracy").direction == "max"
    assert create_objective("val_loss").direction == "min"
    assert create_objective("mae").direction == "min"
    assert create_objective("val_auc").direction == "max"
    with pytest.raises(ValueError, match="Could not infer"):
        create_objective("my_score")
    multi = create_objective(["val_loss", kt.Objective("val_accuracy", "max")])
    assert multi.get_value({"val_loss": 1.0, "val_accuracy": 0.25}) == 0.75


# ---- tuners on a cheap black box ------------------------------------------------------------
class QuadTuner(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        return (hp.Int("x", 0, 5) - 3) ** 2 + (0 if hp.Choice("c", ["a", "b"]) == "b" else 5)


def _black_box(base, **kw):
    class T(base):
        def run_trial(self, trial, *args, **kwargs):
            hp = trial.hyperparameters
            x = hp.Float("x", -5.0, 5.0)
            return {"score": (x - 1.7) ** 2}
    return T(objective=kt.Objective("score", "min"), verbose=0, **kw)


def test_random_search_finds_planted_optimum(tmp_path):
    tuner = QuadTuner(objective=kt.Objective("loss", "min"), max_trials=40, seed=3,
                      directory=tmp_path, project_name="rs", verbose=0)
    tuner.search()
    best = tuner.get_best_hyperparameters()[0]
    assert best.values == {"x": 3, "c": "b"}
    assert len(tuner.oracle.trials) == 40
    assert tuner.oracle.get_best_trials()[0].score == 0


def test_bayesian_optimization_converges(tmp_path):
    tuner = _black_box(kt.BayesianOptimization, max_trials=30, seed=1,
                       num_initial_points=8, directory=tmp_path, project_name="bo")
    tuner.search()
    best = tuner.oracle.get_best_trials()[0]
    assert abs(best.hyperparameters.values["x"] - 1.7) < 0.25
    assert best.metrics.get_best_value("score") == best.score


def test_grid_search_walks_every_combination(tmp_path):
    class GridQuad(kt.GridSearch):
        run_trial = QuadTuner.run_trial

    tuner = GridQuad(objective=kt.Objective("loss", "min"), directory=tmp_path,
                     project_name="gs", verbose=0)
    tuner.search()
    seen = sorted((t.hyperparameters.values["x"], t.hyperparameters.values["c"])
                  for t in tuner.oracle.trials.values())
    assert seen == sorted((x, c) for x in range(6) for c in "ab")
    assert tuner.get_best_hyperparameters()[0].values == {"x": 3, "c": "b"}


def test_conditional_space_never_samples_inactive_child(tmp_path):
    class CondTuner(kt.BayesianOptimization):
        def run_trial(self, trial, *args, **kwargs):
            hp = trial.hyperparameters
            kind = hp.Choice("kind", ["mlp", "cnn"])
            with hp.conditional_scope("kind", ["mlp"]):
                units = hp.Int("units", 1, 9)
            with hp.conditional_scope("kind", ["cnn"]):
                filters = hp.Int("filters", 1, 9)
            assert (units is None) == (kind == "cnn") and (filters is None) == (kind == "mlp")
            return float(units or 10 - filters)

    tuner = CondTuner(objective=kt.Objective("loss", "min"), max_trials=16, seed=0,
                      num_initial_points=4, directory=tmp_path, project_name="cond",
                      verbose=0)
    tuner.search()
    kinds = set()
    for ft in tuner.oracle.study.trials:
        assert ft.state == optuna.trial.TrialState.COMPLETE
        kind = ft.params["kind"]
        kinds.add(kind)
        inactive = "filters" if kind == "mlp" else "units"
        assert inactive not in ft.params and inactive not in ft.user_attrs["trine_values"]
    assert kinds == {"mlp", "cnn"}


def test_failing_build_fails_trial_and_search_goes_on(tmp_path, capsys):
    class Flaky(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            x = trial.hyperparameters.Int("x", 0, 1)
            if x == 0:
                raise errors.FailedTrialError(f"x={x} cannot be built")
            return float(x)

    tuner = Flaky(objective=kt.Objective("loss", "min"), max_trials=8, seed=0,
                  directory=tmp_path, project_name="flaky", verbose=0,
                  max_consecutive_failed_trials=8)
    tuner.search()
    statuses = [t.status for t in tuner.oracle.trials.values()]
    assert "FAILED" in statuses and "COMPLETED" in statuses and len(statuses) == 8
    failed = [t for t in tuner.oracle.trials.values() if t.status == "FAILED"]
    assert "cannot be built" in failed[0].message
    assert "cannot be built" in capsys.readouterr().err

    class Broken(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            raise ValueError("boom")

    broken = Broken(objective=kt.Objective("loss", "min"), max_trials=10,
                    directory=tmp_path, project_name="broken", verbose=0,
                    max_retries_per_trial=1)
    with pytest.raises(RuntimeError, match="consecutive failures exceeded the limit of 3"):
        broken.search()
    assert len(broken.oracle.trials) == 3


def test_fatal_error_stops_search(tmp_path):
    class Fatal(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            raise errors.FatalError("stop everything")

    tuner = Fatal(objective=kt.Objective("loss", "min"), max_trials=5, directory=tmp_path,
                  project_name="fatal", verbose=0)
    with pytest.raises(errors.FatalError, match="stop everything"):
        tuner.search()
    assert len(tuner.oracle.trials) == 1


# ---- bad input ------------------------------------------------------------------------------
def test_bad_tuner_arguments(tmp_path):
    with pytest.raises(ValueError, match="max_trials must be a positive integer"):
        QuadTuner(objective="val_loss", max_trials=0, directory=tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="not writable"):
        QuadTuner(objective="val_loss", directory=str(blocker / "sub"))
    if os.geteuid() != 0:  # root writes anywhere; the file-in-the-way case covers it
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="not writable"):
            QuadTuner(objective="val_loss", directory=str(ro))


def test_unreachable_postgres_names_url_without_password(tmp_path):
    url = "postgresql://alice:s3cretpw@127.0.0.1:1/nodb"
    with pytest.raises(ConnectionError) as info:
        QuadTuner(objective="val_loss", directory=tmp_path, storage=url)
    text = str(info.value)
    assert "127.0.0.1:1/nodb" in text and "alice:***@" in text and "s3cretpw" not in text


# ---- real models -----------------------------------------------------------------------------
def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]


def build_regressor(hp):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(hp.Int("units", 4, 8, step=4),
                                                 activation="relu"),
                              keras.layers.Dense(1)])
    lr = hp.Choice("lr", [0.05, 1e-5])
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", metrics=["mae"])
    return model


def test_objective_missing_from_logs_names_what_exists(tmp_path):
    x, y = _data()
    tuner = kt.RandomSearch(build_regressor, objective="val_accuracy", max_trials=2,
                            directory=tmp_path, project_name="missing", verbose=0)
    with pytest.raises(errors.FatalValueError) as info:
        tuner.search(x, y, epochs=1, validation_data=(x, y), verbose=0)
    assert "'val_accuracy'" in str(info.value) and "'val_mae'" in str(info.value)


def test_pruning_stops_bad_trial_and_best_model_predicts_the_same(tmp_path):
    x, y = _data()
    probe = x[:5]
    seen = {}

    class Recording(kt.RandomSearch):
        def on_epoch_end(self, trial, model, epoch, logs=None):
            seen.setdefault(trial.trial_id, {})[epoch] = (logs["val_loss"],
                                                          model.predict(probe, verbose=0))

    # Keep going only while val_loss is below 12: the lr=1e-5 trial cannot get there.
    tuner = Recording(build_regressor, objective="val_loss", max_trials=4, seed=2,
                      directory=tmp_path, project_name="prune", verbose=0,
                      hyperparameters=_fix_units(),
                      pruner=optuna.pruners.ThresholdPruner(upper=12.0, n_warmup_steps=1))
    tuner.search(x, y, epochs=6, batch_size=16, validation_data=(x, y), verbose=0)
    trials = tuner.oracle.trials.values()
    pruned = [t for t in trials if t.status == "PRUNED"]
    done = [t for t in trials if t.status == "COMPLETED"]
    assert pruned and done
    for t in pruned:
        assert t.hyperparameters.values["lr"] == 1e-5
        assert len(seen[t.trial_id]) == 2  # epoch 0 (warm-up) and the epoch it was cut at
    for t in done:
        assert len(seen[t.trial_id]) == 6
    best = tuner.oracle.get_best_trials()[0]
    model = tuner.get_best_models()[0]
    val_loss, expected = seen[best.trial_id][best.best_step]
    assert best.score == pytest.approx(val_loss)
    np.testing.assert_array_equal(model.predict(probe, verbose=0), expected)


def _fix_units():
    hp = kt.HyperParameters()
    hp.Fixed("units", 8)
    return hp


def test_hyperband_prefers_the_learning_rate_that_learns(tmp_path):
    x, y = _data()
    tuner = kt.Hyperband(build_regressor, objective="val_loss", max_epochs=3, factor=3,
                         seed=0, directory=tmp_path, project_name="hb", verbose=0)
    assert tuner.oracle.max_trials == 5  # KerasTuner's bracket sizes for (3, 3, 1)
    tuner.search(x, y, epochs=99, batch_size=16, validation_data=(x, y), verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 5
    assert tuner.get_best_hyperparameters()[0].values["lr"] == 0.05
    assert all(len(tuner.oracle.study.trials[int(t.trial_id)].intermediate_values) <= 3
               for t in trials)


def test_search_space_summary_and_results_summary(tmp_path, capsys):
    tuner = kt.RandomSearch(build_regressor, objective="val_loss", max_trials=1,
                            directory=tmp_path, project_name="summ", verbose=0)
    tuner.search_space_summary()
    out = capsys.readouterr().out
    assert "Default search space size: 2" in out and "units (Int)" in out
    x, y = _data()
    tuner.search(x, y, epochs=1, validation_data=(x, y), verbose=0)
    tuner.results_summary()
    out = capsys.readouterr().out
    assert "Results summary" in out and "Trial 0 summary" in out and "Score:" in out


def test_plot_draws_png(tmp_path):
    tuner = QuadTuner(objective=kt.Objective("loss", "min"), max_trials=12, seed=0,
                      directory=tmp_path, project_name="plot", verbose=0)
    tuner.search()
    path = tmp_path / "search.png"
    fig = kt.plot(tuner, str(path))
    assert path.stat().st_size > 5000
    assert len(fig.axes) == 3  # objective per trial, then one panel per hyperparameter


# ---- processes -------------------------------------------------------------------------------
def _worker(tmp_path, log, **kw):
    args = [sys.executable, os.path.join(HERE, "tuner_worker.py"), "--dir", str(tmp_path),
            "--log", str(log)]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read(log):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [line.split() for line in f if line.strip()]


def _wait_for(pred, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out")


def _check_study(log, max_trials):
    lines = _read(log)
    ends = [(line[1], line[2]) for line in lines if line[0] == "end"]
    assert len(ends) == max_trials, lines
    assert len({n for n, _ in ends}) == max_trials  # no trial number finished twice
    return lines


def test_resume_after_kill_9_runs_exactly_max_trials(tmp_path):
    log = tmp_path / "runs.log"
    proc = _worker(tmp_path, log, max_trials=5, sleep=0.6)
    # kill -9 while the third trial runs (two have ended)
    _wait_for(lambda: sum(line[0] == "end" for line in _read(log)) >= 2 and
              _read(log)[-1][0] == "start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before = {line[1] for line in _read(log) if line[0] == "end"}
    killed = _read(log)[-1]
    again = _worker(tmp_path, log, max_trials=5, sleep=0.2)
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    lines = _check_study(log, 5)
    restarted = [line for line in lines if line[0] == "start" and line[-1] == str(again.pid)]
    assert not {line[1] for line in restarted} & finished_before  # no finished trial reran
    retry = [line for line in restarted if line[3] == killed[1]]
    assert len(retry) == 1 and retry[0][2] == killed[2]  # the dead trial, same values


@pytest.fixture(scope="module")
def postgres_url():
    url = os.environ.get("TRINE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    script = os.path.join(ROOT, ".ci", "postgres.sh")
    out = subprocess.run([script, "start"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"could not start a local PostgreSQL: {out.stderr}"
    env = dict(line.split(" ", 1)[1].split("=", 1) for line in out.stdout.splitlines())
    try:
        yield env["TRINE_TEST_POSTGRES_URL"]
    finally:
        subprocess.run([script, "stop", env["TRINE_PG_DIR"]], timeout=120)


def test_two_workers_share_one_postgres_study(tmp_path, postgres_url):
    log = tmp_path / "runs.log"
    project = f"dist_{os.getpid()}_{int(time.time())}"
    common = dict(storage=postgres_url, project=project, max_trials=8)
    a = _worker(tmp_path / "a", log, sleep=1.0, seed=1, **common)
    b = _worker(tmp_path / "b", log, sleep=0.3, seed=2, **common)
    # kill worker a in the middle of one of its trials
    _wait_for(lambda: any(line[0] == "start" and line[-1] == str(a.pid) for line in _read(log)))
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    killed = [line for line in _read(log) if line[0] == "start" and line[-1] == str(a.pid)][-1]
    out, err = b.communicate(timeout=240)
    assert b.returncode == 0, err
    lines = _check_study(log, 8)
    starts = [line for line in lines if line[0] == "start"]
    assert len({line[1] for line in starts}) == len(starts)  # each trial number ran once
    retry = [line for line in starts if line[3] == killed[1]]
    assert len(retry) == 1 and retry[0][-1] == str(b.pid) and retry[0][2] == killed[2]
    from trine.tuner.storage import driver_url
    study = optuna.load_study(study_name=project, storage=driver_url(postgres_url))
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 8
