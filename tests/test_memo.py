"""LastResult: computed again exactly when an input changes, so remembered results equal fresh ones."""

from __future__ import annotations

import numpy as np

from thbsim.memo import LastResult
from thbsim.model import TraffickingModel
from thbsim.scenario import Scenario


def test_computes_again_only_when_an_input_changes():
    a, b = np.arange(5.0), np.zeros(3, bool)
    calls = []
    memo = LastResult(lambda: calls.append(1) or a.sum() + b.sum())
    assert memo((a, b)) == 10.0 and memo((a, b)) == 10.0 and len(calls) == 1
    a[2] = 7.0  # changed in place, as levers change policy arrays
    assert memo((a, b)) == 15.0 and len(calls) == 2
    b[0] = True
    assert memo((a, b)) == 16.0 and len(calls) == 3
    assert memo((a, b)) == 16.0 and len(calls) == 3


def test_remembered_tables_equal_fresh_ones_after_a_lever_like_change():
    m = TraffickingModel(Scenario().with_params(scale=0.02), seed=3)
    enf, demand = m.enforcement, m.demand
    first = enf.detection_tables()
    assert enf.detection_tables() is first  # nothing changed: the same arrays
    enf.extra_hits[4, 1] = 0.05  # a lever adds targeted inspections in one member state and sector
    enf.recognition[4] *= 1.5
    tables = enf.detection_tables()
    assert tables is not first
    for remembered, fresh in zip(tables, enf._compute_detection_tables(), strict=True):
        np.testing.assert_array_equal(remembered, fresh)
    assert not np.array_equal(tables[0], first[0])
    risk = enf.yearly_inspection_risk()
    np.testing.assert_array_equal(risk, 1 - (1 - enf.inspection_hits()) ** 12)
    demand.inspection_risk = risk
    demand.offence[:3] = True
    demand.user_detection_per_year[:] = 0.2
    np.testing.assert_array_equal(demand.employer_deterrence(), demand._employer_deterrence())
    np.testing.assert_array_equal(demand.victim_demand_target(), demand._victim_demand_target())
    target = demand.victim_demand_target()
    assert (target[demand.offence] < 1).all() and (target[~demand.offence] == 1).all() and (~demand.offence).any()
    detection = demand.monthly_user_detection()
    np.testing.assert_array_equal(detection, demand._monthly_user_detection())
    assert (detection[demand.offence] > 0).all() and (detection[~demand.offence] == 0).all()
    demand.user_detection_per_year[:] = 0.4  # a lever doubles users' detection: remembered value computed again
    assert (demand.monthly_user_detection()[demand.offence] > detection[demand.offence]).all()


def test_kept_table_of_opened_investigations_equals_a_fresh_one():
    """Enforcement keeps its table of 1 - (1 - p)^n and lengthens it when a month has more cases: the groups it
    investigates are those a table made for the month gives, and its numbers are a fresh table's."""
    m = TraffickingModel(Scenario().with_params(scale=0.02), seed=3)
    enf, g = m.enforcement, m.groups
    u = g.used
    rng = np.random.default_rng(5)
    p = m.p["police.investigate_on_identification"]
    for most in (2, 3, 40, 5):  # a month with many cases in one group lengthens the table
        cases = rng.integers(0, most + 1, u)
        raided = rng.random(u) < 0.05
        state = enf.rng_justice.bit_generator.state
        kept = enf.open_investigations(g, cases, raided)
        enf.rng_justice.bit_generator.state = state
        fresh = m.kernels.open_investigations(enf._justice_kernels, cases, 1 - (1 - p) ** np.arange(cases.max() + 1),
                                              raided, g.alive[:u])
        np.testing.assert_array_equal(kept, fresh)
        assert enf._p_open_by_count.size > cases.max()
        np.testing.assert_array_equal(enf._p_open_by_count, 1 - (1 - p) ** np.arange(enf._p_open_by_count.size))
    assert enf._p_open_by_count.size >= 41 and kept.any()
