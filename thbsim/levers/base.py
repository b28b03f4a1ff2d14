"""The lever interface: a start, an optional end, a scope, one intensity field, and ``apply``.

A lever is a frozen dataclass whose fields carry bounds, units and a doc in their
metadata (``spec(...)``). Each month, the model restores every policy array to
its baseline value and then calls ``apply(model)`` on each active lever, which
changes mechanisms (capacities, rates, risks), never outputs. At intensity zero
every change is the identity, so the run is the baseline's. A lever's cost is
computed from the activity it buys in the month (``cost(model)``, EUR per member
state), at unit costs declared like any other parameter.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

LEVERS: dict[str, type[Lever]] = {}


def spec(default: Any, low: float | None = None, high: float | None = None, unit: str = "", doc: str = "",
         choices: tuple | None = None) -> Any:
    """A lever field with bounds (or choices), unit and meaning."""
    meta = {"low": low, "high": high, "unit": unit, "doc": doc, "choices": choices}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Lever:
    """Base of every lever and shock. Subclasses set ``kind`` and ``intensity_field``."""

    kind: ClassVar[str] = ""
    intensity_field: ClassVar[str] = ""
    scope_field: ClassVar[str] = "member_states"
    is_shock: ClassVar[bool] = False

    start: str = spec("2022-01", unit="YYYY-MM", doc="first month the lever acts")
    end: str | None = spec(None, unit="YYYY-MM", doc="last month the lever acts (none: to the horizon)")
    member_states: Any = spec("all", unit="ISO codes or 'all'", doc="member states where the lever acts")

    # -- behaviour -----------------------------------------------------------
    @property
    def intensity(self) -> float:
        return float(getattr(self, self.intensity_field))

    def active(self, model, t: int) -> bool:
        if self.intensity == 0 or t < model.month_index(self.start):
            return False
        return self.end is None or t <= model.month_index(self.end)

    def scope(self, model) -> np.ndarray:
        """Boolean mask over member states."""
        return model.geo.state_mask(self.member_states)

    def apply(self, model) -> None:  # pragma: no cover - each kind defines it
        raise NotImplementedError

    def cost(self, model) -> np.ndarray:
        """EUR per member state this month, from the activity the lever bought (after the step)."""
        return np.zeros(model.geo.n_states)

    # -- (de)serialisation and validation -------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, item: dict, where: str = "[[levers]]") -> Lever:
        problems = []
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in item.items():
            if key == "kind":
                continue
            f = fields.get(key)
            if f is None:
                problems.append(f"{where} ({cls.kind}): unknown key {key!r} (= {value!r}); allowed: "
                                f"{', '.join(fields)}")
                continue
            problem = _check_field(cls, f, value)
            if problem:
                problems.append(f"{where} ({cls.kind}): {key} = {value!r}: {problem}")
            else:
                values[key] = tuple(value) if isinstance(value, list) else value
        if problems:
            err = ValueError("\n".join(problems))
            err.problems = problems
            raise err
        return cls(**values)

    def problems(self, scenario) -> list[str]:
        """Problems that need the scenario: dates outside its horizon, start after end."""
        import pandas as pd

        out = []
        where = f"[[levers]] {self.kind}"
        lo, hi = pd.Period(scenario.start, "M"), pd.Period(scenario.end, "M")
        for key in ("start", "end"):
            value = getattr(self, key)
            if value is not None and not lo <= pd.Period(value, "M") <= hi:
                out.append(f"{where}: {key} = {value!r}: outside the horizon {scenario.start} to {scenario.end}")
        if self.end is not None and pd.Period(self.end, "M") < pd.Period(self.start, "M"):
            out.append(f"{where}: end = {self.end!r}: before start = {self.start!r}")
        return out

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # lists become tuples, so levers compare and hash by value
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        problems = [f"{f.name} = {getattr(self, f.name)!r}: {p}" for f in dataclasses.fields(self)
                    if (p := _check_field(type(self), f, getattr(self, f.name)))]
        if problems:
            err = ValueError(f"{self.kind}: " + "; ".join(problems))
            err.problems = [f"[[levers]] {self.kind}: {p}" for p in problems]
            raise err


def _check_field(cls, f: dataclasses.Field, value: Any) -> str | None:
    """What is wrong with a field value, or None."""
    import re

    from thbsim.geography import geography

    meta = f.metadata
    if f.name in ("start", "end"):
        if value is None and f.name == "end":
            return None
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            return "expected a month 'YYYY-MM'"
        return None
    if f.name in ("member_states", "origins", "sectors"):
        allowed = {"member_states": geography().member_states, "origins": geography().iso,
                   "sectors": meta.get("choices") or ()}[f.name]
        if value == "all":
            return None
        if not isinstance(value, list | tuple) or not value or not all(isinstance(c, str) for c in value):
            return f"expected 'all' or a non-empty list of codes from {', '.join(allowed)}"
        bad = [c for c in value if c not in allowed]
        return f"{', '.join(map(repr, bad))} not allowed; allowed: {', '.join(allowed)}" if bad else None
    if meta.get("choices"):
        return None if value in meta["choices"] else f"expected one of {', '.join(map(repr, meta['choices']))}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number ({meta.get('unit', '')})"
    lo, hi = meta.get("low"), meta.get("high")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return f"outside its range [{lo:g}, {hi:g}] ({meta.get('unit', '')})"
    return None


def register(cls: type[Lever]) -> type[Lever]:
    LEVERS[cls.kind] = cls
    return cls


def lever_from_dict(item: Any, where: str = "[[levers]]") -> Lever:
    """Build a lever from a scenario table; unknown kinds are refused with the list of known ones."""
    if not isinstance(item, dict) or "kind" not in item:
        err = ValueError(f"{where}: expected a table with a 'kind' key")
        err.problems = [str(err)]
        raise err
    kind = item["kind"]
    cls = LEVERS.get(kind)
    if cls is None:
        known = ", ".join(sorted(LEVERS)) or "none in this version"
        err = ValueError(f"{where}: kind = {kind!r} is not a known lever; known kinds: {known}")
        err.problems = [str(err)]
        raise err
    return cls.from_dict(item, where)
