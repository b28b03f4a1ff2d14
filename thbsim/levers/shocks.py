"""Context shocks: an economic downturn like COVID-19, and a migration surge."""

from __future__ import annotations

import dataclasses

import numpy as np

from thbsim.levers.base import Lever, register, spec


@register
@dataclasses.dataclass(frozen=True)
class EconomicDownturn(Lever):
    """More vulnerable people, more demand for cheap labour, a shift to online recruitment and
    private premises (less visible to police), slower identification (referral and inspection)."""

    kind = "economic_downturn"
    intensity_field = "severity"
    is_shock = True
    severity: float = spec(0.5, 0.0, 1.0, "0 none, 1 as severe as the effect sizes say", "severity")

    def apply(self, model) -> None:
        p, x, scope = model.p, self.severity, self.scope(model)
        rec, d, enf = model.recruitment, model.demand, model.enforcement
        n = model.geo.n_states
        origin_scope = np.ones(model.geo.n_origins, bool)
        origin_scope[:n] = scope
        rec.pool_base *= np.where(origin_scope, 1 + p["lever.downturn.vulnerability"] * x, 1.0)[:, None, None]
        d.labour_demand_factor *= np.where(scope, 1 + p["lever.downturn.labour_demand"] * x, 1.0)
        shift = p["lever.downturn.online_shift"] * x
        rec.online_share[:] = np.minimum(rec.online_share + shift, 1.0)  # recruiters' methods: EU-wide
        enf.visibility *= 1 - shift  # exploitation moves to private premises: police see less, EU-wide
        slow = np.where(scope, 1 - p["lever.downturn.identification_delay"] * x, 1.0)
        enf.referral_capacity *= slow
        enf.inspection_coverage *= slow[:, None]
        enf.extra_hits *= slow[:, None]


@register
@dataclasses.dataclass(frozen=True)
class MigrationSurge(Lever):
    """Mixed migration flows: the at-risk pools of scoped non-EU origins grow by ``surge``."""

    kind = "migration_surge"
    intensity_field = "surge"
    is_shock = True
    scope_field = "origins"
    surge: float = spec(0.5, 0.0, 3.0, "relative rise of the at-risk pools", "size of the surge")
    origins: object = spec("all", unit="origin codes or 'all'", doc="non-EU origins of the surge")

    def apply(self, model) -> None:
        geo = model.geo
        scope = ~geo.is_eu if self.origins == "all" else np.isin(geo.iso, list(self.origins)) & ~geo.is_eu
        model.recruitment.pool_base *= np.where(scope, 1 + self.surge, 1.0)[:, None, None]
