"""Sensitivity analysis: SALib indices recover known values on analytic functions; on the model they have the
right shape, are finite, reproducible from the seed on any backend, and zero where a parameter cannot matter."""

import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("SALib")

from thbsim.cli import main  # noqa: E402
from thbsim.params import PARAMS  # noqa: E402
from thbsim.scenario import Scenario  # noqa: E402
from thbsim.sensitivity import (  # noqa: E402
    DEFAULT_PARAMS,
    Indicator,
    ModelEvaluator,
    morris,
    parse_indicators,
    parse_params,
    require_salib,
    sobol,
)

# short runs: no warm-up, 2015-2018 (the runner computes calibration targets over 2015-2018)
SMALL = Scenario(name="small", start="2015-01", end="2018-12", output_from="2015-01")
SCALE = 0.02
PARAMS3 = ["demand.exploited_share_sex", "referral.rate_sexual", "cost.share_quality_of_life"]
OUTCOMES = ["registered_victims:2017-2018", "social_cost_eur:2016"]


def ishigami(X, a=7.0, b=0.1):
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def test_sobol_recovers_ishigami_indices():
    pi = np.pi
    res = sobol(["x1", "x2", "x3"], ["y"], n=2048, evaluate=ishigami, bounds=dict.fromkeys(("x1", "x2", "x3"), (-pi, pi)),
                seed=3)
    w = res.wide("y").set_index("parameter")
    # analytic values for a = 7, b = 0.1
    s1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
    st = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}
    for p in s1:
        assert w.loc[p, "S1"] == pytest.approx(s1[p], abs=0.05), p
        assert w.loc[p, "ST"] == pytest.approx(st[p], abs=0.05), p
        assert 0 < w.loc[p, "ST_conf"] < 0.1
    assert list(res.top("y")["parameter"]) == ["x1", "x2", "x3"]


def test_sobol_and_morris_on_a_linear_function():
    coef = np.array([3.0, 2.0, 1.0, 0.0])

    def linear(X):
        return X @ coef

    names = ["a", "b", "c", "d"]
    bounds = dict.fromkeys(names, (0.0, 1.0))
    s = sobol(names, ["y"], n=1024, evaluate=linear, bounds=bounds, seed=1).wide().set_index("parameter")
    expected = coef**2 / (coef**2).sum()  # uniform inputs of equal variance: S1 = ST = a_i^2 / sum a_j^2
    np.testing.assert_allclose(s["S1"], expected, atol=0.03)
    np.testing.assert_allclose(s["ST"], expected, atol=0.03)
    m = morris(names, ["y"], n=20, evaluate=linear, bounds=bounds, seed=1).wide().set_index("parameter")
    np.testing.assert_allclose(m["mu_star"], coef, atol=1e-9)  # elementary effects of a linear function are exact
    np.testing.assert_allclose(m["sigma"], 0.0, atol=1e-9)


def _check_indices(res, index_names):
    t = res.indices
    assert set(t["indicator"]) == set(OUTCOMES) and set(t["parameter"]) == set(PARAMS3)
    assert len(t) == len(OUTCOMES) * len(PARAMS3) * len(index_names)
    assert set(t["index"]) == set(index_names)
    assert np.isfinite(t["value"]).all()
    assert res.Y.shape == (len(res.X), 2) and np.isfinite(res.Y).all() and (res.Y >= 0).all() and (res.Y > 0).any()


def test_sobol_on_the_model_is_reproducible_on_any_backend():
    kw = {"n": 4, "scenario": SMALL, "scale": SCALE, "seed": 11}
    a = sobol(PARAMS3, OUTCOMES, **kw)
    _check_indices(a, ["S1", "ST"])
    assert a.settings["runs"] == 4 * (3 + 2)
    assert np.isfinite(a.indices["conf"]).all()
    # the cost shares cannot change how many victims are registered: exactly zero total index
    st = a.indices.set_index(["indicator", "parameter", "index"])["value"]
    assert st["registered_victims:2017-2018", "cost.share_quality_of_life", "ST"] == 0.0
    assert st["social_cost_eur:2016", "cost.share_quality_of_life", "ST"] > 0.0
    b = sobol(PARAMS3, OUTCOMES, backend="processes", workers=2, **kw)
    pd.testing.assert_frame_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.Y, b.Y)
    c = sobol(PARAMS3, OUTCOMES, **{**kw, "seed": 12})
    assert not np.array_equal(a.X, c.X)


def test_morris_on_the_model(tmp_path):
    res = morris(PARAMS3, OUTCOMES, n=2, scenario=SMALL, scale=SCALE, seed=5)
    _check_indices(res, ["mu_star", "sigma", "mu"])
    mu = res.indices.set_index(["indicator", "parameter", "index"])["value"]
    assert mu["registered_victims:2017-2018", "cost.share_quality_of_life", "mu_star"] == 0.0
    assert mu["social_cost_eur:2016", "cost.share_quality_of_life", "mu_star"] > 0.0
    assert mu["registered_victims:2017-2018", "demand.exploited_share_sex", "mu_star"] > 0.0
    paths = res.save(tmp_path)
    saved = pd.read_csv(paths["indices"])
    assert list(saved.columns) == ["indicator", "parameter", "index", "value", "conf"] and len(saved) == len(res.indices)
    assert paths["figure"].stat().st_size > 10_000
    assert len(pd.read_csv(paths["samples"])) == len(res.X) == 2 * (3 + 1)


def test_replicates_share_seeds_and_are_averaged():
    ev = ModelEvaluator(PARAMS3[:2], OUTCOMES, SMALL, scale=SCALE, replicates=2, seed=4)
    X = np.array([[0.1, 0.01], [0.3, 0.02]])
    specs = ev.specs(X)
    assert [s.seed for s in specs if s.sample == 0] == [s.seed for s in specs if s.sample == 1] == ev.seeds
    assert len(set(ev.seeds)) == 2
    Y = ev(X)
    assert ev.runs.shape == (2, 2, 2)
    np.testing.assert_array_equal(Y, ev.runs.mean(axis=1))
    assert not np.array_equal(ev.runs[:, 0], ev.runs[:, 1])  # the two seeds give different runs


def test_failed_runs_are_reported():
    ev = ModelEvaluator(PARAMS3[:2], OUTCOMES, SMALL, scale=SCALE)
    with pytest.raises(RuntimeError, match=r"(?s)1 of 1 runs failed.*outside its range"):
        ev(np.array([[5.0, 0.01]]))  # demand.exploited_share_sex above its upper bound


def test_indicators_and_parameters_are_parsed_and_checked():
    out = pd.DataFrame({"outcome": ["registered_victims"] * 3 + ["true_victims"] * 3 + ["target:share_sexual"],
                        "year": [2016, 2017, 2018, 2016, 2017, 2018, 0], "value": [1, 2, 4, 10, 20, 60, 0.6]})
    reg, true, tgt = parse_indicators("registered_victims:2017-2018, true_victims:2016-2018,target:share_sexual")
    assert (reg.of(out), true.of(out), tgt.of(out)) == (6.0, 30.0, 0.6)  # flows summed, stocks averaged
    assert Indicator.parse("social_cost_eur:2016") == Indicator("social_cost_eur", 2016, 2016)
    assert reg.ident == "registered_victims_2017_2018"
    for bad, msg in (("registered_victims", "give a year"), ("victims:2017", "unknown outcome"),
                     ("convictions:2018-2017", "ends before"), ("target:nope", "unknown target")):
        with pytest.raises(ValueError, match=msg):
            Indicator.parse(bad)
    with pytest.raises(ValueError, match="outside the outcome years"):
        ModelEvaluator(PARAMS3, ["convictions:2013"], SMALL)
    assert parse_params(None) == list(DEFAULT_PARAMS)
    assert all(PARAMS[p].uncertain for p in DEFAULT_PARAMS)
    assert "scale" not in parse_params("all") and len(parse_params("all")) > 50
    with pytest.raises(ValueError, match="did you mean referral.rate_sexual"):
        parse_params("referral.rate_sexal,demand.exploited_share_sex")
    with pytest.raises(ValueError, match="not uncertain"):
        parse_params("scale,demand.exploited_share_sex")


def test_horizon_is_cut_to_the_indicators():
    ev = ModelEvaluator(PARAMS3, ["social_cost_eur:2016"], scale=0.5)
    assert ev.scenario.end == "2018-12" and ev.scenario.params["scale"] == 0.5  # never before the targets' 2018
    assert ModelEvaluator(PARAMS3, ["convictions:2024"]).scenario.end == "2024-12"
    assert ModelEvaluator(PARAMS3, ["convictions:2024"], end="2030-12").scenario.end == "2030-12"


def test_missing_salib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "SALib", None)
    with pytest.raises(ImportError, match=r"pip install 'thbsim\[sensitivity\]'"):
        require_salib()
    with pytest.raises(ImportError, match=r"thbsim\[sensitivity\]"):
        sobol(PARAMS3, evaluate=lambda X: X[:, 0], bounds=None)


def test_cli_sensitivity(tmp_path, capsys):
    scen = tmp_path / "small.toml"
    scen.write_text('[scenario]\nname = "small"\nstart = "2015-01"\nend = "2018-12"\noutput_from = "2015-01"\n')
    out = tmp_path / "sa"
    rc = main(["sensitivity", "--method", "morris", "--n", "2", "--params", ",".join(PARAMS3), "--scale", str(SCALE),
               "--scenario", str(scen), "--seed", "3", "--out", str(out), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Top parameters by mu*" in printed and "registered_victims:2017-2018" in printed
    for name in ("morris_indices.csv", "morris_samples.csv", "morris.png", "morris_settings.json"):
        assert (out / name).stat().st_size > 0, name
    assert main(["sensitivity", "--params", "nope,scale", "--quiet"]) == 2
    assert "unknown parameter 'nope'" in capsys.readouterr().err
