"""Calibration: an ABC-SMC posterior over uncertain parameters, fitted to the report's targets.

The distance between one particle (a choice of parameter values) and the targets
is the root mean square of each target's deviation scaled by its tolerance,
averaged over a few replicate runs with seeds spawned for that particle (the
seed is never tuned). ABC-SMC (Beaumont et al. 2009; Toni et al. 2009) then
moves a population of particles from the prior (uniform on the parameters'
declared bounds, on the log scale for bounds spanning a factor of 10 or more)
toward the parameter values whose runs come close to the targets, shrinking the
tolerance epsilon generation by generation, with locally adapted Gaussian
perturbation kernels (Filippi et al. 2013) and importance weights.

The sampler is our own, small and on top of ``thbsim.runner.execute``, because
pyabc draws from numpy's global random state and reseeds its workers, so its
parallel samplers do not give the same posterior twice. Here every random number
comes from a ``numpy.random.Generator`` seeded from ``SeedSequence(seed,
spawn_key=...)``: proposals by (generation, candidate), run seeds by
(generation, candidate, replicate), and which particles are kept is decided from
the distances in candidate order, never from the order runs finish, so the posterior is identical on every backend and for any
number of workers. Each generation is saved as it completes; a calibration that
is stopped is resumed from its last complete generation. See docs/calibration.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from thbsim.params import PARAMS
from thbsim.scenario import Scenario, save

DEFAULT_PARAMS = (
    "police.investigations_per_million",
    "referral.rate_sexual",
    "demand.exploited_share_sex",
    "demand.exploited_share_labour",
    "demand.other_per_million",
    "recruit.domestic_affinity",
    "recruit.non_eu_reach",
    "police.suspects_per_member",
)
"""The uncertain parameters the default targets inform most (registered victims, the forms'
shares, citizenship and domestic shares, suspects); see the `informs` column of docs/data.md."""

DEFAULTS = {
    "particles": 200,
    "generations": 12,
    "replicates": 2,
    "scale": 0.25,
    "end": "2019-12",
    "prior": "log",
    "quantile": 0.5,
    "min_acceptance": 0.2,
    "check_draws": 100,
    "check_scale": 1.0,
}
"""The default budget: under two hours on a 2-core laptop (measured in docs/calibration.md)."""

KINDS = ("relative", "points", "at_least", "between")
MIN_PROGRESS = 0.02
"""A generation that reached its proposal cap and lowered epsilon by less than this share ends
the calibration (it has reached the noise floor of the distance)."""
AT_LEAST_WIDTH = 0.05
"""Scale of a shortfall below an ``at_least`` share target without its own tolerance: 5 points, as
the shares' tolerances (for a figure above 1, 10 % of the figure)."""


# ----------------------------------------------------------------------------------------------
# targets and distance


@dataclass(frozen=True)
class CalibrationTarget:
    """One figure the calibration compares a run with.

    ``outcome`` names what is compared: ``target:<name>`` (a target computed by
    ``thbsim.targets``) or a yearly outcome of ``runner.OUTCOME_INDICATORS`` over
    ``years`` (summed for flows, averaged for stocks). ``scales``: the value is a count or
    an amount that grows with the population ``scale`` parameter, so the model's value is
    divided by the run's scale before it is compared with the figure.
    """

    name: str
    figure: float
    kind: str
    tolerance: float | tuple[float, float] | None
    outcome: str
    years: tuple[int, int] | None = None
    aggregate: str = "sum"
    scales: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind = {self.kind!r}: expected one of {', '.join(KINDS)} (set targets are not calibrated)")
        elif self.kind in ("relative", "points") and not (isinstance(self.tolerance, int | float) and self.tolerance > 0):
            problems.append(f"tolerance = {self.tolerance!r}: a {self.kind} target needs a positive number")
        elif self.kind == "between" and not (
            isinstance(self.tolerance, tuple) and len(self.tolerance) == 2 and self.tolerance[0] < self.tolerance[1]
        ):
            problems.append(f"tolerance = {self.tolerance!r}: a between target needs [low, high] with low < high")
        elif self.kind == "relative" and self.figure == 0:
            problems.append("figure = 0: a relative target needs a non-zero figure")
        if self.aggregate not in ("sum", "mean"):
            problems.append(f"aggregate = {self.aggregate!r}: expected 'sum' or 'mean'")
        if problems:
            raise ValueError(f"calibration target {self.name!r}: " + "; ".join(problems))

    def bounds(self) -> tuple[float, float]:
        """The values within tolerance."""
        if self.kind == "relative":
            half = abs(self.figure) * self.tolerance
            return self.figure - half, self.figure + half
        if self.kind == "points":
            return self.figure - self.tolerance, self.figure + self.tolerance
        if self.kind == "at_least":
            return self.figure, math.inf
        return self.tolerance

    def width(self) -> float:
        """The scale of one unit of deviation (the tolerance, in the figure's unit)."""
        if self.kind == "relative":
            return abs(self.figure) * self.tolerance
        if self.kind == "points":
            return self.tolerance
        if self.kind == "at_least":
            if self.tolerance is not None:
                return float(self.tolerance)
            return AT_LEAST_WIDTH if abs(self.figure) <= 1 else 0.1 * abs(self.figure)
        lo, hi = self.tolerance
        return (hi - lo) / 2

    def deviation(self, value: float | np.ndarray) -> float | np.ndarray:
        """Signed deviation in tolerances: 0 at the figure (inside the bounds for at_least and
        between), +-1 at the edge of the tolerance (one width outside the bounds)."""
        v = np.asarray(value, dtype=float)
        if self.kind == "relative":
            return (v / self.figure - 1) / self.tolerance
        if self.kind == "points":
            return (v - self.figure) / self.tolerance
        lo, hi = self.bounds()
        return (np.minimum(v - lo, 0) + np.maximum(v - hi, 0)) / self.width()

    def within(self, value: float) -> bool:
        lo, hi = self.bounds()
        return bool(lo <= value <= hi)

    def describe(self) -> str:
        if self.kind == "relative":
            figure = f"{self.figure:,.0f}" if abs(self.figure) < 1e7 else f"{self.figure:.4g}"
            return f"{figure} ± {self.tolerance:.0%}"
        if self.kind == "points":
            return f"{self.figure:.4g} ± {self.tolerance:.4g}"
        if self.kind == "at_least":
            return f">= {self.figure:.4g}"
        return f"{self.tolerance[0]:.4g} to {self.tolerance[1]:.4g}"

    def value(self, lookup: Mapping[tuple[str, int], float], scale: float = 1.0) -> float:
        """This target's model value from one run's outcomes, keyed by (outcome, year)."""
        if self.years is None:
            v = lookup.get((self.outcome, 0), math.nan)
        else:
            vals = [lookup.get((self.outcome, y), math.nan) for y in range(self.years[0], self.years[1] + 1)]
            v = float(np.sum(vals)) if self.aggregate == "sum" else float(np.mean(vals))
        return float(v) / scale if self.scales else float(v)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for key in ("tolerance", "years"):
            if isinstance(d[key], tuple):
                d[key] = list(d[key])
        return d


def default_targets() -> tuple[CalibrationTarget, ...]:
    """The report's targets (thbsim.targets.TARGETS) except the two top-5 citizenship sets.

    The set targets are skipped: a ranking of five countries has no distance that shrinks as a
    run comes closer, and the runner's outcome table does not carry the citizenship counts; they
    remain checked by ``thbsim run``. The counts and amounts (the ``relative`` targets) scale
    with the population ``scale``; the shares do not.
    """
    from thbsim.targets import TARGETS

    return tuple(
        CalibrationTarget(t.name, float(t.figure), t.kind, t.tolerance, f"target:{t.name}",
                          scales=t.kind == "relative", source=t.source)
        for t in TARGETS if t.kind != "set"
    )


_TARGET_KEYS = {"name", "figure", "kind", "tolerance", "outcome", "years", "aggregate", "scales", "source"}


def load_targets(path: str | Path, base: Sequence[CalibrationTarget] | None = None) -> tuple[CalibrationTarget, ...]:
    """Targets from a TOML file, added to ``base`` (default: ``default_targets()``).

    The file holds ``[[target]]`` tables (``name``, ``figure``, ``kind``, ``tolerance``,
    ``outcome``, and for yearly outcomes ``years = [first, last]``; optional ``scales``,
    ``aggregate``, ``source``). A target named like one in ``base`` replaces it. Top-level
    ``exclude = [names]`` drops targets of ``base``; ``replace = true`` drops all of them.
    """
    from thbsim.runner import OUTCOME_INDICATORS

    base = default_targets() if base is None else tuple(base)
    path = Path(path)
    data = tomllib.loads(path.read_text())
    problems = []
    unknown = set(data) - {"target", "exclude", "replace"}
    if unknown:
        problems.append(f"unknown key(s) {sorted(unknown)}; allowed: target, exclude, replace")
    base_names = {t.name: t for t in base}
    exclude = data.get("exclude", [])
    for name in exclude:
        if name not in base_names:
            problems.append(f"exclude: no target {name!r}; targets are {', '.join(base_names)}")
    keep = [] if data.get("replace", False) else [t for t in base if t.name not in exclude]
    added = []
    for i, raw in enumerate(data.get("target", [])):
        where = f"[[target]] #{i + 1}"
        bad = set(raw) - _TARGET_KEYS
        if bad:
            problems.append(f"{where}: unknown key(s) {sorted(bad)}; allowed: {', '.join(sorted(_TARGET_KEYS))}")
            continue
        missing = {"name", "figure", "kind", "outcome"} - set(raw)
        if missing:
            problems.append(f"{where}: missing {', '.join(sorted(missing))}")
            continue
        outcome = raw["outcome"]
        years = raw.get("years")
        if outcome.startswith("target:"):
            from thbsim.targets import TARGETS

            names = {t.name: t for t in TARGETS if t.kind != "set"}
            if outcome.removeprefix("target:") not in names:
                problems.append(f"{where}: outcome {outcome!r}: no such target; targets are {', '.join(names)}")
                continue
            scales = names[outcome.removeprefix("target:")].kind == "relative"
            aggregate = "sum"
        elif outcome in OUTCOME_INDICATORS:
            if not (isinstance(years, list) and len(years) == 2 and all(isinstance(y, int) for y in years)):
                problems.append(f"{where}: outcome {outcome!r} is yearly: give years = [first, last]")
                continue
            scales, aggregate = True, "mean" if OUTCOME_INDICATORS[outcome][1] == "stock" else "sum"
        else:
            problems.append(f"{where}: outcome {outcome!r}: expected 'target:<name>' or one of "
                            f"{', '.join(OUTCOME_INDICATORS)}")
            continue
        tol = raw.get("tolerance")
        try:
            added.append(CalibrationTarget(
                name=raw["name"], figure=float(raw["figure"]), kind=raw["kind"],
                tolerance=tuple(float(x) for x in tol) if isinstance(tol, list) else tol,
                outcome=outcome, years=tuple(years) if years else None,
                aggregate=raw.get("aggregate", aggregate), scales=bool(raw.get("scales", scales)),
                source=raw.get("source", str(path))))
        except (TypeError, ValueError) as err:
            problems.append(f"{where}: {err}")
    if problems:
        raise ValueError(f"{path}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))
    names = {t.name for t in added}
    return tuple(t for t in keep if t.name not in names) + tuple(added)


def lookup_from_outcomes(outcomes: pd.DataFrame) -> dict[tuple[str, int], float]:
    """One run's outcome table (runner.simulate) keyed by (outcome, year)."""
    return dict(zip(zip(outcomes["outcome"], outcomes["year"].astype(int), strict=True),
                    outcomes["value"].astype(float), strict=True))


def target_vector(lookup: Mapping, targets: Sequence[CalibrationTarget], scale: float = 1.0) -> np.ndarray:
    return np.array([t.value(lookup, scale) for t in targets])


def deviations(values: np.ndarray, targets: Sequence[CalibrationTarget]) -> np.ndarray:
    """Scaled deviations; ``values`` has the targets on its last axis."""
    values = np.asarray(values, dtype=float)
    return np.stack([t.deviation(values[..., i]) for i, t in enumerate(targets)], axis=-1)


def distance(values: np.ndarray, targets: Sequence[CalibrationTarget]) -> float:
    """Root mean square of the scaled deviations, averaged over replicates.

    ``values``: one run's target values (n_targets,) or several replicates' (n_replicates,
    n_targets). Missing or non-finite values give an infinite distance (the particle is rejected).
    """
    dev = np.atleast_2d(deviations(values, targets))
    if not np.all(np.isfinite(dev)):
        return math.inf
    return float(np.mean(np.sqrt(np.mean(dev ** 2, axis=1))))


# ----------------------------------------------------------------------------------------------
# seeds, prior, kernel


def derive_seed(root: int, *key: int) -> int:
    """A run seed from the root seed and a key, independent of execution order."""
    ss = np.random.SeedSequence(root, spawn_key=tuple(int(k) for k in key))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _rng(root: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(root, spawn_key=tuple(int(k) for k in key)))


# spawn-key prefixes: proposals, run seeds, kernel normalisation, predictive-check draws and seeds
_PROPOSAL, _RUN, _KERNEL, _CHECK, _CHECK_RUN = 0, 1, 2, 3, 4


LOG_SPAN = 10.0
"""With ``prior="log"``, parameters whose bounds span this factor or more get a log-uniform prior."""


@dataclass(frozen=True)
class Prior:
    """Independent priors on [low, high]: uniform, or log-uniform where ``log`` is set.

    The sampler works in the prior's flat coordinates ``u`` (``log x`` for log-uniform
    parameters, ``x`` otherwise), where the prior is uniform on a box.
    """

    names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    log: np.ndarray

    @classmethod
    def of(cls, names: Sequence[str], bounds: Mapping[str, tuple[float, float]] | None = None,
           kind: str = "uniform") -> Prior:
        """Priors on the declared bounds of uncertain parameters (or on ``bounds`` given for
        custom simulators' parameters). ``kind``: "uniform" or "log" (log-uniform where the bounds
        span a factor of ``LOG_SPAN`` or more and the lower bound is positive)."""
        lows, highs, problems = [], [], []
        if kind not in ("uniform", "log"):
            problems.append(f"prior {kind!r}: expected 'uniform' or 'log'")
        for n in names:
            if bounds is not None and n in bounds:
                lo, hi = bounds[n]
            elif n not in PARAMS:
                problems.append(f"unknown parameter {n!r}")
                continue
            elif not PARAMS[n].uncertain:
                problems.append(f"{n!r} is not uncertain (declared fixed): it cannot be calibrated")
                continue
            else:
                lo, hi = PARAMS[n].low, PARAMS[n].high
            if not lo < hi:
                problems.append(f"{n!r}: bounds [{lo}, {hi}] are empty")
            lows.append(float(lo))
            highs.append(float(hi))
        if len(set(names)) != len(names):
            problems.append(f"parameters named twice in {list(names)}")
        if not names:
            problems.append("no parameters to calibrate")
        if problems:
            raise ValueError("calibration parameters: " + "; ".join(problems))
        low, high = np.array(lows), np.array(highs)
        log = (low > 0) & (high >= LOG_SPAN * low) if kind == "log" else np.zeros(len(low), bool)
        return cls(tuple(names), low, high, log)

    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def ulow(self) -> np.ndarray:
        return self.to_u(self.low)

    @property
    def uhigh(self) -> np.ndarray:
        return self.to_u(self.high)

    def to_u(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        return np.where(self.log, np.log(np.where(self.log, x, 1.0)), x)

    def from_u(self, u: np.ndarray) -> np.ndarray:
        return np.clip(np.where(self.log, np.exp(np.where(self.log, u, 0.0)), u), self.low, self.high)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        return self.from_u(rng.uniform(self.ulow, self.uhigh))

    def contains_u(self, u: np.ndarray) -> np.ndarray:
        return np.all((u >= self.ulow) & (u <= self.uhigh), axis=-1)

    def describe(self) -> list[str]:
        return [f"{'log-uniform' if lg else 'uniform'} on [{lo:g}, {hi:g}]"
                for lo, hi, lg in zip(self.low, self.high, self.log, strict=True)]


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float | Sequence[float]) -> np.ndarray:
    """Quantiles of weighted samples (interpolated on the mid-points of the cumulative weights)."""
    order = np.argsort(x, kind="stable")
    xs, ws = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cw = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
    return np.interp(q, cw, xs)


KERNELS = ("olcm", "global")


class Kernel:
    """Gaussian perturbation of a particle of the previous population, truncated to the prior's box
    (in the prior's flat coordinates).

    ``"olcm"`` (default): each particle's own covariance, the optimal local covariance matrix of
    Filippi et al. (2013): the weighted second moment about that particle of the previous particles
    already within the new tolerance, so particles far from the good region take wide steps toward
    it. ``"global"``: twice the weighted covariance of the whole population (Beaumont et al. 2009).
    The truncation's normalising constants (each Gaussian's mass inside the box) are estimated by
    Monte Carlo from a seeded stream.
    """

    def __init__(self, prev: Generation, epsilon: float, prior: Prior, root: int, kind: str = "olcm") -> None:
        if kind not in KERNELS:
            raise ValueError(f"kernel {kind!r}: expected one of {', '.join(KERNELS)}")
        self.prior, self.weights = prior, np.ascontiguousarray(prev.weights)
        u = self.u = np.ascontiguousarray(prior.to_u(prev.theta))
        n, d = u.shape
        jitter = np.diag((1e-6 * (prior.uhigh - prior.ulow)) ** 2)
        near = prev.distances <= epsilon
        if kind == "olcm" and near.sum() >= 2:
            w = self.weights[near] / self.weights[near].sum()
            mean = np.sum(u[near] * w[:, None], axis=0)
            centred = u[near] - mean
            cov = np.einsum("k,ka,kb->ab", w, centred, centred)
            off = mean[None, :] - u
            covs = cov[None] + off[:, :, None] * off[:, None, :]
        else:
            covs = np.broadcast_to(2 * np.atleast_2d(np.cov(u, rowvar=False, aweights=self.weights, ddof=0)), (n, d, d))
        self.chol = np.ascontiguousarray(np.linalg.cholesky(covs + jitter))
        self.inv_chol = np.ascontiguousarray(np.linalg.inv(self.chol))
        log_det = np.sum(np.log(np.diagonal(self.chol, axis1=1, axis2=2)), axis=1)
        z = np.ascontiguousarray(_rng(root, _KERNEL, prev.t + 1).standard_normal((4000, d)))
        inside = np.array([prior.contains_u(u[j] + np.einsum("ab,kb->ka", self.chol[j], z)).mean() for j in range(n)])
        self.log_norm = log_det + np.log(np.maximum(inside, 1 / 4000))

    def propose(self, rng: np.random.Generator) -> np.ndarray:
        j = rng.choice(len(self.u), p=self.weights)
        for _ in range(10000):
            u = self.u[j] + np.einsum("ab,b->a", self.chol[j], rng.standard_normal(self.prior.dim))
            if self.prior.contains_u(u):
                break
        return self.prior.from_u(u)

    def weights_for(self, theta: np.ndarray) -> np.ndarray:
        """Importance weights prior(u) / sum_j w_j K(u | u_j) of new particles, normalised (the
        prior is flat in u, so its density is the same for every particle)."""
        diff = np.ascontiguousarray(self.prior.to_u(theta))[:, None, :] - self.u[None, :, :]
        m = np.einsum("jab,ijb->ija", self.inv_chol, diff)
        log_k = -0.5 * np.sum(m ** 2, axis=-1) - self.log_norm[None, :] + np.log(self.weights)[None, :]
        top = log_k.max(axis=1, keepdims=True)
        logw = -(top + np.log(np.exp(log_k - top).sum(axis=1, keepdims=True)))[:, 0]
        w = np.exp(logw - logw.max())
        return w / w.sum()


# ----------------------------------------------------------------------------------------------
# running particles


Simulator = Callable[[dict, int], Mapping]
"""A custom simulator for tests and toy problems: ``simulator(params, seed) -> {outcome: value}``
(keys a name, or (name, year) for targets with years). Must be picklable for process backends."""


@dataclass(frozen=True)
class _Task:
    key: int
    params: dict
    seed: int
    scenario: Scenario | None = None
    replicate: int = 0


def _custom_chunk(simulator: Simulator, tasks: list[_Task]) -> list[tuple[int, dict | None, str | None]]:
    out = []
    for task in tasks:
        try:
            res = simulator(dict(task.params), task.seed)
            out.append((task.key, {(k if isinstance(k, tuple) else (k, 0)): float(v) for k, v in res.items()}, None))
        except Exception as err:  # a failing run is recorded, the others go on
            out.append((task.key, None, repr(err)))
    return out


class _Engine:
    """Runs tasks on a backend kept open for the whole calibration (one pool or cluster)."""

    def __init__(self, simulator: Simulator | None, backend: str | Executor, workers: int | None) -> None:
        self.simulator, self.backend, self.workers = simulator, backend, workers
        self.failures: list[str] = []

    @contextmanager
    def open(self) -> Iterator[_Engine]:
        backend, self._run_backend, closers = self.backend, self.backend, []
        n = self.workers or os.cpu_count() or 1
        try:
            if backend == "processes":
                pool = ProcessPoolExecutor(n)
                closers.append(lambda: pool.shutdown(cancel_futures=True))
                self._run_backend = pool
            elif isinstance(backend, str) and backend.startswith("dask"):
                from distributed import Client, LocalCluster

                if backend == "dask":
                    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
                    closers.append(cluster.close)
                    address = cluster.scheduler_address
                else:
                    address = backend.removeprefix("dask://")
                if self.simulator is None:
                    self._run_backend = f"dask://{address}"
                else:
                    client = Client(address)
                    closers.append(client.close)
                    self._run_backend = client.get_executor(pure=False)
            elif backend != "serial" and not isinstance(backend, Executor):
                raise ValueError(f"backend {backend!r}: expected 'serial', 'processes', 'dask', 'dask://host:port' "
                                 "or a concurrent.futures.Executor")
            yield self
        finally:
            for close in reversed(closers):
                close()

    def run(self, tasks: list[_Task], targets: Sequence[CalibrationTarget]) -> Iterator[tuple[int, np.ndarray | None]]:
        """Target values of each task, as tasks finish (any order)."""
        if self.simulator is None:
            from thbsim.runner import RunSpec, execute

            specs = [RunSpec(run_id=t.key, scenario=t.scenario, seed=t.seed, params=t.params, replicate=t.replicate)
                     for t in tasks]
            for res in execute(specs, backend=self._run_backend, workers=self.workers):
                if res.outcomes is None:
                    self.failures.append(res.error)
                    yield res.spec.run_id, None
                else:
                    scale = res.spec.scenario.params["scale"]  # calibration runs never vary the scale
                    yield res.spec.run_id, target_vector(lookup_from_outcomes(res.outcomes), targets, scale)
            return
        if self._run_backend == "serial":
            chunks = [_custom_chunk(self.simulator, tasks)]
        else:
            size = max(1, len(tasks) // (4 * (self.workers or os.cpu_count() or 1)))
            futures = [self._run_backend.submit(_custom_chunk, self.simulator, tasks[i:i + size])
                       for i in range(0, len(tasks), size)]
            chunks = (f.result() for f in as_completed(futures))
        for chunk in chunks:
            for key, lookup, error in chunk:
                if lookup is None:
                    self.failures.append(error)
                    yield key, None
                else:
                    yield key, target_vector(lookup, targets)


# ----------------------------------------------------------------------------------------------
# ABC-SMC


@dataclass
class Generation:
    """One complete ABC-SMC population."""

    t: int
    theta: np.ndarray  # (particles, parameters)
    weights: np.ndarray
    distances: np.ndarray
    epsilon: float  # the tolerance the accepted particles meet
    proposals: int
    runs: int
    seconds: float
    hits: int = 0  # proposals within the scheduled epsilon (the quantile of the previous distances)
    relaxed: bool = False  # the proposal cap was reached; epsilon raised to accept the closest particles
    stop: bool = False  # no progress after relaxing: the calibration ends here
    values: np.ndarray | None = None  # (particles, targets): target values, mean over the replicates

    def frame(self, names: Sequence[str], targets: Sequence[str] = ()) -> pd.DataFrame:
        df = pd.DataFrame(self.theta, columns=list(names))
        df["weight"] = self.weights
        df["distance"] = self.distances
        df["generation"] = self.t
        if self.values is not None and targets:
            df[[f"value:{t}" for t in targets]] = self.values
        return df

    def meta(self) -> dict:
        return {k: getattr(self, k) for k in ("t", "epsilon", "proposals", "hits", "runs", "seconds", "relaxed", "stop")}

    @property
    def acceptance(self) -> float:
        return len(self.weights) / max(self.proposals, 1)


@dataclass
class CalibrationResult:
    names: tuple[str, ...]
    generations: list[Generation]
    summary: pd.DataFrame
    best: dict[str, float]
    check: pd.DataFrame | None = None
    out: Path | None = None
    runs: int = 0
    failures: list[str] = field(default_factory=list)
    target_names: tuple[str, ...] = ()
    session_runs: int = 0  # runs made by this call (a resumed calibration reuses saved generations)

    @property
    def final(self) -> Generation:
        return self.generations[-1]

    @property
    def posterior(self) -> pd.DataFrame:
        """The final population: parameter values, weight, distance, generation and each target's
        value (``value:<target>``, mean over the particle's replicates)."""
        return self.final.frame(self.names, self.target_names)

    def median(self) -> dict[str, float]:
        return dict(zip(self.summary["parameter"], self.summary["median"], strict=True))

    def mean(self) -> dict[str, float]:
        return dict(zip(self.summary["parameter"], self.summary["mean"], strict=True))

    def interval(self, q: tuple[float, float] = (0.05, 0.95)) -> dict[str, tuple[float, float]]:
        g = self.final
        return {n: tuple(float(v) for v in weighted_quantile(g.theta[:, i], g.weights, q)) for i, n in enumerate(self.names)}


def summarise(gen: Generation, prior: Prior) -> tuple[pd.DataFrame, dict[str, float]]:
    """Weighted mean, median and 5 %/95 % quantiles per parameter; the best (closest) particle."""
    best_i = int(np.argmin(gen.distances))
    rows = []
    for i, name in enumerate(prior.names):
        x = gen.theta[:, i]
        q05, q50, q95 = weighted_quantile(x, gen.weights, [0.05, 0.5, 0.95])
        rows.append({
            "parameter": name, "prior": prior.describe()[i].split(" on ")[0],
            "prior_low": prior.low[i], "prior_high": prior.high[i],
            "default": PARAMS[name].default if name in PARAMS else math.nan,
            "mean": float(np.sum(x * gen.weights)), "median": q50, "q05": q05, "q95": q95,
            "best": x[best_i], "interval_over_prior": (q95 - q05) / (prior.high[i] - prior.low[i]),
        })
    return pd.DataFrame(rows), {n: float(gen.theta[best_i, i]) for i, n in enumerate(prior.names)}


def _config(prior, targets, scenario, particles, replicates, scale, end, seed, quantile, min_acceptance, kernel,
            simulator) -> dict:
    cfg = {
        "params": {n: [lo, hi, bool(lg)] for n, lo, hi, lg in zip(prior.names, prior.low.tolist(), prior.high.tolist(),
                                                                prior.log, strict=True)},
        "targets": [t.to_dict() for t in targets],
        "particles": particles, "replicates": replicates, "seed": seed, "quantile": quantile,
        "min_acceptance": min_acceptance, "kernel": kernel,
    }
    if simulator is None:
        cfg.update(scale=scale, end=end, scenario=scenario.to_dict() if scenario.levers == () else repr(scenario))
    else:
        cfg["simulator"] = getattr(simulator, "__qualname__", type(simulator).__qualname__)
    return json.loads(json.dumps(cfg))


def _save_generation(folder: Path, gen: Generation, names: Sequence[str], targets: Sequence[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"gen_{gen.t:03d}"
    Path(f"{stem}.json").write_text(json.dumps(gen.meta(), indent=1))
    tmp = Path(f"{stem}.parquet.tmp")
    gen.frame(names, targets).to_parquet(tmp, index=False)
    os.replace(tmp, f"{stem}.parquet")  # the parquet file marks the generation complete


def _load_generations(folder: Path, names: Sequence[str], targets: Sequence[str]) -> list[Generation]:
    gens = []
    while True:
        stem = folder / f"gen_{len(gens):03d}"
        if not (Path(f"{stem}.parquet").is_file() and Path(f"{stem}.json").is_file()):
            return gens
        df = pd.read_parquet(f"{stem}.parquet")
        meta = json.loads(Path(f"{stem}.json").read_text())
        # C order, as computed: BLAS may round differently on a column-major copy
        gens.append(Generation(theta=np.ascontiguousarray(df[list(names)].to_numpy(dtype=float)),
                               weights=np.ascontiguousarray(df["weight"].to_numpy(dtype=float)),
                               distances=np.ascontiguousarray(df["distance"].to_numpy(dtype=float)),
                               values=df[[f"value:{t}" for t in targets]].to_numpy(dtype=float), **meta))


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="run", dynamic_ncols=True, leave=True)


def _generation(t: int, prev: Generation | None, prior: Prior, engine: _Engine, targets, make_task, *,
                particles: int, replicates: int, seed: int, quantile: float, min_acceptance: float,
                kernel: str, progress: bool) -> Generation:
    start = time.perf_counter()
    if prev is None:
        eps, kernel, rate = math.inf, None, 1.0  # generation 0: the prior, every finite distance accepted
    else:
        eps = float(np.quantile(prev.distances, quantile))
        kernel = Kernel(prev, eps, prior, seed, kind=kernel)
        rate = max(quantile * 0.8, min_acceptance) if t == 1 else max(prev.hits / prev.proposals, min_acceptance)
    cap = max(particles, math.ceil(particles / min_acceptance)) if prev is not None else 100 * particles
    thetas, dists, means = [], [], []
    accepted = 0
    runs = 0
    bar = _progress(0, f"generation {t} (eps {eps:.3g})", progress)
    try:
        while accepted < particles and len(thetas) < cap:
            need = particles - accepted
            size = min(cap - len(thetas), max(math.ceil((1 if prev is None else 1.15) * need / rate), max(8, particles // 10)))
            base = len(thetas)
            batch = []
            for k in range(base, base + size):
                rng = _rng(seed, _PROPOSAL, t, k)
                batch.append(prior.sample(rng) if kernel is None else kernel.propose(rng))
            tasks = [make_task(k * replicates + r, dict(zip(prior.names, map(float, batch[k - base]), strict=True)),
                               derive_seed(seed, _RUN, t, k, r), r)
                     for k in range(base, base + size) for r in range(replicates)]
            values = {}
            if bar is not None:
                bar.total += len(tasks)
                bar.refresh()
            for key, vec in engine.run(tasks, targets):
                values[key] = vec
                if bar is not None:
                    bar.update(1)
            runs += len(tasks)
            for k in range(base, base + size):
                reps = [values[k * replicates + r] for r in range(replicates)]
                failed = any(v is None for v in reps)
                d = math.inf if failed else distance(np.stack(reps), targets)
                thetas.append(batch[k - base])
                dists.append(d)
                means.append(np.full(len(targets), np.nan) if failed else np.mean(reps, axis=0))
                accepted += bool(np.isfinite(d) and d <= eps)
            rate = max(accepted / len(thetas), min_acceptance * 0.5)
            if bar is not None:
                bar.set_postfix(accepted=f"{min(accepted, particles)}/{particles}")
    finally:
        if bar is not None:
            bar.close()
    theta, d = np.array(thetas), np.array(dists)
    # keep the closest `particles` proposals: their largest distance is the generation's epsilon,
    # below the scheduled one when the last batch brought more than enough (no run is wasted),
    # above it when the proposal cap was reached first (relaxed)
    relaxed = accepted < particles
    order = np.lexsort((np.arange(len(d)), d))[:particles]
    if not np.isfinite(d[order]).any():
        raise RuntimeError(f"generation {t}: every run failed; first error:\n"
                           f"{engine.failures[0] if engine.failures else '?'}")
    keep = np.sort(order[np.isfinite(d[order])])
    eps = float(d[keep].max())
    weights = np.full(len(keep), 1 / len(keep)) if kernel is None else kernel.weights_for(theta[keep])
    stop = relaxed and prev is not None and eps >= (1 - MIN_PROGRESS) * prev.epsilon
    return Generation(t, theta[keep], weights, d[keep], eps, len(thetas), runs, time.perf_counter() - start,
                      hits=accepted, relaxed=relaxed, stop=stop, values=np.array(means)[keep])


def calibrate(out: str | Path | None = "outputs/calibration", *, scenario: Scenario | None = None,
              params: Sequence[str] | None = None, targets: Sequence[CalibrationTarget] | None = None,
              particles: int = DEFAULTS["particles"], generations: int = DEFAULTS["generations"],
              replicates: int = DEFAULTS["replicates"], scale: float = DEFAULTS["scale"], end: str = DEFAULTS["end"],
              seed: int | None = None, backend: str | Executor = "processes", workers: int | None = None,
              quantile: float = DEFAULTS["quantile"], min_acceptance: float = DEFAULTS["min_acceptance"],
              check_draws: int = DEFAULTS["check_draws"], check_scale: float = DEFAULTS["check_scale"],
              prior: str = DEFAULTS["prior"], kernel: str = "olcm", simulator: Simulator | None = None,
              bounds: Mapping[str, tuple[float, float]] | None = None,
              progress: bool = True, log: Callable[[str], None] | None = print) -> CalibrationResult:
    """ABC-SMC calibration of ``params`` (default ``DEFAULT_PARAMS``) to ``targets``
    (default ``default_targets()``), with a posterior predictive check.

    ``prior``: "log" (default: log-uniform for parameters whose bounds span a factor of 10 or more,
    uniform for the others) or "uniform" (uniform on every declared range). ``kernel``: "olcm"
    (default) or "global" (see ``Kernel``). Each generation proposes particles until
    ``particles`` are within the scheduled epsilon (the ``quantile`` of the previous distances) or
    ``particles / min_acceptance`` were proposed, then keeps the closest ``particles``.

    Model runs use ``scenario`` (default: the baseline) with the horizon cut at ``end`` and the
    population at ``scale``; the predictive check runs ``check_draws`` posterior draws at
    ``check_scale`` (0 skips it). ``simulator(params, seed) -> {outcome: value}`` replaces the model
    (tests, toy problems; ``bounds`` then gives its parameters' prior bounds). With ``out`` every
    generation is saved there and a calibration found there is resumed; the outputs are written
    there at the end (see ``write_outputs``). The result depends on ``seed`` (default: the
    scenario's) and the settings, never on the backend or the number of workers.
    """
    say = log or (lambda _msg: None)
    scenario = scenario or Scenario()
    seed = scenario.seed if seed is None else int(seed)
    targets = default_targets() if targets is None else tuple(targets)
    target_names = tuple(t.name for t in targets)
    prior = Prior.of(tuple(params or DEFAULT_PARAMS), bounds, kind=prior)
    if particles < 2 or generations < 1 or replicates < 1 or not 0 < quantile < 1 or not 0 < min_acceptance <= 1:
        raise ValueError("calibrate: expected particles >= 2, generations >= 1, replicates >= 1, "
                         "0 < quantile < 1 and 0 < min_acceptance <= 1")
    run_scenario = scenario.replace(end=end).with_params(scale=scale) if simulator is None else None

    def make_task(key, values, run_seed, replicate, sc=run_scenario):
        return _Task(key, values, run_seed, sc, replicate)

    cfg = _config(prior, targets, scenario, particles, replicates, scale, end, seed, quantile, min_acceptance, kernel,
                  simulator)
    gens: list[Generation] = []
    folder = None
    if out is not None:
        out = Path(out)
        folder = out / "generations"
        cfg_path = out / "calibration.json"
        if cfg_path.is_file():
            old = json.loads(cfg_path.read_text())
            diff = sorted(k for k in set(old) | set(cfg) if old.get(k) != cfg.get(k))
            if diff:
                raise ValueError(f"{out} holds a different calibration (differs in: {', '.join(diff)}); "
                                 "use another --out or remove the folder")
            gens = _load_generations(folder, prior.names, target_names)[:generations]
            if gens:
                say(f"resuming {out}: {len(gens)} complete generation(s) found")
        else:
            out.mkdir(parents=True, exist_ok=True)
            cfg_path.write_text(json.dumps(cfg, indent=1))
    engine = _Engine(simulator, backend, workers)
    with engine.open():
        resumed = len(gens)
        while len(gens) < generations and not (gens and gens[-1].stop):
            t = len(gens)
            gen = _generation(t, gens[-1] if gens else None, prior, engine, targets, make_task, particles=particles,
                              replicates=replicates, seed=seed, quantile=quantile, min_acceptance=min_acceptance,
                              kernel=kernel, progress=progress)
            gens.append(gen)
            if folder is not None:
                _save_generation(folder, gen, prior.names, target_names)
            note = " (proposal cap reached: epsilon relaxed" + ("; no progress, stopping)" if gen.stop else ")")
            say(f"generation {t}: epsilon {gen.epsilon:.4g}, accepted {len(gen.weights)} of {gen.proposals} "
                f"proposals ({gen.acceptance:.0%}), {gen.runs} runs in {gen.seconds:.0f} s"
                + (note if gen.relaxed else ""))
        summary, best = summarise(gens[-1], prior)
        result = CalibrationResult(prior.names, gens, summary, best, out=out, runs=sum(g.runs for g in gens),
                                   target_names=target_names, session_runs=sum(g.runs for g in gens[resumed:]))
        if check_draws:
            check_sc = scenario.replace(end=end).with_params(scale=check_scale) if simulator is None else None
            say(f"posterior predictive check: {check_draws} draws" + (f" at scale {check_scale:g}" if check_sc else ""))
            result.check = predictive_check(result, engine, targets, seed, check_draws,
                                            lambda *a: make_task(*a, sc=check_sc), progress)
            result.runs += check_draws
            result.session_runs += check_draws
    result.failures = engine.failures
    if out is not None:
        write_outputs(result, prior, scenario, targets, out)
    return result


def predictive_check(result: CalibrationResult, engine: _Engine, targets: Sequence[CalibrationTarget], seed: int,
                     draws: int, make_task, progress: bool = False) -> pd.DataFrame:
    """Run ``draws`` particles resampled from the posterior (new seeds) and compare each target's
    spread with its figure: median, 90 % interval, whether the figure lies in the interval, whether
    the median is within tolerance, and the share of draws within tolerance."""
    g = result.final
    idx = _rng(seed, _CHECK).choice(len(g.weights), size=draws, p=g.weights)
    tasks = [make_task(i, dict(zip(result.names, map(float, g.theta[j]), strict=True)), derive_seed(seed, _CHECK_RUN, i), 0)
             for i, j in enumerate(idx)]
    bar = _progress(len(tasks), "predictive check", progress)
    values = {}
    for key, vec in engine.run(tasks, targets):
        values[key] = vec
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    ok = [values[i] for i in range(draws) if values[i] is not None]
    mat = np.array(ok).reshape(len(ok), len(targets))
    rows = []
    for i, t in enumerate(targets):
        v = mat[:, i][np.isfinite(mat[:, i])]
        lo_b, hi_b = t.bounds()
        p05, p50, p95 = np.quantile(v, [0.05, 0.5, 0.95]) if v.size else (math.nan,) * 3
        rows.append({
            "target": t.name, "figure": t.figure if t.kind in ("relative", "points", "at_least") else math.nan,
            "tolerance": t.describe(), "low": lo_b, "high": hi_b, "median": p50, "p05": p05, "p95": p95,
            "figure_in_interval": bool(p05 <= hi_b and p95 >= lo_b) if t.kind in ("at_least", "between")
            else bool(p05 <= t.figure <= p95),
            "median_within_tolerance": t.within(p50),
            "share_within_tolerance": float(np.mean([t.within(x) for x in v])) if v.size else math.nan,
            "draws": int(v.size),
        })
    return pd.DataFrame(rows)


def format_check(check: pd.DataFrame) -> str:
    def num(x):
        if not np.isfinite(x):
            return "-"
        if abs(x) >= 1e7:
            return f"{x:.3g}"
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"

    lines = [f"{'target':34} {'figure (tolerance)':>26} {'median':>12} {'90 % interval':>26}  in 90%  in tol  share"]
    for r in check.itertuples():
        lines.append(f"{r.target:34} {r.tolerance:>26} {num(r.median):>12} {num(r.p05) + ' to ' + num(r.p95):>26}  "
                     f"{'yes' if r.figure_in_interval else 'NO':>6}  {'yes' if r.median_within_tolerance else 'NO':>6}"
                     f"  {r.share_within_tolerance:5.0%}")
    return "\n".join(lines)


def plot_check(check: pd.DataFrame, targets: Sequence[CalibrationTarget]):
    """Each target's 90 % predictive interval and median against its figure, in units of its
    tolerance (0 = the figure or the centre of a range; the band is the tolerance)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_name = {t.name: t for t in targets}
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(check) + 1.4))
    for y, r in enumerate(check.itertuples()):
        t = by_name[r.target]
        if t.kind == "at_least":
            centre, width, band = t.figure, t.width(), (0, 6)
        else:
            lo, hi = t.bounds()
            centre, width, band = (lo + hi) / 2, (hi - lo) / 2, (-1, 1)

        def norm(x, centre=centre, width=width):
            return float(np.clip((x - centre) / width, -6, 6))

        ax.fill_betweenx([y - 0.4, y + 0.4], *band, color="0.88", lw=0)
        ax.plot([norm(r.p05), norm(r.p95)], [y, y], color="C0" if r.figure_in_interval else "C3", lw=3)
        ax.plot(norm(r.median), y, "o", color="k", ms=4)
    ax.axvline(0, color="0.4", lw=0.8, ls="--")
    ax.set_yticks(range(len(check)), check["target"])
    ax.invert_yaxis()
    ax.set_xlim(-6.2, 6.2)
    ax.set_xlabel("(model - figure) / tolerance   (grey: within tolerance; clipped at ±6)")
    ax.set_title("Posterior predictive check\n90 % interval (blue: covers the figure, red: misses it) and median",
                 fontsize=10)
    fig.tight_layout()
    return fig


def calibrated_scenario(scenario: Scenario, values: Mapping[str, float], digits: int = 6) -> Scenario:
    """The scenario with the calibrated values (rounded to ``digits`` significant digits)."""
    rounded = {k: float(f"{v:.{digits}g}") for k, v in values.items()}
    return scenario.with_params(**rounded).replace(
        name="calibrated", description=f"{scenario.name} with the posterior median of an ABC-SMC calibration")


def write_outputs(result: CalibrationResult, prior: Prior, scenario: Scenario, targets, out: Path) -> None:
    """posterior.parquet/.csv (final generation), particles.parquet (all), summary.csv,
    calibrated.toml, predictive_check.csv/.png."""
    out = Path(out)
    post = result.posterior
    post.to_parquet(out / "posterior.parquet", index=False)
    post.to_csv(out / "posterior.csv", index=False)
    pd.concat([g.frame(prior.names, result.target_names) for g in result.generations]).to_parquet(
        out / "particles.parquet", index=False)
    pd.DataFrame([g.meta() | {"acceptance": g.acceptance} for g in result.generations]).to_csv(
        out / "generations.csv", index=False)
    result.summary.to_csv(out / "summary.csv", index=False)
    if all(n in PARAMS for n in prior.names):
        path = out / "calibrated.toml"
        save(calibrated_scenario(scenario, result.median()), path)
        head = ["# Calibrated parameters: posterior median of thbsim's ABC-SMC (docs/calibration.md).",
                f"# {len(result.generations)} generation(s), {len(post)} particles, final epsilon "
                f"{result.final.epsilon:.4g}, {result.runs} runs.",
                "# 90 % posterior intervals:"]
        head += [f"#   {n}: {lo:.4g} to {hi:.4g}" for n, (lo, hi) in result.interval().items()]
        head.append('# Use it from another scenario: [scenario] extends = "calibrated.toml" (a path relative to that file).')
        path.write_text("\n".join(head) + "\n" + path.read_text())
    if result.check is not None:
        result.check.to_csv(out / "predictive_check.csv", index=False)
        fig = plot_check(result.check, targets)
        fig.savefig(out / "predictive_check.png", dpi=120)
        import matplotlib.pyplot as plt

        plt.close(fig)


# ----------------------------------------------------------------------------------------------
# command line


def add_parser(subparsers) -> None:
    d = DEFAULTS
    p = subparsers.add_parser("calibrate", help="ABC-SMC calibration to the report's targets: posterior, "
                              "calibrated.toml and a posterior predictive check")
    p.add_argument("--out", default="outputs/calibration", help="output folder; a calibration there is resumed")
    p.add_argument("--scenario", help="scenario TOML to calibrate (default: the built-in baseline)")
    p.add_argument("--params", help=f"comma-separated uncertain parameters (default: {','.join(DEFAULT_PARAMS)})")
    p.add_argument("--particles", type=int, default=d["particles"], help=f"particles per generation ({d['particles']})")
    p.add_argument("--generations", type=int, default=d["generations"], help=f"generations ({d['generations']})")
    p.add_argument("--replicates", type=int, default=d["replicates"], help=f"runs per particle ({d['replicates']})")
    p.add_argument("--scale", type=float, default=d["scale"], help=f"population scale of calibration runs ({d['scale']})")
    p.add_argument("--end", default=d["end"], help=f"last month of calibration runs ({d['end']})")
    p.add_argument("--check-draws", type=int, default=d["check_draws"],
                   help=f"posterior draws in the predictive check, 0 to skip ({d['check_draws']})")
    p.add_argument("--check-scale", type=float, default=d["check_scale"],
                   help=f"population scale of the predictive check ({d['check_scale']})")
    p.add_argument("--prior", choices=("uniform", "log"), default=d["prior"],
                   help="uniform on the declared bounds, or log-uniform for parameters whose bounds span a factor "
                   f"of {LOG_SPAN:g} or more ({d['prior']})")
    p.add_argument("--backend", default="processes", help="serial, processes, dask or dask://host:port (processes)")
    p.add_argument("--workers", type=int, help="worker processes (default: all cores); results do not depend on it")
    p.add_argument("--seed", type=int, help="root seed (default: the scenario's)")
    p.add_argument("--targets", help="TOML file of extra targets ([[target]] tables; see docs/calibration.md)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or log lines")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args) -> int:
    from thbsim.scenario import ScenarioError, load

    try:
        scenario = load(args.scenario) if args.scenario else Scenario()
        targets = load_targets(args.targets) if args.targets else default_targets()
        params = [p.strip() for p in args.params.split(",") if p.strip()] if args.params else None
        log = None if args.quiet else print
        if log:
            n = len(params or DEFAULT_PARAMS)
            print(f"thbsim calibrate: {n} parameter(s), {len(targets)} targets, {args.particles} particles x "
                  f"{args.replicates} replicate(s), up to {args.generations} generations at scale {args.scale:g} "
                  f"to {args.end}; backend {args.backend}; results in {args.out}/", flush=True)
        t0 = time.perf_counter()
        res = calibrate(args.out, scenario=scenario, params=params, targets=targets, particles=args.particles,
                        generations=args.generations, replicates=args.replicates, scale=args.scale, end=args.end,
                        seed=args.seed, backend=args.backend, workers=args.workers, check_draws=args.check_draws,
                        check_scale=args.check_scale, prior=args.prior, progress=not args.quiet, log=log)
    except (ScenarioError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: the complete generations are saved in {args.out}/generations; "
              "run the same command to resume", file=sys.stderr)
        return 130
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print("\nPosterior (weighted; best = the closest particle of the final generation):")
        print(res.summary[["parameter", "prior", "prior_low", "prior_high", "mean", "median", "q05", "q95", "best"]]
              .to_string(index=False))
    if res.check is not None:
        print(f"\nPosterior predictive check ({len(res.check)} targets, draws at scale {args.check_scale:g}):")
        print(format_check(res.check))
        n_in = int(res.check["figure_in_interval"].sum())
        print(f"{n_in} of {len(res.check)} figures inside the 90 % predictive interval; "
              f"{int(res.check['median_within_tolerance'].sum())} medians within tolerance.")
    session = "" if res.session_runs == res.runs else f" ({res.session_runs} in this session)"
    print(f"\n{res.runs} runs{session}, {time.perf_counter() - t0:.0f} s; {len(res.failures)} failed. Wrote {args.out}/"
          "posterior.parquet, posterior.csv, particles.parquet, summary.csv, generations.csv, calibrated.toml"
          + (", predictive_check.csv, predictive_check.png" if res.check is not None else ""))
    return 0
