"""Global sensitivity analysis: Sobol indices and Morris screening of any model outcome, via SALib.

An *indicator* is one of the runner's outcomes over a year or a range of years,
written ``name:year`` or ``name:first-last`` (``registered_victims:2017-2018``,
``social_cost_eur:2016``): flows are summed over the years, stocks (``true_victims``,
``crime_groups``) averaged over their year-end values; a calibration target is
written ``target:<name>`` (no year). Parameters are varied uniformly over their
declared bounds (``thbsim.params``).

Every run goes through ``thbsim.runner.execute``, so any backend works (serial,
local processes, a ``concurrent.futures`` executor, a Dask cluster) and gives the
same indices. Seeds come from one root seed: replicate ``r`` of every sample uses
the same seed (common random numbers, so differences between samples come from the
parameters), and the indicator is the mean over replicates. The SALib samplers and
the bootstrap of the confidence intervals are seeded from the same root seed, so an
analysis is reproducible from its seed alone.

SALib is an optional extra: ``pip install 'thbsim[sensitivity]'``.

Python::

    from thbsim.sensitivity import sobol, morris
    res = sobol(n=64, scale=0.25, end="2019-12", backend="processes", workers=2, seed=1)
    res.top()                 # parameters ranked by total index, per indicator
    res.save("outputs/sensitivity")   # indices.csv, samples.csv, figure, settings

Command line: ``thbsim sensitivity --method sobol --n 64 --scale 0.25 --workers 2``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from thbsim.params import PARAMETERS, PARAMS
from thbsim.runner import OUTCOME_INDICATORS, RunSpec, execute
from thbsim.scenario import Scenario

DEFAULT_PARAMS: tuple[str, ...] = (
    "demand.exploited_share_sex",
    "demand.clients_per_victim",
    "groups.entry_rate",
    "victims.exit_rate_sexual",
    "referral.rate_sexual",
    "police.investigations_per_million",
    "police.raid_identifies",
    "cost.share_quality_of_life",
)
"""The cheap default: eight parameters that drive the size of the sexual-exploitation market (the largest),
its detection, and the largest cost category. ``params="all"`` varies every uncertain parameter."""

DEFAULT_OUTCOMES: tuple[str, ...] = ("registered_victims:2017-2018", "social_cost_eur:2016")

MIN_END_YEAR = 2018
"""The runner computes every calibration target with each run, and those need the years 2015-2018:
an automatically shortened horizon never ends before December of this year."""

INSTALL_HINT = "pip install 'thbsim[sensitivity]'"


def require_salib():
    """Import SALib, or fail with a message that says how to install it."""
    try:
        import SALib
    except ImportError as err:
        raise ImportError(f"sensitivity analysis needs SALib, an optional extra: {INSTALL_HINT}") from err
    return SALib


# ---------------------------------------------------------------------------- indicators
_SPEC = re.compile(r"^(?P<name>.+?)(?::(?P<first>\d{4})(?:-(?P<last>\d{4}))?)?$")


@dataclass(frozen=True)
class Indicator:
    """One outcome of the runner reduced to a number: a year or a range of years (or a target)."""

    outcome: str
    first: int = 0
    last: int = 0

    @classmethod
    def parse(cls, text: str | Indicator) -> Indicator:
        if isinstance(text, Indicator):
            return text
        m = _SPEC.match(str(text).strip())
        name = m["name"] if m else str(text)
        known = ", ".join(OUTCOME_INDICATORS)
        if name.startswith("target:"):
            from thbsim.targets import TARGETS

            targets = {t.name for t in TARGETS}
            if name.removeprefix("target:") not in targets:
                raise ValueError(f"indicator {text!r}: unknown target; targets are {', '.join(sorted(targets))}")
            if m and m["first"]:
                raise ValueError(f"indicator {text!r}: a target has no year (write {name!r})")
            return cls(name)
        if name not in OUTCOME_INDICATORS:
            raise ValueError(f"indicator {text!r}: unknown outcome {name!r}; outcomes are {known} or target:<name>")
        if not (m and m["first"]):
            raise ValueError(f"indicator {text!r}: give a year or a range of years, e.g. {name}:2016 or {name}:2017-2018")
        first, last = int(m["first"]), int(m["last"] or m["first"])
        if last < first:
            raise ValueError(f"indicator {text!r}: the range ends before it starts")
        return cls(name, first, last)

    @property
    def is_target(self) -> bool:
        return self.outcome.startswith("target:")

    @property
    def kind(self) -> str:
        return "target" if self.is_target else OUTCOME_INDICATORS[self.outcome][1]

    @property
    def label(self) -> str:
        if self.is_target:
            return self.outcome
        years = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        return f"{self.outcome}:{years}"

    @property
    def ident(self) -> str:
        """The label as a Python identifier (EMA Workbench outcome names)."""
        return re.sub(r"\W+", "_", self.label).strip("_")

    def of(self, outcomes: pd.DataFrame) -> float:
        """The indicator's value in one run's outcomes table (``thbsim.runner.simulate``)."""
        rows = outcomes[outcomes["outcome"] == self.outcome]
        if self.is_target:
            return float(rows["value"].iloc[0])
        rows = rows[(rows["year"] >= self.first) & (rows["year"] <= self.last)]
        if len(rows) != self.last - self.first + 1:
            raise ValueError(f"indicator {self.label}: the run's outcomes cover {sorted(set(outcomes['year']) - {0})}")
        values = rows["value"].to_numpy(float)
        return float(values.mean() if self.kind == "stock" else values.sum())


def parse_indicators(spec: str | Iterable[str | Indicator]) -> list[Indicator]:
    """``"registered_victims:2017-2018,social_cost_eur:2016"`` or a list of such strings."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = [Indicator.parse(s) for s in items if str(s).strip()]
    if not out:
        raise ValueError("no indicator given")
    return out


def parse_params(spec: str | Iterable[str] | None = None) -> list[str]:
    """Parameter names: None for ``DEFAULT_PARAMS``, ``"all"`` for every uncertain parameter, a comma list or a list."""
    if spec is None:
        names = list(DEFAULT_PARAMS)
    elif isinstance(spec, str) and spec.strip() == "all":
        names = [p.name for p in PARAMETERS if p.uncertain]
    else:
        names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    problems = []
    for name in names:
        if name not in PARAMS:
            from difflib import get_close_matches

            close = get_close_matches(name, PARAMS, n=3)
            problems.append(f"unknown parameter {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        elif not PARAMS[name].uncertain:
            problems.append(f"parameter {name!r} is not uncertain (it is a setting, not varied by analyses)")
    if len(set(names)) != len(names):
        problems.append("a parameter is named twice")
    if len(names) < 2 and not problems:
        problems.append("a sensitivity analysis needs at least two parameters")
    if problems:
        raise ValueError("; ".join(problems))
    return names


def problem(params: Sequence[str], bounds: dict[str, tuple[float, float]] | None = None) -> dict:
    """SALib's problem definition: names and bounds (the declared ones unless ``bounds`` names them)."""
    bounds = bounds or {}
    rows = []
    for name in params:
        if name in bounds:
            rows.append([float(bounds[name][0]), float(bounds[name][1])])
        elif name in PARAMS:
            rows.append([PARAMS[name].low, PARAMS[name].high])
        else:
            raise ValueError(f"parameter {name!r}: not a thbsim parameter and no bounds given")
    return {"num_vars": len(params), "names": list(params), "bounds": rows}


def fit_horizon(scenario: Scenario | str | Path | None, indicators: Sequence[Indicator], *, scale: float | None = None,
                end: str | None = None) -> Scenario:
    """The scenario the analysis runs: at ``scale``, ending at ``end`` or (by default) in December of the last
    year an indicator needs (never before ``MIN_END_YEAR``, never after the scenario's own end)."""
    from thbsim.scenario import load

    scenario = Scenario() if scenario is None else scenario if isinstance(scenario, Scenario) else load(scenario)
    if scale is not None:
        scenario = scenario.with_params(scale=float(scale))
    if end is None and indicators and not any(i.is_target for i in indicators):
        auto = f"{max(MIN_END_YEAR, *(i.last for i in indicators))}-12"
        end = auto if pd.Period(auto, "M") < pd.Period(scenario.end, "M") else None
    if end is not None and end != scenario.end:
        scenario = scenario.replace(end=end)
    first, last = pd.Period(scenario.output_from, "M").year, pd.Period(scenario.end, "M").year
    for ind in indicators:
        if not ind.is_target and not (first <= ind.first and ind.last <= last):
            raise ValueError(f"indicator {ind.label}: outside the outcome years {first}-{last} of the runs "
                             f"(output_from {scenario.output_from}, end {scenario.end})")
    return scenario


# ---------------------------------------------------------------------------- running the model
def _default_chunk(n_runs: int, workers: int | None) -> int:
    return int(max(1, min(16, n_runs // (4 * (workers or os.cpu_count() or 1)))))


class ModelEvaluator:
    """A vectorised function ``X (n, d) -> Y``: each row of X sets the named parameters of one sample;
    each sample runs ``replicates`` times (the same seeds for every sample) through ``runner.execute``
    and Y holds each indicator's mean over the replicates: shape (n, k), or (n,) for one indicator.

    Usable wherever a model function is expected, e.g. SALib's ``ProblemSpec.evaluate``.
    """

    def __init__(self, params: Sequence[str], outcomes: str | Iterable[str | Indicator] = DEFAULT_OUTCOMES,
                 scenario: Scenario | str | Path | None = None, *, scale: float | None = None, end: str | None = None,
                 replicates: int = 1, seed: int | None = None, backend: str | Executor = "serial",
                 workers: int | None = None, chunk: int | None = None, progress: bool = False,
                 squeeze: bool = True) -> None:
        from thbsim.rng import replicate_seeds

        self.params = list(params)
        for name in self.params:
            if name not in PARAMS:
                raise ValueError(f"unknown parameter {name!r}")
        self.indicators = parse_indicators(outcomes)
        self.scenario = fit_horizon(scenario, self.indicators, scale=scale, end=end)
        if replicates < 1:
            raise ValueError(f"replicates = {replicates}: expected at least 1")
        self.replicates = int(replicates)
        self.seed = int(self.scenario.seed if seed is None else seed)
        self.seeds = replicate_seeds(self.seed, self.replicates)
        self.backend, self.workers, self.chunk = backend, workers, chunk
        self.progress, self.squeeze = progress, squeeze
        self.runs: np.ndarray | None = None
        """Per-run values of the last call: (samples, replicates, indicators)."""

    @property
    def labels(self) -> list[str]:
        return [i.label for i in self.indicators]

    def specs(self, X: np.ndarray) -> list[RunSpec]:
        X = np.atleast_2d(np.asarray(X, float))
        if X.shape[1] != len(self.params):
            raise ValueError(f"X has {X.shape[1]} columns for {len(self.params)} parameters")
        R = self.replicates
        return [RunSpec(run_id=k * R + r, scenario=self.scenario, seed=self.seeds[r], replicate=r, sample=k,
                        params={p: float(v) for p, v in zip(self.params, row, strict=True)})
                for k, row in enumerate(X) for r in range(R)]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        from tqdm import tqdm

        specs = self.specs(X)
        n, R, K = len(specs) // self.replicates, self.replicates, len(self.indicators)
        runs = np.full((n, R, K), np.nan)
        failures: list[str] = []
        chunk = self.chunk or _default_chunk(len(specs), self.workers)
        with tqdm(total=len(specs), unit="run", disable=not self.progress, desc="thbsim runs", smoothing=0.05) as bar:
            for res in execute(specs, self.backend, self.workers, chunk=chunk):
                s = res.spec
                if res.outcomes is None:
                    failures.append(f"run {s.run_id} (sample {s.sample}, replicate {s.replicate}):\n{res.error}")
                    bar.set_postfix(failed=len(failures))
                else:
                    runs[s.sample, s.replicate] = [ind.of(res.outcomes) for ind in self.indicators]
                bar.update()
        if failures:
            raise RuntimeError(f"{len(failures)} of {len(specs)} runs failed; the first:\n{failures[0]}")
        self.runs = runs
        Y = runs.mean(axis=1)
        return Y[:, 0] if self.squeeze and K == 1 else Y


# ---------------------------------------------------------------------------- analyses
@dataclass
class SensitivityResult:
    """Sample, model output and indices of one analysis."""

    method: str  # "sobol" or "morris"
    problem: dict
    outcomes: list[str]
    X: np.ndarray
    Y: np.ndarray  # (n, k)
    indices: pd.DataFrame  # tidy: indicator, parameter, index, value, conf
    settings: dict = field(default_factory=dict)

    @property
    def main_index(self) -> str:
        return "ST" if self.method == "sobol" else "mu_star"

    def wide(self, indicator: str | None = None) -> pd.DataFrame:
        """One row per (indicator, parameter), a column per index and its confidence half-width."""
        t = self.indices if indicator is None else self.indices[self.indices["indicator"] == indicator]
        t = t[~t["parameter"].str.contains(" & ", regex=False)]
        v = t.pivot_table(index=["indicator", "parameter"], columns="index", values="value", sort=False)
        c = t.dropna(subset=["conf"]).pivot_table(index=["indicator", "parameter"], columns="index", values="conf",
                                                  sort=False)
        w = v.join(c.add_suffix("_conf"))
        cols = ["S1", "S1_conf", "ST", "ST_conf"] if self.method == "sobol" else ["mu_star", "mu_star_conf", "sigma", "mu"]
        return w[[col for col in cols if col in w]].reset_index()

    def top(self, indicator: str | None = None, k: int | None = None) -> pd.DataFrame:
        """Parameters ranked by total index (Sobol) or mu* (Morris), within each indicator."""
        w = self.wide(indicator)
        w = w.sort_values(["indicator", self.main_index], ascending=[True, False], key=_keep_order(self.outcomes))
        if k is not None:
            w = w.groupby("indicator", sort=False).head(k)
        return w.reset_index(drop=True)

    def figure(self):
        """Sobol: horizontal bars of S1 and ST with confidence intervals; Morris: mu* against sigma, labelled."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        k = len(self.outcomes)
        names = self.problem["names"]
        height = 1.2 + 0.42 * len(names) if self.method == "sobol" else 5.0
        fig, axes = plt.subplots(1, k, figsize=(6.4 * k, height), squeeze=False)
        for ax, label in zip(axes[0], self.outcomes, strict=True):
            w = self.wide(label).set_index("parameter")
            if self.method == "sobol":
                w = w.sort_values("ST")
                y = np.arange(len(w))
                ax.barh(y + 0.2, w["S1"], 0.38, xerr=w["S1_conf"], label="first order (S1)", color="#5d8aa8",
                        error_kw={"elinewidth": 1, "capsize": 2})
                ax.barh(y - 0.2, w["ST"], 0.38, xerr=w["ST_conf"], label="total (ST)", color="#c0392b",
                        error_kw={"elinewidth": 1, "capsize": 2})
                ax.set_yticks(y, w.index)
                ax.axvline(0, color="black", linewidth=0.6)
                ax.set_xlabel("Sobol index (share of output variance), 95 % CI")
                ax.legend(loc="lower right", fontsize=8)
            else:
                ax.errorbar(w["mu_star"], w["sigma"], xerr=w["mu_star_conf"], fmt="o", color="#c0392b", ecolor="#aaaaaa",
                            capsize=2)
                top = float(np.nanmax(np.r_[w["mu_star"] + w["mu_star_conf"].fillna(0), w["sigma"], 1e-12]))
                ax.plot([0, top], [0, top], color="#888888", linewidth=0.8, linestyle="--", label="sigma = mu*")
                ax.set_xlim(0, top * 1.05)
                ax.set_ylim(0, float(np.nanmax(np.r_[w["sigma"], 1e-12])) * 1.1)
                _label_points(ax, w.index, w["mu_star"].to_numpy(), w["sigma"].to_numpy())
                ax.set_xlabel("mu* (mean absolute elementary effect), 95 % CI")
                ax.set_ylabel("sigma (non-linearity and interactions)")
                ax.legend(loc="upper left", fontsize=8)
            ax.set_title(label, fontsize=10)
        fig.suptitle(f"{'Sobol indices' if self.method == 'sobol' else 'Morris screening'}: "
                     f"{self.settings.get('runs', '?')} runs, scale {self.settings.get('scale', '?')}", fontsize=11)
        fig.tight_layout()
        return fig

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``<method>_indices.csv`` (tidy), ``<method>_samples.csv`` (X and Y), ``<method>.png`` and
        ``<method>_settings.json`` to ``out``."""
        import matplotlib.pyplot as plt

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        m = self.method
        paths = {"indices": out / f"{m}_indices.csv", "samples": out / f"{m}_samples.csv",
                 "figure": out / f"{m}.png", "settings": out / f"{m}_settings.json"}
        self.indices.to_csv(paths["indices"], index=False)
        samples = pd.DataFrame(self.X, columns=self.problem["names"])
        for j, label in enumerate(self.outcomes):
            samples[label] = self.Y[:, j]
        samples.to_csv(paths["samples"], index_label="sample")
        fig = self.figure()
        fig.savefig(paths["figure"], dpi=130)
        plt.close(fig)
        paths["settings"].write_text(json.dumps({"method": m, "problem": self.problem, "outcomes": self.outcomes,
                                                 **self.settings}, indent=2, default=str))
        return paths

    @classmethod
    def load(cls, out: str | Path, method: str = "sobol") -> SensitivityResult:
        """Read back what ``save`` wrote (e.g. to redraw the figure)."""
        out = Path(out)
        settings = json.loads((out / f"{method}_settings.json").read_text())
        problem_, outcomes = settings.pop("problem"), settings.pop("outcomes")
        settings.pop("method", None)
        samples = pd.read_csv(out / f"{method}_samples.csv", index_col="sample")
        return cls(method, problem_, outcomes, samples[problem_["names"]].to_numpy(), samples[outcomes].to_numpy(),
                   pd.read_csv(out / f"{method}_indices.csv"), settings)


def _label_points(ax, names, x, y) -> None:
    """Label scatter points, moving a label up or down when it would overlap one already placed
    (approximate boxes in axes fractions: 7-point text)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    fig_w, fig_h = ax.get_figure().get_size_inches() * ax.get_position().size
    char_w, line_h = 7 * 0.55 / 72 / fig_w, 7 * 1.3 / 72 / fig_h  # one character and one line in axes fractions
    placed: list[tuple[float, float, float]] = []  # (left, bottom, width)
    for i in np.argsort(-np.asarray(y)):
        fx, fy = (x[i] - x0) / (x1 - x0 or 1), (y[i] - y0) / (y1 - y0 or 1)
        width = char_w * len(names[i])
        for dy in (0.4, -1.4, 1.6, -2.6, 2.8, -3.8, 4.0):
            left, bottom = fx + 0.01, fy + dy * line_h
            if all(abs(bottom - b) >= line_h or left + width <= lft or lft + w <= left for lft, b, w in placed):
                break
        placed.append((left, bottom, width))
        ax.annotate(names[i], (x[i], y[i]), xytext=(left, bottom), textcoords="axes fraction", fontsize=7,
                    arrowprops={"arrowstyle": "-", "color": "#bbbbbb", "linewidth": 0.5} if dy != 0.4 else None)


def _keep_order(outcomes: list[str]):
    order = {o: i for i, o in enumerate(outcomes)}

    def key(col: pd.Series) -> pd.Series:
        return col.map(order) if col.name == "indicator" else col

    return key


Evaluate = Callable[[np.ndarray], np.ndarray]


def _prepare(params, outcomes, bounds, evaluate, scenario, scale, end, replicates, seed, backend, workers, progress):
    if evaluate is None:
        names = parse_params(params)
        model = ModelEvaluator(names, outcomes, scenario, scale=scale, end=end, replicates=replicates, seed=seed,
                               backend=backend, workers=workers, progress=progress, squeeze=False)
        labels, seed = model.labels, model.seed
        sc = model.scenario
        settings = {"scenario": sc.name, "start": sc.start, "end": sc.end, "scale": sc.params["scale"],
                    "replicates": model.replicates, "replicate_seeds": model.seeds,
                    "backend": backend if isinstance(backend, str) else type(backend).__name__, "workers": workers}
        evaluate = model
    else:
        names = list(params) if params is not None else list(DEFAULT_PARAMS)
        labels = [outcomes] if isinstance(outcomes, str) else [str(o) for o in outcomes]
        seed = 0 if seed is None else int(seed)
        settings = {"evaluate": getattr(evaluate, "__name__", type(evaluate).__name__)}
    return names, problem(names, bounds), labels, int(seed), evaluate, settings


def _evaluate(evaluate: Evaluate, X: np.ndarray, k: int) -> np.ndarray:
    Y = np.asarray(evaluate(X), float)
    Y = Y.reshape(len(X), -1)
    if Y.shape[1] != k:
        raise ValueError(f"the model returned {Y.shape[1]} outputs per sample for {k} outcomes")
    if not np.all(np.isfinite(Y)):
        raise ValueError(f"the model returned {int((~np.isfinite(Y)).sum())} non-finite values")
    return Y


def sobol(params: str | Sequence[str] | None = None, outcomes: str | Sequence[str] = DEFAULT_OUTCOMES, *, n: int = 64,
          scenario: Scenario | str | Path | None = None, scale: float | None = None, end: str | None = None,
          replicates: int = 1, seed: int | None = None, backend: str | Executor = "serial", workers: int | None = None,
          second_order: bool = False, num_resamples: int = 200, conf_level: float = 0.95, progress: bool = False,
          evaluate: Evaluate | None = None, bounds: dict[str, tuple[float, float]] | None = None) -> SensitivityResult:
    """Sobol first-order (S1) and total (ST) indices, with bootstrap confidence intervals.

    Saltelli's scheme: ``n`` base samples (a power of 2) give ``n (d + 2)`` model evaluations
    (``n (2d + 2)`` with ``second_order``), each run ``replicates`` times. ``evaluate`` replaces the model
    by any vectorised function X -> Y (then ``params`` are its input names and ``bounds`` their ranges).
    """
    require_salib()  # fail early with the install hint
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    names, prob, labels, seed, evaluate, settings = _prepare(params, outcomes, bounds, evaluate, scenario, scale, end,
                                                             replicates, seed, backend, workers, progress)
    if n < 2 or n & (n - 1):
        raise ValueError(f"n = {n}: Sobol' sampling needs a power of 2 (e.g. 32, 64, 128)")
    X = sobol_sample.sample(prob, n, calc_second_order=second_order, scramble=True, seed=seed)
    t0 = time.perf_counter()
    Y = _evaluate(evaluate, X, len(labels))
    wall = time.perf_counter() - t0
    rows = []
    for j, label in enumerate(labels):
        si = sobol_analyze.analyze(prob, Y[:, j], calc_second_order=second_order, num_resamples=num_resamples,
                                   conf_level=conf_level, seed=seed)
        for index in ("S1", "ST"):
            rows += [(label, p, index, float(si[index][i]), float(si[f"{index}_conf"][i])) for i, p in enumerate(names)]
        if second_order:
            for a in range(len(names)):
                for b in range(a + 1, len(names)):
                    rows.append((label, f"{names[a]} & {names[b]}", "S2", float(si["S2"][a, b]),
                                 float(si["S2_conf"][a, b])))
    indices = pd.DataFrame(rows, columns=["indicator", "parameter", "index", "value", "conf"])
    settings.update(n=n, runs=len(X) * settings.get("replicates", 1), samples=len(X), seed=seed,
                    second_order=second_order, num_resamples=num_resamples, conf_level=conf_level,
                    wall_seconds=round(wall, 1))
    return SensitivityResult("sobol", prob, labels, X, Y, indices, settings)


def morris(params: str | Sequence[str] | None = None, outcomes: str | Sequence[str] = DEFAULT_OUTCOMES, *, n: int = 10,
           num_levels: int = 4, scenario: Scenario | str | Path | None = None, scale: float | None = None,
           end: str | None = None, replicates: int = 1, seed: int | None = None, backend: str | Executor = "serial",
           workers: int | None = None, num_resamples: int = 200, conf_level: float = 0.95, progress: bool = False,
           evaluate: Evaluate | None = None, bounds: dict[str, tuple[float, float]] | None = None) -> SensitivityResult:
    """Morris elementary-effects screening: mu* (mean absolute effect, with a bootstrap confidence interval),
    sigma (spread: non-linearity and interactions) and mu, from ``n`` trajectories (``n (d + 1)`` evaluations)
    on a ``num_levels`` grid. ``evaluate`` and ``bounds`` as in ``sobol``."""
    require_salib()
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    names, prob, labels, seed, evaluate, settings = _prepare(params, outcomes, bounds, evaluate, scenario, scale, end,
                                                             replicates, seed, backend, workers, progress)
    if n < 2:
        raise ValueError(f"n = {n}: Morris needs at least 2 trajectories")
    X = morris_sample.sample(prob, n, num_levels=num_levels, seed=seed)
    t0 = time.perf_counter()
    Y = _evaluate(evaluate, X, len(labels))
    wall = time.perf_counter() - t0
    rows = []
    for j, label in enumerate(labels):
        mi = morris_analyze.analyze(prob, X, Y[:, j], num_resamples=num_resamples, conf_level=conf_level,
                                    num_levels=num_levels, seed=seed)
        for i, p in enumerate(names):
            rows.append((label, p, "mu_star", float(mi["mu_star"][i]), float(mi["mu_star_conf"][i])))
            rows.append((label, p, "sigma", float(mi["sigma"][i]), np.nan))
            rows.append((label, p, "mu", float(mi["mu"][i]), np.nan))
    indices = pd.DataFrame(rows, columns=["indicator", "parameter", "index", "value", "conf"])
    settings.update(n=n, num_levels=num_levels, runs=len(X) * settings.get("replicates", 1), samples=len(X), seed=seed,
                    num_resamples=num_resamples, conf_level=conf_level, wall_seconds=round(wall, 1))
    return SensitivityResult("morris", prob, labels, X, Y, indices, settings)


# ---------------------------------------------------------------------------- command line
def _num(v: float) -> str:
    """Compact numbers for the console: 12,345; 1.97 bn; 0.0123."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g} bn"
    if a >= 1e6:
        return f"{v / 1e6:.3g} m"
    return f"{v:,.0f}" if a >= 100 else f"{v:.3g}"


def _format_top(res: SensitivityResult, k: int) -> str:
    lines = []
    for label in res.outcomes:
        w = res.top(label, k)
        lines.append(f"\n{label}:")
        if res.method == "sobol":
            lines.append(f"  {'parameter':38} {'S1':>14} {'ST':>14}")
            for r in w.itertuples():
                lines.append(f"  {r.parameter:38} {r.S1:6.3f} ± {r.S1_conf:5.3f} {r.ST:6.3f} ± {r.ST_conf:5.3f}")
        else:
            lines.append(f"  {'parameter':38} {'mu*':>21} {'sigma':>10}")
            for r in w.itertuples():
                lines.append(f"  {r.parameter:38} {_num(r.mu_star):>10} ± {_num(r.mu_star_conf):<8} {_num(r.sigma):>10}")
    return "\n".join(lines)


def cmd_sensitivity(args) -> int:
    try:
        require_salib()
        indicators = parse_indicators(args.outcomes)
        names = parse_params(args.params)
        if args.backend is None:
            args.backend = "processes" if (args.workers or 1) > 1 else "serial"
        run = sobol if args.method == "sobol" else morris
        n = args.n or (64 if args.method == "sobol" else 10)
        kwargs = {"second_order": args.second_order} if args.method == "sobol" else {"num_levels": args.num_levels}
        probe = ModelEvaluator(names, indicators, args.scenario, scale=args.scale, end=args.end,
                               replicates=args.replicates, seed=args.seed)
    except (ImportError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    d = len(names)
    samples = n * (d + 2 + (d if args.method == "sobol" and args.second_order else 0)) if args.method == "sobol" \
        else n * (d + 1)
    sc = probe.scenario
    out = Path(args.out or Path("outputs") / "sensitivity")
    print(f"thbsim sensitivity: {args.method}, {d} parameters, n = {n}: {samples} samples x {args.replicates} "
          f"replicate(s) = {samples * args.replicates} runs of {sc.name} {sc.start} to {sc.end} at scale "
          f"{sc.params['scale']:g}, seed {probe.seed}, backend {args.backend}"
          f"{f' ({args.workers} workers)' if args.workers else ''}; results in {out}/", flush=True)
    t0 = time.perf_counter()
    try:
        res = run(names, indicators, n=n, scenario=args.scenario, scale=args.scale, end=args.end,
                  replicates=args.replicates, seed=args.seed, backend=args.backend, workers=args.workers,
                  progress=not args.quiet, **kwargs)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # failed runs: the first traceback
        print(f"error: {err}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - t0
    res.settings["wall_seconds_total"] = round(wall, 1)
    paths = res.save(out)
    index = "total index ST" if args.method == "sobol" else "mu*"
    print(f"\nTop parameters by {index} (95 % confidence half-widths):" + _format_top(res, args.top))
    print(f"\n{res.settings['runs']} runs in {wall:.0f} s. Wrote {', '.join(p.name for p in paths.values())} to {out}/")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sensitivity", help="Sobol indices or Morris screening of model outcomes over uncertain parameters (SALib)",
        description="Sobol first-order and total indices, or Morris screening, of outcomes such as registered victims "
                    "or social cost over the uncertain parameters. Needs the optional extra: " + INSTALL_HINT)
    p.add_argument("--method", choices=("sobol", "morris"), default="sobol")
    p.add_argument("--n", type=int, help="Sobol: base samples, a power of 2 (default 64; runs = n x (d + 2)); "
                                         "Morris: trajectories (default 10; runs = n x (d + 1))")
    p.add_argument("--params", help="comma-separated parameter names, or 'all' for every uncertain parameter "
                                    f"(default: {','.join(DEFAULT_PARAMS)})")
    p.add_argument("--outcomes", default=",".join(DEFAULT_OUTCOMES),
                   help="comma-separated indicators outcome:year or outcome:first-last, or target:<name> "
                        f"(default: {','.join(DEFAULT_OUTCOMES)})")
    p.add_argument("--scenario", help="scenario TOML file (default: the built-in baseline)")
    p.add_argument("--scale", type=float, help="population scale of the runs (default: the scenario's)")
    p.add_argument("--end", help="last month YYYY-MM (default: December of the last indicator year, at least 2018)")
    p.add_argument("--replicates", type=int, default=1, help="runs per sample, averaged (same seeds for every sample)")
    p.add_argument("--backend", help="serial, processes, dask (local cluster) or dask://host:port "
                                     "(default: processes if --workers > 1, else serial)")
    p.add_argument("--workers", type=int, help="worker processes for the processes and local dask backends")
    p.add_argument("--seed", type=int, help="root seed of sampling, replicates and bootstrap (default: the scenario's)")
    p.add_argument("--out", help="output folder (default: outputs/sensitivity)")
    p.add_argument("--second-order", action="store_true", help="Sobol: also second-order indices (doubles the runs)")
    p.add_argument("--num-levels", type=int, default=4, help="Morris: levels of the grid (default 4)")
    p.add_argument("--top", type=int, default=8, help="parameters to print per indicator (default 8)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sensitivity)
    return p
