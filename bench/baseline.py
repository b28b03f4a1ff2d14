"""Wall time and memory of one full baseline run (the whole EU-27 at real scale, warm-up to 2030).

Run by hand: ``python bench/baseline.py [--scale S]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    import numpy as np  # noqa: F401  (imports counted in the baseline RSS)

    from thbsim.model import TraffickingModel
    from thbsim.population import IN_SYSTEM
    from thbsim.scenario import load

    after_imports = current_rss_mb()
    scenario = load(Path(__file__).parent.parent / "scenarios" / "baseline.toml").with_params(scale=args.scale)
    t0 = time.perf_counter()
    model = TraffickingModel(scenario, seed=args.seed)
    model.run()
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    table = model.results_table()
    table_time = time.perf_counter() - t1
    stocks = ("victims_recruited", "victims_exploited", "victims_identified", "victims_supported")
    agent_steps = sum(float(model.recorder.data[s].sum()) for s in stocks)
    months = len(model.months)
    print(f"full baseline run, scale {args.scale:g}, seed {args.seed}")
    print(f"  months                       {months}")
    print(f"  wall time (model run)        {wall:.2f} s  ({wall / months * 1e3:.2f} ms per month)")
    print(f"  results table                {table_time:.2f} s, {len(table):,} rows")
    print(f"  victim-agent-steps           {agent_steps:,.0f} (states {len(IN_SYSTEM)}: in the system each month)")
    print(f"  cost per victim-agent-step   {wall / agent_steps * 1e9:.0f} ns")
    print(f"  victim rows allocated        {model.victims.used:,} ({model.victims.nbytes() / 2**20:.1f} MB)")
    print(f"  crime-group rows             {model.groups.used:,}")
    print(f"  recorder arrays              {model.recorder.nbytes() / 2**20:.1f} MB")
    print(f"  peak RSS                     {rss_mb():.0f} MB (after imports: {after_imports:.0f} MB; "
          f"model memory {rss_mb() - after_imports:.0f} MB)")


if __name__ == "__main__":
    main()
