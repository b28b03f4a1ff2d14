"""The compiled kernels (numba) must match the numpy reference exactly: block by block on random
inputs, and for whole runs (every recorded indicator, with and without levers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from thbsim import kernels
from thbsim.actors.enforcement import N_FORM_SECTOR, hazard_key
from thbsim.actors.victims import stacked_choice
from thbsim.kernels import reference
from thbsim.model import USER_REPORT, TraffickingModel
from thbsim.population import EXPLOITED, FREE, IDENTIFIED, RECRUITED, SUPPORTED
from thbsim.scenario import load

numba = pytest.importorskip("numba", reason="the compiled kernels need numba (the fast extra)")
compiled = kernels.load("numba")
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
N_STATES, NF, N_KEYS = 27, 3, 27 * 10 * 2 * 2


def _rows(rng: np.random.Generator, n: int, n_groups: int) -> dict[str, np.ndarray]:
    """Victim rows in every state, runs of equal states and groups as the model makes them."""
    state = np.repeat(rng.integers(0, 5, n // 4 + 1), 4)[:n].astype(np.int8)
    state[rng.random(n) < 0.2] = rng.integers(0, 5)
    group = rng.integers(0, n_groups, n).astype(np.int32)
    group[state == FREE] = -1
    member_state = rng.integers(0, N_STATES, n).astype(np.int8)
    form = rng.integers(0, NF, n).astype(np.int8)
    return {
        "state": state, "group": group, "member_state": member_state, "form": form,
        "cell": (member_state.astype(np.int16) * NF + form).astype(np.int16),
        "hazard_key": (2 * rng.integers(0, N_KEYS // 2, n)).astype(np.int16),
        "birth_month": rng.integers(-400, 100, n).astype(np.int16),
        "exploited_since": rng.integers(-200, 100, n).astype(np.int16),
        "months_exploited": rng.integers(0, 50, n).astype(np.int16),
        "state_since": rng.integers(-200, 100, n).astype(np.int16),
        "raw": rng.integers(0, 2**64, n, dtype=np.uint64),
    }


def _detection_tables(rng: np.random.Generator):
    p_event = rng.random(N_KEYS) * 0.2
    p_ident = p_event * rng.random(N_KEYS)
    p_ident[rng.random(N_KEYS) < 0.1] = 0.0
    shares = np.cumsum(rng.random((N_KEYS, 4)), axis=1)
    shares /= shares[:, -1:]
    return p_ident, p_event, shares


def _assert_same(a, b) -> None:
    assert type(a) is type(b) or isinstance(a, np.ndarray)
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture(params=[1, 2, 3])
def rng(request) -> np.random.Generator:
    return np.random.default_rng(request.param)


def test_split_uniforms_cover_the_unit_interval(rng):
    raw = np.array([0, 2**64 - 1, 2**32, 2**32 - 1], np.uint64)
    hi, lo = reference.split_uniforms(raw)
    assert hi.tolist() == [0.0, 1 - 2**-32, 2**-32, 0.0]
    assert lo.tolist() == [0.0, 1 - 2**-32, 0.0, 1 - 2**-32]
    hi, lo = reference.split_uniforms(rng.integers(0, 2**64, 200_000, dtype=np.uint64))
    assert abs(hi.mean() - 0.5) < 0.005 and abs(lo.mean() - 0.5) < 0.005
    assert abs(np.corrcoef(hi, lo)[0, 1]) < 0.01


def test_every_kernel_has_both_implementations_with_one_signature():
    import inspect

    for name in reference.__all__:
        if name == "split_uniforms":  # a helper of the numpy reference (compiled kernels split words inline)
            continue
        fast = getattr(compiled, name)
        fast = getattr(fast, "py_func", fast)
        assert list(inspect.signature(fast).parameters) == list(inspect.signature(getattr(reference, name)).parameters), name


N_GROUPS = 400
MONTH_CASES = ["plain", "moved", "short", "foreign"]
WORDS = ["chains", "few", "buffered", "handle", "philox"]


def _month_inputs(rng: np.random.Generator, case: str, words: str = "chains") -> dict:
    """A month's inputs for ``victims_month``: victim rows in every state (those in transit or exploited in their
    group's cell, as the model keeps them), groups alive or dismantled, raided, some moved ("moved", "foreign"),
    users' cases (their candidates scarce in "short"), foreign victims counted ("foreign"). The rows' words come
    from a PCG64 generator, 20,000 of them ("chains", as the model's; "buffered": the generator holds half a
    word; "handle": given as the compiled kernels' handle), or 3,000 ("few": fewer than numba's chains are
    used for), or from Philox ("philox")."""
    from thbsim.population import Victims

    n, n_cells = (3000 if words == "few" else 20000), N_STATES * NF
    r = _rows(rng, n, N_GROUPS)
    alive = rng.random(N_GROUPS) < 0.8
    group_ms = rng.integers(0, N_STATES, N_GROUPS).astype(np.int16)
    group_form = rng.integers(0, NF, N_GROUPS).astype(np.int8)
    moved = np.zeros(N_GROUPS + 1, bool)  # one more, False, for rows without a group
    if case in ("moved", "foreign"):
        moved[:N_GROUPS] = alive & (rng.random(N_GROUPS) < 0.15)
    old_ms = group_ms.copy()
    group_ms[moved[:N_GROUPS]] = rng.integers(0, N_STATES, moved.sum())
    held = np.isin(r["state"], (RECRUITED, EXPLOITED))
    g = r["group"]
    form = np.where(held, group_form[np.maximum(g, 0)], r["form"]).astype(np.int8)
    ms = np.where(held, old_ms[np.maximum(g, 0)], r["member_state"]).astype(np.int8)
    sector = np.where(form == 1, rng.integers(0, N_FORM_SECTOR - 2, n), -1).astype(np.int8)
    channel = rng.integers(0, 2, n).astype(np.int8)
    v = Victims(n + 64)
    v.allocate(n)
    values = {"state": r["state"], "citizenship": np.where(rng.random(n) < 0.6, ms, rng.integers(0, 33, n)),
              "member_state": ms, "sex": rng.integers(0, 2, n), "birth_month": r["birth_month"], "form": form,
              "sector": sector, "channel": channel, "group": g, "cell": ms.astype(np.int16) * NF + form,
              "exploited_since": r["exploited_since"], "months_exploited": r["months_exploited"],
              "state_since": r["state_since"], "times_trafficked": rng.integers(1, 3, n),
              "hazard_key": 2 * hazard_key(ms, form, sector, channel)}
    for name, value in values.items():
        getattr(v, name)[:] = value
    counts = [np.bincount(g[r["state"] == s], minlength=N_GROUPS + 50) for s in (RECRUITED, EXPLOITED)]
    found = rng.integers(0, 4, N_STATES)
    found[:3] = 0
    e_sexual = (r["state"] == EXPLOITED) & (form == 0)
    stock = np.bincount(ms[e_sexual], minlength=N_STATES).astype(float)
    if case == "short":  # the cut-offs leave too few candidates (widened), in one member state fewer than wanted
        stock *= 1000.0
        found[3:6] = [5, 0, 10**6]
    p_ident, p_event, shares = _detection_tables(rng)
    gen = np.random.Generator(np.random.Philox(int(rng.integers(2**32)))) if words == "philox" else \
        np.random.default_rng(int(rng.integers(2**32)))
    if words == "buffered":
        gen.integers(0, 10, 3, dtype=np.uint32)  # leaves half a word buffered, which random_raw does not touch
    return {
        "v": v, "rng": gen, "handle": words == "handle", "moved_group": moved, "group_ms": group_ms,
        "group_form": group_form, "old_ms": old_ms,
        "tables": (p_ident, p_event, shares), "raided": rng.random(N_GROUPS) < 0.1, "alive": alive,
        "died": rng.integers(90, 100, N_GROUPS).astype(np.int32),
        "investigated_at": rng.integers(80, 100, N_GROUPS).astype(np.int32), "found": found, "stock": stock,
        "ident_hazard": rng.random((N_STATES, NF)) * 0.05, "exploited": rng.integers(0, 50, (N_STATES, NF)) * 1.0,
        "support": (rng.random(N_STATES), rng.random(N_STATES) * 0.3, rng.random(N_STATES) * 0.3),
        "in_transit": counts[0], "exploiting": counts[1], "count_foreign": case == "foreign", "n_cells": n_cells,
    }


def _victims_month(module, x: dict, copy: bool = True):
    """``module.victims_month`` on (copies of) the inputs; returns its outputs and every array it changes."""
    import copy as copying

    x = copying.deepcopy(x) if copy else x
    v = x["v"]
    out = module.victims_month(
        v.fields(), v.used, module.generator_handle(x["rng"]) if x["handle"] else x["rng"], x["moved_group"],
        x["group_ms"], x["group_form"], N_FORM_SECTOR, -150, *x["tables"], x["raided"],
        x["alive"], x["died"], x["investigated_at"], 6, 0.7, x["found"], x["stock"], USER_REPORT, x["ident_hazard"],
        x["exploited"], *x["support"], 120, 5, x["in_transit"], x["exploiting"], x["count_foreign"])
    # the generator where numpy's random_raw leaves it: its next words, and the half word it may hold
    bits = x["rng"].bit_generator
    buffered = bits.state.get("has_uint32", 0)
    return out, (*v.fields(), x["in_transit"], x["exploiting"], x["ident_hazard"], bits.random_raw(3), buffered)


@pytest.mark.parametrize("words", WORDS)
@pytest.mark.parametrize("case", MONTH_CASES)
def test_victims_month_both_implementations(rng, case, words):
    """The same outputs, the same rows and counts changed, the generator left in the same state (the compiled
    kernel draws the rows' words itself, 64 at a time, as numpy's random_raw would)."""
    x = _month_inputs(rng, case, words)
    out_np, arrays_np = _victims_month(reference, x)
    out_nb, arrays_nb = _victims_month(compiled, x)
    _assert_same(out_np, out_nb)
    _assert_same(arrays_np, arrays_nb)
    if words == "buffered":
        assert arrays_nb[-1] == 1  # the half word still there


@pytest.mark.parametrize("case", MONTH_CASES)
def test_victims_month_moves_every_victim_on_once(rng, case):
    """Each victim from its start-of-month state: those in transit are exploited now, identified victims enter
    support or leave, the exploited are identified (by channel) or leave or stay, and the groups' victims in
    transit and exploited follow; the flows count exactly these changes."""
    import copy

    x = _month_inputs(rng, case)
    original = copy.deepcopy(x)
    v0 = x["v"]
    start = {k: getattr(v0, k).copy() for k in ("state", "group", "cell", "member_state")}
    (by_group, rows_ident, re_rows, flows, by_channel, *foreign), _ = _victims_month(compiled, x, copy=False)
    v = x["v"]
    s0, s1 = start["state"], v.state
    assert (s1[s0 == RECRUITED] == EXPLOITED).all() and flows[0].sum() == np.count_nonzero(s0 == RECRUITED)
    assert np.isin(s1[s0 == EXPLOITED], (EXPLOITED, IDENTIFIED, FREE)).all()
    assert np.isin(s1[s0 == IDENTIFIED], (SUPPORTED, FREE)).all() and np.isin(s1[s0 == SUPPORTED], (SUPPORTED, FREE)).all()
    identified = np.flatnonzero((s0 == EXPLOITED) & (s1 == IDENTIFIED))
    np.testing.assert_array_equal(rows_ident, identified)  # ascending, as registration draws for them
    assert rows_ident.size == flows[1].sum() == by_channel.sum() > 0
    assert flows[2].sum() == np.count_nonzero((s0 == EXPLOITED) & (s1 == FREE)) > 0
    assert flows[3].sum() == np.count_nonzero((s0 == IDENTIFIED) & (s1 == SUPPORTED)) > 0
    assert flows[4].sum() == np.count_nonzero((s0 == IDENTIFIED) & (s1 == FREE)) > 0
    assert flows[5].sum() == np.count_nonzero((s0 == SUPPORTED) & (s1 == FREE)) > 0
    assert (s1[re_rows] == SUPPORTED).all() and (s0[re_rows] == SUPPORTED).all() and re_rows.size > 0
    assert (v.group[s1 == FREE] == -1).all()
    # identifications outside raids per group; by channel per member state
    channels = by_channel.reshape(N_STATES, 5)
    assert by_group.sum() == channels[:, 1:].sum() < rows_ident.size  # the police's (channel 0) open no case
    np.testing.assert_array_equal(channels.sum(axis=1), np.bincount(v.member_state[rows_ident], minlength=N_STATES))
    # the groups' victims in transit and exploited, kept up to date
    np.testing.assert_array_equal(x["in_transit"], np.bincount(v.group[s1 == RECRUITED], minlength=N_GROUPS + 50))
    np.testing.assert_array_equal(x["exploiting"], np.bincount(v.group[s1 == EXPLOITED], minlength=N_GROUPS + 50))
    # victims of groups that moved follow them (detection stratum included); nobody else moves
    held = np.isin(s0, (RECRUITED, EXPLOITED))
    follow = held & x["moved_group"][start["group"]]
    assert follow.any() == (case in ("moved", "foreign"))
    np.testing.assert_array_equal(v.member_state[follow], x["group_ms"][start["group"][follow]])
    np.testing.assert_array_equal(v.cell, v.member_state.astype(np.int64) * NF + v.form)
    np.testing.assert_array_equal(v.hazard_key[follow], 2 * hazard_key(v.member_state[follow], v.form[follow],
                                                                        v.sector[follow], v.channel[follow]))
    np.testing.assert_array_equal(v.member_state[~follow], start["member_state"][~follow])
    # users' cases: as many victims in sexual exploitation as their member state's cases found, or all there are
    # (the same month without cases tells them from identifications through users' reports on the hazard)
    through_users = channels[:, USER_REPORT] - _without_cases(original, compiled)[:, USER_REPORT]
    assert (through_users >= 0).all() and (through_users <= x["found"]).all() and through_users.sum() > 0
    if case == "short":  # widened: member state 3 finds its five, member state 5 every victim it can
        assert through_users[3] == 5 and through_users[5] > 5
    if case == "foreign":  # the foreign among the exploited at the start of the month, where they are after moving
        e0 = s0 == EXPLOITED
        is_foreign = e0 & (v.citizenship != v.member_state)
        np.testing.assert_array_equal(foreign[0], np.bincount(start["group"][is_foreign], minlength=N_GROUPS))
        np.testing.assert_array_equal(foreign[1], np.bincount(v.member_state[is_foreign], minlength=N_STATES))
        np.testing.assert_array_equal(foreign[2], np.bincount(v.member_state[e0], minlength=N_STATES))
    else:
        assert all(f.size == 0 for f in foreign)


def _without_cases(x: dict, module) -> np.ndarray:
    """Identifications per member state and channel of ``victims_month`` on a copy of ``x`` without users' cases."""
    import copy

    x = copy.deepcopy(x)
    x["found"][:] = 0
    return _victims_month(module, x, copy=False)[0][4].reshape(N_STATES, 5)


def test_victims_month_identifies_every_candidate_when_cases_outnumber_them(rng):
    """Where a member state's cases found more victims than it has in sexual exploitation and not identified by
    another channel, its cut is widened to take every one of them: all are identified, those no other channel
    found through users' reports."""
    x = _month_inputs(rng, "short")
    v = x["v"]
    s0 = v.state.copy()
    (_, rows_ident, *_), _ = _victims_month(compiled, x, copy=False)
    ms5 = (s0 == EXPLOITED) & (v.form == 0) & (v.member_state == 5)
    # every one of them identified, by users' reports or another channel
    assert ms5.sum() > 0 and (v.state[ms5] == IDENTIFIED).all()


def test_move_stocks(rng):
    """The groups that moved take their victims in transit and exploited to their new cells: the stocks and the
    moves per cell, both implementations alike."""
    moved_groups = np.sort(rng.choice(N_GROUPS, 40, replace=False))
    old_ms = rng.integers(0, N_STATES, 40).astype(np.int16)
    group_ms = rng.integers(0, N_STATES, N_GROUPS).astype(np.int16)
    group_form = rng.integers(0, NF, N_GROUPS).astype(np.int8)
    in_transit, exploiting = rng.integers(0, 5, N_GROUPS), rng.integers(0, 30, N_GROUPS)
    stocks = rng.integers(1000, 2000, (5, N_STATES * NF))
    outs = []
    for module in (reference, compiled):
        s = stocks.copy()
        outs.append((module.move_stocks(moved_groups, old_ms, group_ms, group_form, in_transit, exploiting, NF, s), s))
    _assert_same(outs[0], outs[1])
    moves, after = outs[1]
    f = group_form[moved_groups].astype(np.int64)
    old, new = old_ms * NF + f, group_ms[moved_groups] * NF + f
    for k, weights in enumerate((in_transit, exploiting, np.ones(N_GROUPS, np.int64))):
        np.testing.assert_array_equal(moves[2 * k], np.bincount(old, weights[moved_groups], N_STATES * NF))
        np.testing.assert_array_equal(moves[2 * k + 1], np.bincount(new, weights[moved_groups], N_STATES * NF))
    assert moves[2].sum() == exploiting[moved_groups].sum() > 0
    np.testing.assert_array_equal(after[RECRUITED] - stocks[RECRUITED], moves[1] - moves[0])
    np.testing.assert_array_equal(after[EXPLOITED] - stocks[EXPLOITED], moves[3] - moves[2])
    np.testing.assert_array_equal(after[[0, IDENTIFIED, SUPPORTED]], stocks[[0, IDENTIFIED, SUPPORTED]])


def test_whole_runs_are_identical_when_users_cases_widen_their_cut():
    """Users' cases whose candidates fall short every month (the stock of victims their cut-offs are taken from a
    thousand times larger, so the cut-offs are a thousand times narrower): the cut is widened, victims the month's
    pass did not decide in full are identified, and numpy and numba still agree."""
    import types

    widened = {reference: [], compiled: []}
    data = {}
    sc = load(SCENARIOS / "baseline.toml").with_params(scale=0.1, **{"users.detection_per_year": 0.2})
    for module in (reference, compiled):
        def narrow(*args, _module=module, _months=widened[module]):
            args = list(args)
            args[18] = args[18] * 1000.0  # the stock
            _months.append(_would_widen(*args))
            return _module.victims_month(*args)

        model = TraffickingModel(sc, seed=5, kernels="numpy" if module is reference else "numba")
        model.kernels = types.SimpleNamespace(**{**vars(module), "victims_month": narrow})
        model.run()
        data[module] = model.recorder.data
    assert all(sum(months) > 20 for months in widened.values())  # the widened path ran in many months, in both
    assert data[reference]["identified_by_channel"][..., USER_REPORT].sum() > 0  # found through users' cases
    for key, arr in data[reference].items():
        np.testing.assert_array_equal(arr, data[compiled][key], err_msg=key)


def _would_widen(fields, n_rows, rng, moved_group, group_member_state, group_form, n_form_sector, adult_born_by,
                 p_ident, p_event, shares, raided, alive, died, investigated_at, police_months, raid_identifies, found, stock,
                 *_):
    """Whether ``victims_month`` with these inputs widens a users' cases' cut: candidates short of the cases
    somewhere (the reference's own steps, on copies, the month's words from a copy of the generator)."""
    import copy

    raw = copy.deepcopy(getattr(rng, "rng", rng)).bit_generator.random_raw(n_rows)
    state, _, member_state, _, birth_month, form, sector, channel, group, cell, *_, hazard_key_ = (
        f[:n_rows].copy() for f in fields)
    e0 = np.flatnonzero(state == EXPLOITED)
    _, _, _, _, _, ge, moving = reference.census(state, group, alive, moved_group, True)
    reference.follow_groups(moving, group, group_member_state, member_state, cell, hazard_key_, form, sector, channel, NF)
    dead = ~alive
    hit, police = raided | dead, raided | (dead & (died - investigated_at <= police_months))
    cut = reference.user_case_cuts(found, stock, NF)
    cand_ms = reference.detect(e0, ge, hazard_key_, birth_month, adult_born_by, p_ident, p_event, shares, raw, hit,
                               police, dead, raid_identifies, cell, alive.size, N_STATES * NF, cut, member_state)[7]
    return bool(((np.bincount(cand_ms, minlength=found.size) < found) & (cut[::NF] < 1.0)).any())


def test_pick_lowest(rng):
    m = 3000
    ms = rng.integers(0, N_STATES, m).astype(np.int8)
    u = np.round(rng.random(m), 2)  # many equal uniforms: ties go to the lower position, as a stable sort's
    found = rng.integers(0, 40, N_STATES)
    found[3] = 10**6  # more wanted than there are candidates: all of them
    out = compiled.pick_lowest(ms, u, found, N_STATES)
    _assert_same(reference.pick_lowest(ms, u, found, N_STATES), out)
    np.testing.assert_array_equal(np.bincount(ms[out], minlength=N_STATES),
                                  np.minimum(found, np.bincount(ms, minlength=N_STATES)))
    for s in range(N_STATES):
        picked, rest = out[ms[out] == s], np.setdiff1d(np.flatnonzero(ms == s), out)
        if picked.size and rest.size:
            assert u[picked].max() <= u[rest].min()


def test_user_case_cuts(rng):
    found = rng.integers(0, 5, N_STATES)
    found[:4] = 0
    stock = np.round(rng.random(N_STATES) * 200)
    stock[5] = 0.0  # no victims at the start of the month: the margin alone
    cut = compiled.user_case_cuts(found, stock, NF)
    _assert_same(reference.user_case_cuts(found, stock, NF), cut)
    cut = cut.reshape(N_STATES, NF)
    assert (cut[:, 1:] == -1).all() and (cut[:4, 0] == -1).all()
    wanted = found > 0
    np.testing.assert_allclose(cut[wanted, 0], (2 * found[wanted] + 16) / np.maximum(stock[wanted], 1))
    _assert_same(reference.user_case_cuts(found * 0, stock, NF), compiled.user_case_cuts(found * 0, stock, NF))
    assert (compiled.user_case_cuts(found * 0, stock, NF) == -1).all()


def test_first_free(rng):
    r = _rows(rng, 5000, 300)
    for n in (0, 10, 10**6):
        _assert_same(reference.first_free(r["state"], n), compiled.first_free(r["state"], n))
    assert (r["state"][compiled.first_free(r["state"], 10**6)] == FREE).all()
    # the compiled kernel reads blocks of 64 rows: free rows sparse and in runs, found in the middle of a
    # block, at a block's edges (63, 64, 127, 128, ...), in the last incomplete block, none at all; a block
    # where every row is free (its mask all ones)
    sparse = np.full(1003, 2, np.int8)
    sparse[[0, 7, 8, 63, 64, 127, 128, 255, 256, 500, 511, 512, 959, 960, 998, 1000, 1002]] = FREE
    sparse[640:704] = FREE
    sparse[700:720] = FREE
    for state in (sparse, sparse[:1001], sparse[1:], sparse[3:998], np.full(77, 3, np.int8), np.zeros(13, np.int8),
                  np.zeros(600, np.int8)):
        for n in (0, 1, 5, 12, 29, 300, 10**6):
            _assert_same(reference.first_free(state, n), compiled.first_free(state, n))


def test_recruit_attributes(rng):
    n_cells, n_strata, k = N_STATES * NF, 33 * 4, 5000
    w = rng.random((n_cells, n_strata)) * (rng.random((n_cells, n_strata)) < 0.7)  # strata without weight too
    w[5] = 0.0  # and a cell where nobody can be recruited
    cdf = np.cumsum(w, axis=1) / np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    sector_capacity = rng.random((N_STATES, 10)) * 50
    sector_capacity[2] = 0.0  # a member state without labour demand
    member_state = rng.integers(0, N_STATES, k).astype(np.int16)
    form = rng.integers(0, NF, k).astype(np.int8)
    args = (cdf, member_state, form, sector_capacity, (12, 18, 46), np.array([0.3, 0.1, 0.1]))
    pool = rng.integers(0, 40, (33, 2, 2))
    pools = [pool.copy(), pool.copy()]
    gens = [np.random.default_rng(11), np.random.default_rng(11)]
    out_np = reference.recruit_attributes(gens[0], *args, pools[0], 2, 2, 1)
    out_nb = compiled.recruit_attributes(gens[1], *args, pools[1], 2, 2, 1)
    _assert_same(out_np, out_nb)
    np.testing.assert_array_equal(pools[0], pools[1])
    assert gens[0].bit_generator.state == gens[1].bit_generator.state  # the same draws, in the same order
    handled = np.random.default_rng(11)  # given a handle of the generator, as the model passes it
    _assert_same(out_nb, compiled.recruit_attributes(compiled.generator_handle(handled), *args, pool.copy(), 2, 2, 1))
    assert handled.bit_generator.state == gens[1].bit_generator.state
    assert (pools[0] == 0).any() and (pools[0] < pool).any() and (pools[0] >= 0).all()
    origin, sex, years, sector, channel = out_nb
    assert ((sector >= 0) == (form == 1)).all() and channel.any() and (years < 18).any() and (years >= 18).any()
    assert years.min() >= 12 and years.max() <= 45 and (years == 12).any() and (years == 45).any()
    # the draws are those of numpy's vectorised calls in the documented order
    g = np.random.default_rng(11)
    g.random(k)  # the strata's
    child, adult = g.integers(12, 18, k), g.integers(18, 46, k)
    g.random(np.count_nonzero(form == 1))
    u_channel = g.random(k)
    np.testing.assert_array_equal(channel, (u_channel < np.array([0.3, 0.1, 0.1])[form]).astype(np.int8))
    assert (years[years < 18] == child[years < 18]).all() and (years[years >= 18] == adult[years >= 18]).all()


def test_desired_recruits(rng):
    from thbsim.actors.traffickers import DecisionParams

    u = 3000
    ms, form = rng.integers(0, N_STATES, u).astype(np.int16), rng.integers(0, NF, u).astype(np.int8)
    args = (rng.random(u) < 0.8, ms, form, rng.integers(0, 12, u), rng.normal(2e4, 3e4, u), rng.integers(0, 30, u),
            rng.random(u) * 0.05, np.array([3000.0, 1500.0, 1000.0]), rng.random((N_STATES, NF)) * 4000,
            rng.random((N_STATES, NF)) * 0.05, rng.random(N_STATES) * 0.3, rng.random(N_STATES) * 0.5,
            rng.random(u) * 2000 + 100, DecisionParams(6.0, 0.8, 0.5, 0.3, 0.45, 1.0, 3.0, 0.2))
    x, wanted = compiled.desired_recruits(*args)
    _assert_same(reference.desired_recruits(*args), (x, wanted))
    assert (x == 0).any() and (x > 0).any() and (wanted[~args[0]] == 0).all() and (wanted > 0).any()


def test_entry_means(rng):
    ref = np.array([3000.0, 1500.0, 1000.0])
    margin = rng.standard_normal((N_STATES, NF)) * 2000
    capacity, exploited = rng.random((N_STATES, NF)) * 500, rng.random((N_STATES, NF)) * 500
    capacity[:, 2] = 0.0  # a form without demand anywhere: nobody enters it
    args = (margin, capacity, exploited, ref, 0.1, 3.6, 0.05)
    out = compiled.entry_means(*args)
    _assert_same(reference.entry_means(*args), out)
    assert (out >= 0).all() and (out[:, 2] == 0).all() and (out[:, :2].sum(axis=0) > 0).all()
    assert (out[margin / ref[None, :] <= 0.1] == 0).all()  # only where the margin clears the hurdle


def test_entrants_draw_what_numpy_draws(rng):
    ref = np.array([3000.0, 1500.0, 1000.0])
    margin = rng.standard_normal((N_STATES, NF)) * 2000
    capacity, exploited = rng.random((N_STATES, NF)) * 500, rng.random((N_STATES, NF)) * 50
    args = (margin, capacity, exploited, ref, 0.1, 3.6, 0.5, 5.0, 3.0, 3.0)
    (ms, form, members, assets), out = _both_draw(lambda module, gen: module.entrants(gen, *args))
    _assert_same((ms, form, members, assets), out)
    assert [a.dtype for a in out] == [np.int64, np.int64, np.float64, np.float64] == [a.dtype for a in (ms, form, members, assets)]
    assert ms.size > 10 and (np.diff(ms * NF + form) >= 0).all()  # cells ascending, as the counts were drawn
    assert (members >= 3).all() and (members > 3).any() and np.array_equal(assets, 4 * 3.0 * ref[form])
    # no group enters where no cell clears the hurdle: nothing drawn but the counts, all zero
    none = _both_draw(lambda module, gen: module.entrants(gen, np.zeros((N_STATES, NF)), *args[1:]))
    assert all(a.size == 0 for out in none for a in out)
    for module in (reference, compiled):  # a negative mean (here a negative entry rate) is refused, as numpy refuses it
        with pytest.raises(ValueError):
            module.entrants(rng, *args[:6], -0.5, *args[7:])


def test_group_money(rng):
    u = 3000
    ms, form = rng.integers(0, N_STATES, u).astype(np.int16), rng.integers(0, NF, u).astype(np.int8)
    held, n_recruits = rng.integers(0, 30, u), rng.integers(0, 4, u)
    assets = rng.normal(2e4, 3e4, u)
    fixed = (ms, form, held)
    rest = (rng.random((N_STATES, NF)) * 4000, np.array([3000.0, 1500.0, 1000.0]), n_recruits,
            rng.random(u) * 2000 + 100, 0.45, 0.3)
    outs = []
    for module in (reference, compiled):
        a, ledger = assets.copy(), [np.full(u, np.nan) for _ in range(3)]
        outs.append((module.group_money(*fixed, a, *rest, *ledger), a, *ledger))
    _assert_same(outs[0], outs[1])
    revenue, after, opening, profit, spending = outs[1]
    np.testing.assert_array_equal(opening, assets)
    # the stock-flow identity of a group's month, and payouts only out of positive balances
    np.testing.assert_allclose(opening + profit - spending, after, rtol=1e-12, atol=1e-6)
    assert (profit <= revenue).all() and (revenue[held == 0] == 0).all()
    assert (spending >= n_recruits * rest[3] - 1e-9).all() and (after < 0).any()


def test_freeze_assets_draws_what_numpy_draws(rng):
    u = 2000
    investigated = rng.random(u) < 0.3
    member_state = rng.integers(0, N_STATES, u).astype(np.int16)
    assets = rng.standard_normal(u) * 1e5  # some groups in debt: nothing of theirs is frozen
    assets[:3] = (-0.0, 0.0, np.nan)
    investigated[:3] = True
    rates, shares = rng.random(N_STATES), rng.random(N_STATES) * 0.5
    rates[:3] = 1.0  # the first rows are investigated financially whatever their uniform
    member_state[:3] = (0, 1, 2)
    pending = rng.random(N_STATES) * 1e6

    def call(module, gen):
        a, pend = assets.copy(), pending.copy()
        return module.freeze_assets(gen, investigated, member_state, a, rates, shares, pend), a, pend

    (frozen, a, pend), out = _both_draw(call)
    _assert_same((frozen, a, pend), out)
    assert not np.signbit(out[0][:2]).any() and np.isnan(out[0][2])  # numpy's maximum: +0.0 for -0.0, NaN kept
    hit = (frozen != 0) & ~np.isnan(frozen)
    assert hit.sum() > 50 and (investigated[hit]).all() and (assets[hit] > 0).all() and (frozen[assets < 0] == 0).all()
    np.testing.assert_allclose(a[hit] + frozen[hit], assets[hit])
    ok = ~np.isnan(frozen)
    np.testing.assert_allclose(pend[3:] - pending[3:], np.bincount(member_state[ok], frozen[ok], N_STATES)[3:])


def test_investigate(rng):
    u = 3000
    investigated = rng.random(u) < 0.3
    members, pending = rng.integers(0, 15, u), rng.integers(0, 4, u)

    def call(module, gen):
        a = [members.copy(), pending.copy(), np.full(u, -5, np.int32)]
        return module.investigate(gen, investigated, *a, 17, 0.8, 0.5), *a

    outs = _both_draw(call)
    _assert_same(outs[0], outs[1])
    suspects, members_after, pending_after, at = outs[1]
    assert (suspects[~investigated] == 0).all() and (suspects <= members).all() and suspects.sum() > 0
    np.testing.assert_array_equal(pending_after, pending + suspects)
    assert ((members - members_after) <= suspects).all() and (members_after < members).any()
    np.testing.assert_array_equal(at, np.where(investigated, 17, -5))


@pytest.mark.parametrize("u", [0, 1, 3000])
def test_open_investigations(rng, u):
    cases = np.where(rng.random(u) < 0.3, rng.integers(1, 6, u), 0)
    raided, alive = rng.random(u) < 0.05, rng.random(u) < 0.9
    p_open = 1 - (1 - 0.4) ** np.arange(cases.max(initial=0) + 1)
    outs = _both_draw(lambda module, gen: module.open_investigations(gen, cases, p_open, raided, alive))
    _assert_same(outs[0], outs[1])
    investigated = outs[1]
    assert investigated.dtype == np.bool_ and investigated.shape == (u,)
    assert not investigated[~alive].any() and investigated[raided & alive].all()
    if u > 100:  # groups with more cases open one more often; groups with none only when raided
        opened = investigated & ~raided & alive
        assert not opened[cases == 0].any()
        assert opened[cases >= 4].mean() > opened[cases == 1].mean() > 0.2


def test_market_margin(rng):
    from thbsim.actors.traffickers import DecisionParams

    u = 3000
    alive = rng.random(u) < 0.8
    ms, form = rng.integers(0, N_STATES, u).astype(np.int16), rng.integers(0, NF, u).astype(np.int8)
    ms[alive & (ms == 5)] = 6  # a member state without living groups: margins from the zero-asset case
    args = (alive, ms, form, rng.normal(2e4, 3e4, u), np.array([3000.0, 1500.0, 1000.0]),
            rng.random((N_STATES, NF)) * 4000, rng.random((N_STATES, NF)) * 0.05, rng.random(N_STATES) * 0.3,
            rng.random(N_STATES) * 0.5, rng.random(N_STATES * NF) * 2000 + 300, 1.2,
            DecisionParams(6.0, 0.8, 0.5, 0.3, 0.45, 1.0, 3.0, 0.2))
    out = compiled.market_margin(*args)
    _assert_same(reference.market_margin(*args), out)
    assert out.shape == (N_STATES, NF) and (out > 0).any() and (out < 0).any()
    # with no identification hazard nothing is at risk: the margin is price less operating cost
    calm = list(args)
    calm[6] = np.zeros((N_STATES, NF))
    np.testing.assert_allclose(compiled.market_margin(*calm), args[5] - 0.45 * args[4][None, :])


@pytest.mark.parametrize("with_boost", [False, True])
def test_group_courts_draw_what_numpy_draws(rng, with_boost):
    """A kernel that draws: same numbers from the same generator state, and the state after."""
    u = 4000
    pending_decision = rng.integers(0, 6, u) * (rng.random(u) < 0.5)
    pending_trial = rng.integers(0, 9, u) * (rng.random(u) < 0.5)
    members, ms = rng.integers(0, 15, u), rng.integers(0, N_STATES, u).astype(np.int16)
    boost = 1 + rng.random(u) if with_boost else np.ones(0)
    rates = rng.random(N_STATES), rng.random(N_STATES)
    out, arrays, gens = [], [], [np.random.default_rng(7), np.random.default_rng(7)]
    for module, gen in zip((reference, compiled), gens, strict=True):
        a = [pending_decision.copy(), pending_trial.copy(), members.copy()]
        out.append(module.group_courts(gen, 1 / 6, 1 / 9, 0.4, *a, ms, *rates, boost, with_boost))
        arrays.append(a)
    _assert_same(out[0], out[1])
    for x, y in zip(*arrays, strict=True):
        np.testing.assert_array_equal(x, y)
    assert gens[0].random() == gens[1].random()
    assert out[1][0].sum() > 0 and out[1][1].sum() > 0 and (arrays[1][2] < members).any()


def _both_draw(call):
    """Run ``call(module, generator)`` for numpy and numba from one generator state (numba given the generator,
    then its handle, as the model passes it); returns the numpy and numba outputs and asserts that the handle
    gave the same outputs and that the generators end in the same state (the same numbers were drawn)."""
    gens = [np.random.default_rng(7) for _ in range(3)]
    out = [call(reference, gens[0]), call(compiled, gens[1]), call(compiled, compiled.generator_handle(gens[2]))]
    np.testing.assert_equal(out[2], out[1])
    assert gens[0].random() == gens[1].random() == gens[2].random()
    return out[:2]


@pytest.mark.parametrize("n", [0, 1, 3, 4, 7, 8, 9, 12, 63, 64, 65, 1001, 4096, 33392])
def test_pcg64_chains_are_numpys(n):
    """The compiled chains give numpy's random_raw words (the remainder after the last four, and fewer than eight
    words, one by one), and numpy's state after; victims_month draws its words with them 64 at a time."""
    gen = np.random.default_rng(n + 100)
    pcg = gen.bit_generator.state["state"]
    words = compiled._step_words(pcg["inc"]).copy()
    words[0], words[1] = pcg["state"] & (2**64 - 1), pcg["state"] >> 64
    out = np.empty(n, np.uint64)
    compiled._pcg64_words(out, words)
    np.testing.assert_array_equal(out, gen.bit_generator.random_raw(n))
    assert int(words[0]) | int(words[1]) << 64 == gen.bit_generator.state["state"]["state"]


def test_half_below_answers_as_the_uniform_does():
    """A 32-bit half h is below _half_below(p) exactly when its uniform h x 2^-32 is below p (the integer test
    victims_month puts first): at the edges (0, 1, exact multiples of 2^-32 and their neighbours, NaN,
    infinities, above 1) and at random."""
    rng = np.random.default_rng(11)
    k = rng.integers(0, 2**32, 200)
    edges = [0.0, -0.0, 1.0, 2.0, -1.0, 1e-300, 5e-324, np.nan, np.inf, -np.inf, 2.0**-32, 1 - 2.0**-32, 0.5]
    ps = np.concatenate([edges, k * 2.0**-32, np.nextafter(k * 2.0**-32, 2), np.nextafter(k * 2.0**-32, -1),
                         rng.random(200)])
    halves = np.concatenate([[0, 1, 2**31, 2**32 - 1], k, k - 1, k + 1, rng.integers(0, 2**32, 200)])
    halves = np.unique(np.clip(halves, 0, 2**32 - 1)).astype(np.uint64)
    uniforms = halves.astype(np.float64) * 2.0**-32
    for p in ps:
        bound = compiled._half_below(p)
        np.testing.assert_array_equal(halves < bound, uniforms < p, err_msg=f"p = {p!r}")


def test_generator_handle_is_its_generator_and_copies_as_one():
    """A handle gives back its generator itself; copied or pickled, it is a handle of a copy of the generator,
    in the same state and independent of it."""
    import copy
    import pickle

    gen = np.random.default_rng(3)
    handle = compiled.generator_handle(gen)
    assert handle.rng is gen and reference.generator_handle(gen) is gen
    for twin in (copy.deepcopy(handle), pickle.loads(pickle.dumps(handle))):
        assert twin.rng is not gen and twin.rng.bit_generator.state == gen.bit_generator.state
        compiled.turnover(twin, np.full(4, 1000), np.full(4, 5.0), 0.1)  # draws from the copy only
        assert twin.rng.bit_generator.state != gen.bit_generator.state


@numba.njit
def _uniforms_between(handle, k):
    # k uniforms of the kernels' own, one numpy binomial, k more: the order a kernel mixes them in
    first = compiled._uniforms(handle, k)
    middle = compiled._generator(handle).binomial(1000, 0.3)
    return first, middle, compiled._uniforms(handle, k)


@pytest.mark.parametrize("bits", [np.random.PCG64, np.random.Philox])
def test_kernels_uniforms_are_numpys_draws(bits):
    """A handle's uniforms (computed in the kernel for PCG64, numpy's ``next_double`` otherwise) are the numbers
    numpy's ``random`` gives, in turn with numpy's own draws in the kernel and in Python, and leave the generator
    where numpy leaves it."""
    gen, twin = np.random.Generator(bits(11)), np.random.Generator(bits(11))
    handle = compiled.generator_handle(gen)
    assert (handle.pcg != 0) == (bits is np.random.PCG64)
    first, middle, second = _uniforms_between(handle, 5)
    in_python = gen.random(3)
    third = compiled._uniforms(handle, 4)
    np.testing.assert_array_equal(first, twin.random(5))
    assert middle == twin.binomial(1000, 0.3)
    np.testing.assert_array_equal(second, twin.random(5))
    np.testing.assert_array_equal(in_python, twin.random(3))
    np.testing.assert_array_equal(third, twin.random(4))
    np.testing.assert_array_equal(gen.random(3), twin.random(3))  # both generators left in the same state


def test_pooled_courts_draw_what_numpy_draws(rng):
    pending = rng.integers(0, 400, (2, N_STATES)) * (rng.random((2, N_STATES)) < 0.8)
    rates = rng.random(N_STATES), rng.random(N_STATES)
    rates[0][0] = 0.0

    def call(module, gen):
        a = [pending[0].copy(), pending[1].copy()]
        return module.pooled_courts(gen, 1 / 6, 1 / 9, *a, *rates), a

    (out_np, a_np), (out_nb, a_nb) = _both_draw(call)
    _assert_same(out_np, out_nb)
    _assert_same(tuple(a_np), tuple(a_nb))
    assert out_nb[0].sum() > 0 and out_nb[1].sum() > 0 and (a_nb[0] < pending[0]).any()


def test_courts_pool_dismantled_groups_cases_then_draw_what_numpy_draws(rng):
    u = 3000
    alive = rng.random(u) < 0.8
    pending_decision = rng.integers(0, 6, u) * (rng.random(u) < 0.5)
    pending_trial = rng.integers(0, 9, u) * (rng.random(u) < 0.5)
    members, ms = rng.integers(0, 15, u), rng.integers(0, N_STATES, u).astype(np.int16)
    orphans = rng.integers(0, 50, (2, N_STATES))
    rates = rng.random(N_STATES), rng.random(N_STATES)

    def call(module, gen):
        a = [pending_decision.copy(), pending_trial.copy(), members.copy(), orphans[0].copy(), orphans[1].copy()]
        out = module.courts(gen, 1 / 6, 1 / 9, 0.4, alive, a[0], a[1], a[2], ms, *rates, np.ones(0), False, a[3], a[4])
        return out, a

    (out_np, a_np), (out_nb, a_nb) = _both_draw(call)
    _assert_same(out_np, out_nb)
    _assert_same(tuple(a_np), tuple(a_nb))
    # dismantled groups keep no case; every case is either still pending somewhere or was decided
    assert (a_nb[0][~alive] == 0).all() and (a_nb[1][~alive] == 0).all()
    dead_cases = np.bincount(ms[~alive], weights=pending_decision[~alive], minlength=N_STATES)
    assert (a_nb[3] <= orphans[0] + dead_cases).all() and a_nb[3].sum() > orphans[0].sum()
    assert out_nb[1].sum() > 0 and out_nb[2].sum() > 0 and out_nb[3].sum() > 0


def test_user_cases_draw_what_numpy_draws(rng):
    knowing = rng.integers(0, 20000, N_STATES)
    p_detect = np.where(rng.random(N_STATES) < 0.5, rng.random(N_STATES) * 0.01, 0.0)
    pending = rng.integers(0, 400, (2, N_STATES))
    rates = rng.random(N_STATES), rng.random(N_STATES)

    def call(module, gen):
        a = [pending[0].copy(), pending[1].copy()]
        return module.user_cases(gen, knowing, p_detect, 1 / 6, 1 / 9, *a, *rates, 0.2), a

    (out_np, a_np), (out_nb, a_nb) = _both_draw(call)
    _assert_same(out_np, out_nb)
    _assert_same(tuple(a_np), tuple(a_nb))
    suspects, prosecuted, convicted, found = out_nb
    assert (suspects[p_detect == 0] == 0).all() and suspects.sum() > 0
    assert (found <= suspects).all() and found.sum() > 0
    # this month's suspects wait for a decision; the earlier ones decided this month have left the queue
    assert (a_nb[0] >= suspects).all() and (a_nb[0] - suspects <= pending[0]).all()


def test_member_changes(rng):
    u = 5000
    alive = rng.random(u) < 0.7
    members = rng.integers(0, 20, u)
    join_mean = members * 0.05 * np.minimum(rng.random(u) * 2, 1.0)

    profitability = rng.random(u) * 2
    profitability[:3] = [np.nan, 1.0, -0.5]
    join_mean = members * 0.05 * np.minimum(profitability, 1.0)

    def call(module, gen):
        a, m = alive.copy(), members.copy()
        mean, u_join, band = module.member_join_draws(gen, a, m, 0.05, profitability)
        np.testing.assert_array_equal(mean, join_mean)
        return module.member_changes(gen, a, m, mean, u_join, band, np.exp(-mean[band]), 0.04, 3.0), a, m, \
            u_join, band

    outs = _both_draw(call)
    _assert_same(outs[0], outs[1])
    dismantled, a, m, u_join, band = outs[1]
    assert dismantled.size > 0 and not a[dismantled].any() and alive[dismantled].all()
    assert (m[alive] > members[alive]).any() and (m[alive] < members[alive]).any()
    np.testing.assert_array_equal(m[~alive], members[~alive])
    # the joins are those of exp(-join_mean) taken everywhere; exp was taken for a few rows only
    live = np.flatnonzero(alive)
    assert alive[band].all() and 0 < band.size < live.size / 2  # (means here up to 1; in the model near 0.1)
    joined_everywhere = reference.poisson_inversion(join_mean[live], np.exp(-join_mean[live]), u_join[live])
    np.testing.assert_array_equal(compiled.poisson_at(join_mean, u_join, band, np.exp(-join_mean[band]))[live],
                                  joined_everywhere)


def test_recruit_draws(rng):
    """The recruits' Poisson means, one uniform per group row in row order, and the band, both implementations
    alike and as numpy computes them."""
    n = 3000
    wanted = rng.random(n) * 3 * (rng.random(n) < 0.5)
    mean_success = rng.random(N_STATES * NF) * 0.3
    cell = rng.integers(0, N_STATES * NF, n)
    outs = _both_draw(lambda module, gen: module.recruit_draws(gen, wanted, 0.2, mean_success, cell))
    _assert_same(outs[0], outs[1])
    mean, u, band = outs[1]
    np.testing.assert_array_equal(mean, wanted / 0.2 * mean_success[cell])
    np.testing.assert_array_equal(u, np.random.default_rng(7).random(n))
    np.testing.assert_array_equal(band, reference.poisson_band(mean, u))


def test_poisson_band_leaves_every_count_as_exp_everywhere_gives(rng):
    """Counts by inversion with exp(-mean) taken only in the band are those with exp taken for every element,
    where the uniform is just below or at exp(-mean), at mean 0, tiny, near and above 1, large and NaN; both
    implementations pick the same band, and most small means are decided without exp."""
    k = 20000
    mean = rng.random(k) * rng.choice([0.0, 1e-12, 0.1, 1.0, 3.0, 300.0], k)
    mean[:5] = [0.0, 1.0, 1 - 2.0**-30, np.nan, 2.0**-30]
    p0 = np.exp(-mean)
    u = rng.random(k)
    edge = rng.random(k) < 0.3  # uniforms at exp(-mean) and the next number below it
    u[edge] = np.where(rng.random(edge.sum()) < 0.5, p0[edge], np.nextafter(p0[edge], 0))
    u = np.minimum(u, np.nextafter(1.0, 0))
    everywhere = reference.poisson_inversion(mean, p0, u)
    bands = [module.poisson_band(mean, u) for module in (reference, compiled)]
    np.testing.assert_array_equal(bands[0], bands[1])
    band = bands[0]
    for module in (reference, compiled):
        np.testing.assert_array_equal(module.poisson_at(mean, u, band, np.exp(-mean[band])), everywhere)
    small = (mean < 0.1) & ~edge
    assert np.isin(np.flatnonzero(small), band).mean() < 0.2


def test_inversion_samplers_are_identical(rng):
    """Binomial and Poisson by inversion: the same counts from the same uniforms, edge cases included
    (p = 0, p = 1, p above 1/2, n = 0, large means)."""
    k = 20000
    n = rng.integers(0, 1000, k) // rng.integers(1, 100, k)
    p = rng.choice([0.0, 1.0, 0.5, 0.01, 0.3, 0.7, 0.99, 1 / 6], k)
    u = rng.random(k)
    out = compiled.binomial_inversion(n, p, u)
    np.testing.assert_array_equal(reference.binomial_inversion(n, p, u), out)
    np.testing.assert_array_equal(out[p == 0.0], 0)
    np.testing.assert_array_equal(out[p == 1.0], n[p == 1.0])
    assert (out <= n).all()
    np.testing.assert_array_equal(compiled.binomial_inversion(n, 0.2, u), reference.binomial_inversion(n, 0.2, u))
    mean = rng.random(k) * rng.choice([0.1, 1.0, 10.0, 300.0], k)
    every = np.arange(k)
    np.testing.assert_array_equal(reference.poisson_at(mean, u, every, np.exp(-mean)),
                                  compiled.poisson_at(mean, u, every, np.exp(-mean)))
    for module in (reference, compiled):
        with pytest.raises(ValueError, match="above"):
            module.binomial_inversion(np.array([reference.MAX_INVERSION_N + 1]), 0.5, np.array([0.5]))
        with pytest.raises(ValueError, match="above"):
            module.poisson_at(np.array([1e4]), np.array([0.5]), np.array([0]), np.array([0.0]))


def test_guided_search_finds_what_bisection_finds(rng):
    """The recruits' strata are searched from a guide of buckets of u: the same category as the bisection
    (and as stacked_choice), at every cumulative probability, every bucket edge and their neighbours, in
    rows with empty categories, a row of zeros and a row that does not reach 1."""
    n_cat = 40
    p = rng.random((6, n_cat)) * (rng.random((6, n_cat)) < 0.4)  # many empty categories
    p[2] = 0.0
    p[3, :5] = 1.0  # mass only at the start
    cdf = np.cumsum(p, axis=1) / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
    cdf[4] *= 0.999  # rounding may leave a row short of 1
    guide = np.empty((cdf.shape[0], compiled.GUIDE_BUCKETS), np.int64)
    for row in range(cdf.shape[0]):
        compiled._guide_row(cdf, row, guide)
    edges = np.arange(compiled.GUIDE_BUCKETS) / compiled.GUIDE_BUCKETS
    for row in range(cdf.shape[0]):
        points = np.concatenate([cdf[row], edges, rng.random(50), [0.0, 1.0 - 2.0**-53]])
        us = np.concatenate([points, np.nextafter(points, 0.0), np.nextafter(points, 1.0)])
        us = us[(us >= 0.0) & (us < 1.0)]
        expected = stacked_choice(cdf, np.full(us.size, row), us)
        got = [compiled._search_guided(cdf, guide, row, u) for u in us]
        assert got == [compiled._search_row(cdf, row, u) for u in us] == expected.tolist()


@pytest.mark.parametrize("mean", [0.0, 1e-300, 0.05, 0.43, 1.0, 2.5, 7.0, 40.0, 500.0, float("nan")])
def test_poisson_two_steps_gives_the_same_counts(rng, mean):
    """The recruits' Poisson counts take their first two steps without a branch: the same count as the
    loop, at and next to every cumulative probability it compares with, and with p0 = 0."""
    for p0 in (np.exp(-mean), 0.0):
        bounds, prob, cdf = [p0], p0, p0
        for k in range(1, 8):
            prob *= mean / k
            cdf += prob
            bounds.append(cdf)
        us = [b2 for b in bounds for b2 in (b, np.nextafter(b, 0.0), np.nextafter(b, 1.0)) if 0.0 <= b2 < 1.0]
        for u in (*us, *rng.random(30), 0.0, 1.0 - 2.0**-53):
            assert compiled._poisson_two_steps(mean, p0, u) == compiled._poisson(mean, p0, u), (mean, p0, u)


@pytest.mark.parametrize("p", [0.0, 1 / 12, 1 / 6, 0.5, 0.6, 0.7, 0.99, 1.0])
def test_binomial_table_gives_the_same_counts(rng, p):
    """Kernels that draw many counts with one p take (1 - p)^n from a table: the same count as drawing
    each alone, inside the table, beyond it (computed directly) and for the edge uniforms."""
    table = compiled._binomial_table(p)
    assert table[0].size == compiled.BINOMIAL_TABLE_N + 1
    for n in range(compiled.BINOMIAL_TABLE_N + 12):
        p0 = table[0][min(n, compiled.BINOMIAL_TABLE_N)]  # P(0) (of the failures above 1/2): a boundary
        for u in (0.0, *rng.random(40), p0, np.nextafter(p0, 0.0), np.nextafter(p0, 1.0), 1.0 - 2.0**-53):
            assert compiled._binomial_tabled(n, p, u, table) == compiled._binomial(n, p, u), (n, u)


@pytest.mark.parametrize(("n", "p"), [(5, 0.01), (30, 0.3), (12, 0.8), (400, 0.5)])
def test_binomial_inversion_has_the_binomial_distribution(n, p):
    from scipy import stats

    m = 200_000
    draws = compiled.binomial_inversion(np.full(m, n), p, np.random.default_rng(5).random(m))
    observed = np.bincount(draws, minlength=n + 1)
    expected = stats.binom.pmf(np.arange(n + 1), n, p) * m
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3
    assert abs(draws.mean() - n * p) < 5 * np.sqrt(n * p * (1 - p) / m)


@pytest.mark.parametrize("mean", [0.2, 3.0, 40.0])
def test_poisson_inversion_has_the_poisson_distribution(mean):
    from scipy import stats

    m = 200_000
    draws = compiled.poisson_at(np.full(m, mean), np.random.default_rng(6).random(m), np.arange(m),
                                np.full(m, np.exp(-mean)))
    observed = np.bincount(draws)
    expected = stats.poisson.pmf(np.arange(observed.size), mean) * m
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3
    assert abs(draws.mean() - mean) < 5 * np.sqrt(mean / m)


def test_demand_turnover_draws_what_numpy_draws(rng):
    users = rng.integers(10**4, 10**6, N_STATES)
    employers = rng.integers(0, 500, (N_STATES, 5))
    cap = rng.random(N_STATES) * 2e5  # below the users in some member states, above in others

    def call(module, gen):
        u, e = users.copy(), employers.copy()
        knowing = module.demand_turnover(gen, u, users * 0.01, 0.01, e, employers * 0.02 + 0.5, 0.02, cap, 0.3)
        return knowing, u, e

    out_np, out_nb = _both_draw(call)
    _assert_same(out_np, out_nb)
    knowing, u, e = out_nb
    assert (u != users).any() and (e != employers).any()
    served = np.round(np.minimum(u, cap))
    assert (knowing <= served).all() and abs(knowing.sum() / served.sum() - 0.3) < 0.01


def test_demand_month(rng):
    users = rng.integers(10**4, 10**6, N_STATES)
    employers = rng.integers(0, 500, (N_STATES, 7))
    employers_base = employers * rng.uniform(0.8, 1.2, (N_STATES, 7))
    exploited = rng.random((N_STATES, NF)) * 3000
    exploited[0] = 0.0  # a member state without victims: capacity over half a victim
    buying = rng.uniform(0.5, 1.0, N_STATES)
    deterrence, labour = rng.uniform(0.7, 1.0, (N_STATES, 7)), rng.uniform(1.0, 1.3, N_STATES)
    target, other = rng.uniform(0.4, 1.0, N_STATES), rng.random(N_STATES) * 100

    def call(module, gen):
        u, e, vb, cap = users.copy(), employers.copy(), buying.copy(), np.zeros((N_STATES, NF))
        out = module.demand_month(gen, u, users * 1.01, 0.02, e, employers_base, deterrence, labour, 0.03, exploited,
                                  20.0, 8.0, 0.3, vb, target, 0.1, other, 5.0, cap)
        return (*out, u, e, vb, cap)

    out_np, out_nb = _both_draw(call)
    _assert_same(out_np, out_nb)
    knowing, sector_capacity, ratio, u, e, vb, cap = out_nb
    assert (u != users).any() and (e != employers).any() and knowing.sum() > 0
    np.testing.assert_array_equal(sector_capacity, e * 5.0)
    np.testing.assert_array_equal(cap[:, 1], sector_capacity.sum(axis=1))
    np.testing.assert_array_equal(cap[:, 2], other)
    np.testing.assert_allclose(vb, buying + 0.02 * (target - buying))
    np.testing.assert_allclose(cap[:, 0], u * 8.0 * 0.1 * vb / 20.0)
    assert (ratio >= 1e-3).all() and (ratio[0] == np.maximum(cap[0] / 0.5, 1e-3)).all()


def test_turnover_draws_what_numpy_draws(rng):
    stock = rng.integers(0, 10**6, (33, 2, 2)) * (rng.random((33, 2, 2)) < 0.9)
    mean = rng.random((33, 2, 2)) * 3e4 * (rng.random((33, 2, 2)) < 0.9)

    def call(module, gen):
        s = stock.copy()
        module.turnover(gen, s, mean, 0.02)
        return s

    out_np, out_nb = _both_draw(call)
    np.testing.assert_array_equal(out_np, out_nb)
    assert (out_nb != stock).any()


def test_raid_hazard(rng):
    u = 5000
    alive = rng.random(u) < 0.8
    ms, form = rng.integers(0, N_STATES, u).astype(np.int16), rng.integers(0, NF, u).astype(np.int8)
    investigations = rng.random(N_STATES) * 30
    investigations[5] = 0.0
    base = (alive, ms, form, rng.integers(0, 40, u), rng.random(NF), investigations, N_STATES)

    def call(module, gen):
        hazard = np.full(u, np.nan)
        return (*module.raid_hazard(gen, *base, hazard), hazard)

    outs = _both_draw(call)
    _assert_same(outs[0], outs[1])
    raided, band, draw, hazard = outs[1]
    np.testing.assert_array_equal(draw, np.random.default_rng(7).random(u))  # one uniform per row, in row order
    raided[band] = draw[band] < 1 - np.exp(-hazard[band])  # as Enforcement.raids
    np.testing.assert_array_equal(raided, draw < 1 - np.exp(-hazard))
    assert band.size < u / 2 and raided.any()
    assert (hazard[~alive] == 0).all() and (hazard[alive & (ms != 5)] > 0).all()
    # uniforms at 1 - exp(-hazard) and the next number below it (hazards up to some 3): decided as with exp
    prob = 1 - np.exp(-hazard)
    for edge in (prob, np.nextafter(prob, 0), np.nextafter(prob, 1)):
        outs = [module.raids_decided(hazard, edge) for module in (reference, compiled)]
        _assert_same(outs[0], outs[1])
        raided, band = outs[1]
        raided[band] = edge[band] < 1 - np.exp(-hazard[band])
        np.testing.assert_array_equal(raided, edge < prob)
    by_state = np.bincount(ms, weights=hazard, minlength=N_STATES)  # each member state's investigations are shared out
    has_live = np.bincount(ms[alive], minlength=N_STATES) > 0
    np.testing.assert_allclose(by_state[has_live], investigations[has_live])


def test_pick_in_cell(rng):
    u = 3000
    alive = rng.random(u) < 0.6
    ms, form = rng.integers(0, N_STATES, u).astype(np.int16), rng.integers(0, NF, u).astype(np.int8)
    alive[(ms == 4) & (form == 1)] = False  # a cell without living groups
    cell = (rng.integers(0, N_STATES * NF, 8000)).astype(np.int16)
    args = (alive, ms, form, NF, N_STATES * NF, cell, rng.random(8000))
    picked = compiled.pick_in_cell(*args)
    np.testing.assert_array_equal(reference.pick_in_cell(*args), picked)
    live_cells = np.bincount(ms[alive] * NF + form[alive], minlength=N_STATES * NF) > 0
    empty = ~live_cells[cell]
    assert empty.any() and (picked[empty] == -1).all() and (picked[~empty] >= 0).all()
    found = picked >= 0
    assert alive[picked[found]].all()
    np.testing.assert_array_equal(ms[picked[found]] * NF + form[picked[found]], cell[found])
    none = np.zeros(u, bool)
    np.testing.assert_array_equal(compiled.pick_in_cell(none, *args[1:]), np.full(8000, -1))
    np.testing.assert_array_equal(reference.pick_in_cell(none, *args[1:]), np.full(8000, -1))


def test_relocate_groups(rng):
    u = 3000
    alive = rng.random(u) < 0.8
    ms, form = rng.integers(0, N_STATES, u).astype(np.int16), rng.integers(0, NF, u).astype(np.int8)
    margin = rng.standard_normal((N_STATES, NF)) * 300
    capacity = rng.random((N_STATES, NF)) * 100
    capacity[7] = 0.0  # a member state no group can move to

    def call(module, gen):
        m = ms.copy()
        rows, old = module.relocate_groups(gen, alive, m, form, margin, capacity, 0.2, 0.1, np.array([1e3, 8e2, 5e2]))
        return rows, old, m

    outs = _both_draw(call)
    _assert_same(outs[0], outs[1])
    none = _both_draw(lambda module, gen: module.relocate_groups(gen, alive, ms.copy(), form, margin, capacity, 0.0, 0.1,
                                                                  np.array([1e3, 8e2, 5e2])))
    assert none[0][0].size == none[1][0].size == 0  # nobody reconsiders: one uniform per living group drawn, no more
    rows, old, m = outs[1]
    assert rows.size > 0 and alive[rows].all() and (old == ms[rows]).all() and (m[rows] != 7).all()
    assert (margin[m[rows], form[rows]] > margin[old, form[rows]]).all()
    moved = np.zeros(u, bool)
    moved[rows] = True
    np.testing.assert_array_equal(m[~moved], ms[~moved])


def test_register(rng):
    r = _rows(rng, 20000, 400)
    rows = np.flatnonzero(r["state"] == IDENTIFIED)
    citizenship = rng.integers(0, 40, 20000).astype(np.int8)
    sex = rng.integers(0, 2, 20000).astype(np.int8)
    u = rng.random(rows.size)
    shape = (N_STATES, NF + 1, 2, 2, 40)
    outs = [np.zeros(shape, np.float32), np.zeros(shape, np.float32)]
    outs[0][0, 0, 0, 0, 0] = outs[1][0, 0, 0, 0, 0] = 2.0  # counts are added to what is there
    for module, out in zip((reference, compiled), outs, strict=True):
        module.register(out.reshape(-1), rows, u, 0.1, r["form"], r["member_state"], sex, r["birth_month"], citizenship,
                        60, 216, NF, 40)
    np.testing.assert_array_equal(outs[0], outs[1])
    out = outs[1]
    assert out.sum() == rows.size + 2
    unrecorded = out[:, NF].sum()
    assert 0.07 * rows.size < unrecorded < 0.13 * rows.size
    adult = (60 - r["birth_month"][rows]) >= 216
    assert out[:, :, :, 1].sum() == np.count_nonzero(adult)
    np.testing.assert_array_equal(out.sum(axis=(0, 1, 2, 3)) - np.eye(40)[0] * 2,
                                  np.bincount(citizenship[rows], minlength=40))


def test_free_group_rows(rng):
    u = 4000
    alive = rng.random(u) < 0.6
    pending = rng.integers(0, 3, (2, u)) * (rng.random((2, u)) < 0.3)
    died = rng.integers(0, 50, u)
    for n in (0, 5, 200, u):
        out = compiled.free_group_rows(alive, *pending, died, 40, n)
        _assert_same(reference.free_group_rows(alive, *pending, died, 40, n), out)
        assert out.size <= n and not alive[out].any() and (died[out] <= 38).all() and (pending[:, out] == 0).all()
    assert 200 < compiled.free_group_rows(alive, *pending, died, 40, u).size < u


def test_write_groups(rng):
    """New groups fill their rows (and only those) as the model's arrays take them: members drawn as floats
    become whole counts, other rows keep what they held."""
    from thbsim.actors.traffickers import NEVER_INVESTIGATED

    u, n = 3000, 400
    rows = np.sort(rng.choice(u, n, replace=False))
    member_state = rng.integers(0, N_STATES, n)
    form = rng.integers(0, NF, n)
    members = np.maximum(2.0 + rng.poisson(4.0, n), 3.0)
    members[:3] = [2.0, 7.0, 1e6]
    assets = rng.standard_normal(n) * 1e5
    arrays = {}
    for name, module in (("reference", reference), ("compiled", compiled)):
        a = {"alive": np.arange(u) % 3 == 0, "member_state": np.full(u, 9, np.int16), "form": np.full(u, 1, np.int8),
             "members": np.full(u, 5, np.int64), "assets": np.full(u, -1.5), "held": np.full(u, 4, np.int64),
             "born": np.full(u, 3, np.int32), "investigated_at": np.full(u, 7, np.int32), "raid_hazard": np.full(u, 0.25)}
        module.write_groups(rows, member_state, form, members, assets, 42, *a.values())
        arrays[name] = a
    for key in arrays["reference"]:
        np.testing.assert_array_equal(arrays["compiled"][key], arrays["reference"][key], err_msg=key)
    a, other = arrays["compiled"], np.setdiff1d(np.arange(u), rows)
    assert a["alive"][rows].all() and (a["held"][rows] == 0).all() and (a["born"][rows] == 42).all()
    assert (a["investigated_at"][rows] == NEVER_INVESTIGATED).all() and (a["raid_hazard"][rows] == 0.0).all()
    np.testing.assert_array_equal(a["member_state"][rows], member_state)
    np.testing.assert_array_equal(a["form"][rows], form)
    np.testing.assert_array_equal(a["members"][rows], members.astype(np.int64))
    np.testing.assert_array_equal(a["assets"][rows], assets)
    assert (a["members"][other] == 5).all() and (a["born"][other] == 3).all() and (a["assets"][other] == -1.5).all()
    assert (a["alive"][other] == (other % 3 == 0)).all()


def _group_month(rng, u: int, u2: int) -> dict:
    """Inputs of ``group_records`` as the step passes them: flags, counts and amounts of the groups before entry
    (``u`` rows, runs of equal cells), the groups after entry (``u2`` rows), entrants among the rows."""
    ms = np.sort(rng.integers(0, N_STATES, u2)).astype(np.int16)  # neighbouring rows often share a cell
    form = rng.integers(0, NF, u2).astype(np.int8)
    amounts = np.where(rng.random((4, u)) < 0.7, rng.standard_normal((4, u)) * 1e5, 0.0)
    amounts[rng.random((4, u)) < 0.1] = -0.0
    gcell = ms[:u].astype(np.int64) * NF + form[:u]
    if u:
        cell0 = np.flatnonzero(gcell == gcell[0])
        amounts[1, cell0] = -0.0
        amounts[1, cell0[:2]] = [2.5, -2.5]  # a cell whose profit cancels to zero, its other rows -0.0
        amounts[2, u // 2] = np.nan
    return {
        "gms": ms[:u], "gcell": gcell,
        "investigated": rng.random(u) < 0.05, "raided": rng.random(u) < 0.02, "frozen": np.where(amounts[3] > 0, amounts[3], 0.0),
        "suspects": (rng.random(u) < 0.05) * rng.integers(1, 5, u), "prosecuted": (rng.random(u) < 0.02) * rng.integers(1, 3, u),
        "convicted": (rng.random(u) < 0.01) * rng.integers(1, 3, u),
        "dismantled": np.flatnonzero(rng.random(u) < 0.03), "revenue": np.abs(amounts[0]), "profit": amounts[1],
        "spending": amounts[2], "alive": rng.random(u2) < 0.8, "member_state": ms, "form": form,
        "members": rng.integers(0, 12, u2), "assets": rng.standard_normal(u2) * 1e6,
        "entrants": rng.permutation(np.flatnonzero(rng.random(u2) < 0.02)),
    }


def _group_records(kern, inputs: dict) -> tuple[np.ndarray, ...]:
    n_cells = N_STATES * NF
    outs = {"by_ms": np.full((6, N_STATES), 7.0), "flows": np.full((5, n_cells), 7.0), "stocks": np.full((3, n_cells), 7.0),
            "entered": np.full(n_cells, 7.0), "entry_capital": np.full(n_cells, 7.0)}  # overwritten, whatever they held
    kern.group_records(**inputs, n_forms=NF, **outs)
    return tuple(outs.values())


@pytest.mark.parametrize(("u", "u2"), [(3000, 3000), (3000, 3100), (0, 40), (0, 0)])
def test_group_records(rng, u, u2):
    """The month's sums over group rows: both implementations alike bit for bit (signs of zero, a sum that
    cancels and a NaN included), and each sum what adding the rows one by one in order gives."""
    inputs = _group_month(rng, u, u2)
    out = _group_records(compiled, inputs)
    expected = _group_records(reference, inputs)
    for x, y in zip(out, expected, strict=True):
        assert x.tobytes() == y.tobytes()
    by_ms, flows, stocks, entered, entry_capital = out
    check_ms, check_flows, check_stocks = np.zeros_like(by_ms), np.zeros_like(flows), np.zeros_like(stocks)
    check_entered, check_capital = np.zeros_like(entered), np.zeros_like(entry_capital)
    x = inputs
    gone = np.isin(np.arange(u), x["dismantled"])
    for i in range(u):
        m, c = x["gms"][i], x["gcell"][i]
        for k, w in enumerate((x["investigated"], x["raided"], x["frozen"] > 0, x["suspects"], x["prosecuted"], x["convicted"])):
            check_ms[k, m] += w[i]
        for k, w in enumerate((gone, x["revenue"], x["profit"], x["spending"], x["frozen"])):
            check_flows[k, c] += w[i]
    for i in np.flatnonzero(x["alive"]):
        c = int(x["member_state"][i]) * NF + x["form"][i]
        check_stocks[:, c] += (1.0, x["members"][i], x["assets"][i])
    for e in x["entrants"]:
        c = int(x["member_state"][e]) * NF + x["form"][e]
        check_entered[c] += 1
        check_capital[c] += x["assets"][e]
    for got, want in zip(out, (check_ms, check_flows, check_stocks, check_entered, check_capital), strict=True):
        assert got.tobytes() == want.tobytes()
    if u:
        zero = flows[2] == 0
        assert np.isnan(flows[3]).sum() == 1 and zero[x["gcell"][0]] and not np.signbit(flows[2][zero]).any()
        assert flows[0].sum() == x["dismantled"].size and by_ms[0].sum() == x["investigated"].sum()
    assert stocks[0].sum() == x["alive"].sum() and entered.sum() == x["entrants"].size


def test_group_cells(rng):
    """Each group's victims held (none for a dismantled group), its cell and a recruit's cost there."""
    u = 3000
    alive = rng.random(u) < 0.8
    exploiting = rng.integers(0, 20, u)
    member_state = rng.integers(0, N_STATES, u).astype(np.int16)
    form = rng.integers(0, NF, u).astype(np.int8)
    cost_per_cell = rng.random(N_STATES * NF) * 1e3
    held = {name: np.full(u + 5, -1, np.int64) for name in ("compiled", "reference")}
    out = compiled.group_cells(alive, exploiting, member_state, form, NF, cost_per_cell, held["compiled"][:u])
    expected = reference.group_cells(alive, exploiting, member_state, form, NF, cost_per_cell, held["reference"][:u])
    _assert_same(expected, out)
    np.testing.assert_array_equal(held["compiled"], held["reference"])
    cell, cost = out
    np.testing.assert_array_equal(cell, member_state.astype(np.int64) * NF + form)
    np.testing.assert_array_equal(cost, cost_per_cell[cell])
    assert (held["compiled"][:u][~alive] == 0).all() and (held["compiled"][:u][alive] == exploiting[alive]).all()
    assert (held["compiled"][u:] == -1).all()  # only the rows given


def test_close_books(rng):
    """Dismantled groups' assets go to their members (spending), the ledger takes frozen and closing assets."""
    u = 2000
    assets, spending = rng.standard_normal(u + 10) * 1e5, rng.random(u) * 1e3
    frozen = np.where(rng.random(u) < 0.1, rng.random(u) * 1e4, 0.0)
    dismantled = np.flatnonzero(rng.random(u) < 0.05)
    state = {}
    for kern in (compiled, reference):  # each on its own copies of the same inputs
        after = assets.copy(), spending.copy(), np.full(u, 7.0), np.full(u, 7.0)
        kern.close_books(dismantled, after[0][:u], after[1], frozen, after[2], after[3])
        state[kern] = after
    for x, y in zip(state[compiled], state[reference], strict=True):
        assert x.tobytes() == y.tobytes()
    assets_after, spending_after, ledger_frozen, ledger_closing = state[compiled]
    np.testing.assert_array_equal(spending_after[dismantled], spending[dismantled] + assets[dismantled])
    assert (assets_after[dismantled] == 0).all() and (assets_after[u:] == assets[u:]).all()
    np.testing.assert_array_equal(ledger_frozen, frozen)
    np.testing.assert_array_equal(ledger_closing, assets_after[:u])
    kept = np.setdiff1d(np.arange(u), dismantled)
    np.testing.assert_array_equal(spending_after[kept], spending[kept])
    np.testing.assert_array_equal(assets_after[kept], assets[kept])


def test_record_month(rng):
    """The month's records by member state and its social cost: both implementations alike bit for bit (a row of
    -0.0 and a NaN included), each row what the step's quantities give, the social cost what the cost study's unit
    costs give."""
    from thbsim.money import COST_CATEGORIES, CostLedger
    from thbsim.params import ParamSet
    from thbsim.recorder import BLOCKS

    n, n_sectors = N_STATES, 7
    by_ms = rng.random((6, n)) * 50
    by_ms[3, 0] = np.nan
    x = dict(orphan_prosecuted=rng.integers(0, 9, n), orphan_convicted=rng.integers(0, 9, n),
             user_suspects=rng.integers(0, 9, n), user_prosecutions=rng.integers(0, 9, n),
             user_convictions=rng.integers(0, 9, n), confiscated=rng.random(n) * 1e6, users=rng.integers(0, 10**6, n),
             knowing_users=rng.integers(0, 10**4, n), employers=rng.integers(0, 500, (n, n_sectors)),
             workers=rng.random((n, n_sectors)) * 1e5, coverage=rng.random((n, n_sectors)) * 1e-2,
             extra_coverage=rng.random((n, n_sectors)) * 1e-3, identified=rng.integers(0, 30, n * NF))
    x["workers"][1] = -0.0
    x["coverage"][1] = 0.0
    costs = CostLedger(ParamSet())
    health = 1 - rng.random(n) * 0.3
    share = rng.random(n) / n
    out = {}
    for kern in (compiled, reference):
        rows, social = np.full((len(BLOCKS["by_member_state"]), n), 7.0), np.full((n, len(COST_CATEGORIES)), 7.0)
        kern.record_month(rows, social, by_ms, *x.values(), NF, share, health, costs.coordination_month, costs.per_suspect,
                          costs.victim_rates, costs.health_column)
        out[kern] = rows, social
    for a, b in zip(out[compiled], out[reference], strict=True):
        assert a.tobytes() == b.tobytes()
    rows, social = out[compiled]
    named = dict(zip(BLOCKS["by_member_state"], rows, strict=True))
    np.testing.assert_array_equal(named["suspects"], by_ms[3])
    np.testing.assert_array_equal(named["prosecutions"], by_ms[4] + x["orphan_prosecuted"])
    np.testing.assert_array_equal(named["convictions"], by_ms[5] + x["orphan_convicted"])
    for name in ("user_suspects", "user_prosecutions", "user_convictions", "confiscated", "users", "knowing_users"):
        np.testing.assert_array_equal(named["assets_confiscated" if name == "confiscated" else name], x[name])
    np.testing.assert_array_equal(named["investigations"], by_ms[0])
    np.testing.assert_array_equal(named["raids"], by_ms[1])
    np.testing.assert_array_equal(named["employers_willing"], x["employers"].sum(axis=1))
    checked = [sum(float(w) * (c + e) for w, c, e in zip(*(x[k][i] for k in ("workers", "coverage", "extra_coverage")),
                                                        strict=True)) for i in range(n)]
    np.testing.assert_allclose(named["inspection_checks"], checked, rtol=1e-12)
    assert not np.signbit(named["inspection_checks"][1])
    registered = x["identified"].reshape(n, NF).sum(axis=1)
    categories = dict(zip(COST_CATEGORIES, social.T, strict=True))
    np.testing.assert_allclose(categories["coordination_prevention"], costs.coordination_month * share, rtol=1e-15)
    np.testing.assert_array_equal(categories["law_enforcement"][1:], by_ms[3, 1:] * costs.per_suspect)
    assert np.isnan(categories["law_enforcement"][0])
    for c in ("victim_services", "lost_output", "quality_of_life"):
        np.testing.assert_allclose(categories[c], registered * costs.per_victim[c], rtol=1e-15)
    np.testing.assert_allclose(categories["health_social"], registered * costs.per_victim["health_social"] * health,
                               rtol=1e-15)


def test_write_recruits(rng):
    from thbsim.actors.enforcement import N_FORM_SECTOR
    from thbsim.population import Victims

    k = 3000
    form = rng.integers(0, NF, k).astype(np.int64)
    sector = np.where(form == 1, rng.integers(0, 10, k), -1)
    values = (rng.integers(0, 33, k), rng.integers(0, N_STATES, k).astype(np.int16), rng.integers(0, 2, k),
              rng.integers(12, 46, k), form, sector, rng.integers(0, 2, k).astype(np.int8), rng.integers(0, 500, k))
    since = -rng.integers(0, 240, k)
    victims = [Victims(8000), Victims(8000)]
    counts, by_group = [], []
    start = rng.integers(0, 9, 600)
    for v, module in zip(victims, (reference, compiled), strict=True):
        rows = v.allocate(k)
        by_group.append(start.copy())
        counts.append(module.write_recruits(v.fields(), rows, EXPLOITED, 7, since, *values, by_group[-1], NF,
                                            N_FORM_SECTOR, N_STATES * NF))
    for a, b in zip(victims[0].fields(), victims[1].fields(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(by_group[0], by_group[1])  # each recruit counted in its group
    np.testing.assert_array_equal(by_group[1] - start, np.bincount(values[-1], minlength=600))
    assert (victims[1].hazard_key[:k] > 0).any() and (victims[1].state[:k] == EXPLOITED).all()
    np.testing.assert_array_equal(counts[0], counts[1])  # recruits per cell
    np.testing.assert_array_equal(counts[1], np.bincount(values[1] * NF + form, minlength=N_STATES * NF))


def test_stratum_cdf(rng):
    pool = rng.integers(0, 10**6, (33, 2, 2)) * (rng.random((33, 2, 2)) < 0.8)
    link = rng.random((33, N_STATES)) * 5
    link[:, 3] = 0.0  # a member state no origin reaches
    args = (pool, rng.random(33) * 0.3, link, rng.random((NF, 2, 2)) * 3)
    cdf, mean_success = compiled.stratum_cdf(*args)
    _assert_same(reference.stratum_cdf(*args), (cdf, mean_success))
    assert (np.diff(cdf, axis=1) >= 0).all() and np.allclose(cdf[[r for r in range(cdf.shape[0]) if r // NF != 3], -1], 1)
    assert (cdf[3 * NF] == 0).all() and 0 < mean_success.max() <= 0.3
    with pytest.raises(ValueError, match="three forms"):  # the compiled sums are written for the model's three forms
        compiled.stratum_cdf(pool, args[1], link, args[3][:2])


@pytest.mark.parametrize("scenario", ["baseline.toml", "combined.toml", "joint_investigations.toml"])
def test_whole_runs_are_identical(scenario):
    """Every recorded indicator of every month, numpy against numba, same seed."""
    sc = load(SCENARIOS / scenario).with_params(scale=0.1)
    data = {}
    for name in ("numpy", "numba"):
        model = TraffickingModel(sc, seed=11, kernels=name)
        assert model.kernels.__name__.endswith("reference" if name == "numpy" else "compiled")
        model.run()
        data[name] = model.recorder.data
    assert data["numpy"]["registered"].sum() > 0
    for key, arr in data["numpy"].items():
        np.testing.assert_array_equal(arr, data["numba"][key], err_msg=key)


def test_backend_choice(monkeypatch):
    monkeypatch.delenv("THBSIM_KERNELS", raising=False)
    assert kernels.load("auto") is compiled
    assert kernels.load("numpy") is reference
    monkeypatch.setenv("THBSIM_KERNELS", "numpy")
    assert kernels.load("auto") is reference
    assert kernels.load("numba") is compiled  # an explicit choice wins over the environment
    monkeypatch.setenv("THBSIM_KERNELS", "fortran")
    with pytest.raises(ValueError, match="THBSIM_KERNELS.*'fortran'"):
        kernels.load("auto")
    with pytest.raises(ValueError, match="kernels must be one of auto, numpy, numba, not 'cuda'"):
        kernels.load("cuda")
    monkeypatch.delenv("THBSIM_KERNELS")
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    assert kernels.load("auto") is reference
    with pytest.raises(ImportError, match=r"pip install \"thbsim\[fast\]\""):
        kernels.load("numba")


def test_owners(rng):
    counts = rng.poisson(0.5, 3000)
    counts[:5] = (0, 3, 0, 0, 7)
    out = compiled.owners(counts)
    _assert_same(reference.owners(counts), out)
    np.testing.assert_array_equal(np.bincount(out, minlength=counts.size), counts)
    assert (np.diff(out) >= 0).all() and out[:10].tolist() == [1, 1, 1, 4, 4, 4, 4, 4, 4, 4]
    for few in (np.zeros(0, np.int64), np.zeros(4, np.int64), np.array([2, 0, 0]), np.array([0, 0, 1]), np.array([5])):
        _assert_same(reference.owners(few), compiled.owners(few))


def test_retraffick_and_update_stocks(rng):
    """Victims trafficked again join their new group in transit (those without one stay as they were), counted
    per cell; the stocks move by the month's flows; both implementations alike."""
    from thbsim.population import RECRUITED, SUPPORTED

    n_rows, n_cells = 4000, N_STATES * NF
    cell = rng.integers(0, n_cells, n_rows).astype(np.int16)
    rows = np.sort(rng.choice(n_rows, 300, replace=False))
    new_group = np.where(rng.random(300) < 0.8, rng.integers(0, 50, 300), -1)
    start = rng.integers(0, 100, (5, n_cells))
    flows = rng.integers(0, 10, (6, n_cells))  # in transit, identified, exited, entered, declined, left support
    recruited = rng.integers(0, 10, n_cells)
    outs = []
    for module in (reference, compiled):
        state = np.full(n_rows, SUPPORTED, np.int8)
        group = np.full(n_rows, -1, np.int32)
        since = np.zeros(n_rows, np.int16)
        times = np.ones(n_rows, np.int8)
        in_transit = np.full(60, 3)
        counts = module.retraffick(rows, new_group, state, group, since, times, cell, 9, n_cells, in_transit)
        stocks = start.copy()
        module.update_stocks(stocks, recruited, counts, flows)
        outs.append((counts, state, group, since, times, stocks, in_transit))
    _assert_same(outs[0], outs[1])
    counts, state, group, since, times, stocks, in_transit = outs[1]
    taken = rows[new_group >= 0]
    np.testing.assert_array_equal(in_transit - 3, np.bincount(new_group[new_group >= 0], minlength=60))
    assert (state[taken] == RECRUITED).all() and (group[taken] == new_group[new_group >= 0]).all()
    assert (since[taken] == 9).all() and (times[taken] == 2).all() and (state[rows[new_group < 0]] == SUPPORTED).all()
    np.testing.assert_array_equal(counts, np.bincount(cell[taken], minlength=n_cells))
    np.testing.assert_array_equal(stocks[RECRUITED] - start[RECRUITED], recruited + counts - flows[0])
    np.testing.assert_array_equal(stocks.sum(axis=0) - start.sum(axis=0),
                                  recruited - flows[2] - flows[4] - flows[5])  # in: recruits; out: left the system
