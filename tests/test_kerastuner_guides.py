"""Keras's KerasTuner guides (keras-io guides/keras_tuner/) run on trine with only the imports
changed (`import trine as keras`, `import trine.tuner as keras_tuner`); data, trials and epochs
are shrunk and the parts that need TensorFlow are marked in each script (tests/guides/)."""
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _env(**extra):
    return dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "src"), **extra)


def run_guide(name, tmp_path, **env):
    """Run a guide script in tmp_path; returns its stdout and stderr, interleaved."""
    proc = subprocess.run([sys.executable, os.path.join(HERE, "guides", name)], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900, env=_env(PYTHONUNBUFFERED="1", **env))
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


@pytest.mark.slow  # about 90 s here: one model compiled per trial
def test_getting_started_guide(tmp_path):
    out = run_guide("kerastuner_getting_started.py", tmp_path)
    for part in range(1, 8):
        assert f"part {part} ok" in out
    # the last build_model: num_layers, units_0 (units_1/2 only when num_layers > 1, not
    # by default), activation, dropout, lr
    summary = out.split("Search space summary")[1].split("Search: Running")[0]
    assert "Default search space size: 5" in summary
    for name in ("num_layers (Int)", "units_0 (Int)", "activation (Choice)",
                 "dropout (Boolean)", "lr (Float)"):
        assert name in summary
    assert "Results summary" in out and "Showing 10 best trials" in out
    # executions_per_trial=2: two fits per trial
    first = out.split("Running Trial #0")[1].split("Trial 0 Complete")[0]
    assert first.count("val_accuracy") == 2
    # the best of 20 random x in [-1, 1] for x*x + 1
    x = float(out.split("part 6 ok")[0].strip().splitlines()[-1])
    assert abs(x) < 0.5
    for project in ("helloworld", "tune_hypermodel", "built_in_metrics", "custom_metrics",
                    "custom_eval", "custom_eval_dict", "tune_anything", "keep_code_separate"):
        assert os.path.isdir(tmp_path / "my_dir" / project), project
    assert (tmp_path / "best_model.keras").exists()


def test_tailor_the_search_space_guide(tmp_path):
    out = run_guide("kerastuner_tailor_the_search_space.py", tmp_path)
    few, rest = out.split("search a few ok")
    fix, override = rest.split("fix a few ok")
    # tune_new_entries=False: only the declared learning_rate is in the space
    summary = few.split("Search space summary")[1]
    assert "Default search space size: 1" in summary
    assert "learning_rate (Float)" in summary and "units (" not in summary
    # a Fixed learning_rate stays fixed; build's Choice of the same name does not join
    summary = fix.split("Search space summary")[1]
    assert "learning_rate (Fixed)" in summary and "learning_rate (Choice)" not in summary
    assert "units (Int)" in summary and "dropout (Boolean)" in summary
    # compile arguments given to the tuner replace build's
    assert "mse" in override.split("override compile ok")[0].strip().splitlines()[-1]


@pytest.mark.slow  # about 90 s here: one model compiled per trial
def test_failed_trials_guide(tmp_path):
    out = run_guide("kerastuner_failed_trials.py", tmp_path)
    tolerate, rest = out.split("tolerate ok")
    marked, fatal = rest.split("mark failed ok")
    # a ValueError is retried max_retries_per_trial=3 times: 4 attempts
    assert "attempt 4 failed: ValueError('Model too large!" in tolerate
    # FailedTrialError skips the retries
    assert "FailedTrialError('Model too large!" in marked
    assert "attempt 2 failed" not in marked
    assert "Results summary" in tolerate and "Results summary" in marked
    assert fatal.strip().endswith("The search is terminated.")


def test_custom_tuner_guide(tmp_path):
    out = run_guide("kerastuner_custom_tuner.py", tmp_path)
    assert "custom training loop ok" in out
    assert "my_metric:" in out and "batch_size" in out
    # the tuner's callbacks, called by hand, checkpointed the best epoch
    assert (tmp_path / "results" / "custom_training" / "trial_0" /
            "checkpoint.weights.h5").exists()


def test_distributed_tuning_guide_chief_and_worker(tmp_path):
    """The guide's script run twice at once, as the chief and as worker tuner0 (its env vars):
    both join one study and together run Hyperband's budget (2 trials for max_epochs=2)."""
    env = dict(KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT="8000")
    script = os.path.join(HERE, "guides", "kerastuner_distributed_tuning.py")
    chief = subprocess.Popen([sys.executable, script], cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env=_env(KERASTUNER_TUNER_ID="chief", **env))
    deadline = time.time() + 300
    # the chief overwrites the study; the worker joins once the chief's first trial began
    while not (tmp_path / "results_dir" / "mnist" / "trial_0").exists():
        assert chief.poll() is None, chief.stdout.read()[-4000:]
        assert time.time() < deadline
        time.sleep(0.2)
    worker = subprocess.run([sys.executable, script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600,
                            env=_env(KERASTUNER_TUNER_ID="tuner0", **env))
    chief_out, _ = chief.communicate(timeout=600)
    assert chief.returncode == 0, chief_out[-4000:]
    assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
    assert "tuner chief done" in chief_out and "tuner tuner0 done" in worker.stdout
    # a trial Hyperband's pruner stops early is run and ended all the same (which depends on
    # the values drawn), so it counts as done
    done = [line.split()[1] for out in (chief_out, worker.stdout)
            for line in out.splitlines()
            if line.startswith("Trial ") and (" Complete " in line or " Pruned " in line)]
    assert sorted(done) == ["0", "1"], (chief_out[-2000:], worker.stdout[-2000:])


def test_visualize_tuning_guide(tmp_path):
    out = run_guide("kerastuner_visualize_tuning.py", tmp_path)
    assert "visualize ok" in out
    assert out.count("Model: ") == 2  # the CNN and the MLP summaries
    assert (tmp_path / "search.png").stat().st_size > 0
    assert os.path.isdir(tmp_path / "tb" / "untitled_project")


def test_custom_tuner_guide_tuner_subclass_form(tmp_path):
    """The guide's 2021 revision: a Tuner subclass reporting through self.on_epoch_end and
    returning nothing; the best epoch's model is saved and reloaded."""
    out = run_guide("kerastuner_custom_tuner_subclass.py", tmp_path)
    assert "tuner subclass ok" in out
    assert out.count(" Complete [") == 2 and "Best loss So Far:" in out
    for n in (0, 1):
        assert (tmp_path / "results" / "mnist_custom_training" / f"trial_{n}" /
                "checkpoint.weights.h5").exists()


def test_update_trial_bad_input_names_the_problem():
    import pytest
    import trine.tuner as kt
    oracle = kt.oracles.BayesianOptimization(objective=kt.Objective("loss", "min"),
                                             max_trials=2)
    assert oracle.__class__ is kt.oracles.BayesianOptimizationOracle
    with pytest.raises(ValueError, match="trial_id '7' is not a trial running"):
        oracle.update_trial("7", {"loss": 1.0})
