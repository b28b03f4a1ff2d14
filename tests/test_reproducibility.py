"""Same scenario and seed, same results: in one process, across processes and for any number of workers."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from thbsim.results import run, run_one
from thbsim.rng import STREAMS, Streams, replicate_seeds
from thbsim.scenario import Scenario

SCENARIO = Scenario().with_params(scale=0.05).replace(start="2008-01", end="2012-12", output_from="2010-01")
SEED = 12345


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return run_one(SCENARIO, SEED)


def test_results_table_is_not_trivial(table):
    assert set(table["seed"]) == {SEED}
    assert table["t"].min() == 24  # output_from 2010-01 is month 24 of a 2008-01 start
    assert table.loc[table["indicator"] == "identified", "value"].sum() > 0
    assert table.loc[table["indicator"] == "recruited", "value"].sum() > 0


def test_same_seed_same_table_in_one_process(table):
    assert_frame_equal(run_one(SCENARIO, SEED), table, check_exact=True)


def test_same_seed_same_table_in_another_process(table):
    with ProcessPoolExecutor(max_workers=1) as pool:
        other = pool.submit(run_one, SCENARIO, SEED).result(timeout=120)
    assert_frame_equal(other, table, check_exact=True)


def test_different_seeds_give_different_results(table):
    other = run_one(SCENARIO, SEED + 1)
    assert set(other["seed"]) == {SEED + 1}
    # compare dense indicators (the registered-victims breakdown keeps only non-zero cells)
    for name in ("recruited", "identified", "victims_exploited", "group_profit"):
        a = table.loc[table["indicator"] == name, "value"].to_numpy()
        b = other.loc[other["indicator"] == name, "value"].to_numpy()
        assert a.shape == b.shape
        assert not np.array_equal(a, b), name


def test_run_is_identical_for_any_number_of_workers():
    one = run(SCENARIO, replicates=2, seed=SEED, workers=1)
    two = run(SCENARIO, replicates=2, seed=SEED, workers=2)
    assert_frame_equal(one.table, two.table, check_exact=True)
    assert one.meta == two.meta
    # the per-run yearly arrays the targets are computed from, too
    assert len(one.stats) == len(two.stats) == 2
    for a, b in zip(one.stats, two.stats, strict=True):
        np.testing.assert_array_equal(a.years, b.years)
        assert a.yearly.keys() == b.yearly.keys()
        for name in a.yearly:
            np.testing.assert_array_equal(a.yearly[name], b.yearly[name], err_msg=name)
            np.testing.assert_array_equal(a.december[name], b.december[name], err_msg=name)
    assert one.meta["seeds"] == replicate_seeds(SEED, 2)
    assert list(one.table["replicate"].unique()) == [0, 1]
    # the two replicates are different runs
    r0 = one.table[one.table["replicate"] == 0]["value"].to_numpy()
    r1 = one.table[one.table["replicate"] == 1]["value"].to_numpy()
    assert not np.array_equal(r0, r1)


def _draws(streams: Streams, name: str) -> np.ndarray:
    return streams[name].random(8)


def test_streams_do_not_depend_on_request_order():
    forward = Streams(SEED)
    first = {name: _draws(forward, name) for name in STREAMS}
    backward = Streams(SEED)
    second = {name: _draws(backward, name) for name in reversed(STREAMS)}
    only = _draws(Streams(SEED), "victim_rows")
    for name in STREAMS:
        np.testing.assert_array_equal(first[name], second[name])
    np.testing.assert_array_equal(only, first["victim_rows"])
    # the same name gives the same generator object within one run
    assert forward["groups"] is forward["groups"]


def test_streams_differ_by_name_and_seed():
    s = Streams(SEED)
    draws = [tuple(_draws(s, name)) for name in STREAMS]
    assert len(set(draws)) == len(STREAMS)
    assert not np.array_equal(_draws(Streams(SEED), "groups"), _draws(Streams(SEED + 1), "groups"))


def test_streams_refuse_unknown_names():
    with pytest.raises(KeyError, match="unknown random stream 'group'"):
        Streams(SEED)["group"]


@pytest.mark.parametrize("root", [0, 1, 20201020, 2**40 + 3])
def test_replicate_seeds_are_prefix_stable(root):
    n = 12
    full = replicate_seeds(root, n)
    assert len(full) == n
    assert len(set(full)) == n
    assert all(isinstance(s, int) and 0 <= s < 2**63 for s in full)
    for k in range(n + 1):
        assert replicate_seeds(root, k) == full[:k]
    assert replicate_seeds(root, n) == full
    assert replicate_seeds(root + 1, n) != full
