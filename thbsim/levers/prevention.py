"""Prevention and awareness campaigns in origin populations."""

from __future__ import annotations

import dataclasses

import numpy as np

from thbsim.levers.base import Lever, register, spec


@register
@dataclasses.dataclass(frozen=True)
class PreventionAwareness(Lever):
    """Campaigns reach a share of the at-risk pool of scoped origins each year; people
    reached are harder to recruit (``lever.prevention.effect``). Cost: people reached."""

    kind = "prevention_awareness"
    intensity_field = "reach_per_year"
    scope_field = "origins"
    reach_per_year: float = spec(0.2, 0.0, 1.0, "share of the at-risk pool reached a year", "campaign reach")
    origins: object = spec("all", unit="origin codes or 'all'", doc="origin countries where campaigns run")

    def scope_origins(self, model) -> np.ndarray:
        geo = model.geo
        return np.ones(geo.n_origins, bool) if self.origins == "all" else np.isin(geo.iso, list(self.origins))

    def apply(self, model) -> None:
        # share aware in steady state: reach against the pool's turnover
        reach = self.reach_per_year / 12
        aware = reach / (reach + model.p["pool.turnover"])
        rec = model.recruitment
        rec.awareness[:] = np.where(self.scope_origins(model), 1 - (1 - rec.awareness) * (
            1 - model.p["lever.prevention.effect"] * aware), rec.awareness)

    def cost(self, model) -> np.ndarray:
        rec, geo = model.recruitment, model.geo
        reached = rec.pool.sum(axis=(1, 2)) * self.reach_per_year / 12 * self.scope_origins(model)
        cost = reached * model.p["lever.prevention.cost_per_person_eur"]
        n = geo.n_states
        out = cost[:n].copy()  # campaigns in member states are paid there; abroad, shared by population
        out += cost[n:].sum() * model.population_share
        return out
