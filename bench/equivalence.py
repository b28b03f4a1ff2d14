"""Do this checkout and another git revision give the same outcomes in distribution?

Run by hand: ``python bench/equivalence.py --against REV [--scenario scenarios/baseline.toml] [--seeds 50]
[--scale 1] [--workers 2] [--out outputs/equivalence]``.

A change that keeps every random draw is checked bit for bit (the digest of every recorded indicator:
``bench/runs_ab.py``, the tests). A change that draws differently (docs/event-driven.md) changes every run, and
what must hold instead is that the outcomes keep their distribution. This script checks ``REV`` out into a
temporary git worktree, runs the scenario with the same ``--seeds`` seeds in both trees (``thbsim.runner.simulate``
in fresh processes, ``--workers`` at a time, each importing its own tree's thbsim), and compares every yearly EU
outcome and every calibration target statistic of the two (``thbsim.equivalence``: Kolmogorov-Smirnov and Welch
tests, Holm's correction over all of them). It prints a summary and writes ``equivalence.csv`` (one row per
outcome and year) and both sets of outcomes to ``--out``; exit code 1 if any outcome differs.

Both sides use this interpreter and this checkout's installed dependencies. Needs git.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHILD = """
import sys
root, scenario, scale, out, seeds = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5:]
sys.path.insert(0, root)
import pandas as pd
from thbsim.runner import RunSpec, simulate
from thbsim.scenario import load
sc = load(scenario).with_params(scale=scale)
pd.concat([simulate(RunSpec(run_id=i, scenario=sc, seed=int(s))) for i, s in enumerate(seeds)]).to_parquet(out)
"""


def run_side(root: Path, scenario: Path, scale: float, seeds: list[int], workers: int, folder: Path, label: str):
    """The outcomes of ``seeds`` in the source tree ``root``, ``workers`` fresh processes at a time."""
    import pandas as pd

    chunks = [seeds[i::workers] for i in range(workers) if seeds[i::workers]]
    procs = []
    for k, chunk in enumerate(chunks):
        out = folder / f"{label}-{k}.parquet"
        cmd = [sys.executable, "-c", CHILD, str(root), str(scenario), repr(scale), str(out), *map(str, chunk)]
        procs.append((out, subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    tables = []
    for out, proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"equivalence: the runs in {root} failed:\n{err[-4000:]}")
        tables.append(pd.read_parquet(out))
    return pd.concat(tables, ignore_index=True)


def main() -> None:
    from bench.worktree import revision
    from thbsim.equivalence import compare, summary, verdict
    from thbsim.rng import replicate_seeds

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", required=True, help="git revision to compare with (e.g. HEAD~1)")
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.toml"))
    ap.add_argument("--seeds", type=int, default=50, help="runs on each side, the same seeds (default 50)")
    ap.add_argument("--scale", type=float, default=1.0, help="population scale (default 1, the calibrated size)")
    ap.add_argument("--workers", type=int, default=2, help="processes at a time on each side (default 2)")
    ap.add_argument("--seed", type=int, default=2020, help="root seed of the runs' seeds")
    ap.add_argument("--alpha", type=float, default=0.05, help="family-wise level of Holm's correction (default 0.05)")
    ap.add_argument("--out", default=str(ROOT / "outputs" / "equivalence"))
    args = ap.parse_args()
    if args.seeds < 2 or args.workers < 1:
        ap.error("--seeds must be at least 2 and --workers at least 1")
    scenario = Path(args.scenario).resolve()
    if not scenario.is_file():
        ap.error(f"--scenario: no such file {args.scenario}")
    seeds = replicate_seeds(args.seed, args.seeds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with revision(args.against, "equivalence") as other:
        scratch = other.parent  # the temporary folder of the checkout, for the sides' tables
        print(f"{scenario.name} at scale {args.scale:g}, {args.seeds} seeds on each side, {args.workers} processes "
              f"at a time: this checkout and {args.against}", flush=True)
        this = run_side(ROOT, scenario, args.scale, seeds, args.workers, scratch, "this")
        print("  this checkout: done", flush=True)
        theirs = run_side(other, scenario, args.scale, seeds, args.workers, scratch, "other")
        print(f"  {args.against}: done", flush=True)
    table = verdict(compare(this, theirs), args.alpha)
    this.to_parquet(out / "this.parquet")
    theirs.to_parquet(out / "other.parquet")
    table.to_csv(out / "equivalence.csv", index=False)
    print(summary(table))
    print(f"wrote {out / 'equivalence.csv'}, this.parquet and other.parquet")
    sys.exit(1 if table["different"].any() else 0)


if __name__ == "__main__":
    main()
