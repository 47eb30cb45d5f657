"""Keras's developer guides run on trine with only the import changed (see tests/guides/).

Each guide's code cells are in tests/guides/<name>.py, run in a subprocess with cwd=tmp_path;
the guide's own assertions run there, and the markers it prints are checked here.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_guide(name, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "..", "src"))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "guides", name)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc.stdout


def test_understanding_masking_and_padding_guide(tmp_path):
    out = run_guide("understanding_masking_and_padding.py", tmp_path)
    for part in ("mask-generating ok", "propagation ok", "direct mask ok", "split mask ok",
                 "custom embedding ok", "Mask found: <KerasTensor", "opt-in ok",
                 "mask consumer ok"):
        assert part in out


def test_custom_train_step_in_jax_guide(tmp_path):
    out = run_guide("custom_train_step_in_jax.py", tmp_path)
    for part in ("simple example ok", "lower-level ok", "test_step ok"):
        assert part in out


def test_writing_a_custom_training_loop_in_jax_guide(tmp_path):
    out = run_guide("writing_a_custom_training_loop_in_jax.py", tmp_path)
    for part in ("Training loss (for 1 batch) at step 0", "end-to-end ok",
                 "Training accuracy:", "Validation accuracy:", "metrics ok", "losses ok"):
        assert part in out


def test_making_new_layers_and_models_via_subclassing_guide(tmp_path):
    out = run_guide("making_new_layers_and_models_via_subclassing.py", tmp_path)
    for part in ("layer ok", "non-trainable ok", "build ok", "composable ok", "add_loss ok",
                 "config ok", "training arg ok", "vae ok"):
        assert part in out


def test_functional_api_guide(tmp_path):
    out = run_guide("functional_api.py", tmp_path)
    for part in ("first model ok", "Test accuracy:", "training ok", "save ok", "shared graph ok",
                 "nested ok", "multi-io ok", "resnet ok", "shared layers ok",
                 "feature extraction ok", "custom layer ok", "(1, 10, 32)", "mix and match ok"):
        assert part in out
    assert (tmp_path / "mini_resnet.png").exists()


def test_training_with_built_in_methods_guide(tmp_path):
    out = run_guide("training_with_built_in_methods.py", tmp_path)
    for part in ("end-to-end ok", "custom losses ok", "custom metric ok", "add_loss ok",
                 "validation_split ok", "PyDataset ok", "weighting ok", "multi-io ok",
                 "callbacks ok", "Creating a new model", "Restoring from ./ckpt/model-loss=",
                 "checkpointing ok", "schedules ok", "tensorboard ok"):
        assert part in out
    assert (tmp_path / "mymodel_1.keras").exists()
