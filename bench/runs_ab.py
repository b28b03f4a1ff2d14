"""Time whole runs of this checkout against another git revision, alternating fresh processes.

Run by hand: ``python bench/runs_ab.py --against REV [--scale 1] [--pairs 8] [--kernels numba]``.

A change to the month's Python and numpy glue moves a full-scale run by a few percent, less than a shared
machine's drift between two runs of ``bench/run.py``. This script measures such a change directly: it checks
``REV`` out into a temporary git worktree, then runs the baseline at ``--scale`` in a fresh process of this
checkout and one of ``REV``, alternately, ``--pairs`` times, the side that goes first alternating too (each
process warms up first, as in ``bench/run.py``: kernels loaded, a tiny model run twice; then the build and
every month are timed). It prints each side's best and median wall time, the ratio of the bests and of the
medians, and whether both sides gave the same results (the digest of every recorded indicator).

Both sides use this interpreter and this checkout's installed dependencies; each imports its own ``thbsim``.
``REV`` needs ``bench/run.py`` with ``--child`` (any revision since the benchmark suite). Needs git.

For a change of a few percent, ``bench/lockstep_ab.py`` is the sharper tool: both sides run at once, month by
month in turn on one processor, so the machine's slow spells fall on both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench.run, bench.worktree
    sys.path.insert(0, str(ROOT))


def main() -> None:
    from bench.run import run_in_subprocess
    from bench.worktree import revision

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", required=True, help="git revision to compare with (e.g. HEAD~1)")
    ap.add_argument("--scale", type=float, default=1.0, help="population scale of the baseline (default 1)")
    ap.add_argument("--pairs", type=int, default=8, help="runs of each side, alternating (default 8)")
    ap.add_argument("--kernels", choices=("numpy", "numba"), default="numba")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.pairs < 1:
        ap.error("--pairs must be at least 1")

    with revision(args.against, "runs_ab") as other:
        runs: dict[str, list[dict]] = {"this": [], "other": []}
        print(f"baseline at scale {args.scale:g}, seed {args.seed}, kernels {args.kernels}: this checkout and "
              f"{args.against}, {args.pairs} fresh processes each, alternating; wall time of build and months (s)",
              flush=True)
        for i in range(args.pairs):
            sides = (("this", ROOT), ("other", other))
            for side, root in sides if i % 2 == 0 else sides[::-1]:  # who goes first alternates too
                try:
                    r = run_in_subprocess(args.scale, args.seed, args.kernels, root=root)
                except RuntimeError as e:
                    sys.exit(f"runs_ab: {e}")
                runs[side].append(r)
            print(f"  pair {i + 1}: this {runs['this'][-1]['wall_s']:.3f}, other {runs['other'][-1]['wall_s']:.3f}",
                  flush=True)
    walls = {side: [r["wall_s"] for r in rs] for side, rs in runs.items()}
    best = {side: min(w) for side, w in walls.items()}
    median = {side: statistics.median(w) for side, w in walls.items()}
    digests = {side: {r["results_digest"] for r in rs} for side, rs in runs.items()}
    print(f"this:  best {best['this']:.3f} s, median {median['this']:.3f} s")
    print(f"other: best {best['other']:.3f} s, median {median['other']:.3f} s")
    print(f"this / other: best {best['this'] / best['other']:.3f}, median {median['this'] / median['other']:.3f}")
    print(f"same results: {'yes' if digests['this'] == digests['other'] and len(digests['this']) == 1 else 'NO'} "
          f"(digests: this {', '.join(sorted(digests['this']))}; other {', '.join(sorted(digests['other']))})")


if __name__ == "__main__":
    main()
