"""Calibration targets: the report's figures, and how each is computed from model output.

A target is never typed in as a model value: each is computed from one run's
recorded indicators (``RunStats``, built from the model or from the results
table), and ``evaluate`` compares the mean over replicates with the figure.
``informs`` names the free parameters a target constrains most (docs/data.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thbsim.geography import REST_OF_WORLD, geography
from thbsim.money import STUDY_TOTAL_EUR
from thbsim.recorder import DIMS, INDICATORS, _labels


@dataclass(frozen=True)
class Target:
    name: str
    figure: float | frozenset
    kind: str  # "relative", "points", "at_least", "between", "set"
    tolerance: float | tuple[float, float] | None
    source: str
    informs: tuple[str, ...]
    compute: Callable[[RunStats], float | np.ndarray]

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


class RunStats:
    """Yearly totals of one run's indicators, as arrays: what every target is computed from.

    Built from a model's recorder (``from_model``) or from the tidy results table of one
    replicate (``from_table``); both give the same numbers.
    """

    def __init__(self, years: np.ndarray, yearly: dict[str, np.ndarray], december: dict[str, np.ndarray]) -> None:
        self.years = years
        self.yearly = yearly  # name -> (n_years, *breakdown)
        self.december = december  # stocks at the end of each year

    @classmethod
    def from_model(cls, model) -> RunStats:
        first = max(0, model.month_index(model.scenario.output_from))
        months = model.months[first:]
        month_year = months.year.to_numpy()  # asked once: a PeriodIndex computes its fields at every call
        years = np.unique(month_year)
        starts = np.searchsorted(month_year, years)
        dec = np.flatnonzero(months.month.to_numpy() == 12)
        dec_rows = np.searchsorted(years, month_year[dec])
        yearly, december = {}, {}
        for name in INDICATORS:
            arr = model.recorder.data[name][first:]
            yearly[name] = np.add.reduceat(arr, starts, axis=0).astype(np.float64)
            december[name] = np.full((years.size, *arr.shape[1:]), np.nan)
            december[name][dec_rows] = arr[dec]
        return cls(years, yearly, december)

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> RunStats:
        """From the tidy table of one replicate (as written to results.parquet)."""
        years = np.sort(table["year"].unique())
        yearly, december = {}, {}
        for name, (dims, _, _) in INDICATORS.items():
            t = table[table["indicator"] == name]
            labels = _labels(dims)
            shape = (years.size, *(len(x) for x in labels))
            coords = [np.searchsorted(years, t["year"].to_numpy())]
            for col, lab in zip(DIMS[dims], labels, strict=True):
                index = {v: i for i, v in enumerate(lab)}
                coords.append(t[col].astype(str).map(index).to_numpy())
            arr = np.zeros(shape)
            np.add.at(arr, tuple(coords), t["value"].to_numpy())
            yearly[name] = arr
            dec = t["month"].to_numpy() == 12
            arr_d = np.full(shape, np.nan)
            arr_d[tuple(c[dec] for c in coords)] = t["value"].to_numpy()[dec]
            december[name] = arr_d
        return cls(years, yearly, december)

    def _rows(self, years: tuple[int, int]) -> np.ndarray:
        return (self.years >= years[0]) & (self.years <= years[1])

    def total(self, name: str, years: tuple[int, int]) -> float:
        return float(self.yearly[name][self._rows(years)].sum())

    def reg(self, years=(2017, 2018)) -> np.ndarray:
        """Registered victims summed over the years: member state x form x sex x age x citizenship."""
        return self.yearly["registered"][self._rows(years)].sum(axis=0)

    def share(self, axis: int, index, within: tuple[int, int] | None = None, years=(2017, 2018)) -> float:
        """Share of registered victims with ``index`` on ``axis`` (1 form, 2 sex, 3 age, 4 citizenship),
        optionally within the victims with ``within = (axis, index)``."""
        r = self.reg(years)
        if within is not None:
            r = np.take(r, [within[1]], axis=within[0])
        num = np.take(r, np.atleast_1d(index), axis=axis).sum()
        return float(num / max(r.sum(), 1e-12))

    def domestic_share(self, years=(2017, 2018)) -> float:
        r = self.reg(years).sum(axis=(1, 2, 3))  # member state x citizenship
        n = r.shape[0]
        return float(np.trace(r[:, :n]) / max(r.sum(), 1e-12))

    def citizenship_counts(self, years=(2017, 2018)) -> np.ndarray:
        return self.reg(years).sum(axis=(0, 1, 2, 3))

    def registered_share(self, years=(2017, 2018)) -> float:
        """Registered in a year over distinct victims exploited during it (stock at the start + entries)."""
        shares = []
        for y in range(years[0], years[1] + 1):
            if y not in self.years or y - 1 not in self.years:
                return float("nan")  # the horizon does not cover the year and the one before
            i = int(np.searchsorted(self.years, y))
            stock = self.december["victims_exploited"][i - 1].sum()
            entries = self.yearly["transit"][i].sum()
            shares.append(self.yearly["identified"][i].sum() / (stock + entries))
        return float(np.mean(shares))


def top5(counts: np.ndarray, eu: bool) -> frozenset:
    geo = geography()
    keep = [i for i, iso in enumerate(geo.iso) if bool(geo.is_eu[i]) == eu and iso != REST_OF_WORLD]
    order = sorted(keep, key=lambda i: -counts[i])
    return frozenset(geo.iso[i] for i in order[:5])


EU_ORIGINS = list(range(27))
SEXUAL, LABOUR, OTHER, FEMALE, MALE, CHILD_AGE = 0, 1, 2, 0, 1, 0
REG = ("police.investigations_per_million", "referral.rate_sexual", "referral.rate_labour", "referral.rate_other",
       "demand.exploited_share_sex", "demand.exploited_share_labour", "demand.other_per_million")
SEX_AGE = ("recruit.female_odds_sexual", "recruit.female_odds_labour", "recruit.female_odds_other")
CHILD = ("recruit.child_odds_sexual", "recruit.child_odds_labour", "recruit.child_odds_other", "referral.child_factor")
R = "FACTS: report II (COM(2020) 661)"

TARGETS: tuple[Target, ...] = (
    Target("registered_victims_2017_2018", 14145, "relative", 0.10, R, REG,
           lambda d: float(d.reg().sum())),
    Target("registered_victims_2015_2016", 13461, "relative", 0.10, "FACTS: report II, footnote 12", REG,
           lambda d: float(d.reg((2015, 2016)).sum())),
    Target("share_sexual", 0.60, "points", 0.05, "FACTS: report 2.1",
           ("demand.exploited_share_sex", "referral.rate_sexual", "police.visibility_sexual"),
           lambda d: d.share(1, SEXUAL)),
    Target("share_labour", 0.15, "points", 0.05, "FACTS: report 2.2",
           ("demand.exploited_share_labour", "referral.rate_labour", "police.visibility_labour", "inspect.targeting"),
           lambda d: d.share(1, LABOUR)),
    Target("share_other", 0.18, "points", 0.05, "FACTS: report 2.3",
           ("demand.other_per_million", "referral.rate_other", "police.visibility_other"),
           lambda d: d.share(1, OTHER)),
    Target("share_female", 0.72, "points", 0.05, R + ", 'almost three quarters'", SEX_AGE,
           lambda d: d.share(2, FEMALE)),
    Target("female_among_sexual", 0.90, "at_least", None, "FACTS: report 2.1", ("recruit.female_odds_sexual",),
           lambda d: d.share(2, FEMALE, within=(1, SEXUAL))),
    Target("male_among_labour", 0.68, "points", 0.07, "FACTS: report 2.2", ("recruit.female_odds_labour",),
           lambda d: d.share(2, MALE, within=(1, LABOUR))),
    Target("share_children", 0.23, "points", 0.05, "FACTS: report 2.4, 'almost a quarter'", CHILD,
           lambda d: d.share(3, CHILD_AGE)),
    Target("girls_among_children", 0.78, "points", 0.07, "FACTS: report 2.4", SEX_AGE + CHILD,
           lambda d: d.share(2, FEMALE, within=(3, CHILD_AGE))),
    Target("share_eu_citizens", 0.49, "points", 0.05, R + ", 'almost half'",
           ("recruit.non_eu_reach", "recruit.domestic_affinity", "pool.at_risk_per_million"),
           lambda d: d.share(4, EU_ORIGINS)),
    Target("share_domestic", 0.33, "at_least", None, R + ", 'more than one third'", ("recruit.domestic_affinity",),
           lambda d: d.domestic_share()),
    Target("top5_eu_citizenships", frozenset({"RO", "HU", "FR", "NL", "BG"}), "set", None, R,
           ("countries.csv recruitment_propensity", "countries.csv enforcement_index"), lambda d: d.citizenship_counts()),
    Target("top5_non_eu_citizenships", frozenset({"NG", "CN", "UA", "MA", "IN"}), "set", None, R,
           ("countries.csv recruitment_propensity",), lambda d: d.citizenship_counts()),
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


def target_values(stats: RunStats, targets: tuple[Target, ...] = TARGETS) -> dict[str, float | np.ndarray]:
    """Each target's statistic for one run (set targets: the citizenship counts they rank)."""
    return {t.name: t.compute(stats) for t in targets}


def evaluate(runs, targets: tuple[Target, ...] = TARGETS) -> pd.DataFrame:
    """Every target next to the model's value (mean over runs) and whether it is within tolerance.

    ``runs``: a list of ``RunStats`` (one per replicate) or a results table with a ``replicate`` column.
    Set targets rank the citizenship counts summed over runs.
    """
    if isinstance(runs, pd.DataFrame):
        runs = [RunStats.from_table(t) for _, t in runs.groupby("replicate", observed=True)]
    per_run = [target_values(r, targets) for r in runs]
    rows = []
    for tg in targets:
        values = [v[tg.name] for v in per_run]
        if tg.kind == "set":
            value = top5(np.sum(values, axis=0), eu="non" not in tg.name)
        else:
            value = float(np.mean(values))
        rows.append({
            "target": tg.name,
            "figure": tg.describe(),
            "model": ", ".join(sorted(value)) if isinstance(value, frozenset) else value,
            "ok": tg.check(value),
            "source": tg.source,
        })
    return pd.DataFrame(rows)
