"""Time this checkout's compiled kernels against another git revision's, on the model's own inputs.

Run by hand: ``python bench/kernels_ab.py --against REV [--scale 16] [--month 150] [--repeats 40] [KERNEL ...]``.

A change to one kernel moves a month by a percent or two, less than a shared machine's drift between two
runs of the benchmark. This script measures such a change directly: it runs the baseline at ``--scale``
up to ``--month``, keeps a copy of the arguments of every kernel call of that month, then calls each
kernel named (by default every kernel called that month) in this checkout's version and in ``REV``'s,
alternately, ``--repeats`` times, each call on a fresh copy of its arguments. It prints, per kernel, the
best and the median time of each version and their ratio, and whether both gave the same outputs, the
same changes to the arrays they change in place, and left their generators in the same state.

Every repeat sees the same inputs. At small scales the processor's branch predictor learns them, which
flatters code with data-dependent branches (a Poisson count loop measured 4.6 against 6.9 us here at scale
1, but 18.4 against 12.3 us with fresh uniforms each call): compare at scale 16 (the default), where the
month's rows are too many to learn.

``REV``'s ``thbsim/kernels/compiled.py`` is loaded beside this checkout's package (the rest of thbsim is
this checkout's) and compiled once, in a temporary folder. Needs numba and git.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SCENARIO = ROOT / "scenarios" / "baseline.toml"


def load_revision(rev: str, folder: Path) -> types.ModuleType:
    """``thbsim/kernels/compiled.py`` as it is at git revision ``rev``, imported as its own module."""
    try:
        source = subprocess.run(["git", "show", f"{rev}:thbsim/kernels/compiled.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as e:
        sys.exit(f"kernels_ab: cannot read thbsim/kernels/compiled.py at {rev!r}: {e.stderr.strip()}")
    path = folder / "compiled_other.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("compiled_other", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def instrument(model, wrap: Callable[[str, Callable], Callable]) -> None:
    """Make ``model`` (and its actors) call ``wrap(name, kernel)`` in place of each kernel.

    The model and its actors get a copy of the kernels module whose kernels are wrapped; the module itself
    is left alone, since compiled kernels that call other kernels find them among its globals when they
    are compiled, and a Python wrapper there would fail to compile."""
    from thbsim.kernels import reference

    module = model.kernels
    proxy = types.ModuleType(f"{module.__name__}_instrumented")
    proxy.__dict__.update(vars(module))
    for name in reference.__all__:
        if hasattr(module, name):
            setattr(proxy, name, wrap(name, getattr(module, name)))
    for holder in (model, *vars(model).values()):  # the model and every actor that holds the kernels
        if getattr(holder, "kernels", None) is module:
            holder.kernels = proxy
    model.victims.find_free = proxy.first_free  # the victims hold the kernel itself


def capture(scale: float, month: int, seed: int) -> dict[str, list[tuple]]:
    """Every compiled kernel call's arguments in model month ``month`` (copied before the call)."""
    from thbsim.kernels.compiled import GeneratorHandle
    from thbsim.model import TraffickingModel
    from thbsim.scenario import load

    model = TraffickingModel(load(SCENARIO).with_params(scale=scale), seed=seed, kernels="numba")
    if not 0 <= month < len(model.months):
        sys.exit(f"kernels_ab: --month {month} is outside the run's 0 to {len(model.months) - 1}")
    calls: dict[str, list[tuple]] = {}

    def recording(name, function):
        def call(*args):
            if model.t == month:  # a generator's handle recorded as the generator: kernels of any revision take it
                calls.setdefault(name, []).append(copy.deepcopy(tuple(
                    a.rng if isinstance(a, GeneratorHandle) else a for a in args)))
            return function(*args)
        return call

    instrument(model, recording)
    while model.t <= month:
        model.step()
    return calls


def same(a, b) -> bool:
    """Equal outputs or arguments: arrays bit for bit (NaN equal to NaN), generators by state, tuples item by item."""
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, np.random.Generator):
        return a.bit_generator.state == b.bit_generator.state
    return a == b or (a != a and b != b)


def compare(name: str, calls: list[tuple], this, other, repeats: int) -> dict:
    """Both versions of kernel ``name`` on every recorded call of the month, alternating; times summed over calls."""
    f_this, f_other = getattr(this, name), getattr(other, name, None)
    if f_other is None:
        return {"kernel": name, "calls": len(calls), "missing": True, "why": "no such kernel there"}
    agree = True
    for args in calls:  # the first call of each also compiles or loads both
        a, b = copy.deepcopy(args), copy.deepcopy(args)
        try:
            out_other = f_other(*b)
        except Exception as e:  # noqa: BLE001 (another revision may take other arguments)
            return {"kernel": name, "calls": len(calls), "missing": True, "why": f"{type(e).__name__}: {e}"[:120]}
        agree &= same(f_this(*a), out_other) and same(a, b)
    times: dict[str, list[float]] = {"this": [], "other": []}
    for _ in range(repeats):
        for side, function in (("this", f_this), ("other", f_other)):
            total = 0.0
            for args in calls:
                fresh = copy.deepcopy(args)
                t0 = time.perf_counter()
                function(*fresh)
                total += time.perf_counter() - t0
            times[side].append(total)
    return {"kernel": name, "calls": len(calls), "missing": False, "same": agree,
            **{f"{side}_{stat}_us": f(v) * 1e6 for side, v in times.items()
               for stat, f in (("min", min), ("median", statistics.median))}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kernels", nargs="*", help="kernels to compare (default: every kernel called that month)")
    ap.add_argument("--against", required=True, help="git revision whose kernels to compare with (e.g. HEAD~1)")
    ap.add_argument("--scale", type=float, default=16.0, help="population scale of the baseline (default 16)")
    ap.add_argument("--month", type=int, default=150, help="model month whose calls are timed (default 150)")
    ap.add_argument("--repeats", type=int, default=40, help="calls of each version, alternating (default 40)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        from thbsim.kernels import compiled
    except ImportError as e:
        sys.exit(f"kernels_ab: needs numba (pip install 'thbsim[fast]'): {e}")

    with tempfile.TemporaryDirectory() as folder:
        other = load_revision(args.against, Path(folder))
        print(f"capturing the kernel calls of month {args.month} at scale {args.scale:g} (seed {args.seed})", flush=True)
        calls = capture(args.scale, args.month, args.seed)
        names = args.kernels or sorted(calls)
        unknown = [n for n in names if n not in calls]
        if unknown:
            sys.exit(f"kernels_ab: not called in month {args.month}: {', '.join(unknown)} "
                     f"(called: {', '.join(sorted(calls))})")
        print(f"this checkout against {args.against}, best and median of {args.repeats} alternating calls, "
              "microseconds a month (all of the month's calls of the kernel)")
        print(f"{'kernel':24} {'calls':>5} {'this best':>10} {'median':>9} {'other best':>11} {'median':>9} "
              f"{'this/other':>10}  same results")
        for name in names:
            r = compare(name, calls[name], compiled, other, args.repeats)
            if r["missing"]:
                print(f"{name:24} {r['calls']:>5}  not comparable with {args.against}: {r['why']}")
                continue
            print(f"{name:24} {r['calls']:>5} {r['this_min_us']:>10.1f} {r['this_median_us']:>9.1f} "
                  f"{r['other_min_us']:>11.1f} {r['other_median_us']:>9.1f} {r['this_min_us'] / r['other_min_us']:>10.2f}  "
                  f"{'yes' if r['same'] else 'NO'}")


if __name__ == "__main__":
    main()
