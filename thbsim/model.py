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
from thbsim.geography import FORMS, USERS_OFFENCE_2017, geography
from thbsim.money import CostLedger, Finance
from thbsim.params import ParamSet
from thbsim.population import EXPLOITED, IDENTIFIED, RECRUITED, SUPPORTED, Victims
from thbsim.recorder import Recorder
from thbsim.rng import Streams

ADULT_MONTHS = 18 * 12
NF = len(FORMS)


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
        self.demand.offence[geo.state_mask(list(USERS_OFFENCE_2017))] = True
        self.demand.user_detection_per_year[:] = p["users.detection_per_year"]
        self.groups = CrimeGroups(p, n, self.streams["groups"])
        self.enforcement = Enforcement(p, geo, self.streams["detection"], self.streams["justice"])
        self.recruitment = Recruitment(p, geo, self.streams["recruitment"])
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
        members = np.maximum(2 + rng.poisson(p["groups.initial_members"] - 2, ms.size), 2)
        ref = self.demand.ref_revenue[form]
        rows = g.add(ms, form, members, ref * 4 * p["money.start_capital_months"], 0)
        # victims: about 90 % of capacity, spread over the cell's groups
        n_victims = rng.poisson(0.9 * capacity.ravel()[cells] / np.maximum(n_groups.ravel()[cells], 1))
        owner = np.repeat(rows, n_victims)
        attrs, ok = self.recruitment.draw(g.member_state[owner], g.form[owner], self.demand.sector_capacity)
        months = rng.geometric(1 / 24, ok.sum()) - 1
        place_recruits(self.victims, attrs, owner[ok], 0, EXPLOITED, np.minimum(months, 240))
        self.recruitment.pool[:] = np.round(self.recruitment.pool_base).astype(np.int64)

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
        state, ms_v, form_v, grp_v = v.state, v.member_state, v.form, v.group
        r0, e0, i0, s0 = (np.flatnonzero(state == s) for s in (RECRUITED, EXPLOITED, IDENTIFIED, SUPPORTED))
        cell_e = ms_v[e0].astype(np.int64) * NF + form_v[e0]
        exploited = np.bincount(cell_e, minlength=n * NF).reshape(n, NF).astype(float)
        u = g.used
        g.held[:u] = np.bincount(grp_v[e0][grp_v[e0] >= 0], minlength=u)[:u]

        # 1. levers and shocks
        for lever in self.levers:
            if lever.active(self, t):
                lever.apply(self)

        # 2. demand
        self.demand.step(exploited)
        # 3. groups decide
        wanted = g.desired_recruits(self.demand.price, self.ident_hazard)
        attempts = g.attempts(wanted)
        # 4. recruitment
        self.recruitment.step_pools()
        owner = np.repeat(np.arange(u), attempts)
        attrs, ok = self.recruitment.draw(g.member_state[owner], g.form[owner], self.demand.sector_capacity)
        owner = owner[ok]
        n_recruits = np.bincount(owner, minlength=u)

        # 5. exploitation and money
        gms, gform = g.member_state[:u], g.form[:u]
        ref = self.demand.ref_revenue[gform]
        revenue = g.held[:u] * self.demand.price[gms, gform]
        profit = revenue - g.held[:u] * p["money.cost_share"] * ref
        opening = g.assets[:u].copy()
        recruit_spend = n_recruits * g.recruit_cost[gform]
        after = opening + profit - recruit_spend
        payout = p["money.payout_rate"] * np.maximum(after, 0.0)
        spending = recruit_spend + payout
        g.assets[:u] = after - payout

        # 6. detection
        p_ident, p_event, shares = self.enforcement.detection_tables()
        child = (t - v.birth_month[e0]) < ADULT_MONTHS
        key = v.hazard_key[e0].astype(np.int64) * 2 + (~child)
        rng_d = self.streams["detection"]
        draw = rng_d.random(e0.size)
        pid = p_ident[key]
        ident = draw < pid
        leave = ~ident & (draw < p_event[key])
        channel = np.full(e0.size, -1, np.int64)
        channel[ident] = 1 + stacked_choice(shares, key[ident], draw[ident] / pid[ident])
        raided = self.enforcement.raids(g)
        ge = grp_v[e0]
        orphan = (ge < 0) | ~g.alive[np.maximum(ge, 0)]
        hit = orphan | raided[np.maximum(ge, 0)] & (ge >= 0)
        hits = np.flatnonzero(hit)
        by_police = rng_d.random(hits.size) < p["police.raid_identifies"]
        police_rows = hits[by_police]
        ident[police_rows] = True
        leave[police_rows] = False
        channel[police_rows] = 0
        orphan_rows = hits[~by_police & orphan[hits]]
        leave[orphan_rows] = ~ident[orphan_rows]
        # identifications outside raids open investigations of the group
        non_raid = ident & (channel > 0) & (ge >= 0)
        n_ident_g = np.bincount(ge[non_raid], minlength=u)[:u]
        p_open = 1 - (1 - p["police.investigate_on_identification"]) ** n_ident_g
        opened = self.streams["justice"].random(u) < p_open
        investigated = (raided | opened) & g.alive[:u]
        self.ident_hazard = 0.8 * self.ident_hazard + 0.2 * (
            np.bincount(cell_e[non_raid], minlength=n * NF).reshape(n, NF) / np.maximum(exploited, 1.0)
        )

        # 7. justice
        suspects = self.enforcement.investigate(g, investigated)
        prosecuted, convicted = self.enforcement.courts(g)
        user_s, user_p, user_c = self.enforcement.prosecute_users(self.demand)
        # 8. finance
        frozen = self.finance.freeze(g, investigated, self.enforcement.finance_rate, self.enforcement.freeze_share,
                                     self.streams["finance"])
        confiscated = self.finance.decide()

        # 9. victims move on
        rng_v = self.streams["victims"]
        rows_ident, rows_leave = e0[ident], e0[leave]
        stay = e0[~ident & ~leave]
        v.months_exploited[stay] += 1
        state[rows_ident] = IDENTIFIED
        v.state_since[rows_ident] = t
        state[r0] = EXPLOITED
        v.state_since[r0] = t
        accept = rng_v.random(i0.size) < p["victims.accept_support"]
        state[i0[accept]] = SUPPORTED
        v.state_since[i0] = t
        draw_s = rng_v.random(s0.size)
        support_exit = draw_s < 1 / p["victims.support_months"]
        retraffic = ~support_exit & (draw_s < 1 / p["victims.support_months"] + p["victims.retrafficking_rate"])
        re_rows = s0[retraffic]
        new_group = self._pick_groups(ms_v[re_rows].astype(np.int64) * NF + form_v[re_rows], rng_v)
        re_rows, new_group = re_rows[new_group >= 0], new_group[new_group >= 0]
        state[re_rows] = RECRUITED
        grp_v[re_rows] = new_group
        v.state_since[re_rows] = t
        v.times_trafficked[re_rows] += 1
        v.months_exploited[re_rows] = 0
        registered = self._registered(rows_ident, rng_v)
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

        cells = (gms.astype(np.int64) * NF + gform)

        def by_cell(w):
            return np.bincount(cells, weights=w, minlength=n * NF).reshape(n, NF)

        def by_ms(w):
            return np.bincount(gms, weights=w, minlength=n)

        def vic(rows):
            return np.bincount(ms_v[rows].astype(np.int64) * NF + form_v[rows], minlength=n * NF).reshape(n, NF)

        identified_ms = vic(rows_ident)
        state_now, ms_now, form_now = v.state, v.member_state, v.form
        for name, s in (("victims_recruited", RECRUITED), ("victims_exploited", EXPLOITED),
                        ("victims_identified", IDENTIFIED), ("victims_supported", SUPPORTED)):
            m = state_now == s
            rec[name, t] = np.bincount(ms_now[m].astype(np.int64) * NF + form_now[m], minlength=n * NF).reshape(n, NF)
        rec["recruited", t] = np.bincount(attrs["member_state"].astype(np.int64) * NF + attrs["form"],
                                          minlength=n * NF).reshape(n, NF)
        rec["retrafficked", t] = vic(re_rows)
        rec["transit", t] = vic(r0)
        rec["identified", t] = identified_ms
        rec["exited_unidentified", t] = vic(rows_leave)
        rec["support_entered", t] = vic(i0[accept])
        rec["support_declined", t] = vic(i0[~accept])
        rec["support_exited", t] = vic(s0[support_exit])
        rec["identified_by_channel", t] = np.bincount(
            ms_v[rows_ident].astype(np.int64) * 5 + channel[ident], minlength=n * 5).reshape(n, 5)
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
        alive_u = g.alive[:u]
        rec["groups_active", t] = by_cell(alive_u)
        rec["group_members", t] = by_cell(np.where(alive_u, g.members[:u], 0))
        rec["groups_dismantled", t] = by_cell(np.isin(np.arange(u), dismantled))
        ent_cells = g.member_state[entrants].astype(np.int64) * NF + g.form[entrants]
        rec["groups_entered", t] = np.bincount(ent_cells, minlength=n * NF).reshape(n, NF)
        rec["entry_capital", t] = np.bincount(ent_cells, weights=g.assets[entrants], minlength=n * NF).reshape(n, NF)
        rec["group_revenue", t] = by_cell(revenue)
        rec["group_profit", t] = by_cell(profit)
        rec["group_spending", t] = by_cell(spending)
        rec["group_assets", t] = by_cell(np.where(alive_u, closing, 0.0)) + rec.data["entry_capital"][t]
        rec["assets_frozen", t] = by_cell(frozen)
        rec["assets_confiscated", t] = confiscated
        rec["users", t] = self.demand.users
        rec["knowing_users", t] = self.demand.knowing_users
        rec["employers_willing", t] = self.demand.employers.sum(axis=1)
        rec["price", t] = self.demand.price
        rec["demand_capacity", t] = self.demand.capacity
        rec["inspection_checks", t] = (self.demand.workers * self.enforcement.inspection_coverage).sum(axis=1)
        rec["social_cost", t] = self.ledger.month(identified_ms.sum(axis=1), suspects_ms, self.population_share)
        self.t += 1

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
