"""Money: freezing and confiscation of group assets, and the social-cost ledger.

All amounts are EUR at 2016 prices. The ledger follows the six categories of
the Commission's 2020 cost study. Unit costs are the study's total split by
stated shares and divided by the activity the study costed (8,027 registered
victims in the EU-27 in 2016); they are inputs, never fitted, so the model's
total against EUR 2.7 bn is a real check.
"""

from __future__ import annotations

import numpy as np

STUDY_TOTAL_EUR = 2_708_804_838
"""EU-27 yearly cost of trafficking, reference year 2016 (FACTS: cost study)."""
STUDY_VICTIMS = 8027
"""Registered victims the study costed, EU-27, 2016 (FACTS: cost study)."""
SUSPECTS_PER_REGISTERED = 11788 / 14145
"""Suspects per registered victim, 2017-2018 (FACTS: report 3.1 and II), to scale law-enforcement cost."""

COST_CATEGORIES = (
    "coordination_prevention",
    "law_enforcement",
    "victim_services",
    "health_social",
    "lost_output",
    "quality_of_life",
)
VICTIM_DRIVEN = ("victim_services", "health_social", "lost_output", "quality_of_life")


def reference_revenue(p) -> np.ndarray:
    """Reference revenue per victim-month by form (sexual, labour, other), EUR."""
    return np.array([p["money.revenue_sexual"], p["money.revenue_labour"], p["money.revenue_other"]])


class Finance:
    """Frozen assets awaiting a confiscation decision, per member state."""

    def __init__(self, p, n_states: int, rng: np.random.Generator, kernels=None) -> None:
        from thbsim.kernels import reference

        self.p = p
        self.pending = np.zeros(n_states)
        self.kernels = kernels if kernels is not None else reference
        self._rng_kernels = self.kernels.generator_handle(rng)  # the finance stream, for the kernel that draws

    def freeze(self, groups, investigated: np.ndarray, finance_rate: np.ndarray, freeze_share: np.ndarray) -> np.ndarray:
        """Financial investigations on investigated groups freeze a share of assets (one uniform per investigated
        group, rows ascending, decides whether one follows); returns EUR per group, adds them to ``pending``."""
        u = groups.used
        return self.kernels.freeze_assets(self._rng_kernels, investigated, groups.member_state[:u], groups.assets[:u],
                                          finance_rate, freeze_share, self.pending)

    def decide(self) -> np.ndarray:
        """Confiscation decisions on frozen assets (a share of pending decided each month)."""
        decided = self.pending / self.p["finance.confiscation_lag"]
        self.pending -= decided
        return decided * self.p["finance.confiscated_share"]


class CostLedger:
    """Social cost per category: per registered victim, per suspect, and a fixed coordination budget.

    A month's cost per member state (``kernels.record_month``): coordination, ``coordination_month`` by the
    member state's population share; law enforcement, ``per_suspect`` per suspect; the victim-driven
    categories, ``victim_rates`` (EUR per registered victim, in the order of ``COST_CATEGORIES[2:]``) per
    victim registered, health and social costs (column ``health_column``) times the member state's factor
    (support lowering health costs).
    """

    def __init__(self, p) -> None:
        shares = {c: p[f"cost.share_{c if c != 'coordination_prevention' else 'coordination'}"]
                  for c in COST_CATEGORIES}
        self.per_victim = {c: shares[c] * STUDY_TOTAL_EUR / STUDY_VICTIMS for c in VICTIM_DRIVEN}
        self.per_suspect = shares["law_enforcement"] * STUDY_TOTAL_EUR / (STUDY_VICTIMS * SUSPECTS_PER_REGISTERED)
        self.coordination_month = shares["coordination_prevention"] * STUDY_TOTAL_EUR / 12 * p["scale"]
        self.victim_rates = np.array([self.per_victim[c] for c in COST_CATEGORIES[2:]])
        self.health_column = COST_CATEGORIES.index("health_social")
