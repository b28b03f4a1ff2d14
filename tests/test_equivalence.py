"""thbsim.equivalence: the same distribution is not called different, a different one is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thbsim.equivalence import compare, holm, summary, verdict
from thbsim.rng import replicate_seeds
from thbsim.runner import RunSpec, simulate
from thbsim.scenario import Scenario


def _table(values: np.ndarray, seeds: list[int]) -> pd.DataFrame:
    """Runs x outcomes of values as a long table like runner.simulate's (outcome names o0, o1, ...; year 2020)."""
    runs, outcomes = values.shape
    return pd.DataFrame({"seed": np.repeat(seeds, outcomes), "outcome": [f"o{j}" for _ in range(runs) for j in range(outcomes)],
                         "year": 2020, "value": values.ravel()})


def test_holm_steps_down():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # sorted 0.005 <= 0.05/5, 0.01 <= 0.05/4, 0.03 > 0.05/3: stops there
    np.testing.assert_array_equal(holm(p, 0.05), [True, False, False, True, False])
    assert not holm(np.array([0.02, 0.03]), 0.01).any()


def test_the_same_runs_are_identical():
    rng = np.random.default_rng(1)
    t = _table(rng.normal(size=(30, 5)), list(range(30)))
    table = verdict(compare(t, t.copy()))
    assert table["identical"].all() and not table["different"].any()
    assert "same run for run" in summary(table)


def test_same_distribution_other_draws_is_not_different():
    rng = np.random.default_rng(2)
    a, b = _table(rng.normal(size=(50, 40)), list(range(50))), _table(rng.normal(size=(50, 40)), list(range(50)))
    table = verdict(compare(a, b))
    assert len(table) == 40 and not table["identical"].any()
    assert not table["different"].any()


def test_a_shifted_outcome_is_different():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(50, 10)), rng.normal(size=(50, 10))
    y[:, 4] += 1.0  # one standard deviation
    table = verdict(compare(_table(x, list(range(50))), _table(y, list(range(50)))))
    assert table.loc[table["different"], "outcome"].tolist() == ["o4"]


def test_constant_outcomes_and_missing_values():
    seeds = list(range(10))
    a = _table(np.column_stack([np.full(10, 3.0), np.full(10, 3.0), np.r_[np.nan, np.arange(9.0)]]), seeds)
    b = _table(np.column_stack([np.full(10, 3.0), np.full(10, 4.0), np.r_[np.arange(9.0), np.nan]]), seeds)
    table = verdict(compare(a, b)).set_index("outcome")
    assert not table.loc["o0", "different"] and table.loc["o1", "different"]
    assert table.loc["o2", "runs_this"] == 9 and not table.loc["o2", "different"]


@pytest.fixture(scope="module")
def model_runs():
    sc = Scenario().with_params(scale=0.05)
    more_police = sc.with_params(**{"police.investigations_per_million": 2 * sc.params["police.investigations_per_million"]})

    def runs(scenario, seeds):
        return pd.concat([simulate(RunSpec(run_id=i, scenario=scenario, seed=s)) for i, s in enumerate(seeds)])

    return runs(sc, replicate_seeds(1, 12)), runs(sc, replicate_seeds(2, 12)), runs(more_police, replicate_seeds(2, 12))


def test_the_model_with_other_seeds_is_not_different(model_runs):
    a, b, _ = model_runs
    table = verdict(compare(a, b))
    assert len(table) > 200 and not table["identical"].any()
    assert not table["different"].any()


def test_the_model_with_twice_the_police_is_different(model_runs):
    a, _, more_police = model_runs
    table = verdict(compare(a, more_police))
    different = set(table.loc[table["different"], "outcome"])
    assert {"registered_victims", "social_cost_eur", "target:registered_victims_2017_2018"} <= different
