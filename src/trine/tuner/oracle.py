"""The oracle: KerasTuner's view of a search (trials, best trials), kept in an Optuna study.

Each KerasTuner oracle is an Optuna sampler and pruner; the study, not this object, is the
state, so every process that opens the same study sees the same trials. A trial's
hyperparameter values, metrics and best step travel in the Optuna trial's user attributes.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from typing import Optional

from trine.tuner.hyperparameters import (Boolean, Choice, Fixed, Float, HyperParameters, Int,
                                         _Numerical)
from trine.tuner.objective import create_objective

# user-attribute keys on Optuna trials
VALUES, METRICS, BEST_STEP, STATUS, MESSAGE = ("trine_values", "trine_metrics",
                                               "trine_best_step", "trine_status",
                                               "trine_message")
FAILED, SURPLUS = "FAILED", "SURPLUS"


class TrialStatus:
    """KerasTuner's trial statuses, plus PRUNED for a trial Optuna's pruner stopped."""
    RUNNING = "RUNNING"
    IDLE = "IDLE"
    INVALID = "INVALID"
    STOPPED = "STOPPED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PRUNED = "PRUNED"


class MetricsTracker:
    """A trial's metrics: the best epoch's value of each, and the objective per epoch."""

    def __init__(self, metrics: dict, history: dict, direction: str):
        self.metrics = dict(metrics)
        self._history = history
        self._direction = direction

    def get_last_value(self, name: str):
        return self.metrics.get(name)

    def get_best_value(self, name: str):
        return self.metrics.get(name)

    def get_history(self, name: str) -> list:
        """(step, value) pairs Optuna recorded for the objective; [] for other metrics."""
        return sorted(self._history.items()) if name == "__objective__" else []

    def exists(self, name: str) -> bool:
        return name in self.metrics


class Trial:
    """One trial as KerasTuner shows it.

    Attributes:
        trial_id: a string ("0", "1", ...): the Optuna trial number.
        hyperparameters: a HyperParameters holding the trial's values.
        score: the objective value (None until completed; for a pruned trial its best
            reported value).
        best_step: the epoch whose weights the trial's checkpoint holds.
        status: one of TrialStatus.
        metrics: a MetricsTracker.
        message: the error of a failed trial.
    """

    def __init__(self, trial_id: str, hyperparameters: HyperParameters, status: str,
                 score=None, best_step=0, metrics=None, message=None, number=None,
                 retried_from=None):
        self.trial_id = trial_id
        self.hyperparameters = hyperparameters
        self.status = status
        self.score = score
        self.best_step = best_step
        self.metrics = metrics or MetricsTracker({}, {}, "min")
        self.message = message
        self.number = number
        self.retried_from = retried_from

    def summary(self) -> str:
        lines = [f"Trial {self.trial_id} summary", "Hyperparameters:"]
        lines += [f"{k}: {v}" for k, v in self.hyperparameters.values.items()]
        if self.score is not None:
            lines.append(f"Score: {self.score}")
        if self.status != TrialStatus.COMPLETED:
            lines.append(f"Status: {self.status}")
        if self.message:
            lines.append(self.message.rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Trial(trial_id={self.trial_id!r}, status={self.status!r}, "
                f"score={self.score!r}, values={self.hyperparameters.values!r})")


def suggest(otrial, hp, grid: bool = False):
    """Ask Optuna's trial for a hyperparameter's value (define-by-run).

    The Optuna parameter is named after the hyperparameter; reverse_log is sampled as the
    mirrored log value, and stepped log ranges as a list of their values (Optuna's log
    distributions take no step).
    """
    name = hp.name
    if isinstance(hp, Fixed):
        return hp.value
    if isinstance(hp, Boolean):
        return otrial.suggest_categorical(name, [False, True])
    if isinstance(hp, Choice):
        return otrial.suggest_categorical(name, hp.values)
    if not isinstance(hp, _Numerical):
        raise TypeError(f"Unknown hyperparameter kind {type(hp).__name__} for {name!r}.")
    lo, hi, step = hp.min_value, hp.max_value, hp.step
    if (step is not None and hp.sampling != "linear") or (grid and step is None and
                                                          isinstance(hp, Float)):
        return otrial.suggest_categorical(name, hp.values)
    log = hp.sampling != "linear"
    if isinstance(hp, Int):
        if step is not None:
            hi = lo + ((hi - lo) // step) * step  # KerasTuner stops at the last full step
        value = otrial.suggest_int(name, lo, hi, step=step or 1, log=log)
    else:
        if step is not None:
            hi = lo + math.floor((hi - lo) / step + 1e-9) * step
        value = otrial.suggest_float(name, lo, hi, step=step, log=log)
    if hp.sampling == "reverse_log":
        value = hp._cast(hp.max_value + hp.min_value - value)
    return value


class Oracle:
    """KerasTuner's Oracle on an Optuna study.

    Args:
        objective: a metric name, an Objective, or a list of them (None: minimize what
            run_trial returns).
        max_trials: how many trials the search runs, across every process on the study.
        hyperparameters: a HyperParameters declaring (part of) the space up front.
        allow_new_entries: whether build may declare hyperparameters not in it.
        tune_new_entries: whether those are tuned (else they keep their default).
        seed: the sampler's seed.
        max_retries_per_trial: reruns of a trial whose run raised an ordinary error.
        max_consecutive_failed_trials: failed trials in a row that stop the search.
        sampler: an optuna sampler replacing the oracle's own.
        pruner: an optuna pruner replacing the oracle's own.

    Raises:
        ValueError: for max_trials < 1 or negative retry counts.
    """

    default_max_trials: Optional[int] = 10
    grid = False

    def __init__(self, objective=None, max_trials=None, hyperparameters=None,
                 allow_new_entries: bool = True, tune_new_entries: bool = True, seed=None,
                 max_retries_per_trial: int = 0, max_consecutive_failed_trials: int = 3,
                 sampler=None, pruner=None):
        self.objective = create_objective(objective)
        if max_trials is not None and (isinstance(max_trials, bool) or
                                       not isinstance(max_trials, int) or max_trials < 1):
            raise ValueError(f"max_trials must be a positive integer, received "
                             f"{max_trials!r}. Pass e.g. max_trials=10.")
        self.max_trials = max_trials if max_trials is not None else self.default_max_trials
        if max_retries_per_trial < 0:
            raise ValueError(f"max_retries_per_trial must be >= 0, received "
                             f"{max_retries_per_trial}.")
        if max_consecutive_failed_trials < 1:
            raise ValueError(f"max_consecutive_failed_trials must be >= 1, received "
                             f"{max_consecutive_failed_trials}.")
        self._declared = hyperparameters.copy() if hyperparameters is not None else None
        self.hyperparameters = (hyperparameters.copy() if hyperparameters is not None
                                else HyperParameters())
        self.allow_new_entries = allow_new_entries
        self.tune_new_entries = tune_new_entries
        self.seed = seed
        self.max_retries_per_trial = max_retries_per_trial
        self.max_consecutive_failed_trials = max_consecutive_failed_trials
        self._sampler_arg, self._pruner_arg = sampler, pruner
        self.study = None

    # ---- what subclasses choose --------------------------------------------------------
    def make_sampler(self, seed):
        import optuna
        return optuna.samplers.RandomSampler(seed=seed)

    def make_pruner(self):
        import optuna
        return optuna.pruners.NopPruner()

    # ---- the study ---------------------------------------------------------------------
    def open(self, storage, study_name: str, overwrite: bool, seed_offset: int = 0) -> None:
        """Create or join the study `study_name` in `storage` (an Optuna storage)."""
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if overwrite:
            try:
                optuna.delete_study(study_name=study_name, storage=storage)
            except KeyError:
                pass
        seed = None if self.seed is None else int(self.seed) + seed_offset
        sampler = self._sampler_arg or self.make_sampler(seed)
        pruner = self._pruner_arg or self.make_pruner()
        self.study = optuna.create_study(
            study_name=study_name, storage=storage, sampler=sampler, pruner=pruner,
            direction="maximize" if self.objective.direction == "max" else "minimize",
            load_if_exists=True)

    def update_trial(self, trial_id, metrics: dict, step: int = 0) -> str:
        """Report a running trial's metrics at `step` (KerasTuner's form for a custom
        `run_trial` that returns nothing). The trial keeps its best step's metrics as its
        result; the objective is reported to Optuna so a pruner can stop the trial.

        Returns:
            TrialStatus.STOPPED when the pruner stops the trial, else TrialStatus.RUNNING.

        Raises:
            ValueError: for a trial not running in this process; FatalValueError when
            `metrics` lacks the objective.
        """
        trial = getattr(self, "_live", {}).get(str(trial_id))
        if trial is None:
            raise ValueError(
                f"update_trial: trial_id {trial_id!r} is not a trial running in this process "
                f"(running here: {sorted(getattr(self, '_live', {}))}). Call it from "
                "run_trial with trial.trial_id.")
        if not isinstance(metrics, dict):
            raise TypeError(f"update_trial: metrics must be a dict of metric name to value, "
                            f"received {type(metrics).__name__}: {metrics!r}.")
        logs = {k: float(v) for k, v in metrics.items()}
        objective = self.objective
        if not objective.has_value(logs):
            from trine.tuner.errors import FatalValueError
            wanted = [n for n in objective.names if n not in logs]
            raise FatalValueError(
                f"update_trial: the objective {', '.join(map(repr, wanted))} is not among the "
                f"metrics reported: {sorted(logs)}. Report it, or pass it as objective=.")
        value = objective.get_value(logs)
        best = getattr(trial, "_reported", None)
        if best is None or objective.better_than(value, objective.get_value(best[0])):
            trial._reported = ({**logs, objective.name: value}, int(step))
        otrial = getattr(trial, "_optuna_trial", None)
        if otrial is not None and math.isfinite(value):
            otrial.report(value, step=int(step))
            if otrial.should_prune():
                trial._pruned, trial._pruned_at = True, int(step)
                return TrialStatus.STOPPED
        return TrialStatus.RUNNING

    def _require_study(self):
        if self.study is None:
            raise RuntimeError("The oracle has no study yet: call tuner.search(...) first, or "
                               "create the tuner with overwrite=False to reopen a past one.")
        return self.study

    def trial_hyperparameters(self, otrial) -> HyperParameters:
        """A HyperParameters whose new entries are sampled by `otrial`."""
        hp = HyperParameters()
        declared = self._declared

        def hook(h):
            known = declared.declared(h.name) if declared is not None else []
            if known:
                return suggest(otrial, known[0], self.grid)
            if declared is not None and not self.allow_new_entries:
                from trine.tuner.errors import FatalValueError
                raise FatalValueError(
                    f"allow_new_entries is False, but build declared the new hyperparameter "
                    f"{h.name!r}. Declare it in hyperparameters=, or pass "
                    "allow_new_entries=True.")
            if declared is not None and not self.tune_new_entries:
                return h.default
            return suggest(otrial, h, self.grid)

        hp._suggest = hook
        return hp

    def note_space(self, hp: HyperParameters) -> None:
        """Add a trial's newly seen hyperparameters to the space shown by summaries.

        As in KerasTuner, a name declared in the tuner's `hyperparameters=` keeps that
        declaration (build's own definition of it is not added), and with
        `tune_new_entries=False` new names are not added (they take their defaults)."""
        declared = self._declared
        for h in hp.space:
            if declared is not None and (declared.declared(h.name) or
                                         not self.tune_new_entries):
                continue
            if not any(o.same_definition(h) and o.conditions == h.conditions
                       for o in self.hyperparameters.declared(h.name)):
                self.hyperparameters._hps.setdefault(h.name, []).append(h)
                self.hyperparameters._space.append(h)

    # ---- reading trials ----------------------------------------------------------------
    def _frozen(self, states=None) -> list:
        return [t for t in self._require_study().get_trials(deepcopy=False, states=states)
                if t.user_attrs.get(STATUS) != SURPLUS]

    def _to_trial(self, ft) -> Trial:
        import optuna
        S = optuna.trial.TrialState
        hp = HyperParameters()
        hp.values = dict(ft.user_attrs.get(VALUES, {}))
        status = {S.COMPLETE: TrialStatus.COMPLETED, S.PRUNED: TrialStatus.PRUNED,
                  S.RUNNING: TrialStatus.RUNNING, S.WAITING: TrialStatus.IDLE,
                  S.FAIL: TrialStatus.FAILED}[ft.state]
        direction = self.objective.direction
        score = ft.value if ft.state == S.COMPLETE else None
        if ft.state == S.PRUNED and ft.intermediate_values:
            pick = max if direction == "max" else min
            score = pick(ft.intermediate_values.values())
        return Trial(str(ft.number), hp, status, score=score,
                     best_step=ft.user_attrs.get(BEST_STEP, 0),
                     metrics=MetricsTracker(ft.user_attrs.get(METRICS, {}),
                                            dict(ft.intermediate_values), direction),
                     message=ft.user_attrs.get(MESSAGE), number=ft.number,
                     retried_from=ft.system_attrs.get("failed_trial"))

    @property
    def trials(self) -> dict:
        """trial_id -> Trial, for every trial of the study (all processes)."""
        return {str(t.number): self._to_trial(t) for t in self._frozen()}

    def get_trial(self, trial_id) -> Trial:
        return self.trials[str(trial_id)]

    def get_best_trials(self, num_trials: int = 1) -> list:
        """The completed trials, best score first."""
        import optuna
        done = [self._to_trial(t) for t in self._frozen((optuna.trial.TrialState.COMPLETE,))]
        reverse = self.objective.direction == "max"
        done.sort(key=lambda t: t.score, reverse=reverse)
        return done[:num_trials]

    def get_space(self) -> HyperParameters:
        return self.hyperparameters

    # ---- the budget --------------------------------------------------------------------
    def budget_counts(self, before: Optional[int] = None):
        """(finished, running, waiting) trials that use the max_trials budget, optionally only
        those numbered below `before`. A trial failed by the heartbeat (its process died) does
        not count: its queued retry does."""
        import optuna
        S = optuna.trial.TrialState
        finished = running = waiting = 0
        for t in self._require_study().get_trials(deepcopy=False):
            if before is not None and t.number >= before:
                continue
            status = t.user_attrs.get(STATUS)
            if t.state in (S.COMPLETE, S.PRUNED) or (t.state == S.FAIL and status == FAILED):
                finished += 1
            elif t.state == S.RUNNING:
                running += 1
            elif t.state == S.WAITING:
                waiting += 1
        return finished, running, waiting

    def fail_stale_trials(self) -> None:
        import optuna
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self._require_study())

    def wait_for_room(self, poll: float) -> bool:
        """True when this process may start a trial; False when the budget is used up.
        While other processes hold the last slots it waits, so that a slot whose process
        dies (heartbeat) is retried here."""
        while True:
            self.fail_stale_trials()
            finished, running, waiting = self.budget_counts()
            if finished >= self.max_trials:
                return False
            if waiting or finished + running < self.max_trials:
                return True
            time.sleep(poll)


def hyperband_trials(max_epochs: int, factor: int, iterations: int) -> int:
    """How many models KerasTuner's Hyperband starts: the first-round size of each bracket,
    times the iterations."""
    brackets, epochs = 0, max_epochs
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    end0 = math.ceil(1 + math.log(max_epochs, factor))
    total = sum(math.ceil(end0 / (b + 1) * factor ** b) for b in range(brackets))
    return total * iterations


class RandomSearchOracle(Oracle):
    """Random sampling (Optuna's RandomSampler)."""


class BayesianOptimizationOracle(Oracle):
    """Model-based search: Optuna's multivariate, grouped TPE, which handles conditional
    spaces. `num_initial_points` random trials come first (default 3 per hyperparameter);
    `alpha` and `beta` belong to KerasTuner's Gaussian process and are accepted for its
    signature only."""

    def __init__(self, objective=None, max_trials=10, num_initial_points=None, alpha=1e-4,
                 beta=2.6, seed=None, hyperparameters=None, allow_new_entries=True,
                 tune_new_entries=True, max_retries_per_trial=0,
                 max_consecutive_failed_trials=3, sampler=None, pruner=None):
        super().__init__(objective, max_trials, hyperparameters, allow_new_entries,
                         tune_new_entries, seed, max_retries_per_trial,
                         max_consecutive_failed_trials, sampler, pruner)
        if num_initial_points is not None and num_initial_points < 0:
            raise ValueError(f"num_initial_points must be >= 0, received {num_initial_points}.")
        self.num_initial_points = num_initial_points
        self.alpha, self.beta = alpha, beta

    def make_sampler(self, seed):
        import optuna
        n = self.num_initial_points
        if n is None:
            n = max(3 * len([h for h in self.hyperparameters.space
                             if not isinstance(h, Fixed)]), 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n, multivariate=True,
                                              group=True, constant_liar=True)


class HyperbandOracle(BayesianOptimizationOracle):
    """Hyperband: TPE proposes, Optuna's HyperbandPruner stops weak trials (resource =
    epochs). The trial count is KerasTuner's for the same max_epochs, factor and
    iterations unless max_trials is given."""

    def __init__(self, objective=None, max_epochs=100, factor=3, hyperband_iterations=1,
                 seed=None, hyperparameters=None, allow_new_entries=True, tune_new_entries=True,
                 max_retries_per_trial=0, max_consecutive_failed_trials=3, max_trials=None,
                 sampler=None, pruner=None):
        for arg, v, low in (("max_epochs", max_epochs, 1), ("factor", factor, 2),
                            ("hyperband_iterations", hyperband_iterations, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"Hyperband: {arg} must be an integer >= {low}, received "
                                 f"{v!r}.")
        self.max_epochs, self.factor = max_epochs, factor
        self.hyperband_iterations = hyperband_iterations
        if max_trials is None:
            max_trials = hyperband_trials(max_epochs, factor, hyperband_iterations)
        super().__init__(objective, max_trials, None, 1e-4, 2.6, seed, hyperparameters,
                         allow_new_entries, tune_new_entries, max_retries_per_trial,
                         max_consecutive_failed_trials, sampler, pruner)

    def make_pruner(self):
        import optuna
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=self.max_epochs,
                                              reduction_factor=self.factor)


class GridSearchOracle(Oracle):
    """Every combination once (Optuna's BruteForceSampler). A Float without step takes 10
    evenly spaced values, as KerasTuner's grid does. max_trials=None walks the whole grid."""

    default_max_trials = None
    grid = True

    def make_sampler(self, seed):
        import optuna
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.BruteForceSampler(seed=seed, avoid_premature_stop=True)

    def wait_for_room(self, poll):
        if self.max_trials is None:
            self.fail_stale_trials()
            return True  # the sampler stops the study when the grid is done
        return super().wait_for_room(poll)

    def budget_counts(self, before=None):
        if self.max_trials is None:
            return 0, 0, 0
        return super().budget_counts(before)


def tuner_seed_offset() -> int:
    """Processes of one distributed search must not share a sampler stream."""
    tid = os.environ.get("KERASTUNER_TUNER_ID")
    if not tid or tid == "chief":
        return 0
    return sum((i + 1) * ord(c) for i, c in enumerate(tid))
