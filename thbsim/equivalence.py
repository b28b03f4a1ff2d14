"""Do two sets of runs give the same outcomes in distribution?

A change to the model that draws its random numbers differently (a new generator, events drawn as waiting
times, a kernel that visits rows in another order) changes every run's numbers, so the runs can no longer be
compared bit for bit. What must then hold is that the outcomes keep their distribution. ``compare`` takes the
outcomes of the same seeds under both versions (``thbsim.runner.simulate``'s tables: one row per run, outcome
and year) and tests each (outcome, year) with a two-sample Kolmogorov-Smirnov test and Welch's t-test;
``verdict`` applies Holm's step-down correction over all of them, so that among a few hundred tests a few
small p-values by chance do not count as a difference. ``bench/equivalence.py`` runs two git revisions and
prints both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

KEYS = ["outcome", "year"]


def compare(this: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """One row per (outcome, year) found in both: runs, means and their standard errors, the difference in
    standard errors (``z``), Welch's and the Kolmogorov-Smirnov p-values, and whether the two sets of values
    are the same run for run (``identical``: same seeds, same values, as a change that keeps every draw gives).

    ``this`` and ``other``: columns ``seed``, ``outcome``, ``year``, ``value`` (other columns are ignored).
    """
    rows = []
    for (outcome, year), a in this.groupby(KEYS, sort=True):
        b = other[(other["outcome"] == outcome) & (other["year"] == year)]
        if b.empty:
            continue
        paired = a.set_index("seed")["value"].sort_index(), b.set_index("seed")["value"].sort_index()
        identical = paired[0].index.equals(paired[1].index) and np.array_equal(paired[0].to_numpy(), paired[1].to_numpy(),
                                                                               equal_nan=True)
        x, y = a["value"].to_numpy(float), b["value"].to_numpy(float)
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]  # an outcome a run does not define (no such year) is left out
        if x.size == 0 or y.size == 0:
            continue
        se = np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size) if min(x.size, y.size) > 1 else np.nan
        diff = x.mean() - y.mean()
        if se > 0:
            z = diff / se
            p_welch = float(stats.ttest_ind(x, y, equal_var=False).pvalue)
        else:  # both constant: the same constant or not
            z, p_welch = (0.0, 1.0) if diff == 0 else (np.inf, 0.0)
        p_ks = 1.0 if identical else float(stats.ks_2samp(x, y).pvalue)
        rows.append({"outcome": outcome, "year": year, "runs_this": x.size, "runs_other": y.size,
                     "mean_this": x.mean(), "mean_other": y.mean(), "sd_this": x.std(ddof=1) if x.size > 1 else np.nan,
                     "sd_other": y.std(ddof=1) if y.size > 1 else np.nan, "z": z, "p_welch": p_welch, "p_ks": p_ks,
                     "identical": identical})
    return pd.DataFrame(rows)


def holm(p: np.ndarray, alpha: float) -> np.ndarray:
    """Holm's step-down test: which of the hypotheses with p-values ``p`` are rejected at family-wise level
    ``alpha`` (the smallest p against alpha / m, the next against alpha / (m - 1), ... until one is not)."""
    p = np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    m = p.size
    rejected = np.zeros(m, bool)
    for k, i in enumerate(order):
        if p[i] > alpha / (m - k):
            break
        rejected[i] = True
    return rejected


def verdict(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """``table`` (from ``compare``) with ``different``: rejected by Holm's test at family-wise level ``alpha``
    over all its Kolmogorov-Smirnov and Welch p-values together (an (outcome, year) differs if either test
    says so)."""
    out = table.copy()
    n = len(out)
    rejected = holm(np.concatenate([out["p_ks"].to_numpy(), out["p_welch"].to_numpy()]), alpha)
    out["different"] = rejected[:n] | rejected[n:]
    return out


def summary(table: pd.DataFrame) -> str:
    """A few lines on a ``verdict`` table: how many compared, identical, different, and the largest gaps."""
    n = len(table)
    if n == 0:
        return "no (outcome, year) in both sets of runs"
    lines = [f"{n} (outcome, year) pairs compared over {int(table['runs_this'].min())} to {int(table['runs_this'].max())} "
             f"runs each; identical run for run: {int(table['identical'].sum())}; "
             f"different (Holm, family-wise 5 %): {int(table['different'].sum())}"]
    if table["identical"].all():
        return lines[0] + "\nevery outcome is the same run for run: the two versions drew the same numbers"
    worst = table.reindex(table["z"].abs().sort_values(ascending=False).index).head(8)
    lines.append("largest differences in standard errors (z = (mean this - mean other) / se):")
    for r in worst.itertuples():
        lines.append(f"  {r.outcome:36s} {r.year:>5}  this {r.mean_this:14,.1f}  other {r.mean_other:14,.1f}  "
                     f"z {r.z:+6.2f}  p(KS) {r.p_ks:.3f}  p(Welch) {r.p_welch:.3f}"
                     + ("  DIFFERENT" if r.different else ""))
    return "\n".join(lines)
