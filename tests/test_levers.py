"""Policy levers and shocks (issue 5): every kind, against the baseline with common random numbers.

For every lever kind:

(a) its mechanism moves its intended indicator in the expected direction through a behavioural change
    upstream of it (users buy less, employers' demand falls, groups recruit less, ...), against the
    baseline run with the same seed (the totals of two paired seeds, 2022-2026, lever from 2020-01);
(b) at zero intensity the run is the baseline's, every recorded array bit for bit;
(c) started in 2028-01, the run is the baseline's up to 2027-12 with the same seed, and differs after;
(d) its cost is positive when active, zero otherwise, and is the activity it bought times unit costs;
(e) every scenario file loads, round-trips and runs at a small size;
(f) bad lever values are refused with a message naming the key, the value and what is allowed;
(g) partial-scope ``criminalise_users`` displaces exploitation to the member states without the offence.

Runs are cached per (scenario, seed) within the module so that (a) and (d) share them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from thbsim import levers
from thbsim.geography import DETECTION_CHANNELS, LABOUR, LEVER_KINDS, SEXUAL, USERS_OFFENCE_2017, geography
from thbsim.model import POLICY_ARRAYS, TraffickingModel
from thbsim.money import COST_CATEGORIES
from thbsim.recorder import INDICATORS
from thbsim.scenario import Scenario, ScenarioError, dumps, load, loads, save

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "scenarios"
SCENARIO_FILES = sorted(SCENARIOS.glob("*.toml"))
GEO = geography()
N = GEO.n_states
KINDS = tuple(levers.LEVERS)

# (a), (d): the lever acts from 2020-01; effects are read over 2022-2026, summed over two paired seeds
SCALE = 0.2
SEEDS = (1, 2)
HORIZON = "2026-12"
START = "2020-01"
WINDOW = "2022-01"
USER_SCOPE = ("DE", "FR", "NL", "BE", "AT")  # none of them has the offence in the baseline
CAMPAIGN_ORIGINS = ("RO", "BG", "HU", "NG")

# (b), (c), (e): small runs
SMALL = 0.05
SMALL_SEED = 7
LATE = "2028-01"

STRONG = {
    "criminalise_users": levers.CriminaliseUsers(start=START, member_states=USER_SCOPE, enforcement=0.2,
                                                 penalty_eur=5000.0),
    "asset_confiscation": levers.AssetConfiscation(start=START, capacity=1.0),
    "labour_inspections": levers.LabourInspections(start=START, extra_checks_per_1000=5.0, targeting="risk_based"),
    "identification_referral": levers.IdentificationReferral(start=START, capacity_increase=1.0),
    "joint_investigations": levers.JointInvestigations(start=START, case_share=1.0),
    "online_monitoring": levers.OnlineMonitoring(start=START, analysts_per_million=5.0),
    "prevention_awareness": levers.PreventionAwareness(start=START, origins=CAMPAIGN_ORIGINS, reach_per_year=1.0),
    "victim_support": levers.VictimSupport(start=START, quality=1.0),
    "economic_downturn": levers.EconomicDownturn(start=START, severity=1.0),
    "migration_surge": levers.MigrationSurge(start=START, surge=1.0),
}


def test_every_kind_is_covered():
    assert set(KINDS) == set(STRONG) == set(LEVER_KINDS)
    for kind, lever in STRONG.items():
        assert lever.kind == kind and lever.intensity > 0


# --------------------------------------------------------------------------- running


def scenario_with(*lever_objs, scale: float, end: str = HORIZON) -> Scenario:
    return Scenario().replace(end=end, levers=tuple(lever_objs)).with_params(scale=scale)


def simulate(scenario: Scenario, seed: int, *, keep_registered: bool = False) -> SimpleNamespace:
    """Run month by month, recording what the recorder does not: recruits by citizenship, mean
    recruitment success and users' buying from victims. ``registered`` is summed to (month, member
    state, citizenship) unless ``keep_registered``."""
    m = TraffickingModel(scenario, seed=seed)
    n_months, n_origins = len(m.months), GEO.n_origins
    recruits_by_origin = np.zeros((n_months, n_origins))
    draw = m.recruitment.draw

    def counting_draw(*args, **kwargs):
        attrs = draw(*args, **kwargs)
        recruits_by_origin[m.t] += np.bincount(attrs["citizenship"], minlength=n_origins)
        return attrs

    m.recruitment.draw = counting_draw  # observes only: same arguments, same draws, same result
    mean_success, victim_buying = [], []
    while m.t < n_months:
        m.step()
        mean_success.append(m.recruitment.mean_success.copy())
        victim_buying.append(m.demand.victim_buying.copy())
    data = dict(m.recorder.data)  # (the model itself is not kept: cached runs stay small)
    if not keep_registered:
        data["registered"] = data["registered"].sum(axis=(2, 3, 4), dtype=np.float64)
    return SimpleNamespace(
        data=data, months=m.months, p=m.p, index=lambda month, first=m.months[0]: (pd.Period(month, "M") - first).n,
        recruits_by_origin=recruits_by_origin,
        mean_success=np.array(mean_success), victim_buying=np.array(victim_buying), workers=m.demand.workers.copy(),
        cross_border_share=m.cross_border_share.copy(), pool=m.recruitment.pool.copy(),
    )


_CACHE: dict[tuple, SimpleNamespace] = {}


def cached(scenario: Scenario, seed: int, keep_registered: bool = False) -> SimpleNamespace:
    key = (dumps(scenario), seed, keep_registered)
    if key not in _CACHE:
        _CACHE[key] = simulate(scenario, seed, keep_registered=keep_registered)
    return _CACHE[key]


def runs(*lever_objs) -> list[SimpleNamespace]:
    return [cached(scenario_with(*lever_objs, scale=SCALE), seed) for seed in SEEDS]


def total(rs, name: str, sel=Ellipsis, start: str = WINDOW) -> float:
    """Sum over the paired seeds and the months from ``start`` of ``data[name][months][sel]``."""
    return float(sum(r.data[name][r.index(start):][sel].sum() for r in rs))


def mean_of(rs, attr: str, sel=Ellipsis, start: str = WINDOW) -> float:
    return float(np.mean([getattr(r, attr)[r.index(start):][sel].mean() for r in rs]))


# --------------------------------------------------------------------------- (a) mechanisms

CH = {c: i for i, c in enumerate(DETECTION_CHANNELS)}
HEALTH = COST_CATEGORIES.index("health_social")
USER_MASK = GEO.state_mask(list(USER_SCOPE))
ORIGIN_MASK = np.isin(GEO.iso, CAMPAIGN_ORIGINS)
NON_EU = ~GEO.is_eu
DOWN, UP = -1, +1


def effects(kind: str, b, m) -> list[tuple[str, float, float, int]]:
    """(what, baseline, lever, expected sign of lever - baseline); the upstream behaviour first."""
    s = USER_MASK
    if kind == "criminalise_users":
        return [
            ("users' buying from victims, scoped states (mean)", mean_of(b, "victim_buying", np.s_[:, s]),
             mean_of(m, "victim_buying", np.s_[:, s]), DOWN),
            ("demand capacity for sexual exploitation, scoped", total(b, "demand_capacity", np.s_[:, s, SEXUAL]),
             total(m, "demand_capacity", np.s_[:, s, SEXUAL]), DOWN),
            ("true victims of sexual exploitation, scoped", total(b, "victims_exploited", np.s_[:, s, SEXUAL]),
             total(m, "victims_exploited", np.s_[:, s, SEXUAL]), DOWN),
            ("users convicted, scoped", total(b, "user_convictions", np.s_[:, s]),
             total(m, "user_convictions", np.s_[:, s]), UP),
        ]
    if kind == "asset_confiscation":
        return [(name, total(b, name), total(m, name), sign) for name, sign in (
            ("assets_frozen", UP), ("group_assets", DOWN), ("recruited", DOWN), ("victims_exploited", DOWN))]
    if kind == "labour_inspections":
        return [
            ("employers_willing", total(b, "employers_willing"), total(m, "employers_willing"), DOWN),
            ("identified by inspection", total(b, "identified_by_channel", np.s_[..., CH["inspection"]]),
             total(m, "identified_by_channel", np.s_[..., CH["inspection"]]), UP),
            ("true victims of labour exploitation", total(b, "victims_exploited", np.s_[..., LABOUR]),
             total(m, "victims_exploited", np.s_[..., LABOUR]), DOWN),
        ]
    if kind == "identification_referral":
        return [
            ("identified by referral", total(b, "identified_by_channel", np.s_[..., CH["referral"]]),
             total(m, "identified_by_channel", np.s_[..., CH["referral"]]), UP),
            ("prosecutions", total(b, "prosecutions"), total(m, "prosecutions"), UP),
            ("convictions", total(b, "convictions"), total(m, "convictions"), UP),
            ("retrafficked", total(b, "retrafficked"), total(m, "retrafficked"), DOWN),
        ]
    if kind == "joint_investigations":
        return [(name, total(b, name), total(m, name), UP) for name in ("prosecutions", "convictions")]
    if kind == "online_monitoring":
        return [
            ("identified online", total(b, "identified_by_channel", np.s_[..., CH["online"]]),
             total(m, "identified_by_channel", np.s_[..., CH["online"]]), UP),
            ("identified, all channels", total(b, "identified"), total(m, "identified"), UP),
        ]
    if kind == "prevention_awareness":
        return [
            ("mean recruitment success", mean_of(b, "mean_success"), mean_of(m, "mean_success"), DOWN),
            ("recruits from the campaign origins", sum(r.recruits_by_origin[r.index(WINDOW):, ORIGIN_MASK].sum() for r in b),
             sum(r.recruits_by_origin[r.index(WINDOW):, ORIGIN_MASK].sum() for r in m), DOWN),
            ("registered victims from the campaign origins", total(b, "registered", np.s_[..., ORIGIN_MASK]),
             total(m, "registered", np.s_[..., ORIGIN_MASK]), DOWN),
        ]
    if kind == "victim_support":
        def health_per_victim(rs):
            return total(rs, "social_cost", np.s_[..., HEALTH]) / total(rs, "identified")
        return [
            ("retrafficked", total(b, "retrafficked"), total(m, "retrafficked"), DOWN),
            ("prosecutions", total(b, "prosecutions"), total(m, "prosecutions"), UP),
            ("convictions", total(b, "convictions"), total(m, "convictions"), UP),
            ("health and social cost per registered victim", health_per_victim(b), health_per_victim(m), DOWN),
        ]
    if kind == "economic_downturn":
        def per_victim(rs):
            return total(rs, "identified") / total(rs, "victims_exploited")
        return [
            ("employers_willing", total(b, "employers_willing"), total(m, "employers_willing"), UP),
            ("identified by referral", total(b, "identified_by_channel", np.s_[..., CH["referral"]]),
             total(m, "identified_by_channel", np.s_[..., CH["referral"]]), DOWN),
            ("true victims", total(b, "victims_exploited"), total(m, "victims_exploited"), UP),
            ("identifications per true victim-month", per_victim(b), per_victim(m), DOWN),
        ]
    if kind == "migration_surge":
        return [
            ("at-risk pool of non-EU origins (end)", sum(r.pool[NON_EU].sum() for r in b),
             sum(r.pool[NON_EU].sum() for r in m), UP),
            ("recruits of non-EU citizenship", sum(r.recruits_by_origin[r.index(WINDOW):, NON_EU].sum() for r in b),
             sum(r.recruits_by_origin[r.index(WINDOW):, NON_EU].sum() for r in m), UP),
            ("registered victims of non-EU citizenship", total(b, "registered", np.s_[..., NON_EU]),
             total(m, "registered", np.s_[..., NON_EU]), UP),
        ]
    raise AssertionError(f"no effects declared for {kind}")


@pytest.mark.parametrize("kind", KINDS)
def test_mechanism_moves_intended_indicator(kind):
    b, m = runs(), runs(STRONG[kind])
    rows = effects(kind, b, m)
    report = "\n".join(f"  {what}: {base:.6g} -> {lev:.6g} ({(lev - base) / abs(base) * 100 if base else np.inf:+.1f} %), "
                       f"expected {'up' if sign > 0 else 'down'}" for what, base, lev, sign in rows)
    print(f"\n{kind} (scale {SCALE}, seeds {SEEDS}, 2022-2026):\n{report}")
    wrong = [what for what, base, lev, sign in rows if not np.sign(lev - base) == sign]
    assert not wrong, f"{kind}: wrong direction for {wrong}\n{report}"


def test_criminalise_users_leaves_unscoped_users_alone():
    """Users change behaviour only where the offence is introduced."""
    b, m = runs(), runs(STRONG["criminalise_users"])
    for rb, rm in zip(b, m, strict=True):
        assert np.array_equal(rb.victim_buying[:, ~USER_MASK], rm.victim_buying[:, ~USER_MASK])
        assert (rm.victim_buying[rm.index(WINDOW):, USER_MASK] < 1).all()
        assert rm.data["user_suspects"][:, ~USER_MASK & ~GEO.state_mask(list(USERS_OFFENCE_2017))].sum() == 0


# --------------------------------------------------------------------------- (b) zero intensity


def zero(lever):
    return dataclasses.replace(lever, **{lever.intensity_field: 0.0})


def assert_identical(base, other, until: int | None = None, what: str = "") -> None:
    differ = [name for name in INDICATORS if not np.array_equal(base.data[name][:until], other.data[name][:until])]
    assert not differ, f"{what}: differs from the baseline in {differ}"


@pytest.mark.parametrize("kind", KINDS)
def test_zero_intensity_is_the_baseline(kind):
    lever = zero(STRONG[kind])
    assert lever.intensity == 0
    base = cached(scenario_with(scale=SMALL), SMALL_SEED, keep_registered=True)
    run = simulate(scenario_with(lever, scale=SMALL), SMALL_SEED, keep_registered=True)
    assert_identical(base, run, what=f"{kind} at zero intensity")
    assert not run.data["lever_cost"].any()


@pytest.mark.parametrize("kind", KINDS)
def test_zero_intensity_mechanism_is_the_identity(kind):
    """Not only skipped by ``Lever.active``: ``apply`` itself changes no policy array at intensity zero."""
    m = TraffickingModel(scenario_with(scale=SMALL), seed=SMALL_SEED)
    m._restore_policy()
    before = {(o, n): getattr(m._policy_owner(o), n).copy() for o, names in POLICY_ARRAYS.items() for n in names}
    zero(STRONG[kind]).apply(m)
    changed = [key for key, value in before.items() if not np.array_equal(value, getattr(m._policy_owner(key[0]), key[1]))]
    assert not changed, f"{kind} at zero intensity changes {changed}"


@pytest.mark.parametrize("kind", KINDS)
def test_apply_changes_policy_arrays_in_place(kind):
    """The model restores the arrays it holds each month: a lever that rebound one would escape the restore.
    Applying a strong lever changes some policy array, and every one stays the object the model built."""
    m = TraffickingModel(scenario_with(scale=SMALL), seed=SMALL_SEED)
    built = {key: getattr(m._policy_owner(key[0]), key[1]) for key in m._baseline_policy}
    STRONG[kind].apply(m)
    rebound = [key for key, array in built.items() if getattr(m._policy_owner(key[0]), key[1]) is not array]
    assert not rebound, f"{kind} rebinds {rebound}"
    assert any(not np.array_equal(array, m._baseline_policy[key]) for key, array in built.items())
    m._restore_policy()
    assert all(np.array_equal(array, m._baseline_policy[key]) for key, array in built.items())


def test_policy_arrays_hold_the_baseline_after_a_lever_ends():
    """The model copies the baseline back only after a month in which a lever or shock acted (nothing else changes
    policy arrays): while a lever acts they differ from the baseline, and from the month after its end they are
    the baseline again; in a model without levers they never leave it."""
    kind = KINDS[0]
    lever = dataclasses.replace(STRONG[kind], start="2020-01", end="2020-02")
    m = TraffickingModel(scenario_with(lever, scale=SMALL), seed=SMALL_SEED)
    plain = TraffickingModel(scenario_with(scale=SMALL), seed=SMALL_SEED)

    def at_baseline(model):
        return all(np.array_equal(getattr(model._policy_owner(o), n), saved)
                   for (o, n), saved in model._baseline_policy.items())

    first, last = m.month_index("2020-01"), m.month_index("2020-02")
    while m.t <= last + 2:
        month = m.t
        m.step()
        plain.step()
        assert at_baseline(m) == (not first <= month <= last), (kind, str(m.months[month]))
        assert at_baseline(plain)


def test_criminalise_users_never_weakens_an_existing_offence():
    m = TraffickingModel(scenario_with(scale=SMALL), seed=SMALL_SEED)
    baseline_penalty = m.demand.expected_user_penalty().copy()
    assert baseline_penalty[GEO.state_mask(list(USERS_OFFENCE_2017))].min() > 0
    levers.CriminaliseUsers(start=START, member_states=USERS_OFFENCE_2017, enforcement=0.005, penalty_eur=1000.0).apply(m)
    assert (m.demand.expected_user_penalty() >= baseline_penalty).all()


# --------------------------------------------------------------------------- (c) late start


@pytest.mark.parametrize("kind", KINDS)
def test_late_start_is_the_baseline_until_it_starts(kind):
    lever = dataclasses.replace(STRONG[kind], start=LATE)
    base = cached(scenario_with(scale=SMALL, end="2030-12"), SMALL_SEED, keep_registered=True)
    run = simulate(scenario_with(lever, scale=SMALL, end="2030-12"), SMALL_SEED, keep_registered=True)
    t = run.index(LATE)
    assert str(run.months[t]) == "2028-01"
    assert_identical(base, run, until=t, what=f"{kind} from {LATE}, before it starts")
    after = [name for name in INDICATORS if not np.array_equal(base.data[name][t:], run.data[name][t:])]
    assert after, f"{kind} from {LATE}: no indicator differs from the baseline after it starts"
    assert not run.data["lever_cost"][:t].any()
    if not lever.is_shock:
        assert run.data["lever_cost"][t:].sum() > 0


# --------------------------------------------------------------------------- (d) cost


@pytest.mark.parametrize("kind", KINDS)
def test_cost_is_the_activity_bought(kind):
    lever = STRONG[kind]
    b, m = runs()[0], runs(lever)[0]
    p, d = m.p, m.data
    col = LEVER_KINDS.index(kind)
    t0 = m.index(lever.start)
    cost = d["lever_cost"]
    assert not np.delete(cost, col, axis=2).any(), "cost recorded under another kind"
    assert not cost[:t0].any(), "cost before the lever starts"
    assert (cost >= 0).all()
    own = cost[t0:, :, col]
    if lever.is_shock:
        assert not own.any(), "shocks are context, not bought: they cost nothing"
        return
    assert own.sum() > 0
    scope = GEO.state_mask(lever.member_states)
    assert not own[:, ~scope].any(), "cost outside the scope"
    after = slice(t0, None)
    if kind == "criminalise_users":
        # none of the scoped states had the offence: the lever pays for every user case there
        expected = (d["user_suspects"][after] * p["lever.users.cost_per_suspect_eur"]
                    + d["user_prosecutions"][after] * p["lever.users.cost_per_prosecution_eur"]) * scope
        assert d["user_suspects"][after][:, scope].sum() > 0
    elif kind == "asset_confiscation":
        base_rate = p["finance.investigation_rate"]
        rate = base_rate + lever.capacity * (1 - base_rate)
        expected = d["investigations"][after] * (rate - base_rate) * p["lever.finance.cost_per_investigation_eur"]
    elif kind == "labour_inspections":
        checks = (m.workers * lever.extra_checks_per_1000 / 1000).sum(axis=1)  # every sector, every member state
        expected = np.broadcast_to(checks * p["lever.inspect.cost_per_check_eur"], own.shape)
        # the same checks as the recorder counts them: checks in the lever run less the baseline's
        extra = d["inspection_checks"][after] - b.data["inspection_checks"][after]
        np.testing.assert_allclose(extra * p["lever.inspect.cost_per_check_eur"], own, rtol=1e-9)
    elif kind == "identification_referral":
        x = lever.capacity_increase
        expected = (d["identified_by_channel"][after][..., CH["referral"]] * x / (1 + x)
                    * p["lever.referral.cost_per_identification_eur"])
    elif kind == "joint_investigations":
        unit = lever.case_share * p["lever.jit.cost_per_case_eur"]
        # every month at most every investigation is cross-border; the last month exactly its share
        assert (own <= d["investigations"][after] * unit * (1 + 1e-12)).all()
        assert 0 < m.cross_border_share.max() <= 1
        expected = own.copy()
        expected[-1] = d["investigations"][-1] * unit * m.cross_border_share
    elif kind == "online_monitoring":
        analysts = lever.analysts_per_million * GEO.population_m[:N] * p["scale"]
        expected = np.broadcast_to(analysts * p["lever.online.cost_per_analyst_month_eur"], own.shape)
    elif kind == "prevention_awareness":
        # the last month: people reached in the campaign origins' pools at the end of the month
        reached = m.pool.sum(axis=(1, 2)) * lever.reach_per_year / 12 * ORIGIN_MASK
        eur = reached * p["lever.prevention.cost_per_person_eur"]
        population_share = GEO.population_m[:N] / GEO.population_m[:N].sum()
        expected = own.copy()
        expected[-1] = eur[:N] + eur[N:].sum() * population_share  # at home in member states, shared abroad
        np.testing.assert_allclose(own[-1].sum(), eur.sum(), rtol=1e-9)
    elif kind == "victim_support":
        expected = d["victims_supported"][after].sum(axis=2) * lever.quality * p["lever.support.cost_per_victim_month_eur"]
    else:
        raise AssertionError(f"no cost formula for {kind}")
    np.testing.assert_allclose(own, expected, rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- (e) scenario files


def test_scenario_files_exist():
    names = {p.stem for p in SCENARIO_FILES}
    assert "baseline" in names and len(names) >= 12


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_file_round_trips(path, tmp_path):
    s = load(path)
    save(s, tmp_path / path.name)
    again = load(tmp_path / path.name)
    assert again == s
    assert loads(dumps(s)) == s
    assert dumps(again) == dumps(s)


def shortened(s: Scenario, end: str = HORIZON) -> Scenario:
    """The scenario ending at ``end``, if its levers' dates allow it; else as it is."""
    try:
        return s.replace(end=end)
    except ScenarioError:
        return s


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_scenario_file_runs_small(path):
    s = shortened(load(path).with_params(scale=SMALL))
    run = simulate(s, SMALL_SEED)
    d = run.data
    assert all(np.isfinite(d[name]).all() for name in INDICATORS)
    assert d["victims_exploited"][-1].sum() > 0 and d["identified"].sum() > 0
    active = [lev for lev in s.levers if lev.intensity > 0 and run.index(lev.start) < len(run.months)]
    bought = {lev.kind for lev in active if not lev.is_shock}
    cost = d["lever_cost"].sum(axis=(0, 1))
    for kind in bought:
        assert cost[LEVER_KINDS.index(kind)] > 0, f"{path.name}: {kind} active but costs nothing"
    if not bought:
        assert cost.sum() == 0, f"{path.name}: costs without a lever bought"
    # the same scenario without its levers is the baseline: identical before the first start, not after
    base = cached(s.replace(levers=(), name="baseline", description=""), SMALL_SEED)
    if not active:
        assert_identical(base, run, what=path.name)
        return
    first = min(run.index(lev.start) for lev in active)
    assert_identical(base, run, until=first, what=f"{path.name} before its levers start")
    assert any(not np.array_equal(base.data[name][first:], d[name][first:]) for name in INDICATORS)


# --------------------------------------------------------------------------- (f) validation

LEVER_HEAD = '[scenario]\nname = "bad"\n\n[[levers]]\n'


def load_error(tmp_path: Path, body: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(LEVER_HEAD + body)
    with pytest.raises(ScenarioError) as info:
        load(path)
    return str(info.value)


def assert_names(message: str, *parts: str) -> None:
    missing = [part for part in parts if part not in message]
    assert not missing, f"message lacks {missing}:\n{message}"


@pytest.mark.parametrize("kind", KINDS)
def test_intensity_out_of_range_is_refused(kind, tmp_path):
    cls = levers.LEVERS[kind]
    field = next(f for f in dataclasses.fields(cls) if f.name == cls.intensity_field)
    lo, hi = field.metadata["low"], field.metadata["high"]
    for bad in (hi + 1.5, lo - 0.5):
        message = load_error(tmp_path, f'kind = "{kind}"\nstart = "2025-01"\n{field.name} = {bad}\n')
        assert_names(message, "bad.toml", kind, f"{field.name} = {bad!r}", f"[{lo:g}, {hi:g}]", field.metadata["unit"])
        with pytest.raises(ValueError, match=field.name):
            cls(start="2025-01", **{field.name: bad})
    message = load_error(tmp_path, f'kind = "{kind}"\n{field.name} = "high"\n')
    assert_names(message, field.name, "'high'", "expected a number")


def test_python_class_refuses_out_of_range():
    with pytest.raises(ValueError) as info:
        levers.CriminaliseUsers(enforcement=2.0)
    assert_names(str(info.value), "criminalise_users", "enforcement = 2.0", "[0, 1]")
    with pytest.raises(ValueError, match="member_states"):
        levers.CriminaliseUsers(member_states=["UK"])


BAD = {
    "unknown key": ('kind = "criminalise_users"\nenforcment = 0.1\n',
                    ("enforcment", "0.1", "allowed: start, end, member_states, enforcement, penalty_eur")),
    "unknown member state": ('kind = "criminalise_users"\nmember_states = ["DE", "UK"]\n',
                             ("member_states", "'UK'", "allowed: AT, BE, BG")),
    "member states not a list": ('kind = "asset_confiscation"\nmember_states = "DE"\n',
                                 ("member_states", "'DE'", "'all' or a non-empty list")),
    "unknown sector": ('kind = "labour_inspections"\nsectors = ["agriculture", "mining"]\n',
                       ("sectors", "'mining'", "allowed: agriculture, construction")),
    "unknown targeting": ('kind = "labour_inspections"\ntargeting = "psychic"\n',
                          ("targeting", "'psychic'", "'risk_based', 'random'")),
    "unknown origin": ('kind = "prevention_awareness"\norigins = ["ZZ"]\n', ("origins", "'ZZ'", "NG")),
    "start after the horizon": ('kind = "online_monitoring"\nstart = "2035-01"\n',
                                ("start", "'2035-01'", "outside the horizon 2008-01 to 2030-12")),
    "end before the horizon": ('kind = "victim_support"\nstart = "2000-01"\nend = "2001-12"\n',
                               ("start", "'2000-01'", "end", "'2001-12'", "outside the horizon 2008-01 to 2030-12")),
    "end before start": ('kind = "joint_investigations"\nstart = "2026-01"\nend = "2025-12"\n',
                         ("end", "'2025-12'", "before start", "'2026-01'")),
    "badly written month": ('kind = "economic_downturn"\nstart = "2025-13"\n', ("start", "'2025-13'", "YYYY-MM")),
    "unknown kind": ('kind = "ban_everything"\n', ("kind", "'ban_everything'", "known kinds", *sorted(KINDS))),
    "no kind": ('enforcement = 0.1\n', ("[[levers]]", "'kind'")),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_lever_value_is_refused(case, tmp_path):
    body, parts = BAD[case]
    assert_names(load_error(tmp_path, body), *parts)


def test_every_problem_is_reported_at_once(tmp_path):
    message = load_error(tmp_path, 'kind = "criminalise_users"\nenforcement = 2.0\nmember_states = ["XY"]\n'
                                   'foo = 1\n\n[[levers]]\nkind = "nope"\n')
    assert_names(message, "4 problems", "enforcement = 2.0", "'XY'", "'foo'", "'nope'")


def test_scenario_refuses_lever_outside_horizon_in_python():
    with pytest.raises(ScenarioError, match="outside the horizon"):
        scenario_with(dataclasses.replace(STRONG["victim_support"], start=LATE), scale=SMALL)


# --------------------------------------------------------------------------- (g) displacement

DISPLACEMENT_SCALE = 1.0  # the effect is a few % of the unscoped market: full scale keeps noise below it
DISPLACEMENT_SEEDS = (1, 2, 3, 4, 5, 6)


def test_partial_criminalisation_displaces_to_unscoped_states():
    """Would-be traffickers go where the business pays: more groups enter (or move into) member states
    without the offence, and there are more true victims there (2025-2030) than in the baseline, in
    every paired seed and on average."""
    part = load(SCENARIOS / "criminalise_users_partial.toml").with_params(scale=DISPLACEMENT_SCALE)
    base = load(SCENARIOS / "baseline.toml").with_params(scale=DISPLACEMENT_SCALE)
    (lever,) = part.levers
    out = ~GEO.state_mask(list(lever.member_states))
    change, moved = [], []
    for seed in DISPLACEMENT_SEEDS:
        pair = [simulate(s, seed) for s in (base, part)]
        victims = [r.data["victims_exploited"][r.index(lever.start):, out].sum(axis=(1, 2)).mean() for r in pair]
        change.append(victims[1] - victims[0])
        moved.append([(r.data["groups_entered"] + r.data["groups_moved_in"])[r.index(lever.start):, out].sum()
                      for r in pair])
    change, moved = np.array(change), np.array(moved)
    mean, sd = change.mean(), change.std(ddof=1)
    summary = (f"true victims in unscoped states, 2025-2030, lever - baseline per seed: {np.round(change, 1)}; "
               f"mean {mean:+.1f} (sd {sd:.1f}, se {sd / np.sqrt(change.size):.1f}); "
               f"groups entering or moving into unscoped states 2025-2030, baseline vs lever: {moved.sum(axis=0)}")
    print("\n" + summary)
    assert moved[:, 1].sum() > moved[:, 0].sum(), summary
    assert mean > 2 * sd / np.sqrt(change.size), summary  # clearly above zero, not just on average
    assert (change > 0).mean() >= 5 / 6, summary
