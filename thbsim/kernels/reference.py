"""Kernels of the monthly step in plain numpy: the reference every compiled kernel must match exactly.

Each function is one block of the step over victim or group rows. Most draw no random numbers: the
model draws them and passes them in, so a compiled kernel given the same inputs returns the same
outputs, bit for bit. Those given a generator (``victims_month``: one 64-bit word per victim row and month,
two 32-bit uniforms, ``split_uniforms``; ``open_investigations``, ``investigate``, ``member_changes``,
``relocate_groups``, ``freeze_assets``, ``group_courts`` and ``courts`` uniforms; ``entrants``, ``pooled_courts``,
``user_cases``, ``turnover`` and demand's numpy's binomials and Poisson counts; ``recruit_attributes``) draw from
it in an order the compiled versions repeat. Small binomial and Poisson counts are drawn by
inversion (``binomial_inversion``; ``poisson_at``, by this module's ``poisson_inversion``) with arithmetic both
versions do alike.

The functions outside ``__all__`` (``census``, ``follow_groups``, ``detect_month`` with ``detect``,
``identify_through_users`` and ``user_report_candidates``, ``move_on``) are the steps of ``victims_month`` here,
one array operation at a time; the compiled ``victims_month`` does them in one pass over the rows.
"""

from __future__ import annotations

import numpy as np

from thbsim.actors.enforcement import hazard_key
from thbsim.actors.traffickers import NEVER_INVESTIGATED
from thbsim.actors.victims import stacked_choice
from thbsim.population import EXPLOITED, FREE, IDENTIFIED, RECRUITED, SUPPORTED, first_free

__all__ = ["victims_month", "move_stocks", "first_free", "pick_lowest", "recruit_attributes",
           "desired_recruits", "entry_means", "entrants", "freeze_assets", "group_money", "market_margin", "investigate",
           "open_investigations", "courts",
           "group_courts", "pooled_courts", "user_cases", "member_changes", "group_records", "group_cells", "close_books",
           "record_month",
           "turnover", "demand_turnover",
           "demand_month", "write_recruits", "stratum_cdf", "split_uniforms", "raid_hazard", "pick_in_cell", "relocate_groups",
           "register", "free_group_rows", "write_groups", "binomial_inversion", "poisson_band", "poisson_at",
           "member_join_draws", "recruit_draws", "raids_decided", "retraffick", "update_stocks", "owners",
           "generator_handle", "user_case_cuts"]
MAX_INVERSION_N = 1000
"""Largest count a binomial drawn by inversion may have (so that (1 - p)^n, p <= 1/2, stays a normal double)."""
MAX_INVERSION_MEAN = 500.0
"""Largest Poisson mean drawn by inversion (so that exp(-mean) stays a normal double)."""
TWO_TO_MINUS_32 = 2.0**-32
EXP_MARGIN = 2.0**-30
"""How far a uniform must lie from a bound on exp(-x) to be decided without it: any exp numpy may use
(glibc's, within an ulp; SVML's on AVX-512, within four) errs by far less (``poisson_band``, ``raid_hazard``)."""


def generator_handle(rng: np.random.Generator) -> np.random.Generator:
    """What the kernels that draw are given for ``rng``: the generator itself (the compiled kernels' handle
    holds it unboxed)."""
    return rng


def split_uniforms(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two uniforms on [0, 1) with 32 bits each from every 64-bit word (high half, low half)."""
    return (raw >> np.uint64(32)) * TWO_TO_MINUS_32, (raw & np.uint64(0xFFFFFFFF)) * TWO_TO_MINUS_32


def victims_month(fields, n_rows: int, rng, moved_group, group_member_state, group_form, n_form_sector: int,
                  adult_born_by: int,
                  p_ident, p_event, shares, raided, alive, died, investigated_at, police_months: int,
                  raid_identifies: float, found, stock, user_report: int, ident_hazard, exploited, accept, exit_rate,
                  retrafficking, t: int, n_channels: int, in_transit, exploiting, count_foreign: bool):
    """The victims' month after the groups' decisions, each victim from its start-of-month state and the month's
    64-bit word of its row (``rng``'s ``random_raw``, one per row in use, two uniforms each): those in transit
    or exploited whose group moved (``moved_group``, one more entry, False, for rows without a group) follow it
    to its member state (``group_member_state``; their cell and detection stratum change with it; ``group_form``,
    each group's form, is where the compiled version finds a group's victims' cell before they move); the exploited
    are identified (by channel) or leave (``detect_month``: raids, dismantled groups, users' cases); then every
    victim moves on (``move_on``). ``fields`` are the victims' arrays (``Victims.fields()``), ``n_rows`` the rows
    in use; the victims in transit and exploited per group (``in_transit``, ``exploiting``) follow in place.

    Returns the identifications outside raids per group, the identified rows, the supported victims to be
    trafficked again, ``move_on``'s flows per cell and identifications per member state and channel; and where
    ``count_foreign``, the exploited at the start of the month who are foreign, per group and per member state,
    and the exploited per member state (empty arrays otherwise)."""
    (state, citizenship, member_state, _sex, birth_month, form, sector, channel, group, cell, exploited_since,
     months_exploited, state_since, _times_trafficked, hazard_key_) = (f[:n_rows] for f in fields)
    n_states, n_forms = ident_hazard.shape
    n_groups = alive.size
    raw = rng.bit_generator.random_raw(n_rows)
    r0, e0, i0, s0, _, ge, moving = census(state, group, alive, moved_group, bool(moved_group.any()))
    follow_groups(moving, group, group_member_state, member_state, cell, hazard_key_, form, sector, channel, n_forms)
    if count_foreign:
        ms_e = member_state[e0]
        foreign = citizenship[e0] != ms_e
        counts = (np.bincount(ge[foreign], minlength=n_groups), np.bincount(ms_e[foreign], minlength=n_states),
                  np.bincount(ms_e, minlength=n_states))
    else:
        counts = (np.zeros(0, np.int64),) * 3
    ident, leave, channel_found, by_group, _, looked = detect_month(
        found, stock, n_forms, e0, ge, hazard_key_, birth_month, adult_born_by, p_ident, p_event, shares, raw, raided,
        alive, died, investigated_at, police_months, raid_identifies, cell, n_groups, n_states * n_forms, member_state,
        user_report, ident_hazard, exploited)
    rows_ident, re_rows, flows, by_channel = move_on(
        state, state_since, exploited_since, months_exploited, group, cell, member_state, r0, e0, i0, s0, ident, leave,
        looked, raw, accept, exit_rate, retrafficking, t, n_states * n_forms, channel_found, n_states, n_channels)
    size = exploiting.size
    into_exploitation = np.bincount(group[r0], minlength=size)
    in_transit -= into_exploitation
    exploiting += into_exploitation - np.bincount(ge[ident | leave], minlength=size)
    return (by_group, rows_ident, re_rows, flows, by_channel, *counts)


def follow_groups(moving, group, group_member_state, member_state, cell, hazard_key_, form, sector, channel,
                  n_forms: int) -> None:
    """Victims in transit or exploited whose group moved (``moving``, from ``census``) follow it to its member
    state: their member state, cell and detection stratum (``hazard_key``) change in place."""
    new_ms = group_member_state[group[moving]]
    f = form[moving]
    member_state[moving] = new_ms
    cell[moving] = new_ms * n_forms + f
    hazard_key_[moving] = 2 * hazard_key(new_ms, f, sector[moving], channel[moving])


def move_stocks(moved_groups, old_member_state, group_member_state, group_form, in_transit, exploiting, n_forms: int,
                stocks):
    """The groups that moved this month (``moved_groups``, from ``old_member_state``) take their victims in transit
    and exploited (``in_transit``, ``exploiting`` per group: a group's victims are in its cell) to their new cells:
    the stocks per state and cell (``stocks``) change in place. Returns the month's moves per cell (6 x cells):
    victims in transit moved out and in, exploited victims moved out and in, groups moved out and in."""
    n_cells = stocks.shape[1]
    f = group_form[moved_groups].astype(np.int64)
    old = old_member_state.astype(np.int64) * n_forms + f
    new = group_member_state[moved_groups].astype(np.int64) * n_forms + f
    out = []
    for count in (in_transit[moved_groups], exploiting[moved_groups], np.ones(moved_groups.size, np.int64)):
        out += [np.bincount(old, weights=count, minlength=n_cells), np.bincount(new, weights=count, minlength=n_cells)]
    moved = np.stack(out).astype(np.int64)
    stocks[RECRUITED] += moved[1] - moved[0]
    stocks[EXPLOITED] += moved[3] - moved[2]
    return moved


def census(state: np.ndarray, group: np.ndarray, alive: np.ndarray, moved_group: np.ndarray, any_moved: bool):
    """Rows by state at the start of the month (recruited, exploited, identified, supported),
    exploited victims per group (0 for the groups not ``alive``: their victims earn them nothing), the group of
    each exploited victim (``ge``, aligned with ``e0``), and the rows in transit or exploited whose group is
    flagged in ``moved_group`` (those in transit first; none unless ``any_moved``): the victims who follow their
    group to another member state."""
    r0, e0, i0, s0 = (np.flatnonzero(state == s) for s in (RECRUITED, EXPLOITED, IDENTIFIED, SUPPORTED))
    ge = group[e0]
    held = np.bincount(ge, minlength=alive.size)[:alive.size]
    held[~alive] = 0
    moving = np.concatenate([r0[moved_group[group[r0]]], e0[moved_group[ge]]]) if any_moved else np.zeros(0, np.int64)
    return r0, e0, i0, s0, held, ge, moving


def detect(e0, ge, hazard_key, birth_month, adult_born_by, p_ident, p_event, shares, raw,
           hit_group, police_group, dead_group, raid_identifies, cell, n_groups: int, n_cells: int, cut_by_cell,
           member_state):
    """Identification (and its channel) or exit of each exploited victim.

    The row's first uniform (``split_uniforms(raw)``) decides identification, exit or neither
    from the victim's detection stratum and, reused within the identification band, the channel.
    Victims of groups hit by the police (``police_group``) are found with ``raid_identifies``
    (second uniform); those of groups that fell apart on their own are released.
    Returns ``ident``, ``leave`` (booleans over ``e0``) and ``channel`` (0 police), and the
    identifications outside raids (they open investigations) per group and per cell (``cell`` of
    each victim row); ``looked``, the positions in ``e0`` of the victims something may happen to (first
    uniform below the largest event probability, group hit, or second uniform below the cell's cut: those
    identified or leaving, here or through users' cases, are among them); then, in the same pass, the
    candidates of users' cases below ``cut_by_cell`` (``user_report_candidates``: positions in ``e0``,
    member states, uniforms).
    """
    u0, u1 = split_uniforms(raw[e0])
    key = hazard_key[e0] + (birth_month[e0] <= adult_born_by)
    draw = u0
    pid = p_ident[key]
    ident = draw < pid
    leave = (draw < p_event[key]) & ~ident
    channel = np.zeros(e0.size, np.int8)
    found = np.flatnonzero(ident)
    channel[found] = 1 + stacked_choice(shares, key[found], draw[found] / pid[found])
    hits = np.flatnonzero(hit_group[ge])
    by_police = police_group[ge[hits]] & (u1[hits] < raid_identifies)
    police_rows = hits[by_police]
    ident[police_rows] = True
    leave[police_rows] = False
    channel[police_rows] = 0
    released = hits[~by_police & dead_group[ge[hits]]]
    leave[released] = ~ident[released]
    non_raid = ident & (channel > 0)
    p_max = max(_largest(p_event), _largest(p_ident))
    looked = np.flatnonzero((u0 < p_max) | hit_group[ge] | (u1 < cut_by_cell[cell[e0]]))
    return (ident, leave, channel, np.bincount(ge[non_raid], minlength=n_groups)[:n_groups],
            np.bincount(cell[e0[non_raid]], minlength=n_cells), looked,
            *user_report_candidates(e0, ident, cell, member_state, raw, cut_by_cell))


def _largest(x: np.ndarray) -> float:
    """The largest number in ``x`` that compares (NaN never does); -inf if none."""
    return float(np.max(x, initial=-np.inf, where=~np.isnan(x)))


def move_on(state, state_since, exploited_since, months_exploited, group, cell, member_state,
            r0, e0, i0, s0, ident, leave, looked, raw, accept, exit_rate, retrafficking, t: int, n_cells: int,
            channel, n_states: int, n_channels: int):
    """Victims change state once a month, from their start-of-month state: exploited victims
    identified or gone, recruits arrive, identified victims accept support or leave, supported
    victims exit or become candidates for re-trafficking (each on its row's first uniform). Rows of
    victims who left are freed.

    ``looked`` (from ``detect``) holds at least the positions in ``e0`` of every victim identified or
    leaving; the compiled version visits only those, this one every position.

    Returns the identified rows, the re-trafficking candidates, the flows per cell
    (transit, identified, exited_unidentified, support_entered, support_declined, support_exited)
    and the identified per member state and detection channel (``channel``, aligned with ``e0``).
    """
    rows_ident, rows_leave = e0[ident], e0[leave]
    ended = np.concatenate([rows_ident, rows_leave])
    months_exploited[ended] += (t - exploited_since[ended]).astype(np.int16)
    state[rows_ident] = IDENTIFIED
    state_since[rows_ident] = t
    state[r0] = EXPLOITED
    state_since[r0] = t
    exploited_since[r0] = t
    accepted = split_uniforms(raw[i0])[0] < accept[member_state[i0]]
    state[i0[accepted]] = SUPPORTED
    state_since[i0] = t
    draw_s = split_uniforms(raw[s0])[0]
    ms_s = member_state[s0]
    support_exit = draw_s < exit_rate[ms_s]
    retraffic = ~support_exit & (draw_s < exit_rate[ms_s] + retrafficking[ms_s])
    flows = np.stack([np.bincount(cell[rows], minlength=n_cells) for rows in
                      (r0, rows_ident, rows_leave, i0[accepted], i0[~accepted], s0[support_exit])])
    released = np.concatenate([rows_leave, i0[~accepted], s0[support_exit]])
    state[released] = FREE
    group[released] = -1
    by_channel = np.bincount(member_state[rows_ident].astype(np.int64) * n_channels + channel[ident],
                             minlength=n_states * n_channels)
    return rows_ident, s0[retraffic], flows, by_channel


def retraffick(rows, new_group, state, group, state_since, times_trafficked, cell, t: int, n_cells: int,
               in_transit) -> np.ndarray:
    """Supported victims trafficked again (``rows``, from ``victims_month``) join the group picked for them
    (``new_group``; -1 where their cell has none: they stay supported): in transit again since ``t``, once more
    trafficked, one more of their group's victims in transit (``in_transit``). Changes the rows in place; returns
    those trafficked again per cell."""
    taken = new_group >= 0
    rows, new_group = rows[taken], new_group[taken]
    in_transit += np.bincount(new_group, minlength=in_transit.size)
    state[rows] = RECRUITED
    group[rows] = new_group
    state_since[rows] = t
    times_trafficked[rows] += 1
    return np.bincount(cell[rows], minlength=n_cells)


def update_stocks(stocks, recruited, retrafficked, flows) -> None:
    """Victims per (state, cell) carried forward in place by the month's flows: ``recruited``, ``retrafficked``
    and ``victims_month``'s ``flows`` (in transit, identified, exited unidentified, entered support, declined it,
    left it). Moves between member states are counted where they happen (``move_stocks``)."""
    transit, identified, exited, entered, declined, left = flows
    stocks[RECRUITED] += recruited + retrafficked - transit
    stocks[EXPLOITED] += transit - identified - exited
    stocks[IDENTIFIED] += identified - entered - declined
    stocks[SUPPORTED] += entered - left - retrafficked


def user_report_candidates(e0, ident, cell, member_state, raw, cut_by_cell):
    """Exploited victims not identified this month whose second uniform is below the ``cut_by_cell`` of
    their (member state x form) cell (negative where none is wanted: cells of other forms, member states
    without cases): positions in ``e0``, member states, uniforms."""
    u = split_uniforms(raw[e0])[1]
    cand = np.flatnonzero(~ident & (u < cut_by_cell[cell[e0]]))
    return cand, member_state[e0[cand]], u[cand]


def detect_month(found, stock, n_forms, e0, ge, hazard_key, birth_month, adult_born_by, p_ident, p_event, shares, raw,
                 raided, alive, died, investigated_at, police_months, raid_identifies, cell, n_groups, n_cells,
                 member_state, user_report, ident_hazard, exploited):
    """The month's identifications and exits of exploited victims in one call: ``user_case_cuts`` of the users' cases
    that found a victim (``found`` per member state, ``stock`` of victims in sexual exploitation at the start of the
    month), ``detect``, then ``identify_through_users``. The groups hit are those ``raided`` and those dismantled
    (not ``alive``); police find the victims of those raided and of those dismantled within ``police_months`` of
    an investigation (``died``, ``investigated_at``), the others are released. Returns ``ident``, ``leave``,
    ``channel`` (over ``e0``), the identifications outside raids per group and per cell, and the positions
    decided in full (``looked``). The groups' view of the identification hazard per cell (``ident_hazard``,
    member state x form) moves a fifth of the way to this month's identifications outside raids per victim
    ``exploited`` at the start of the month, in place."""
    dead_group = ~alive
    police_broke = dead_group & (died - investigated_at <= police_months)
    hit_group, police_group = raided | dead_group, raided | police_broke
    cut_by_cell = user_case_cuts(found, stock, n_forms)
    ident, leave, channel, by_group, by_cell, looked, cand, cand_ms, cand_u = detect(
        e0, ge, hazard_key, birth_month, adult_born_by, p_ident, p_event, shares, raw, hit_group, police_group,
        dead_group, raid_identifies, cell, n_groups, n_cells, cut_by_cell, member_state)
    looked = identify_through_users(found, cut_by_cell, cand, cand_ms, cand_u, e0, ge, ident, leave, channel, raw, cell,
                                    member_state, by_group, by_cell, looked, user_report)
    ident_hazard[:] = 0.8 * ident_hazard + 0.2 * (by_cell.reshape(ident_hazard.shape) / np.maximum(exploited, 1.0))
    return ident, leave, channel, by_group, by_cell, looked


def pick_lowest(ms, u, found, n_states: int) -> np.ndarray:
    """Positions of the ``found[s]`` candidates with the lowest ``u`` in each member state ``s`` (all of
    them where there are fewer), by member state, then ``u``; equal ``u`` by position."""
    order = np.lexsort((u, ms))  # by member state, then the per-victim uniform (a stable sort)
    ms_sorted = ms[order]
    start = np.searchsorted(ms_sorted, np.arange(n_states))
    rank = np.arange(order.size) - start[ms_sorted]
    return order[rank < found[ms_sorted]]


def user_case_cuts(found, stock, n_forms: int) -> np.ndarray:
    """Per (member state x form) cell, flat: the cut-off below which an exploited victim's second uniform makes
    them a candidate of this month's users' cases (``found`` per member state); -1 where none is wanted.

    Only the lowest draws of each member state can be picked: the candidates are those below a margin above
    the cut-off expected from the start-of-month stock of victims in sexual exploitation (``stock`` per member
    state, which bounds them), in that form (form 0); ``identify_through_users`` widens the cut where that
    leaves too few."""
    cut = np.full((found.size, n_forms), -1.0)
    if found.any():
        cut[:, 0] = np.where(found > 0, (2 * found + 16) / np.maximum(stock, 1), -1.0)
    return cut.ravel()


def identify_through_users(found, cut_by_cell, cand, cand_ms, cand_u, e0, ge, ident, leave, channel, raw, cell,
                           member_state, by_group, by_cell, looked, user_report: int) -> np.ndarray:
    """The victims users' cases lead to (``found`` per member state): that many sexual-exploitation victims of
    the member state not found this month, those with the lowest second uniforms, are identified through
    channel ``user_report`` (``ident``, ``leave``, ``channel`` over ``e0``, in place) and counted in the
    identifications outside raids per group and per cell (``by_group``, ``by_cell``, in place).

    ``cand``, ``cand_ms``, ``cand_u`` are the candidates below ``cut_by_cell`` (flat, per cell) that the
    detection pass collected; where that leaves too few in a member state and its cut-off left some out
    (below 1), its cut is widened to take every victim (in place) and the candidates are collected again.

    Returns ``looked`` (``detect``'s positions decided in full, ascending) with the positions of the victims
    identified here added (only candidates collected again can lie outside it)."""
    if not found.any():
        return looked
    n = found.size
    n_forms = cut_by_cell.size // n
    short = (np.bincount(cand_ms, minlength=n) < found) & (cut_by_cell[::n_forms] < 1.0)
    if short.any():
        cut_by_cell[np.flatnonzero(short) * n_forms] = 2.0
        cand, cand_ms, cand_u = user_report_candidates(e0, ident, cell, member_state, raw, cut_by_cell)
    pick = cand[pick_lowest(cand_ms, cand_u, found, n)]
    ident[pick] = True
    leave[pick] = False
    channel[pick] = user_report
    by_group += np.bincount(ge[pick], minlength=by_group.size)
    by_cell += np.bincount(cell[e0[pick]], minlength=by_cell.size)
    # candidates collected again may lie outside detect's looked: add the victims identified
    return np.union1d(looked, pick) if short.any() else looked


def recruit_attributes(rng, cdf, member_state, form, sector_capacity, ages, online_share, pool, n_sex: int, n_age: int,
                       labour: int):
    """Attributes of one recruit per entry of ``member_state``/``form``, from uniforms drawn from ``rng`` first,
    in this order: one per recruit for the stratum, an age in years for each as a child and as an adult
    (``ages``: children from ``ages[0]``, adults from ``ages[1]``, each below the next), one per labour recruit
    (in order) for the sector, one per recruit for online recruitment.

    The stratum (origin x sex x age) comes from the cell's row of ``cdf``, the labour sector from the
    member state's row of the cumulative ``sector_capacity`` (normalised), online recruitment from the
    form's ``online_share``. The recruits leave their strata's pools (``pool`` changes in place, floored at 0).
    Returns origin, sex, age in years, sector (-1 outside labour) and channel.
    """
    k = member_state.size
    u_stratum = rng.random(k)
    age_child, age_adult = rng.integers(ages[0], ages[1], k), rng.integers(ages[1], ages[2], k)
    u_sector = rng.random(np.count_nonzero(form == labour))
    u_channel = rng.random(k)
    sector_cdf = np.cumsum(sector_capacity, axis=1)
    sector_cdf /= np.maximum(sector_cdf[:, -1:], 1e-300)
    n_forms = online_share.size
    row = member_state.astype(np.int64) * n_forms + form
    stratum = stacked_choice(cdf, row, u_stratum)
    origin, rest = np.divmod(stratum, n_sex * n_age)
    sex, age = np.divmod(rest, n_age)
    taken = np.bincount(stratum, minlength=pool.size).reshape(pool.shape)
    np.subtract(pool, taken, out=pool)
    np.maximum(pool, 0, out=pool)
    years = np.where(age == 0, age_child, age_adult)
    sector = np.full(member_state.size, -1, np.int64)
    lab = np.flatnonzero(form == labour)
    sector[lab] = stacked_choice(sector_cdf, member_state[lab].astype(np.int64), u_sector)
    channel = (u_channel < online_share[form]).astype(np.int8)
    return origin, sex, years, sector, channel


def desired_recruits(alive, member_state, form, members, assets, held, raid_hazard, ref_revenue, price, ident_hazard,
                     finance_rate, freeze_share, cost_per_recruit, c):
    """Each group's profitability (margin over reference revenue) and the recruits it wants this month
    (0 for dead groups); ``c`` holds the scalar parameters (``thbsim.actors.traffickers.DecisionParams``).
    See ``CrimeGroups.desired_recruits`` for the rule."""
    ref = ref_revenue[form]
    ms = member_state
    assets_pos = np.maximum(assets, 0.0)
    member_value = c.member_value_months * ref
    per_investigation = (
        members * c.suspects_per_member * c.detention * member_value
        + finance_rate[ms] * freeze_share[ms] * assets_pos
    )
    lam = ident_hazard[ms, form]
    loss_per_victim = lam * (cost_per_recruit + c.investigate_on_identification * per_investigation)
    loss_per_victim += raid_hazard * per_investigation / np.maximum(held, 1)
    margin = price[ms, form] - c.cost_share * ref - c.risk_aversion * loss_per_victim
    x = np.maximum(margin, 0.0) / ref
    desired = members * c.victims_per_member * x / (x + 0.25)
    gap = np.maximum(desired - held, 0.0) * c.adjust_rate
    affordable = assets_pos / cost_per_recruit
    return x, np.where(alive, np.minimum(gap, affordable), 0.0)


def group_money(member_state, form, held, assets, price, ref_revenue, n_recruits, cost_per_recruit, cost_share,
                payout_rate, opening, profit, spending):
    """The month's money of each group: revenue from the victims it holds at this month's price, profit
    after operating cost, recruitment spending and the payout to members (a share of what is left).
    Writes ``opening``, ``profit`` and ``spending`` (the ledger's rows), updates ``assets`` in place and
    returns the revenue."""
    ref = ref_revenue[form]
    revenue = held * price[member_state, form]
    profit[:] = revenue - held * cost_share * ref
    opening[:] = assets
    recruit_spend = n_recruits * cost_per_recruit
    after = opening + profit - recruit_spend
    payout = payout_rate * np.maximum(after, 0.0)
    spending[:] = recruit_spend + payout
    assets[:] = after - payout
    return revenue


def entry_means(margin, capacity, exploited, ref_revenue, hurdle: float, group_size: float, entry_rate: float):
    """Expected new groups per (member state, form) this month: per form, ``entry_rate`` x the unmet demand
    (in groups of ``group_size`` victims) weighted by how far the margin (``margin`` / reference revenue)
    clears ``hurdle``; spread over member states in proportion to demand x that excess squared."""
    above = np.clip(margin / ref_revenue[None, :] - hurdle, 0.0, 1.0)
    unmet = np.maximum(capacity - exploited, 0.0) / group_size
    total = entry_rate * (unmet * above).sum(axis=0)  # per form
    where = capacity * above**2
    share = where / np.maximum(where.sum(axis=0, keepdims=True), 1e-300)
    return total[None, :] * share


def entrants(rng, margin, capacity, exploited, ref_revenue, hurdle: float, group_size: float, entry_rate: float,
             initial_members: float, min_members: float, start_capital_months: float):
    """New groups this month: how many per (member state, form) cell, Poisson with ``entry_means``, then each
    new group's members (2 + Poisson(``initial_members`` - 2), at least ``min_members``) and start capital
    (``start_capital_months`` x 4 x the form's reference revenue). Draws from ``rng``: the counts of every
    cell (C order), then the members of every new group. Returns member state, form, members, assets."""
    n_new = rng.poisson(entry_means(margin, capacity, exploited, ref_revenue, hurdle, group_size, entry_rate))
    member_state, form = np.divmod(owners(n_new.ravel()), margin.shape[1])  # each new group's cell, ascending
    if member_state.size == 0:
        return member_state, form, np.zeros(0), np.zeros(0)
    members = np.maximum(2 + rng.poisson(initial_members - 2, member_state.size), min_members).astype(np.float64)
    assets = np.full(member_state.size, start_capital_months * 4) * ref_revenue[form]
    return member_state, form, members, assets


def freeze_assets(rng, investigated, member_state, assets, finance_rate, freeze_share, pending):
    """Financial investigations: each investigated group (rows ascending, one uniform each from ``rng``) is
    investigated financially with its member state's ``finance_rate``, which freezes ``freeze_share`` of its
    assets (none of its debts). Takes them from ``assets`` and adds them, summed per member state, to
    ``pending`` (both in place); returns the EUR frozen per group."""
    rows = np.flatnonzero(investigated)
    rows = rows[rng.random(rows.size) < finance_rate[member_state[rows]]]
    frozen = np.zeros(investigated.size)
    frozen[rows] = freeze_share[member_state[rows]] * np.maximum(assets[rows], 0.0)
    assets[rows] -= frozen[rows]
    pending += np.bincount(member_state[rows], weights=frozen[rows], minlength=pending.size)
    return frozen


def open_investigations(rng, cases, p_open_by_count, raided, alive):
    """The groups investigated this month: those raided, and those whose victims identified outside raids
    (``cases`` per group) open a case, with probability ``p_open_by_count[cases]``; living groups only. One
    uniform from ``rng`` per group with cases (rows ascending). Returns a flag per group row."""
    with_cases = np.flatnonzero(cases)
    investigated = raided.copy()
    investigated[with_cases[rng.random(with_cases.size) < p_open_by_count[cases[with_cases]]]] = True
    investigated &= alive
    return investigated


def investigate(rng, investigated, members, pending_decision, investigated_at, t, suspects_per_member, detention):
    """Investigations of the groups flagged in ``investigated``: suspects named among the members, some
    detained (they leave the group), every suspect awaiting a prosecution decision. Two uniforms per
    investigated group from ``rng`` (rows ascending: every group's for the suspects named, then every
    group's for those detained). Returns suspects per group."""
    rows = np.flatnonzero(investigated)
    u_named = rng.random(rows.size)
    u_detained = rng.random(rows.size)
    investigated_at[rows] = t
    suspects = np.zeros(investigated.size, np.int64)
    suspects[rows] = binomial_inversion(members[rows], suspects_per_member, u_named)
    members[rows] -= binomial_inversion(suspects[rows], detention, u_detained)
    pending_decision[rows] += suspects[rows]
    return suspects


def market_margin(alive, member_state, form, assets, ref_revenue, price, ident_hazard, finance_rate, freeze_share,
                  cost_per_recruit, member_loss_factor, c):
    """Expected margin per victim-month of a typical group per (member state, form) cell, in EUR: the
    price less operating cost and the risk-weighted expected losses of identification (the victim's
    replacement, members lost to an investigation, the cell's average assets frozen).

    ``member_loss_factor`` is initial members x suspects per member x detention x member value months;
    ``c`` the groups' ``DecisionParams``; ``cost_per_recruit`` per cell (flat, member state x form).
    """
    n_states, n_forms = price.shape
    cells = member_state[alive].astype(np.int64) * n_forms + form[alive]
    n_groups = np.bincount(cells, minlength=n_states * n_forms)
    held_assets = np.bincount(cells, weights=np.maximum(assets[alive], 0.0), minlength=n_states * n_forms)
    cell_assets = (held_assets / np.maximum(n_groups, 1)).reshape(n_states, n_forms)
    member_loss = (member_loss_factor * ref_revenue)[None, :]
    per_case = member_loss + (finance_rate * freeze_share)[:, None] * cell_assets
    loss = ident_hazard * (cost_per_recruit.reshape(n_states, n_forms) + c.investigate_on_identification * per_case)
    return price - c.cost_share * ref_revenue[None, :] - c.risk_aversion * loss


def binomial_inversion(n, p, u) -> np.ndarray:
    """Binomial(n, p) for each element, by inversion of its uniform ``u`` (one uniform a draw, whatever
    the outcome): the distribution is exact, and the few multiplications are written so that the
    compiled version repeats them in the same order. For the small counts of group rows (``n`` up to
    ``MAX_INVERSION_N``); numpy's generator draws the large pools.

    p > 1/2 draws the failures (n - Binomial(n, 1 - p)); (1 - p)^n is taken by repeated squaring.
    """
    n = np.asarray(n, np.int64)
    if n.size == 0:
        return n.copy()
    n_max = n.max()
    if n_max > MAX_INVERSION_N:
        raise ValueError(f"binomial_inversion: n = {n_max} above {MAX_INVERSION_N}; draw large counts with a generator")
    scalar = np.ndim(p) == 0
    if scalar:  # one p: (1 - p)^j once for each j up to the largest n, then looked up
        p = np.full(n_max + 1, p, np.float64)
        e = np.arange(n_max + 1)
    else:
        p = np.broadcast_to(np.asarray(p, np.float64), n.shape)
        e = n
    flip = p > 0.5
    pe = np.where(flip, 1.0 - p, p)
    q = 1.0 - pe
    prob = np.ones(e.size)  # P(0) = q ** n, by squaring: entries whose exponent is spent are left alone
    base = q
    while e.any():
        prob = np.where(e & 1, prob * base, prob)
        base = base * base
        e = e >> 1
    ratio = pe / q
    if scalar:
        prob, flip, ratio = prob[n], flip[n], ratio[n]
    k = np.zeros(n.size, np.int64)
    cdf = prob.copy()
    todo = np.flatnonzero((u >= cdf) & (k < n))
    while todo.size:
        k[todo] += 1
        prob[todo] *= (n[todo] - k[todo] + 1) / k[todo] * ratio[todo]
        cdf[todo] += prob[todo]
        todo = todo[(u[todo] >= cdf[todo]) & (k[todo] < n[todo])]
    return np.where(flip, n - k, k)


def poisson_inversion(mean, p0, u) -> np.ndarray:
    """Poisson(``mean``) for each element, by inversion of its uniform ``u``; ``p0`` is exp(-mean),
    computed by the caller with numpy (so both implementations start from the same number). For the
    small means of group rows (up to ``MAX_INVERSION_MEAN``)."""
    if mean.size and mean.max() > MAX_INVERSION_MEAN:
        raise ValueError(f"poisson_inversion: mean {mean.max():g} above {MAX_INVERSION_MEAN:g}")
    k = np.zeros(mean.size, np.int64)
    prob, cdf = p0.copy(), p0.copy()
    todo = np.flatnonzero((u >= cdf) & (prob > 0))
    while todo.size:
        k[todo] += 1
        prob[todo] *= mean[todo] / k[todo]
        cdf[todo] += prob[todo]
        todo = todo[(u[todo] >= cdf[todo]) & (prob[todo] > 0)]
    return k


def poisson_band(mean, u) -> np.ndarray:
    """The elements whose Poisson(``mean``) count by inversion of ``u`` needs exp(-mean): all but those with
    ``u`` surely below it, whose count is 0 (exp(-x) >= 1 - x; ``EXP_MARGIN``). Some two in three group
    rows' recruits and nine in ten groups' new members are 0 so, and exp takes some 8 ns an element."""
    return np.flatnonzero(~(u < (1.0 - mean) - EXP_MARGIN))


def recruit_draws(rng, wanted, success: float, mean_success, cell):
    """Successful recruits' Poisson means per group row (attempts ``wanted`` / ``success``, thinned by the
    ``mean_success`` of the row's ``cell``), a uniform per row from ``rng``, and the rows whose count needs
    exp(-mean) (``poisson_band``)."""
    mean = wanted / success * mean_success[cell]
    u = rng.random(mean.size)
    return mean, u, poisson_band(mean, u)


def poisson_at(mean, u, rows, p0) -> np.ndarray:
    """``poisson_inversion`` of the elements ``rows`` (``p0`` = exp(-mean) of those, in their order), 0 elsewhere:
    with ``rows = poisson_band(mean, u)``, the counts ``poisson_inversion`` gives every element."""
    out = np.zeros(mean.size, np.int64)
    out[rows] = poisson_inversion(mean[rows], p0, u[rows])
    return out


def _court_stage(rng, pending, come_up_p, rate_by_state, member_state, boost, has_boost: bool) -> np.ndarray:
    """One stage of the groups' cases (prosecution decision or trial): how many of each group's pending
    cases come up this month (removed from ``pending`` in place), and returns how many of those succeed
    at the rate of the group's member state. One uniform per group with cases, then one per group
    where cases came up (binomials by inversion)."""
    succeeded = np.zeros(pending.size, np.int64)
    rows = np.flatnonzero(pending)
    came_up = binomial_inversion(pending[rows], come_up_p, rng.random(rows.size))
    pending[rows] -= came_up
    rows, came_up = rows[came_up > 0], came_up[came_up > 0]
    rate = rate_by_state[member_state[rows]]
    if has_boost:
        rate = np.minimum(rate * boost[rows], 1.0)
    succeeded[rows] = binomial_inversion(came_up, rate, rng.random(rows.size))
    return succeeded


def group_courts(rng, decide_p, verdict_p, leave_p, pending_decision, pending_trial, members, member_state,
                 prosecution_rate, conviction_rate, boost, has_boost: bool):
    """Prosecution decisions and verdicts for the groups' pending cases (in place), and convicted members
    who leave; returns prosecutions and convictions per group. Draws its uniforms from ``rng`` stage by
    stage, rows in ascending order, as the compiled version does.
    """
    prosecuted = _court_stage(rng, pending_decision, decide_p, prosecution_rate, member_state, boost, has_boost)
    convicted = _court_stage(rng, pending_trial, verdict_p, conviction_rate, member_state, boost, has_boost)
    pending_trial += prosecuted  # this month's prosecutions wait at least a month for a verdict
    rows = np.flatnonzero(convicted)
    leaving = binomial_inversion(convicted[rows], leave_p, rng.random(rows.size))
    held = members[rows]
    members[rows] = held - np.minimum(leaving, held)
    return prosecuted, convicted


def courts(rng, decide_p, verdict_p, leave_p, alive, pending_decision, pending_trial, members, member_state,
           prosecution_rate, conviction_rate, boost, has_boost: bool, orphan_decision, orphan_trial):
    """The month's courts for crime groups: the pending cases of dismantled groups move to their member
    state's pool (``orphan_decision``, ``orphan_trial``, in place), then ``group_courts`` for the groups'
    cases and ``pooled_courts`` for the pooled ones, drawing from ``rng`` in that order. Returns
    prosecutions and convictions per group, then per member state for the pooled cases."""
    rows = np.flatnonzero(~alive & ((pending_decision > 0) | (pending_trial > 0)))
    if rows.size:
        n = orphan_decision.size
        ms = member_state[rows]
        orphan_decision += np.bincount(ms, weights=pending_decision[rows], minlength=n).astype(np.int64)
        orphan_trial += np.bincount(ms, weights=pending_trial[rows], minlength=n).astype(np.int64)
        pending_decision[rows] = 0
        pending_trial[rows] = 0
    prosecuted, convicted = group_courts(rng, decide_p, verdict_p, leave_p, pending_decision, pending_trial, members,
                                         member_state, prosecution_rate, conviction_rate, boost, has_boost)
    orphan_prosecuted, orphan_convicted = pooled_courts(rng, decide_p, verdict_p, orphan_decision, orphan_trial,
                                                        prosecution_rate, conviction_rate)
    return prosecuted, convicted, orphan_prosecuted, orphan_convicted


def pooled_courts(rng, decide_p: float, verdict_p: float, pending_decision, pending_trial, prosecution_rate,
                  conviction_rate):
    """Courts for cases pooled per member state (users, and members of dismantled groups): decisions
    come up with ``decide_p`` a month and prosecute with ``prosecution_rate``, verdicts with
    ``verdict_p`` and convict with ``conviction_rate`` (both per member state). Changes the pending
    counts in place; returns prosecutions and convictions per member state."""
    decided = rng.binomial(pending_decision, decide_p)
    prosecuted = rng.binomial(decided, prosecution_rate)
    verdicts = rng.binomial(pending_trial, verdict_p)
    convicted = rng.binomial(verdicts, conviction_rate)
    pending_decision -= decided
    pending_trial += prosecuted - verdicts
    return prosecuted, convicted


def user_cases(rng, knowing_users, p_detect, decide_p: float, verdict_p: float, pending_decision, pending_trial,
               prosecution_rate, conviction_rate, found_per_suspect: float):
    """The month's cases against knowing users, drawn from ``rng`` in this order: suspects (a binomial of
    the knowing users with ``p_detect`` per member state), the pooled courts on earlier cases (this
    month's suspects join ``pending_decision`` after them, in place), then the victims the new cases
    lead to (a binomial of the suspects with ``found_per_suspect``). Returns suspects, prosecutions,
    convictions and victims found, per member state."""
    suspects = rng.binomial(knowing_users, p_detect)
    prosecuted, convicted = pooled_courts(rng, decide_p, verdict_p, pending_decision, pending_trial, prosecution_rate,
                                          conviction_rate)
    pending_decision += suspects
    return suspects, prosecuted, convicted, rng.binomial(suspects, found_per_suspect)


def member_join_draws(rng, alive, members, growth: float, profitability):
    """The mean of the members joining each group (``members`` x ``growth`` x min(``profitability``, 1)), their
    uniforms, one per living group from ``rng`` (rows ascending; 0 for the others), and the rows whose joins
    need exp(-mean) (``poisson_band``)."""
    join_mean = members * growth * np.minimum(profitability, 1.0)
    live = np.flatnonzero(alive)
    u_join = np.zeros(alive.size)
    u_join[live] = rng.random(live.size)
    return join_mean, u_join, live[poisson_band(join_mean[live], u_join[live])]


def member_changes(rng, alive, members, join_mean, u_join, band, band_p0, quit: float,
                   min_members: float) -> np.ndarray:
    """Members join living groups (Poisson with mean ``join_mean`` by inversion of ``u_join``; ``band``, the rows
    of ``member_join_draws`` that need it, with ``band_p0`` = exp(-join_mean) of those) and quit them (binomial,
    ``quit`` each, one uniform per living group from ``rng``, rows ascending); a group left with fewer than
    ``min_members`` is dismantled (``alive`` set False in place). Changes ``members`` in place; returns the
    dismantled rows."""
    live = np.flatnonzero(alive)
    u_quit = rng.random(live.size)
    m_live = members[live]
    joined = poisson_at(join_mean, u_join, band, band_p0)[live]
    members[live] = m_live + joined - binomial_inversion(m_live, quit, u_quit)
    np.maximum(members, 0, out=members)
    dismantled = np.flatnonzero(alive & (members < min_members))
    alive[dismantled] = False
    return dismantled


def turnover(rng, stock, arrivals_mean, rate: float) -> None:
    """A pool counted per stratum turns over in place: Poisson(``arrivals_mean``) arrive and each
    member leaves with probability ``rate`` (every Poisson draw first, then every binomial; numpy's
    generator, for pools of any size)."""
    stock += rng.poisson(arrivals_mean) - rng.binomial(stock, rate)


def demand_turnover(rng, users, user_arrivals, user_rate: float, employers, employer_arrivals, employer_rate: float,
                    users_served_cap, knowing_share: float) -> np.ndarray:
    """The month's draws of demand, in this order from ``rng``: users turn over, employers turn over
    (both in place, as ``turnover``), then the knowing users among those served: a binomial of the users
    served (at most ``users_served_cap`` per member state, rounded) with ``knowing_share``."""
    turnover(rng, users, user_arrivals, user_rate)
    turnover(rng, employers, employer_arrivals, employer_rate)
    served = np.minimum(users, users_served_cap)
    return rng.binomial(np.round(served).astype(np.int64), knowing_share)


def demand_month(rng, users, users_base, user_rate: float, employers, employers_base, deterrence, labour_factor,
                 employer_rate: float, exploited, clients_per_victim: float, purchases_per_user: float,
                 knowing_share: float, victim_buying, buying_target, exploited_share_sex: float, other_base,
                 victims_per_employer: float, capacity):
    """Demand's month (``Demand.step``): users and employers turn over toward their bases (the employers' base
    deterred by expected fines and scaled by labour demand), the knowing users among those served
    (``demand_turnover``); users' buying from victims adapts toward ``buying_target`` as users turn over;
    then the victims each market takes at the reference price (``capacity``, member state x form, in place).

    ``users``, ``employers`` and ``victim_buying`` change in place. Returns the knowing users, the victims
    each labour sector takes (member state x sector) and the ratio of capacity to the victims exploited
    at the start of the month (at least 0.5 of them, the ratio at least 1e-3), from which the price follows.
    """
    emp_base = employers_base * deterrence * labour_factor[:, None]
    knowing = demand_turnover(rng, users, users_base * user_rate, user_rate, employers, emp_base * employer_rate,
                              employer_rate, exploited[:, 0] * clients_per_victim / purchases_per_user, knowing_share)
    victim_buying += user_rate * (buying_target - victim_buying)
    share = exploited_share_sex * victim_buying
    capacity[:, 0] = users * purchases_per_user * share / clients_per_victim
    sector_capacity = employers * victims_per_employer
    capacity[:, 1] = sector_capacity.sum(axis=1)  # sums of whole numbers: exact in any order
    capacity[:, 2] = other_base
    return knowing, sector_capacity, np.maximum(capacity / np.maximum(exploited, 0.5), 1e-3)


def raid_hazard(rng, alive, member_state, form, held, visibility, investigations, n_states: int, hazard):
    """Each group's monthly hazard of a proactive investigation, written to ``hazard``: the member state's
    ``investigations`` shared among its living groups in proportion to visibility (by form) x sqrt(1 + victims
    held); and which groups are raided, ``u < 1 - exp(-hazard)`` for a uniform ``u`` per group row from ``rng``,
    where that is sure without exp (1 - exp(-h) lies between h - h^2/2 and h; ``EXP_MARGIN``). Returns the
    raids decided (booleans), the rows left to decide with numpy's exp (``band``, ascending) and the uniforms."""
    u = rng.random(alive.size)
    w = np.where(alive, visibility[form] * np.sqrt(1.0 + held), 0.0)
    total = np.bincount(member_state, weights=w, minlength=n_states)
    hazard[:] = investigations[member_state] * w / np.maximum(total[member_state], 1e-12)
    return (*raids_decided(hazard, u), u)


def raids_decided(hazard, u) -> tuple[np.ndarray, np.ndarray]:
    """``u < 1 - exp(-hazard)`` where that is sure without exp: 1 - exp(-h) lies between h - h^2/2 and h, and a
    uniform below the one or at least the other by ``EXP_MARGIN`` is decided. Returns the raids so decided and
    the rows left to decide with exp (``band``, ascending)."""
    raided = u < (hazard - hazard * hazard * 0.5) - EXP_MARGIN
    return raided, np.flatnonzero(~raided & ~(u >= hazard + EXP_MARGIN))


def pick_in_cell(alive, member_state, form, n_forms: int, n_cells: int, cell, u) -> np.ndarray:
    """For each item, a living group of its (member state x form) ``cell``, uniformly by its uniform
    ``u`` (the groups of a cell in row order, the ``floor(u x count)``-th); -1 where the cell has none."""
    live = np.flatnonzero(alive)
    gcell = member_state[live].astype(np.int64) * n_forms + form[live]
    order = np.argsort(gcell, kind="stable")
    counts = np.bincount(gcell, minlength=n_cells)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    c = counts[cell]
    pick = starts[cell] + np.floor(u * c).astype(np.int64)
    if live.size == 0:
        return np.full(cell.size, -1, np.int64)
    return np.where(c > 0, live[order][np.minimum(pick, live.size - 1)], -1)


def relocate_groups(rng, alive, member_state, form, margin, capacity, mobility: float, gain: float, ref_revenue):
    """Each living group reconsiders where to exploit with probability ``mobility``: it draws a member
    state in proportion to demand (``capacity``) x expected margin for its form, and moves there (its
    ``member_state`` changed in place) if the margin beats home by more than ``gain`` x the form's
    reference revenue. Returns the rows that moved and their old member states. Uniforms from ``rng``: one
    per living group (rows ascending), then one per group reconsidering, for its destination."""
    live = np.flatnonzero(alive)
    movers = live[rng.random(live.size) < mobility]
    if movers.size == 0:
        return movers, member_state[movers]
    u_destination = rng.random(movers.size)
    weight = capacity.T * np.maximum(margin.T, 0.0)  # form x member state
    cdf = np.cumsum(weight, axis=1)
    cdf /= np.maximum(cdf[:, -1:], 1e-300)
    f = form[movers].astype(np.int64)
    dest = stacked_choice(cdf, f, u_destination)
    home = member_state[movers]
    better = (margin[dest, f] - margin[home, f]) > gain * ref_revenue[f]
    better &= weight[f, dest] > 0
    rows, old = movers[better], home[better]
    member_state[rows] = dest[better]
    return rows, old


def register(out, rows, u, unrecorded: float, form, member_state, sex, birth_month, citizenship, t: int,
             adult_months: int, n_forms: int, n_origins: int) -> None:
    """Count the victims registered this month (``rows``) into ``out``, the month's flat slice of the
    recorded indicator (member state x recorded form x sex x adult x citizenship), with no array of
    ``out``'s size in between. A victim's form goes unrecorded (``n_forms``) where its uniform ``u`` is
    below ``unrecorded``."""
    f = np.where(u < unrecorded, n_forms, form[rows].astype(np.int64))
    adult = (t - birth_month[rows]) >= adult_months
    idx = (((member_state[rows].astype(np.int64) * (n_forms + 1) + f) * 2 + sex[rows]) * 2 + adult)
    out += np.bincount(idx * n_origins + citizenship[rows], minlength=out.size).astype(out.dtype)


def write_groups(rows, member_state, form, members, assets, t: int, alive, group_member_state, group_form,
                 group_members, group_assets, held, born, investigated_at, raid_hazard) -> None:
    """New groups into their rows (``rows``, distinct; in place): alive, their member state, form, members and
    assets, no victims yet, born at month ``t``, never investigated, no raid hazard expected."""
    alive[rows] = True
    group_member_state[rows] = member_state
    group_form[rows] = form
    group_members[rows] = members
    group_assets[rows] = assets
    held[rows] = 0
    born[rows] = t
    investigated_at[rows] = NEVER_INVESTIGATED
    raid_hazard[rows] = 0.0


def free_group_rows(alive, pending_decision, pending_trial, died, t: int, n: int) -> np.ndarray:
    """The lowest ``n`` group rows a new group may take (fewer if there are not that many): dismantled at
    least two months ago (its victims have been dealt with) and with no case pending."""
    free = ~alive & (pending_decision == 0) & (pending_trial == 0) & (died <= t - 2)
    return np.flatnonzero(free)[:n]


def group_cells(alive, exploiting, member_state, form, n_forms: int, cost_per_cell, held):
    """The groups' month begins: the victims each group holds (``held``, in place: those it exploits, none for a
    dismantled group, whose victims earn it nothing); returns each group's (member state x form) cell and the cost
    of a recruit there (from ``cost_per_cell``)."""
    np.multiply(exploiting, alive, out=held)
    cell = member_state.astype(np.int64) * n_forms + form
    return cell, cost_per_cell[cell]


def close_books(dismantled, assets, spending, frozen, ledger_frozen, ledger_closing) -> None:
    """The groups' month ends: the members of the groups ``dismantled`` (distinct rows) keep what is left (or
    its debts), counted as the group's spending, and its assets go to zero; the ledger takes the assets frozen and
    the closing assets (in place)."""
    spending[dismantled] += assets[dismantled]
    assets[dismantled] = 0.0
    ledger_frozen[:] = frozen
    ledger_closing[:] = assets[: ledger_closing.size]


def group_records(gms, gcell, investigated, raided, frozen, suspects, prosecuted, convicted, dismantled, revenue,
                  profit, spending, alive, member_state, form, members, assets, entrants, n_forms: int, by_ms, flows,
                  stocks, entered, entry_capital) -> None:
    """The month's sums over group rows, written into the arrays given (the recorder's month, and the model's):

    - ``by_ms`` (6 x member states): groups investigated, raided, with assets frozen, suspects, prosecuted,
      convicted, over the rows of ``gms`` (each row's member state) by member state;
    - ``flows`` (5 x cells): groups dismantled (the rows ``dismantled``, distinct), revenue, profit, spending and assets
      frozen, over the same rows by ``gcell`` (each row's cell);
    - ``stocks`` (3 x cells): living groups, their members and assets, over the rows of ``alive`` by their cell;
    - ``entered`` and ``entry_capital`` (cells): the new groups (rows ``entrants``) and their assets.

    Every sum adds its rows' values in ascending row order (the entrants in their order), as ``np.bincount``.
    """
    n_ms, n_cells = by_ms.shape[1], flows.shape[1]
    for k, w in enumerate((investigated, raided, frozen > 0, suspects, prosecuted, convicted)):
        by_ms[k] = np.bincount(gms, weights=w, minlength=n_ms)
    gone = np.zeros(gcell.size)
    gone[dismantled] = 1.0
    for k, w in enumerate((gone, revenue, profit, spending, frozen)):
        flows[k] = np.bincount(gcell, weights=w, minlength=n_cells)
    live = np.flatnonzero(alive)
    cells = member_state[live].astype(np.int64) * n_forms + form[live]
    for k, w in enumerate((alive, members, assets)):
        stocks[k] = np.bincount(cells, weights=w[live], minlength=n_cells)
    cells = member_state[entrants].astype(np.int64) * n_forms + form[entrants]
    entered[:] = np.bincount(cells, minlength=n_cells)
    entry_capital[:] = np.bincount(cells, weights=assets[entrants], minlength=n_cells)


def record_month(by_member_state, social_cost, by_ms, orphan_prosecuted, orphan_convicted, user_suspects,
                 user_prosecutions, user_convictions, confiscated, users, knowing_users, employers, workers, coverage,
                 extra_coverage, identified, n_forms: int, population_share, health_cost, coordination_month: float,
                 per_suspect: float, victim_rates, health_column: int) -> None:
    """The month's records by member state, written into the recorder's month:

    - ``by_member_state`` (the block "by_member_state", 13 x member states): suspects, prosecutions and convictions
      (the groups' from ``by_ms``, from ``group_records``, plus those of dismantled groups' cases), users'
      suspects, prosecutions and convictions, groups investigated and raided, assets confiscated, users, knowing
      users, willing employers (summed over sectors) and workers checked (workers x inspection coverage, summed
      over sectors);
    - ``social_cost`` (member state x cost category, ``money.COST_CATEGORIES``): coordination by population share,
      law enforcement per suspect, and per registered victim (``identified`` per cell, summed over forms) the
      victim-driven categories, health and social costs times ``health_cost`` (support lowering them).
    """
    investigated, raided, _, suspects, prosecuted, convicted = by_ms
    rows = (suspects, prosecuted + orphan_prosecuted, convicted + orphan_convicted, user_suspects, user_prosecutions,
            user_convictions, investigated, raided, confiscated, users, knowing_users, employers.sum(axis=1),
            (workers * (coverage + extra_coverage)).sum(axis=1))
    for k, row in enumerate(rows):
        by_member_state[k] = row
    registered = identified.reshape(-1, n_forms).sum(axis=1)
    social_cost[:, 0] = coordination_month * population_share
    social_cost[:, 1] = suspects * per_suspect
    np.multiply(registered[:, None], victim_rates, out=social_cost[:, 2:])
    social_cost[:, health_column] *= health_cost


def write_recruits(fields, rows, state, t, exploited_since, citizenship, member_state, sex, age_years, form, sector,
                   channel, group, group_count, n_forms, n_form_sector, n_cells) -> np.ndarray:
    """Write recruits into victim rows ``rows``: ``fields`` are the victims' backing arrays in the
    order of ``Victims.fields()``; the other arrays have one entry per recruit. Each recruit's ``group`` counts
    one more victim in ``state`` (``group_count``, per group row, in place). Returns the recruits per
    (member state x form) cell."""
    (f_state, f_citizenship, f_member_state, f_sex, f_birth_month, f_form, f_sector, f_channel, f_group, f_cell,
     f_exploited_since, f_months_exploited, f_state_since, f_times_trafficked, f_hazard_key) = fields
    f_state[rows] = state
    f_citizenship[rows] = citizenship
    f_member_state[rows] = member_state
    f_sex[rows] = sex
    f_birth_month[rows] = t - age_years * 12
    f_form[rows] = form
    f_sector[rows] = sector
    f_channel[rows] = channel
    f_group[rows] = group
    f_cell[rows] = member_state.astype(np.int16) * n_forms + form
    f_exploited_since[rows] = exploited_since
    f_months_exploited[rows] = 0
    f_state_since[rows] = t
    f_times_trafficked[rows] = 1
    f_hazard_key[rows] = 2 * hazard_key(member_state, form, sector, channel)
    group_count += np.bincount(group, minlength=group_count.size)
    return np.bincount(f_cell[rows], minlength=n_cells)


def stratum_cdf(pool, success, link, susceptibility):
    """Per (member state x form) cell, the cumulative distribution of a successful recruit's stratum
    (origin x sex x age) and the mean success of an attempt.

    An attempt from cell (ms, f) lands in stratum (o, s, a) with weight pool x link[o, ms] x
    susceptibility[f, s, a], and succeeds with ``success[o]``. Sums run left to right along the
    strata (a cumulative sum's last element), as the compiled version's loop does.
    """
    n_states, n_forms = link.shape[1], susceptibility.shape[0]
    attempts = (pool[None, None] * link.T[:, None, :, None, None] * susceptibility[None, :, None]).reshape(
        n_states * n_forms, -1)
    w = (pool * success[:, None, None])[None, None] * link.T[:, None, :, None, None] * susceptibility[None, :, None]
    cum = np.cumsum(w.reshape(n_states * n_forms, -1), axis=1)
    total = cum[:, -1]
    mean_success = total / np.maximum(np.cumsum(attempts, axis=1)[:, -1], 1e-300)
    return cum / np.maximum(total[:, None], 1e-300), mean_success


def owners(counts) -> np.ndarray:
    """Each row's index, as many times as its count (the owner of every recruit, rows ascending)."""
    return np.repeat(np.arange(counts.size), counts)
