"""Crime groups, as rows of arrays (one row a group).

Groups are few (thousands) but act every month; keeping them as arrays lets a
month's decisions for all groups be a handful of vectorised operations, where
Mesa agents would cost a Python call per group per month (docs/model.md, Design
concepts). Each group has a member state of operation, a form it specialises in,
members, assets and the victims it holds. Each month it chooses how many to
recruit from expected profit against expected losses, takes on or loses members,
and is dismantled below a minimum size. New groups enter where demand is unmet
and the business pays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from thbsim.money import reference_revenue

NEVER_INVESTIGATED = -(10**6)
"""``CrimeGroups.investigated_at`` of a group never investigated: a month long before any horizon."""


class DecisionParams(NamedTuple):
    """The scalar parameters of the groups' recruitment decision (passed to the kernels as one value)."""

    member_value_months: float
    suspects_per_member: float
    detention: float
    investigate_on_identification: float
    cost_share: float
    risk_aversion: float
    victims_per_member: float
    adjust_rate: float


class CrimeGroups:
    def __init__(self, p, n_states: int, rng: np.random.Generator, capacity: int = 1024, kernels=None) -> None:
        from thbsim.kernels import reference

        self.p, self.rng, self.n_states = p, rng, n_states
        self.kernels = kernels if kernels is not None else reference
        self._rng_kernels = self.kernels.generator_handle(rng)  # the same generator, for kernels that draw
        self.decision = DecisionParams(
            p["groups.member_value_months"], p["police.suspects_per_member"], p["police.detention"],
            p["police.investigate_on_identification"], p["money.cost_share"], p["groups.risk_aversion"],
            p["groups.victims_per_member"], p["groups.adjust_rate"])
        self.capacity = capacity
        self.used = 0
        self.alive = np.zeros(capacity, bool)
        self.member_state = np.zeros(capacity, np.int16)
        self.form = np.zeros(capacity, np.int8)
        self.members = np.zeros(capacity, np.int64)
        self.assets = np.zeros(capacity)
        self.held = np.zeros(capacity, np.int64)  # victims exploited at the start of the month
        self.born = np.zeros(capacity, np.int32)
        self.died = np.zeros(capacity, np.int32)  # month dismantled (rows are reused two months later at the earliest)
        self.investigated_at = np.full(capacity, NEVER_INVESTIGATED, np.int32)  # month of the last investigation
        self.pending_decision = np.zeros(capacity, np.int64)  # suspects awaiting prosecution decision
        self.pending_trial = np.zeros(capacity, np.int64)  # prosecuted members awaiting verdict
        self.raid_hazard = np.zeros(capacity)  # last month's investigation hazard, what groups expect
        # the group's victims in transit and exploited now, kept up to date by the kernels that change a victim's
        # state or group (a row reused by a new group has none left: its victims are gone before it may be reused)
        self.in_transit = np.zeros(capacity, np.int64)
        self.exploiting = np.zeros(capacity, np.int64)
        # the month's ledger, per group, for the stock-flow identity
        self.ledger = {k: np.zeros(capacity) for k in self.LEDGER}
        self.compacted_at, self.last_compaction = -1, None  # month and new row of every old row (tests follow rows)
        self.ref_revenue = reference_revenue(p)
        self.recruit_cost = p["money.recruit_cost_months"] * self.ref_revenue

    LEDGER = ("opening", "profit", "spending", "frozen", "closing")
    """The columns of the month's ledger per group (``ledger``): assets at the start, profit, spending, assets
    frozen, assets at the end."""

    # -- rows -------------------------------------------------------------------
    ROW_ARRAYS = ("alive", "member_state", "form", "members", "assets", "held", "born", "died", "investigated_at",
                  "pending_decision", "pending_trial", "raid_hazard", "in_transit", "exploiting")

    def _grow(self, need: int) -> None:
        cap = max(need, int(self.capacity * 1.5))
        for name in self.ROW_ARRAYS:
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[: old.size] = old
            setattr(self, name, new)
        for k, old in self.ledger.items():
            new = np.zeros(cap)
            new[: old.size] = old
            self.ledger[k] = new
        self.capacity = cap

    def add(self, member_state: np.ndarray, form: np.ndarray, members: np.ndarray, assets: np.ndarray, t: int):
        """Create groups; rows of dead groups with an empty justice pipeline are reused."""
        n = member_state.size
        u = self.used
        # victims of a group dismantled this month are dealt with next month: keep its row until then
        reusable = self.kernels.free_group_rows(self.alive[:u], self.pending_decision[:u], self.pending_trial[:u],
                                                self.died[:u], t, n)
        extra = n - reusable.size
        if extra > 0:
            if self.used + extra > self.capacity:
                self._grow(self.used + extra)
            reusable = np.concatenate([reusable, np.arange(self.used, self.used + extra)])
            self.used += extra
        rows = reusable
        self.kernels.write_groups(rows, member_state, form, members, assets, t, self.alive, self.member_state, self.form,
                                  self.members, self.assets, self.held, self.born, self.investigated_at, self.raid_hazard)
        return rows

    def compact(self, keep: np.ndarray) -> np.ndarray:
        """Move the rows in ``keep`` (ascending) to the front, in order; returns, for every old row
        and one more (for -1), its new row or -1. The month's ledger moves with its rows."""
        k = keep.size
        for name in self.ROW_ARRAYS:
            arr = getattr(self, name)
            arr[:k] = arr[keep]
            arr[k:self.used] = 0
        self.investigated_at[k:self.used] = NEVER_INVESTIGATED
        for arr in self.ledger.values():
            arr[:k] = arr[keep]
            arr[k:self.used] = 0.0
        new_row = np.full(self.used + 1, -1, np.int64)
        new_row[keep] = np.arange(k)
        self.used = k
        return new_row

    def view(self, name: str) -> np.ndarray:
        return getattr(self, name)[: self.used]

    @property
    def n_alive(self) -> int:
        return int(self.alive[: self.used].sum())

    # -- decisions ---------------------------------------------------------------
    def desired_recruits(self, price: np.ndarray, identification_hazard: np.ndarray, finance_rate: np.ndarray,
                         freeze_share: np.ndarray, cost_per_recruit: np.ndarray) -> np.ndarray:
        """Expected recruits each group wants this month (0 for dead groups).

        Margin per victim-month = price - operating cost - risk_aversion x expected loss,
        where the expected loss counts the victim's replacement, members lost to
        investigations it triggers or to proactive raids, and assets frozen.
        """
        u = self.used
        self.profitability, wanted = self.kernels.desired_recruits(
            self.alive[:u], self.member_state[:u], self.form[:u], self.members[:u], self.assets[:u], self.held[:u],
            self.raid_hazard[:u], self.ref_revenue, price, identification_hazard, finance_rate, freeze_share,
            cost_per_recruit, self.decision)
        return wanted

    def relocate(self, margin: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Some groups reconsider where to exploit: each draws a member state in proportion to its
        demand x expected margin for the group's form, and moves if the margin there beats home
        by more than ``groups.relocation_gain`` of the reference revenue. Returns (rows, old member state).

        ``margin``: expected margin per victim-month per (member state, form), from last month.
        """
        p, u = self.p, self.used
        return self.kernels.relocate_groups(self._rng_kernels, self.alive[:u], self.member_state[:u], self.form[:u],
                                            margin, capacity, p["groups.mobility"], p["groups.relocation_gain"],
                                            self.ref_revenue)

    def update_members(self, t: int) -> np.ndarray:
        """Members join profitable groups and quit; returns rows dismantled this month."""
        p, u = self.p, self.used
        # joining: Poisson with mean members x growth x min(profitability, 1); exp(-mean) only where the
        # uniform may fall above it (kernels.poisson_band): some one row in ten
        join_mean, u_join, band = self.kernels.member_join_draws(self._rng_kernels, self.alive[:u], self.members[:u],
                                                                 p["groups.member_growth"], self.profitability)
        dismantled = self.kernels.member_changes(self._rng_kernels, self.alive[:u], self.members[:u], join_mean, u_join,
                                                 band, np.exp(-join_mean[band]), p["groups.member_quit"],
                                                 p["groups.min_members"])
        self.died[dismantled] = t
        return dismantled

    def entry(self, capacity: np.ndarray, exploited: np.ndarray, margin_eur: np.ndarray, t: int) -> np.ndarray:
        """New groups: how many of each form enter follows the unmet demand where the business pays;
        where they enter follows demand x expected margin above the hurdle (after expected losses:
        identification, arrest, confiscation), so would-be traffickers go where the business pays best."""
        p = self.p
        group_size = p["groups.initial_members"] * p["groups.victims_per_member"] * 0.6
        ms, form, members, assets = self.kernels.entrants(
            self._rng_kernels, margin_eur, capacity, exploited, self.ref_revenue, p["groups.entry_hurdle"], group_size,
            p["groups.entry_rate"], p["groups.initial_members"], p["groups.min_members"], p["money.start_capital_months"])
        if ms.size == 0:
            return ms
        return self.add(ms, form, members, assets, t)
