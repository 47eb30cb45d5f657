"""Run by test_atomic_files in a subprocess, to be SIGKILLed at a chosen point of a write.

    atomic_worker.py save-kill <path>       starts model.save(path) (or save_weights for a
                                            .weights.h5 path) and kills itself mid-write
    atomic_worker.py backup <dir> <out>     trains with BackupAndRestore like resume_worker;
                                            with KILL_BEFORE_MANIFEST=<n> it kills itself after
                                            the n-th epoch's weights are written, before that
                                            epoch's manifest replaces the previous one
"""
import os
import signal
import sys

import numpy as np

import trine
from trine.layers import Dense, Dropout, Flatten, Input


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def save_kill(path):
    trine.utils.set_random_seed(3)
    model = trine.Sequential([Input(shape=(8,)), Dense(64), Dense(4)])
    import trine._util.atomic as atomic
    real = atomic.atomic_write

    def half_then_die(filepath, write_fn, **kwargs):
        def write(f):
            f.write(b"PK\x03\x04 half a file")  # some bytes are on disk when the kill comes
            f.flush()
            _die()
        return real(filepath, write, **kwargs)

    atomic.atomic_write = half_then_die
    import trine.saving.weights as weights
    weights.atomic_write = half_then_die  # the name save_model / save_weights call
    if path.endswith(".weights.h5"):
        model.save_weights(path)
    else:
        model.save(path)


def backup(backup_dir, out):
    kill_at = int(os.environ.get("KILL_BEFORE_MANIFEST", "0"))
    import trine._util.atomic as atomic
    real = atomic.atomic_write
    manifests = [0]

    def write_or_die(filepath, write_fn, **kwargs):
        if os.path.basename(os.fspath(filepath)) == "training_state.json":
            manifests[0] += 1
            if manifests[0] == kill_at:  # the weights of this epoch are already on disk
                _die()
        return real(filepath, write_fn, **kwargs)

    atomic.atomic_write = write_or_die
    trine.utils.set_random_seed(11)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6, 6)).astype(np.float32)
    y = rng.integers(0, 4, size=200).astype(np.int32)
    model = trine.Sequential([Input(shape=(6, 6)), Flatten(), Dense(16, activation="relu"),
                              Dropout(0.3), Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=5, batch_size=16, verbose=0,
              callbacks=[trine.callbacks.BackupAndRestore(backup_dir)])
    np.savez(out, *model.get_weights())


if __name__ == "__main__":
    if sys.argv[1] == "save-kill":
        save_kill(sys.argv[2])
    else:
        backup(sys.argv[2], sys.argv[3])
