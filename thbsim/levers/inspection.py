"""Labour inspections in high-risk sectors."""

from __future__ import annotations

import dataclasses

import numpy as np

from thbsim.geography import SECTORS
from thbsim.levers.base import Lever, register, spec


@register
@dataclasses.dataclass(frozen=True)
class LabourInspections(Lever):
    """More inspections per month in scoped member states and sectors.

    A risk-based check meets a victim ``lever.inspect.risk_based_gain`` times as often
    as a random one (bounded by EMPACT hit rates); inspectors identify the victims they
    meet at their recognition rate. Employers weigh the higher yearly inspection risk and
    fewer are willing to use forced labour. Cost: workers checked.
    """

    kind = "labour_inspections"
    intensity_field = "extra_checks_per_1000"
    extra_checks_per_1000: float = spec(5.0, 0.0, 100.0, "workers checked per 1,000 high-risk workers per month",
                                        "extra inspection coverage")
    targeting: str = spec("risk_based", unit="", doc="how checks are targeted", choices=("risk_based", "random"))
    sectors: object = spec("all", unit="sector names or 'all'", doc="sectors inspected", choices=SECTORS)

    def _cells(self, model) -> np.ndarray:
        sec = np.ones(len(SECTORS), bool) if self.sectors == "all" else np.isin(SECTORS, list(self.sectors))
        return self.scope(model)[:, None] & sec[None, :]

    def apply(self, model) -> None:
        enf = model.enforcement
        extra = self.extra_checks_per_1000 / 1000 * self._cells(model)
        gain = model.p["lever.inspect.risk_based_gain"] if self.targeting == "risk_based" else 1.0
        enf.extra_coverage += extra
        enf.extra_hits += extra * gain

    def cost(self, model) -> np.ndarray:
        checks = (model.demand.workers * self.extra_checks_per_1000 / 1000 * self._cells(model)).sum(axis=1)
        return checks * model.p["lever.inspect.cost_per_check_eur"]
