"""KerasTuner's `HyperParameters`: a search space declared while the model is built.

A trial's values come from a `suggest` hook (Optuna's define-by-run trial, see `engine.py`);
without one a hyperparameter takes its stored value or its default, which is how a trial's
model is rebuilt later. No Optuna here: this file is imported by `build(hp)` code.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterator, Optional, Sequence

_SAMPLINGS = ("linear", "log", "reverse_log")


class Parent:
    """Condition: active when the hyperparameter `name` takes one of `values`."""

    def __init__(self, name: str, values):
        self.name = name
        values = values if isinstance(values, (list, tuple)) else [values]
        self.values = list(values)

    def is_active(self, values: dict) -> bool:
        return self.name in values and values[self.name] in self.values

    def __eq__(self, other) -> bool:
        return isinstance(other, Parent) and (self.name, self.values) == (other.name,
                                                                          other.values)

    def __repr__(self) -> str:
        return f"Parent(name={self.name!r}, values={self.values!r})"


class HyperParameter:
    """Base of the hyperparameter kinds; `get_config` is its identity."""

    kind = "HyperParameter"

    def __init__(self, name: str, default=None, conditions: Sequence[Parent] = ()):
        if not isinstance(name, str) or not name:
            raise ValueError(f"A hyperparameter needs a non-empty string name, received "
                             f"{name!r}.")
        self.name = name
        self._default = default
        self.conditions = list(conditions)

    @property
    def default(self):
        return self._default

    def get_config(self) -> dict:
        return {"name": self.name, "default": self._default}

    def same_definition(self, other: "HyperParameter") -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.kind}({args})"


class Fixed(HyperParameter):
    """A value that is not tuned but recorded with the trial."""

    kind = "Fixed"

    def __init__(self, name, value, conditions=()):
        if not isinstance(value, (bool, int, float, str)) and value is not None:
            raise ValueError(f"HyperParameters.Fixed(name={name!r}): value must be a bool, int, "
                             f"float, str or None, received {value!r} of type "
                             f"{type(value).__name__}.")
        super().__init__(name, value, conditions)
        self.value = value

    def get_config(self):
        return {"name": self.name, "value": self.value}


class Boolean(HyperParameter):
    """True or False; the default is False."""

    kind = "Boolean"

    def __init__(self, name, default=False, conditions=()):
        if not isinstance(default, bool):
            raise ValueError(f"HyperParameters.Boolean(name={name!r}): default must be True or "
                             f"False, received {default!r}.")
        super().__init__(name, default, conditions)
        self.values = (False, True)


class Choice(HyperParameter):
    """One of a list of int, float, str or bool values of one type."""

    kind = "Choice"

    def __init__(self, name, values, ordered=None, default=None, conditions=()):
        if values is None or len(values) == 0:
            raise ValueError(f"HyperParameters.Choice(name={name!r}): `values` must be a "
                             "non-empty list, received an empty one. Pass the candidates, e.g. "
                             "values=[32, 64, 128].")
        types = {type(v) for v in values}
        if not types <= {int, float, str, bool}:
            raise TypeError(f"HyperParameters.Choice(name={name!r}): values must be int, float, "
                            f"str or bool, received {list(values)!r}.")
        if len(types) > 1 and types != {int, float}:
            raise TypeError(f"HyperParameters.Choice(name={name!r}): all values must have one "
                            f"type, received {list(values)!r}.")
        numeric = types <= {int, float}
        if ordered is None:
            ordered = numeric
        if ordered and not numeric:
            raise ValueError(f"HyperParameters.Choice(name={name!r}): `ordered` must be False "
                             f"for non-numeric values {list(values)!r}.")
        if default is not None and default not in values:
            raise ValueError(f"HyperParameters.Choice(name={name!r}): the default should be one "
                             f"of the choices. You passed values={list(values)!r}, "
                             f"default={default!r}.")
        super().__init__(name, default, conditions)
        self.values = list(values)
        self.ordered = bool(ordered)

    @property
    def default(self):
        return self.values[0] if self._default is None else self._default

    def get_config(self):
        return {"name": self.name, "values": self.values, "ordered": self.ordered,
                "default": self._default}


class _Numerical(HyperParameter):
    """Int and Float: a range, a step and a sampling rule (KerasTuner's)."""

    def __init__(self, name, min_value, max_value, step=None, sampling="linear", default=None,
                 conditions=()):
        super().__init__(name, default, conditions)
        where = f"HyperParameters.{self.kind}(name={name!r})"
        if min_value > max_value:
            raise ValueError(f"{where}: min_value {min_value} is greater than the max_value "
                             f"{max_value}. Swap them, or make min_value <= max_value.")
        sampling = "linear" if sampling is None else str(sampling).lower()
        if sampling not in _SAMPLINGS:
            raise ValueError(f"{where}: sampling must be one of {list(_SAMPLINGS)}, received "
                             f"{sampling!r}.")
        if sampling != "linear" and min_value <= 0:
            raise ValueError(f"{where}: sampling={sampling!r} needs a positive range, received "
                             f"min_value={min_value}. Use sampling='linear' or a min_value > 0.")
        if step is not None and step <= 0:
            raise ValueError(f"{where}: step must be positive, received step={step}.")
        if sampling != "linear" and step is not None and step <= 1:
            raise ValueError(f"{where}: expected step > 1 with sampling={sampling!r} (the step "
                             f"multiplies), received step={step}.")
        if default is not None and not min_value <= default <= max_value:
            raise ValueError(f"{where}: default {default} is outside [{min_value}, "
                             f"{max_value}].")
        self.min_value, self.max_value = min_value, max_value
        self.step, self.sampling = step, sampling

    @property
    def default(self):
        return self.min_value if self._default is None else self._default

    def get_config(self):
        return {"name": self.name, "min_value": self.min_value, "max_value": self.max_value,
                "step": self.step, "sampling": self.sampling, "default": self._default}

    def _n_values(self) -> int:
        if self.sampling == "linear":
            return int((self.max_value - self.min_value) // self.step + 1)
        return int(math.log(self.max_value / self.min_value, self.step) + 1e-8) + 1

    def _value_at(self, index: int):
        if self.sampling == "linear":
            return self.min_value + index * self.step
        if self.sampling == "log":
            return self.min_value * self.step ** index
        return self.max_value + self.min_value - self.min_value * self.step ** index

    def _from_prob(self, p: float) -> float:
        lo, hi = self.min_value, self.max_value
        if self.sampling == "linear":
            return lo + p * (hi - lo)
        if self.sampling == "log":
            return lo * (hi / lo) ** p
        return hi + lo - lo * (hi / lo) ** (1 - p)

    @property
    def values(self) -> list:
        """The grid GridSearch walks: every step, or 10 evenly spaced quantiles without one."""
        if self.step is None:
            return sorted({self._cast(self._from_prob(i * 0.1 + 0.05)) for i in range(10)})
        return sorted(self._cast(self._value_at(i)) for i in range(self._n_values()))

    def _cast(self, v):
        return v


class Int(_Numerical):
    """An integer in [min_value, max_value], both included (KerasTuner's `hp.Int`)."""

    kind = "Int"

    def __init__(self, name, min_value, max_value, step=None, sampling="linear", default=None,
                 conditions=()):
        for arg, v in (("min_value", min_value), ("max_value", max_value), ("step", step)):
            if v is not None and (isinstance(v, bool) or int(v) != v):
                raise ValueError(f"HyperParameters.Int(name={name!r}): {arg} must be an "
                                 f"integer, received {v!r}. Use hp.Float for real values.")
        super().__init__(name, int(min_value), int(max_value),
                         None if step is None else int(step), sampling, default, conditions)

    def _cast(self, v):
        return int(round(v))


class Float(_Numerical):
    """A real value in [min_value, max_value] (KerasTuner's `hp.Float`)."""

    kind = "Float"

    def __init__(self, name, min_value, max_value, step=None, sampling="linear", default=None,
                 conditions=()):
        super().__init__(name, float(min_value), float(max_value),
                         None if step is None else float(step), sampling, default, conditions)

    def _cast(self, v):
        return float(v)


SuggestFn = Callable[[HyperParameter], Any]


class HyperParameters:
    """The search space and the current trial's values (KerasTuner's `HyperParameters`).

    Attributes:
        space: the hyperparameters declared so far, in declaration order.
        values: name -> value of the active hyperparameters.

    Example:
        >>> hp = HyperParameters()
        >>> units = hp.Int("units", 32, 128, step=32)
        >>> with hp.conditional_scope("units", [128]):
        ...     extra = hp.Boolean("extra_layer")
    """

    def __init__(self):
        self._conditions: list[Parent] = []
        self._name_scopes: list[str] = []
        self._hps: dict[str, list[HyperParameter]] = {}
        self._space: list[HyperParameter] = []
        self.values: dict[str, Any] = {}
        self._suggest: Optional[SuggestFn] = None
        self.inactive_scopes: list[list[Parent]] = []

    @property
    def space(self) -> list:
        return list(self._space)

    def _name(self, name: str) -> str:
        return "/".join(self._name_scopes + [name])

    @contextlib.contextmanager
    def name_scope(self, name: str) -> Iterator[None]:
        self._name_scopes.append(name)
        try:
            yield
        finally:
            self._name_scopes.pop()

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values) -> Iterator[None]:
        """Hyperparameters declared inside are active only when `parent_name` is in
        `parent_values`; inactive ones return None and are not sampled.

        Raises:
            ValueError: when `parent_name` has not been declared.
        """
        parent_name = self._name(parent_name)
        if parent_name not in self._hps:
            raise ValueError(f"conditional_scope: the parent hyperparameter {parent_name!r} is "
                             f"not defined. Declare it (e.g. hp.Choice({parent_name!r}, ...)) "
                             "before opening a scope on it.")
        condition = Parent(parent_name, parent_values)
        self._conditions.append(condition)
        if not self._active(self._conditions):
            self.inactive_scopes.append(list(self._conditions))
        try:
            yield
        finally:
            self._conditions.pop()

    @contextlib.contextmanager
    def _maybe_scope(self, parent_name, parent_values):
        if parent_name is None:
            yield
            return
        with self.conditional_scope(parent_name, parent_values):
            yield

    def _active(self, conditions) -> bool:
        return all(c.is_active(self.values) for c in conditions)

    def is_active(self, hp) -> bool:
        """Whether a hyperparameter (object or name) is active under the current values."""
        if isinstance(hp, HyperParameter):
            return self._active(hp.conditions)
        return any(self._active(h.conditions) for h in self._hps.get(str(hp), []))

    def _retrieve(self, hp: HyperParameter):
        same = [h for h in self._hps.get(hp.name, []) if h.conditions == hp.conditions]
        if same:
            if not same[0].same_definition(hp):
                raise ValueError(
                    f"Hyperparameter {hp.name!r} was already declared as {same[0]!r} and is now "
                    f"declared as {hp!r}. Give the second one another name, or declare it the "
                    "same way both times.")
            return self._value_for(same[0])
        return self._register(hp)

    def _register(self, hp: HyperParameter):
        for other in self._hps.get(hp.name, []):
            if type(other) is not type(hp) and self._active(other.conditions) and \
                    self._active(hp.conditions):
                raise ValueError(f"Hyperparameter {hp.name!r} is declared twice while active, "
                                 f"as {other!r} and as {hp!r}. Use distinct names.")
        self._hps.setdefault(hp.name, []).append(hp)
        self._space.append(hp)
        return self._value_for(hp)

    def _value_for(self, hp: HyperParameter):
        if not self._active(hp.conditions):
            return None  # inactive: no value, nothing sampled
        if hp.name not in self.values:
            if isinstance(hp, Fixed):
                self.values[hp.name] = hp.value
            elif self._suggest is not None:
                self.values[hp.name] = self._suggest(hp)
            else:
                self.values[hp.name] = hp.default
        return self.values[hp.name]

    def get(self, name: str):
        """The current value of an active hyperparameter.

        Raises:
            ValueError: when it exists but is inactive; KeyError when it does not exist.
        """
        name = self._name(name)
        if name in self.values:
            return self.values[name]
        if name in self._hps:
            raise ValueError(f"Hyperparameter {name!r} is currently inactive.")
        raise KeyError(f"Hyperparameter {name!r} does not exist; declared: "
                       f"{sorted(self._hps)}.")

    def __getitem__(self, name):
        return self.get(name)

    def __contains__(self, name) -> bool:
        try:
            self.get(name)
            return True
        except (KeyError, ValueError):
            return False

    def Choice(self, name: str, values, ordered: Optional[bool] = None, default=None,
               parent_name: Optional[str] = None, parent_values=None):
        """One of `values` (int, float, str or bool). Returns its value, or None if inactive."""
        with self._maybe_scope(parent_name, parent_values):
            return self._retrieve(Choice(self._name(name), values, ordered, default,
                                         self._conditions))

    def Int(self, name: str, min_value: int, max_value: int, step: Optional[int] = None,
            sampling: str = "linear", default: Optional[int] = None,
            parent_name: Optional[str] = None, parent_values=None):
        """An integer in [min_value, max_value] (both included); `step` is an additive step
        (linear) or a factor (log). A step that does not divide the range stops at the last
        value inside it, as KerasTuner's does. Returns the value, or None if inactive."""
        with self._maybe_scope(parent_name, parent_values):
            return self._retrieve(Int(self._name(name), min_value, max_value, step, sampling,
                                      default, self._conditions))

    def Float(self, name: str, min_value: float, max_value: float, step: Optional[float] = None,
              sampling: str = "linear", default: Optional[float] = None,
              parent_name: Optional[str] = None, parent_values=None):
        """A real value in [min_value, max_value]. Returns the value, or None if inactive."""
        with self._maybe_scope(parent_name, parent_values):
            return self._retrieve(Float(self._name(name), min_value, max_value, step, sampling,
                                        default, self._conditions))

    def Boolean(self, name: str, default: bool = False, parent_name: Optional[str] = None,
                parent_values=None):
        """True or False. Returns the value, or None if inactive."""
        with self._maybe_scope(parent_name, parent_values):
            return self._retrieve(Boolean(self._name(name), default, self._conditions))

    def Fixed(self, name: str, value, parent_name: Optional[str] = None, parent_values=None):
        """A value that is recorded but not tuned. Returns it, or None if inactive."""
        with self._maybe_scope(parent_name, parent_values):
            return self._retrieve(Fixed(self._name(name), value, self._conditions))

    def copy(self) -> "HyperParameters":
        new = HyperParameters()
        for hp in self._space:
            new._hps.setdefault(hp.name, []).append(hp)
            new._space.append(hp)
        new.values = dict(self.values)
        return new

    def declared(self, name: str) -> list:
        """The definitions declared under `name` (several when conditions differ)."""
        return list(self._hps.get(name, []))

    def get_config(self) -> dict:
        return {"space": [{"class_name": h.kind, "config": h.get_config(),
                           "conditions": [[c.name, c.values] for c in h.conditions]}
                          for h in self._space], "values": dict(self.values)}

    def __repr__(self) -> str:
        return f"HyperParameters(values={self.values!r})"
