"""The kernels compiled with numba: one loop over rows per block instead of a dozen array passes.
Same signatures and results as ``reference.py`` (tests/test_kernels.py compares them exactly)."""

from __future__ import annotations

import ctypes
import functools

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.experimental import structref
from numba.extending import intrinsic, overload

from thbsim.actors.traffickers import NEVER_INVESTIGATED
from thbsim.kernels.reference import EXP_MARGIN, MAX_INVERSION_MEAN, MAX_INVERSION_N
from thbsim.population import EXPLOITED, FREE, IDENTIFIED, RECRUITED, SUPPORTED

# error_model="numpy": a division by zero gives inf or nan, as in the numpy reference, instead of raising;
# the compiled code then carries no test of every divisor (desired_recruits 0.84x, member_changes 0.94x)
jit = nb.njit(cache=True, nogil=True, error_model="numpy")
TWO_TO_MINUS_32 = 2.0**-32
TWO_TO_MINUS_53 = 2.0**-53
_SHIFT_11 = np.uint64(11)
LOW_32 = np.uint64(0xFFFFFFFF)
SHIFT_32 = np.uint64(32)
GUIDE_BUCKETS = 64  # a power of two: u * GUIDE_BUCKETS is exact, so its bucket's lower edge is at most u
BINOMIAL_TABLE_N = 32  # counts up to this, drawn many times with one p, take (1 - p)^n from a table


# ---------------------------------------------------------------------------- generators
# A kernel given numpy's Generator unboxes it at every call (its bit generator's state and functions, read
# through ctypes: some 10 us a call). A handle made once per generator (``generator_handle``) holds it
# unboxed: kernels given the handle draw from the same bit generator, in the same state, at the cost of a
# pointer. Kernels take either; the model passes handles, tests may pass generators.
# A handle of numpy's PCG64 also holds the address of the generator's 128-bit state and increment, so that a
# uniform (``_uniform``) is numpy's own step and output computed in the kernel, 2.1 against 6.6 ns through
# numba's call of numpy's ``next_double``: the same number, the state written back at once, so numpy's own
# draws (binomials, Poisson counts, integers, and those made in Python) go on from it as before.
@structref.register
class GeneratorHandleType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class GeneratorHandle(structref.StructRefProxy):
    """numpy's ``Generator`` held unboxed for the compiled kernels (``generator_handle``)."""

    def __new__(cls, rng):
        return _new_handle(rng, np.uint64(_pcg64_address(rng)))

    @property
    def rng(self) -> np.random.Generator:
        """The generator itself (the same Python object)."""
        return _handle_generator(self)

    @property
    def pcg(self) -> int:
        """The address of its PCG64 state, read by ``_uniform``; 0 for other bit generators."""
        return int(_handle_pcg(self))

    def __reduce__(self):  # copied or pickled as a handle of (a copy of) its generator
        return generator_handle, (self.rng,)


structref.define_proxy(GeneratorHandle, GeneratorHandleType, ["rng", "pcg"])


@jit
def _new_handle(rng, pcg):
    return GeneratorHandle(rng, pcg)


def _pcg64_address(rng: np.random.Generator) -> int:
    """The address of numpy's PCG64 state (128-bit state, then increment, each low word first) behind ``rng``,
    checked against the state numpy reports; 0 for any other bit generator or layout (``_uniform`` then calls
    numpy's ``next_double``)."""
    bits = rng.bit_generator
    if type(bits) is not np.random.PCG64:
        return 0
    address = ctypes.c_void_p.from_address(bits.ctypes.state_address).value  # pcg64_state's first member
    if not address:
        return 0
    words = (ctypes.c_uint64 * 4).from_address(address)
    pcg = bits.state["state"]
    if (words[0] | words[1] << 64, words[2] | words[3] << 64) != (pcg["state"], pcg["inc"]):
        return 0
    return address


@jit
def _handle_generator(handle):
    return handle.rng


@jit
def _handle_pcg(handle):
    return handle.pcg


def generator_handle(rng: np.random.Generator) -> GeneratorHandle:
    """``rng`` for the compiled kernels, unboxed once: draws through it advance ``rng`` itself."""
    return GeneratorHandle(rng)


def _generator(x):  # the generator of a handle, or the generator itself (compiled through the overload)
    raise NotImplementedError("only inside compiled kernels")


@overload(_generator)
def _generator_overload(x):
    if isinstance(x, GeneratorHandleType):
        return lambda x: x.rng
    if isinstance(x, types.NumPyRandomGeneratorType):
        return lambda x: x
    return None


@intrinsic
def _peek(typingctx, address, k):
    # the k-th 64-bit word at an address
    if address != types.uint64 or k not in types.integer_domain:
        return None

    def codegen(context, builder, signature, args):
        words = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        return builder.load(builder.gep(words, [index]), align=8)

    return types.uint64(address, k), codegen


@intrinsic
def _poke(typingctx, address, k, word):
    # write the k-th 64-bit word at an address
    if address != types.uint64 or k not in types.integer_domain or word != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        words = builder.inttoptr(args[0], ir.IntType(64).as_pointer())
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        builder.store(args[2], builder.gep(words, [index]), align=8)
        return context.get_dummy_value()

    return types.none(address, k, word), codegen


def _uniform(x):  # numpy's next_double from a handle or a generator (compiled through the overload)
    raise NotImplementedError("only inside compiled kernels")


@overload(_uniform)
def _uniform_overload(x):
    if isinstance(x, GeneratorHandleType):
        def impl(x):
            if x.pcg == 0:
                return x.rng.random()
            # numpy's pcg64_next_double: step the state (state x m + increment), then XSL-RR of the new state,
            # its top 53 bits times 2^-53
            s_lo, s_hi = _lcg128(_peek(x.pcg, 0), _peek(x.pcg, 1), _PCG64_M_LO, _PCG64_M_HI, _peek(x.pcg, 2),
                                 _peek(x.pcg, 3))
            _poke(x.pcg, 0, s_lo)
            _poke(x.pcg, 1, s_hi)
            return float(_xsl_rr(s_lo, s_hi) >> _SHIFT_11) * TWO_TO_MINUS_53
        return impl
    if isinstance(x, types.NumPyRandomGeneratorType):
        return lambda x: x.random()
    return None


@jit
def _uniforms(x, k):
    # k of _uniform(x) in turn, as numpy's random(k)
    out = np.empty(k)
    for i in range(k):
        out[i] = _uniform(x)
    return out


@intrinsic
def _trailing_zeros(typingctx, word):
    # LLVM's cttz on a uint64 (one instruction, tzcnt or bsf): the index of the lowest set bit of a nonzero word
    if word != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        cttz = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]),
                                              "llvm.cttz.i64")
        return builder.call(cttz, [args[0], ir.Constant(ir.IntType(1), 1)])  # 1: undefined for 0, never asked

    return types.uint64(types.uint64), codegen


@intrinsic
def _lcg128(typingctx, s_lo, s_hi, m_lo, m_hi, c_lo, c_hi):
    # (s * m + c) mod 2**128 on 128-bit numbers given as (low, high) 64-bit words: LLVM's 128-bit arithmetic
    # (one 64 x 64 -> 128 multiplication and two 64-bit ones, and an addition with carry, on x86-64)
    u64 = types.uint64
    if any(x != u64 for x in (s_lo, s_hi, m_lo, m_hi, c_lo, c_hi)):
        return None

    def codegen(context, builder, signature, args):
        i64, i128 = ir.IntType(64), ir.IntType(128)

        def join(lo, hi):
            return builder.or_(builder.zext(lo, i128), builder.shl(builder.zext(hi, i128), ir.Constant(i128, 64)))

        r = builder.add(builder.mul(join(args[0], args[1]), join(args[2], args[3])), join(args[4], args[5]))
        hi = builder.trunc(builder.lshr(r, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, [builder.trunc(r, i64), hi])

    return types.UniTuple(u64, 2)(u64, u64, u64, u64, u64, u64), codegen


@jit
def _xsl_rr(lo, hi):
    # PCG's output of a 128-bit state (XSL-RR): the halves xored, rotated right by the top six bits
    x = hi ^ lo
    rot = hi >> np.uint64(58)
    return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@jit
def _pcg64_words(out, words):
    # numpy's PCG64 step (state = state x m + c, then the output of the new state), as four chains: chain j
    # gives words j, j + 4, j + 8, ..., each chain stepping four states at once (m4, c4), so the four
    # multiplications overlap instead of each waiting for the one before; the rest of the words one by one.
    # ``words``: the state, m, c, m4 and c4 as (low, high) 64-bit words, in one array; the state after the
    # last word is written back to its first two (ten numpy scalars made, passed one by one and two returned
    # cost a call 13 us for 300 words, this 8 us, numpy's random_raw 1.6: below SMALL_DRAW words numpy draws)
    s_lo, s_hi, m_lo, m_hi, c_lo, c_hi, m4_lo, m4_hi, c4_lo, c4_hi = (
        words[0], words[1], words[2], words[3], words[4], words[5], words[6], words[7], words[8], words[9])
    n = out.size
    q = n // 4 if n >= 8 else 0
    if q > 0:
        a_lo, a_hi = _lcg128(s_lo, s_hi, m_lo, m_hi, c_lo, c_hi)
        b_lo, b_hi = _lcg128(a_lo, a_hi, m_lo, m_hi, c_lo, c_hi)
        d_lo, d_hi = _lcg128(b_lo, b_hi, m_lo, m_hi, c_lo, c_hi)
        e_lo, e_hi = _lcg128(d_lo, d_hi, m_lo, m_hi, c_lo, c_hi)
        for k in range(q):
            out[4 * k] = _xsl_rr(a_lo, a_hi)
            out[4 * k + 1] = _xsl_rr(b_lo, b_hi)
            out[4 * k + 2] = _xsl_rr(d_lo, d_hi)
            out[4 * k + 3] = _xsl_rr(e_lo, e_hi)
            if k + 1 < q:
                a_lo, a_hi = _lcg128(a_lo, a_hi, m4_lo, m4_hi, c4_lo, c4_hi)
                b_lo, b_hi = _lcg128(b_lo, b_hi, m4_lo, m4_hi, c4_lo, c4_hi)
                d_lo, d_hi = _lcg128(d_lo, d_hi, m4_lo, m4_hi, c4_lo, c4_hi)
                e_lo, e_hi = _lcg128(e_lo, e_hi, m4_lo, m4_hi, c4_lo, c4_hi)
        s_lo, s_hi = e_lo, e_hi  # the state of word 4q - 1
    for i in range(4 * q, n):
        s_lo, s_hi = _lcg128(s_lo, s_hi, m_lo, m_hi, c_lo, c_hi)
        out[i] = _xsl_rr(s_lo, s_hi)
    words[0] = s_lo
    words[1] = s_hi


PCG64_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645  # numpy's PCG64: PCG's default 128-bit multiplier
_MOD128 = 1 << 128
_MASK64 = (1 << 64) - 1
_PCG64_M_LO, _PCG64_M_HI = np.uint64(PCG64_MULTIPLIER & _MASK64), np.uint64(PCG64_MULTIPLIER >> 64)
_PCG64_MULTIPLIER_4 = pow(PCG64_MULTIPLIER, 4, _MOD128)  # four steps at once: m^4, and c (m^3 + m^2 + m + 1)
_PCG64_INCREMENT_4 = sum(pow(PCG64_MULTIPLIER, k, _MOD128) for k in range(4)) % _MOD128


@functools.lru_cache(maxsize=64)
def _step_words(inc: int) -> np.ndarray:
    # _pcg64_words's array for a generator's increment (fixed by its seed), the state left at zero
    numbers = (0, PCG64_MULTIPLIER, inc, _PCG64_MULTIPLIER_4, inc * _PCG64_INCREMENT_4 % _MOD128)
    return np.array([half for x in numbers for half in (x & _MASK64, x >> 64)], np.uint64)


SMALL_DRAW = 4096
"""Below this many words numpy's own ``random_raw`` is the quicker (no state round trip through Python)."""


@jit
def _hi(word):
    return float(word >> SHIFT_32) * TWO_TO_MINUS_32


@jit
def _lo(word):
    return float(word & LOW_32) * TWO_TO_MINUS_32


TWO_TO_32 = 4294967296.0


@jit
def _half_below(p):
    # the integer bound T of a 32-bit half h with h < T exactly when its uniform h x 2^-32 < p: both sides
    # are exact in double precision, so h x 2^-32 < p is h < p x 2^32, for a whole number h h < ceil(p x 2^32).
    # Halves compare as integers in a register, uniforms need a conversion and a multiplication first
    # (detect's test of every exploited victim: 43 against 64 us a month at full scale, alone)
    x = p * TWO_TO_32
    if not x > 0.0:  # zero, negative or NaN: no uniform is below
        return np.uint64(0)
    if x >= TWO_TO_32:  # every uniform is below
        return np.uint64(TWO_TO_32)
    return np.uint64(np.ceil(x))


@jit
def _largest(x):
    # the largest number in x that compares (NaN never does), -inf if none
    out = -np.inf
    for v in x:
        if v > out:
            out = v
    return out


def victims_month(fields, n_rows, rng, moved_group, group_member_state, group_form, n_form_sector, adult_born_by,
                  p_ident, p_event, shares, raided, alive, died, investigated_at, police_months, raid_identifies, found,
                  stock, user_report, ident_hazard, exploited, accept, exit_rate, retrafficking, t, n_channels,
                  in_transit, exploiting, count_foreign):
    """The reference's ``victims_month``: the victims' month in one pass over their rows (``_victims_month``),
    which draws the month's word per row as it goes, numpy's ``random_raw`` words from numpy's PCG64 (the
    model's generators) as ``_pcg64_words``'s chains, 64 at a time; any other bit generator, or fewer than
    ``SMALL_DRAW`` rows, numpy's ``random_raw`` first. The generator is left where ``random_raw`` leaves it."""
    bits = getattr(rng, "rng", rng).bit_generator  # a generator or its handle
    chains = n_rows >= SMALL_DRAW and type(bits) is np.random.PCG64
    if chains:
        state = bits.state
        pcg = state["state"]
        words = _step_words(pcg["inc"]).copy()
        s = pcg["state"]
        words[0], words[1] = s & _MASK64, s >> 64
        raw = _NO_WORDS
    else:
        words, raw = _NO_WORDS, bits.random_raw(n_rows)
    out = _victims_month(fields, n_rows, raw, words, moved_group, group_member_state, group_form, n_form_sector,
                         adult_born_by, p_ident, p_event, shares, raided, alive, died, investigated_at, police_months,
                         raid_identifies, found, stock, user_report, ident_hazard, exploited, accept, exit_rate,
                         retrafficking, t, n_channels, in_transit, exploiting, count_foreign)
    if chains:
        pcg["state"] = int(words[0]) | int(words[1]) << 64
        bits.state = state
    return out


_NO_WORDS = np.zeros(0, np.uint64)


@jit
def _victims_month(fields, n_rows, raw, words, moved_group, group_member_state, group_form, n_form_sector,
                   adult_born_by, p_ident, p_event, shares, raided, alive, died, investigated_at, police_months,
                   raid_identifies, found, stock, user_report, ident_hazard, exploited, accept, exit_rate, retrafficking,
                   t, n_channels, in_transit, exploiting, count_foreign):
    # The month's words: ``raw`` (one per row), or, when it is empty, drawn here 64 at a time from the PCG64 state
    # ``words`` (``_pcg64_words``'s array, left at the state after the last), the same words: none is stored.
    # One pass over the rows in use, each row decided by its start-of-month state and changed as it is visited.
    # 64 rows at a time: first, without branches, a bit per row something may happen to, one mask per state
    # (those in transit and the identified all; the exploited whose word, group or cell calls for the full
    # decision, nine in ten not; the supported whose word is below every member state's bound); then each mask's
    # rows, lowest first, by code for that state alone. Only what users' cases may still change waits for them
    # (``_users_cases``): their candidates, and the exits in cells with cases (a widened cut may make them
    # candidates). No list of rows by state is made, and no row is visited twice.
    (state, citizenship, member_state, _sex, birth_month, form, sector, channel, group, cell, exploited_since,
     months_exploited, state_since, _times_trafficked, hazard_key_) = fields
    n_states, n_forms = ident_hazard.shape
    n_cells = n_states * n_forms
    n_groups = alive.size
    dead_group = np.empty(n_groups, np.bool_)
    hit_group = np.empty(n_groups, np.bool_)
    police_group = np.empty(n_groups, np.bool_)
    for g in range(n_groups):
        dead = not alive[g]
        dead_group[g] = dead
        hit_group[g] = raided[g] or dead
        police_group[g] = raided[g] or (dead and died[g] - investigated_at[g] <= police_months)
    cut_by_cell = user_case_cuts(found, stock, n_forms)
    # comparisons of the words' halves as integers (``_half_below``: the same answers as the uniforms')
    hi_max = _half_below(max(_largest(p_event), _largest(p_ident)))  # no event above it
    lo_cut = np.empty(n_cells, np.uint64)
    for c in range(n_cells):
        lo_cut[c] = _half_below(cut_by_cell[c])
    hi_support = _half_below(max(_largest(exit_rate), _largest(exit_rate + retrafficking)))
    # per group, the bound below which an exploited victim's second half calls for the full decision: every half
    # for groups hit or moved, else the cut of users' cases in the group's cell (its victims' cell until it moves);
    # one more, for the rows without a group
    group_bound = np.zeros(n_groups + 1, np.uint64)
    for g in range(n_groups):
        if hit_group[g] or moved_group[g]:
            group_bound[g] = np.uint64(TWO_TO_32)
        else:
            group_bound[g] = lo_cut[np.int64(group_member_state[g]) * n_forms + group_form[g]]
    flows = np.zeros((6, n_cells), np.int64)
    by_channel = np.zeros(n_states * n_channels, np.int64)
    by_group = np.zeros(n_groups, np.int64)
    by_cell = np.zeros(n_cells, np.int64)
    foreign_g = np.zeros(n_groups if count_foreign else 0, np.int64)
    foreign_ms = np.zeros(n_states if count_foreign else 0, np.int64)
    exploited_ms = np.zeros(n_states if count_foreign else 0, np.int64)
    # lists as long as the rows, not counted first (memory never written is never touched): the identified,
    # the exploited users' cases may still change (``pending``, with whether they leave otherwise) and the
    # candidates among them (indices into ``pending``), this month's arrivals from transit, the supported
    # victims to be trafficked again; the words of the pending rows, and the state the month's words start from
    # (should users' cases need every exploited victim's word again)
    identified = np.empty(n_rows + 1, np.int64)
    pending = np.empty(n_rows + 1, np.int64)
    pending_word = np.empty(n_rows + 1, np.uint64)
    first_words = words.copy()
    block = np.empty(64, np.uint64)
    pending_leave = np.empty(n_rows + 1, np.bool_)
    cand = np.empty(n_rows + 1, np.int64)
    transit = np.empty(n_rows + 1, np.int64)
    retraffic = np.empty(n_rows + 1, np.int64)
    n_identified = n_pending = n_cand = n_transit = n_re = 0
    t16 = np.int16(t)
    one = np.uint64(1)
    for start in range(0, n_rows, 64):
        m = min(64, n_rows - start)
        if raw.size:
            block[:m] = raw[start:start + m]
        else:
            _pcg64_words(block[:m], words)
        in_transit_bits = exploited_bits = identified_bits = supported_bits = np.uint64(0)
        for j in range(m):
            i = start + j
            s = state[i]
            word = block[j]
            bit = np.uint64(j)
            in_transit_bits |= np.uint64(s == RECRUITED) << bit
            exploited_bits |= np.uint64((s == EXPLOITED) & (count_foreign | ((word >> SHIFT_32) < hi_max)
                                                           | ((word & LOW_32) < group_bound[group[i]]))) << bit
            identified_bits |= np.uint64(s == IDENTIFIED) << bit
            supported_bits |= np.uint64((s == SUPPORTED) & ((word >> SHIFT_32) < hi_support)) << bit
        while exploited_bits != 0:
            i = start + np.int64(_trailing_zeros(exploited_bits))
            exploited_bits &= exploited_bits - one
            word = block[i - start]
            g = group[i]
            if moved_group[g]:
                _follow_group(i, g, group_member_state, form, member_state, cell, hazard_key_, sector, channel, n_forms,
                              n_form_sector)
            c = cell[i]
            if count_foreign:
                ms = member_state[i]
                exploited_ms[ms] += 1
                if citizenship[i] != ms:
                    foreign_g[g] += 1
                    foreign_ms[ms] += 1
            if not ((word >> SHIFT_32) < hi_max or hit_group[g] or (word & LOW_32) < lo_cut[c]):
                continue
            draw = _hi(word)
            key = hazard_key_[i] + (1 if birth_month[i] <= adult_born_by else 0)
            pid = p_ident[key]
            is_found = False
            out = False
            ch = 0
            if draw < pid:
                is_found = True
                ch = 1 + _search_row(shares, key, draw / pid)
            elif draw < p_event[key]:
                out = True
            if hit_group[g]:
                if police_group[g] and _lo(word) < raid_identifies:
                    is_found = True
                    out = False
                    ch = 0
                elif dead_group[g]:
                    out = not is_found
            if is_found:
                if ch > 0:  # identified outside a raid
                    by_group[g] += 1
                    by_cell[c] += 1
                _identify(i, t16, months_exploited, exploited_since, state, state_since, flows, c, by_channel,
                          member_state[i] * n_channels + ch, exploiting, g)
                identified[n_identified] = i
                n_identified += 1
            elif (word & LOW_32) < lo_cut[c] or (out and cut_by_cell[c] >= 0.0):  # users' cases may change it
                if (word & LOW_32) < lo_cut[c]:
                    cand[n_cand] = n_pending
                    n_cand += 1
                pending[n_pending] = i
                pending_word[n_pending] = word
                pending_leave[n_pending] = out
                n_pending += 1
            elif out:
                _leave(i, t16, months_exploited, exploited_since, flows, c, state, exploiting, group)
        while in_transit_bits != 0:  # arrive: exploited from now on
            i = start + np.int64(_trailing_zeros(in_transit_bits))
            in_transit_bits &= in_transit_bits - one
            g = group[i]
            if moved_group[g]:
                _follow_group(i, g, group_member_state, form, member_state, cell, hazard_key_, sector, channel, n_forms,
                              n_form_sector)
            state[i] = EXPLOITED
            state_since[i] = t
            exploited_since[i] = t
            flows[0, cell[i]] += 1
            in_transit[g] -= 1
            exploiting[g] += 1
            transit[n_transit] = i
            n_transit += 1
        while identified_bits != 0:  # enter support or leave
            i = start + np.int64(_trailing_zeros(identified_bits))
            identified_bits &= identified_bits - one
            if _hi(block[i - start]) < accept[member_state[i]]:
                state[i] = SUPPORTED
                flows[3, cell[i]] += 1
            else:
                flows[4, cell[i]] += 1
                state[i] = FREE
                group[i] = -1
            state_since[i] = t
        while supported_bits != 0:  # leave support, or are to be trafficked again
            i = start + np.int64(_trailing_zeros(supported_bits))
            supported_bits &= supported_bits - one
            draw = _hi(block[i - start])
            ms = member_state[i]
            if draw < exit_rate[ms]:
                flows[5, cell[i]] += 1
                state[i] = FREE
                group[i] = -1
            elif draw < exit_rate[ms] + retrafficking[ms]:
                retraffic[n_re] = i
                n_re += 1
    picked = _users_cases(found, cut_by_cell, pending[:n_pending], pending_word[:n_pending], cand[:n_cand],
                          transit[:n_transit], state[:n_rows], group, cell, member_state, raw, first_words, by_group,
                          by_cell)
    flat_hazard, flat_exploited = ident_hazard.reshape(-1), exploited.reshape(-1)
    for c in range(flat_hazard.size):  # the reference's operations in its order
        flat_hazard[c] = 0.8 * flat_hazard[c] + 0.2 * (by_cell[c] / _maximum(flat_exploited[c], 1.0))
    # what waited for users' cases (ascending rows): the picked are identified, the others leave or stay
    through_users = np.empty(picked.size, np.int64)
    k = 0
    j = 0
    for p in range(n_pending + 1):
        i = pending[p] if p < n_pending else n_rows
        while j < picked.size and picked[j] <= i:  # picked rows, pending or not
            r = picked[j]
            _identify(r, t16, months_exploited, exploited_since, state, state_since, flows, cell[r], by_channel,
                      member_state[r] * n_channels + user_report, exploiting, group[r])
            through_users[k] = r
            k += 1
            j += 1
        if p < n_pending and pending_leave[p] and (k == 0 or through_users[k - 1] != i):
            _leave(i, t16, months_exploited, exploited_since, flows, cell[i], state, exploiting, group)
    return (by_group, _merge_ascending(identified[:n_identified], through_users), retraffic[:n_re], flows, by_channel,
            foreign_g, foreign_ms, exploited_ms)


@jit
def _follow_group(i, g, group_member_state, form, member_state, cell, hazard_key_, sector, channel, n_forms,
                  n_form_sector):
    # a victim in transit or exploited follows its group to its member state: cell and detection stratum with it
    ms = group_member_state[g]
    f = form[i]
    member_state[i] = ms
    cell[i] = ms * n_forms + f
    hazard_key_[i] = _hazard_key(ms, f, sector[i], channel[i], n_form_sector)


@jit
def _identify(i, t16, months_exploited, exploited_since, state, state_since, flows, c, by_channel, channel_at, exploiting,
              g):
    # exploited victim i (of cell c and group g) identified: its episode ends, counted by cell and by channel
    months_exploited[i] += np.int16(t16 - exploited_since[i])
    state[i] = IDENTIFIED
    state_since[i] = t16
    flows[1, c] += 1
    by_channel[channel_at] += 1
    exploiting[g] -= 1


@jit
def _leave(i, t16, months_exploited, exploited_since, flows, c, state, exploiting, group):
    # an exploited victim leaves unidentified: its episode ends, its row is freed
    months_exploited[i] += np.int16(t16 - exploited_since[i])
    flows[2, c] += 1
    state[i] = FREE
    exploiting[group[i]] -= 1
    group[i] = -1


@jit
def _merge_ascending(a, b):
    # two ascending lists of distinct rows as one
    out = np.empty(a.size + b.size, np.int64)
    i = j = 0
    for k in range(out.size):
        if j == b.size or (i < a.size and a[i] < b[j]):
            out[k] = a[i]
            i += 1
        else:
            out[k] = b[j]
            j += 1
    return out


@jit
def _users_cases(found, cut_by_cell, pending, pending_word, cand, transit, state, group, cell, member_state, raw,
                 first_words, by_group, by_cell):
    # the reference's ``identify_through_users`` on rows: the victims its cases lead to (ascending rows), counted
    # per group and per cell. The candidates (indices into ``pending``) with the lowest second uniforms in each
    # member state are picked. Where a member state has too few and its cut left some out, its cut takes every
    # victim and the candidates are collected again from the exploited at the start of the month not identified
    # (those still exploited but for this month's arrivals from transit, ``transit``, ascending), with the
    # month's words again (``raw``, or drawn again from their first state ``first_words``)
    n = found.size
    if not found.any():
        return np.empty(0, np.int64)
    n_forms = cut_by_cell.size // n
    cand_rows = np.empty(cand.size, np.int64)
    for j in range(cand.size):
        cand_rows[j] = pending[cand[j]]
    counts = np.zeros(n, np.int64)
    for i in cand_rows:
        counts[member_state[i]] += 1
    short = False
    for s in range(n):
        if counts[s] < found[s] and cut_by_cell[s * n_forms] < 1.0:
            cut_by_cell[s * n_forms] = 2.0
            short = True
    if not short:
        cand_u = np.empty(cand.size, np.float64)
        for j in range(cand.size):
            cand_u[j] = _lo(pending_word[cand[j]])
    else:
        if raw.size == 0:
            raw = np.empty(state.size, np.uint64)
            _pcg64_words(raw, first_words.copy())
        cand_rows = np.empty(state.size, np.int64)
        n_cand = 0
        j = 0
        for i in range(state.size):
            if state[i] != EXPLOITED:
                continue
            while j < transit.size and transit[j] < i:
                j += 1
            if (j == transit.size or transit[j] != i) and _lo(raw[i]) < cut_by_cell[cell[i]]:
                cand_rows[n_cand] = i
                n_cand += 1
        cand_rows = cand_rows[:n_cand]
        cand_u = np.empty(n_cand, np.float64)
        for j in range(n_cand):
            cand_u[j] = _lo(raw[cand_rows[j]])
    cand_ms = np.empty(cand_rows.size, np.int64)
    for j in range(cand_rows.size):
        cand_ms[j] = member_state[cand_rows[j]]
    picked = np.sort(cand_rows[pick_lowest(cand_ms, cand_u, found, n)])
    for i in picked:
        by_group[group[i]] += 1
        by_cell[cell[i]] += 1
    return picked


@jit
def move_stocks(moved_groups, old_member_state, group_member_state, group_form, in_transit, exploiting, n_forms, stocks):
    # victims in transit and exploited per group follow their groups between cells (a group's victims are in its
    # cell); out / in of those in transit, of the exploited, of the groups
    n_cells = stocks.shape[1]
    moved = np.zeros((6, n_cells), np.int64)
    for k in range(moved_groups.size):
        g = moved_groups[k]
        f = np.int64(group_form[g])
        old = np.int64(old_member_state[k]) * n_forms + f
        new = np.int64(group_member_state[g]) * n_forms + f
        moved[0, old] += in_transit[g]
        moved[1, new] += in_transit[g]
        moved[2, old] += exploiting[g]
        moved[3, new] += exploiting[g]
        moved[4, old] += 1
        moved[5, new] += 1
    for c in range(n_cells):
        stocks[RECRUITED, c] += moved[1, c] - moved[0, c]
        stocks[EXPLOITED, c] += moved[3, c] - moved[2, c]
    return moved


@jit
def retraffick(rows, new_group, state, group, state_since, times_trafficked, cell, t, n_cells, in_transit):
    counts = np.zeros(n_cells, np.int64)
    for k in range(rows.size):
        g = new_group[k]
        if g >= 0:
            in_transit[g] += 1
            i = rows[k]
            state[i] = RECRUITED
            group[i] = g
            state_since[i] = t
            times_trafficked[i] += 1
            counts[cell[i]] += 1
    return counts


@jit
def update_stocks(stocks, recruited, retrafficked, flows):
    for c in range(recruited.size):
        transit, identified, exited = flows[0, c], flows[1, c], flows[2, c]
        entered, declined, left = flows[3, c], flows[4, c], flows[5, c]
        stocks[RECRUITED, c] += recruited[c] + retrafficked[c] - transit
        stocks[EXPLOITED, c] += transit - identified - exited
        stocks[IDENTIFIED, c] += identified - entered - declined
        stocks[SUPPORTED, c] += entered - left - retrafficked[c]


@jit
def first_free(state, n):
    # 64 rows at a time: a bit per free row (a loop the compiler turns into vector compares), then one step
    # per set bit, lowest first (count trailing zeros). The free rows a month needs are a few percent of the
    # rows before the last of them (scale 16: 18,000 among 470,000), so the scan costs a bit per row and a
    # store per free row, not a store per row: 70 against 430 us at scale 16, 5 against 28 us at scale 1
    out = np.empty(n + 64, np.int64)
    k = 0
    start = 0
    while start + 64 <= state.size and k < n:
        mask = np.uint64(0)
        for j in range(64):
            mask |= np.uint64(state[start + j] == FREE) << np.uint64(j)
        while mask != 0:
            out[k] = start + np.int64(_trailing_zeros(mask))
            k += 1
            mask &= mask - np.uint64(1)
        start += 64
    while start < state.size and k < n:  # the last rows, fewer than 64
        out[k] = start
        k += state[start] == FREE
        start += 1
    return out[: min(k, n)]


@jit
def user_case_cuts(found, stock, n_forms):
    # the reference's operations: (2 found + 16) as a float over max(stock, 1), form 0 only
    n = found.size
    cut = np.full(n * n_forms, -1.0)
    for i in range(n):
        if found[i] > 0:
            cut[i * n_forms] = float(2 * found[i] + 16) / max(stock[i], 1.0)
    return cut


@jit
def pick_lowest(ms, u, found, n_states):
    # candidates by member state (a counting sort keeps positions ascending), then in each member state
    # the lowest u, found times; a strict < keeps the first position among equal u, as a stable sort
    counts = np.zeros(n_states, np.int64)
    for j in range(ms.size):
        counts[ms[j]] += 1
    starts = np.zeros(n_states + 1, np.int64)
    for s in range(n_states):
        starts[s + 1] = starts[s] + counts[s]
    fill = starts[:n_states].copy()
    by_state = np.empty(ms.size, np.int64)
    for j in range(ms.size):
        by_state[fill[ms[j]]] = j
        fill[ms[j]] += 1
    taken = np.zeros(ms.size, np.bool_)
    out = np.empty(ms.size, np.int64)
    k = 0
    for s in range(n_states):
        for _ in range(min(found[s], counts[s])):
            best = -1
            for q in range(starts[s], starts[s + 1]):
                j = by_state[q]
                if not taken[j] and (best < 0 or u[j] < u[best]):
                    best = j
            taken[best] = True
            out[k] = best
            k += 1
    return out[:k]


@jit
def _search_row(cdf, row, u):
    """As ``reference.stacked_choice`` for one item, by bisection in its row (rows are non-decreasing):
    the first category whose offset cdf exceeds ``u + row``, at most the last."""
    n_cat = cdf.shape[1]
    x = u + row
    lo, hi = 0, n_cat
    while lo < hi:
        mid = (lo + hi) >> 1
        if cdf[row, mid] + row <= x:
            lo = mid + 1
        else:
            hi = mid
    return min(lo, n_cat - 1)


@jit
def _walk_up(cdf, row, j, x):
    # from category j, past every category whose offset cdf is at most x (_search_row's comparison)
    while j < cdf.shape[1] and cdf[row, j] + row <= x:
        j += 1
    return j


@jit
def _guide_row(cdf, row, guide):
    # for each bucket [b, b + 1) / GUIDE_BUCKETS of u, _search_row's answer at the bucket's lower edge (before
    # the clip to the last category): where a search for any u in the bucket can start
    j = 0
    for b in range(GUIDE_BUCKETS):
        j = _walk_up(cdf, row, j, b / GUIDE_BUCKETS + row)
        guide[row, b] = j


@jit
def _search_guided(cdf, guide, row, u):
    # _search_row from the guide's start for u's bucket: the same comparison (offset cdf against u + row,
    # both rounded alike), which only turns true as u grows, so the same category
    j = _walk_up(cdf, row, guide[row, int(u * GUIDE_BUCKETS)], u + row)
    return min(j, cdf.shape[1] - 1)


@jit
def _row_cdf(x):
    # np.cumsum(x, axis=1), each row divided by its last value (at least 1e-300): the reference's sums and divisions
    n_rows, n_cols = x.shape
    out = np.empty((n_rows, n_cols))
    for r in range(n_rows):
        total = 0.0
        for c in range(n_cols):
            total += x[r, c]
            out[r, c] = total
        last = max(out[r, n_cols - 1], 1e-300)
        for c in range(n_cols):
            out[r, c] /= last
    return out


@jit
def recruit_attributes(rng, cdf, member_state, form, sector_capacity, ages, online_share, pool, n_sex, n_age, labour):
    gen = _generator(rng)  # for numpy's integers
    # the reference's draws in the reference's order, inside the kernel: one call, no numpy calls (uniforms one
    # double per draw, as numpy's random(); integers() by numba's generator, numpy's Lemire bounded 32-bit draws)
    k = member_state.size
    u_stratum = _uniforms(rng, k)
    age_child = gen.integers(ages[0], ages[1], k)
    age_adult = gen.integers(ages[1], ages[2], k)
    n_labour = 0
    for i in range(k):
        n_labour += form[i] == labour
    u_sector = _uniforms(rng, n_labour)
    u_channel = _uniforms(rng, k)
    sector_cdf = _row_cdf(sector_capacity)
    n_forms = online_share.size
    per_origin = n_sex * n_age
    origin = np.empty(k, np.int64)
    sex = np.empty(k, np.int64)
    years = np.empty(k, np.int64)
    sector = np.full(k, -1, np.int64)
    channel = np.empty(k, np.int8)
    flat_pool = pool.reshape(-1)
    taken = np.zeros(flat_pool.size, np.int64)
    # a bisection over some 130 strata mispredicts about half its steps: a guide per row, made when a recruit
    # first needs it (all rows' guides cost as much as a thousand bisections; a small month uses a few rows)
    guide = np.empty((cdf.shape[0], GUIDE_BUCKETS), np.int64)
    guided = np.zeros(cdf.shape[0], np.bool_)
    # each stratum's origin, sex and age group, once (two integer divisions a recruit cost more)
    n_strata = cdf.shape[1]
    stratum_origin = np.empty(n_strata, np.int64)
    stratum_sex = np.empty(n_strata, np.int64)
    stratum_child = np.empty(n_strata, np.bool_)
    for st in range(n_strata):
        o, rest = divmod(st, per_origin)
        s, a = divmod(rest, n_age)
        stratum_origin[st] = o
        stratum_sex[st] = s
        stratum_child[st] = a == 0
    j = 0
    for i in range(k):
        f = form[i]
        ms = member_state[i]
        row = ms * n_forms + f
        if not guided[row]:
            _guide_row(cdf, row, guide)
            guided[row] = True
        stratum = _search_guided(cdf, guide, row, u_stratum[i])
        taken[stratum] += 1
        origin[i] = stratum_origin[stratum]
        sex[i] = stratum_sex[stratum]
        years[i] = age_child[i] if stratum_child[stratum] else age_adult[i]
        if f == labour:
            sector[i] = _search_row(sector_cdf, ms, u_sector[j])
            j += 1
        channel[i] = 1 if u_channel[i] < online_share[f] else 0
    for s in range(flat_pool.size):
        flat_pool[s] = max(flat_pool[s] - taken[s], 0)
    return origin, sex, years, sector, channel


@jit
def desired_recruits(alive, member_state, form, members, assets, held, raid_hazard, ref_revenue, price, ident_hazard,
                     finance_rate, freeze_share, cost_per_recruit, c):
    u = member_state.size
    x = np.empty(u)
    wanted = np.empty(u)
    for i in range(u):  # the reference's operations in the reference's order
        f, ms = form[i], member_state[i]
        ref = ref_revenue[f]
        assets_pos = max(assets[i], 0.0)
        member_value = c.member_value_months * ref
        per_investigation = (members[i] * c.suspects_per_member * c.detention * member_value
                             + finance_rate[ms] * freeze_share[ms] * assets_pos)
        loss = ident_hazard[ms, f] * (cost_per_recruit[i] + c.investigate_on_identification * per_investigation)
        loss += raid_hazard[i] * per_investigation / max(held[i], 1)
        margin = price[ms, f] - c.cost_share * ref - c.risk_aversion * loss
        xi = max(margin, 0.0) / ref
        x[i] = xi
        desired = members[i] * c.victims_per_member * xi / (xi + 0.25)
        gap = max(desired - held[i], 0.0) * c.adjust_rate
        wanted[i] = min(gap, assets_pos / cost_per_recruit[i]) if alive[i] else 0.0
    return x, wanted


@jit
def group_money(member_state, form, held, assets, price, ref_revenue, n_recruits, cost_per_recruit, cost_share,
                payout_rate, opening, profit, spending):
    revenue = np.empty(held.size)
    for i in range(held.size):  # the reference's operations in the reference's order
        ms, f = member_state[i], form[i]
        h = float(held[i])
        revenue[i] = h * price[ms, f]
        profit[i] = revenue[i] - h * cost_share * ref_revenue[f]
        opening[i] = assets[i]
        recruit_spend = n_recruits[i] * cost_per_recruit[i]
        after = opening[i] + profit[i] - recruit_spend
        payout = payout_rate * max(after, 0.0)
        spending[i] = recruit_spend + payout
        assets[i] = after - payout
    return revenue


@jit
def entry_means(margin, capacity, exploited, ref_revenue, hurdle, group_size, entry_rate):
    n_states, n_forms = margin.shape
    above = np.empty((n_states, n_forms))
    total = np.zeros(n_forms)
    where_total = np.zeros(n_forms)
    for s in range(n_states):  # the reference's operations; sums over member states in order
        for f in range(n_forms):
            a = min(max(margin[s, f] / ref_revenue[f] - hurdle, 0.0), 1.0)
            above[s, f] = a
            total[f] += max(capacity[s, f] - exploited[s, f], 0.0) / group_size * a
            where_total[f] += capacity[s, f] * (a * a)
    mean = np.empty((n_states, n_forms))
    for s in range(n_states):
        for f in range(n_forms):
            a = above[s, f]
            mean[s, f] = entry_rate * total[f] * (capacity[s, f] * (a * a) / max(where_total[f], 1e-300))
    return mean


@jit
def entrants(rng, margin, capacity, exploited, ref_revenue, hurdle, group_size, entry_rate, initial_members,
             min_members, start_capital_months):
    rng = _generator(rng)
    # the reference's draws in its order: every cell's count (C order), then every new group's members
    mean = entry_means(margin, capacity, exploited, ref_revenue, hurdle, group_size, entry_rate).reshape(-1)
    n_new = np.empty(mean.size, np.int64)
    for c in range(mean.size):
        if not mean[c] >= 0.0:
            raise ValueError("entrants: a mean of new groups is negative or not a number")
        n_new[c] = rng.poisson(mean[c])
    cells = owners(n_new)  # each new group's cell, ascending
    member_state, form = cells // margin.shape[1], cells % margin.shape[1]
    total = cells.size
    members = np.empty(total)
    assets = np.empty(total)
    capital = start_capital_months * 4
    for k in range(total):
        members[k] = max(float(2 + rng.poisson(initial_members - 2)), min_members)
        assets[k] = capital * ref_revenue[form[k]]
    return member_state, form, members, assets


@jit
def _positive_part(x):
    # numpy's maximum(x, 0.0) on arrays: +0.0 for -0.0 (where max(x, 0.0) keeps -0.0), NaN for NaN
    return 0.0 if x <= 0.0 else x


@jit
def freeze_assets(rng, investigated, member_state, assets, finance_rate, freeze_share, pending):
    u = investigated.size
    frozen = np.zeros(u)
    by_state = np.zeros(pending.size)  # sums per member state in row order from zero, as bincount's
    for i in range(u):
        if investigated[i]:  # the reference's uniforms in its order: one per investigated group, ascending
            ms = member_state[i]
            if _uniform(rng) < finance_rate[ms]:
                frozen[i] = freeze_share[ms] * _positive_part(assets[i])
                assets[i] -= frozen[i]
                by_state[ms] += frozen[i]
    for m in range(pending.size):
        pending[m] += by_state[m]
    return frozen


@jit
def open_investigations(rng, cases, p_open_by_count, raided, alive):
    investigated = np.empty(cases.size, np.bool_)
    for i in range(cases.size):  # the reference's uniforms in its order: one per group with cases, ascending
        hit = raided[i]
        if cases[i] != 0 and _uniform(rng) < p_open_by_count[cases[i]]:
            hit = True
        investigated[i] = hit and alive[i]
    return investigated


@jit
def investigate(rng, investigated, members, pending_decision, investigated_at, t, suspects_per_member, detention):
    # the reference's uniforms in its order: one per investigated group for the suspects named, then one each
    # for the suspects detained
    suspects = np.zeros(investigated.size, np.int64)
    for i in range(investigated.size):
        if investigated[i]:
            investigated_at[i] = t
            suspects[i] = _binomial(members[i], suspects_per_member, _uniform(rng))
    for i in range(investigated.size):
        if investigated[i]:
            members[i] -= _binomial(suspects[i], detention, _uniform(rng))
            pending_decision[i] += suspects[i]
    return suspects


@jit
def market_margin(alive, member_state, form, assets, ref_revenue, price, ident_hazard, finance_rate, freeze_share,
                  cost_per_recruit, member_loss_factor, c):
    n_states, n_forms = price.shape
    n_groups = np.zeros(n_states * n_forms)
    held_assets = np.zeros(n_states * n_forms)
    for i in range(alive.size):  # sums in row order, as bincount's
        if alive[i]:
            cell = member_state[i] * n_forms + form[i]
            n_groups[cell] += 1.0
            held_assets[cell] += max(assets[i], 0.0)
    margin = np.empty((n_states, n_forms))
    for ms in range(n_states):  # the reference's operations in the reference's order
        for f in range(n_forms):
            cell = ms * n_forms + f
            cell_assets = held_assets[cell] / max(n_groups[cell], 1.0)
            per_case = member_loss_factor * ref_revenue[f] + (finance_rate[ms] * freeze_share[ms]) * cell_assets
            loss = ident_hazard[ms, f] * (cost_per_recruit[cell] + c.investigate_on_identification * per_case)
            margin[ms, f] = price[ms, f] - c.cost_share * ref_revenue[f] - c.risk_aversion * loss
    return margin


@jit
def _hazard_key(member_state, form, sector, channel, n_form_sector):
    # enforcement.hazard_key times 2 (the detection stratum without the child bit) for one victim
    form_sector = 0 if form == 0 else (1 if form == 2 else 2 + sector)
    return 2 * ((member_state * n_form_sector + form_sector) * 2 + channel)


@jit
def _q_power(q, n):
    # (1 - p)^n by repeated squaring, as the reference takes it
    prob = 1.0
    base, e = q, n
    while e > 0:
        if e & 1:
            prob *= base
        base *= base
        e >>= 1
    return prob


@jit
def _invert(n, prob, ratio, flip, u):
    # the count whose cumulative probability first exceeds u, from P(0) = prob
    k = 0
    cdf = prob
    while u >= cdf and k < n:
        k += 1
        prob *= (n - k + 1) / k * ratio
        cdf += prob
    return n - k if flip else k


@jit
def _binomial(n, p, u):
    # the reference's binomial_inversion for one element, operation for operation
    if n > MAX_INVERSION_N:
        raise ValueError("binomial_inversion: n above MAX_INVERSION_N; draw large counts with a generator")
    flip, pe, q = _success_side(p)
    return _invert(n, _q_power(q, n), pe / q, flip, u)


@jit
def _success_side(p):
    # above 1/2 the failures are drawn: whether, their probability and its complement
    flip = p > 0.5
    pe = 1.0 - p if flip else p
    return flip, pe, 1.0 - pe


@jit
def _binomial_table(p):
    # for many counts with one p: (1 - p)^n for every n up to BINOMIAL_TABLE_N, each as _binomial takes it
    # (the squaring loop's unpredictable branches cost more than the rest of a small count)
    flip, pe, q = _success_side(p)
    powers = np.empty(BINOMIAL_TABLE_N + 1)
    for n in range(powers.size):
        powers[n] = _q_power(q, n)
    return powers, pe / q, flip


@jit
def _binomial_tabled(n, p, u, table):
    # _binomial(n, p, u) with p's table from _binomial_table
    powers, ratio, flip = table
    if n < 0 or n > BINOMIAL_TABLE_N:
        return _binomial(n, p, u)
    return _invert(n, powers[n], ratio, flip, u)


@jit
def _binomial_each(n, p, u):
    out = np.empty(n.size, np.int64)
    for i in range(n.size):
        out[i] = _binomial(n[i], p[i], u[i])
    return out


def binomial_inversion(n, p, u):
    # p may be one number or one per element, as in the reference
    n = np.asarray(n, np.int64)
    return _binomial_each(n, np.ascontiguousarray(np.broadcast_to(np.asarray(p, np.float64), n.shape)), u)


@jit
def _poisson_from(k, prob, cdf, mean, u):
    # the inversion's steps from count k, whose probability and cumulative probability are prob and cdf
    while u >= cdf and prob > 0:
        k += 1
        prob *= mean / k
        cdf += prob
    return k


@jit
def _poisson(mean, p0, u):
    return _poisson_from(0, p0, p0, mean, u)


@jit
def _poisson_two_steps(mean, p0, u):
    # _poisson with its first two steps taken whatever u is, and the count read off them without a branch:
    # the same operations, so the same count (both tests only turn false as k grows: the cdf does not
    # fall, and a probability that reaches 0 stays 0). Pays where counts of 0 and 1 mix unpredictably
    # (recruits per group: 229 to 138 us at scale 16), not where nearly all are 0 (members joining).
    prob1 = p0 * (mean / 1)
    cdf1 = p0 + prob1
    prob2 = prob1 * (mean / 2)
    cdf2 = cdf1 + prob2
    k = np.int64((u >= p0) & (p0 > 0)) + np.int64((u >= cdf1) & (prob1 > 0))
    if k < 2 or not ((u >= cdf2) & (prob2 > 0)):
        return k
    prob3 = prob2 * (mean / 3)
    return _poisson_from(3, prob3, cdf2 + prob3, mean, u)


@jit
def _needs_exp(mean, u):
    # whether a Poisson count by inversion of u needs exp(-mean): not when u is surely below it (exp(-x) >= 1 - x)
    return not (u < (1.0 - mean) - EXP_MARGIN)


@jit
def poisson_band(mean, u):
    out = np.empty(mean.size, np.int64)
    k = 0
    for i in range(mean.size):
        out[k] = i
        k += _needs_exp(mean[i], u[i])
    return out[:k]


@jit
def recruit_draws(rng, wanted, success, mean_success, cell):
    n = wanted.size
    mean = np.empty(n)
    u = np.empty(n)
    for i in range(n):  # the reference's operations in its order, then its uniforms
        mean[i] = wanted[i] / success * mean_success[cell[i]]
    for i in range(n):
        u[i] = _uniform(rng)
    return mean, u, poisson_band(mean, u)


@jit
def poisson_at(mean, u, rows, p0):
    out = np.zeros(mean.size, np.int64)
    for j in range(rows.size):
        i = rows[j]
        if mean[i] > MAX_INVERSION_MEAN:  # (a mean above 1 is always in the band)
            raise ValueError("poisson_at: mean above MAX_INVERSION_MEAN")
        out[i] = _poisson_two_steps(mean[i], p0[j], u[i])
    return out


@jit
def _court_stage(rng, rows, pending, come_up_p, rate_by_state, member_state, boost, has_boost, succeeded):
    # the reference's uniforms in the reference's order: one per row with cases (ascending), then one
    # per row where cases came up; ``rows`` (ascending) holds every row with a case of either stage
    came_up = np.zeros(rows.size, np.int64)
    come_up_table = _binomial_table(come_up_p)
    for j in range(rows.size):
        i = rows[j]
        if pending[i] != 0:
            came_up[j] = _binomial_tabled(pending[i], come_up_p, _uniform(rng), come_up_table)
            pending[i] -= came_up[j]
    for j in range(rows.size):
        if came_up[j] > 0:
            i = rows[j]
            rate = rate_by_state[member_state[i]]
            if has_boost:
                rate = min(rate * boost[i], 1.0)
            succeeded[i] = _binomial(came_up[j], rate, _uniform(rng))


@jit
def group_courts(rng, decide_p, verdict_p, leave_p, pending_decision, pending_trial, members, member_state,
                 prosecution_rate, conviction_rate, boost, has_boost):
    u = pending_decision.size
    # the rows with a pending case, in one pass: the stages below visit only those
    rows = np.empty(u, np.int64)
    m = 0
    for i in range(u):
        rows[m] = i
        m += (pending_decision[i] != 0) | (pending_trial[i] != 0)
    rows = rows[:m]
    prosecuted = np.zeros(u, np.int64)
    convicted = np.zeros(u, np.int64)
    _court_stage(rng, rows, pending_decision, decide_p, prosecution_rate, member_state, boost, has_boost, prosecuted)
    _court_stage(rng, rows, pending_trial, verdict_p, conviction_rate, member_state, boost, has_boost, convicted)
    for i in rows:
        pending_trial[i] += prosecuted[i]
    leave_table = _binomial_table(leave_p)
    for i in rows:
        if convicted[i] > 0:
            leaving = _binomial_tabled(convicted[i], leave_p, _uniform(rng), leave_table)
            members[i] -= min(leaving, members[i])
    return prosecuted, convicted


@jit
def pooled_courts(rng, decide_p, verdict_p, pending_decision, pending_trial, prosecution_rate, conviction_rate):
    rng = _generator(rng)
    # four draws over the member states, each in ascending order, as the reference's four binomials
    n = pending_decision.size
    decided = np.zeros(n, np.int64)
    prosecuted = np.zeros(n, np.int64)
    verdicts = np.zeros(n, np.int64)
    convicted = np.zeros(n, np.int64)
    for i in range(n):
        decided[i] = rng.binomial(pending_decision[i], decide_p)
    for i in range(n):
        prosecuted[i] = rng.binomial(decided[i], prosecution_rate[i])
    for i in range(n):
        verdicts[i] = rng.binomial(pending_trial[i], verdict_p)
    for i in range(n):
        convicted[i] = rng.binomial(verdicts[i], conviction_rate[i])
    for i in range(n):
        pending_decision[i] -= decided[i]
        pending_trial[i] += prosecuted[i] - verdicts[i]
    return prosecuted, convicted


@jit
def courts(rng, decide_p, verdict_p, leave_p, alive, pending_decision, pending_trial, members, member_state,
           prosecution_rate, conviction_rate, boost, has_boost, orphan_decision, orphan_trial):
    for i in range(alive.size):  # dismantled groups' cases to their member state's pool
        if not alive[i] and (pending_decision[i] > 0 or pending_trial[i] > 0):
            orphan_decision[member_state[i]] += pending_decision[i]
            orphan_trial[member_state[i]] += pending_trial[i]
            pending_decision[i] = 0
            pending_trial[i] = 0
    prosecuted, convicted = group_courts(rng, decide_p, verdict_p, leave_p, pending_decision, pending_trial, members,
                                         member_state, prosecution_rate, conviction_rate, boost, has_boost)
    orphan_prosecuted, orphan_convicted = pooled_courts(rng, decide_p, verdict_p, orphan_decision, orphan_trial,
                                                        prosecution_rate, conviction_rate)
    return prosecuted, convicted, orphan_prosecuted, orphan_convicted


@jit
def user_cases(rng, knowing_users, p_detect, decide_p, verdict_p, pending_decision, pending_trial, prosecution_rate,
               conviction_rate, found_per_suspect):
    rng = _generator(rng)
    n = knowing_users.size
    suspects = np.empty(n, np.int64)
    for i in range(n):
        suspects[i] = rng.binomial(knowing_users[i], p_detect[i])
    prosecuted, convicted = pooled_courts(rng, decide_p, verdict_p, pending_decision, pending_trial, prosecution_rate,
                                          conviction_rate)
    found = np.empty(n, np.int64)
    for i in range(n):  # this month's suspects join the queue; the victims their cases lead to
        pending_decision[i] += suspects[i]
        found[i] = rng.binomial(suspects[i], found_per_suspect)
    return suspects, prosecuted, convicted, found


@jit
def _maximum(x, y):
    # numpy's maximum: NaN if either is NaN
    if x != x or y != y:
        return x + y
    return x if x >= y else y


@jit
def _minimum(x, y):
    # numpy's minimum: NaN if either is NaN
    if x != x or y != y:
        return x + y
    return x if x <= y else y


@jit
def member_join_draws(rng, alive, members, growth, profitability):
    # the reference's operations in its order ((members x growth) x min(profitability, 1)), its uniforms in its
    # order (one per living row, ascending); the rows that need exp
    n = alive.size
    join_mean = np.empty(n)
    u_join = np.zeros(n)
    band = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        mean = members[i] * growth * _minimum(profitability[i], 1.0)
        join_mean[i] = mean
        if alive[i]:
            u = _uniform(rng)
            u_join[i] = u
            band[k] = i
            k += _needs_exp(mean, u)
    return join_mean, u_join, band[:k]


@jit
def member_changes(rng, alive, members, join_mean, u_join, band, band_p0, quit, min_members):
    # the joins of the rows in the band (the others' are 0), then one uniform per living row (ascending)
    # for the quits, as the reference
    u = alive.size
    joined = np.zeros(u, np.int64)
    for j in range(band.size):
        i = band[j]
        joined[i] = _poisson(join_mean[i], band_p0[j], u_join[i])
    n_dismantled = 0
    quit_table = _binomial_table(quit)
    for i in range(u):
        if alive[i]:
            members[i] = members[i] + joined[i] - _binomial_tabled(members[i], quit, _uniform(rng), quit_table)
        if members[i] < 0:
            members[i] = 0
        if alive[i] and members[i] < min_members:
            n_dismantled += 1
    dismantled = np.empty(n_dismantled, np.int64)
    k = 0
    for i in range(u):
        if alive[i] and members[i] < min_members:
            dismantled[k] = i
            alive[i] = False
            k += 1
    return dismantled


@jit
def turnover(rng, stock, arrivals_mean, rate):
    rng = _generator(rng)
    # element order of the reference's draws (C order): through flat views of both arrays
    flat, mean = stock.reshape(-1), arrivals_mean.reshape(-1)
    arrived = np.empty(flat.size, np.int64)
    for i in range(flat.size):
        arrived[i] = rng.poisson(mean[i])
    for i in range(flat.size):
        flat[i] += arrived[i] - rng.binomial(flat[i], rate)


@jit
def demand_turnover(rng, users, user_arrivals, user_rate, employers, employer_arrivals, employer_rate,
                    users_served_cap, knowing_share):
    rng = _generator(rng)
    turnover(rng, users, user_arrivals, user_rate)
    turnover(rng, employers, employer_arrivals, employer_rate)
    knowing = np.empty(users.size, np.int64)
    for i in range(users.size):
        knowing[i] = rng.binomial(np.int64(np.rint(min(float(users[i]), users_served_cap[i]))), knowing_share)
    return knowing


@jit
def demand_month(rng, users, users_base, user_rate, employers, employers_base, deterrence, labour_factor,
                 employer_rate, exploited, clients_per_victim, purchases_per_user, knowing_share, victim_buying,
                 buying_target, exploited_share_sex, other_base, victims_per_employer, capacity):
    rng = _generator(rng)
    # the reference's operations in the reference's order, element by element
    n, n_sectors = employers.shape
    user_arrivals = np.empty(n)
    served_cap = np.empty(n)
    for i in range(n):
        user_arrivals[i] = users_base[i] * user_rate
        served_cap[i] = exploited[i, 0] * clients_per_victim / purchases_per_user
    employer_arrivals = np.empty((n, n_sectors))
    for i in range(n):
        for j in range(n_sectors):
            employer_arrivals[i, j] = employers_base[i, j] * deterrence[i, j] * labour_factor[i] * employer_rate
    knowing = demand_turnover(rng, users, user_arrivals, user_rate, employers, employer_arrivals, employer_rate,
                              served_cap, knowing_share)
    sector_capacity = np.empty((n, n_sectors))
    ratio = np.empty(capacity.shape)
    for i in range(n):
        victim_buying[i] += user_rate * (buying_target[i] - victim_buying[i])
        share = exploited_share_sex * victim_buying[i]
        capacity[i, 0] = users[i] * purchases_per_user * share / clients_per_victim
        total = 0.0
        for j in range(n_sectors):
            sector_capacity[i, j] = employers[i, j] * victims_per_employer
            total += sector_capacity[i, j]
        capacity[i, 1] = total
        capacity[i, 2] = other_base[i]
        for f in range(capacity.shape[1]):
            ratio[i, f] = max(capacity[i, f] / max(exploited[i, f], 0.5), 1e-3)
    return knowing, sector_capacity, ratio


@jit
def raid_hazard(rng, alive, member_state, form, held, visibility, investigations, n_states, hazard):
    n = alive.size
    u = np.empty(n)
    for i in range(n):  # the reference's uniforms, drawn first
        u[i] = _uniform(rng)
    w = np.zeros(n)
    total = np.zeros(n_states)
    for i in range(n):  # sums in row order, as bincount's
        if alive[i]:
            w[i] = visibility[form[i]] * np.sqrt(1.0 + held[i])
        total[member_state[i]] += w[i]
    for i in range(n):
        hazard[i] = investigations[member_state[i]] * w[i] / max(total[member_state[i]], 1e-12)
    raided, band = raids_decided(hazard, u)
    return raided, band, u


@jit
def raids_decided(hazard, u):
    n = hazard.size
    raided = np.empty(n, np.bool_)
    band = np.empty(n, np.int64)
    k = 0
    for i in range(n):
        h = hazard[i]
        sure = u[i] < (h - h * h * 0.5) - EXP_MARGIN
        raided[i] = sure
        band[k] = i
        k += not (sure or u[i] >= h + EXP_MARGIN)
    return raided, band[:k]


@jit
def pick_in_cell(alive, member_state, form, n_forms, n_cells, cell, u):
    # the living groups sorted by cell, rows ascending within a cell (a counting sort)
    counts = np.zeros(n_cells, np.int64)
    n_live = 0
    for i in range(alive.size):
        if alive[i]:
            counts[member_state[i] * n_forms + form[i]] += 1
            n_live += 1
    starts = np.zeros(n_cells, np.int64)
    for c in range(1, n_cells):
        starts[c] = starts[c - 1] + counts[c - 1]
    fill = starts.copy()
    by_cell = np.empty(n_live, np.int64)
    for i in range(alive.size):
        if alive[i]:
            c = member_state[i] * n_forms + form[i]
            by_cell[fill[c]] = i
            fill[c] += 1
    out = np.full(cell.size, -1, np.int64)
    for k in range(cell.size):
        c = counts[cell[k]]
        if c > 0:
            pick = starts[cell[k]] + np.int64(np.floor(u[k] * c))
            out[k] = by_cell[min(pick, n_live - 1)]
    return out


@jit
def relocate_groups(rng, alive, member_state, form, margin, capacity, mobility, gain, ref_revenue):
    u = alive.size
    n_states, n_forms = margin.shape
    movers = np.empty(u, np.int64)
    n_movers = 0
    for i in range(u):  # the reference's uniforms in its order: one per living group (ascending) ...
        if alive[i]:
            movers[n_movers] = i
            n_movers += _uniform(rng) < mobility
    rows = np.empty(n_movers, np.int64)
    old = np.empty(n_movers, member_state.dtype)
    if n_movers == 0:
        return rows, old
    weight = np.empty((n_forms, n_states))
    cdf = np.empty((n_forms, n_states))
    for f in range(n_forms):
        total = 0.0
        for s in range(n_states):
            weight[f, s] = capacity[s, f] * max(margin[s, f], 0.0)
            total += weight[f, s]
            cdf[f, s] = total
        scale = max(cdf[f, n_states - 1], 1e-300)
        for s in range(n_states):
            cdf[f, s] /= scale
    k = 0
    for j in range(n_movers):  # ... then one per group reconsidering
        i = movers[j]
        f = np.int64(form[i])
        dest = _search_row(cdf, f, _uniform(rng))
        home = member_state[i]
        if (margin[dest, f] - margin[home, f]) > gain * ref_revenue[f] and weight[f, dest] > 0:
            rows[k] = i
            old[k] = home
            member_state[i] = dest
            k += 1
    return rows[:k].copy(), old[:k].copy()


@jit
def register(out, rows, u, unrecorded, form, member_state, sex, birth_month, citizenship, t, adult_months, n_forms,
             n_origins):
    for k in range(rows.size):
        i = rows[k]
        f = n_forms if u[k] < unrecorded else np.int64(form[i])
        adult = 1 if (t - birth_month[i]) >= adult_months else 0
        idx = ((np.int64(member_state[i]) * (n_forms + 1) + f) * 2 + sex[i]) * 2 + adult
        out[idx * n_origins + citizenship[i]] += 1


@jit
def write_groups(rows, member_state, form, members, assets, t, alive, group_member_state, group_form, group_members,
                 group_assets, held, born, investigated_at, raid_hazard):
    # one pass over the new groups' rows instead of nine numpy assignments (the reference's casts: numba's, which
    # truncate a float count of members as numpy's assignment does)
    for k in range(rows.size):
        i = rows[k]
        alive[i] = True
        group_member_state[i] = member_state[k]
        group_form[i] = form[k]
        group_members[i] = members[k]
        group_assets[i] = assets[k]
        held[i] = 0
        born[i] = t
        investigated_at[i] = NEVER_INVESTIGATED
        raid_hazard[i] = 0.0


@jit
def free_group_rows(alive, pending_decision, pending_trial, died, t, n):
    out = np.empty(n, np.int64)
    k = 0
    for i in range(alive.size):
        if k == n:
            break
        if not alive[i] and pending_decision[i] == 0 and pending_trial[i] == 0 and died[i] <= t - 2:
            out[k] = i
            k += 1
    return out[:k]


@jit
def group_cells(alive, exploiting, member_state, form, n_forms, cost_per_cell, held):
    # one pass instead of four numpy statements over the group rows
    u = alive.size
    cell = np.empty(u, np.int64)
    cost = np.empty(u)
    for i in range(u):
        held[i] = exploiting[i] * alive[i]
        c = np.int64(member_state[i]) * n_forms + form[i]
        cell[i] = c
        cost[i] = cost_per_cell[c]
    return cell, cost


@jit
def close_books(dismantled, assets, spending, frozen, ledger_frozen, ledger_closing):
    for j in range(dismantled.size):  # distinct rows
        i = dismantled[j]
        spending[i] += assets[i]
        assets[i] = 0.0
    for i in range(ledger_closing.size):
        ledger_frozen[i] = frozen[i]
        ledger_closing[i] = assets[i]


@jit
def record_month(by_member_state, social_cost, by_ms, orphan_prosecuted, orphan_convicted, user_suspects,
                 user_prosecutions, user_convictions, confiscated, users, knowing_users, employers, workers, coverage,
                 extra_coverage, identified, n_forms, population_share, health_cost, coordination_month, per_suspect,
                 victim_rates, health_column):
    # the reference's thirteen rows and the social cost, member state by member state, its operations in its order
    # (numpy sums a row of fewer than eight numbers from left to right, from 0)
    n, n_sectors = workers.shape
    if n_sectors >= 8:
        raise ValueError("record_month: fewer than eight sectors expected (numpy sums longer rows pairwise)")
    for i in range(n):
        by_member_state[0, i] = by_ms[3, i]
        by_member_state[1, i] = by_ms[4, i] + orphan_prosecuted[i]
        by_member_state[2, i] = by_ms[5, i] + orphan_convicted[i]
        by_member_state[3, i] = user_suspects[i]
        by_member_state[4, i] = user_prosecutions[i]
        by_member_state[5, i] = user_convictions[i]
        by_member_state[6, i] = by_ms[0, i]
        by_member_state[7, i] = by_ms[1, i]
        by_member_state[8, i] = confiscated[i]
        by_member_state[9, i] = users[i]
        by_member_state[10, i] = knowing_users[i]
        willing = 0
        checked = 0.0  # numpy's sums start from 0 (a row of -0.0 sums to 0.0)
        for j in range(n_sectors):
            willing += employers[i, j]
            checked += workers[i, j] * (coverage[i, j] + extra_coverage[i, j])
        by_member_state[11, i] = willing
        by_member_state[12, i] = checked
        registered = 0
        for f in range(n_forms):
            registered += identified[i * n_forms + f]
        social_cost[i, 0] = coordination_month * population_share[i]
        social_cost[i, 1] = by_ms[3, i] * per_suspect
        for c in range(victim_rates.size):
            social_cost[i, 2 + c] = registered * victim_rates[c]
        social_cost[i, health_column] *= health_cost[i]


@jit
def group_records(gms, gcell, investigated, raided, frozen, suspects, prosecuted, convicted, dismantled, revenue,
                  profit, spending, alive, member_state, form, members, assets, entrants, n_forms, by_ms, flows,
                  stocks, entered, entry_capital):
    # one pass over the group rows for the eleven sums by member state and by cell, which interleave (each
    # waits only for the previous addition to its own sum); every value added, zeros too, in row order: the
    # reference's bincounts' additions, so the same sums bit for bit
    by_ms[:] = 0.0
    flows[:] = 0.0
    stocks[:] = 0.0
    entered[:] = 0.0
    entry_capital[:] = 0.0
    for j in range(dismantled.size):  # distinct rows; counts, exact in any order
        flows[0, gcell[dismantled[j]]] += 1.0
    for i in range(gcell.size):
        m = gms[i]
        f = frozen[i]
        by_ms[0, m] += investigated[i]
        by_ms[1, m] += raided[i]
        by_ms[2, m] += f > 0
        by_ms[3, m] += suspects[i]
        by_ms[4, m] += prosecuted[i]
        by_ms[5, m] += convicted[i]
        c = gcell[i]
        flows[1, c] += revenue[i]
        flows[2, c] += profit[i]
        flows[3, c] += spending[i]
        flows[4, c] += f
    for i in range(alive.size):
        if alive[i]:
            c = np.int64(member_state[i]) * n_forms + form[i]
            stocks[0, c] += 1.0
            stocks[1, c] += members[i]
            stocks[2, c] += assets[i]
    for j in range(entrants.size):
        e = entrants[j]
        c = np.int64(member_state[e]) * n_forms + form[e]
        entered[c] += 1.0
        entry_capital[c] += assets[e]


@jit
def write_recruits(fields, rows, state, t, exploited_since, citizenship, member_state, sex, age_years, form, sector,
                   channel, group, group_count, n_forms, n_form_sector, n_cells):
    per_cell = np.zeros(n_cells, np.int64)
    (f_state, f_citizenship, f_member_state, f_sex, f_birth_month, f_form, f_sector, f_channel, f_group, f_cell,
     f_exploited_since, f_months_exploited, f_state_since, f_times_trafficked, f_hazard_key) = fields
    for k in range(rows.size):
        i = rows[k]
        ms, f = member_state[k], form[k]
        f_state[i] = state
        f_citizenship[i] = citizenship[k]
        f_member_state[i] = ms
        f_sex[i] = sex[k]
        f_birth_month[i] = t - age_years[k] * 12
        f_form[i] = f
        f_sector[i] = sector[k]
        f_channel[i] = channel[k]
        f_group[i] = group[k]
        group_count[group[k]] += 1
        c = ms * n_forms + f
        f_cell[i] = c
        per_cell[c] += 1
        f_exploited_since[i] = exploited_since[k]
        f_months_exploited[i] = 0
        f_state_since[i] = t
        f_times_trafficked[i] = 1
        f_hazard_key[i] = _hazard_key(ms, f, sector[k], channel[k], n_form_sector)
    return per_cell


@jit
def stratum_cdf(pool, success, link, susceptibility):
    n_origins, n_sex, n_age = pool.shape
    n_states, n_forms = link.shape[1], susceptibility.shape[0]
    if n_forms != 3:
        raise ValueError("stratum_cdf: the model's three forms of exploitation expected")
    n_strata = n_origins * n_sex * n_age
    per_origin = n_sex * n_age
    cdf = np.empty((n_states * n_forms, n_strata))
    mean_success = np.empty(n_states * n_forms)
    # the reference's products in the reference's order, ((pool x success) x link) x susceptibility and
    # (pool x link) x susceptibility; a member state's three forms are summed side by side, each form's
    # running sums the reference's, so their additions, independent of one another, overlap
    weighted = np.empty(n_strata)
    counted = np.empty(n_strata)
    sus = np.empty((n_forms, n_strata))
    j = 0
    for o in range(n_origins):
        for s in range(n_sex):
            for a in range(n_age):
                weighted[j] = pool[o, s, a] * success[o]
                counted[j] = pool[o, s, a]
                for f in range(n_forms):
                    sus[f, j] = susceptibility[f, s, a]
                j += 1
    for ms in range(n_states):
        row = ms * n_forms
        total0 = total1 = total2 = 0.0
        attempts0 = attempts1 = attempts2 = 0.0
        j = 0
        for o in range(n_origins):  # an origin's strata side by side (no division of j by per_origin)
            lk = link[o, ms]
            for _ in range(per_origin):
                w = weighted[j] * lk
                c = counted[j] * lk
                total0 += w * sus[0, j]
                total1 += w * sus[1, j]
                total2 += w * sus[2, j]
                attempts0 += c * sus[0, j]
                attempts1 += c * sus[1, j]
                attempts2 += c * sus[2, j]
                cdf[row, j] = total0
                cdf[row + 1, j] = total1
                cdf[row + 2, j] = total2
                j += 1
        mean_success[row] = total0 / max(attempts0, 1e-300)
        mean_success[row + 1] = total1 / max(attempts1, 1e-300)
        mean_success[row + 2] = total2 / max(attempts2, 1e-300)
        for f, total in ((0, total0), (1, total1), (2, total2)):
            scale = max(total, 1e-300)
            for j in range(n_strata):
                cdf[row + f, j] /= scale
    return cdf, mean_success


@jit
def owners(counts):
    # without a loop per row (its length, 0 or 1 mostly, would be mispredicted): each row's index where its
    # recruits start, a row without any overwritten by the next, then a running maximum fills the rest
    total = 0
    for i in range(counts.size):
        total += counts[i]
    out = np.zeros(total + 1, np.int64)
    start = 0
    for i in range(counts.size):
        out[start] = i
        start += counts[i]
    for k in range(1, total):
        out[k] = max(out[k], out[k - 1])
    return out[:total]
