"""Demand-side levers: criminalising the knowing use of victims' services."""

from __future__ import annotations

import dataclasses

import numpy as np

from thbsim.levers.base import Lever, register, spec


@register
@dataclasses.dataclass(frozen=True)
class CriminaliseUsers(Lever):
    """Makes knowing use of victims' services an offence in the scoped member states.

    Knowing users are detected at ``enforcement`` a year and, if convicted, pay
    ``penalty_eur``; users' buying from victims falls with the expected penalty
    (effect size ``demand.max_fall_knowing_use``, uncertain), so prices and
    groups' margins fall there, and groups move to member states without the
    offence (``groups.mobility``). Users prosecuted and convicted enter the
    justice funnel. Where the offence already exists, the lever raises detection
    to ``enforcement`` if that is higher. Cost: user suspects investigated and
    users prosecuted, for the part of detection the lever adds.
    """

    kind = "criminalise_users"
    intensity_field = "enforcement"
    enforcement: float = spec(0.05, 0.0, 1.0, "share of knowing users detected per year", "detection of knowing users")
    penalty_eur: float = spec(2000.0, 0.0, 50000.0, "EUR", "penalty of a convicted user")

    def apply(self, model) -> None:
        if self.enforcement == 0:
            return
        d, scope = model.demand, self.scope(model)
        base = np.where(d.offence, d.user_detection_per_year, 0.0)
        d.offence |= scope
        d.user_detection_per_year[:] = np.where(scope, np.maximum(base, self.enforcement), d.user_detection_per_year)
        # where the offence exists already, the lever never lowers the penalty
        d.user_penalty[:] = np.where(scope, np.maximum(np.where(base > 0, d.user_penalty, 0.0), self.penalty_eur),
                                     d.user_penalty)

    def cost(self, model) -> np.ndarray:
        p, m = model.p, model._month
        d = model.demand
        baseline = np.where(model._baseline_policy[("demand", "offence")],
                            model._baseline_policy[("demand", "user_detection_per_year")], 0.0)
        added = np.clip(1 - baseline / np.maximum(d.user_detection_per_year, 1e-12), 0.0, 1.0) * self.scope(model)
        unit = m.user_suspects * p["lever.users.cost_per_suspect_eur"] + m.user_prosecutions * p[
            "lever.users.cost_per_prosecution_eur"]
        return unit * added
