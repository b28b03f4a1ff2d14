"""Command line: ``thbsim run | validate | datadoc``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

SUMMARY_INDICATORS = {
    "victims exploited (year end)": ("victims_exploited", "stock"),
    "victims registered": ("registered", "flow"),
    "suspects": ("suspects", "flow"),
    "prosecutions": ("prosecutions", "flow"),
    "convictions": ("convictions", "flow"),
    "crime groups (year end)": ("groups_active", "stock"),
    "group profits (EUR m)": ("group_profit", "flow"),
    "assets confiscated (EUR m)": ("assets_confiscated", "flow"),
    "social cost (EUR m)": ("social_cost", "flow"),
}


def summary_table(table: pd.DataFrame, years=(2016, 2017, 2018, 2020, 2025, 2030)) -> pd.DataFrame:
    """Yearly EU totals of the headline indicators: median and 90 % interval over replicates."""
    rows = []
    for label, (name, kind) in SUMMARY_INDICATORS.items():
        t = table[(table["indicator"] == name) & table["year"].isin(years)]
        if kind == "stock":
            t = t[t["month"] == 12]
        per = t.groupby(["replicate", "year"], observed=True)["value"].sum()
        if "EUR" in label:
            per = per / 1e6
        for year, s in per.groupby("year"):
            rows.append({"indicator": label, "year": year, "median": s.median(),
                         "p05": s.quantile(0.05), "p95": s.quantile(0.95)})
    return pd.DataFrame(rows)


def _format_targets(ev: pd.DataFrame) -> str:
    lines = [f"{'target':34} {'report':>22} {'model':>22}  ok"]
    for r in ev.itertuples():
        model = r.model if isinstance(r.model, str) else (
            f"{r.model:,.0f}" if abs(r.model) >= 10 else f"{r.model:.1%}")
        lines.append(f"{r.target:34} {r.figure:>22} {model:>22}  {'yes' if r.ok else 'NO'}")
    return "\n".join(lines)


def cmd_run(args) -> int:
    from thbsim import plotting
    from thbsim.results import run
    from thbsim.scenario import ScenarioError, load
    from thbsim.targets import evaluate

    try:
        scenario = load(args.scenario)
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out or Path("outputs") / scenario.name)
    replicates = args.replicates or scenario.replicates
    print(f"thbsim: {scenario.name}, {replicates} replicate(s), {scenario.start} to {scenario.end}, "
          f"results in {out}/", flush=True)
    res = run(scenario, replicates=replicates, seed=args.seed, workers=args.workers, progress=not args.quiet)
    out.mkdir(parents=True, exist_ok=True)
    res.to_parquet(out / "results.parquet")
    ev = evaluate(res.run_stats())
    ev.to_csv(out / "targets.csv", index=False)
    summary = summary_table(res.table)
    summary.to_csv(out / "summary.csv", index=False)
    figs = {
        "registered_by_form.png": plotting.registered_by_form(res.table, observed={(2015, 2016): 13461,
                                                                                   (2017, 2018): 14145}),
        "justice_funnel.png": plotting.justice_funnel(res.table, observed={"suspects": 11788, "prosecutions": 6163,
                                                                           "convictions": 2426}),
        "cost_by_category.png": plotting.cost_by_category(res.table, observed_total=2_708_804_838),
        "true_and_registered.png": plotting.true_and_registered(res.table),
    }
    for name, fig in figs.items():
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
    wide = summary.pivot(index="indicator", columns="year", values="median").loc[list(SUMMARY_INDICATORS)]
    with pd.option_context("display.width", 160, "display.float_format", "{:,.0f}".format):
        print("\nSummary (EU-27, median over replicates; 90 % intervals in summary.csv):")
        print(wide.to_string())
    print(f"\nCalibration targets (mean over {replicates} replicate(s)):")
    print(_format_targets(ev))
    n_bad = int((~ev["ok"]).sum())
    print(f"\n{len(ev) - n_bad} of {len(ev)} targets within tolerance. Wrote {out}/results.parquet, "
          f"summary.csv, targets.csv and {len(figs)} figures.")
    if args.check_targets and n_bad:
        print(f"error: {n_bad} target(s) outside tolerance", file=sys.stderr)
        return 1
    return 0


def cmd_validate(args) -> int:
    from thbsim.scenario import ScenarioError, load

    bad = 0
    for path in args.scenarios:
        try:
            s = load(path)
            print(f"{path}: ok ({s.name}, {len(s.levers)} lever(s), {len(s.params.overrides())} parameter override(s))")
        except ScenarioError as err:
            print(f"error: {err}", file=sys.stderr)
            bad += 1
    return 2 if bad else 0


def cmd_datadoc(args) -> int:
    from thbsim.datadoc import render

    text = render()
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thbsim", description="Agent-based model of trafficking in human beings in the EU-27.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a scenario: results table, figures, summary and calibration targets")
    p.add_argument("scenario", help="scenario TOML file, e.g. scenarios/baseline.toml")
    p.add_argument("--out", help="output folder (default: outputs/<scenario name>)")
    p.add_argument("--seed", type=int, help="root seed (default: the scenario's); replicate seeds are spawned from it")
    p.add_argument("--replicates", type=int, help="number of replicates (default: the scenario's)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (results are identical for any number)")
    p.add_argument("--check-targets", action="store_true", help="exit 1 if any calibration target is outside tolerance")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)
    v = sub.add_parser("validate", help="check scenario files without running them")
    v.add_argument("scenarios", nargs="+")
    v.set_defaults(func=cmd_validate)
    d = sub.add_parser("datadoc", help="write docs/data.md from the parameter and target declarations")
    d.add_argument("--out", default="docs/data.md")
    d.set_defaults(func=cmd_datadoc)
    # experiment commands live with their modules: each has add_parser(subparsers)
    import importlib

    for module in ("thbsim.experiments", "thbsim.calibration", "thbsim.sensitivity", "thbsim.report"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
            continue
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "replicates", None) is not None and args.replicates < 1:
        print(f"error: --replicates {args.replicates}: expected at least 1", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
