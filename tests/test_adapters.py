"""thbsim under mesa.batch_run, EMA Workbench and SALib's ProblemSpec.evaluate."""

import numpy as np
import pytest
from mesa.batchrunner import batch_run

from thbsim.adapters import BatchModel, ema_model, ema_name, param_name, salib_function, salib_problem
from thbsim.model import TraffickingModel
from thbsim.runner import RunSpec, simulate
from thbsim.scenario import Scenario
from thbsim.sensitivity import Indicator

SMALL = Scenario(name="small", start="2015-01", end="2018-12", output_from="2015-01")
HORIZON = {"start": "2015-01", "end": "2018-12", "output_from": "2015-01"}
SCALE = 0.02
INV = "police.investigations_per_million"
OUTCOMES = ["registered_victims:2017-2018", "social_cost_eur:2016"]


def test_mesa_batch_run_runs_the_model_class():
    params = {INV: [0.05, 0.5], "seed": [1, 2], "scale": SCALE, **HORIZON}  # mesa 3.3: seeds among the parameters
    rows = batch_run(BatchModel, parameters=params, number_processes=1, data_collection_period=-1,
                     display_progress=False)
    assert len(rows) == 4
    by_key = {(r[INV], r["seed"]): r for r in rows}
    assert set(by_key) == {(0.05, 1), (0.05, 2), (0.5, 1), (0.5, 2)}
    outputs = ("registered_victims", "true_victims", "suspects", "social_cost_eur", "crime_groups")
    for r in rows:
        assert r["Step"] == 47 and r["month"] == "2018-12"  # the horizon's last month, then running is off
    for value in (0.05, 0.5):  # distinct outcomes per seed
        assert [by_key[value, 1][k] for k in outputs] != [by_key[value, 2][k] for k in outputs]
    # each row is the model run with those keyword arguments: recompute one directly
    direct = TraffickingModel(SMALL, seed=2, scale=SCALE, **{INV: 0.5})
    direct.run()
    assert by_key[0.5, 2]["true_victims"] == direct.recorder.data["victims_exploited"][-1].sum()
    assert by_key[0.5, 2]["registered_victims"] == direct.recorder.data["registered"][-1].sum()


def test_batch_model_collects_every_month():
    rows = batch_run(BatchModel, parameters={"seed": 3, "scale": SCALE, **HORIZON}, data_collection_period=1,
                     display_progress=False)
    assert [r["Step"] for r in rows] == list(range(48))
    assert rows[0]["month"] == "2015-01" and rows[-1]["month"] == "2018-12"
    model = BatchModel(SMALL, seed=3, scale=SCALE)
    model.run()
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 48 and not model.running
    assert df["registered_victims"].sum() == model.recorder.data["registered"].sum() > 0
    assert df["social_cost_eur"].tolist() == [r["social_cost_eur"] for r in rows]


def test_ema_workbench_adapter_runs_experiments():
    ema = pytest.importorskip("ema_workbench")
    low = SMALL.with_params(**{INV: 0.05})
    high = SMALL.with_params(**{INV: 2.0})
    model = ema_model(uncertainties=["demand.exploited_share_sex", "referral.rate_sexual"], outcomes=OUTCOMES,
                      scenarios={"low": low, "high": high}, scale=SCALE, seed=7)
    assert [u.name for u in model.uncertainties] == ["demand__exploited_share_sex", "referral__rate_sexual"]
    assert [o.name for o in model.outcomes] == ["registered_victims_2017_2018", "social_cost_eur_2016"]
    policies = [ema.Policy("low", thbsim_scenario="low"), ema.Policy("high", thbsim_scenario="high")]
    # three points of the uncertainty space, given (EMA's samplers draw from numpy's global generator, unseeded,
    # which made this test's outcome depend on the draw: at a low enough share, both scenarios can register as many)
    scenarios = [ema.Scenario(f"s{k}", demand__exploited_share_sex=share, referral__rate_sexual=rate)
                 for k, (share, rate) in enumerate(((0.15, 0.004), (0.3, 0.02), (0.5, 0.06)))]
    with ema.SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=scenarios, policies=policies)
    assert len(experiments) == 6
    y = outcomes["registered_victims_2017_2018"]
    assert y.shape == (6,) and np.isfinite(y).all() and (y >= 0).all()
    assert len(set(y)) > 3
    # every experiment recomputed directly: the same seed, parameters and scenario give the same outcome
    for i, row in experiments.iterrows():
        sc = {"low": low, "high": high}[row["thbsim_scenario"]].with_params(scale=SCALE)
        params = {param_name(n): float(row[n]) for n in ("demand__exploited_share_sex", "referral__rate_sexual")}
        out = simulate(RunSpec(0, sc, model.function.seeds[0], params))
        assert Indicator.parse(OUTCOMES[0]).of(out) == y[i]
    # the scenario lever reaches the model: the same uncertainties under the two scenarios differ
    wide = experiments.assign(y=y).pivot_table(index="scenario", columns="thbsim_scenario", values="y", observed=True)
    assert wide.shape == (3, 2) and (wide["high"] != wide["low"]).all()

def test_ema_parameter_levers_and_names():
    pytest.importorskip("ema_workbench")
    assert param_name(ema_name("police.investigations_per_million")) == "police.investigations_per_million"
    model = ema_model(uncertainties="all", levers={INV: (0.05, 1.0)}, scenario=SMALL, scale=SCALE)
    names = {u.name for u in model.uncertainties}
    assert ema_name(INV) not in names and "scale" not in names and len(names) > 50
    assert [(lv.name, lv.lower_bound, lv.upper_bound) for lv in model.levers] == [(ema_name(INV), 0.05, 1.0)]
    with pytest.raises(ValueError, match="not inside its bounds"):
        ema_model(levers={INV: (0.0, 1.0)})
    with pytest.raises(ValueError, match="both uncertain and levers"):
        ema_model(uncertainties=[INV, "referral.rate_sexual"], levers=[INV])


def test_salib_problemspec_evaluates_thbsim():
    salib = pytest.importorskip("SALib")
    params = ["demand.exploited_share_sex", "referral.rate_sexual"]
    sp = salib.ProblemSpec(salib_problem(params, OUTCOMES))
    assert sp["outputs"] == OUTCOMES and sp["bounds"][0] == [0.02, 0.6]
    f = salib_function(params, OUTCOMES, scenario=SMALL, scale=SCALE, seed=2)
    sp.sample_sobol(4, calc_second_order=False, seed=2).evaluate(f).analyze_sobol(calc_second_order=False, seed=2)
    assert sp.results.shape == (4 * (2 + 2), 2) and np.isfinite(sp.results).all()
    for out in OUTCOMES:
        assert np.isfinite(sp.analysis[out]["ST"]).all() and len(sp.analysis[out]["S1"]) == 2
    # a row of the results is the model run at that row's parameters with the evaluator's seed
    x = sp.samples[5]
    run = simulate(RunSpec(0, SMALL.with_params(scale=SCALE), f.seeds[0], dict(zip(params, map(float, x), strict=True))))
    assert [Indicator.parse(o).of(run) for o in OUTCOMES] == list(sp.results[5])
