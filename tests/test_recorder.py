"""The tidy results table: its label columns and calendar columns, built from codes, say what pandas would."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from thbsim.model import TraffickingModel
from thbsim.recorder import COLUMNS, DIMS, INDICATORS, _labels
from thbsim.scenario import Scenario


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


def test_table_is_what_pandas_makes_from_the_arrays(model):
    """The table, built block by block from codes, equals the one made row by row with pandas from the
    recorded arrays and their labels: every cell of every month (registered victims: the non-zero cells),
    each label column a categorical of the labels that occur, sorted."""
    first = model.month_index(model.scenario.output_from)
    n = len(model.months) - first
    parts = []
    for name, (dims, _, _) in INDICATORS.items():
        flat = model.recorder.data[name][first:].reshape(n, -1)
        t_idx, cell = np.nonzero(flat) if dims == "registered" else np.indices(flat.shape).reshape(2, -1)
        part = pd.DataFrame({"t": t_idx + first, "indicator": name, "value": flat[t_idx, cell].astype(np.float64)})
        coords = np.unravel_index(cell, tuple(len(x) for x in _labels(dims)))
        for col, labels, at in zip(DIMS[dims], _labels(dims), coords, strict=True):
            part[col] = np.asarray(labels, dtype=object)[at]
        parts.append(part)
    expected = pd.concat(parts, ignore_index=True)
    period = model.months[expected["t"].to_numpy()]
    expected.insert(1, "year", period.year.to_numpy().astype(np.int16))
    expected.insert(2, "month", period.month.to_numpy().astype(np.int8))
    for col in ("indicator", *COLUMNS):
        values = expected[col].fillna("all").astype(object) if col in expected else pd.Series("all", index=expected.index)
        expected[col] = pd.Categorical(values, categories=sorted(set(values)))
    expected = expected[["t", "year", "month", "indicator", *COLUMNS, "value"]]
    pd.testing.assert_frame_equal(model.results_table(), expected, check_exact=True)
