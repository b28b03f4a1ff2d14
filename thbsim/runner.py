"""One model run as a task, and the backends that execute many of them.

A ``RunSpec`` names everything a run depends on (scenario, parameter values,
seed), so the same spec gives the same outcome in any process. ``simulate``
runs one spec and returns its outcomes: yearly EU totals of the headline
indicators and the value of every calibration target, as a small tidy table
(no per-month detail: sweeps keep thousands of these). ``execute`` maps specs
over a backend and yields outcomes as they finish.

Backends: ``"serial"``; ``"processes"`` (a local process pool; ``import mesa``
forces the spawn start method, so workers are started once and fed chunks);
any ``concurrent.futures.Executor``; and Dask (``"dask"`` starts a local
cluster, ``"dask://host:port"`` connects to a scheduler; optional extra
``thbsim[dask]``).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from thbsim.scenario import Scenario

OUTCOME_INDICATORS = {
    # outcome name: (recorded indicator, "flow" summed over the year or "stock" at the year's end)
    "true_victims": ("victims_exploited", "stock"),
    "recruited": ("recruited", "flow"),
    "registered_victims": ("identified", "flow"),
    "suspects": ("suspects", "flow"),
    "prosecutions": ("prosecutions", "flow"),
    "convictions": ("convictions", "flow"),
    "user_suspects": ("user_suspects", "flow"),
    "user_convictions": ("user_convictions", "flow"),
    "crime_groups": ("groups_active", "stock"),
    "group_revenue_eur": ("group_revenue", "flow"),
    "group_profit_eur": ("group_profit", "flow"),
    "assets_frozen_eur": ("assets_frozen", "flow"),
    "assets_confiscated_eur": ("assets_confiscated", "flow"),
    "social_cost_eur": ("social_cost", "flow"),
}


@dataclass(frozen=True)
class RunSpec:
    """Everything one run depends on. ``params`` override the scenario's parameters."""

    run_id: int
    scenario: Scenario
    seed: int
    params: dict = field(default_factory=dict)
    replicate: int = 0
    sample: int = 0
    detail: bool = False
    """Also return breakdowns: per member state (column ``member_state``), registered victims by
    form, social cost by category and lever cost by kind (outcome names with a ``:`` suffix)."""

    def resolved(self) -> Scenario:
        return self.scenario.with_params(**self.params) if self.params else self.scenario


def outcomes_from_stats(stats, detail: bool = False) -> pd.DataFrame:
    """Yearly EU totals of the headline indicators, plus every target's value (year 0).

    With ``detail``: the same per member state (``member_state`` column; "EU" for totals), and
    registered victims by recorded form, social cost by category and lever cost by lever kind.
    """
    from thbsim.geography import LEVER_KINDS, geography
    from thbsim.money import COST_CATEGORIES
    from thbsim.recorder import FORMS_RECORDED
    from thbsim.targets import target_values

    states = geography().member_states
    years = stats.years.astype(int)
    # the table's columns, gathered piece by piece and made into one table at the end (a table per outcome
    # cost more than the yearly sums themselves: some 15 ms a run)
    columns: dict[str, list] = {"outcome": [], "member_state": [], "year": [], "value": []}

    def rows(outcome: list[str], member_state: list[str], year: np.ndarray, value: np.ndarray) -> None:
        for col, piece in zip(columns, (outcome, member_state, year, value), strict=True):
            columns[col].append(piece)

    if detail:  # the rows of one outcome by member state, the same for every outcome
        ms_rows, year_rows = list(np.tile(states, years.size)), np.repeat(years, len(states))

    def add(name: str, per_year_ms: np.ndarray) -> None:  # (years, member states)
        rows([name] * years.size, ["EU"] * years.size, years, np.nansum(per_year_ms, axis=1))
        if detail:
            rows([name] * len(ms_rows), ms_rows, year_rows, per_year_ms.ravel())

    for name, (indicator, kind) in OUTCOME_INDICATORS.items():
        arr = stats.december[indicator] if kind == "stock" else stats.yearly[indicator]
        add(name, np.nansum(arr.reshape(arr.shape[0], arr.shape[1], -1), axis=2))
    if detail:
        reg = stats.yearly["registered"]  # years x ms x form x sex x age x citizenship
        for j, form in enumerate(FORMS_RECORDED):
            add(f"registered_victims:{form}", reg[:, :, j].sum(axis=(2, 3, 4)))
        for j, cat in enumerate(COST_CATEGORIES):
            add(f"social_cost_eur:{cat}", stats.yearly["social_cost"][:, :, j])
        for j, kind in enumerate(LEVER_KINDS):
            add(f"lever_cost_eur:{kind}", stats.yearly["lever_cost"][:, :, j])
        add("lever_cost_eur", stats.yearly["lever_cost"].sum(axis=2))
    targets = [(f"target:{k}", float(v)) for k, v in target_values(stats).items() if np.ndim(v) == 0]
    rows([k for k, _ in targets], ["EU"] * len(targets), np.zeros(len(targets), years.dtype),
         np.array([v for _, v in targets], np.float64))
    out = pd.DataFrame({"outcome": [x for piece in columns["outcome"] for x in piece],
                        "member_state": [x for piece in columns["member_state"] for x in piece],
                        "year": np.concatenate(columns["year"]),
                        "value": np.concatenate(columns["value"]).astype(np.float64)})
    return out if detail else out.drop(columns="member_state")


def simulate(spec: RunSpec) -> pd.DataFrame:
    """Run one spec; its outcomes with the spec's identifiers (and the worker's process id)."""
    from thbsim.model import TraffickingModel
    from thbsim.targets import RunStats

    with TraffickingModel(spec.resolved(), seed=spec.seed) as model:  # closed when done: its memory is freed at once
        model.run()
        stats = RunStats.from_model(model)
    out = outcomes_from_stats(stats, detail=spec.detail)
    out.insert(0, "run_id", spec.run_id)
    out.insert(1, "scenario", spec.scenario.name)
    out.insert(2, "sample", spec.sample)
    out.insert(3, "replicate", spec.replicate)
    out.insert(4, "seed", spec.seed)
    out["pid"] = os.getpid()
    return out


@dataclass
class RunResult:
    spec: RunSpec
    outcomes: pd.DataFrame | None
    error: str | None = None


def _safe(spec: RunSpec) -> RunResult:
    try:
        return RunResult(spec, simulate(spec))
    except Exception:  # a failing run is recorded, the others go on
        return RunResult(spec, None, traceback.format_exc(limit=20))


def _safe_chunk(specs: list[RunSpec]) -> list[RunResult]:
    return [_safe(s) for s in specs]


def execute(specs: Iterable[RunSpec], backend: str | Executor = "serial", workers: int | None = None,
            chunk: int = 1) -> Iterator[RunResult]:
    """Run specs on a backend, yielding results as they finish (order not guaranteed)."""
    specs = list(specs)
    if not specs:
        return
    if backend == "serial":
        for s in specs:
            yield _safe(s)
        return
    if isinstance(backend, str) and backend.startswith("dask"):
        yield from _dask(specs, backend, workers)
        return
    own = backend == "processes"
    if not own and not isinstance(backend, Executor):
        raise ValueError(f"backend {backend!r}: expected 'serial', 'processes', 'dask', 'dask://host:port' "
                         "or a concurrent.futures.Executor")
    pool = ProcessPoolExecutor(workers or os.cpu_count() or 1) if own else backend
    try:
        chunks = [specs[i:i + chunk] for i in range(0, len(specs), chunk)]
        futures = [pool.submit(_safe_chunk, c) for c in chunks]
        for fut in as_completed(futures):
            yield from fut.result()
    finally:
        if own:
            pool.shutdown(cancel_futures=True)


def _dask(specs: list[RunSpec], backend: str, workers: int | None) -> Iterator[RunResult]:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as err:  # pragma: no cover - depends on the optional extra
        raise ImportError("the Dask backend needs the optional extra: pip install 'thbsim[dask]'") from err
    address = backend.removeprefix("dask://") if backend.startswith("dask://") else None
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        futures = client.map(_safe, specs, pure=False)
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
