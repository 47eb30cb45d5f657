"""A Keras-style progress bar that never slows training down.

    1688/1688 ━━━━━━━━━━━━━━━━━━━━ 3s 2ms/step - accuracy: 0.7590 - loss: 0.7520

On a terminal the bar redraws in place (carriage return), at most once per `interval`
seconds, and ends with a newline. When stdout is not a terminal (CI logs, files, pytest's
capture) only the final line is printed. `verbose=2` prints one summary line at the end:

    1688/1688 - 3s - 2ms/step - accuracy: 0.7590 - loss: 0.7520

Output goes to `sys.stdout` as it is when a line is written.
"""
from __future__ import annotations

import math
import numbers
import sys
import time
from typing import Iterable, Optional

import numpy as np

__all__ = ["Progbar"]

# The clock used for rate limiting and timings (a module attribute so tests can replace it).
_clock = time.monotonic

_BOLD, _GREEN, _WHITE, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
_BAR = "\u2501"  # ━ (done; on a terminal the rest of the bar is the same glyph in grey)
_THIN = "\u2500"  # ─ (not done, when there are no colours)


def _format_value(value) -> str:
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        value = float(np.mean(value))  # an array-valued metric shows its mean, as in Keras
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        value = float(value)
        return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"
    return str(value)


def _format_time_per_unit(seconds: float, unit_name: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


def _is_dynamic(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        tty = False
    return tty or "ipykernel" in sys.modules


class Progbar:
    """Displays a progress bar with running metric values.

    Args:
        target: total number of steps expected, or None if unknown.
        width: width of the bar in characters.
        verbose: 0 (silent), 1 (bar) or 2 (one line at the end).
        interval: minimum seconds between two redraws of the bar.
        stateful_metrics: names of values shown as given; all other values are averaged over
            the steps since the start (weighted by step count). Default: none, i.e. all
            values are averaged, as in Keras.
        stateless_metrics: the opposite: names of values to average, every other value is
            shown as given. Give at most one of `stateful_metrics` and `stateless_metrics`.
        unit_name: the unit shown in the time per unit ("step", "sample", ...).

    Raises:
        ValueError: if both `stateful_metrics` and `stateless_metrics` are given.

    Example:
        >>> bar = Progbar(100, stateful_metrics=["loss"])
        >>> for i in range(100):
        ...     bar.update(i + 1, [("loss", 0.5)])  # doctest: +SKIP
    """

    def __init__(self, target: Optional[int], width: int = 20, verbose: int = 1,
                 interval: float = 0.05, stateful_metrics: Optional[Iterable[str]] = None,
                 stateless_metrics: Optional[Iterable[str]] = None, unit_name: str = "step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Progbar: pass only one of stateful_metrics (names shown as given, the rest "
                "averaged) and stateless_metrics (names averaged, the rest shown as given); "
                f"received stateful_metrics={stateful_metrics!r}, "
                f"stateless_metrics={stateless_metrics!r}.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set(stateful_metrics or ())
            self.stateless_metrics = None
        self._dynamic_display = _is_dynamic(sys.stdout)
        self._values: dict = {}  # name -> [sum or value, count]
        self._seen_so_far = 0
        self._start = _clock()
        self._last_update = None
        self._time_after_first_step = None
        self._prev_width = 0

    # ------------------------------------------------------------------ public
    def update(self, current: int, values=None, finalize: Optional[bool] = None) -> None:
        """Updates the bar.

        Args:
            current: index of the current step (1-based count of steps done).
            values: `(name, value)` pairs or a dict. Averaged values are weighted by the
                number of steps since the previous update.
            finalize: whether this is the last update; default `current >= target`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        if values:
            self._record(current, values.items() if isinstance(values, dict) else values,
                         finalize)
        self._seen_so_far = current
        now = _clock()
        if current == 1 and self._time_after_first_step is None:
            self._time_after_first_step = now
        if self.verbose == 1:
            if not finalize:
                if not self._dynamic_display:
                    return
                if self._last_update is not None and now - self._last_update < self.interval:
                    return
            self._write(self._bar_line(current, now, finalize))
            self._last_update = now
        elif self.verbose == 2 and finalize:
            self._write(self._summary_line(current, now))
            self._last_update = now

    def add(self, n: int, values=None) -> None:
        """Advances the bar by `n` steps (see `update`)."""
        self.update(self._seen_so_far + n, values)

    # ------------------------------------------------------------------ internals
    def _averaged(self, name) -> bool:
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _record(self, current, items, finalize):
        for name, value in items:
            if self._averaged(name) and isinstance(value, numbers.Number):
                if finalize:
                    self._values[name] = [value, 1]
                    continue
                weight = max(current - self._seen_so_far, 1)
                slot = self._values.get(name)
                if slot is None:
                    self._values[name] = [value * weight, weight]
                else:
                    slot[0] += value * weight
                    slot[1] += weight
            else:
                self._values[name] = [value, 1]

    def _time_per_unit(self, current, now) -> float:
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self._start) / current

    def _metrics_text(self) -> str:
        parts = []
        for name, (total, count) in self._values.items():
            value = total / max(1, count) if isinstance(total, numbers.Number) else total
            parts.append(f" - {name}: {_format_value(value)}")
        return "".join(parts)

    def _bar_line(self, current, now, finalize) -> str:
        color = self._dynamic_display
        per_unit = self._time_per_unit(current, now)
        known = self.target is not None and self.target > 0
        if known:
            digits = int(math.log10(self.target)) + 1
            count = f"{int(current):>{digits}d}/{self.target}"
            done = max(min(int(self.width * current / self.target), self.width), 0)
            if color:
                bar = (f"{_GREEN}{_BAR * done}{_RESET}" if done else "") + \
                    f"{_WHITE}{_BAR * (self.width - done)}{_RESET}"
                head = f"{_BOLD}{count}{_RESET} {bar}"
            else:
                head = f"{count} {_BAR * done}{_THIN * (self.width - done)}"
            visible = len(count) + 1 + self.width
        else:
            head = "%7d/Unknown" % current
            visible = len(head)
        if known and not finalize:
            timing = _format_eta(per_unit * (self.target - current))
        else:
            timing = f"{now - self._start:.0f}s"
        rest = f" {_format_time_per_unit(per_unit, self.unit_name)}{self._metrics_text()}"
        visible += 1 + len(timing) + len(rest)
        line = head + (f" {_BOLD}{timing}{_RESET}" if color else f" {timing}") + rest
        if self._dynamic_display:
            pad = " " * max(self._prev_width - visible, 0)
            self._prev_width = visible
            return "\r" + line + pad + ("\n" if finalize else "")
        return line + "\n"

    def _summary_line(self, current, now) -> str:
        per_unit = self._time_per_unit(current, now)
        if self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            count = f"{int(current):>{digits}d}/{self.target}"
        else:
            count = f"{current}/{current}"
        return (f"{count} - {now - self._start:.0f}s - "
                f"{_format_time_per_unit(per_unit, self.unit_name)}{self._metrics_text()}\n")

    @staticmethod
    def _write(message: str) -> None:
        from trine.config import is_interactive_logging_enabled
        if not is_interactive_logging_enabled():  # keras.config: to Python logging instead
            import logging
            logging.getLogger("trine").info(message.strip("\r\n"))
            return
        stream = sys.stdout
        try:
            stream.write(message)
        except UnicodeEncodeError:
            stream.write(message.replace(_BAR, "=").replace(_THIN, "."))
        flush = getattr(stream, "flush", None)
        if callable(flush):
            flush()
