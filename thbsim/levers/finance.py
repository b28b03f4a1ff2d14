"""Financial levers: freezing and confiscating criminal assets."""

from __future__ import annotations

import dataclasses

import numpy as np

from thbsim.levers.base import Lever, register, spec


@register
@dataclasses.dataclass(frozen=True)
class AssetConfiscation(Lever):
    """Financial-investigation capacity: more investigations of groups include a financial
    investigation, and each freezes more of the group's assets.

    ``capacity`` closes that share of the gap between the baseline and a financial
    investigation in every case freezing up to ``lever.finance.max_freeze_share``.
    Groups see the higher expected loss, recruit less and fewer enter. Cost: the
    financial investigations the lever adds.
    """

    kind = "asset_confiscation"
    intensity_field = "capacity"
    capacity: float = spec(0.5, 0.0, 1.0, "share of the gap to full financial investigation closed",
                           "financial-investigation capacity bought")

    def apply(self, model) -> None:
        enf, scope, p = model.enforcement, self.scope(model), model.p
        c = self.capacity * scope
        enf.finance_rate += c * (1 - enf.finance_rate)
        enf.freeze_share += c * np.maximum(p["lever.finance.max_freeze_share"] - enf.freeze_share, 0.0)

    def cost(self, model) -> np.ndarray:
        base = model._baseline_policy[("enforcement", "finance_rate")]
        share_added = 1 - base / np.maximum(model.enforcement.finance_rate, 1e-12)
        investigations = model._month.investigations * model.enforcement.finance_rate
        return investigations * share_added * model.p["lever.finance.cost_per_investigation_eur"]
