"""Recruitment from the at-risk pools, and the victims' life cycle.

At-risk pools are counts per (origin, sex, age) stratum. A group's recruitment
attempts pick a stratum with probability proportional to pool size, route weight
(origin to the group's member state) and susceptibility to the group's form;
an attempt succeeds with the origin's recruitment success. All recruits of a
month are drawn at once by inverse-CDF sampling over stacked rows.
"""

from __future__ import annotations

import numpy as np

from thbsim.actors.enforcement import N_FORM_SECTOR
from thbsim.geography import FORMS, LABOUR

N_SEX, N_AGE = 2, 2  # female/male, child/adult
AGE_YEARS = (12, 18, 46)
"""Recruits' ages in years, drawn uniformly: children from 12, adults from 18, each below the next bound."""


def stacked_choice(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw a category for each item from its row of ``cdf`` (rows of cumulative probabilities)."""
    n_rows, n_cat = cdf.shape
    flat = (cdf + np.arange(n_rows)[:, None]).ravel()
    pos = np.searchsorted(flat, u + rows, side="right")
    return np.minimum(pos - rows * n_cat, n_cat - 1)


class Recruitment:
    def __init__(self, p, geo, rng: np.random.Generator, rng_pools: np.random.Generator, kernels=None) -> None:
        from thbsim.kernels import reference

        self.p, self.geo, self.rng, self.rng_pools = p, geo, rng, rng_pools
        self.kernels = kernels if kernels is not None else reference
        # the same generators, for kernels
        self._rng_kernels, self._pools_kernels = self.kernels.generator_handle(rng), self.kernels.generator_handle(rng_pools)
        n_o = geo.n_origins
        base = geo.population_m * geo.propensity * p["pool.at_risk_per_million"] * p["scale"]
        sex = np.array([0.5, 0.5])
        age = np.array([p["pool.child_share"], 1 - p["pool.child_share"]])
        self.pool_base = base[:, None, None] * sex[None, :, None] * age[None, None, :]  # origin x sex x age
        self.pool = np.round(self.pool_base).astype(np.int64)
        self.awareness = np.zeros(n_o)  # prevention: reduces recruitment success per origin
        n = geo.n_states
        link = np.ones((n_o, n))
        link[~geo.is_eu, :] = p["recruit.non_eu_reach"]
        link[np.arange(n), np.arange(n)] = p["recruit.domestic_affinity"]
        self.link = link  # origin x member state
        fo = np.array([p["recruit.female_odds_sexual"], p["recruit.female_odds_labour"], p["recruit.female_odds_other"]])
        co = np.array([p["recruit.child_odds_sexual"], p["recruit.child_odds_labour"], p["recruit.child_odds_other"]])
        self.susceptibility = np.ones((len(FORMS), N_SEX, N_AGE))
        self.susceptibility[:, 0, :] *= fo[:, None]
        self.susceptibility[:, :, 0] *= co[:, None]
        self.online_share = np.array([p["recruit.online_share_sexual"], p["recruit.online_share_other"],
                                      p["recruit.online_share_other"]])

    def step_pools(self) -> None:
        """Pools turn over toward their base size (binomial out, Poisson in)."""
        rate = self.p["pool.turnover"]
        self.kernels.turnover(self._pools_kernels, self.pool, self.pool_base * rate, rate)

    def prepare(self) -> None:
        """This month's stratum distribution per (member state, form) cell, and its mean success.

        Attempts that fail are thinned out analytically: attempts are Poisson, each succeeds with
        its origin's success, so successful recruits are Poisson with the mean success folded in
        and their strata drawn in proportion to weight x success (same distribution, half the draws).
        """
        success = self.p["recruit.success"] * (1 - self.awareness)  # per origin
        self.cdf, self.mean_success = self.kernels.stratum_cdf(self.pool, success, self.link, self.susceptibility)

    def recruits(self, wanted: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """Successful recruits per group: attempts Poisson(wanted / reference success), thinned
        (one uniform per group row, by inversion)."""
        mean, u, band = self.kernels.recruit_draws(self._rng_kernels, wanted, self.p["recruit.success"],
                                                   self.mean_success, cell)
        return self.kernels.poisson_at(mean, u, band, np.exp(-mean[band]))  # exp only where u may fall above it

    def draw(self, member_state: np.ndarray, form: np.ndarray, sector_capacity: np.ndarray) -> dict:
        """Attributes of one recruit per entry of ``member_state``/``form`` (call ``prepare`` first); their
        uniforms come from the recruitment stream in a fixed order (``kernels.recruit_attributes``)."""
        origin, sex, years, sector, channel = self.kernels.recruit_attributes(
            self._rng_kernels, self.cdf, member_state, form, sector_capacity, AGE_YEARS, self.online_share, self.pool, N_SEX,
            N_AGE, LABOUR)
        return {"citizenship": origin, "sex": sex, "age_years": years, "member_state": member_state, "form": form,
                "sector": sector, "channel": channel}


def place_recruits(victims, attrs: dict, groups: np.ndarray, t: int, state: int, n_cells: int, group_count: np.ndarray,
                   exploited_since=None, kernels=None) -> tuple[np.ndarray, np.ndarray]:
    """Write recruits into free victim rows, each in ``state`` with its group in ``groups``, which counts one
    more victim in that state (``group_count`` per group row, in place: ``CrimeGroups.in_transit`` or
    ``exploiting``); returns their rows and the recruits per (member state x form) cell (``n_cells`` of them)."""
    if kernels is None:  # the model passes its kernels; imported here only without them (reference imports this module)
        from thbsim.kernels import reference as kernels

    k = attrs["citizenship"].size
    rows = victims.allocate(k)
    since = np.full(k, t, np.int64) if exploited_since is None else np.asarray(exploited_since, np.int64)
    per_cell = kernels.write_recruits(
        victims.fields(), rows, state, t, since, attrs["citizenship"], attrs["member_state"], attrs["sex"],
        attrs["age_years"], attrs["form"], attrs["sector"], attrs["channel"], groups, group_count, len(FORMS), N_FORM_SECTOR,
        n_cells)
    return rows, per_cell

