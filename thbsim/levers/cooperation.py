"""Cross-border cooperation: joint investigation teams."""

from __future__ import annotations

import dataclasses

import numpy as np

from thbsim.levers.base import Lever, register, spec


@register
@dataclasses.dataclass(frozen=True)
class JointInvestigations(Lever):
    """Joint investigation teams work a share of cross-border cases: prosecution and
    conviction rates of a group's cases rise with the share of its victims who are not
    citizens of the member state (``lever.jit.effect``). Cost: cross-border cases worked."""

    kind = "joint_investigations"
    intensity_field = "case_share"
    case_share: float = spec(0.3, 0.0, 1.0, "share of cross-border cases in a team", "cases worked by teams")

    def apply(self, model) -> None:
        model.jit_share[:] = np.maximum(model.jit_share, self.case_share * self.scope(model))

    def cost(self, model) -> np.ndarray:
        # investigations of groups exploiting foreign victims, a share of them worked by a team
        return (model._month.investigations * self.case_share * self.scope(model)
                * model.p["lever.jit.cost_per_case_eur"] * model.cross_border_share)
