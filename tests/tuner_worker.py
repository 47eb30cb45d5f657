"""A search process for the tuner's subprocess tests (resume after kill -9, two workers).

Each trial appends "start <number> <x> <retried_from>" and "end <number> <x>" to --log and
sleeps --sleep seconds in between, so a test can kill the process mid-trial.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import trine.tuner as kt  # noqa: E402


class SleepyTuner(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -4.0, 4.0)
        with open(args_.log, "a") as f:
            f.write(f"start {trial.trial_id} {x!r} {trial.retried_from} {os.getpid()}\n")
        time.sleep(args_.sleep)
        with open(args_.log, "a") as f:
            f.write(f"end {trial.trial_id} {x!r}\n")
        return (x - 1.0) ** 2


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--project", default="worker_study")
    p.add_argument("--storage", default=None)
    p.add_argument("--max-trials", type=int, default=6)
    p.add_argument("--sleep", type=float, default=0.5)
    p.add_argument("--log", required=True)
    p.add_argument("--seed", type=int, default=0)
    args_ = p.parse_args()
    tuner = SleepyTuner(objective=kt.Objective("loss", "min"), max_trials=args_.max_trials,
                        seed=args_.seed, directory=args_.dir, project_name=args_.project,
                        storage=args_.storage, heartbeat_interval=1, grace_period=3,
                        verbose=0)
    tuner.search()
    print("done", os.getpid(), flush=True)
