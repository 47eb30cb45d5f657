"""Files trine writes: a killed save leaves nothing behind for long, modes follow the umask,
and BackupAndRestore's backup survives a kill between its two writes (issue 17)."""
import json
import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

import trine
from trine._util import atomic
from trine.layers import Dense, Input

WORKER = os.path.join(os.path.dirname(__file__), "atomic_worker.py")


def _env():
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["JAX_PLATFORMS"] = "cpu"
    return env


def _worker(*args, env=None):
    return subprocess.run([sys.executable, WORKER, *map(str, args)], env=env or _env(),
                          capture_output=True, text=True, timeout=300)


def _small_model():
    model = trine.Sequential([Input(shape=(8,)), Dense(4)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _temps(directory, target):
    return sorted(n for n in os.listdir(directory)
                  if n.startswith(f".{target}.trine-") and n.endswith(".tmp"))


@pytest.mark.parametrize("target", ["model.keras", "model.weights.h5"])
def test_killed_save_leftover_removed_by_next_save_and_load(tmp_path, target):
    path = tmp_path / target
    model = _small_model()
    save = model.save if target.endswith(".keras") else model.save_weights
    save(path)  # a good file to load later
    for then in ("save", "load"):
        before = path.read_bytes()
        killed = _worker("save-kill", path)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        left = _temps(tmp_path, target)
        assert len(left) == 1, left  # the killed writer's temporary file
        assert path.read_bytes() == before  # the kill never touched the real file
        if then == "save":
            save(path)
        elif target.endswith(".keras"):
            trine.models.load_model(path)
        else:
            model.load_weights(path)
        assert _temps(tmp_path, target) == []


def test_live_writers_temp_files_are_kept(tmp_path):
    path = tmp_path / "m.keras"
    mine = tmp_path / f".m.keras.trine-{os.getpid()}-0000.tmp"  # another thread's write
    mine.write_bytes(b"in progress")
    other = tmp_path / ".other.keras.trine-1-0000.tmp"  # another target's (pid 1 is alive)
    other.write_bytes(b"x")
    _small_model().save(path)
    assert mine.exists() and other.exists()
    assert atomic.remove_stale(path) == []


def test_remove_stale_takes_only_dead_writers_files(tmp_path):
    target = tmp_path / "w.weights.h5"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".w.weights.h5.trine-{dead_pid}-beef.tmp"
    stale.write_bytes(b"x")
    unrelated = tmp_path / ".w.weights.h5.trine-notapid.tmp"
    unrelated.write_bytes(b"x")
    assert atomic.remove_stale(target) == [str(stale)]
    assert not stale.exists() and unrelated.exists()


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_saved_files_respect_the_umask(tmp_path, umask, mode):
    model = _small_model()
    old = os.umask(umask)
    try:
        model.save(tmp_path / "m.keras")
        model.save_weights(tmp_path / "m.weights.h5")
        model.save(tmp_path / "dir", zipped=False)
        cb = trine.callbacks.BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
        x = np.ones((4, 8), np.float32)
        model.fit(x, x[:, :4], epochs=1, verbose=0, callbacks=[cb])
        ckpt = trine.callbacks.ModelCheckpoint(str(tmp_path / "ck.keras"))
        model.fit(x, x[:, :4], epochs=1, verbose=0, callbacks=[ckpt])
        trine.utils.plot_model(model, to_file=str(tmp_path / "m.svg"), renderer="builtin")
    finally:
        os.umask(old)
    files = [tmp_path / "m.keras", tmp_path / "m.weights.h5", tmp_path / "ck.keras",
             tmp_path / "m.svg",
             tmp_path / "backup" / "training_state.json",
             tmp_path / "backup" / "epoch-1.weights.h5"]
    files += [p for p in (tmp_path / "dir").rglob("*") if p.is_file()]
    for p in files:
        assert stat.S_IMODE(os.stat(p).st_mode) == mode, p


def test_backup_and_restore_survives_a_kill_between_weights_and_manifest(tmp_path):
    unbroken = _worker("backup", tmp_path / "b1", tmp_path / "unbroken.npz")
    assert unbroken.returncode == 0, unbroken.stderr
    env = _env()
    env["KILL_BEFORE_MANIFEST"] = "3"
    killed = _worker("backup", tmp_path / "b2", tmp_path / "resumed.npz", env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # the kill came between the two steps: epoch 3's weights written, the manifest still at 2
    assert json.loads((tmp_path / "b2" / "training_state.json").read_text()) == {"epoch": 2}
    assert (tmp_path / "b2" / "epoch-3.weights.h5").exists()
    assert (tmp_path / "b2" / "epoch-2.weights.h5").exists()
    resumed = _worker("backup", tmp_path / "b2", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    assert not (tmp_path / "b2").exists()  # finished: the backup, stale files included, is gone
    a, b = np.load(tmp_path / "unbroken.npz"), np.load(tmp_path / "resumed.npz")
    assert len(a.files) == len(b.files) == 4
    for k in a.files:
        assert np.array_equal(a[k], b[k])


def test_backup_manifest_naming_a_missing_file_is_a_clear_error(tmp_path):
    (tmp_path / "training_state.json").write_text('{"epoch": 4}')
    model = _small_model()
    x = np.ones((4, 8), np.float32)
    with pytest.raises(ValueError, match="epoch-4.weights.h5 is missing"):
        model.fit(x, x[:, :4], epochs=5, verbose=0,
                  callbacks=[trine.callbacks.BackupAndRestore(tmp_path)])
