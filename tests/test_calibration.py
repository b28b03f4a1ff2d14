"""Calibration: the distance, the ABC-SMC sampler (toy problems and the model), reproducibility on
every backend, resuming, the outputs (calibrated.toml loads as a scenario) and parameter recovery."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from thbsim import calibration as cal
from thbsim.calibration import CalibrationTarget, calibrate, default_targets, distance, load_targets
from thbsim.params import PARAMS
from thbsim.scenario import Scenario, load, loads
from thbsim.targets import TARGETS

# ----------------------------------------------------------------------------------------------
# a cheap toy problem with a known answer: y1 = a + b, y2 = a - b, y3 = a b (plus noise)

TRUTH = {"a": 3.0, "b": 7.0}
BOUNDS = {"a": (0.0, 10.0), "b": (0.0, 10.0)}
TOY_TARGETS = (
    CalibrationTarget("y1", 10.0, "points", 0.5, "y1"),
    CalibrationTarget("y2", -4.0, "points", 0.5, "y2"),
    CalibrationTarget("y3", 21.0, "relative", 0.1, "y3"),
)


def toy(params, seed):
    rng = np.random.default_rng(seed)
    a, b = params["a"], params["b"]
    return {"y1": a + b + rng.normal(0, 0.2), "y2": a - b + rng.normal(0, 0.2), "y3": a * b + rng.normal(0, 0.5)}


class Interrupted(BaseException):
    """Stands for a kill: not an Exception, so it is not recorded as a failed run."""


class InterruptedToy:
    """The toy, interrupted after ``after`` calls (in the main process: serial backend)."""

    __qualname__ = "toy"  # the calibration's identity is the simulator's name: resume with `toy`

    def __init__(self, after: int) -> None:
        self.after, self.calls = after, 0

    def __call__(self, params, seed):
        self.calls += 1
        if self.calls > self.after:
            raise Interrupted
        return toy(params, seed)


class CountingToy(InterruptedToy):
    __qualname__ = "toy"

    def __init__(self) -> None:
        super().__init__(after=10**9)


def toy_calibration(out=None, **kw):
    settings = dict(params=["a", "b"], bounds=BOUNDS, targets=TOY_TARGETS, simulator=toy, particles=150, generations=6,
                    replicates=2, seed=11, backend="serial", check_draws=40, progress=False, log=None, prior="uniform")
    settings.update(kw)
    return calibrate(out, **settings)


# ----------------------------------------------------------------------------------------------
# distance


def _exact_values(targets):
    """Values that meet every target exactly (the figure; inside ranges)."""
    out = []
    for t in targets:
        if t.kind in ("relative", "points"):
            out.append(t.figure)
        elif t.kind == "at_least":
            out.append(t.figure + 0.01)
        else:
            out.append(sum(t.tolerance) / 2)
    return np.array(out)


def test_distance_is_zero_when_every_target_is_met_and_grows_with_deviation():
    targets = default_targets()
    exact = _exact_values(targets)
    assert distance(exact, targets) == 0.0
    assert distance(np.stack([exact, exact, exact]), targets) == 0.0
    n = len(targets)
    i = [t.name for t in targets].index("registered_victims_2017_2018")
    j = [t.name for t in targets].index("share_sexual")
    previous = 0.0
    for k in (0.5, 1, 2, 4, 8):
        v = exact.copy()
        v[i] *= 1 + k * 0.10  # k tolerances above the figure
        d = distance(v, targets)
        assert d == pytest.approx(math.sqrt(k ** 2 / n))
        assert d > previous
        previous = d
        w = exact.copy()
        w[j] -= k * 0.05  # k tolerances (5 points) below
        assert distance(w, targets) == pytest.approx(math.sqrt(k ** 2 / n))
    # two targets off by 3 tolerances each, and averaging over replicates
    v = exact.copy()
    v[i], v[j] = exact[i] * 1.3, exact[j] + 0.15
    assert distance(v, targets) == pytest.approx(math.sqrt(18 / n))
    assert distance(np.stack([v, exact]), targets) == pytest.approx(math.sqrt(18 / n) / 2)
    # a missing value (a failed run) rejects the particle
    v[0] = np.nan
    assert distance(v, targets) == math.inf


def test_range_targets_are_zero_inside_and_scaled_by_their_width_outside():
    between = CalibrationTarget("r", 0.0, "between", (0.11, 0.30), "target:registered_share")
    assert between.deviation(0.11) == between.deviation(0.2) == between.deviation(0.30) == 0
    assert between.deviation(0.30 + 0.095) == pytest.approx(1)  # one half-width above the range
    assert between.deviation(0.11 - 0.19) == pytest.approx(-2)
    at_least = CalibrationTarget("f", 0.9, "at_least", None, "target:female_among_sexual")
    assert at_least.deviation(0.99) == 0 and at_least.deviation(0.9) == 0
    assert at_least.deviation(0.85) == pytest.approx(-1)  # 5 points short
    assert CalibrationTarget("g", 0.9, "at_least", 0.02, "x").deviation(0.86) == pytest.approx(-2)
    with pytest.raises(ValueError, match="positive number"):
        CalibrationTarget("bad", 1.0, "points", None, "x")
    with pytest.raises(ValueError, match="set targets"):
        CalibrationTarget("bad", 1.0, "set", None, "x")


def test_default_targets_skip_sets_and_scale_counts_only():
    targets = default_targets()
    names = {t.name for t in targets}
    assert names == {t.name for t in TARGETS if t.kind != "set"}
    by = {t.name: t for t in targets}
    assert by["registered_victims_2017_2018"].scales and by["suspects_2017_2018"].scales
    assert by["social_cost_2016_eur"].scales
    assert not by["share_sexual"].scales and not by["registered_share"].scales
    lookup = {("target:registered_victims_2017_2018", 0): 3500.0, ("target:share_sexual", 0): 0.6}
    assert by["registered_victims_2017_2018"].value(lookup, scale=0.25) == 14000.0
    assert by["share_sexual"].value(lookup, scale=0.25) == 0.6


def test_default_parameters_are_uncertain_and_informed_by_the_targets():
    informed = {p for t in TARGETS for p in t.informs}
    for name in cal.DEFAULT_PARAMS:
        assert PARAMS[name].uncertain, name
        assert name in informed, name
    with pytest.raises(ValueError, match="not uncertain"):
        cal.Prior.of(["scale"])
    with pytest.raises(ValueError, match="unknown parameter"):
        cal.Prior.of(["police.no_such_thing"])


def test_log_prior_is_log_uniform_on_wide_bounds_only():
    prior = cal.Prior.of(["police.investigations_per_million", "police.suspects_per_member", "money.cost_share"], kind="log")
    assert prior.log.tolist() == [True, True, False]  # 0.05-5 and 0.05-1 span 10x or more, 0.1-0.8 does not
    assert not cal.Prior.of(["police.investigations_per_million"], kind="uniform").log.any()
    rng = np.random.default_rng(0)
    x = np.array([prior.sample(rng) for _ in range(4000)])
    assert np.all((x >= prior.low) & (x <= prior.high))
    # log-uniform on [0.05, 5]: the median is the geometric mean 0.5, not the midpoint 2.525
    assert np.median(x[:, 0]) == pytest.approx(0.5, rel=0.15)
    assert np.median(x[:, 2]) == pytest.approx(0.45, abs=0.03)


def test_user_targets_from_a_file(tmp_path):
    f = tmp_path / "targets.toml"
    f.write_text('exclude = ["user_suspects_2017_2018"]\n'
                 '[[target]]\nname = "registered_2019"\noutcome = "registered_victims"\nyears = [2019, 2019]\n'
                 'figure = 7000\nkind = "relative"\ntolerance = 0.15\n'
                 '[[target]]\nname = "share_sexual"\noutcome = "target:share_sexual"\nfigure = 0.62\n'
                 'kind = "points"\ntolerance = 0.03\n')
    targets = load_targets(f)
    by = {t.name: t for t in targets}
    assert "user_suspects_2017_2018" not in by
    assert by["share_sexual"].figure == 0.62 and by["share_sexual"].tolerance == 0.03
    assert by["registered_2019"].scales and by["registered_2019"].years == (2019, 2019)
    assert len(targets) == len(default_targets())  # one dropped, one added, one replaced
    lookup = {("registered_victims", 2018): 99.0, ("registered_victims", 2019): 1750.0}
    assert by["registered_2019"].value(lookup, scale=0.25) == 7000.0
    bad = tmp_path / "bad.toml"
    bad.write_text('[[target]]\nname = "x"\noutcome = "no_such_outcome"\nfigure = 1\nkind = "points"\ntolerance = 1\n'
                   '[[target]]\nname = "y"\noutcome = "suspects"\nfigure = 1\nkind = "relative"\ntolerance = 0.1\n')
    with pytest.raises(ValueError) as err:
        load_targets(bad)
    assert "2 problem(s)" in str(err.value) and "no_such_outcome" in str(err.value) and "years" in str(err.value)


# ----------------------------------------------------------------------------------------------
# the sampler on a toy problem


def test_abc_smc_recovers_known_parameters_of_a_toy_problem():
    res = toy_calibration(generations=8)
    lo, hi = res.interval()["a"], res.interval()["b"]
    assert lo[0] <= TRUTH["a"] <= lo[1] and hi[0] <= TRUTH["b"] <= hi[1]
    assert res.mean()["a"] == pytest.approx(3.0, abs=0.3) and res.mean()["b"] == pytest.approx(7.0, abs=0.3)
    for n in ("a", "b"):
        assert res.interval()[n][1] - res.interval()[n][0] < 0.15 * 10
    eps = [g.epsilon for g in res.generations]
    assert all(b < a for a, b in zip(eps, eps[1:], strict=False))  # the tolerance shrinks
    assert np.isclose(res.final.weights.sum(), 1) and np.all(res.final.weights > 0)
    assert res.best == pytest.approx(TRUTH, abs=0.5)
    # predictive check: every figure inside the 90 % interval of the calibrated toy
    assert res.check["figure_in_interval"].all() and (res.check["draws"] == 40).all()


def test_same_seed_same_posterior_serial_and_process_pool_other_seed_differs():
    serial = toy_calibration(generations=3, particles=60)
    pool = toy_calibration(generations=3, particles=60, backend="processes", workers=2)
    pd.testing.assert_frame_equal(serial.posterior, pool.posterior, check_exact=True)
    pd.testing.assert_frame_equal(serial.check, pool.check, check_exact=True)
    other = toy_calibration(generations=3, particles=60, seed=12)
    assert not np.array_equal(other.final.theta, serial.final.theta)


def test_same_posterior_on_a_dask_local_cluster():
    pytest.importorskip("distributed")
    serial = toy_calibration(generations=2, particles=40)
    dask = toy_calibration(generations=2, particles=40, backend="dask", workers=2)
    pd.testing.assert_frame_equal(serial.posterior, dask.posterior, check_exact=True)
    pd.testing.assert_frame_equal(serial.check, dask.check, check_exact=True)


def test_model_calibration_is_identical_on_serial_and_two_worker_processes():
    short = Scenario().replace(start="2012-01")  # a shorter warm-up keeps the test quick
    kw = dict(params=["police.investigations_per_million", "demand.exploited_share_sex"], scenario=short, particles=6,
              generations=2, replicates=1, scale=0.02, seed=3, min_acceptance=0.5, check_draws=2, check_scale=0.02,
              progress=False, log=None)
    serial = calibrate(None, backend="serial", **kw)
    pool = calibrate(None, backend="processes", workers=2, **kw)
    pd.testing.assert_frame_equal(serial.posterior, pool.posterior, check_exact=True)
    pd.testing.assert_frame_equal(serial.check, pool.check, check_exact=True)
    assert len(serial.generations) == 2 and serial.failures == []


def test_interrupted_calibration_resumes_and_gives_the_same_posterior(tmp_path):
    full = toy_calibration(tmp_path / "full", generations=4, particles=80)
    out = tmp_path / "resumed"
    first = InterruptedToy(after=600)  # generation 0 takes 160 calls; generation 2 is cut short
    with pytest.raises(Interrupted):
        toy_calibration(out, generations=4, particles=80, simulator=first)
    done = sorted(p.name for p in (out / "generations").glob("*.parquet"))
    assert done and len(done) < 4 and not (out / "posterior.parquet").exists()
    again = CountingToy()
    resumed = toy_calibration(out, generations=4, particles=80, simulator=again)
    pd.testing.assert_frame_equal(full.posterior, resumed.posterior, check_exact=True)
    pd.testing.assert_frame_equal(full.check, resumed.check, check_exact=True)
    assert again.calls < full.runs  # the finished generations were not run again
    assert again.calls == sum(g.runs for g in resumed.generations[len(done):]) + 40 == resumed.session_runs
    # a different calibration in the same folder is refused
    with pytest.raises(ValueError, match="different calibration"):
        toy_calibration(out, generations=4, particles=81)


def test_outputs_and_calibrated_toml_load_as_a_scenario(tmp_path):
    names = ["police.investigations_per_million", "demand.exploited_share_sex"]
    bounds = {n: (PARAMS[n].low, PARAMS[n].high) for n in names}
    res = toy_calibration(tmp_path, params=names, bounds=bounds, generations=2, particles=40,
                          simulator=_RenamedToy(), check_draws=10)
    for f in ("posterior.parquet", "posterior.csv", "particles.parquet", "summary.csv", "generations.csv",
              "calibrated.toml", "predictive_check.csv", "predictive_check.png"):
        assert (tmp_path / f).is_file(), f
    post = pd.read_parquet(tmp_path / "posterior.parquet")
    assert list(post.columns) == [*names, "weight", "distance", "generation", "value:y1", "value:y2", "value:y3"]
    assert len(post) == 40
    assert post["weight"].sum() == pytest.approx(1)
    assert set(pd.read_parquet(tmp_path / "particles.parquet")["generation"]) == {0, 1}
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert {"mean", "median", "q05", "q95", "best"} <= set(summary.columns)
    assert (summary["q05"] <= summary["median"]).all() and (summary["median"] <= summary["q95"]).all()
    scenario = load(tmp_path / "calibrated.toml")
    assert scenario.name == "calibrated" and scenario.end == Scenario().end  # the base horizon, not the calibration's
    for n in names:
        assert scenario.params[n] == pytest.approx(res.median()[n], rel=1e-5)
    assert scenario.params["scale"] == 1.0
    (tmp_path / "policy.toml").write_text('[scenario]\nname = "policy"\nextends = "calibrated.toml"\n')
    child = load(tmp_path / "policy.toml")
    assert child.name == "policy" and child.params[names[0]] == scenario.params[names[0]]


class _RenamedToy:
    """The toy on two real parameter names (so calibrated.toml holds real parameters)."""

    __qualname__ = "renamed_toy"

    def __call__(self, params, seed):
        a = params["police.investigations_per_million"] * 2
        b = params["demand.exploited_share_sex"] * 20
        return toy({"a": a, "b": b}, seed)


def test_cli_calibrate_writes_outputs_and_prints_the_predictive_check(tmp_path, capsys):
    from thbsim.cli import main

    out = tmp_path / "cal"
    code = main(["calibrate", "--out", str(out), "--params", "police.investigations_per_million,demand.exploited_share_sex",
                 "--particles", "6", "--generations", "1", "--replicates", "1", "--scale", "0.02", "--check-draws", "3",
                 "--check-scale", "0.02", "--backend", "serial", "--seed", "5", "--quiet"])
    text = capsys.readouterr().out
    assert code == 0
    assert "Posterior predictive check" in text and "registered_victims_2017_2018" in text
    assert re.search(rf"\d+ of {len(default_targets())} figures inside the 90 % predictive interval", text)
    check = pd.read_csv(out / "predictive_check.csv")
    assert len(check) == len(default_targets()) and (check["draws"] == 3).all()
    scenario = load(out / "calibrated.toml")
    assert scenario.params["police.investigations_per_million"] != PARAMS["police.investigations_per_million"].default
    assert main(["calibrate", "--out", str(out), "--params", "scale", "--quiet"]) == 2


# ----------------------------------------------------------------------------------------------
# parameter recovery on the real model


RECOVERY_TRUTH = {"police.investigations_per_million": 0.3, "demand.exploited_share_sex": 0.3}


def synthetic_targets(truth, scale=0.1, end="2019-12", replicates=4, seed=99):
    """The relative and points targets with figures made by the model at ``truth`` (mean of a few runs)."""
    from thbsim.runner import RunSpec, execute

    targets = [t for t in default_targets() if t.kind in ("relative", "points")]
    sc = Scenario().replace(end=end).with_params(scale=scale)
    specs = [RunSpec(r, sc, cal.derive_seed(seed, r), params=truth) for r in range(replicates)]
    values = [cal.target_vector(cal.lookup_from_outcomes(res.outcomes), targets, scale)
              for res in execute(specs, backend="processes", workers=2)]
    mean = np.mean(values, axis=0)
    return tuple(CalibrationTarget(t.name, float(m), t.kind, t.tolerance, t.outcome, scales=t.scales,
                                   source="synthetic") for t, m in zip(targets, mean, strict=True))


@pytest.mark.slow
def test_parameter_recovery_on_the_model(tmp_path):
    targets = synthetic_targets(RECOVERY_TRUTH)
    res = calibrate(tmp_path, params=list(RECOVERY_TRUTH), targets=targets, particles=60, generations=5, replicates=1,
                    scale=0.1, seed=7, backend="processes", workers=2, check_draws=20, check_scale=0.1, progress=False,
                    log=print)
    print(res.summary.to_string())
    for name, truth in RECOVERY_TRUTH.items():
        lo, hi = res.interval()[name]
        assert lo <= truth <= hi, (name, lo, truth, hi)
        assert hi - lo < 0.5 * (PARAMS[name].high - PARAMS[name].low), (name, lo, hi)
    assert loads((tmp_path / "calibrated.toml").read_text()).params["demand.exploited_share_sex"] == pytest.approx(
        res.median()["demand.exploited_share_sex"], rel=1e-5)
