"""Scenario files: TOML, validated on load, round-tripping through ``save``.

A scenario names the horizon, the seeds, parameter overrides, the baseline
policy setting (where knowing use of victims' services is an offence) and the
levers. A file may ``extend`` another (a path relative to itself): the base is
loaded first, then this file's values override it and its levers are added.
Every problem in a file is reported at once, each naming the key, the value and
what is allowed; nothing runs on a bad file.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import tomli_w

from thbsim.geography import USERS_OFFENCE_2017, geography
from thbsim.params import PARAMS, ParamSet, check_value

EARLIEST, LATEST = pd.Period("2000-01", "M"), pd.Period("2050-12", "M")


class ScenarioError(ValueError):
    """A scenario file or value that cannot be used; the message lists every problem."""

    def __init__(self, problems: list[str], source: str = "scenario") -> None:
        self.problems = problems
        head = f"{source}: {len(problems)} problem{'s' if len(problems) > 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Scenario:
    """One fully resolved scenario (``extends`` already applied)."""

    name: str = "baseline"
    description: str = ""
    start: str = "2008-01"
    end: str = "2030-12"
    output_from: str = "2012-01"
    seed: int = 20201020
    replicates: int = 10
    users_offence: tuple[str, ...] = USERS_OFFENCE_2017
    params: ParamSet = field(default_factory=ParamSet)
    levers: tuple = ()

    def __post_init__(self) -> None:
        problems = _check_fields(self)
        if problems:
            raise ScenarioError(problems, f"scenario {self.name!r}")

    def with_params(self, **overrides: float) -> Scenario:
        return dataclasses.replace(self, params=self.params.replace(**overrides))

    def replace(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        head = {
            "name": self.name, "description": self.description, "start": self.start, "end": self.end,
            "output_from": self.output_from, "seed": self.seed, "replicates": self.replicates,
        }
        out: dict[str, Any] = {"scenario": head, "policy": {"users_offence": list(self.users_offence)}}
        if self.params.overrides():
            out["params"] = self.params.overrides()
        if self.levers:
            out["levers"] = [lever.to_dict() for lever in self.levers]
        return out


def _period(value: Any) -> pd.Period | None:
    """A month written exactly as 'YYYY-MM', else None."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        return None
    return pd.Period(value, "M")


def _check_fields(s: Scenario) -> list[str]:
    problems = []
    periods = {}
    for key in ("start", "end", "output_from"):
        value = getattr(s, key)
        per = _period(value)
        if per is None or not EARLIEST <= per <= LATEST:
            problems.append(f"[scenario] {key} = {value!r}: expected a month 'YYYY-MM' between {EARLIEST} and {LATEST}")
        else:
            periods[key] = per
    if {"start", "end"} <= periods.keys() and periods["end"] < periods["start"] + 12:
        problems.append(f"[scenario] end = {s.end!r}: expected at least a year after start = {s.start!r}")
    if {"start", "end", "output_from"} <= periods.keys() and not (
        periods["start"] <= periods["output_from"] <= periods["end"]
    ):
        problems.append(f"[scenario] output_from = {s.output_from!r}: outside the horizon {s.start} to {s.end}")
    if isinstance(s.seed, bool) or not isinstance(s.seed, int) or s.seed < 0:
        problems.append(f"[scenario] seed = {s.seed!r}: expected a non-negative integer")
    if isinstance(s.replicates, bool) or not isinstance(s.replicates, int) or not 1 <= s.replicates <= 100000:
        problems.append(f"[scenario] replicates = {s.replicates!r}: expected an integer from 1 to 100000")
    problems += _check_states("[policy] users_offence", s.users_offence)
    for lever in s.levers:
        problems += lever.problems(s) if hasattr(lever, "problems") else []
    return problems


def _check_states(key: str, codes: Any) -> list[str]:
    states = geography().member_states
    if not isinstance(codes, list | tuple) or not all(isinstance(c, str) for c in codes):
        return [f"{key} = {codes!r}: expected a list of member-state codes such as ['SE', 'IE']"]
    bad = [c for c in codes if c not in states]
    if bad:
        return [f"{key} = {list(codes)!r}: {', '.join(map(repr, bad))} not a member state; allowed: {', '.join(states)}"]
    return []


_TOP = {"scenario", "params", "policy", "levers"}
_SCENARIO_KEYS = {"name": str, "description": str, "extends": str, "start": str, "end": str,
                  "output_from": str, "seed": int, "replicates": int}


def _flatten_params(table: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and name not in PARAMS:
            flat.update(_flatten_params(v, name + "."))
        else:
            flat[name] = v
    return flat


def from_dict(data: dict[str, Any], source: str = "scenario", base_dir: Path | None = None) -> Scenario:
    """Build a scenario from parsed TOML, collecting every problem before raising."""
    from thbsim.levers import lever_from_dict

    problems: list[str] = []
    for key in data:
        if key not in _TOP:
            problems.append(f"unknown table [{key}]; allowed: {', '.join(sorted(_TOP))}")
    head = data.get("scenario", {})
    if not isinstance(head, dict):
        problems.append("[scenario] must be a table")
        head = {}
    fields: dict[str, Any] = {}
    for key, value in head.items():
        want = _SCENARIO_KEYS.get(key)
        if want is None:
            problems.append(f"[scenario] unknown key {key!r} (= {value!r}); allowed: {', '.join(_SCENARIO_KEYS)}")
        elif not isinstance(value, want) or isinstance(value, bool):
            problems.append(f"[scenario] {key} = {value!r}: expected {want.__name__}")
        else:
            fields[key] = value
    base = Scenario()
    if "extends" in fields:
        path = (base_dir or Path.cwd()) / fields.pop("extends")
        if not path.is_file():
            problems.append(f"[scenario] extends = {str(head['extends'])!r}: no such file ({path.name})")
        else:
            base = load(path)
    params = dict(base.params.overrides())
    raw_params = data.get("params", {})
    if not isinstance(raw_params, dict):
        problems.append("[params] must be a table of parameter = number")
        raw_params = {}
    for key, value in _flatten_params(raw_params).items():
        try:
            params[key] = check_value(key, value)
        except (KeyError, TypeError, ValueError) as err:
            problems.append(f"[params] {err.args[0]}")
    policy = data.get("policy", {})
    if not isinstance(policy, dict):
        problems.append(f"[policy] = {policy!r}: expected a table such as [policy] users_offence = ['SE']")
    users_offence = base.users_offence
    for key, value in (policy.items() if isinstance(policy, dict) else []):
        if key != "users_offence":
            problems.append(f"[policy] unknown key {key!r} (= {value!r}); allowed: users_offence")
            continue
        found = _check_states("[policy] users_offence", value)
        problems += found
        if not found:
            users_offence = tuple(value)
    levers = list(base.levers)
    raw_levers = data.get("levers", [])
    if not isinstance(raw_levers, list):
        problems.append("levers must be an array of tables: [[levers]]")
        raw_levers = []
    for i, item in enumerate(raw_levers):
        try:
            levers.append(lever_from_dict(item, where=f"[[levers]] #{i + 1}"))
        except ValueError as err:
            problems += getattr(err, "problems", [str(err)])
    merged = {f.name: getattr(base, f.name) for f in dataclasses.fields(Scenario)}
    merged.update(fields)
    merged.update(users_offence=users_offence, levers=tuple(levers))
    problems += [p for p in _check_fields(SimpleNamespace(**merged)) if p not in problems]
    if problems:
        raise ScenarioError(problems, source)
    return Scenario(**{**merged, "params": ParamSet(params)})


def load(path: str | Path) -> Scenario:
    """Load and validate a scenario file."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError([f"no such scenario file: {path}"], str(path))
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError([f"not valid TOML: {err}"], str(path)) from None
    return from_dict(data, str(path), path.parent)


def loads(text: str) -> Scenario:
    return from_dict(tomllib.loads(text))


def dumps(scenario: Scenario) -> str:
    return tomli_w.dumps(scenario.to_dict())


def save(scenario: Scenario, path: str | Path) -> None:
    """Write the resolved scenario (no ``extends``): ``load(save(x)) == x``."""
    Path(path).write_text(dumps(scenario))
