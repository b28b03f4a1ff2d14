"""Figures made from the results table (never from model internals); each takes ``ax``."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from thbsim.money import COST_CATEGORIES  # noqa: E402

FORM_COLOURS = {"sexual": "#c0392b", "labour": "#2471a3", "other": "#7d3c98", "not_recorded": "#aab7b8"}


def _yearly(table: pd.DataFrame, indicator: str, by: list[str]) -> pd.DataFrame:
    t = table[table["indicator"] == indicator]
    per_rep = t.groupby(["replicate", "year", *by], observed=True)["value"].sum()
    return per_rep.groupby(["year", *by], observed=True).agg(["median", lambda s: s.quantile(0.05),
                                                               lambda s: s.quantile(0.95)]).set_axis(
        ["median", "low", "high"], axis=1).reset_index()


def registered_by_form(table: pd.DataFrame, ax=None, observed: dict | None = None):
    """Registered victims per year by recorded form: median over replicates with a 90 % band."""
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    df = _yearly(table, "registered", ["form"])
    for form, d in df.groupby("form", observed=True):
        ax.plot(d["year"], d["median"], label=str(form).replace("_", " "), color=FORM_COLOURS.get(str(form)))
        ax.fill_between(d["year"], d["low"], d["high"], alpha=0.2, color=FORM_COLOURS.get(str(form)))
    total = _yearly(table, "registered", [])
    ax.plot(total["year"], total["median"], color="black", lw=2, label="all forms")
    for i, ((y0, y1), v) in enumerate((observed or {}).items()):
        ax.errorbar((y0 + y1) / 2, v / (y1 - y0 + 1), xerr=(y1 - y0) / 2 + 0.5, fmt="D", color="black", mfc="white",
                    capsize=3, label="report (yearly mean)" if i == 0 else None)
    ax.set(title="Registered victims per year, by form of exploitation", xlabel="year", ylabel="victims per year")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    ax.grid(alpha=0.3)
    return ax.figure


def justice_funnel(table: pd.DataFrame, years: tuple[int, int] = (2017, 2018), ax=None,
                   observed: dict | None = None):
    """Suspects, prosecutions and convictions over a period: model median (90 % interval) and the report."""
    ax = ax or plt.subplots(figsize=(7, 4.5))[1]
    stages = ["suspects", "prosecutions", "convictions"]
    t = table[table["year"].between(*years)]
    med, lo, hi = [], [], []
    for s in stages:
        per_rep = t[t["indicator"] == s].groupby("replicate", observed=True)["value"].sum()
        med.append(per_rep.median())
        lo.append(per_rep.quantile(0.05))
        hi.append(per_rep.quantile(0.95))
    x = np.arange(len(stages))
    med = np.array(med)
    ax.bar(x - 0.2, med, 0.4, yerr=[med - lo, np.array(hi) - med], capsize=4, color="#5d6d7e", label="model")
    if observed:
        ax.bar(x + 0.2, [observed[s] for s in stages], 0.4, color="#d5dbdb", edgecolor="black", label="report")
    ax.set_xticks(x, stages)
    ax.set(title=f"Justice funnel, {years[0]}-{years[1]} (EU-27)", ylabel="persons")
    ax.legend()
    return ax.figure


def cost_by_category(table: pd.DataFrame, ax=None, observed_total: float | None = None):
    """Social cost per year by the cost study's categories (median over replicates), stacked."""
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    df = _yearly(table, "social_cost", ["detail"])
    wide = df.pivot(index="year", columns="detail", values="median")[list(COST_CATEGORIES)] / 1e9
    bottom = np.zeros(len(wide))
    colours = plt.cm.tab10(np.arange(len(COST_CATEGORIES)))
    for cat, colour in zip(COST_CATEGORIES, colours, strict=True):
        ax.bar(wide.index, wide[cat], bottom=bottom, label=cat.replace("_", " "), color=colour)
        bottom += wide[cat].to_numpy()
    if observed_total:
        ax.axhline(observed_total / 1e9, color="black", ls="--", lw=1)
        ax.annotate("cost study 2016: EUR 2.7 bn", (wide.index[0], observed_total / 1e9), xytext=(0, 4),
                    textcoords="offset points", fontsize=8)
    ax.set(title="Social cost of trafficking by category", xlabel="year", ylabel="EUR bn (2016 prices)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    return ax.figure


def true_and_registered(table: pd.DataFrame, ax=None):
    """The dark figure: victims exploited (year-end stock) against victims registered per year."""
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    t = table[(table["indicator"] == "victims_exploited") & (table["month"] == 12)]
    stock = t.groupby(["replicate", "year"], observed=True)["value"].sum().groupby("year").median()
    reg = _yearly(table, "registered", [])
    ax.plot(stock.index, stock.values, color="#c0392b", label="victims exploited (year end)")
    ax.plot(reg["year"], reg["median"], color="black", label="victims registered in the year")
    ax.set(title="True and registered victims", xlabel="year", ylabel="victims")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    ax.grid(alpha=0.3)
    return ax.figure
