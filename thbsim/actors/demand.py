"""Demand: users of sexual services and employers in high-risk sectors, per member state.

Both are large pools kept as counts per stratum (member state; member state x
sector) and moved with binomial draws. Demand for victims is a number of
victims the market would take at the reference price; the price a group gets
falls when more victims are supplied (constant elasticity), so demand bounds how
many victims can be exploited profitably. Expected penalties (users where knowing
use is an offence; employers facing inspections) deter entry into the pools.
"""

from __future__ import annotations

import numpy as np

from thbsim.geography import FORMS, SECTOR_RISK, SECTOR_SHARE, SECTORS
from thbsim.memo import LastResult
from thbsim.money import reference_revenue

VICTIMS_PER_EMPLOYER = 5.0
"""Victims a willing employer uses (assumption: small gangs on farms, sites, kitchens)."""


class Demand:
    def __init__(self, p, geo, rng: np.random.Generator, kernels=None) -> None:
        from thbsim.kernels import reference

        self.rng = rng
        self.kernels = kernels if kernels is not None else reference
        self._rng_kernels = self.kernels.generator_handle(rng)  # the same generator, for kernels
        n = geo.n_states
        pop = geo.population_m[:n] * 1e6 * p["scale"]
        self.users_base = pop * p["demand.sex_buyers_per_1000"] / 1000
        self.labour_demand_factor = np.ones(n)  # shocks: more demand for cheap labour
        self.users = np.round(self.users_base).astype(np.int64)
        workers = pop * p["demand.labour_at_risk_per_1000"] / 1000
        self.workers = workers[:, None] * SECTOR_SHARE[None, :]  # high-risk jobs, ms x sector
        employer_share = p["demand.exploited_share_labour"] * SECTOR_RISK / VICTIMS_PER_EMPLOYER
        self.employers_base = self.workers * employer_share[None, :]
        self.employers = np.round(self.employers_base).astype(np.int64)
        self.other_base = pop * p["demand.other_per_million"] / 1e6
        self.offence = np.zeros(n, bool)  # knowing use is an offence
        self.user_detection_per_year = np.zeros(n)
        self.user_penalty = np.full(n, p["users.penalty_eur"])
        self.p = p
        self.capacity = np.zeros((n, len(FORMS)))
        self.price = np.zeros((n, len(FORMS)))
        self.ref_revenue = reference_revenue(p)
        self._price_floor, self._price_cap = 0.2 * self.ref_revenue, 4 * self.ref_revenue
        self.sector_capacity = np.zeros((n, len(SECTORS)))
        self.knowing_users = np.zeros(n, np.int64)
        self.inspection_risk = np.zeros((n, len(SECTORS)))  # yearly probability a risky employer is checked
        self.employer_fine = np.full(n, p["demand.employer_fine_eur"])
        self.victim_buying = np.ones(n)  # users' buying from victims relative to no deterrence (behaviour)
        self._target = LastResult(self._victim_demand_target)
        self._deterrence = LastResult(self._employer_deterrence)
        self._user_detection = LastResult(self._monthly_user_detection)

    # -- deterrence ---------------------------------------------------------
    def expected_user_penalty(self) -> np.ndarray:
        """EUR a knowing user of victims' services expects to pay a year, per member state."""
        p = self.p
        convicted = p["users.prosecution_rate"] * p["users.conviction_rate"]
        return np.where(self.offence, self.user_detection_per_year * convicted * self.user_penalty, 0.0)

    def victim_demand_target(self) -> np.ndarray:
        """Share of the undeterred purchases from victims that users still make, given the penalty.

        Falls from 1 toward 1 - ``demand.max_fall_knowing_use`` as the expected penalty grows, with
        half the fall at ``demand.half_effect_penalty_eur`` (computed again only when the penalty changes).
        """
        return self._target((self.offence, self.user_detection_per_year, self.user_penalty))

    def _victim_demand_target(self) -> np.ndarray:
        p = self.p
        reach = 1 - np.exp(-np.log(2) * self.expected_user_penalty() / p["demand.half_effect_penalty_eur"])
        return 1 - p["demand.max_fall_knowing_use"] * reach

    def monthly_user_detection(self) -> np.ndarray:
        """Monthly probability that a knowing user is detected, per member state: from the yearly
        ``user_detection_per_year`` where knowing use is an offence, 0 elsewhere (computed again only when
        either changes)."""
        return self._user_detection((self.user_detection_per_year, self.offence))

    def _monthly_user_detection(self) -> np.ndarray:
        monthly = 1 - (1 - np.clip(self.user_detection_per_year, 0, 1)) ** (1 / 12)
        return np.where(self.offence, monthly, 0.0)

    def employer_deterrence(self) -> np.ndarray:
        """Factor on the willing employers' base (member state x sector) from the expected fines of
        inspections (computed again only when the inspection risk or the fines change)."""
        return self._deterrence((self.inspection_risk, self.employer_fine))

    def _employer_deterrence(self) -> np.ndarray:
        p = self.p
        yearly_value = self.ref_revenue[1] * 12
        expected_fine = self.inspection_risk * self.employer_fine[:, None]
        return np.exp(-p["demand.employer_deterrence"] * expected_fine / yearly_value)

    # -- monthly step ----------------------------------------------------------
    def step(self, exploited: np.ndarray) -> None:
        """Move the pools, then set capacity and price per member state and form.

        ``exploited`` is victims exploited per (member state, form) at the start of the month.
        """
        p = self.p
        # users leave at the turnover rate and arrive toward the base; employers likewise, toward a base
        # that expected fines deter; then the knowing users among those who bought from victims this month;
        # as users turn over, their buying from victims adapts to the expected penalty (they buy less);
        # then what each market takes at the reference price (kernels.demand_month)
        self.knowing_users, self.sector_capacity, ratio = self.kernels.demand_month(
            self._rng_kernels, self.users, self.users_base, p["demand.user_turnover"], self.employers, self.employers_base,
            self.employer_deterrence(), self.labour_demand_factor, p["demand.employer_turnover"], exploited,
            p["demand.clients_per_victim"], p["demand.purchases_per_user"], p["demand.knowing_share"],
            self.victim_buying, self.victim_demand_target(), p["demand.exploited_share_sex"], self.other_base,
            VICTIMS_PER_EMPLOYER, self.capacity)
        # the price falls as supply outgrows what the market takes (constant elasticity), within bounds
        self.price = self.ref_revenue[None, :] * ratio ** (1 / p["demand.elasticity"])
        np.maximum(self.price, self._price_floor, out=self.price)
        np.minimum(self.price, self._price_cap, out=self.price)
