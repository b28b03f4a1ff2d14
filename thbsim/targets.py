"""Calibration targets: the report's figures, and how each is computed from model output.

A target is never typed in as a model value: ``evaluate`` computes every model
value from the results table (the mean over replicates: sums are averaged over
seeds, shares are ratios of those means) and compares it with the figure.
``informs`` names the free parameters a target constrains most (docs/data.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thbsim.geography import REST_OF_WORLD, geography
from thbsim.money import STUDY_TOTAL_EUR


@dataclass(frozen=True)
class Target:
    name: str
    figure: float | frozenset
    kind: str  # "relative", "points", "at_least", "between", "set"
    tolerance: float | tuple[float, float] | None
    source: str
    informs: tuple[str, ...]
    compute: Callable[[TargetData], float | frozenset]

    def bounds(self) -> tuple[float, float] | None:
        if self.kind == "relative":
            return self.figure * (1 - self.tolerance), self.figure * (1 + self.tolerance)
        if self.kind == "points":
            return self.figure - self.tolerance, self.figure + self.tolerance
        if self.kind == "at_least":
            return self.figure, np.inf
        if self.kind == "between":
            return self.tolerance
        return None

    def describe(self) -> str:
        if self.kind == "relative":
            return f"{self.figure:,.0f} ± {self.tolerance:.0%}"
        if self.kind == "points":
            return f"{self.figure:.0%} ± {self.tolerance * 100:.0f} pts"
        if self.kind == "at_least":
            return f">= {self.figure:.0%}"
        if self.kind == "between":
            lo, hi = self.tolerance
            return f"{lo:.1%} to {hi:.1%}"
        return "{" + ", ".join(sorted(self.figure)) + "}"

    def check(self, value) -> bool:
        if self.kind == "set":
            return value == self.figure
        lo, hi = self.bounds()
        return bool(lo <= value <= hi)


class TargetData:
    """Mean over replicates of the indicators the targets need, indexed for quick sums."""

    def __init__(self, table: pd.DataFrame) -> None:
        n_rep = table["replicate"].nunique() if "replicate" in table else 1
        self.n_replicates = n_rep
        self.table = table
        reg = table[table["indicator"] == "registered"]
        self.registered = reg.groupby(
            ["year", "member_state", "form", "sex", "age", "citizenship"], observed=True
        )["value"].sum() / n_rep
        self.registered = self.registered[self.registered > 0].reset_index()

    def total(self, indicator: str, years: tuple[int, int], **where: str) -> float:
        t = self.table
        m = (t["indicator"] == indicator) & t["year"].between(*years)
        for col, val in where.items():
            m &= t[col] == val
        return float(t.loc[m, "value"].sum()) / self.n_replicates

    def reg(self, years=(2017, 2018)) -> pd.DataFrame:
        r = self.registered
        return r[r["year"].between(*years)]

    def share(self, years=(2017, 2018), within: dict | None = None, **where) -> float:
        r = self.reg(years)
        for col, val in (within or {}).items():
            r = r[r[col] == val]
        num = r
        for col, val in where.items():
            num = num[num[col] == val] if not callable(val) else num[val(num)]
        return float(num["value"].sum() / max(r["value"].sum(), 1e-12))

    def top5(self, eu: bool) -> frozenset:
        geo = geography()
        eu_codes = set(geo.member_states)
        by = self.reg().groupby("citizenship", observed=True)["value"].sum()
        keep = [c for c in by.index if (c in eu_codes) == eu and c != REST_OF_WORLD]
        return frozenset(by[keep].sort_values(ascending=False).index[:5])

    def registered_share(self, years=(2017, 2018)) -> float:
        """Registered in a year over distinct victims exploited during it (stock at the start + entries)."""
        t = self.table
        shares = []
        for y in range(years[0], years[1] + 1):
            stock = t[(t["indicator"] == "victims_exploited") & (t["year"] == y - 1) & (t["month"] == 12)]
            entries = self.total("transit", (y, y))
            shares.append(self.total("identified", (y, y)) / (stock["value"].sum() / self.n_replicates + entries))
        return float(np.mean(shares))


def _domestic(r: pd.DataFrame) -> pd.Series:
    return r["citizenship"].astype(str) == r["member_state"].astype(str)


def _eu(r: pd.DataFrame) -> pd.Series:
    return r["citizenship"].astype(str).isin(geography().member_states)


REG = ("police.investigations_per_million", "referral.rate_sexual", "referral.rate_labour", "referral.rate_other",
       "demand.exploited_share_sex", "demand.exploited_share_labour", "demand.other_per_million")
SEX_AGE = ("recruit.female_odds_sexual", "recruit.female_odds_labour", "recruit.female_odds_other")
CHILD = ("recruit.child_odds_sexual", "recruit.child_odds_labour", "recruit.child_odds_other", "referral.child_factor")
R = "FACTS: report II (COM(2020) 661)"

TARGETS: tuple[Target, ...] = (
    Target("registered_victims_2017_2018", 14145, "relative", 0.10, R, REG,
           lambda d: float(d.reg()["value"].sum())),
    Target("registered_victims_2015_2016", 13461, "relative", 0.10, "FACTS: report II, footnote 12", REG,
           lambda d: float(d.reg((2015, 2016))["value"].sum())),
    Target("share_sexual", 0.60, "points", 0.05, "FACTS: report 2.1",
           ("demand.exploited_share_sex", "referral.rate_sexual", "police.visibility_sexual"),
           lambda d: d.share(form="sexual")),
    Target("share_labour", 0.15, "points", 0.05, "FACTS: report 2.2",
           ("demand.exploited_share_labour", "referral.rate_labour", "police.visibility_labour", "inspect.targeting"),
           lambda d: d.share(form="labour")),
    Target("share_other", 0.18, "points", 0.05, "FACTS: report 2.3",
           ("demand.other_per_million", "referral.rate_other", "police.visibility_other"),
           lambda d: d.share(form="other")),
    Target("share_female", 0.72, "points", 0.05, R + ", 'almost three quarters'", SEX_AGE,
           lambda d: d.share(sex="female")),
    Target("female_among_sexual", 0.90, "at_least", None, "FACTS: report 2.1", ("recruit.female_odds_sexual",),
           lambda d: d.share(within={"form": "sexual"}, sex="female")),
    Target("male_among_labour", 0.68, "points", 0.07, "FACTS: report 2.2", ("recruit.female_odds_labour",),
           lambda d: d.share(within={"form": "labour"}, sex="male")),
    Target("share_children", 0.23, "points", 0.05, "FACTS: report 2.4, 'almost a quarter'", CHILD,
           lambda d: d.share(age="child")),
    Target("girls_among_children", 0.78, "points", 0.07, "FACTS: report 2.4", SEX_AGE + CHILD,
           lambda d: d.share(within={"age": "child"}, sex="female")),
    Target("share_eu_citizens", 0.49, "points", 0.05, R + ", 'almost half'",
           ("recruit.non_eu_reach", "recruit.domestic_affinity", "pool.at_risk_per_million"),
           lambda d: d.share(citizenship=_eu)),
    Target("share_domestic", 0.33, "at_least", None, R + ", 'more than one third'", ("recruit.domestic_affinity",),
           lambda d: d.share(citizenship=_domestic)),
    Target("top5_eu_citizenships", frozenset({"RO", "HU", "FR", "NL", "BG"}), "set", None, R,
           ("countries.csv recruitment_propensity", "countries.csv enforcement_index"), lambda d: d.top5(eu=True)),
    Target("top5_non_eu_citizenships", frozenset({"NG", "CN", "UA", "MA", "IN"}), "set", None, R,
           ("countries.csv recruitment_propensity",), lambda d: d.top5(eu=False)),
    Target("suspects_2017_2018", 11788, "relative", 0.10, "FACTS: report 3.1",
           ("police.suspects_per_member", "police.investigate_on_identification", "police.investigations_per_million"),
           lambda d: d.total("suspects", (2017, 2018))),
    Target("prosecutions_2017_2018", 6163, "relative", 0.10, "FACTS: report 3.1",
           ("justice.prosecution_rate", "justice.prosecution_lag"), lambda d: d.total("prosecutions", (2017, 2018))),
    Target("convictions_2017_2018", 2426, "relative", 0.10, "FACTS: report 3.1",
           ("justice.conviction_rate", "justice.trial_lag"), lambda d: d.total("convictions", (2017, 2018))),
    Target("user_suspects_2017_2018", 170, "relative", 0.25, "FACTS: report 3.1 (Art. 18(4), 11 member states)",
           ("users.detection_per_year", "demand.knowing_share"), lambda d: d.total("user_suspects", (2017, 2018))),
    Target("user_prosecutions_2017_2018", 162, "relative", 0.25, "FACTS: report 3.1", ("users.prosecution_rate",),
           lambda d: d.total("user_prosecutions", (2017, 2018))),
    Target("user_convictions_2017_2018", 133, "relative", 0.25, "FACTS: report 3.1", ("users.conviction_rate",),
           lambda d: d.total("user_convictions", (2017, 2018))),
    Target("social_cost_2016_eur", STUDY_TOTAL_EUR, "relative", 0.15, "FACTS: cost study 2020 (reference year 2016)",
           (), lambda d: d.total("social_cost", (2016, 2016))),
    Target("registered_share", 0.0, "between", (0.11, 0.30),
           "FACTS: multiple-systems estimates, 11-25 % (NL 1 in 5; Serbia 1 in 4 to 1 in 9)",
           ("victims.exit_rate_sexual", "victims.exit_rate_labour", "victims.exit_rate_other"),
           lambda d: d.registered_share()),
    Target("confiscated_share_of_proceeds", 0.0, "between", (0.01, 0.025), "FACTS: Europol 2016, 1.1 % confiscated",
           ("finance.investigation_rate", "finance.freeze_share", "finance.confiscated_share"),
           lambda d: d.total("assets_confiscated", (2017, 2018)) / d.total("group_revenue", (2017, 2018))),
)


def evaluate(table: pd.DataFrame, targets: tuple[Target, ...] = TARGETS) -> pd.DataFrame:
    """Every target next to the model's value and whether it is within tolerance."""
    data = TargetData(table)
    rows = []
    for tg in targets:
        value = tg.compute(data)
        rows.append({
            "target": tg.name,
            "figure": tg.describe(),
            "model": ", ".join(sorted(value)) if isinstance(value, frozenset) else float(value),
            "ok": tg.check(value),
            "source": tg.source,
        })
    return pd.DataFrame(rows)
