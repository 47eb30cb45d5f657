"""KerasTuner's `Tuner`: run trials (build, fit, score) while an Optuna study decides.

`search` runs `study.optimize` in this process; other processes on the same storage run
theirs, and the budget (max_trials) is counted in the study, so together they run exactly
max_trials. A trial reports its objective every epoch so a pruner can stop it.
"""
from __future__ import annotations

import copy
import math
import os
import sys
import time
import traceback
from typing import Optional

from trine.training.callbacks import Callback
from trine.tuner import errors
from trine.tuner.hypermodel import get_hypermodel
from trine.tuner.hyperparameters import HyperParameters
from trine.tuner.objective import DefaultObjective
from trine.tuner.oracle import (BEST_STEP, FAILED, MESSAGE, METRICS, STATUS, SURPLUS, VALUES,
                                Oracle, Trial, TrialStatus, tuner_seed_offset)
from trine.tuner.storage import ensure_writable_dir, open_storage


class _TrialFailed(Exception):
    """This trial failed for good (after its retries); the search goes on."""


class _Surplus(Exception):
    """Another process took the last slot of the budget between our check and our ask."""


def _fmt_time(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}h {s % 3600 // 60:02d}m {s % 60:02d}s"


def _retried_from(otrial):
    """The number of the dead trial this one reruns (Optuna's heartbeat retry), or None."""
    for t in otrial.study.get_trials(deepcopy=False):
        if t.number == otrial.number:
            return t.system_attrs.get("failed_trial")
    return None


def _is_history(obj) -> bool:
    return isinstance(getattr(obj, "history", None), dict) and hasattr(obj, "epoch")


def _history_best(history, objective):
    """(metrics of the best epoch, that epoch's index) from a History."""
    names = list(history.history)
    n = max((len(v) for v in history.history.values()), default=0)
    if n == 0:
        raise errors.FatalValueError("fit returned a History with no epochs; nothing to score.")
    epochs = list(getattr(history, "epoch", None) or range(n))[-n:]
    best, best_i = None, 0
    for i in range(n):
        logs = {k: float(history.history[k][i]) for k in names if i < len(history.history[k])}
        if not objective.has_value(logs):
            _missing(objective, logs)
        v = objective.get_value(logs)
        if best is None or objective.better_than(v, best[objective.name] if objective.name in
                                                  best else objective.get_value(best)):
            best, best_i = {**logs, objective.name: v}, i
    return best, epochs[best_i]


def _missing(objective, logs):
    wanted = [n for n in objective.names if n not in logs]
    raise errors.FatalValueError(
        f"The objective {', '.join(map(repr, wanted))} is not among the metrics the trial "
        f"logged: {sorted(logs)}. Pass one of those as objective=, or add the metric to "
        "compile(metrics=...) (and validation_data= for a val_ metric).")


def results_to_metrics(results, objective):
    """KerasTuner's rule: a float is the objective, a dict holds it, a History gives its best
    epoch; a list is averaged. Returns (metrics dict, best step).

    Raises:
        FatalTypeError / FatalValueError: for a result that cannot be scored.
    """
    if isinstance(results, (list, tuple)):
        parts = [results_to_metrics(r, objective) for r in results]
        if not parts:
            raise errors.FatalValueError("run_trial returned an empty list; nothing to score.")
        keys = set.intersection(*(set(p[0]) for p in parts))
        avg = {k: sum(float(p[0][k]) for p in parts) / len(parts) for k in keys}
        return avg, int(sum(p[1] for p in parts) / len(parts))
    if results is None:
        raise errors.FatalTypeError("run_trial (or HyperModel.fit) returned None. Did you "
                                    "forget to return the History or the metrics?")
    if isinstance(results, bool) or not (isinstance(results, (int, float, dict)) or
                                         _is_history(results) or hasattr(results, "__float__")):
        raise errors.FatalTypeError(
            "Expected run_trial (or HyperModel.fit) to return a float, a dict of metrics, a "
            f"History, or a list of them; received {type(results).__name__}: {results!r}.")
    if isinstance(objective, DefaultObjective) and not isinstance(results, (int, float)) and \
            not hasattr(results, "__float__") and not (isinstance(results, dict) and
                                                       objective.name in results):
        raise errors.FatalTypeError(
            "With no objective given, run_trial must return a single float (the value to "
            f"minimize); received {type(results).__name__}. Pass objective= to the tuner.")
    if isinstance(results, dict):
        logs = {k: float(v) for k, v in results.items()}
        if not objective.has_value(logs):
            _missing(objective, logs)
        return logs, 0
    if _is_history(results):
        return _history_best(results, objective)
    return {objective.name: float(results)}, 0


def _shape_path(weights_path: str) -> str:
    return weights_path[:-len(".weights.h5")] + ".input_shape.json"


def _save_input_shape(model, weights_path: str) -> None:
    """Record the input shape next to the checkpoint, so a model whose build(hp) does not
    fix its input shape (a Sequential without Input) can be built before loading weights."""
    import json
    try:
        shape = model.input_shape
    except (AttributeError, ValueError, TypeError):
        return  # a subclassed model without a known input shape: nothing to record
    def plain(s):
        if isinstance(s, (list, tuple)) and s and isinstance(s[0], (list, tuple)):
            return [plain(x) for x in s]
        return None if s is None else [None if d is None else int(d) for d in s]
    try:
        with open(_shape_path(weights_path), "w") as f:
            json.dump(plain(shape), f)
    except (TypeError, ValueError):
        pass  # a nested (dict) input structure: models with such inputs are built by build(hp)


class _TrialCallback(Callback):
    """Reports the objective each epoch (Optuna prunes on it) and saves the best epoch's
    weights; a pruned trial sets `model.stop_training` and fit ends after this epoch."""

    def __init__(self, tuner, trial, otrial, filepath, report):
        super().__init__()
        self.tuner, self.trial, self.otrial = tuner, trial, otrial
        self.filepath, self.report = filepath, report
        self.objective = tuner.oracle.objective
        self.best = None
        self.pruned_at = None

    def on_epoch_begin(self, epoch, logs=None):
        self.tuner.on_epoch_begin(self.trial, self.model, epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.tuner.on_epoch_end(self.trial, self.model, epoch, logs=logs)
        if not self.objective.has_value(logs):
            return  # e.g. no validation this epoch; KerasTuner skips it too
        value = self.objective.get_value(logs)
        if self.best is None or self.objective.better_than(value, self.best):
            self.best = value
            self.model.save_weights(self.filepath, overwrite=True)
            _save_input_shape(self.model, self.filepath)
        if self.report and math.isfinite(value):
            self.otrial.report(value, step=epoch)
            if self.otrial.should_prune():
                self.pruned_at = epoch
                self.model.stop_training = True


class Tuner:
    """KerasTuner's Tuner: build a model per trial, fit it, keep the best.

    Args:
        oracle: an Oracle (RandomSearch etc. make their own).
        hypermodel: a HyperModel or a function `build_model(hp)`; None when `run_trial` is
            overridden and builds nothing.
        max_model_size: not enforced (kept for KerasTuner's signature).
        optimizer, loss, metrics: when given, each built model is compiled with them.
        directory: root of the tuner's files (default: the working directory).
        project_name: the study's name and the subdirectory of its files.
        overwrite: start afresh (delete the study) instead of resuming it.
        executions_per_trial: fits per trial; the score is their average.
        storage: None (SQLite file in directory/project_name), a database URL such as
            "postgresql://user:pw@host/db" (processes on many machines share the study), a
            journal file path ending in ".log", or an optuna storage object.
        heartbeat_interval: seconds between running trials' heartbeats in a database
            storage; a trial silent for `grace_period` (default twice that) is failed and
            queued again (None turns this off).
        resume_from_checkpoint: a retried trial continues from its last epoch's backup.
        tuner_id: this process's name (default KERASTUNER_TUNER_ID).

    Raises:
        ValueError, TypeError: for bad arguments; PermissionError for an unwritable
        directory; ConnectionError for an unreachable database.
    """

    def __init__(self, oracle: Oracle, hypermodel=None, max_model_size=None, optimizer=None,
                 loss=None, metrics=None, distribution_strategy=None, directory=None,
                 project_name=None, logger=None, tuner_id=None, overwrite: bool = False,
                 executions_per_trial: int = 1, storage=None, heartbeat_interval=10,
                 grace_period=None, resume_from_checkpoint: bool = True, verbose: int = 1):
        if not isinstance(oracle, Oracle):
            raise TypeError(f"oracle must be a trine.tuner Oracle, received "
                            f"{type(oracle).__name__}.")
        if executions_per_trial < 1:
            raise ValueError(f"executions_per_trial must be >= 1, received "
                             f"{executions_per_trial}.")
        self.oracle = oracle
        self.hypermodel = get_hypermodel(hypermodel)
        if self.hypermodel is None and type(self).run_trial is Tuner.run_trial:
            raise ValueError("hypermodel is required unless run_trial is overridden: pass a "
                             "HyperModel or a function build_model(hp).")
        self.optimizer, self.loss, self.metrics = optimizer, loss, metrics
        self.executions_per_trial = executions_per_trial
        self.directory = directory or "."
        self.project_name = project_name or "untitled_project"
        self.tuner_id = tuner_id or os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
        self.verbose = verbose
        self.resume_from_checkpoint = resume_from_checkpoint
        self.project_dir = ensure_writable_dir(os.path.join(self.directory, self.project_name))
        if "KERASTUNER_TUNER_ID" in os.environ and self.tuner_id != "chief":
            overwrite = False  # only the chief may reset a study the others are joining
        self._storage, self.storage_description = open_storage(
            storage, self.project_dir, heartbeat_interval, grace_period,
            oracle.max_retries_per_trial + 1 if heartbeat_interval else None)
        self._poll = max(0.2, min(float(heartbeat_interval or 1), 5.0))
        if self.hypermodel is not None:
            self._populate_initial_space()
        self.oracle.open(self._storage, self.project_name, overwrite, tuner_seed_offset())
        self._consecutive_failures = 0

    # ---- the space -----------------------------------------------------------------------
    def _populate_initial_space(self) -> None:
        """Build once with defaults, then once per inactive conditional branch, so that the
        space summary lists every hyperparameter before the search (as KerasTuner does)."""
        base = self.oracle.hyperparameters
        seen, todo = set(), [dict(base.values)]
        while todo and len(seen) < 32:
            values = todo.pop()
            key = tuple(sorted(values.items()))
            if key in seen:
                continue
            seen.add(key)
            hp = HyperParameters()
            hp.values = dict(values)
            try:
                self.hypermodel.build(hp)
            except Exception:  # a build that fails on defaults fails in its trial, shown there
                pass
            self.oracle.note_space(hp)
            for scope in hp.inactive_scopes:
                todo.append({**hp.values, **{c.name: c.values[0] for c in scope}})

    def search_space_summary(self, extended: bool = False) -> None:
        """Print the hyperparameters of the space, as KerasTuner does."""
        space = self.oracle.hyperparameters.space
        print("Search space summary")
        print(f"Default search space size: {len(space)}")
        for hp in space:
            config = hp.get_config()
            config.pop("name", None)
            config["conditions"] = [repr(c) for c in hp.conditions]
            print(f"{hp.name} ({hp.kind})")
            print(config)

    # ---- running trials ------------------------------------------------------------------
    def search(self, *fit_args, **fit_kwargs) -> None:
        """Run trials until the study's budget is used; arguments go to every `fit`.

        Raises:
            FatalError: raised by a trial; RuntimeError: after
            max_consecutive_failed_trials failures in a row.
        """
        if "verbose" in fit_kwargs:
            self.verbose = fit_kwargs["verbose"]
        self._search_start = time.time()
        self.on_search_begin()
        oracle = self.oracle
        if not oracle.wait_for_room(self._poll):
            self._say(f"The study already has its {oracle.max_trials} trials; nothing to run.")
            self.on_search_end()
            return

        def after(study, frozen):
            if frozen.user_attrs.get(STATUS) == SURPLUS or not oracle.wait_for_room(self._poll):
                study.stop()

        oracle.study.optimize(lambda ot: self._objective(ot, fit_args, fit_kwargs),
                              n_trials=None, catch=(_TrialFailed, _Surplus),
                              callbacks=[after])
        self.on_search_end()

    def _objective(self, otrial, fit_args, fit_kwargs):
        import optuna
        oracle = self.oracle
        if oracle.max_trials is not None:
            finished, running, waiting = oracle.budget_counts(before=otrial.number)
            if finished + running + waiting >= oracle.max_trials:
                otrial.set_user_attr(STATUS, SURPLUS)
                otrial.study.stop()
                raise _Surplus()
        hp = oracle.trial_hyperparameters(otrial)
        trial = Trial(str(otrial.number), hp, TrialStatus.RUNNING, number=otrial.number,
                      retried_from=_retried_from(otrial))
        trial._optuna_trial = otrial
        trial._reported = None  # metrics a custom run_trial reports (update_trial/on_epoch_end)
        oracle._live = {**getattr(oracle, "_live", {}), trial.trial_id: trial}
        start = time.time()
        self._say(f"\nSearch: Running Trial #{trial.trial_id} ({self.tuner_id})"
                  + (f", a retry of trial {trial.retried_from}" if trial.retried_from is not None
                     else ""))
        error, metrics = None, None
        for attempt in range(oracle.max_retries_per_trial + 1):
            trial_hp = hp.copy() if attempt else hp
            trial_hp._suggest = hp._suggest
            trial.hyperparameters = trial_hp
            try:
                self.on_trial_begin(trial)
                trial._reported = None
                results = self.run_trial(trial, *fit_args, **copy.copy(fit_kwargs))
                if results is None and trial._reported is not None:
                    # KerasTuner's older form: run_trial reported through update_trial or
                    # on_epoch_end and returned nothing
                    metrics, best_step = trial._reported
                else:
                    metrics, best_step = results_to_metrics(results, oracle.objective)
                break
            except (errors.FatalError, optuna.TrialPruned, KeyboardInterrupt):
                raise
            except errors.FailedTrialError as e:
                error = e
                break
            except Exception as e:  # an ordinary error: KerasTuner retries the trial
                error = e
                self._say(f"Trial {trial.trial_id} attempt {attempt + 1} failed: {e!r}")
        oracle._live.pop(trial.trial_id, None)
        oracle.note_space(trial.hyperparameters)
        otrial.set_user_attr(VALUES, trial.hyperparameters.values)
        if metrics is None:
            message = "".join(traceback.format_exception(type(error), error,
                                                         error.__traceback__))
            otrial.set_user_attr(STATUS, FAILED)
            otrial.set_user_attr(MESSAGE, message[-4000:])
            trial.status, trial.message = TrialStatus.FAILED, message
            self.on_trial_end(trial)
            self._consecutive_failures += 1
            print(f"Trial {trial.trial_id} failed: {error!r}\n{message}", file=sys.stderr)
            if self._consecutive_failures >= oracle.max_consecutive_failed_trials:
                raise RuntimeError(
                    f"Number of consecutive failures exceeded the limit of "
                    f"{oracle.max_consecutive_failed_trials}.\n{message}") from error
            raise _TrialFailed(repr(error))
        self._consecutive_failures = 0
        value = oracle.objective.get_value(metrics)
        otrial.set_user_attr(METRICS, metrics)
        otrial.set_user_attr(BEST_STEP, int(best_step))
        trial.score, trial.best_step = value, int(best_step)
        pruned = getattr(trial, "_pruned", False)
        trial.status = TrialStatus.PRUNED if pruned else TrialStatus.COMPLETED
        self.on_trial_end(trial)
        self._report_end(trial, start, pruned)
        if pruned:
            raise optuna.TrialPruned(f"pruned at epoch {trial._pruned_at}")
        if not math.isfinite(value):
            otrial.set_user_attr(STATUS, FAILED)
            raise _TrialFailed(f"objective value {value} is not finite")
        return value

    def _trial_dir(self, trial) -> str:
        return os.path.join(self.project_dir, f"trial_{trial.trial_id}")

    def _checkpoint_path(self, trial_id) -> str:
        return os.path.join(self.project_dir, f"trial_{trial_id}", "checkpoint.weights.h5")

    def _try_build(self, hp):
        model = self.hypermodel.build(hp)
        if model is None:
            raise errors.FatalTypeError("The hypermodel's build(hp) returned None; it must "
                                        "return a compiled model.")
        if self.optimizer is not None or self.loss is not None or self.metrics is not None:
            model.compile(optimizer=self.optimizer or "rmsprop", loss=self.loss,
                          metrics=self.metrics)
        return model

    def run_trial(self, trial, *args, **kwargs):
        """Build the trial's model and fit it `executions_per_trial` times.

        Override for a custom tuner: return a float, a dict of metrics, a History, or a list
        of them (averaged). `trial.hyperparameters` samples new hyperparameters on first use.
        """
        from trine.training.callbacks import BackupAndRestore
        os.makedirs(self._trial_dir(trial), exist_ok=True)
        trial._builtin_fit = True  # on_epoch_end is a hook here: the callback reports
        user_callbacks = kwargs.pop("callbacks", None) or []
        otrial = trial._optuna_trial
        origin = trial.retried_from if trial.retried_from is not None else trial.trial_id
        results = []
        for execution in range(self.executions_per_trial):
            callbacks = [copy.deepcopy(c) for c in user_callbacks]
            tracker = _TrialCallback(self, trial, otrial, self._checkpoint_path(trial.trial_id),
                                     report=execution == 0)
            callbacks.append(tracker)
            if self.resume_from_checkpoint:
                backup = os.path.join(self.project_dir, f"trial_{origin}",
                                      f"backup_{execution}")
                callbacks.append(BackupAndRestore(backup))
            hp = trial.hyperparameters
            model = self._try_build(hp)
            result = self.hypermodel.fit(hp, model, *args, callbacks=callbacks,
                                         **copy.copy(kwargs))
            results.append(result)
            if tracker.pruned_at is not None:
                trial._pruned, trial._pruned_at = True, tracker.pruned_at
                break
        return results

    # ---- hooks, as KerasTuner has them ------------------------------------------------------
    def on_search_begin(self):
        pass

    def on_search_end(self):
        pass

    def on_trial_begin(self, trial):
        pass

    def on_trial_end(self, trial):
        pass

    def on_epoch_begin(self, trial, model, epoch, logs=None):
        pass

    def on_epoch_end(self, trial, model, epoch, logs=None):
        """Called after each epoch. In the built-in `run_trial` a hook (the trial's callback
        reports the epoch). A custom `run_trial` that calls it by hand (KerasTuner's custom
        training loop form) gets KerasTuner's behaviour: the logs, which must hold the
        objective, are reported to the oracle, the model is saved when the epoch is the
        trial's best, and `model.stop_training` is set when the pruner stops the trial."""
        if getattr(trial, "_builtin_fit", False):
            return
        before = getattr(trial, "_reported", None)
        status = self.oracle.update_trial(trial.trial_id, logs or {}, step=epoch)
        if trial._reported is not before:  # this epoch is the best so far
            self.save_model(trial.trial_id, model, step=epoch)
        if status == TrialStatus.STOPPED:
            model.stop_training = True

    def on_batch_begin(self, trial, model, batch, logs=None):
        pass

    def on_batch_end(self, trial, model, batch, logs=None):
        pass

    def save_model(self, trial_id, model, step=0):
        """Save `model`'s weights as trial `trial_id`'s checkpoint (what `get_best_models`
        loads)."""
        path = self._checkpoint_path(trial_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        model.save_weights(path, overwrite=True)
        _save_input_shape(model, path)

    # ---- results -------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self.verbose:
            print(text)

    def _report_end(self, trial, start, pruned):
        if not self.verbose:
            return
        name = self.oracle.objective.name
        print(f"Trial {trial.trial_id} {'Pruned' if pruned else 'Complete'} "
              f"[{_fmt_time(time.time() - start)}]")
        print(f"{name}: {trial.score}")
        # this trial is not COMPLETE in the study yet: compare it with the finished ones
        scores = [t.score for t in self.oracle.get_best_trials(1)]
        if trial.score is not None and math.isfinite(trial.score):
            scores.append(trial.score)
        if scores:
            pick = max if self.oracle.objective.direction == "max" else min
            print(f"\nBest {name} So Far: {pick(scores)}")
        print(f"Total elapsed time: {_fmt_time(time.time() - self._search_start)}")

    def get_best_hyperparameters(self, num_trials: int = 1) -> list:
        """The HyperParameters of the best completed trials, best first."""
        return [t.hyperparameters for t in self.oracle.get_best_trials(num_trials)]

    def load_model(self, trial):
        """Rebuild a trial's model and load the weights of its best epoch.

        Raises:
            FileNotFoundError: when this machine has no checkpoint of that trial.
        """
        hp = HyperParameters()
        hp.values = dict(trial.hyperparameters.values)
        model = self._try_build(hp)
        path = self._checkpoint_path(trial.trial_id)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"No checkpoint for trial {trial.trial_id} at {path}. Checkpoints stay on the "
                "machine that ran the trial; run get_best_models there, or share directory= "
                "between the machines.")
        if not getattr(model, "built", True) and os.path.exists(_shape_path(path)):
            import json
            with open(_shape_path(path)) as f:
                shape = json.load(f)
            model.build(tuple(shape) if shape and not isinstance(shape[0], list)
                        else [tuple(s) for s in shape])
        model.load_weights(path)
        return model

    def get_best_models(self, num_models: int = 1) -> list:
        """The best completed trials' models, rebuilt, with their best epoch's weights."""
        return [self.load_model(t) for t in self.oracle.get_best_trials(num_models)]

    def results_summary(self, num_trials: int = 10) -> None:
        """Print the best trials (KerasTuner's layout)."""
        print("Results summary")
        print(f"Results in {os.path.join(self.directory, self.project_name)}")
        print(f"Showing {num_trials} best trials")
        print(self.oracle.objective)
        for t in self.oracle.get_best_trials(num_trials):
            print()
            print(t.summary())

    def get_state(self) -> dict:
        return {"project_dir": self.project_dir, "storage": self.storage_description}

    @property
    def remaining_trials(self) -> Optional[int]:
        if self.oracle.max_trials is None:
            return None
        finished, running, waiting = self.oracle.budget_counts()
        return max(self.oracle.max_trials - finished - running - waiting, 0)
