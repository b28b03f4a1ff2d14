"""Running replicates and keeping their results as one tidy table with metadata."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from thbsim.rng import replicate_seeds
from thbsim.scenario import Scenario, dumps


def scenario_hash(scenario: Scenario) -> str:
    return hashlib.sha256(dumps(scenario).encode()).hexdigest()[:16]


@dataclass
class Results:
    """A long table: (replicate, seed, t, year, month, indicator, breakdowns..., value) plus metadata."""

    table: pd.DataFrame
    meta: dict = field(default_factory=dict)
    stats: list = field(default_factory=list)
    """Per-replicate ``RunStats`` (yearly arrays the targets are computed from), when run in this process."""

    def run_stats(self) -> list:
        from thbsim.targets import RunStats

        if self.stats:
            return self.stats
        return [RunStats.from_table(t) for _, t in self.table.groupby("replicate", observed=True)]

    def to_parquet(self, path: str | Path) -> None:
        tab = pa.Table.from_pandas(self.table, preserve_index=False)
        meta = {**(tab.schema.metadata or {}), b"thbsim": json.dumps(self.meta).encode()}
        pq.write_table(tab.replace_schema_metadata(meta), path)

    @classmethod
    def from_parquet(cls, path: str | Path) -> Results:
        tab = pq.read_table(path)
        meta = json.loads((tab.schema.metadata or {}).get(b"thbsim", b"{}"))
        return cls(tab.to_pandas(), meta)

    def yearly(self, indicator: str, by: Sequence[str] = ()) -> pd.DataFrame:
        """Yearly sums of a flow indicator per replicate (stocks: use ``at_year_end``)."""
        t = self.table[self.table["indicator"] == indicator]
        return t.groupby(["replicate", "year", *by], observed=True)["value"].sum().reset_index()

    def at_year_end(self, indicator: str, by: Sequence[str] = ()) -> pd.DataFrame:
        t = self.table[(self.table["indicator"] == indicator) & (self.table["month"] == 12)]
        return t.groupby(["replicate", "year", *by], observed=True)["value"].sum().reset_index()


def run_one(scenario: Scenario, seed: int, replicate: int = 0, progress=None, with_stats: bool = False):
    """One replicate of a scenario: the tidy table with replicate and seed columns
    (and its ``RunStats`` if ``with_stats``)."""
    from thbsim.model import TraffickingModel
    from thbsim.targets import RunStats

    with TraffickingModel(scenario, seed=seed) as model:  # closed when done: its memory is freed at once
        model.run(progress)
        table = model.results_table()
        stats = RunStats.from_model(model) if with_stats else None
    table.insert(0, "seed", seed)
    table.insert(0, "replicate", replicate)
    return (table, stats) if with_stats else table


def _concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The replicates' tables one under another, every label column a categorical of the labels that occur,
    sorted. Each table keeps only its own labels (a citizenship no victim of one replicate had is not among
    its categories): the columns get the union first, so pandas joins codes (it would otherwise make such
    a column plain strings)."""
    label_columns = [col for col in tables[0].columns if isinstance(tables[0][col].dtype, pd.CategoricalDtype)]
    union = {col: sorted(set().union(*(t[col].cat.categories for t in tables))) for col in label_columns}
    same = [t.assign(**{col: t[col].cat.set_categories(union[col]) for col in label_columns}) for t in tables]
    return pd.concat(same, ignore_index=True)


def _run_job(args):
    scenario, seed, rep = args
    return run_one(scenario, seed, rep, with_stats=True)


def run(scenario: Scenario, replicates: int | None = None, seed: int | None = None, workers: int = 1,
        progress: bool = False) -> Results:
    """Run replicates with seeds spawned from one root seed; identical for any number of workers."""
    from thbsim import __version__

    n = replicates or scenario.replicates
    root = scenario.seed if seed is None else seed
    seeds = replicate_seeds(root, n)
    months = (pd.Period(scenario.end, "M") - pd.Period(scenario.start, "M")).n + 1
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n * months if workers == 1 else n, unit="month" if workers == 1 else "run",
                   desc=scenario.name, leave=False)
    jobs = [(scenario, s, i) for i, s in enumerate(seeds)]
    if workers == 1:
        outputs = [run_one(sc, s, i, bar.update if bar else None, with_stats=True) for sc, s, i in jobs]
    else:
        outputs = []
        with ProcessPoolExecutor(workers) as pool:
            for out in pool.map(_run_job, jobs):
                outputs.append(out)
                if bar:
                    bar.update(1)
    tables = [tab for tab, _ in outputs]
    if bar:
        bar.close()
    table = _concat(tables)
    meta = {"thbsim_version": __version__, "scenario": scenario.name, "scenario_hash": scenario_hash(scenario),
            "root_seed": root, "seeds": seeds, "scenario_toml": dumps(scenario)}
    return Results(table, meta, [st for _, st in outputs])
