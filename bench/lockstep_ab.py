"""Time the months of this checkout against another git revision, two processes stepping in turn.

Run by hand: ``python bench/lockstep_ab.py --against REV [--scale 1] [--rounds 6] [--kernels numba]``.

``bench/runs_ab.py`` times whole runs in fresh processes, one after the other. On a shared machine whose speed
changes by half within minutes, a change of a few percent then needs dozens of pairs, and may still read
either way. Here both sides run at the same time, in lockstep: a process of this checkout and one of ``REV``
(checked out into a temporary git worktree) each build the baseline at ``--scale`` and wait; then this script
tells them to step one month each, in turn, month after month, which of the two goes first alternating by
month and by round. Both run on one processor (``--cpu``), as one process would: each finds in the caches what
the other's month left, never a cold core. Each process times its own ``step()`` calls, so the waiting, the pipes and the other
process are outside what is timed, and a slow spell of the machine falls on both sides alike (their months
are a millisecond apart). Each round builds both models afresh and runs the whole horizon.

It prints, per round, each side's total time in ``step()`` and their ratio, then the ratio of the best
rounds, the median of the rounds' ratios and the ratio of the totals, and whether both sides recorded the
same results (the digest of every recorded indicator).

Both sides use this interpreter and this checkout's installed dependencies; each imports its own ``thbsim``
(any revision with ``TraffickingModel`` and ``scenario.load``). Needs git.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench.worktree
    sys.path.insert(0, str(ROOT))

CHILD = r"""
import gc, hashlib, os, sys, time
from thbsim.model import TraffickingModel
from thbsim.scenario import load

scale, seed, kernels, cpu = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
if cpu >= 0:
    os.sched_setaffinity(0, {cpu})
scenario = load("scenarios/baseline.toml").with_params(scale=scale)
for _ in range(2):  # kernels loaded, the interpreter warm
    TraffickingModel(scenario.with_params(scale=0.01), seed=seed, kernels=kernels).run()
model = None
say = sys.stdout
say.write(f"ready {TraffickingModel.__module__}\n")
say.flush()
for line in sys.stdin:
    command = line.strip()
    if command == "build":
        model = None
        gc.collect()
        model = TraffickingModel(scenario, seed=seed, kernels=kernels)
        say.write(f"{len(model.months)}\n")
    elif command == "step":
        t0 = time.perf_counter_ns()
        model.step()
        say.write(f"{time.perf_counter_ns() - t0}\n")
    elif command == "digest":
        h = hashlib.sha256()
        for name in sorted(model.recorder.data):
            h.update(name.encode())
            h.update(model.recorder.data[name].tobytes())
        say.write(h.hexdigest()[:16] + "\n")
    elif command == "quit":
        break
    say.flush()
"""


def _last_cpu() -> int:
    return max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else -1


class Side:
    """One process of one checkout, stepping when told."""

    def __init__(self, name: str, root: Path, scale: float, seed: int, kernels: str, cpu: int) -> None:
        self.name = name
        env = dict(os.environ, PYTHONPATH=str(root), PYTHONHASHSEED="0")
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, str(scale), str(seed), kernels, str(cpu)], cwd=root,
                                     env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        ready = self.proc.stdout.readline()
        if not ready.startswith("ready"):
            self.proc.kill()
            raise RuntimeError(f"the {name} side did not start (see its error above)")

    def ask(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if not answer:
            raise RuntimeError(f"the {self.name} side stopped at {command!r} (see its error above)")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


def main() -> None:
    from bench.worktree import revision

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", required=True, help="git revision to compare with (e.g. HEAD~1)")
    ap.add_argument("--scale", type=float, default=1.0, help="population scale of the baseline (default 1)")
    ap.add_argument("--rounds", type=int, default=6, help="whole horizons of both sides (default 6)")
    ap.add_argument("--kernels", choices=("numpy", "numba"), default="numba")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cpu", type=int, default=_last_cpu(),
                    help="the processor both sides run on (default: the last this process may use; -1: any)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    with revision(args.against, "lockstep_ab") as other_root:
        sides: list[Side] = []
        try:
            try:
                for root in (ROOT, other_root):  # each side's kernels compiled and cached in a throwaway process first,
                    Side("priming", root, 0.01, args.seed, args.kernels, args.cpu).close()  # then both load them alike
                sides = [Side(name, root, args.scale, args.seed, args.kernels, args.cpu)
                         for name, root in (("this", ROOT), ("other", other_root))]
            except RuntimeError as e:
                sys.exit(f"lockstep_ab: {e}")
            print(f"baseline at scale {args.scale:g}, seed {args.seed}, kernels {args.kernels}: this checkout and "
                  f"{args.against} stepping in turn, {args.rounds} rounds; seconds in step() per horizon", flush=True)
            totals: dict[str, list[float]] = {"this": [], "other": []}
            digests: dict[str, set[str]] = {"this": set(), "other": set()}
            for r in range(args.rounds):
                months = {int(side.ask("build")) for side in sides}
                if len(months) != 1:
                    sys.exit(f"lockstep_ab: the two sides' horizons differ ({sorted(months)} months)")
                spent = {"this": 0, "other": 0}
                for t in range(months.pop()):
                    for side in sides if (t + r) % 2 == 0 else sides[::-1]:
                        spent[side.name] += int(side.ask("step"))
                for side in sides:
                    totals[side.name].append(spent[side.name] / 1e9)
                    digests[side.name].add(side.ask("digest"))
                print(f"  round {r + 1}: this {totals['this'][-1]:.4f}, other {totals['other'][-1]:.4f}, "
                      f"this / other {totals['this'][-1] / totals['other'][-1]:.3f}", flush=True)
        finally:
            for side in sides:
                side.close()
    ratios = [a / b for a, b in zip(totals["this"], totals["other"], strict=True)]
    print(f"this / other: best {min(totals['this']) / min(totals['other']):.3f}, median of the rounds' ratios "
          f"{statistics.median(ratios):.3f} (from {min(ratios):.3f} to {max(ratios):.3f}), totals "
          f"{sum(totals['this']) / sum(totals['other']):.3f}")
    same = digests["this"] == digests["other"] and len(digests["this"]) == 1
    print(f"same results: {'yes' if same else 'NO'} (digests: this {', '.join(sorted(digests['this']))}; "
          f"other {', '.join(sorted(digests['other']))})")


if __name__ == "__main__":
    main()
