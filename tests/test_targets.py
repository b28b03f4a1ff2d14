"""The baseline meets every calibration target, as the mean of 10 seeds at full scale."""

from pathlib import Path

import numpy as np
import pytest

from thbsim.results import run
from thbsim.scenario import load
from thbsim.targets import TARGETS, evaluate

BASELINE = Path(__file__).parent.parent / "scenarios" / "baseline.toml"


@pytest.fixture(scope="module")
def evaluation():
    scenario = load(BASELINE)
    results = run(scenario, replicates=10, workers=2)
    assert results.table["replicate"].nunique() == 10
    return evaluate(results.run_stats()).set_index("target")


@pytest.mark.parametrize("target", [t.name for t in TARGETS])
def test_target_within_tolerance(evaluation, target):
    row = evaluation.loc[target]
    assert row["ok"], f"{target}: model {row['model']} outside {row['figure']}"


def test_targets_are_computed_not_typed(evaluation):
    """A different model gives different target values: the values come from output."""
    scenario = load(BASELINE).with_params(**{"police.investigations_per_million": 0.15}).replace(
        end="2019-12", replicates=2)
    other = evaluate(run(scenario, replicates=2).run_stats()).set_index("target")
    assert other.loc["registered_victims_2017_2018", "model"] > 1.1 * evaluation.loc["registered_victims_2017_2018", "model"]
    assert not other.loc["registered_victims_2017_2018", "ok"]


def test_statistics_from_model_and_from_table_agree():
    """The targets give the same values whether computed from the recorder or the written table."""
    from thbsim.targets import RunStats, target_values

    scenario = load(BASELINE).replace(end="2019-12").with_params(scale=0.2)
    res = run(scenario, replicates=1)
    from_model = target_values(res.stats[0])
    from_table = target_values(RunStats.from_table(res.table))
    for name, value in from_model.items():
        assert np.allclose(value, from_table[name], rtol=1e-9), name
