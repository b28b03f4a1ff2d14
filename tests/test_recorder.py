"""The tidy results table: its label columns and calendar columns, built from codes, say what pandas would."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thbsim.model import TraffickingModel
from thbsim.recorder import COLUMNS, _categorical
from thbsim.scenario import Scenario


@pytest.mark.parametrize("used", [[0, 2, 5], [1, 4], [0, 1, 2, 3, 4, 5], [3]])
def test_categorical_keeps_the_used_categories_in_order(used):
    categories = ["all", "b", "c", "d", "e", "f"]
    rng = np.random.default_rng(len(used))
    codes = np.asarray(used, np.int16)[rng.integers(0, len(used), 500)]
    codes[: len(used)] = used  # every category of ``used`` occurs
    expected = pd.Categorical.from_codes(codes, categories).remove_unused_categories()
    got = _categorical(codes, categories)
    assert list(got.categories) == [categories[i] for i in used]
    assert got.categories.equals(expected.categories)
    np.testing.assert_array_equal(got.codes, expected.codes)
    assert got.codes.dtype == expected.codes.dtype


@pytest.fixture(scope="module")
def model() -> TraffickingModel:
    scenario = Scenario().with_params(scale=0.03).replace(start="2010-11", end="2012-02", output_from="2011-01")
    m = TraffickingModel(scenario, seed=5)
    m.run()
    return m


def test_table_calendar_and_labels(model):
    table = model.results_table()
    first = model.month_index(model.scenario.output_from)
    assert table["t"].min() == first and table["t"].max() == len(model.months) - 1
    period = model.months[table["t"].to_numpy()]
    np.testing.assert_array_equal(table["year"].to_numpy(), period.year)  # across a new year, both ways
    np.testing.assert_array_equal(table["month"].to_numpy(), period.month)
    assert table["year"].dtype == np.int16 and table["month"].dtype == np.int8
    for col in ("indicator", *COLUMNS):
        categories = list(table[col].cat.categories)
        assert categories == sorted(categories)
        assert set(categories) == set(table[col].astype(str))  # only the labels that occur


def test_table_values_are_the_recorded_arrays(model):
    table = model.results_table()
    rec = model.recorder.data
    first = model.month_index(model.scenario.output_from)
    for name in ("identified", "victims_exploited", "group_profit", "registered"):
        rows = table[table["indicator"] == name]
        assert rows["value"].sum() == pytest.approx(float(rec[name][first:].sum(dtype=np.float64)), rel=1e-12)
    # one cell, found by its labels: the value recorded at that month and member state
    row = table[(table["indicator"] == "suspects")].iloc[-1]
    ms = list(model.geo.member_states).index(row["member_state"])
    assert row["value"] == rec["suspects"][row["t"], ms]


def test_replicates_table_keeps_label_columns_categorical():
    """Replicates whose tables have different labels (a citizenship registered in one and not another) still
    give one categorical per label column, with every label that occurs, sorted."""
    from thbsim.results import run, run_one

    scenario = Scenario().with_params(scale=0.02).replace(start="2012-01", end="2013-12", output_from="2013-01")
    res = run(scenario, replicates=3, seed=8)
    singles = [run_one(scenario, seed, i) for i, seed in enumerate(res.meta["seeds"])]
    assert len({frozenset(t["citizenship"].cat.categories) for t in singles}) > 1  # the case this is about
    assert len(res.table) == sum(len(t) for t in singles)
    for col in ("indicator", *COLUMNS):
        assert isinstance(res.table[col].dtype, pd.CategoricalDtype), col
        categories = list(res.table[col].cat.categories)
        assert categories == sorted(set().union(*(t[col].astype(str) for t in singles))), col
        joined = pd.concat([t[col].astype(str) for t in singles], ignore_index=True)
        assert (res.table[col].astype(str) == joined).all(), col


def test_blocks_are_their_indicators():
    """The indicators the model writes together are views of one array per block: a month written to the block
    is the month of each indicator, in the block's order, and the table reads them as any other."""
    from thbsim.recorder import BLOCKS, INDICATORS, Recorder

    rec = Recorder(5)
    for block, names in BLOCKS.items():
        month = np.random.default_rng(len(block)).random(rec.blocks[block].shape[1:])
        rec.blocks[block][3] = month
        for j, name in enumerate(names):
            assert np.shares_memory(rec.data[name], rec.blocks[block])
            np.testing.assert_array_equal(rec.data[name][3], month[j])
            assert not rec.data[name][[0, 1, 2, 4]].any()
    assert list(rec.data) == list(INDICATORS)
    table = rec.table(pd.period_range("2020-01", periods=5, freq="M"))
    one = table[(table["indicator"] == "group_profit") & (table["t"] == 3)]
    assert np.isclose(one["value"].sum(), rec.data["group_profit"][3].sum()) and (one["value"] != 0).all()
