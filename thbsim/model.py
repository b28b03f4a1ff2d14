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

Each victim's transitions follow from its state at the start of the month, and steps 7 and 8 concern groups
only, so the victims' detection and moving on (6 and 9) are one pass over their rows (``kernels.victims_month``).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import mesa
import numpy as np
import pandas as pd

from thbsim.actors.demand import Demand
from thbsim.actors.enforcement import N_FORM_SECTOR, Enforcement
from thbsim.actors.traffickers import CrimeGroups
from thbsim.actors.victims import Recruitment, place_recruits
from thbsim.geography import DETECTION_CHANNELS, FORMS, LEVER_KINDS, geography
from thbsim.kernels import load as load_kernels
from thbsim.money import CostLedger, Finance
from thbsim.params import ParamSet
from thbsim.population import EXPLOITED, RECRUITED, SUPPORTED, Victims
from thbsim.recorder import Recorder
from thbsim.rng import Streams

ADULT_MONTHS = 18 * 12
NF = len(FORMS)
N_CHANNELS = len(DETECTION_CHANNELS)
USER_REPORT = DETECTION_CHANNELS.index("user_report")
POLICY_ARRAYS = {
    "enforcement": ("police_investigations", "inspection_coverage", "extra_coverage", "extra_hits", "targeting",
                    "recognition",
                    "referral_capacity",
                    "online_rate", "user_report_rate", "prosecution_rate", "conviction_rate", "finance_rate",
                    "freeze_share", "visibility"),
    "demand": ("offence", "user_detection_per_year", "user_penalty", "employer_fine", "users_base",
               "labour_demand_factor"),
    "recruitment": ("awareness", "pool_base", "online_share"),
    "support": ("accept", "exit_rate", "retrafficking", "health_cost"),
    "model": ("jit_share",),
}
"""The mechanisms levers and shocks may change; restored to the baseline at the start of every month."""
POLICE_DISMANTLING_MONTHS = 6
"""A group dismantled within this many months of an investigation was broken up by the police,
who then find its victims; the victims of a group that fell apart on its own are released."""
STOCKS_RECORDED = slice(RECRUITED, SUPPORTED + 1)
"""The victims' states in the order of the recorder's block "stocks" (recruited, exploited, identified, supported:
consecutive, so the month's write takes a view of the stocks, not a copy)."""
COMPACT_ABOVE = 1.25
"""In the warm-up, rows are compacted when the rows in use exceed this multiple of the rows still needed."""


class TraffickingModel(mesa.Model):
    """The thbsim model. Build it from a ``Scenario`` (or defaults), then ``run()``.

    ``kernels``: "auto" (numba when installed), "numpy" or "numba": which implementation runs the
    victim pass; all give the same result for the same seed (thbsim.kernels).
    """

    def __init__(self, scenario=None, *, seed: int | None = None, rng: Any = None, kernels: str = "auto",
                 **param_overrides: float) -> None:
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
        self.kernels = load_kernels(kernels)
        self._victim_rows_rng = self.kernels.generator_handle(self.streams["victim_rows"])  # for victims_month
        self.demand = Demand(p, geo, self.streams["demand"], kernels=self.kernels)
        self.demand.offence[geo.state_mask(list(scenario.users_offence))] = True
        self.demand.user_detection_per_year[:] = p["users.detection_per_year"]
        self.groups = CrimeGroups(p, n, self.streams["groups"], kernels=self.kernels)
        self.enforcement = Enforcement(p, geo, self.streams["justice"], kernels=self.kernels)
        self.recruitment = Recruitment(p, geo, self.streams["recruitment"], self.streams["pools"], self.kernels)
        self.victims = Victims(capacity=int(60000 * p["scale"]) + 1024, find_free=self.kernels.first_free)
        self.finance = Finance(p, n, self.streams["finance"], self.kernels)
        self.ledger = CostLedger(p)
        self.recorder = Recorder(len(self.months))
        # shocks (the context) act before levers (the policy response), whatever the file's order
        self.levers = sorted(scenario.levers, key=lambda lever: not lever.is_shock)
        self.ident_hazard = np.zeros((n, NF))
        # victims' support, per member state (levers change these)
        self.support = SimpleNamespace(
            accept=np.full(n, p["victims.accept_support"]), exit_rate=np.full(n, 1 / p["victims.support_months"]),
            retrafficking=np.full(n, p["victims.retrafficking_rate"]), health_cost=np.ones(n))
        self.jit_share = np.zeros(n)  # share of cross-border cases worked by joint investigation teams
        self.cross_border_share = np.zeros(n)  # share of exploited victims who are foreign (when teams work)
        self.lever_cost = np.zeros((n, len(LEVER_KINDS)))
        self._group_ms = np.zeros((6, n))  # the month's sums over groups by member state (kernels.group_records)
        self.warmup_months = max(0, self.month_index(scenario.output_from))  # rows are compacted only before
        self._initialise()
        self._baseline_policy = {(obj, name): getattr(self._policy_owner(obj), name).copy()
                                 for obj, names in POLICY_ARRAYS.items() for name in names}
        # (live array, baseline) pairs: policy arrays change in place, never rebound, so restoring is a copy each
        self._policy_restore = [(getattr(self._policy_owner(obj), name), saved)
                                for (obj, name), saved in self._baseline_policy.items()]
        self._policy_changed = False  # whether a lever or shock acted since the policy arrays were last restored

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
        self._prepare_recruitment()
        attrs = self.recruitment.draw(g.member_state[owner], g.form[owner], self.demand.sector_capacity)
        months = rng.geometric(1 / 24, owner.size) - 1
        place_recruits(self.victims, attrs, owner, 0, EXPLOITED, self.geo.n_states * NF, g.exploiting,
                       -np.minimum(months, 240), kernels=self.kernels)
        self.recruitment.pool[:] = np.round(self.recruitment.pool_base).astype(np.int64)
        self._stocks = self._state_histogram()

    # ------------------------------------------------------------------ run
    def run(self, progress=None) -> None:
        """Step to the end of the horizon."""
        while self.t < len(self.months):
            self.step()
            if progress is not None:
                progress(1)

    def _policy_owner(self, obj: str):
        return self if obj == "model" else getattr(self, obj)

    def _restore_policy(self) -> None:
        """Every policy array back to its baseline value; active levers then act on them."""
        for live, saved in self._policy_restore:
            np.copyto(live, saved)

    def market_margin(self) -> np.ndarray:
        """Expected margin per victim-month of a typical group, per (member state, form), in EUR:
        last month's price less operating cost and the expected losses of detection and confiscation
        (kernels.market_margin)."""
        p, enf, g, u = self.p, self.enforcement, self.groups, self.groups.used
        member_loss_factor = (p["groups.initial_members"] * p["police.suspects_per_member"] * p["police.detention"]
                              * p["groups.member_value_months"])
        return self.kernels.market_margin(
            g.alive[:u], g.member_state[:u], g.form[:u], g.assets[:u], self.demand.ref_revenue, self.demand.price,
            self.ident_hazard, enf.finance_rate, enf.freeze_share, self.cost_per_recruit, member_loss_factor,
            g.decision)

    def _prepare_recruitment(self) -> None:
        """This month's recruitment distribution (``Recruitment.prepare``) and ``cost_per_recruit``: EUR per
        successful recruit per (member state x form) cell. Attempts cost, so harder recruiting (prevention,
        awareness) makes each recruit dearer; it changes only when the distribution does."""
        rec = self.recruitment
        rec.prepare()
        ratio = self.p["recruit.success"] / np.maximum(rec.mean_success, 1e-9)
        self.cost_per_recruit = (self.groups.recruit_cost[None, :] * ratio.reshape(-1, NF)).ravel()

    def month_index(self, period: str) -> int:
        return int((pd.Period(period, "M") - self.months[0]).n)

    def step(self) -> None:
        t, p, g, v = self.t, self.p, self.groups, self.victims
        n = self.geo.n_states
        rec = self.recorder.data  # indicator -> array over months; the month's values are written in place
        self._compact_rows(t)
        # 1. levers and shocks act on the mechanisms (policy arrays start from the baseline each month; only
        # levers and shocks change them, so after a month in which none acted they hold it already)
        if self._policy_changed:
            self._restore_policy()
        self.lever_cost[:] = 0.0
        self._policy_changed = False
        for lever in self.levers:
            if lever.active(self, t):
                lever.apply(self)
                self._policy_changed = True
        enf, kern = self.enforcement, self.kernels
        # every victim's transition below is computed from its start-of-month state (kernels.victims_month), so a
        # victim changes state at most once a month
        u = g.used
        # 2a. some groups move to the member state where their business pays best (last month's view), with
        # their victims in transit and exploited: the stocks move now, the victims' rows in the victims' pass
        moved_rows, old_ms, moved_group = self._relocate_groups(t)
        if moved_rows.size:
            self.recorder.blocks["moves"][t] = kern.move_stocks(
                moved_rows, old_ms, g.member_state, g.form, g.in_transit, g.exploiting, NF, self._stocks).reshape(-1, n, NF)
        exploited = self._exploited_start = self._stocks[EXPLOITED].reshape(n, NF).astype(float)

        # 2. demand (employers see this month's inspection risk)
        self.demand.inspection_risk = enf.yearly_inspection_risk()
        self.demand.step(exploited)
        # 3. groups decide
        # (the at-risk pools move first: groups see how hard recruiting is this month)
        self.recruitment.step_pools()
        self._prepare_recruitment()
        # the victims each group holds (none for a dismantled group: they earn it nothing), its cell, a recruit's cost
        gcell, cost_per_recruit = kern.group_cells(g.alive[:u], g.exploiting[:u], g.member_state[:u], g.form[:u], NF,
                                                   self.cost_per_recruit, g.held[:u])
        wanted = g.desired_recruits(self.demand.price, self.ident_hazard, enf.finance_rate, enf.freeze_share,
                                    cost_per_recruit)
        # 4. recruitment (recruits are placed in rows at the end of the month)
        n_recruits = self.recruitment.recruits(wanted, gcell)
        owner = kern.owners(n_recruits)
        attrs = self.recruitment.draw(g.member_state[owner], g.form[owner], self.demand.sector_capacity)

        # 5. exploitation and money (opening assets, profit and spending go straight to the month's ledger)
        gms = g.member_state[:u]
        opening, profit, spending, frozen_ledger, closing = (g.ledger[k][:u] for k in g.LEDGER)
        revenue = kern.group_money(gms, g.form[:u], g.held[:u], g.assets[:u], self.demand.price,
                                   self.demand.ref_revenue, n_recruits, cost_per_recruit, p["money.cost_share"],
                                   p["money.payout_rate"], opening, profit, spending)

        # 6. detection: one uniform per exploited victim decides identification (by channel) or exit
        p_ident, p_event, shares = enf.detection_tables()
        raided = enf.raids(g)
        # knowing users detected where use is an offence; some of their cases lead to the victim
        # (drawn before the detection pass, which also collects the candidates those cases may find)
        user_s, user_p, user_c, found = enf.prosecute_users(self.demand)
        # 6 and 9. the victims' month, in one pass over their rows (kernels.victims_month): victims of groups that
        # moved follow them; the exploited are identified by a channel or leave: victims of raided groups, and of
        # groups dismantled last month (police find those of groups broken up by investigations; the others are
        # released), then the victims users' cases lead to; the groups' view of the identification hazard per cell
        # moves toward this month's identifications outside raids per victim exploited. Then victims move on
        # (support, exit, re-trafficking; recruits arrive), which nothing between here and step 9 looks at.
        # One 64-bit draw per victim row (slot) and month from the ``victim_rows`` stream, split into two
        # uniforms, whatever the row's state: a victim keeps the same draws in every scenario as long as it holds
        # the same row (common random numbers across scenarios)
        sup = self.support
        count_foreign = np.count_nonzero(self.jit_share) > 0  # what joint investigation teams need
        n_ident_g, rows_ident, re_rows, fl, by_channel, *foreign = kern.victims_month(
            v.fields(), v.used, self._victim_rows_rng, moved_group, g.member_state, g.form, N_FORM_SECTOR, t - ADULT_MONTHS, p_ident,
            p_event, shares, raided, g.alive[:u], g.died[:u], g.investigated_at[:u], POLICE_DISMANTLING_MONTHS,
            p["police.raid_identifies"], found, self._exploited_start[:, 0], USER_REPORT, self.ident_hazard, exploited,
            sup.accept, sup.exit_rate, sup.retrafficking, t, N_CHANNELS, g.in_transit, g.exploiting, count_foreign)
        # identifications outside raids open investigations of the group
        investigated = enf.open_investigations(g, n_ident_g, raided)

        # 7. justice: verdicts and decisions on earlier cases, then new suspects
        prosecuted, convicted, orphan_prosecuted, orphan_convicted = enf.courts(
            g, self._cross_border_boost(*foreign, u) if count_foreign else None)
        suspects = enf.investigate(g, investigated, t)
        # 8. finance
        frozen = self.finance.freeze(g, investigated, enf.finance_rate, enf.freeze_share)
        confiscated = self.finance.decide()

        # 9. victims moved on in step 6; supported victims trafficked again join a group of their cell (if it has
        # one): in transit again
        new_group = self._pick_groups(v.cell[re_rows], self.streams["retrafficking"]) if re_rows.size else re_rows
        retrafficked = kern.retraffick(re_rows, new_group, v.state, v.group, v.state_since, v.times_trafficked, v.cell,
                                       t, n * NF, g.in_transit)
        self._register(rows_ident, self.streams["registration"], rec["registered"][t])

        # flows by (member state, form), counted before released rows are reused by recruits (the six flows of
        # victims_month, in transit to support exited, are the recorder's block "victim_flows")
        blocks = self.recorder.blocks
        blocks["victim_flows"][t] = fl.reshape(-1, n, NF)

        # 10. groups grow, shrink, enter; costs and records
        dismantled = g.update_members(t)
        # members of dismantled groups keep what is left (or its debts); the ledger's frozen and closing assets
        kern.close_books(dismantled, g.assets[:u], spending, frozen, frozen_ledger, closing)
        entrants = g.entry(self.demand.capacity, exploited, self.market_margin(), t)
        recruited = place_recruits(v, attrs, owner, t, RECRUITED, n * NF, g.in_transit, kernels=self.kernels)[1]
        # stocks per (state, cell) carried forward by the month's flows (tests recount them from the rows)
        kern.update_stocks(self._stocks, recruited, retrafficked, fl)

        # sums over groups (kernels.group_records), written into the month's records: by member state (investigated,
        # raided, assets frozen, suspects, prosecuted, convicted); by the cells of step 3, after relocation (dismantled,
        # revenue, profit, spending, assets frozen: the block "group_flows"; rows entrants took over since carried no
        # amounts this month); living groups, members and assets after entry (the block "group_stocks"); entrants
        by_ms, u2 = self._group_ms, g.used
        kern.group_records(gms, gcell, investigated, raided, frozen, suspects, prosecuted, convicted, dismantled, revenue,
                           profit, spending, g.alive[:u2], g.member_state[:u2], g.form[:u2], g.members[:u2], g.assets[:u2],
                           entrants, NF, by_ms, blocks["group_flows"][t].reshape(5, -1),
                           blocks["group_stocks"][t].reshape(3, -1), rec["groups_entered"][t].reshape(-1),
                           rec["entry_capital"][t].reshape(-1))
        blocks["stocks"][t] = self._stocks[STOCKS_RECORDED].reshape(-1, n, NF)
        rec["recruited"][t] = recruited.reshape(n, NF)
        rec["retrafficked"][t] = retrafficked.reshape(n, NF)
        rec["identified_by_channel"][t] = by_channel.reshape(n, N_CHANNELS)
        rec["price"][t] = self.demand.price
        rec["demand_capacity"][t] = self.demand.capacity
        # the records by member state (the block "by_member_state": justice, users, employers, inspections) and the
        # social cost, from this month's sums (kernels.record_month)
        demand, costs = self.demand, self.ledger
        kern.record_month(blocks["by_member_state"][t], rec["social_cost"][t], by_ms, orphan_prosecuted, orphan_convicted,
                          user_s, user_p, user_c, confiscated, demand.users, demand.knowing_users, demand.employers,
                          demand.workers, enf.inspection_coverage, enf.extra_coverage, fl[1], NF, self.population_share,
                          self.support.health_cost, costs.coordination_month, costs.per_suspect, costs.victim_rates,
                          costs.health_column)
        if self.levers:  # what the levers' costs count this month
            self._month = SimpleNamespace(
                user_suspects=user_s, user_prosecutions=user_p, identified=by_channel.reshape(n, N_CHANNELS),
                investigations=by_ms[0], frozen_groups=by_ms[2],
                supported=self._stocks[SUPPORTED].reshape(n, NF).sum(axis=1), checks=rec["inspection_checks"][t])
            for lever in self.levers:
                if lever.active(self, t):
                    self.lever_cost[:, LEVER_KINDS.index(lever.kind)] += lever.cost(self)
            rec["lever_cost"][t] = self.lever_cost
        self.t += 1
        self.running = self.t < len(self.months)  # mesa's batch_run stops at the end of the horizon

    def _compact_rows(self, t: int) -> None:
        """Drop the rows of victims and groups that left, when they have come to outnumber the living
        by ``COMPACT_ABOVE`` (the warm-up's early fall): per-row work follows the living.

        Only during the warm-up (before ``output_from``): a scenario whose levers start later then
        keeps the baseline's rows, and with them its per-row draws (common random numbers).
        """
        if t >= self.warmup_months:
            return
        v, g = self.victims, self.groups
        if v.used > 1024 and v.used > COMPACT_ABOVE * self._stocks[1:].sum():
            v.compact()
        u = g.used
        if u < 256 or u <= COMPACT_ABOVE * np.count_nonzero(g.alive[:u]):  # every living group keeps its row
            return
        # rows still needed: living groups, groups whose victims are dealt with this month, groups that
        # hold victims (in transit or exploited); identified and supported victims lose their group's row
        holding = (v.state == RECRUITED) | (v.state == EXPLOITED)
        named = np.bincount(v.group[holding], minlength=u)[:u] > 0
        keep = np.flatnonzero(g.alive[:u] | (g.died[:u] >= t - 1) | named
                              | (g.pending_decision[:u] > 0) | (g.pending_trial[:u] > 0))
        if u > COMPACT_ABOVE * keep.size:
            new_row = g.compact(keep)
            g.compacted_at, g.last_compaction = t, new_row
            in_system = v.group >= 0
            v.group[in_system] = new_row[v.group[in_system]]

    def _relocate_groups(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Groups that move this month: their rows, old member states, and a flag per group row (one more,
        False, for the index -1 of rows without a group)."""
        g = self.groups
        flag = np.zeros(g.used + 1, bool)
        if t == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int16), flag
        rows, old = g.relocate(self.market_margin(), self.demand.capacity)
        flag[rows] = True
        return rows, old, flag

    def _cross_border_boost(self, foreign_by_group: np.ndarray, foreign_by_ms: np.ndarray, exploited_by_ms: np.ndarray,
                            u: int):
        """Per group, the factor on prosecution and conviction from joint investigation teams, from the foreign
        victims among those exploited at the start of the month (per group and member state, counted by
        ``kernels.victims_month`` when teams work; where none does, the step passes no factor and the baseline
        draws stay untouched)."""
        g = self.groups
        self.cross_border_share = foreign_by_ms / np.maximum(exploited_by_ms, 1)
        share = foreign_by_group[:u] / np.maximum(g.held[:u], 1)
        return 1 + self.p["lever.jit.effect"] * self.jit_share[g.member_state[:u]] * share

    def _state_histogram(self) -> np.ndarray:
        """Victims per (state, member state x form) cell, from the arrays (one pass)."""
        v = self.victims
        ncell = self.geo.n_states * NF
        idx = v.state.astype(np.int32) * ncell + v.cell
        return np.bincount(idx, minlength=5 * ncell).reshape(5, ncell)

    # ------------------------------------------------------------------ helpers
    def _pick_groups(self, cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random active group of each victim's (member state, form) cell; -1 where there is none."""
        g, u = self.groups, self.groups.used
        return self.kernels.pick_in_cell(g.alive[:u], g.member_state[:u], g.form[:u], NF, self.geo.n_states * NF, cell,
                                         rng.random(cell.size))

    def _register(self, rows: np.ndarray, rng: np.random.Generator, out: np.ndarray) -> None:
        """Count this month's registered victims into ``out`` (the month's slice of the recorded
        indicator) by member state, recorded form, sex, age and citizenship."""
        v = self.victims
        self.kernels.register(out.reshape(-1), rows, rng.random(rows.size), self.p["victims.form_unrecorded"], v.form,
                              v.member_state, v.sex, v.birth_month, v.citizenship, self.t, ADULT_MONTHS, NF,
                              self.geo.n_origins)

    def results_table(self) -> pd.DataFrame:
        first = max(0, self.month_index(self.scenario.output_from))
        return self.recorder.table(self.months, first)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Free the model's memory now (arrays, records, generators); the model cannot be used afterwards.

        Mesa keeps references from a model to itself (its step wrapper holds the model's bound methods), so
        a model nobody uses any more is freed only when Python's cyclic garbage collector next runs a full
        collection, which can be many models later: a worker running model after model would hold several,
        each with its arrays and records (some 100 MB at full scale). Dropping the model's attributes breaks
        the cycle, whatever Mesa version made it. thbsim's runners close each model once its results are taken.
        """
        self.__dict__.clear()
        self.running = False  # a loop over ``running`` (Mesa's batch_run) stops

    def __enter__(self) -> TraffickingModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
