"""Levers on identification and victims: referral mechanism, online monitoring, support."""

from __future__ import annotations

import dataclasses

import numpy as np

from thbsim.geography import DETECTION_CHANNELS
from thbsim.levers.base import Lever, register, spec


@register
@dataclasses.dataclass(frozen=True)
class IdentificationReferral(Lever):
    """Capacity and training of the national referral mechanism.

    Referral identification rises by ``capacity_increase`` (victims are found
    earlier); the support that follows lowers re-trafficking and raises victims'
    cooperation with prosecution. Cost: the identifications the lever adds.
    """

    kind = "identification_referral"
    intensity_field = "capacity_increase"
    capacity_increase: float = spec(0.5, 0.0, 3.0, "relative increase of referral capacity", "capacity bought")

    def apply(self, model) -> None:
        p, scope, enf = model.p, self.scope(model), model.enforcement
        x = self.capacity_increase * scope
        enf.referral_capacity *= 1 + x
        coop = 1 + p["lever.referral.cooperation_effect"] * x
        enf.prosecution_rate[:] = np.minimum(enf.prosecution_rate * coop, 1.0)
        enf.conviction_rate[:] = np.minimum(enf.conviction_rate * coop, 1.0)
        model.support.retrafficking *= np.maximum(1 - p["lever.referral.retrafficking_effect"] * x, 0.0)

    def cost(self, model) -> np.ndarray:
        referral = model._month.identified[:, DETECTION_CHANNELS.index("referral")]
        added = self.capacity_increase / (1 + self.capacity_increase) * self.scope(model)
        return referral * added * model.p["lever.referral.cost_per_identification_eur"]


@register
@dataclasses.dataclass(frozen=True)
class OnlineMonitoring(Lever):
    """Analysts monitoring online recruitment and advertising: victims recruited or
    advertised online are identified more often. Cost: analyst-months."""

    kind = "online_monitoring"
    intensity_field = "analysts_per_million"
    analysts_per_million: float = spec(1.0, 0.0, 20.0, "analysts per million inhabitants", "monitoring capacity")

    def apply(self, model) -> None:
        model.enforcement.online_rate += (self.analysts_per_million * model.p["lever.online.hazard_per_analyst"]
                                          * self.scope(model))

    def cost(self, model) -> np.ndarray:
        n = model.geo.n_states
        analysts = self.analysts_per_million * model.geo.population_m[:n] * model.p["scale"] * self.scope(model)
        return analysts * model.p["lever.online.cost_per_analyst_month_eur"]


@register
@dataclasses.dataclass(frozen=True)
class VictimSupport(Lever):
    """Shelters, non-punishment and compensation for victims in support.

    Lowers re-trafficking, raises cooperation with prosecution (prosecution and
    conviction rates) and lowers health and social costs per registered victim.
    Cost: supported victim-months.
    """

    kind = "victim_support"
    intensity_field = "quality"
    quality: float = spec(0.5, 0.0, 1.0, "share of the best practice reached", "support bought")

    def apply(self, model) -> None:
        p, x = model.p, self.quality * self.scope(model)
        sup, enf = model.support, model.enforcement
        sup.retrafficking *= 1 - p["lever.support.retrafficking_effect"] * x
        sup.health_cost *= 1 - p["lever.support.health_effect"] * x
        coop = 1 + p["lever.support.cooperation_effect"] * x
        enf.prosecution_rate[:] = np.minimum(enf.prosecution_rate * coop, 1.0)
        enf.conviction_rate[:] = np.minimum(enf.conviction_rate * coop, 1.0)

    def cost(self, model) -> np.ndarray:
        return (model._month.supported * self.quality * self.scope(model)
                * model.p["lever.support.cost_per_victim_month_eur"])
