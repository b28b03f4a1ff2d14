"""Scenario comparison: what a lever buys, at what cost, and how sure we can be.

``compare`` runs every scenario N times. Replicate r has its own seed and its own
draw of the uncertain parameters: the lever effect sizes and unit costs from their
declared ranges, and (if a posterior file is given) the calibrated parameters
from the posterior. The same seeds and draws serve every scenario (common random
numbers), so the interval of a difference from the baseline shows both noise and
what we do not know. Tables, figures and a short brief (Markdown and HTML) are
written from the outcome table, never from model internals.
"""

from __future__ import annotations

import argparse
import html
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from thbsim.params import PARAMETERS, PARAMS  # noqa: E402
from thbsim.rng import replicate_seeds  # noqa: E402
from thbsim.runner import RunSpec, execute  # noqa: E402
from thbsim.scenario import Scenario, ScenarioError, load  # noqa: E402

EFFECT_PARAMS = tuple(
    p.name for p in PARAMETERS if p.uncertain and (
        p.name.startswith("lever.") or p.name in ("demand.max_fall_knowing_use", "demand.half_effect_penalty_eur",
                                                  "users.victims_found_per_suspect")))
"""Effect sizes and unit costs the levers rely on: drawn from their declared ranges per replicate.
(The model's other parameters keep their calibrated values, or come from ``--posterior``.)"""

INDICATORS = {
    # outcome: (label, unit divisor, unit label)
    "true_victims": ("true victims (year end)", 1, "victims"),
    "registered_victims": ("registered victims", 1, "victims a year"),
    "registered_victims:sexual": ("registered, sexual exploitation", 1, "victims a year"),
    "registered_victims:labour": ("registered, labour exploitation", 1, "victims a year"),
    "registered_victims:other": ("registered, other forms", 1, "victims a year"),
    "recruited": ("new victims recruited", 1, "victims a year"),
    "suspects": ("suspects", 1, "persons a year"),
    "prosecutions": ("prosecutions", 1, "persons a year"),
    "convictions": ("convictions", 1, "persons a year"),
    "user_convictions": ("users convicted", 1, "persons a year"),
    "crime_groups": ("crime groups (year end)", 1, "groups"),
    "group_profit_eur": ("group profits", 1e6, "EUR m a year"),
    "assets_confiscated_eur": ("assets confiscated", 1e6, "EUR m a year"),
    "social_cost_eur": ("social cost", 1e6, "EUR m a year"),
    "social_cost_eur:law_enforcement": ("  law enforcement", 1e6, "EUR m a year"),
    "social_cost_eur:victim_services": ("  victim services", 1e6, "EUR m a year"),
    "social_cost_eur:health_social": ("  health and social protection", 1e6, "EUR m a year"),
    "social_cost_eur:lost_output": ("  lost economic output", 1e6, "EUR m a year"),
    "social_cost_eur:quality_of_life": ("  lost quality of life", 1e6, "EUR m a year"),
    "lever_cost_eur": ("lever cost", 1e6, "EUR m a year"),
}
HEADLINE = ("true_victims", "registered_victims", "convictions", "group_profit_eur", "social_cost_eur")


def draw_parameters(n: int, seed: int, posterior: pd.DataFrame | None = None,
                    names: tuple[str, ...] = EFFECT_PARAMS) -> list[dict[str, float]]:
    """One parameter draw per replicate: effect sizes uniform on their ranges, plus posterior rows."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5CE,)))
    lows = np.array([PARAMS[k].low for k in names])
    highs = np.array([PARAMS[k].high for k in names])
    u = rng.random((n, len(names)))
    draws = [dict(zip(names, (lows + u[i] * (highs - lows)).tolist(), strict=True)) for i in range(n)]
    if posterior is not None:
        cols = [c for c in posterior.columns if c in PARAMS]
        w = posterior["weight"].to_numpy(float) if "weight" in posterior else np.ones(len(posterior))
        rows = rng.choice(len(posterior), size=n, p=w / w.sum())
        for i, r in enumerate(rows):
            draws[i].update({c: float(posterior.iloc[r][c]) for c in cols})
    return draws


@dataclass
class Comparison:
    outcomes: pd.DataFrame  # scenario, replicate, outcome, member_state, year, value
    scenarios: list[str]
    years: tuple[int, int]
    meta: dict

    @property
    def baseline(self) -> str:
        return self.scenarios[0]

    def per_replicate(self, member_states: bool = False) -> pd.DataFrame:
        """Mean yearly value over the window per scenario, replicate and outcome (EU, or per member state)."""
        o = self.outcomes
        o = o[o["year"].between(*self.years) & ((o["member_state"] != "EU") if member_states else
                                                 (o["member_state"] == "EU"))]
        keys = ["scenario", "replicate", "outcome"] + (["member_state"] if member_states else [])
        return o.groupby(keys, observed=True)["value"].mean().reset_index()

    def effects(self) -> pd.DataFrame:
        """Median and 90 % interval of each scenario and of its paired difference from the baseline."""
        per = self.per_replicate()
        per = per[per["outcome"].isin(INDICATORS)]
        wide = per.pivot_table(index=["outcome", "replicate"], columns="scenario", values="value")
        rows = []
        for outcome, block in wide.groupby(level="outcome"):
            label, div, unit = INDICATORS[outcome]
            base = block[self.baseline]
            for sc in self.scenarios:
                level = block[sc] / div
                diff = (block[sc] - base) / div
                rel = (block[sc] - base) / base.where(base != 0) * 100
                rows.append({
                    "indicator": label.strip(), "outcome": outcome, "unit": unit, "scenario": sc,
                    "median": level.median(), "p05": level.quantile(0.05), "p95": level.quantile(0.95),
                    "change_median": diff.median(), "change_p05": diff.quantile(0.05),
                    "change_p95": diff.quantile(0.95), "change_pct_median": rel.median(),
                    "change_pct_p05": rel.quantile(0.05), "change_pct_p95": rel.quantile(0.95),
                })
        order = {k: i for i, k in enumerate(INDICATORS)}
        out = pd.DataFrame(rows)
        out["_o"] = out["outcome"].map(order)
        out["_s"] = out["scenario"].map({s: i for i, s in enumerate(self.scenarios)})
        return out.sort_values(["_s", "_o"]).drop(columns=["_o", "_s"]).reset_index(drop=True)

    def cost_effectiveness(self) -> pd.DataFrame:
        """Per scenario: lever cost, social cost averted and victim-years averted a year; cost per victim-year."""
        per = self.per_replicate()
        wide = per.pivot_table(index=["replicate"], columns=["outcome", "scenario"], values="value")
        rows = []
        for sc in self.scenarios[1:]:
            cost = wide[("lever_cost_eur", sc)]
            averted = wide[("social_cost_eur", self.baseline)] - wide[("social_cost_eur", sc)]
            vy = wide[("true_victims", self.baseline)] - wide[("true_victims", sc)]
            ratio = (cost / vy).where(vy > 0)
            rows.append({
                "scenario": sc,
                "lever_cost_eur_m": cost.median() / 1e6,
                "social_cost_averted_eur_m": averted.median() / 1e6,
                "social_cost_averted_p05": averted.quantile(0.05) / 1e6,
                "social_cost_averted_p95": averted.quantile(0.95) / 1e6,
                "victim_years_averted": vy.median(),
                "victim_years_averted_p05": vy.quantile(0.05),
                "victim_years_averted_p95": vy.quantile(0.95),
                "cost_per_victim_year_averted_eur": ratio.median() if ratio.notna().mean() >= 0.5 else np.nan,
                "share_of_replicates_averting_victims": float((vy > 0).mean()),
            })
        return pd.DataFrame(rows)

    def displacement(self) -> pd.DataFrame:
        """Change in true victims and crime groups per member state against the baseline (median,
        90 % interval), with the scope, and summed over the member states in and out of scope."""
        parts = [self._displacement(o) for o in ("true_victims", "crime_groups")]
        parts = [p for p in parts if not p.empty]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def _displacement(self, outcome: str) -> pd.DataFrame:
        per = self.per_replicate(member_states=True)
        per = per[per["outcome"] == outcome]
        wide = per.pivot_table(index=["member_state", "replicate"], columns="scenario", values="value")
        rows = []
        for sc in self.scenarios[1:]:
            scope = set(self.meta["scopes"].get(sc, []))
            if not scope:
                continue
            for ms, block in wide.groupby(level="member_state"):
                d = block[sc] - block[self.baseline]
                rows.append({"scenario": sc, "outcome": outcome, "member_state": ms, "in_scope": ms in scope,
                             "change_median": d.median(), "change_p05": d.quantile(0.05),
                             "change_p95": d.quantile(0.95)})
        out = pd.DataFrame(rows)
        if out.empty:
            return out
        totals = []
        for (sc, in_scope), block in out.groupby(["scenario", "in_scope"]):
            member_states = list(block["member_state"])
            sub = wide.loc[wide.index.get_level_values("member_state").isin(member_states)]
            d = (sub[sc] - sub[self.baseline]).groupby(level="replicate").sum()
            totals.append({"scenario": sc, "outcome": outcome,
                           "member_state": "in scope" if in_scope else "not in scope",
                           "in_scope": in_scope, "change_median": d.median(), "change_p05": d.quantile(0.05),
                           "change_p95": d.quantile(0.95)})
        return pd.concat([out, pd.DataFrame(totals)], ignore_index=True)


def compare(scenarios: list[Scenario], replicates: int = 20, seed: int | None = None, years: tuple[int, int] = (2025, 2030),
            posterior: pd.DataFrame | None = None, backend="serial", workers: int | None = None,
            progress: bool = True) -> Comparison:
    """Run every scenario with the same seeds and parameter draws; the first is the baseline."""
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must differ to be compared: {names}")
    root = scenarios[0].seed if seed is None else seed
    seeds = replicate_seeds(root, replicates)
    draws = draw_parameters(replicates, root, posterior)
    specs = [RunSpec(run_id=i * replicates + r, scenario=sc, seed=seeds[r], params=draws[r], replicate=r, sample=r,
                     detail=True) for i, sc in enumerate(scenarios) for r in range(replicates)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(specs), unit="run", desc="compare", leave=False)
    frames, failed = [], []
    for res in execute(specs, backend, workers):
        if res.error:
            failed.append((res.spec.scenario.name, res.spec.replicate, res.error.strip().splitlines()[-1]))
        else:
            frames.append(res.outcomes)
        if bar:
            bar.update(1)
            bar.set_postfix(failed=len(failed))
    if bar:
        bar.close()
    if failed:
        raise RuntimeError(f"{len(failed)} run(s) failed, e.g. {failed[0]}")
    out = pd.concat(frames, ignore_index=True)
    out = out[out["year"] > 0].drop(columns=["pid", "run_id", "sample", "seed"])
    from thbsim.geography import MEMBER_STATES

    scopes = {}  # member states where a scenario's member-state levers act (none: no displacement table)
    for sc in scenarios:
        states = set()
        for lever in sc.levers:
            if getattr(lever, "scope_field", "member_states") == "member_states" and not lever.is_shock:
                states |= set(MEMBER_STATES) if lever.member_states == "all" else set(lever.member_states)
        scopes[sc.name] = sorted(states) if states != set(MEMBER_STATES) else []
    meta = {"replicates": replicates, "root_seed": root, "seeds": seeds, "years": list(years),
            "drawn_parameters": list(draws[0]), "posterior": posterior is not None, "scopes": scopes}
    return Comparison(out, names, years, meta)


# -- figures ------------------------------------------------------------------
def plot_timeseries(comp: Comparison, ax=None):
    """True and registered victims per year: median and 90 % band per scenario."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5)) if ax is None else (ax[0].figure, ax)
    o = comp.outcomes[comp.outcomes["member_state"] == "EU"]
    colours = plt.cm.tab10(np.arange(len(comp.scenarios)) % 10)
    for a, outcome in zip(axes, ("true_victims", "registered_victims"), strict=True):
        for sc, colour in zip(comp.scenarios, colours, strict=True):
            d = o[(o["outcome"] == outcome) & (o["scenario"] == sc)].groupby("year")["value"]
            med, lo, hi = d.median(), d.quantile(0.05), d.quantile(0.95)
            a.plot(med.index, med.values, color=colour, lw=2 if sc == comp.baseline else 1.3,
                   label=sc.replace("_", " "))
            a.fill_between(med.index, lo.values, hi.values, color=colour, alpha=0.15)
        a.axvspan(comp.years[0] - 0.5, comp.years[1] + 0.5, color="grey", alpha=0.07)
        a.set(title=INDICATORS[outcome][0], xlabel="year", ylabel="victims")
        a.set_ylim(bottom=0)
        a.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return fig


def plot_effects(comp: Comparison, effects: pd.DataFrame | None = None):
    """Relative change from the baseline, median with 90 % interval, per scenario and headline indicator."""
    eff = comp.effects() if effects is None else effects
    eff = eff[eff["outcome"].isin(HEADLINE) & (eff["scenario"] != comp.baseline)]
    scen = comp.scenarios[1:]
    fig, axes = plt.subplots(1, len(HEADLINE), figsize=(3.2 * len(HEADLINE), 0.5 * len(scen) + 1.8), sharey=True)
    for a, outcome in zip(axes, HEADLINE, strict=True):
        d = eff[eff["outcome"] == outcome].set_index("scenario").loc[scen]
        y = np.arange(len(scen))
        med = d["change_pct_median"].to_numpy()
        err = [med - d["change_pct_p05"].to_numpy(), d["change_pct_p95"].to_numpy() - med]
        a.errorbar(med, y, xerr=err, fmt="o", color="#1f4e79", capsize=3)
        a.axvline(0, color="black", lw=0.8)
        a.set_title(INDICATORS[outcome][0], fontsize=9)
        a.set_xlabel("% change vs baseline")
        a.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(np.arange(len(scen)), [s.replace("_", " ") for s in scen], fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(f"Effects {comp.years[0]}-{comp.years[1]}: median and 90 % interval", fontsize=10)
    return fig


def plot_cost_effectiveness(comp: Comparison, ce: pd.DataFrame | None = None, ax=None):
    """Lever cost against social cost averted, a year (EUR m), with 90 % intervals."""
    ce = comp.cost_effectiveness() if ce is None else ce
    ax = ax or plt.subplots(figsize=(7, 5))[1]
    levers = ce[ce["lever_cost_eur_m"] > 0]
    if levers.empty:
        ax.text(0.5, 0.5, "no lever with a cost", ha="center", transform=ax.transAxes)
        return ax.figure
    y = levers["social_cost_averted_eur_m"]
    err = [y - levers["social_cost_averted_p05"], levers["social_cost_averted_p95"] - y]
    ax.errorbar(levers["lever_cost_eur_m"], y, yerr=err, fmt="o", capsize=3, color="#7b241c")
    for r in levers.itertuples():
        ax.annotate(r.scenario.replace("_", " "), (r.lever_cost_eur_m, r.social_cost_averted_eur_m), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    top = max(levers["lever_cost_eur_m"].max(), 1.0)
    ax.plot([0, top], [0, top], color="grey", ls="--", lw=1, label="social cost averted = lever cost")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xlabel="lever cost (EUR m a year)", ylabel="social cost averted (EUR m a year)",
           title=f"Cost against harm averted, {comp.years[0]}-{comp.years[1]}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax.figure


def plot_displacement(comp: Comparison, disp: pd.DataFrame, scenario: str, ax=None):
    """Change in true victims per member state for a scoped scenario (in scope vs not)."""
    d = disp[(disp["scenario"] == scenario) & (disp["outcome"] == "true_victims")
             & ~disp["member_state"].isin(["in scope", "not in scope"])]
    d = d.sort_values("change_median")
    ax = ax or plt.subplots(figsize=(7, 7))[1]
    y = np.arange(len(d))
    med = d["change_median"].to_numpy()
    colour = np.where(d["in_scope"], "#c0392b", "#2471a3")
    ax.barh(y, med, color=colour)
    ax.errorbar(med, y, xerr=[med - d["change_p05"], d["change_p95"] - med], fmt="none", color="black", lw=0.8)
    ax.set_yticks(y, d["member_state"], fontsize=7)
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlabel="change in true victims vs baseline", title=f"{scenario.replace('_', ' ')}: red in scope, blue not")
    return ax.figure


# -- writing ------------------------------------------------------------------
def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}" if abs(x) >= 1 else f"{x:.2f}"


def headline_table(effects: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Change from the baseline per scenario: median [90 % interval], headline indicators."""
    e = effects[(effects["scenario"] != baseline) & effects["outcome"].isin(HEADLINE)]
    cell = e.apply(lambda r: f"{_fmt(r.change_median)} [{_fmt(r.change_p05)}, {_fmt(r.change_p95)}] "
                             f"({r.change_pct_median:+.1f} %)", axis=1)
    t = e.assign(cell=cell).pivot(index="scenario", columns="outcome", values="cell")
    t = t[[h for h in HEADLINE if h in t.columns]]
    t.columns = [f"{INDICATORS[c][0]} ({INDICATORS[c][2]})" for c in t.columns]
    return t


def write(comp: Comparison, out: Path) -> dict[str, Path]:
    """Tables (CSV), figures (PNG) and a brief (Markdown and HTML) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    eff, ce, disp = comp.effects(), comp.cost_effectiveness(), comp.displacement()
    paths = {}
    comp.outcomes.to_parquet(out / "outcomes.parquet", index=False)
    for name, df in (("effects", eff), ("cost_effectiveness", ce), ("displacement", disp)):
        df.to_csv(out / f"{name}.csv", index=False)
        paths[name] = out / f"{name}.csv"
    figs = {"timeseries.png": plot_timeseries(comp), "effects.png": plot_effects(comp, eff),
            "cost_effectiveness.png": plot_cost_effectiveness(comp, ce)}
    for sc, scope in comp.meta["scopes"].items():
        if scope and not disp.empty:
            figs[f"displacement_{sc}.png"] = plot_displacement(comp, disp, sc)
    for name, fig in figs.items():
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        paths[name] = out / name
    md, page = brief(comp, eff, ce, disp, list(figs))
    (out / "brief.md").write_text(md)
    (out / "brief.html").write_text(page)
    paths["brief.md"], paths["brief.html"] = out / "brief.md", out / "brief.html"
    return paths


def brief(comp: Comparison, eff: pd.DataFrame, ce: pd.DataFrame, disp: pd.DataFrame,
          figures: list[str]) -> tuple[str, str]:
    """A short brief a planner can read without Python: Markdown and HTML."""
    y0, y1 = comp.years
    n = comp.meta["replicates"]
    lines = [f"# What the levers buy, {y0}-{y1}", "",
             f"Each scenario was run {n} times against the baseline **{comp.baseline}**. Every run has its own "
             "random seed and its own draw of the uncertain effect sizes and unit costs the levers rely on"
             + (" and of the calibrated parameters (posterior)" if comp.meta["posterior"] else "")
             + "; the same seeds and draws serve every scenario, so a difference shows the lever's effect, "
             "and its 90 % interval shows both chance and what we do not know. Figures are yearly averages "
             f"over {y0}-{y1}, for the EU-27.", ""]
    headline = eff[eff["scenario"] != comp.baseline].set_index(["scenario", "outcome"])
    for sc in comp.scenarios[1:]:
        def part(o, sc=sc):
            r = headline.loc[(sc, o)]
            return (f"{INDICATORS[o][0]} {r.change_pct_median:+.1f} % "
                    f"(90 % interval {r.change_pct_p05:+.1f} % to {r.change_pct_p95:+.1f} %)")
        c = ce.set_index("scenario").loc[sc]
        cost = (f"The levers cost EUR {c.lever_cost_eur_m:,.1f} m a year and avert EUR "
                f"{c.social_cost_averted_eur_m:,.1f} m of social cost a year (90 %: {c.social_cost_averted_p05:,.1f} to "
                f"{c.social_cost_averted_p95:,.1f})")
        if np.isfinite(c.cost_per_victim_year_averted_eur):
            cost += f"; EUR {c.cost_per_victim_year_averted_eur:,.0f} per victim-year of exploitation averted."
        else:
            cost += "; they do not reliably avert victim-years of exploitation."
        lines += [f"## {sc.replace('_', ' ')}", "",
                  f"Compared with the baseline: {part('true_victims')}; {part('registered_victims')}; "
                  f"{part('convictions')}; {part('group_profit_eur')}; {part('social_cost_eur')}. {cost}", ""]
        d = disp[(disp["scenario"] == sc) & (disp["member_state"] == "not in scope")] if not disp.empty else disp
        if len(d) == 2:
            v = d[d["outcome"] == "true_victims"].iloc[0]
            g = d[d["outcome"] == "crime_groups"].iloc[0]
            lines += [f"Displacement: outside the scope, crime groups change by {g.change_median:+,.0f} "
                      f"(90 %: {g.change_p05:+,.0f} to {g.change_p95:+,.0f}) and true victims by "
                      f"{v.change_median:+,.0f} (90 %: {v.change_p05:+,.0f} to {v.change_p95:+,.0f}), as would-be "
                      "traffickers go where the business pays.", ""]
    table = headline_table(eff, comp.baseline)
    lines += ["## Effects table", "", "Change from the baseline, median [90 % interval] (relative change):", "",
              table.to_markdown() if _has_tabulate() else table.to_string(), ""]
    lines += ["## Figures", ""] + [f"![{f}]({f})" for f in figures] + [""]
    lines += ["Full tables: `effects.csv` (every indicator, level and change), `cost_effectiveness.csv`, "
              "`displacement.csv` (per member state), `outcomes.parquet` (every run).", ""]
    md = "\n".join(lines)
    body = []
    for line in lines:
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("!["):
            src = line[line.index("(") + 1:-1]
            body.append(f'<p><img src="{html.escape(src)}" alt="{html.escape(src)}" style="max-width:100%"></p>')
        elif line.startswith("|") or line.startswith("scenario"):
            continue
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    table_html = table.to_html(border=0, classes="effects")
    idx = next(i for i, b in enumerate(body) if b.startswith("<h2>Effects table"))
    body.insert(idx + 2, table_html)
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>thbsim brief</title><style>"
            "body{font-family:sans-serif;max-width:1000px;margin:2em auto;line-height:1.45}"
            "table.effects{border-collapse:collapse;font-size:0.85em}table.effects td,table.effects th"
            "{border:1px solid #ccc;padding:4px}</style></head><body>" + "\n".join(body) + "</body></html>")
    return md, page


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


# -- command line -------------------------------------------------------------
def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="compare scenarios with the baseline: effects, costs, figures and a brief")
    p.add_argument("scenarios", nargs="+", help="scenario files; the first is the baseline")
    p.add_argument("--replicates", type=int, default=20, help="runs per scenario (default 20)")
    p.add_argument("--seed", type=int, help="root seed (default: the baseline's)")
    p.add_argument("--years", default="2025-2030", help="window of the effects, e.g. 2025-2030")
    p.add_argument("--posterior", help="posterior samples (CSV or Parquet with parameter columns and 'weight')")
    p.add_argument("--scale", type=float, help="population scale for every scenario (default: as the files say)")
    p.add_argument("--backend", default="serial", help="serial, processes, dask or dask://host:port")
    p.add_argument("--workers", type=int, help="worker processes")
    p.add_argument("--out", default="outputs/compare", help="output folder (default outputs/compare)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    try:
        scenarios = [load(s) for s in args.scenarios]
        y0, y1 = (int(x) for x in args.years.split("-"))
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError:
        print(f"error: --years {args.years!r}: expected YYYY-YYYY", file=sys.stderr)
        return 2
    if args.scale is not None:
        scenarios = [s.with_params(scale=args.scale) for s in scenarios]
    posterior = None
    if args.posterior:
        path = Path(args.posterior)
        posterior = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    comp = compare(scenarios, args.replicates, args.seed, (y0, y1), posterior, args.backend, args.workers,
                   progress=not args.quiet)
    paths = write(comp, Path(args.out))
    with pd.option_context("display.width", 250, "display.max_colwidth", 60):
        print(headline_table(comp.effects(), comp.baseline).to_string())
        print()
        print(comp.cost_effectiveness().round(1).to_string(index=False))
    print(f"\nWrote {len(paths)} files to {args.out}/ (brief.md, brief.html, effects.csv, figures)")
    return 0
