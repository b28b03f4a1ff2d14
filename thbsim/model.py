"""TraffickingModel: the EU-27 month by month, in one explicit order.

Mesa orchestrates (the model is a ``mesa.Model``; its ``steps`` count months);
arrays carry the crowd: victims are rows of ``Population``, crime groups rows of
``CrimeGroups``, users, employers and at-risk people counts per stratum.
The monthly step (docs/model.md, Process overview):

1. levers and shocks that are active this month act on mechanisms;
2. demand: users and employers move, prices follow supply;
3. crime groups choose recruitment from expected profit against expected loss;
4. recruitment draws victims from the at-risk pools;
5. exploitation: revenue, costs, profit, assets;
6. detection: channels identify victims, raids hit groups;
7. justice: suspects, prosecutions, convictions (with lags), users where use is an offence;
8. finance: freezing and confiscation of group assets;
9. victims move on: support, exit, re-trafficking; recruits arrive;
10. groups grow, shrink, are dismantled or enter; costs and indicators are recorded.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd

from thbsim.actors.demand import Demand
from thbsim.actors.enforcement import Enforcement
from thbsim.actors.traffickers import CrimeGroups
from thbsim.actors.victims import Recruitment, place_recruits, stacked_choice
from thbsim.geography import FORMS, geography
from thbsim.money import CostLedger, Finance
from thbsim.params import ParamSet
from thbsim.population import EXPLOITED, IDENTIFIED, RECRUITED, SUPPORTED, Victims
from thbsim.recorder import Recorder
from thbsim.rng import Streams

ADULT_MONTHS = 18 * 12
NF = len(FORMS)
POLICE_DISMANTLING_MONTHS = 6
"""A group dismantled within this many months of an investigation was broken up by the police,
who then find its victims; the victims of a group that fell apart on its own are released."""


class TraffickingModel(mesa.Model):
    """The thbsim model. Build it from a ``Scenario`` (or defaults), then ``run()``."""

    def __init__(self, scenario=None, *, seed: int | None = None, rng: Any = None, **param_overrides: float) -> None:
        from thbsim.scenario import Scenario

        scenario = scenario if scenario is not None else Scenario()
        if param_overrides:
            scenario = scenario.with_params(**param_overrides)
        if seed is None:
            seed = rng if isinstance(rng, int) else scenario.seed
        super().__init__(seed=seed)
        self.scenario = scenario
        self.seed_value = int(seed)
        self.p: ParamSet = scenario.params
        self.streams = Streams(self.seed_value)
        self.geo = geo = geography()
        self.months = pd.period_range(scenario.start, scenario.end, freq="M")
        self.t = 0
        n = geo.n_states
        self.population_share = geo.population_m[:n] / geo.population_m[:n].sum()

        p = self.p
        self.demand = Demand(p, geo, self.streams["demand"])
        self.demand.offence[geo.state_mask(list(scenario.users_offence))] = True
        self.demand.user_detection_per_year[:] = p["users.detection_per_year"]
        self.groups = CrimeGroups(p, n, self.streams["groups"])
        self.enforcement = Enforcement(p, geo, self.streams["justice"])
        self.recruitment = Recruitment(p, geo, self.streams["recruitment"], self.streams["pools"])
        self.victims = Victims(capacity=int(60000 * p["scale"]) + 1024)
        self.finance = Finance(p, n)
        self.ledger = CostLedger(p)
        self.recorder = Recorder(len(self.months))
        self.levers = list(scenario.levers)
        self.ident_hazard = np.zeros((n, NF))
        self._initialise()

    # ------------------------------------------------------------------ setup
    def _initialise(self) -> None:
        """Groups and victims near the demand each market takes, so the warm-up settles fast."""
        p, g, geo = self.p, self.groups, self.geo
        n = geo.n_states
        self.demand.step(np.zeros((n, NF)))
        capacity = self.demand.capacity.copy()
        rng = self.streams["groups"]
        per_group = p["groups.initial_members"] * p["groups.victims_per_member"] * 0.6
        n_groups = np.maximum(np.round(capacity / per_group), (capacity > 0.5).astype(float)).astype(np.int64)
        cells = np.repeat(np.arange(n * NF), n_groups.ravel())
        ms, form = np.divmod(cells, NF)
        members = np.maximum(2 + rng.poisson(p["groups.initial_members"] - 2, ms.size), p["groups.min_members"])
        ref = self.demand.ref_revenue[form]
        rows = g.add(ms, form, members, ref * 4 * p["money.start_capital_months"], 0)
        # victims: about 90 % of capacity, spread over the cell's groups
        n_victims = rng.poisson(0.9 * capacity.ravel()[cells] / np.maximum(n_groups.ravel()[cells], 1))
        owner = np.repeat(rows, n_victims)
        self.recruitment.prepare()
        attrs = self.recruitment.draw(g.member_state[owner], g.form[owner], self.demand.sector_capacity)
        months = rng.geometric(1 / 24, owner.size) - 1
        place_recruits(self.victims, attrs, owner, 0, EXPLOITED, -np.minimum(months, 240))
        self.recruitment.pool[:] = np.round(self.recruitment.pool_base).astype(np.int64)
        self._stocks = self._state_histogram()

    # ------------------------------------------------------------------ run
    def run(self, progress=None) -> None:
        """Step to the end of the horizon."""
        while self.t < len(self.months):
            self.step()
            if progress is not None:
                progress(1)

    def month_index(self, period: str) -> int:
        return int((pd.Period(period, "M") - self.months[0]).n)

    def step(self) -> None:
        t, p, g, v = self.t, self.p, self.groups, self.victims
        n = self.geo.n_states
        rec = self.recorder
        state, grp_v = v.state, v.group
        # start-of-month states: every transition below is computed from them, so a
        # victim changes state at most once a month
        r0, e0, i0, s0 = (np.flatnonzero(state == s) for s in (RECRUITED, EXPLOITED, IDENTIFIED, SUPPORTED))
        exploited = self._stocks[EXPLOITED].reshape(n, NF).astype(float)
        ge = grp_v[e0]
        u = g.used
        g.held[:u] = np.bincount(ge, minlength=u)
        g.held[:u][~g.alive[:u]] = 0  # victims of a dismantled group earn it nothing

        # 1. levers and shocks
        for lever in self.levers:
            if lever.active(self, t):
                lever.apply(self)

        # 2. demand (employers see last month's inspection risk)
        enf = self.enforcement
        yearly_checks = np.minimum(enf.inspection_coverage * enf.targeting[:, None] * 12, 1.0)
        self.demand.inspection_risk = yearly_checks
        self.demand.step(exploited)
        # 3. groups decide
        wanted = g.desired_recruits(self.demand.price, self.ident_hazard, enf.finance_rate, enf.freeze_share)
        # 4. recruitment (recruits are placed in rows at the end of the month)
        self.recruitment.step_pools()
        self.recruitment.prepare()
        gcell = g.member_state[:u].astype(np.int64) * NF + g.form[:u]
        n_recruits = self.recruitment.recruits(wanted, gcell)
        owner = np.repeat(np.arange(u), n_recruits)
        attrs = self.recruitment.draw(g.member_state[owner], g.form[owner], self.demand.sector_capacity)

        # 5. exploitation and money
        gms, gform = g.member_state[:u], g.form[:u]
        ref = self.demand.ref_revenue[gform]
        held = g.held[:u]
        revenue = held * self.demand.price[gms, gform]
        profit = revenue - held * p["money.cost_share"] * ref
        opening = g.assets[:u].copy()
        recruit_spend = n_recruits * g.recruit_cost[gform]
        after = opening + profit - recruit_spend
        payout = p["money.payout_rate"] * np.maximum(after, 0.0)
        spending = recruit_spend + payout
        g.assets[:u] = after - payout

        # 6. detection: one uniform per exploited victim decides identification (by channel) or exit
        p_ident, p_event, shares = enf.detection_tables()
        key = v.hazard_key[e0] + (v.birth_month[e0] <= t - ADULT_MONTHS)
        rng_d = self.streams["detection"]
        draw = rng_d.random(e0.size)
        pid = p_ident[key]
        ident = draw < pid
        leave = (draw < p_event[key]) & ~ident
        channel = np.zeros(e0.size, np.int8)
        found = np.flatnonzero(ident)
        channel[found] = 1 + stacked_choice(shares, key[found], draw[found] / pid[found])
        raided = enf.raids(g)
        # victims of raided groups, and of groups dismantled last month: police find those of groups
        # broken up by investigations; the others are released (they leave unidentified)
        dead = ~g.alive[:u]
        police_broke = dead & (g.died[:u] - g.investigated_at[:u] <= POLICE_DISMANTLING_MONTHS)
        hits = np.flatnonzero((raided | dead)[ge])
        by_police = (raided | police_broke)[ge[hits]] & (rng_d.random(hits.size) < p["police.raid_identifies"])
        police_rows = hits[by_police]
        ident[police_rows] = True
        leave[police_rows] = False
        channel[police_rows] = 0
        released = hits[~by_police & dead[ge[hits]]]
        leave[released] = ~ident[released]
        # identifications outside raids open investigations of the group
        non_raid = ident & (channel > 0)
        n_ident_g = np.bincount(ge[non_raid], minlength=u)
        with_cases = np.flatnonzero(n_ident_g)
        p_open = 1 - (1 - p["police.investigate_on_identification"]) ** n_ident_g[with_cases]
        investigated = raided.copy()
        investigated[with_cases[self.streams["justice"].random(with_cases.size) < p_open]] = True
        investigated &= g.alive[:u]
        cell_found = v.cell[e0[non_raid]]
        self.ident_hazard = 0.8 * self.ident_hazard + 0.2 * (
            np.bincount(cell_found, minlength=n * NF).reshape(n, NF) / np.maximum(exploited, 1.0)
        )

        # 7. justice: verdicts and decisions on earlier cases, then new suspects
        prosecuted, convicted = enf.courts(g)
        suspects = enf.investigate(g, investigated, t)
        user_s, user_p, user_c = enf.prosecute_users(self.demand)
        # 8. finance
        frozen = self.finance.freeze(g, investigated, enf.finance_rate, enf.freeze_share, self.streams["finance"])
        confiscated = self.finance.decide()

        # 9. victims move on
        rng_v = self.streams["victims"]
        rows_ident, rows_leave = e0[ident], e0[leave]
        ended = np.concatenate([rows_ident, rows_leave])
        v.months_exploited[ended] += (t - v.exploited_since[ended]).astype(np.int16)
        state[rows_ident] = IDENTIFIED
        v.state_since[rows_ident] = t
        state[r0] = EXPLOITED
        v.state_since[r0] = t
        v.exploited_since[r0] = t
        accept = rng_v.random(i0.size) < p["victims.accept_support"]
        state[i0[accept]] = SUPPORTED
        v.state_since[i0] = t
        draw_s = rng_v.random(s0.size)
        support_exit = draw_s < 1 / p["victims.support_months"]
        retraffic = ~support_exit & (draw_s < 1 / p["victims.support_months"] + p["victims.retrafficking_rate"])
        re_rows = s0[retraffic]
        new_group = self._pick_groups(v.cell[re_rows], rng_v) if re_rows.size else re_rows
        re_rows, new_group = re_rows[new_group >= 0], new_group[new_group >= 0]
        state[re_rows] = RECRUITED
        grp_v[re_rows] = new_group
        v.state_since[re_rows] = t
        v.times_trafficked[re_rows] += 1
        registered = self._registered(rows_ident, rng_v)
        cell_v = v.cell

        def vic(rows):
            return np.bincount(cell_v[rows], minlength=n * NF).reshape(n, NF)

        # flows by (member state, form), counted before released rows are reused by recruits
        flows = {"retrafficked": vic(re_rows), "transit": vic(r0), "identified": vic(rows_ident),
                 "exited_unidentified": vic(rows_leave), "support_entered": vic(i0[accept]),
                 "support_declined": vic(i0[~accept]), "support_exited": vic(s0[support_exit])}
        by_channel = np.bincount(v.member_state[rows_ident].astype(np.int64) * 5 + channel[ident], minlength=n * 5)
        v.release(np.concatenate([rows_leave, i0[~accept], s0[support_exit]]))

        # 10. groups grow, shrink, enter; costs and records
        dismantled = g.update_members(t)
        spending[dismantled] += g.assets[dismantled]  # members keep what is left (or its debts)
        g.assets[dismantled] = 0.0
        closing = g.assets[:u].copy()
        for k, val in (("opening", opening), ("profit", profit), ("spending", spending), ("frozen", frozen),
                       ("closing", closing)):
            g.ledger[k][:u] = val
        entrants = g.entry(self.demand.capacity, exploited, self.demand.price, t)
        place_recruits(v, attrs, owner, t, RECRUITED)
        new_cells = attrs["member_state"].astype(np.int64) * NF + attrs["form"]
        flows["recruited"] = np.bincount(new_cells, minlength=n * NF).reshape(n, NF)
        self._update_stocks(flows)

        cells = gms.astype(np.int64) * NF + gform

        def by_cell(w):
            return np.bincount(cells, weights=w, minlength=n * NF).reshape(n, NF)

        def by_ms(w):
            return np.bincount(gms, weights=w, minlength=n)

        identified_ms = flows["identified"]
        for name, s in (("victims_recruited", RECRUITED), ("victims_exploited", EXPLOITED),
                        ("victims_identified", IDENTIFIED), ("victims_supported", SUPPORTED)):
            rec[name, t] = self._stocks[s].reshape(n, NF)
        for name, value in flows.items():
            rec[name, t] = value
        rec["identified_by_channel", t] = by_channel.reshape(n, 5)
        rec["registered", t] = registered
        suspects_ms = by_ms(suspects)
        rec["suspects", t] = suspects_ms
        rec["prosecutions", t] = by_ms(prosecuted)
        rec["convictions", t] = by_ms(convicted)
        rec["user_suspects", t] = user_s
        rec["user_prosecutions", t] = user_p
        rec["user_convictions", t] = user_c
        rec["investigations", t] = by_ms(investigated)
        rec["raids", t] = by_ms(raided)
        gone = np.zeros(u)
        gone[dismantled] = 1.0
        rec["groups_dismantled", t] = by_cell(gone)
        rec["group_revenue", t] = by_cell(revenue)
        rec["group_profit", t] = by_cell(profit)
        rec["group_spending", t] = by_cell(spending)
        rec["assets_frozen", t] = by_cell(frozen)
        ent_cells = g.member_state[entrants].astype(np.int64) * NF + g.form[entrants]
        rec["groups_entered", t] = np.bincount(ent_cells, minlength=n * NF).reshape(n, NF)
        rec["entry_capital", t] = np.bincount(ent_cells, weights=g.assets[entrants], minlength=n * NF).reshape(n, NF)
        # stocks of groups after entry (new groups included)
        u2 = g.used
        alive2 = g.alive[:u2]
        cells2 = g.member_state[:u2][alive2].astype(np.int64) * NF + g.form[:u2][alive2]
        rec["groups_active", t] = np.bincount(cells2, minlength=n * NF).reshape(n, NF)
        rec["group_members", t] = np.bincount(cells2, weights=g.members[:u2][alive2], minlength=n * NF).reshape(n, NF)
        rec["group_assets", t] = np.bincount(cells2, weights=g.assets[:u2][alive2], minlength=n * NF).reshape(n, NF)
        rec["assets_confiscated", t] = confiscated
        rec["users", t] = self.demand.users
        rec["knowing_users", t] = self.demand.knowing_users
        rec["employers_willing", t] = self.demand.employers.sum(axis=1)
        rec["price", t] = self.demand.price
        rec["demand_capacity", t] = self.demand.capacity
        rec["inspection_checks", t] = (self.demand.workers * enf.inspection_coverage).sum(axis=1)
        rec["social_cost", t] = self.ledger.month(identified_ms.sum(axis=1), suspects_ms, self.population_share)
        self.t += 1

    def _update_stocks(self, f: dict) -> None:
        """Stocks per (state, cell) carried forward by the month's flows (tests recount them from the rows)."""
        st = self._stocks
        st[RECRUITED] += (f["recruited"] + f["retrafficked"] - f["transit"]).ravel()
        st[EXPLOITED] += (f["transit"] - f["identified"] - f["exited_unidentified"]).ravel()
        st[IDENTIFIED] += (f["identified"] - f["support_entered"] - f["support_declined"]).ravel()
        st[SUPPORTED] += (f["support_entered"] - f["support_exited"] - f["retrafficked"]).ravel()

    def _state_histogram(self) -> np.ndarray:
        """Victims per (state, member state x form) cell, from the arrays (one pass)."""
        v = self.victims
        ncell = self.geo.n_states * NF
        idx = v.state.astype(np.int32) * ncell + v.cell
        return np.bincount(idx, minlength=5 * ncell).reshape(5, ncell)

    # ------------------------------------------------------------------ helpers
    def _pick_groups(self, cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random active group of each victim's (member state, form) cell; -1 where there is none."""
        g = self.groups
        alive = np.flatnonzero(g.alive[: g.used])
        gcell = g.member_state[alive].astype(np.int64) * NF + g.form[alive]
        order = np.argsort(gcell, kind="stable")
        counts = np.bincount(gcell, minlength=self.geo.n_states * NF)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        c = counts[cell]
        pick = starts[cell] + np.floor(rng.random(cell.size) * c).astype(np.int64)
        return np.where(c > 0, alive[order][np.minimum(pick, max(alive.size - 1, 0))] if alive.size else -1, -1)

    def _registered(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Registered victims this month by member state, recorded form, sex, age and citizenship."""
        v, geo = self.victims, self.geo
        form = v.form[rows].astype(np.int64)
        form = np.where(rng.random(rows.size) < self.p["victims.form_unrecorded"], NF, form)
        adult = (self.t - v.birth_month[rows]) >= ADULT_MONTHS
        idx = (((v.member_state[rows].astype(np.int64) * (NF + 1) + form) * 2 + v.sex[rows]) * 2 + adult)
        idx = idx * geo.n_origins + v.citizenship[rows]
        size = geo.n_states * (NF + 1) * 2 * 2 * geo.n_origins
        return np.bincount(idx, minlength=size).reshape(geo.n_states, NF + 1, 2, 2, geo.n_origins)

    def results_table(self) -> pd.DataFrame:
        first = max(0, self.month_index(self.scenario.output_from))
        return self.recorder.table(self.months, first)
