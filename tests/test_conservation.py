"""Stock-flow identities: victims between states, group money per group and in aggregate.

Recorded indicators are arrays of shape (month, member state, form) in
``model.recorder.data`` (see ``thbsim.recorder.INDICATORS`` for which are
stocks at the end of the month and which are flows during it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from thbsim.model import TraffickingModel
from thbsim.population import EXPLOITED, IDENTIFIED, RECRUITED, SUPPORTED
from thbsim.scenario import Scenario

SCENARIO = Scenario().with_params(scale=0.1).replace(start="2008-01", end="2012-12", output_from="2011-01")
"""Rows are compacted in the warm-up (before output_from) at months 24 and 29: the tests follow them."""


@dataclass
class Month:
    alive: np.ndarray  # groups alive at the start of the month (rows 0..used-1 at the start)
    moved: np.ndarray | None  # new row of every old row when the month began by compacting group rows
    entered: np.ndarray  # rows (re)used by groups entering during the month
    ledger: dict[str, np.ndarray]  # the month's per-group ledger, rows 0..used-1 at the start
    recount: dict[str, np.ndarray]  # victims per (member state, form) by state, counted from the rows after the step
    group_victims: dict[str, tuple[np.ndarray, np.ndarray]]  # per group row: (kept by the model, counted from the rows)
    outside_cell: int  # victims in transit or exploited whose cell is not their group's


@dataclass
class Run:
    model: TraffickingModel
    months: list[Month]


@pytest.fixture(scope="module")
def run() -> Run:
    model = TraffickingModel(SCENARIO)
    g = model.groups
    entered: list[np.ndarray] = []
    add = g.add

    def recording_add(*args, **kwargs):
        rows = add(*args, **kwargs)
        entered.append(np.array(rows, copy=True))
        return rows

    g.add = recording_add  # entry is the only caller once the model is built
    months = []
    while model.t < len(model.months):
        alive = g.alive[: g.used].copy()
        entered.clear()
        model.step()
        moved = g.last_compaction if g.compacted_at == model.t - 1 else None
        if moved is not None:
            alive = _follow(alive, moved)
        u = alive.size
        months.append(Month(alive, moved, np.concatenate([np.zeros(0, np.int64), *entered]),
                            {k: v[:u].copy() for k, v in g.ledger.items()}, recount(model), *group_victims(model)))
    assert any(m.moved is not None for m in months), "no compaction of group rows to check"
    return Run(model, months)


def _follow(values: np.ndarray, new_row: np.ndarray) -> np.ndarray:
    """Per-row values moved to the rows they occupy after a compaction (dropped rows vanish)."""
    kept = np.flatnonzero(new_row[: values.size] >= 0)
    out = np.zeros(new_row.max() + 1, values.dtype)
    out[new_row[kept]] = values[kept]
    return out


STATES = {"victims_recruited": RECRUITED, "victims_exploited": EXPLOITED, "victims_identified": IDENTIFIED,
          "victims_supported": SUPPORTED}


def recount(model: TraffickingModel) -> dict[str, np.ndarray]:
    """Victims per (member state, form) in each state, counted from the victim rows."""
    v = model.victims
    out = {}
    for name, state in STATES.items():
        rows = v.state == state
        cell = v.member_state[rows].astype(np.int64) * 3 + v.form[rows]
        out[name] = np.bincount(cell, minlength=27 * 3).reshape(27, 3)
    return out


def group_victims(model: TraffickingModel) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Each group's victims in transit and exploited as the model keeps them and as counted from the victim rows;
    and how many of those victims are outside their group's (member state x form) cell."""
    v, g = model.victims, model.groups
    out = {}
    for name, state in (("in_transit", RECRUITED), ("exploiting", EXPLOITED)):
        kept = getattr(g, name)
        out[name] = kept.copy(), np.bincount(v.group[v.state == state], minlength=kept.size)
    held = (v.state == RECRUITED) | (v.state == EXPLOITED)
    group = v.group[held]
    outside = (v.member_state[held] != g.member_state[group]) | (v.form[held] != g.form[group])
    return out, int(outside.sum())


@pytest.fixture(scope="module")
def data(run) -> dict[str, np.ndarray]:
    return run.model.recorder.data


def test_run_has_every_flow(data):
    """The identities below are only a check if every flow they use happens."""
    for name in ("recruited", "retrafficked", "transit", "identified", "exited_unidentified", "support_entered",
                 "support_declined", "support_exited", "groups_entered", "groups_dismantled", "assets_frozen",
                 "entry_capital", "moved_in_exploited", "moved_out_exploited"):
        assert data[name][1:].sum() > 0, name


# stock: ([flows in], [flows out]) during the month
VICTIM_IDENTITIES = {
    "victims_recruited": (["recruited", "retrafficked", "moved_in_recruited"], ["transit", "moved_out_recruited"]),
    "victims_exploited": (["transit", "moved_in_exploited"], ["identified", "exited_unidentified",
                                                              "moved_out_exploited"]),
    "victims_identified": (["identified"], ["support_entered", "support_declined"]),
    "victims_supported": (["support_entered"], ["support_exited", "retrafficked"]),
}


def _residual(data, stock, inflows, outflows):
    s = data[stock]
    return s[1:] - (s[:-1] + sum(data[f][1:] for f in inflows) - sum(data[f][1:] for f in outflows))


def _describe(res: np.ndarray) -> str:
    bad = np.argwhere(res != 0) + [1, 0, 0]  # res[0] is month 1
    return (f"{len(bad)} of {res.size} (month, member state, form) cells off, max |residual| {np.abs(res).max():g}, "
            f"sum |residual| {np.abs(res).sum():g}, first cells (t, ms, form) {bad[:5].tolist()}")


@pytest.mark.parametrize("stock", list(VICTIM_IDENTITIES))
def test_victim_stock_flow_identity(data, stock):
    """stock[t] = stock[t-1] + inflows[t] - outflows[t], per month, member state and form."""
    res = _residual(data, stock, *VICTIM_IDENTITIES[stock])
    assert res.shape[1:] == (27, 3)
    assert np.all(res == 0), f"{stock}: " + _describe(res)


@pytest.mark.parametrize("stock", list(VICTIM_IDENTITIES))
def test_victim_stock_flow_identity_eu_totals(data, stock):
    """The same identities summed over member states and forms (victims are neither created nor lost)."""
    res = _residual(data, stock, *VICTIM_IDENTITIES[stock]).sum(axis=(1, 2))
    assert np.all(res == 0), f"{stock}: months {np.flatnonzero(res).tolist()} off by {res[res != 0].tolist()}"


@pytest.mark.parametrize("stock", list(STATES))
def test_recorded_stocks_match_the_victim_rows(run, data, stock):
    """The recorded stocks are the victims counted from the rows at the end of each month.

    The model carries its stock indicators forward by the month's flows, so the identities above
    hold by construction; this recount from the victim rows is what checks the flows are right.
    """
    for t, month in enumerate(run.months):
        np.testing.assert_array_equal(data[stock][t], month.recount[stock], err_msg=f"{stock}, month {t}")


def test_group_victim_counts_match_the_rows(run, data):
    """The victims each group holds in transit and exploited, kept up to date by the kernels that change a victim's
    state or group (they decide what a group earns and how visible it is, and move with the group), are those the
    victim rows name, every month (compactions and moves included); and every such victim is in its group's cell."""
    for t, month in enumerate(run.months):
        for name, (kept, counted) in month.group_victims.items():
            np.testing.assert_array_equal(kept, counted, err_msg=f"{name}, month {t}")
        assert month.outside_cell == 0, f"month {t}"
    assert data["moved_in_exploited"].sum() > 0 and any(m.moved is not None for m in run.months)


def test_victims_in_system_match_stocks(run, data):
    stocks = sum(data[s][-1].sum() for s in STATES)
    assert stocks == run.model.victims.in_system > 0


def test_registered_equals_identified(data):
    months = data["identified"].shape[0]
    registered = data["registered"].astype(np.float64)
    identified = data["identified"]
    np.testing.assert_array_equal(registered.reshape(months, -1).sum(axis=1), identified.reshape(months, -1).sum(axis=1))
    # and per member state of registration
    np.testing.assert_array_equal(registered.sum(axis=(2, 3, 4)).sum(axis=2), identified.sum(axis=2))
    assert identified.sum() > 0


def test_group_ledger_balances(run):
    """closing = opening + profit - spending - frozen for every group alive at the start of the month."""
    checked = 0
    for t, m in enumerate(run.months):
        L, rows = m.ledger, m.alive
        np.testing.assert_allclose(L["closing"][rows], (L["opening"] + L["profit"] - L["spending"] - L["frozen"])[rows],
                                   rtol=1e-9, atol=1e-6, err_msg=f"month {t}")
        checked += rows.sum()
    assert checked > 1000
    assert any((m.ledger["frozen"][m.alive] > 0).any() for m in run.months)


def test_group_ledger_carries_over(run):
    """A group's closing assets are its opening assets next month (same group at both starts)."""
    checked = 0
    for t in range(len(run.months) - 1):
        this, nxt = run.months[t], run.months[t + 1]
        alive, closing = this.alive.copy(), this.ledger["closing"]
        alive[this.entered[this.entered < alive.size]] = False  # a row dismantled and reused by an entrant is a new group
        if nxt.moved is not None:  # next month began by compacting rows: follow each group to its new row
            alive, closing = _follow(alive, nxt.moved), _follow(closing, nxt.moved)
        u = min(alive.size, nxt.alive.size)
        same = alive[:u] & nxt.alive[:u]
        np.testing.assert_allclose(closing[:u][same], nxt.ledger["opening"][:u][same], rtol=1e-9,
                                   atol=1e-6, err_msg=f"months {t} -> {t + 1}")
        checked += same.sum()
    assert checked > 1000


def test_group_assets_aggregate_identity(data):
    """group_assets[t] = group_assets[t-1] + profit - spending - frozen + entry capital, EU total."""
    def total(name):
        return data[name].sum(axis=(1, 2))

    assets = total("group_assets")
    expected = assets[:-1] + (total("group_profit") - total("group_spending") - total("assets_frozen")
                              + total("entry_capital"))[1:]
    assert assets.min() > 0
    np.testing.assert_allclose(assets[1:], expected, rtol=1e-6)
