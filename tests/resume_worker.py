"""Run by test_saving's kill-and-resume test in a subprocess: trains a small model with
BackupAndRestore; with KILL_AT=<epoch>,<batch> it SIGKILLs itself at that batch."""
import os
import signal
import sys

import numpy as np

import trine
from trine.layers import Dense, Dropout, Flatten, Input

backup, out = sys.argv[1], sys.argv[2]
kill_at = os.environ.get("KILL_AT")
trine.utils.set_random_seed(11)
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 6, 6)).astype(np.float32)
y = rng.integers(0, 4, size=200).astype(np.int32)
model = trine.Sequential([Input(shape=(6, 6)), Flatten(), Dense(16, activation="relu"),
                          Dropout(0.3), Dense(4, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class Killer(trine.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if kill_at and (self.epoch, batch) == tuple(int(v) for v in kill_at.split(",")):
            os.kill(os.getpid(), signal.SIGKILL)


cbs = [trine.callbacks.BackupAndRestore(backup), Killer()]
model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=cbs)
np.savez(out, *model.get_weights())
