"""Wall time and memory of one full baseline run (the whole EU-27 at real scale, warm-up to 2030).

Run by hand: ``python bench/baseline.py [--scale S] [--seed N] [--kernels auto|numpy|numba]``.
Prints figures; asserts nothing.

``--kernels`` picks the implementation of the monthly victim pass (thbsim/kernels): "numpy",
"numba" or "auto" (numba when installed, unless THBSIM_KERNELS says otherwise); both give the
same results. Before the timed run the process is warmed up (``warm_up`` in
bench/mesa_reference.py: the kernels are imported and a tiny model runs through the whole
horizon twice), so the one-off kernel load (with numba, loading the compiled kernels from numba's
on-disk cache, or compiling them) is printed apart and not counted in the wall time.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # for bench.mesa_reference
    sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def current_rss_mb() -> float:
    """Resident set size of this process now, in MB (nan where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def main() -> None:
    """Warm up, time one full run and its results table, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kernels", choices=("auto", "numpy", "numba"), default="auto",
                    help="kernels of the victim pass (default: auto, numba when installed)")
    args = ap.parse_args()
    import numpy as np  # noqa: F401  (imports counted in the baseline RSS)

    from bench.mesa_reference import kernels_name, warm_up
    from thbsim.model import TraffickingModel
    from thbsim.population import IN_SYSTEM
    from thbsim.scenario import load

    after_imports = current_rss_mb()
    try:
        warm = warm_up(args.kernels)
    except ImportError as e:
        ap.error(str(e))
    gc.collect()
    after_warm_up = current_rss_mb()
    scenario = load(ROOT / "scenarios" / "baseline.toml").with_params(scale=args.scale)
    t0 = time.perf_counter()
    model = TraffickingModel(scenario, seed=args.seed, kernels=args.kernels)
    model.run()
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    table = model.results_table()
    table_time = time.perf_counter() - t1
    stocks = ("victims_recruited", "victims_exploited", "victims_identified", "victims_supported")
    agent_steps = sum(float(model.recorder.data[s].sum()) for s in stocks)
    months = len(model.months)
    ran = kernels_name(model.kernels)
    version = f" (numba {warm['numba_version']})" if ran == "numba" else ""
    print(f"full baseline run, scale {args.scale:g}, seed {args.seed}")
    print(f"  kernels                      {ran}{version}; --kernels {args.kernels}")
    print(f"  warm-up (not timed)          {warm['import_s'] + warm['first_run_s'] + warm['second_run_s']:.2f} s: "
          f"tiny model (scale {warm['warm_scale']:g}) run twice, {warm['first_run_s']:.2f} s then {warm['second_run_s']:.2f} s")
    print(f"  one-off kernel load          {warm['kernel_load_s']:.2f} s per process (import {warm['import_s']:.2f} s "
          "+ first tiny run - second)")
    print(f"  months                       {months}")
    print(f"  wall time (model run)        {wall:.2f} s  ({wall / months * 1e3:.2f} ms per month)")
    print(f"  results table                {table_time:.2f} s, {len(table):,} rows")
    print(f"  victim-agent-steps           {agent_steps:,.0f} (states {len(IN_SYSTEM)}: in the system each month)")
    print(f"  cost per victim-agent-step   {wall / agent_steps * 1e9:.0f} ns")
    print(f"  victim rows allocated        {model.victims.used:,} ({model.victims.nbytes() / 2**20:.1f} MB)")
    print(f"  crime-group rows             {model.groups.used:,}")
    print(f"  recorder arrays              {model.recorder.nbytes() / 2**20:.1f} MB")
    print(f"  peak RSS                     {rss_mb():.0f} MB (after imports: {after_imports:.0f} MB, after the warm-up: "
          f"{after_warm_up:.0f} MB; model memory {rss_mb() - after_warm_up:.0f} MB)")


if __name__ == "__main__":
    main()
