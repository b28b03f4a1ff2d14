"""Sweeps: scenarios x parameter samples x replicates, run on any backend, streamed to disk, resumable.

An ``Experiment`` names one or more scenarios (which carry the levers), the
uncertain parameters to vary and their bounds, a design (``factorial``,
``lhs``, ``sobol``, ``morris`` or ``given`` points), the number of samples and
replicates and a root seed. ``experiment.specs()`` gives one ``RunSpec`` per
scenario x sample x replicate, with a stable run id::

    run_id = (scenario_index * n_samples + sample) * replicates + replicate

Seeds are spawned from the root seed by replicate id (``thbsim.rng.replicate_seeds``),
so sample i replicate r runs with the same seed in every scenario (common random
numbers; with ``seed_by = "replicate"``, the default, also across samples).

``run_experiment`` streams outcomes to ``out_dir`` as runs finish::

    out_dir/manifest.json       definition (TOML text), design matrix, shards, finished and failed run ids
    out_dir/shards/part-*.parquet   outcomes of the finished runs, one file per ``shard_size`` runs
    out_dir/journal.arrow       runs finished since the last shard (Arrow IPC stream, one batch per run)
    out_dir/failures.jsonl      one line per failed run, with its error

Shards and the manifest are written to a temporary name and moved into place
(``os.replace``); every finished run is appended to the journal at once, so a
sweep killed at any point loses only the runs in flight. Running it again with
the same ``out_dir`` recovers the journal, skips finished (and failed) runs and
refuses if the stored definition differs from the current one.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import itertools
import json
import math
import os
import sys
import time
import tomllib
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

from thbsim.params import PARAMS
from thbsim.rng import replicate_seeds
from thbsim.runner import RunResult, RunSpec, _safe_chunk, execute
from thbsim.scenario import Scenario, ScenarioError
from thbsim.scenario import from_dict as scenario_from_dict
from thbsim.scenario import load as load_scenario

DESIGNS = ("factorial", "lhs", "sobol", "morris", "given")
SEED_BY = ("replicate", "sample")
MANIFEST_FORMAT = 1
_DESIGN_KEY = 2**32 - 1
"""Spawn key of the design's random stream under the root seed (replicate streams use keys 0, 1, ...)."""


class ExperimentError(ValueError):
    """An experiment file, value or output folder that cannot be used; the message lists every problem."""

    def __init__(self, problems: list[str], source: str = "experiment") -> None:
        self.problems = problems
        head = f"{source}: {len(problems)} problem{'s' if len(problems) > 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in problems))


# --------------------------------------------------------------------------------------------------
# the definition


@dataclass(frozen=True)
class ParamRange:
    """One varied parameter: its bounds (default: the declared ones) and, for factorial designs, its levels."""

    name: str
    low: float
    high: float
    levels: int | None = None

    @classmethod
    def declared(cls, name: str, levels: int | None = None) -> ParamRange:
        p = PARAMS[name]
        return cls(name, p.low, p.high, levels)


def _param_problems(r: Any) -> list[str]:
    """Problems with one ParamRange-like object (name, low, high, levels)."""
    name = r.name
    if name not in PARAMS:
        close = difflib.get_close_matches(str(name), PARAMS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return [f"[parameters] unknown parameter {name!r}{hint}"]
    p = PARAMS[name]
    if not p.uncertain:
        return [f"[parameters] {name!r} is not an uncertain parameter (a setting such as the population scale "
                f"or a structural constant): set it in the scenario's [params] instead"]
    problems = []
    for key in ("low", "high"):
        v = getattr(r, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            problems.append(f"[parameters] {name} {key} = {v!r}: expected a number ({p.unit})")
        elif not p.low <= v <= p.high:
            problems.append(f"[parameters] {name} {key} = {v!r}: outside the declared range [{p.low:g}, {p.high:g}] ({p.unit})")
    if not problems and not r.low < r.high:
        problems.append(f"[parameters] {name} = [{r.low!r}, {r.high!r}]: expected low < high "
                        "(to fix a parameter, set it in the scenario's [params])")
    if r.levels is not None and (isinstance(r.levels, bool) or not isinstance(r.levels, int) or r.levels < 2):
        problems.append(f"[parameters] {name} levels = {r.levels!r}: expected an integer of at least 2")
    return problems


def _as_ranges(parameters: Any) -> tuple[ParamRange, ...]:
    """Normalise: names, {name: None | (low, high) | {low, high, levels} | ParamRange}, or ParamRanges."""
    if parameters is None:
        return ()
    if isinstance(parameters, str | ParamRange):
        parameters = [parameters]
    items = parameters.items() if isinstance(parameters, Mapping) else [(x, None) for x in parameters]
    out = []
    for key, spec in items:
        if isinstance(key, ParamRange):
            out.append(key)
            continue
        if isinstance(spec, ParamRange):
            out.append(spec)
            continue
        p = PARAMS.get(key)
        low, high, levels = (p.low, p.high, None) if p is not None else (math.nan, math.nan, None)
        if isinstance(spec, Mapping):
            low, high, levels = spec.get("low", low), spec.get("high", high), spec.get("levels")
        elif isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) == 2:
            low, high = spec
        elif spec is not None and spec != "declared":
            low = high = spec  # reported by _param_problems
        out.append(ParamRange(key, _num(low), _num(high), levels))
    return tuple(out)


def _seed_problem(seed: Any, where: str = "[experiment] seed") -> list[str]:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return [f"{where} = {seed!r}: expected a non-negative integer"]
    return []


def _check(e: Any) -> list[str]:
    """Every problem with an experiment's fields (an Experiment or a namespace with the same fields)."""
    problems = []
    if not isinstance(e.name, str) or not e.name.strip():
        problems.append(f"[experiment] name = {e.name!r}: expected a non-empty string")
    if not e.scenarios:
        problems.append("[experiment] scenarios: expected at least one scenario file")
    names = [s.name for s in e.scenarios if isinstance(s, Scenario)]
    bad = [s for s in e.scenarios if not isinstance(s, Scenario)]
    if bad:
        problems.append(f"[experiment] scenarios: expected Scenario objects or file paths, got {bad!r}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"[experiment] scenarios: names must differ (results are keyed by scenario name); "
                        f"repeated: {', '.join(map(repr, dupes))}")
    seen = set()
    n_before = len(problems)
    for r in e.parameters:
        if r.name in seen:
            problems.append(f"[parameters] {r.name!r} given twice")
        seen.add(r.name)
        problems += _param_problems(r)
    params_ok = len(problems) == n_before
    if e.design not in DESIGNS:
        problems.append(f"[experiment] design = {e.design!r}: expected one of {', '.join(DESIGNS)}")
    if not isinstance(getattr(e, "detail", False), bool):
        problems.append(f"[experiment] detail = {e.detail!r}: expected true or false")
    if e.seed_by not in SEED_BY:
        problems.append(f"[experiment] seed_by = {e.seed_by!r}: expected one of {', '.join(SEED_BY)}")
    n_before = len(problems)
    for key, lo, hi in (("replicates", 1, 100000), ("samples", 1, 10_000_000)):
        v = getattr(e, key)
        if v is None and key == "samples":
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            problems.append(f"[experiment] {key} = {v!r}: expected an integer from {lo} to {hi}")
    problems += _seed_problem(e.seed)
    if e.levels is not None and (isinstance(e.levels, bool) or not isinstance(e.levels, int) or e.levels < 2):
        problems.append(f"[experiment] levels = {e.levels!r}: expected an integer of at least 2")
    numbers_ok = len(problems) == n_before
    k = len(e.parameters)
    if k == 0:
        if e.samples is not None and e.samples != 1:
            problems.append(f"[experiment] samples = {e.samples!r}: no [parameters] to vary, so the design is the "
                            "scenarios as they are (one sample); leave samples out")
        if e.points:
            problems.append("[experiment] points given but no [parameters] to name their columns")
        return problems
    if not numbers_ok:
        return problems
    if e.design == "factorial" and params_ok:
        n = math.prod(r.levels or e.levels or 3 for r in e.parameters)
        if e.samples is not None and e.samples != n:
            problems.append(f"[experiment] samples = {e.samples!r}: a factorial design has the product of the levels, "
                            f"{n} samples; leave samples out")
    elif e.design == "given":
        if not e.points:
            problems.append("[experiment] design = 'given': expected points = [[...], ...], one row per sample")
        for i, row in enumerate(e.points):
            if len(row) != k:
                problems.append(f"[experiment] points row {i}: {len(row)} values for {k} parameters")
                continue
            for r, v in zip(e.parameters, row, strict=True):
                if isinstance(v, bool) or not isinstance(v, int | float) or (params_ok and not r.low <= v <= r.high):
                    problems.append(f"[experiment] points row {i}: {r.name} = {v!r} outside [{r.low:g}, {r.high:g}]")
        if e.samples is not None and e.samples != len(e.points):
            problems.append(f"[experiment] samples = {e.samples!r}: {len(e.points)} points given; leave samples out")
    elif e.design in DESIGNS and e.samples is None:
        problems.append(f"[experiment] samples: required for design = {e.design!r}")
    elif e.design == "sobol" and e.samples & (e.samples - 1):
        lo = 1 << (e.samples.bit_length() - 1)
        problems.append(f"[experiment] samples = {e.samples}: a Sobol design needs a power of two "
                        f"(its balance properties are lost otherwise), e.g. {lo} or {lo * 2}")
    if e.design == "morris" and (e.levels or 4) % 2:
        problems.append(f"[experiment] levels = {e.levels}: Morris grids need an even number of levels")
    if e.design != "given" and e.points:
        problems.append(f"[experiment] points: only used with design = 'given' (design = {e.design!r})")
    return problems


def _num(v: Any) -> Any:
    return float(v) if isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_) else v


@dataclass(frozen=True)
class Experiment:
    """A sweep over scenarios x parameter samples x replicates.

    ``scenarios``: Scenario objects or scenario file paths; ``parameters``: names (declared
    bounds), a mapping name -> (low, high) / {"low", "high", "levels"} / None, or ParamRanges;
    ``samples``: design points (lhs, sobol), trajectories (morris; the design has
    samples x (k + 1) points) or None (factorial: the product of the levels; given: the points);
    ``levels``: factorial levels per parameter (default 3) or the Morris grid (default 4);
    ``points``: rows of parameter values for ``design="given"``; ``seed_by``: "replicate"
    (seed by replicate id: common random numbers across scenarios and samples) or "sample"
    (seed by sample and replicate: common across scenarios only); ``detail``: also record the
    breakdowns of ``RunSpec.detail`` (per member state, by form, cost category and lever kind).
    """

    name: str
    scenarios: tuple[Scenario, ...]
    parameters: tuple[ParamRange, ...] = ()
    design: str = "lhs"
    samples: int | None = None
    replicates: int = 1
    seed: int = 20201020
    levels: int | None = None
    seed_by: str = "replicate"
    points: tuple[tuple[float, ...], ...] = ()
    detail: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        scenarios = self.scenarios
        if isinstance(scenarios, Scenario | str | Path):
            scenarios = [scenarios]
        scen = []
        for s in scenarios:
            scen.append(load_scenario(s) if isinstance(s, str | Path) else s)
        object.__setattr__(self, "scenarios", tuple(scen))
        object.__setattr__(self, "parameters", _as_ranges(self.parameters))
        pts = self.points
        if isinstance(pts, pd.DataFrame):  # columns name the parameters (declared bounds unless given)
            if not self.parameters:
                object.__setattr__(self, "parameters", _as_ranges(list(pts.columns)))
            pts = pts[[r.name for r in self.parameters]].to_numpy()
        object.__setattr__(self, "points", tuple(tuple(_num(v) for v in row) for row in pts))
        problems = _check(self)
        if problems:
            raise ExperimentError(problems, f"experiment {self.name!r}")

    # ---- derived -------------------------------------------------------------------------------
    def replace(self, **changes: Any) -> Experiment:
        return dataclasses.replace(self, **changes)

    @property
    def parameter_names(self) -> list[str]:
        return [r.name for r in self.parameters]

    def design_matrix(self) -> pd.DataFrame:
        """One row per sample (index ``sample``), one column per varied parameter."""
        return pd.DataFrame(_design(self), columns=self.parameter_names).rename_axis("sample")

    @property
    def n_samples(self) -> int:
        return len(_design(self))

    @property
    def n_runs(self) -> int:
        return len(self.scenarios) * self.n_samples * self.replicates

    def seed_of(self, sample: int, replicate: int) -> int:
        if self.seed_by == "sample":
            return replicate_seeds(replicate_seeds(self.seed, sample + 1)[sample], replicate + 1)[replicate]
        return replicate_seeds(self.seed, replicate + 1)[replicate]

    def specs(self) -> list[RunSpec]:
        """One RunSpec per scenario x sample x replicate, ordered by run id."""
        design = _design(self)
        names = self.parameter_names
        n, reps = len(design), self.replicates
        if self.seed_by == "replicate":
            rep_seeds = replicate_seeds(self.seed, reps)
            seeds = [rep_seeds] * n
        else:
            seeds = [replicate_seeds(s, reps) for s in replicate_seeds(self.seed, n)]
        specs = []
        for si, scenario in enumerate(self.scenarios):
            for i, row in enumerate(design):
                params = {k: float(v) for k, v in zip(names, row, strict=True)}
                for r in range(reps):
                    specs.append(RunSpec(run_id=(si * n + i) * reps + r, scenario=scenario, seed=seeds[i][r],
                                         params=params, replicate=r, sample=i, detail=self.detail))
        return specs

    # ---- TOML -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The resolved definition (scenarios embedded, not referenced by path)."""
        head: dict[str, Any] = {"name": self.name}
        if self.description:
            head["description"] = self.description
        head.update(design=self.design, replicates=self.replicates, seed=self.seed, seed_by=self.seed_by)
        if self.samples is not None:
            head["samples"] = self.samples
        if self.levels is not None:
            head["levels"] = self.levels
        if self.points:
            head["points"] = [list(row) for row in self.points]
        if self.detail:
            head["detail"] = True
        head["scenarios"] = [s.to_dict() for s in self.scenarios]
        params: dict[str, Any] = {}
        for r in self.parameters:
            params[r.name] = {"low": r.low, "high": r.high, **({"levels": r.levels} if r.levels else {})}
        out: dict[str, Any] = {"experiment": head}
        if params:
            out["parameters"] = params
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Experiment:
        return load_experiment(path)

    @classmethod
    def loads(cls, text: str, base_dir: str | Path | None = None) -> Experiment:
        return loads(text, base_dir)


_TOP = {"experiment", "parameters"}
_KEYS = {"name": str, "description": str, "scenarios": list, "design": str, "samples": int, "replicates": int,
         "seed": int, "levels": int, "seed_by": str, "points": list, "detail": bool}
_SPEC_KEYS = {"low", "high", "levels"}


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and name not in PARAMS and v and not set(v) <= _SPEC_KEYS:
            flat.update(_flatten(v, name + "."))
        else:
            flat[name] = v
    return flat


def from_dict(data: dict[str, Any], source: str = "experiment", base_dir: str | Path | None = None) -> Experiment:
    """Build an experiment from parsed TOML, collecting every problem before raising."""
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    problems: list[str] = []
    for key in data:
        if key not in _TOP:
            problems.append(f"unknown table [{key}]; allowed: {', '.join(sorted(_TOP))}")
    head = data.get("experiment")
    if not isinstance(head, dict):
        problems.append("[experiment] table missing: expected name, scenarios, design, samples, replicates, seed")
        head = {}
    fields: dict[str, Any] = {}
    for key, value in head.items():
        want = _KEYS.get(key)
        if want is None:
            problems.append(f"[experiment] unknown key {key!r} (= {value!r}); allowed: {', '.join(_KEYS)}")
        elif not isinstance(value, want) or (isinstance(value, bool) and want is not bool):
            problems.append(f"[experiment] {key} = {value!r}: expected {want.__name__}")
        else:
            fields[key] = value
    if "name" not in head:
        problems.append("[experiment] name: required")
    if "scenarios" not in head:
        problems.append("[experiment] scenarios: required, a list of scenario files relative to this file")
    scenarios = []
    for i, item in enumerate(fields.pop("scenarios", [])):
        if isinstance(item, str):
            path = base / item
            if not path.is_file():
                problems.append(f"[experiment] scenarios #{i + 1} = {item!r}: no such file ({path})")
                continue
            try:
                scenarios.append(load_scenario(path))
            except ScenarioError as err:
                problems += [f"[experiment] scenarios #{i + 1} = {item!r}: {p}" for p in err.problems]
        elif isinstance(item, dict):
            try:
                scenarios.append(scenario_from_dict(item, f"scenario #{i + 1}", base))
            except ScenarioError as err:
                problems += [f"[experiment] scenarios #{i + 1}: {p}" for p in err.problems]
        else:
            problems.append(f"[experiment] scenarios #{i + 1} = {item!r}: expected a file path or a scenario table")
    raw = data.get("parameters", {})
    if not isinstance(raw, dict):
        problems.append(f"[parameters] = {raw!r}: expected a table of name = [low, high], {{ low, high, levels }} "
                        "or 'declared'")
        raw = {}
    ranges = []
    for name, spec in _flatten(raw).items():
        if isinstance(spec, dict):
            extra = set(spec) - _SPEC_KEYS
            if extra:
                problems.append(f"[parameters] {name}: unknown key(s) {', '.join(sorted(extra))}; allowed: low, high, levels")
                continue
        elif isinstance(spec, list):
            if len(spec) != 2:
                problems.append(f"[parameters] {name} = {spec!r}: expected [low, high]")
                continue
        elif spec != "declared":
            problems.append(f"[parameters] {name} = {spec!r}: expected [low, high], {{ low = .., high = .., levels = .. }} "
                            "or 'declared' (the bounds in thbsim/params.py)")
            continue
        ranges += _as_ranges({name: spec})
    points = fields.pop("points", [])
    if not all(isinstance(row, list) for row in points):
        problems.append("[experiment] points: expected a list of rows, e.g. [[0.1, 2.0], [0.2, 3.0]]")
        points = []
    ns = SimpleNamespace(name=fields.get("name"), scenarios=scenarios, parameters=ranges,
                         design=fields.get("design", "lhs"), samples=fields.get("samples"),
                         replicates=fields.get("replicates", 1), seed=fields.get("seed", 20201020),
                         levels=fields.get("levels"), seed_by=fields.get("seed_by", "replicate"), points=points)
    def about(p: str) -> str | None:  # the [experiment] key a problem is about
        return p.removeprefix("[experiment] ").split(" ")[0].split(":")[0] if p.startswith("[experiment] ") else None

    reported = {about(p) for p in problems} - {None}  # a key already reported is not reported again by _check
    problems += [p for p in _check(ns) if p not in problems and about(p) not in reported]
    if problems:
        raise ExperimentError(problems, source)
    return Experiment(**{**vars(ns), "scenarios": tuple(scenarios), "parameters": tuple(ranges),
                         "points": tuple(tuple(r) for r in points), "description": fields.get("description", ""),
                         "detail": fields.get("detail", False)})


def load_experiment(path: str | Path) -> Experiment:
    """Load and validate an experiment file (scenario paths are relative to it)."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentError([f"no such experiment file: {path}"], str(path))
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ExperimentError([f"not valid TOML: {err}"], str(path)) from None
    return from_dict(data, str(path), path.parent)


def loads(text: str, base_dir: str | Path | None = None) -> Experiment:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ExperimentError([f"not valid TOML: {err}"]) from None
    return from_dict(data, "experiment", base_dir)


# --------------------------------------------------------------------------------------------------
# designs


def _design_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_DESIGN_KEY,)))


def _qmc(cls, d: int, rng: np.random.Generator):
    try:
        return cls(d, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15
        return cls(d, scramble=True, seed=rng)


def _design(e: Experiment) -> np.ndarray:
    """The design matrix (samples x parameters), in the bounds, reproducible from the root seed (computed once)."""
    m = e.__dict__.get("_matrix")
    if m is None:
        m = _make_design(e)
        m.setflags(write=False)
        object.__setattr__(e, "_matrix", m)
    return m


def _make_design(e: Experiment) -> np.ndarray:
    k = len(e.parameters)
    if k == 0:
        return np.zeros((1, 0))
    low = np.array([r.low for r in e.parameters])
    high = np.array([r.high for r in e.parameters])
    if e.design == "given":
        return np.array(e.points, dtype=float)
    if e.design == "factorial":
        axes = [np.linspace(r.low, r.high, r.levels or e.levels or 3) for r in e.parameters]
        return np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, k)
    rng = _design_rng(e.seed)
    if e.design in ("lhs", "sobol"):
        from scipy.stats import qmc

        if e.design == "lhs":
            unit = _qmc(qmc.LatinHypercube, k, rng).random(e.samples)
        else:
            unit = _qmc(qmc.Sobol, k, rng).random_base2(int(e.samples).bit_length() - 1)
        return np.clip(qmc.scale(unit, low, high), low, high)
    if e.design == "morris":
        try:
            from SALib.sample import morris
        except ImportError as err:  # pragma: no cover - depends on the optional extra
            raise ImportError("the Morris design needs SALib: pip install 'thbsim[sensitivity]'") from err
        problem = {"num_vars": k, "names": e.parameter_names, "bounds": np.column_stack([low, high]).tolist()}
        out = morris.sample(problem, e.samples, num_levels=e.levels or 4, seed=int(rng.integers(2**31 - 1)))
        return np.clip(np.asarray(out, dtype=float), low, high)
    raise ValueError(f"design {e.design!r}")  # pragma: no cover - refused by _check


# --------------------------------------------------------------------------------------------------
# backends: a sliding window of tasks, so that memory stays flat however many runs


@contextlib.contextmanager
def _pool(backend: str | Executor, workers: int | None):
    """An Executor for the backend and a function giving how many tasks to keep in flight."""
    cpus = os.cpu_count() or 1
    if isinstance(backend, Executor):
        n = workers or getattr(backend, "_max_workers", None) or cpus
        yield backend, lambda: 2 * n
        return
    if backend == "processes":
        pool = ProcessPoolExecutor(workers or cpus)
        try:
            yield pool, lambda: 2 * (workers or cpus)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    if isinstance(backend, str) and (backend == "dask" or backend.startswith("dask://")):
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:  # pragma: no cover - depends on the optional extra
            raise ImportError("the Dask backend needs the optional extra: pip install 'thbsim[dask]'") from err
        cluster = None
        if backend == "dask":
            cluster = LocalCluster(n_workers=workers or cpus, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(backend.removeprefix("dask://"))
        seen = {"t": 0.0, "n": 2}

        def capacity() -> int:  # workers may join a remote cluster later: look again every 10 s
            if time.monotonic() - seen["t"] > 10:
                seen["n"] = max(2, 2 * sum(client.nthreads().values()))
                seen["t"] = time.monotonic()
            return seen["n"]

        try:
            yield client.get_executor(pure=False), capacity
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    raise ValueError(f"backend {backend!r}: expected 'serial', 'processes', 'dask', 'dask://host:port' "
                     "or a concurrent.futures.Executor")


def stream(specs: Sequence[RunSpec], backend: str | Executor = "serial", workers: int | None = None,
           chunk: int = 1) -> Iterator[RunResult]:
    """Run specs on a backend, yielding results as they finish, with a bounded number of tasks in flight.

    The task is the runner's (``thbsim.runner._safe_chunk``: each run's exception is caught into
    ``RunResult.error``); a task the backend itself fails to run (a worker lost) is yielded as
    failed runs, except a broken process pool, which is raised (the sweep can be resumed)."""
    if backend == "serial":
        yield from execute(specs, "serial")
        return
    chunk = max(1, int(chunk))
    chunks = (list(specs[i:i + chunk]) for i in range(0, len(specs), chunk))
    with _pool(backend, workers) as (pool, capacity):
        in_flight: dict = {}
        more = True
        while True:
            while more and len(in_flight) < capacity():
                c = next(chunks, None)
                if c is None:
                    more = False
                else:
                    in_flight[pool.submit(_safe_chunk, c)] = c
            if not in_flight:
                return
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in done:
                c = in_flight.pop(fut)
                try:
                    results = fut.result()
                except BrokenProcessPool:
                    raise
                except Exception:
                    text = "the backend failed to run this task:\n" + traceback.format_exc(limit=20)
                    results = [RunResult(s, None, text) for s in c]
                yield from results


# --------------------------------------------------------------------------------------------------
# storage


def _ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids as inclusive [first, last] ranges (compact for the manifest)."""
    out: list[list[int]] = []
    for i in sorted(ids):
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _ids(ranges: Iterable[Sequence[int]]) -> set[int]:
    return {i for a, b in ranges for i in range(a, b + 1)}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_journal(path: Path) -> list[pa.RecordBatch]:
    """The complete batches of a journal; a batch cut short by a kill is dropped."""
    batches = []
    try:
        with pa.OSFile(str(path), "rb") as f, pa.ipc.open_stream(f) as reader:
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowInvalid, OSError, EOFError):
        pass
    return batches


def _design_json(e: Experiment) -> dict:
    return {"parameters": e.parameter_names, "points": _design(e).tolist()}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("thbsim")
    except Exception:  # pragma: no cover
        return "unknown"


class _Store:
    """The output folder of one experiment: shards, journal, failures and the manifest."""

    def __init__(self, out_dir: str | Path, experiment: Experiment, shard_size: int) -> None:
        self.dir = Path(out_dir)
        self.exp = experiment
        self.shard_size = max(1, int(shard_size))
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "shards").mkdir(exist_ok=True)
        self._lock()
        self.manifest_path = self.dir / "manifest.json"
        self.journal_path = self.dir / "journal.arrow"
        self.failures_path = self.dir / "failures.jsonl"
        self.shards: list[dict] = []
        self.finished: set[int] = set()
        self.failed: dict[int, str] = {}
        self.pending: list[pa.RecordBatch] = []
        self.pending_ids: list[int] = []
        self.journal = None
        self.recovered = 0
        self.definition = experiment.to_toml()
        try:
            self._open()
        except BaseException:
            self._lock_file.close()
            raise

    def _open(self) -> None:
        if self.manifest_path.exists():
            self._resume()
        else:
            if any((self.dir / "shards").glob("part-*.parquet")):
                raise ExperimentError([f"{self.dir} holds shards but no manifest.json: not a folder this sweep can "
                                       "resume; use another --out"], str(self.dir))
            for stale in (self.journal_path, self.failures_path):
                stale.unlink(missing_ok=True)
            self._write_manifest()

    def _lock(self) -> None:
        self._lock_file = open(self.dir / ".lock", "w")  # noqa: SIM115 - held until close()
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise ExperimentError([f"another sweep is writing to {self.dir}"], str(self.dir)) from None

    # ---- resume ----------------------------------------------------------------------------------
    def _resume(self) -> None:
        manifest = json.loads(self.manifest_path.read_text())
        self.manifest_path.with_name("manifest.json.tmp").unlink(missing_ok=True)
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ExperimentError([f"{self.dir}: manifest format {manifest.get('format')!r}, this thbsim reads format "
                                   f"{MANIFEST_FORMAT}; use another --out"], str(self.dir))
        stored = manifest.get("experiment", "")
        if stored != self.definition:
            diff = list(difflib.unified_diff(stored.splitlines(), self.definition.splitlines(), "stored", "current",
                                             lineterm="", n=0))
            shown = [d for d in diff if d[:1] in "+-" and d[:3] not in ("---", "+++")][:12]
            raise ExperimentError([f"{self.dir} holds a sweep with another definition; resume with the same "
                                   "experiment or use another --out. Differences (stored -, current +):\n      "
                                   + "\n      ".join(shown)], str(self.dir))
        if manifest.get("design") != _design_json(self.exp):
            raise ExperimentError([f"{self.dir}: the design generated now differs from the stored one for the same "
                                   "definition (another scipy or SALib version?); finish the sweep with the versions "
                                   "that started it, or use another --out"], str(self.dir))
        self.shards = list(manifest.get("shards", []))
        for s in self.shards:
            self.finished |= _ids(s["runs"])
        known = {s["file"] for s in self.shards}
        for tmp in (self.dir / "shards").glob("*.tmp"):
            tmp.unlink()
        for path in sorted((self.dir / "shards").glob("part-*.parquet")):  # written, but the manifest not yet updated
            rel = f"shards/{path.name}"
            if rel in known:
                continue
            ids = set(pq.read_table(path, columns=["run_id"]).column("run_id").to_pylist()) - self.finished
            self.shards.append({"file": rel, "runs": _ranges(ids)})
            self.finished |= ids
            self.recovered += len(ids)
        if self.failures_path.exists():
            for line in self.failures_path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by a kill
                    continue
                self.failed[int(rec["run_id"])] = rec["error"]
        if self.journal_path.exists():
            for batch in _read_journal(self.journal_path):
                rid = batch.column(0)[0].as_py()
                if rid not in self.finished and rid not in self.pending_ids:
                    self.pending.append(batch)
                    self.pending_ids.append(rid)
            self.recovered += len(self.pending)
            self.finished |= set(self.pending_ids)
            if self.pending:
                self._write_shard()
            self.journal_path.unlink(missing_ok=True)
        for rid in self.finished:
            self.failed.pop(rid, None)
        self._write_manifest()

    # ---- writing ---------------------------------------------------------------------------------
    def add(self, result: RunResult) -> None:
        rid = result.spec.run_id
        if result.error is not None or result.outcomes is None or result.outcomes.empty:
            s = result.spec
            rec = {"run_id": rid, "scenario": s.scenario.name, "sample": s.sample, "replicate": s.replicate,
                   "seed": s.seed, "error": result.error or "no outcomes"}
            with open(self.failures_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
            self.failed[rid] = rec["error"]
            return
        table = pa.Table.from_pandas(result.outcomes, preserve_index=False)
        if self.pending and table.schema != self.pending[0].schema:
            table = table.cast(self.pending[0].schema)
        batch = table.combine_chunks().to_batches()[0]
        if self.journal is None:
            self._journal_file = open(self.journal_path, "wb", buffering=0)  # noqa: SIM115 - closed in _reset
            self.journal = pa.ipc.new_stream(self._journal_file, batch.schema)
        self.journal.write_batch(batch)  # one message per run: a kill leaves whole runs or a cut-off tail
        self.pending.append(batch)
        self.pending_ids.append(rid)
        self.finished.add(rid)
        self.failed.pop(rid, None)
        if len(self.pending) >= self.shard_size:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self._write_shard()
        self._write_manifest()
        self._reset_journal()

    def _write_shard(self) -> None:
        n = 1 + max((int(Path(s["file"]).stem.split("-")[1]) for s in self.shards), default=-1)
        rel = f"shards/part-{n:06d}.parquet"
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_batches(self.pending), sink)
        _write_atomic(self.dir / rel, sink.getvalue().to_pybytes())
        self.shards.append({"file": rel, "runs": _ranges(self.pending_ids)})
        self.pending, self.pending_ids = [], []

    def _reset_journal(self) -> None:
        if self.journal is not None:
            self.journal.close()
            self._journal_file.close()
            self.journal = None
        if not self.pending:
            self.journal_path.unlink(missing_ok=True)

    def _write_manifest(self) -> None:
        manifest = {
            "format": MANIFEST_FORMAT,
            "thbsim_version": _version(),
            "name": self.exp.name,
            "runs": self.exp.n_runs,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "experiment": self.definition,
            "design": _design_json(self.exp),
            "shards": self.shards,
            "finished": _ranges(_ids(r for s in self.shards for r in s["runs"])),
            "failed": _ranges(self.failed),
        }
        _write_atomic(self.manifest_path, json.dumps(manifest, indent=1).encode())

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._lock_file.close()


# --------------------------------------------------------------------------------------------------
# running and reading


@dataclass
class SweepSummary:
    """What a call to ``run_experiment`` did; the outcomes are on disk (``load_results``)."""

    out_dir: Path
    runs: int
    finished: int
    failed: int
    ran: int
    """Runs executed by this call (the others were finished or failed before, or recovered from the journal)."""
    seconds: float
    failures: dict[int, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.finished == self.runs


def run_experiment(experiment: Experiment | str | Path, out_dir: str | Path, backend: str | Executor = "serial",
                   workers: int | None = None, progress: bool = True, chunk: int = 1, shard_size: int = 100,
                   retry_failed: bool = False) -> SweepSummary:
    """Run (or resume) an experiment, streaming outcomes to ``out_dir``.

    ``backend``: "serial", "processes", "dask" (a local cluster of ``workers`` processes),
    "dask://host:port" (a running scheduler) or any ``concurrent.futures.Executor``;
    ``chunk``: runs per task sent to a worker; ``shard_size``: runs per Parquet shard;
    ``retry_failed``: on resume, run the runs that failed before again (by default they stay
    recorded as failed). Results are identical on every backend and for any number of workers."""
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    start = time.monotonic()
    store = _Store(out_dir, experiment, shard_size)
    todo = [s for s in experiment.specs()
            if s.run_id not in store.finished and (retry_failed or s.run_id not in store.failed)]
    from tqdm import tqdm

    total = experiment.n_runs
    bar = tqdm(total=total, initial=total - len(todo), desc=experiment.name, unit="run", disable=not progress,
               dynamic_ncols=True, smoothing=0.05)
    bar.set_postfix(failed=len(store.failed), refresh=False)
    ran = 0
    try:
        with contextlib.closing(stream(todo, backend, workers, chunk)) as results:
            for res in results:
                store.add(res)
                ran += 1
                bar.update(1)
                if res.error is not None:
                    bar.set_postfix(failed=len(store.failed))
    finally:
        bar.close()
        store.close()
    return SweepSummary(Path(out_dir), total, len(store.finished), len(store.failed), ran,
                        time.monotonic() - start, dict(store.failed))


def read_manifest(out_dir: str | Path) -> dict:
    """The manifest of a sweep folder (``experiment`` holds the definition as TOML text)."""
    path = Path(out_dir) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{out_dir}: no manifest.json (not a sweep output folder)")
    return json.loads(path.read_text())


def stored_experiment(out_dir: str | Path) -> Experiment:
    """The experiment a sweep folder was made by."""
    return loads(read_manifest(out_dir)["experiment"])


def load_design(out_dir: str | Path) -> pd.DataFrame:
    """The design matrix of a sweep folder: one row per sample, one column per varied parameter."""
    d = read_manifest(out_dir)["design"]
    return pd.DataFrame(d["points"], columns=d["parameters"], dtype=float).rename_axis("sample")


def load_results(out_dir: str | Path, outcomes: Sequence[str] | None = None, with_params: bool = False) -> pd.DataFrame:
    """The outcomes of every finished run (each exactly once), sorted by run id.

    Columns: run_id, scenario, sample, replicate, seed, outcome, year, value, pid (the process
    that ran it). ``outcomes``: keep only these outcome names; ``with_params``: add the sample's
    parameter values as columns."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    seen: set[int] = set()
    frames = []
    filters = [("outcome", "in", list(outcomes))] if outcomes is not None else None
    for shard in manifest["shards"]:
        ids = _ids(shard["runs"]) - seen
        if not ids:
            continue
        df = pq.read_table(out_dir / shard["file"], filters=filters).to_pandas()
        frames.append(df[df["run_id"].isin(ids)])
        seen |= ids
    if frames:
        table = pd.concat(frames, ignore_index=True)
    else:
        table = pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                              (("run_id", "int64"), ("scenario", "str"), ("sample", "int64"), ("replicate", "int64"),
                               ("seed", "int64"), ("outcome", "str"), ("year", "int64"), ("value", "float64"),
                               ("pid", "int64"))})
    table = table.sort_values("run_id", kind="stable").reset_index(drop=True)
    if with_params:
        design = load_design(out_dir)
        table = table.join(design, on="sample")
    return table


def load_failures(out_dir: str | Path) -> pd.DataFrame:
    """Runs recorded as failed (and not finished since), with their error text."""
    manifest = read_manifest(out_dir)
    failed = _ids(manifest["failed"])
    path = Path(out_dir) / "failures.jsonl"
    recs: dict[int, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec["run_id"] in failed:
                recs[rec["run_id"]] = rec
    cols = ["run_id", "scenario", "sample", "replicate", "seed", "error"]
    return pd.DataFrame([recs[k] for k in sorted(recs)], columns=cols)


# --------------------------------------------------------------------------------------------------
# command line


def cmd_sweep(args) -> int:
    try:
        experiment = load_experiment(args.experiment)
    except ExperimentError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out or Path("outputs") / experiment.name)
    if args.workers is not None and args.workers < 1:
        print(f"error: --workers {args.workers}: expected at least 1", file=sys.stderr)
        return 2
    print(f"thbsim sweep: {experiment.name}, {len(experiment.scenarios)} scenario(s) x {experiment.n_samples} "
          f"sample(s) x {experiment.replicates} replicate(s) = {experiment.n_runs} runs ({experiment.design} design "
          f"over {len(experiment.parameters)} parameter(s)), backend {args.backend}, results in {out}/", flush=True)
    try:
        summary = run_experiment(experiment, out, backend=args.backend, workers=args.workers, progress=not args.quiet,
                                 chunk=args.chunk, shard_size=args.shard_size, retry_failed=args.retry_failed)
    except (ExperimentError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        done = len(_ids(read_manifest(out)["finished"])) if (out / "manifest.json").exists() else 0
        print(f"\ninterrupted: {done} of {experiment.n_runs} runs stored in {out}/; run the same command again to resume",
              file=sys.stderr)
        return 130
    print(f"{summary.finished} of {summary.runs} runs finished, {summary.failed} failed ({summary.ran} run now, "
          f"{summary.seconds:.1f} s). Outcomes: thbsim.experiments.load_results({str(out)!r})")
    if summary.failed:
        first = min(summary.failures)
        last = summary.failures[first].strip().splitlines()[-1] if summary.failures[first].strip() else ""
        print(f"error: {summary.failed} run(s) failed (errors in {out / 'failures.jsonl'}); first, run {first}: {last}",
              file=sys.stderr)
        return 1
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("sweep", help="run an experiment: scenarios x parameter samples x replicates, resumable",
                              description="Run an experiment file; outcomes are streamed to Parquet shards in --out. "
                                          "Running it again with the same --out resumes where it stopped.")
    p.add_argument("experiment", help="experiment TOML file, e.g. scenarios/experiments/example_sweep.toml")
    p.add_argument("--out", help="output folder (default: outputs/<experiment name>)")
    p.add_argument("--backend", default="serial",
                   help="serial (default), processes, dask (a local cluster) or dask://host:port (a running scheduler)")
    p.add_argument("--workers", type=int, help="worker processes for processes and dask (default: all cores)")
    p.add_argument("--chunk", type=int, default=1, help="runs per task sent to a worker (default 1)")
    p.add_argument("--shard-size", type=int, default=100, help="runs per Parquet shard (default 100)")
    p.add_argument("--retry-failed", action="store_true", help="run again the runs recorded as failed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)
    return p


__all__ = [
    "DESIGNS", "Experiment", "ExperimentError", "ParamRange", "SweepSummary", "add_parser", "from_dict", "load_design",
    "load_experiment", "load_failures", "load_results", "loads", "read_manifest", "run_experiment", "stored_experiment",
    "stream",
]
