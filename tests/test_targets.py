"""The baseline meets every calibration target, as the mean of 10 seeds at full scale."""

from pathlib import Path

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
    return evaluate(results.table).set_index("target")


@pytest.mark.parametrize("target", [t.name for t in TARGETS])
def test_target_within_tolerance(evaluation, target):
    row = evaluation.loc[target]
    assert row["ok"], f"{target}: model {row['model']} outside {row['figure']}"


def test_targets_are_computed_not_typed(evaluation):
    """A different model gives different target values: the values come from output."""
    scenario = load(BASELINE).with_params(**{"police.investigations_per_million": 0.15}).replace(
        end="2019-12", replicates=2)
    other = evaluate(run(scenario, replicates=2).table).set_index("target")
    assert other.loc["registered_victims_2017_2018", "model"] > 1.1 * evaluation.loc["registered_victims_2017_2018", "model"]
    assert not other.loc["registered_victims_2017_2018", "ok"]
