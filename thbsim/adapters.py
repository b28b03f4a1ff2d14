"""thbsim under the tools researchers already use: ``mesa.batch_run``, EMA Workbench and SALib.

**mesa.batch_run** runs a model class from keyword arguments and reads its ``datacollector``.
``BatchModel`` is ``TraffickingModel`` with a Mesa ``DataCollector`` (EU totals each month),
``running`` switched off at the end of the horizon, and keyword arguments for the horizon
(``start``, ``end``, ``output_from``) and a scenario file. Every model parameter is a keyword
argument under its dotted name::

    from mesa.batchrunner import batch_run
    from thbsim.adapters import BatchModel

    if __name__ == "__main__":          # mesa 3.3 forces the spawn start method
        rows = batch_run(BatchModel, parameters={
            "police.investigations_per_million": [0.05, 0.1],   # dotted names are fine as **kwargs
            "seed": [1, 2],              # mesa 3.3: seeds go among the parameters
            "scale": 0.05, "end": "2018-12"}, number_processes=1, data_collection_period=1)

Mesa 3.3 passes seeds as a parameter (``"seed": [...]``); from Mesa 3.5 ``batch_run`` takes
``rng=[...]`` and hands each to the model as ``rng=`` (an integer), which ``TraffickingModel``
also accepts. Without a seed every run uses the scenario's seed, so ``iterations > 1`` repeats
the same run: give seeds instead.

**EMA Workbench** (2.5 on Python 3.11; 3.x needs 3.12): ``ema_model`` returns an
``ema_workbench.Model`` with uncertainties (``RealParameter`` over the declared bounds), levers
(parameters under policy control, and/or a ``CategoricalParameter`` of scenario files) and a
``ScalarOutcome`` per indicator.

**SALib**: ``salib_problem`` and ``salib_function`` let ``ProblemSpec(...).sample_sobol(...)
.evaluate(func)`` run thbsim (through ``thbsim.runner.execute``, on any backend).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thbsim.model import TraffickingModel
from thbsim.params import PARAMETERS, PARAMS
from thbsim.scenario import Scenario
from thbsim.sensitivity import DEFAULT_OUTCOMES, DEFAULT_PARAMS, Indicator, ModelEvaluator, fit_horizon, parse_indicators


# ---------------------------------------------------------------------------- mesa.batch_run
def _month_total(model: TraffickingModel, indicator: str) -> float:
    """EU total of a recorded indicator in the month just simulated."""
    return float(model.recorder.data[indicator][model.t - 1].sum())


def _month_label(model: TraffickingModel) -> str:
    return str(model.months[model.t - 1])


MODEL_REPORTERS = {
    "month": functools.partial(_month_label),
    "registered_victims": functools.partial(_month_total, indicator="registered"),
    "true_victims": functools.partial(_month_total, indicator="victims_exploited"),
    "recruited": functools.partial(_month_total, indicator="recruited"),
    "suspects": functools.partial(_month_total, indicator="suspects"),
    "prosecutions": functools.partial(_month_total, indicator="prosecutions"),
    "convictions": functools.partial(_month_total, indicator="convictions"),
    "crime_groups": functools.partial(_month_total, indicator="groups_active"),
    "social_cost_eur": functools.partial(_month_total, indicator="social_cost"),
}
"""Collected after every month: registered victims, new recruits, suspects, prosecutions, convictions and
social cost are that month's flows; true victims (exploited) and crime groups are stocks at its end."""


def _as_scenario(scenario: Scenario | str | Path | None) -> Scenario:
    from thbsim.scenario import load

    if scenario is None:
        return Scenario()
    return scenario if isinstance(scenario, Scenario) else load(scenario)


class BatchModel(TraffickingModel):
    """``TraffickingModel`` for ``mesa.batch_run``: a ``datacollector`` filled each month and ``running``
    switched off at the end of the horizon.

    ``scenario`` may be a ``Scenario`` or a TOML path; ``start``/``end``/``output_from`` change its horizon;
    ``seed`` (Mesa 3.3) or ``rng`` (an integer, Mesa 3.5) the seed; any other keyword is a parameter
    override under its dotted name. Rows of ``batch_run`` have ``Step`` = the month's index (0 = the
    scenario's start month, also given in the ``month`` column).
    """

    def __init__(self, scenario: Scenario | str | Path | None = None, *, seed: int | None = None, rng: Any = None,
                 start: str | None = None, end: str | None = None, output_from: str | None = None,
                 **param_overrides: float) -> None:
        scenario = _as_scenario(scenario)
        horizon = {k: v for k, v in (("start", start), ("end", end), ("output_from", output_from)) if v is not None}
        if horizon:
            scenario = scenario.replace(**horizon)
        super().__init__(scenario, seed=seed, rng=rng, **{k: float(v) for k, v in param_overrides.items()})
        import mesa

        self.datacollector = mesa.DataCollector(model_reporters=dict(MODEL_REPORTERS))

    def step(self) -> None:
        super().step()
        self.datacollector.collect(self)
        if self.t >= len(self.months):
            self.running = False


# ---------------------------------------------------------------------------- EMA Workbench
def ema_name(param: str) -> str:
    """A parameter's name as a Python identifier (EMA Workbench 3 requires them): dots become ``__``."""
    return param.replace(".", "__")


def param_name(ema: str) -> str:
    return ema.replace("__", ".")


SCENARIO_LEVER = "thbsim_scenario"
"""Name of the EMA lever that picks a scenario (EMA's own ``scenario`` column names the experiment's point)."""


class EMAFunction:
    """The function an ``ema_workbench.Model`` calls: keyword arguments (EMA names of parameters, and
    ``thbsim_scenario``) in, a dict of indicator values (each the mean over the replicate seeds) out.
    A top-level class, so EMA's multiprocessing evaluator can pickle it."""

    def __init__(self, base: Scenario, scenarios: Mapping[str, Scenario], indicators: Sequence[Indicator],
                 seeds: Sequence[int]) -> None:
        self.base, self.scenarios = base, dict(scenarios)
        self.indicators, self.seeds = list(indicators), [int(s) for s in seeds]

    def __call__(self, **kwargs: Any) -> dict[str, float]:
        from thbsim.runner import RunSpec, simulate

        name = kwargs.pop(SCENARIO_LEVER, None)
        scenario = self.scenarios[name] if name is not None else self.base
        params = {param_name(k): float(v) for k, v in kwargs.items()}
        values = np.zeros(len(self.indicators))
        for r, seed in enumerate(self.seeds):
            out = simulate(RunSpec(run_id=r, scenario=scenario, seed=seed, params=params, replicate=r))
            values += [ind.of(out) for ind in self.indicators]
        values /= len(self.seeds)
        return {ind.ident: float(v) for ind, v in zip(self.indicators, values, strict=True)}


def _ranges(spec: Iterable[str] | Mapping[str, tuple[float, float]] | None, default: Iterable[str]) -> dict:
    if spec is None:
        spec = list(default)
    if isinstance(spec, str):
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    items = spec.items() if isinstance(spec, Mapping) else ((name, None) for name in spec)
    out = {}
    for name, rng in items:
        if name not in PARAMS:
            raise ValueError(f"unknown parameter {name!r}")
        p = PARAMS[name]
        low, high = rng if rng is not None else (p.low, p.high)
        if not p.low <= low < high <= p.high:
            raise ValueError(f"parameter {name!r}: range {low}-{high} not inside its bounds [{p.low:g}, {p.high:g}]")
        out[name] = (float(low), float(high))
    return out


def ema_model(name: str = "thbsim", uncertainties: Iterable[str] | Mapping[str, tuple[float, float]] | str | None = None,
              outcomes: str | Iterable[str] = DEFAULT_OUTCOMES, *,
              levers: Iterable[str] | Mapping[str, tuple[float, float]] | str = (),
              scenarios: Mapping[str, Scenario | str | Path] | Sequence[Scenario | str | Path] | None = None,
              scenario: Scenario | str | Path | None = None, scale: float | None = None, end: str | None = None,
              replicates: int = 1, seed: int | None = None):
    """An ``ema_workbench.Model`` running thbsim.

    - ``uncertainties``: parameter names (``RealParameter`` over their declared bounds) or a mapping
      name -> (low, high); default ``thbsim.sensitivity.DEFAULT_PARAMS``, ``"all"`` for every uncertain
      parameter that is not a lever.
    - ``levers``: parameters under policy control, as names or name -> (low, high) (``RealParameter`` levers).
    - ``scenarios``: scenario files or ``Scenario`` objects (a list, or a mapping name -> scenario); they become
      the lever ``thbsim_scenario``, a ``CategoricalParameter`` of their names (e.g. the policy packages of the
      levers issue, each a file that ``extends`` the baseline).
    - ``outcomes``: indicators as in ``thbsim.sensitivity`` (``registered_victims:2017-2018``); each a
      ``ScalarOutcome`` named by its identifier form (``registered_victims_2017_2018``).
    - ``scenario``/``scale``/``end``: the base scenario, its population scale and last month (default: the
      December of the last indicator year, as in ``thbsim.sensitivity``); applied to every scenario.
    - ``replicates``/``seed``: every experiment runs the same ``replicates`` seeds, spawned from ``seed``
      (common random numbers); outcomes are their means.

    Run it with ``perform_experiments(model, scenarios=N)`` (and ``policies=M`` for levers) under the
    ``SequentialEvaluator`` or ``MultiprocessingEvaluator`` (inside ``if __name__ == "__main__":``).
    """
    try:
        from ema_workbench import CategoricalParameter, Model, RealParameter, ScalarOutcome
    except ImportError as err:  # pragma: no cover - depends on the optional extra
        raise ImportError("the EMA Workbench adapter needs the optional extra: pip install 'thbsim[ema]'") from err
    from thbsim.rng import replicate_seeds

    indicators = parse_indicators(outcomes)
    base = fit_horizon(scenario, indicators, scale=scale, end=end)
    lever_ranges = _ranges(levers, ())
    if uncertainties == "all":
        uncertainties = [p.name for p in PARAMETERS if p.uncertain and p.name not in lever_ranges]
    unc_ranges = _ranges(uncertainties, [p for p in DEFAULT_PARAMS if p not in lever_ranges])
    both = sorted(set(unc_ranges) & set(lever_ranges))
    if both:
        raise ValueError(f"parameters both uncertain and levers: {', '.join(both)}")
    named: dict[str, Scenario] = {}
    if scenarios is not None:
        items = scenarios.items() if isinstance(scenarios, Mapping) else ((None, s) for s in scenarios)
        for key, sc in items:
            sc = _as_scenario(sc)
            sc = sc.replace(end=base.end).with_params(scale=base.params["scale"])
            named[key or sc.name] = sc
        if len(named) < 1:
            raise ValueError("scenarios: give at least one scenario")
    seeds = replicate_seeds(int(base.seed if seed is None else seed), int(replicates))
    model = Model(name, function=EMAFunction(base, named, indicators, seeds))
    model.uncertainties = [RealParameter(ema_name(k), lo, hi) for k, (lo, hi) in unc_ranges.items()]
    lever_params = [RealParameter(ema_name(k), lo, hi) for k, (lo, hi) in lever_ranges.items()]
    if named:
        lever_params.append(CategoricalParameter(SCENARIO_LEVER, list(named)))
    model.levers = lever_params
    model.outcomes = [ScalarOutcome(ind.ident) for ind in indicators]
    return model


# ---------------------------------------------------------------------------- SALib ProblemSpec
def salib_problem(params: str | Sequence[str] | None = None, outcomes: str | Iterable[str] = DEFAULT_OUTCOMES) -> dict:
    """The dict for ``SALib.ProblemSpec``: names, declared bounds and one output per indicator."""
    from thbsim.sensitivity import parse_params, problem

    spec = problem(parse_params(params))
    return {"names": spec["names"], "bounds": spec["bounds"], "outputs": [i.label for i in parse_indicators(outcomes)]}


def salib_function(params: str | Sequence[str] | None = None, outcomes: str | Iterable[str] = DEFAULT_OUTCOMES,
                   **kwargs: Any) -> ModelEvaluator:
    """A vectorised ``func(X) -> Y`` for ``ProblemSpec.evaluate``: X's columns are ``params`` (in the order of
    the problem's names), Y has a column per indicator (a vector for one). ``kwargs`` go to
    ``thbsim.sensitivity.ModelEvaluator``: scenario, scale, end, replicates, seed, backend, workers, progress.

    Parallelism comes from ``backend``/``workers`` (thbsim's runner), not from SALib's ``nprocs``::

        from SALib import ProblemSpec
        from thbsim.adapters import salib_function, salib_problem

        if __name__ == "__main__":
            sp = ProblemSpec(salib_problem())
            f = salib_function(scale=0.25, end="2019-12", backend="processes", workers=2, seed=1)
            sp.sample_sobol(64, calc_second_order=False, seed=1).evaluate(f).analyze_sobol(calc_second_order=False)
            print(sp)
    """
    from thbsim.sensitivity import parse_params

    return ModelEvaluator(parse_params(params), outcomes, **kwargs)
