"""Benchmark suite of thbsim: speed, scaling, memory, kernels, a Mesa reference, sweep throughput, a profile.

Run by hand: ``python bench/run.py [--quick] [--skip-parallel] [--kernels auto|numpy|numba] [--out docs]``.
It prints what it measures and writes ``performance.json`` and ``performance.md`` to ``--out``. It
asserts nothing: the last table compares the measured values with the targets of the performance
issue and says pass or FAIL.

``--kernels`` picks the implementation of the monthly victim pass (thbsim/kernels) for every
measurement but part 3: "numpy" (the reference), "numba" (compiled; the ``fast`` extra) or "auto"
(numba when installed, unless THBSIM_KERNELS says otherwise). It is resolved once here and passed
on by name to the fresh processes, the Mesa comparison and the sweep workers; both give the same
results for a seed, only the time differs.

Warm-up: every process that times the model first loads the kernels (``warm_up`` in
bench/mesa_reference.py: imports them and runs a tiny model through the whole horizon twice).
With numba the first call of each kernel in a process loads it from numba's on-disk cache
(~0.3 s in all) or compiles it (several seconds) when there is no cache: a one-off per process
that is reported as "one-off kernel load per process" and not counted in the model times. Before
anything is measured, a throwaway process loads the kernels once, so that on a cold cache (a fresh
clone) numba compiles them there and no measured process pays the compilation's time or memory.

1. full-scale baseline: scale 1, the whole horizon (warm-up months included) with the in-step
   recording of indicators; the tidy results table (``results_table()``) is timed apart;
   memory is measured in a fresh subprocess (peak RSS minus RSS after imports, numba included;
   what the warm-up leaves counts as model memory);
2. scaling: scale 1, 4 and 16 (quick: 0.25, 1 and 4), each run in its own subprocess, the fastest of 5, 2
   and 3 runs (quick: 1): noise from the machine's neighbours only adds time;
3. kernels: the model time with kernels=numpy and with kernels=numba, each run in its own
   subprocess, at scale 1 and 16 (quick: 1 and 4), with the check that both give the same results;
4. costs in units of one numpy PCG64 uniform draw, measured in the same run (into a buffer whose pages
   are mapped: the draw itself, not the operating system's page faults of a fresh 80 MB array): in this
   process at the start and in each scaling run's own process right after its run; the unit is the fastest
   of these measurements, as each run's time is the fastest of its processes (the machine's neighbours only
   add time, to a draw as to a run); the costs in the first measurement alone are printed beside;
5. a reference model in idiomatic Mesa (bench/mesa_reference.py) on the same victims (both models built before
   either is timed, the side timed first alternating between runs), at
   scale 1 (~29,000 victims), scale 4 (~118,000) and scale 16 (~470,000; quick: 1 and 4): the target is
   judged at full scale, the larger sizes show the ratio at the 10^5 to 10^6 agents the issue measured at;
6. sweep throughput: full-scale runs per hour with 1 and 2 worker processes (8 runs, quick: 2; the last
   run's finish decides a sweep's time, so with fewer runs one slow run moves the efficiency by a tenth),
   the best of five sweeps each (quick: one), in rounds of a 1- and a 2-worker sweep next to each other (1, 2,
   then 2, 1, ...); the parallel efficiency is the median over the rounds of each round's own ratio, so that
   one fast spell that only one side met does not decide it (the ratio of the best sweeps, printed beside,
   measured 78 % and 108 % twenty minutes apart on a shared machine; the rounds of one run there still
   ranged from 70 % to 107 %);
7. a profile (cProfile) of the months after the warm-up at scale 1 and 16 (quick: 0.25 and 4):
   the month's time by function called from ``TraffickingModel.step``, to show what to optimise next;
   and, without the profiler, the month's time inside the compiled kernels and outside them.

A victim-agent-step is one victim in the system for one month: the sum over months of the
stocks ``victims_recruited``, ``victims_exploited``, ``victims_identified`` and ``victims_supported``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench.mesa_reference, also in the --child processes
    sys.path.insert(0, str(ROOT))
KERNELS = ("auto", "numpy", "numba")
Say = Callable[[str], None]
SCENARIO = ROOT / "scenarios" / "baseline.toml"
STOCKS = ("victims_recruited", "victims_exploited", "victims_identified", "victims_supported")
MESA_QUOTE = "1,600-3,000 ns measured for idiomatic Mesa 3.5"


# ---------------------------------------------------------------------------- memory
def _status_mb(field: str) -> float:
    """A field of /proc/self/status (VmRSS, VmHWM) in MB; falls back to getrusage's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


# ---------------------------------------------------------------------------- one run in a fresh process
def results_digest(model) -> str:
    """A digest of every recorded indicator array: equal digests, equal results."""
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(model.recorder.data):
        h.update(name.encode())
        h.update(np.ascontiguousarray(model.recorder.data[name]).tobytes())
    return h.hexdigest()[:16]


def child_run(scale: float, seed: int, kernels: str) -> dict:
    """One full run (build, every month, results table) with its times and memory, then a PCG64 draw timed in the
    same process; run in a fresh process.

    The process is warmed up first (``warm_up``), so the one-off kernel load is not in the times.
    """
    import gc

    import numpy as np  # noqa: F401  (imports are counted in the RSS after imports)

    from bench.mesa_reference import kernel_signatures, kernels_name, newly_loaded, warm_up
    from thbsim.kernels import load as load_kernels
    from thbsim.model import TraffickingModel
    from thbsim.scenario import load

    load_kernels(kernels)  # imports numba when it runs: a library, counted with the imports
    rss_imports = _status_mb("VmRSS")
    warm = warm_up(kernels)
    gc.collect()
    rss_warm = _status_mb("VmRSS")
    scenario = load(SCENARIO).with_params(scale=scale)
    t0 = time.perf_counter()
    model = TraffickingModel(scenario, seed=seed, kernels=kernels)
    t1 = time.perf_counter()
    before = kernel_signatures(model.kernels)
    model.run()
    t2 = time.perf_counter()
    hwm_run = _status_mb("VmHWM")
    table = model.results_table()
    t3 = time.perf_counter()
    hwm_all = _status_mb("VmHWM")
    agent_steps = sum(float(model.recorder.data[s].sum()) for s in STOCKS)
    groups = getattr(model, "groups", None)
    # the unit of the costs, measured again in this process right after its run (after the memory readings:
    # its 80 MB buffer must not count as the model's), so a run and its unit see the machine in the same state
    pcg64_here = pcg64_ns_per_draw(repeats=3)[0]
    return {
        "pcg64_ns_per_draw": pcg64_here,
        "scale": scale, "seed": seed, "months": len(model.months), "kernels": kernels_name(model.kernels),
        "numba_version": warm["numba_version"], "kernel_load_s": warm["kernel_load_s"], "warm_up": warm,
        "kernels_loaded_while_timed": newly_loaded(before, model.kernels),
        "build_s": t1 - t0, "run_s": t2 - t1, "wall_s": t2 - t0, "table_s": t3 - t2,
        "agent_steps": agent_steps, "ns_per_agent_step": (t2 - t0) / agent_steps * 1e9,
        "results_digest": results_digest(model),
        "table_rows": len(table), "table_mb": table.memory_usage(deep=True).sum() / 2**20,
        "rss_after_imports_mb": rss_imports, "rss_after_warm_up_mb": rss_warm,
        "peak_rss_run_mb": hwm_run, "peak_rss_mb": hwm_all,
        # model memory counts what the warm-up leaves (loaded kernels, caches) with the model
        "model_mb": hwm_all - rss_imports, "model_run_mb": hwm_run - rss_imports,
        "victim_rows": int(model.victims.used), "victims_mb": model.victims.nbytes() / 2**20,
        "group_rows": int(groups.used) if groups is not None else None,
        "recorder_mb": model.recorder.nbytes() / 2**20,
    }


def prime_kernel_cache(kernels: str) -> float:
    """Load the kernels once in a throwaway process, so that numba compiles them into its on-disk cache there
    when the cache is cold (a fresh clone): a process that compiles holds some 200 MB more at its peak and takes
    half a minute, which must not count as the model's memory or time. Returns that process's seconds."""
    code = f"from bench.mesa_reference import warm_up; warm_up({kernels!r})"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=dict(os.environ, THBSIM_KERNELS=kernels))
    return time.perf_counter() - t0


def run_in_subprocess(scale: float, seed: int, kernels: str, root: Path = ROOT) -> dict:
    """``child_run`` in a fresh Python process with ``kernels`` (also set as THBSIM_KERNELS there), by the
    ``bench/run.py`` of the source tree ``root`` (another revision's checkout: bench/runs_ab.py), which puts
    its tree first on the path and so runs that tree's thbsim."""
    cmd = [sys.executable, str(root / "bench" / "run.py"), "--child", repr(scale), "--seed", str(seed), "--kernels",
           kernels]
    env = dict(os.environ, THBSIM_KERNELS=kernels)
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run in {root} at scale {scale:g} with kernels={kernels} failed:\n"
                           f"{proc.stderr[-4000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    if r["kernels"] != kernels:
        raise RuntimeError(f"asked for kernels={kernels}, the run used {r['kernels']}")
    return r


def _callee_label(func: tuple[str, int, str]) -> str:
    """A readable name for a cProfile function key: thbsim's path from the package, or the built-in's name."""
    path, _, name = func
    if "thbsim" in path:
        return f"{path[path.rindex('thbsim'):].removeprefix('thbsim/')}:{name}"
    if path == "~":
        return name.strip("<>").replace("method ", "").replace("built-in ", "")
    return f"{Path(path).name}:{name}"


def child_profile(scale: float, seed: int, kernels: str) -> dict:
    """Where a month's time goes: cProfile of the months after the warm-up, by function called from ``step``."""
    import cProfile
    import pstats

    from bench.mesa_reference import kernels_name, warm_up
    from thbsim.model import TraffickingModel
    from thbsim.scenario import load

    warm_up(kernels)
    scenario = load(SCENARIO).with_params(scale=scale)
    split = kernel_split(scenario, seed, kernels)
    model = TraffickingModel(scenario, seed=seed, kernels=kernels)
    first = model.month_index(scenario.output_from)
    for _ in range(first):
        model.step()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    while model.t < len(model.months):
        model.step()
    prof.disable()
    elapsed = time.perf_counter() - t0
    months = len(model.months) - first
    stats = pstats.Stats(prof).stats
    step = next(k for k in stats if k[2] == "step" and k[0].replace("\\", "/").endswith("thbsim/model.py"))
    step_total, step_own = stats[step][3], stats[step][2]
    callees = {}
    for func, (_, _, _, _, callers) in stats.items():
        if step in callers:
            callees[_callee_label(func)] = callees.get(_callee_label(func), 0.0) + callers[step][3]
    victims = sum(float(model.recorder.data[s][first:].sum()) for s in STOCKS) / months
    return {"scale": scale, "kernels": kernels_name(model.kernels), "months": months, "first_month": str(model.months[first]),
            "victims_per_month": victims, "ms_per_month_profiled": elapsed / months * 1e3,
            "step_ms_per_month": step_total / months * 1e3, "step_own_ms_per_month": step_own / months * 1e3,
            "callees_ms_per_month": {k: v / months * 1e3 for k, v in sorted(callees.items(), key=lambda kv: -kv[1])},
            **split}


def kernel_split(scenario, seed: int, kernels: str) -> dict:
    """A month's time inside the kernels and outside them (Python and numpy glue), without the profiler:
    every kernel call is timed (about 0.2 us a call added), over the months after the warm-up."""
    from bench.kernels_ab import instrument
    from thbsim.model import TraffickingModel

    inside = [0.0]

    def timed(name, function):
        def call(*args):
            t0 = time.perf_counter()
            try:
                return function(*args)
            finally:
                inside[0] += time.perf_counter() - t0
        return call

    model = TraffickingModel(scenario, seed=seed, kernels=kernels)
    first = model.month_index(scenario.output_from)
    for _ in range(first):
        model.step()
    instrument(model, timed)
    t0 = time.perf_counter()
    while model.t < len(model.months):
        model.step()
    total = time.perf_counter() - t0
    months = len(model.months) - first
    return {"timed_ms_per_month": total / months * 1e3, "kernels_ms_per_month": inside[0] / months * 1e3,
            "outside_kernels_ms_per_month": (total - inside[0]) / months * 1e3}


def profile_in_subprocess(scale: float, seed: int, kernels: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--profile-child", repr(scale), "--seed", str(seed),
           "--kernels", kernels]
    env = dict(os.environ, THBSIM_KERNELS=kernels)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"profile at scale {scale:g} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def profile_markdown(profiles: list[dict], top: int = 14) -> list[str]:
    """Section 6: the month's time by function called from ``step``, at each profiled scale."""
    lines = ["## 6. Where a month's time goes (cProfile)", "",
             "The months after the warm-up, under cProfile (which adds its own cost to every call, so small calls look "
             "dearer than they are), split by the functions `TraffickingModel.step` calls; \"step itself\" is the "
             "array work written inline in `step` (exploitation money, recording). Milliseconds per month.", ""]
    for pr in profiles:
        lines += [f"Scale {pr['scale']:g} ({pr['kernels']} kernels): {pr['months']} months from {pr['first_month']}, "
                  f"{pr['victims_per_month']:,.0f} victims a month, {pr['step_ms_per_month']:.2f} ms a month under the "
                  f"profiler.", "", "| called from `step` | ms per month | share |", "|---|---|---|"]
        rows = list(pr["callees_ms_per_month"].items())
        shown = rows[:top]
        rest = sum(v for _, v in rows[top:])
        total = pr["step_ms_per_month"]
        for name, ms in shown:
            lines.append(f"| `{name}` | {ms:.3f} | {ms / total:.0%} |")
        lines.append(f"| {len(rows) - len(shown)} other functions | {rest:.3f} | {rest / total:.0%} |")
        lines += [f"| step itself | {pr['step_own_ms_per_month']:.3f} | {pr['step_own_ms_per_month'] / total:.0%} |", ""]
    lines += ["Inside and outside the kernels: the same months without the profiler, every kernel call timed "
              "(about 0.2 us added a call); outside is Python and numpy: arrays of groups and member states, the "
              "generators' draws, recording.", "",
              "| scale | victims a month | ms a month | in kernels | outside kernels |", "|---|---|---|---|---|"]
    for pr in profiles:
        month, inside = pr["timed_ms_per_month"], pr["kernels_ms_per_month"]
        lines.append(f"| {pr['scale']:g} | {pr['victims_per_month']:,.0f} | {month:.2f} | {inside:.2f} ({inside / month:.0%}) "
                     f"| {month - inside:.2f} ({(month - inside) / month:.0%}) |")
    if len(profiles) >= 2:
        lo, hi = profiles[0], profiles[-1]
        per_victim = 1e6 / (hi["victims_per_month"] - lo["victims_per_month"])  # ms per month -> ns per victim
        k = (hi["kernels_ms_per_month"] - lo["kernels_ms_per_month"]) * per_victim
        o = (hi["outside_kernels_ms_per_month"] - lo["outside_kernels_ms_per_month"]) * per_victim
        lines += ["", f"From scale {lo['scale']:g} to {hi['scale']:g}, each more victim a month adds {k:.1f} ns in the "
                  f"kernels and {o:.1f} ns outside them (the months after the warm-up)."]
    lines.append("")
    return lines


# ---------------------------------------------------------------------------- parts
def pcg64_ns_per_draw(n: int = 10**7, repeats: int = 5) -> tuple[float, float]:
    """ns per uniform double of numpy's PCG64 (``Generator.random``), best of ``repeats``: drawn into an
    array allocated (and its pages touched) once, which is the floor; and, for comparison with earlier
    measurements, into a fresh array each time, which adds the operating system mapping 80 MB of new
    pages (about 1 ns a draw, and noisy on virtual machines) to each draw."""
    import numpy as np

    gen = np.random.Generator(np.random.PCG64(20201020))
    out = np.empty(n)
    gen.random(out=out)  # every page of the buffer touched once
    floor = fresh = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        gen.random(out=out)
        t1 = time.perf_counter()
        gen.random(n)
        t2 = time.perf_counter()
        floor, fresh = min(floor, t1 - t0), min(fresh, t2 - t1)
    return floor / n * 1e9, fresh / n * 1e9


def describe_run(r: dict) -> str:
    """One line on a ``child_run``: times, agent-steps, memory, kernels and their one-off load."""
    late = r["kernels_loaded_while_timed"]
    return (f"{r['wall_s']:6.2f} s model, {r['table_s']:5.2f} s table, {r['agent_steps']:>13,.0f} victim-agent-steps, "
            f"{r['ns_per_agent_step']:6.0f} ns each, peak RSS {r['peak_rss_mb']:.0f} MB; kernels {r['kernels']}, "
            f"one-off load {r['kernel_load_s']:.2f} s" + (f"; warning: loaded while timed: {', '.join(late)}" if late else ""))


def scaling(scales: tuple[float, ...], repeats: dict[float, int], again_below_s: float, kernels: str, say: Say) -> dict[float, dict]:
    """Best-of-``repeats`` runs per scale, each in its own subprocess; the largest scale runs again only if fast."""
    out: dict[float, dict] = {}
    for scale in scales:
        runs = []
        for i in range(repeats[scale]):
            if i > 0 and scale == scales[-1] and runs[0]["wall_s"] > again_below_s:
                break
            r = run_in_subprocess(scale, seed=1, kernels=kernels)
            runs.append(r)
            say(f"  scale {scale:>5g}  run {i + 1}: {describe_run(r)}")
        best = dict(min(runs, key=lambda r: r["wall_s"]))
        best["runs"] = len(runs)
        best["wall_s_all"] = [r["wall_s"] for r in runs]
        best["ns_per_agent_step_all"] = [r["ns_per_agent_step"] for r in runs]
        best["pcg64_ns_all"] = [r["pcg64_ns_per_draw"] for r in runs]
        best["kernel_load_s_all"] = [r["kernel_load_s"] for r in runs]
        best["tiny_run_s_all"] = [r["warm_up"]["second_run_s"] for r in runs]
        # memory: the largest of the fresh processes
        for k in ("peak_rss_mb", "model_mb", "model_run_mb", "peak_rss_run_mb"):
            best[k] = max(r[k] for r in runs)
        out[scale] = best
    return out


KERNEL_RUN_KEYS = ("wall_s", "build_s", "run_s", "agent_steps", "ns_per_agent_step", "results_digest", "peak_rss_mb",
                   "model_mb", "kernel_load_s", "kernels_loaded_while_timed")


def kernels_comparison(scales: tuple[float, ...], repeats: dict[float, int], say: Say) -> dict:
    """Model time with kernels=numpy and kernels=numba at each scale, best of ``repeats`` fresh subprocesses each.

    The two sides alternate, so a change of load on the machine hits both alike; numba's side is
    left out when numba is not installed.
    """
    from thbsim.kernels import numba_available

    sides = ("numpy", "numba") if numba_available() else ("numpy",)
    if len(sides) == 1:
        say("  numba not installed: numpy only")
    rows = []
    for scale in scales:
        runs: dict[str, list[dict]] = {k: [] for k in sides}
        for i in range(repeats[scale]):
            for k in sides:
                r = run_in_subprocess(scale, seed=1, kernels=k)
                runs[k].append(r)
                say(f"  scale {scale:>5g}  {k:5}  run {i + 1}: {describe_run(r)}")
        row: dict = {"scale": scale, "runs": repeats[scale], "numpy": None, "numba": None, "numba_speedup": None,
                     "same_agent_steps": None, "same_results": None}
        for k, rs in runs.items():
            best = min(rs, key=lambda r: r["wall_s"])
            row[k] = {key: best[key] for key in KERNEL_RUN_KEYS} | {"wall_s_all": [r["wall_s"] for r in rs]}
        if row["numba"] is not None:
            npy, nba = row["numpy"], row["numba"]
            row["numba_speedup"] = npy["wall_s"] / nba["wall_s"]
            row["same_agent_steps"] = npy["agent_steps"] == nba["agent_steps"]
            row["same_results"] = npy["results_digest"] == nba["results_digest"]
            say(f"  scale {scale:>5g}: numpy {npy['wall_s']:.2f} s, numba {nba['wall_s']:.2f} s, "
                f"numpy / numba {row['numba_speedup']:.2f}; same victim-agent-steps: "
                f"{'yes' if row['same_agent_steps'] else 'NO'}, same indicators: {'yes' if row['same_results'] else 'NO'}")
        rows.append(row)
    return {"numba_installed": len(sides) == 2, "numba_version": numba_version(), "rows": rows}


def mesa_comparison(scale: float, months: int, repeats: int, kernels: str, say: Say) -> dict:
    """The Mesa reference against thbsim (with ``kernels``, warm) over the same months, best of ``repeats``; the
    side timed first alternates (the second starts with the caches the first filled)."""
    from bench.mesa_reference import reference_benchmark

    runs = []
    for i in range(repeats):
        r = reference_benchmark(scale=scale, seed=1, months=months, kernels=kernels, thbsim_first=i % 2 == 1)
        runs.append(r)
        late = r["thbsim_kernels_loaded_while_timed"]
        say(f"  scale {scale:g} run {i + 1}: Mesa {r['mesa_ns_per_agent_step']:,.0f} ns, thbsim "
            f"{r['thbsim_ns_per_agent_step']:,.0f} ns per agent-step ({r['agents_start']:,} victims, {r['months']} months "
            f"from {r['start_month']}, {r['timed_first']} timed first; thbsim kernels {r['thbsim_kernels']})"
            + (f"; warning: kernels loaded while timed: {', '.join(late)}" if late else ""))
    best = dict(min(runs, key=lambda r: r["mesa_ns_per_agent_step"]))
    best["thbsim_ns_per_agent_step"] = min(r["thbsim_ns_per_agent_step"] for r in runs)
    best["runs"] = len(runs)
    best["mesa_ns_all"] = [r["mesa_ns_per_agent_step"] for r in runs]
    best["thbsim_ns_all"] = [r["thbsim_ns_per_agent_step"] for r in runs]
    best["speedup"] = best["mesa_ns_per_agent_step"] / best["thbsim_ns_per_agent_step"]
    return best


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by the whole machine (/proc/stat; nan elsewhere) and by this process and its reaped children."""
    own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait
    except (OSError, ValueError, IndexError):
        busy = float("nan")
    return busy, own


def sweep(workers: int, n_runs: int, scale: float, seeds: list[int], kernels: str) -> dict:
    """Runs per hour of ``run_one`` with a warm pool of ``workers`` spawned processes (kernels loaded)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from bench.mesa_reference import sweep_run, warm_worker

    jobs = [(scale, seeds[i], i, kernels) for i in range(n_runs)]
    busy0, own0 = cpu_seconds()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        t0 = time.perf_counter()
        warm: dict[int, dict] = {}
        for _ in range(5):  # until every worker has imported thbsim and loaded the kernels
            warm |= {w["pid"]: w for w in pool.map(warm_worker, [1.0] * workers, [kernels] * workers)}
            if len(warm) >= workers:
                break
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = list(pool.map(sweep_run, jobs))
        elapsed = time.perf_counter() - t0
    busy1, own1 = cpu_seconds()  # the pool's workers are reaped: their CPU time is in RUSAGE_CHILDREN
    if {w["kernels"] for w in warm.values()} != {kernels}:
        raise RuntimeError(f"asked the sweep workers for kernels={kernels}, they loaded {[w['kernels'] for w in warm.values()]}")
    return {
        "workers": workers, "runs": n_runs, "scale": scale, "elapsed_s": elapsed, "pool_startup_s": startup,
        "warm_workers": len(warm), "kernels": sorted({w["kernels"] for w in warm.values()}),
        "kernel_load_s": [w["kernel_load_s"] for w in warm.values()], "run_s": [r["seconds"] for r in results],
        "runs_per_hour": 3600 * n_runs / elapsed,
        "other_processes_cpu_s": max(busy1 - busy0 - (own1 - own0), 0.0),
    }


def best_sweeps(n_runs: int, scale: float, seeds: list[int], repeats: int, kernels: str, say: Say) -> tuple[list[dict], list[float]]:
    """The best of ``repeats`` sweeps with 1 worker and with 2 (a busy machine only slows a sweep down), the
    two alternating (1, 2, then 2, 1, ...) so that the machine's drift between sweeps falls on both alike;
    and the parallel efficiency of each round (a 1-worker sweep and the 2-worker sweep next to it)."""
    tries: dict[int, list[dict]] = {1: [], 2: []}
    rounds = []
    for r in range(repeats):
        for workers in (1, 2) if r % 2 == 0 else (2, 1):
            sw = sweep(workers, n_runs, scale, seeds, kernels)
            tries[workers].append(sw)
            say(f"  {workers} worker{'s' if workers > 1 else ''}: {sw['elapsed_s']:.1f} s, "
                f"{sw['runs_per_hour']:,.0f} runs per hour (pool start-up with warm-up {sw['pool_startup_s']:.1f} s, "
                f"runs {', '.join(f'{x:.1f}' for x in sw['run_s'])} s; other processes used "
                f"{sw['other_processes_cpu_s']:.1f} CPU-s meanwhile)")
        rounds.append(tries[2][-1]["runs_per_hour"] / (2 * tries[1][-1]["runs_per_hour"]))
    best = []
    for workers in (1, 2):
        b = dict(max(tries[workers], key=lambda sw: sw["runs_per_hour"]))
        b["tries"] = len(tries[workers])
        b["runs_per_hour_all"] = [sw["runs_per_hour"] for sw in tries[workers]]
        best.append(b)
    return best, rounds


# ---------------------------------------------------------------------------- report
def numba_version() -> str | None:
    """The installed numba's version, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("numba")
    except PackageNotFoundError:
        return None


def machine_info() -> dict:
    import mesa
    import numpy as np
    import pandas as pd

    cpu = platform.processor()
    mem_gb = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
        with open("/proc/meminfo") as f:
            mem_gb = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1]) / 2**20
    except (OSError, StopIteration):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "platform": platform.platform(), "cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
        "memory_gb": round(mem_gb, 1) if mem_gb else None, "python": platform.python_version(),
        "numpy": np.__version__, "mesa": mesa.__version__, "pandas": pd.__version__, "numba": numba_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def git_info() -> dict:
    """The commit benchmarked and whether thbsim/ has changes not committed."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "thbsim_modified": bool(git("status", "--porcelain", "--", "thbsim"))}


def targets(res: dict) -> list[dict]:
    """The targets of the performance issue against the measured values: pass, FAIL or n/a."""
    def row(name: str, value: float | None, fmt: str, ok: Callable[[float], bool]) -> dict:
        return {"target": name, "value": value, "shown": "not measured" if value is None else fmt.format(value),
                "status": "n/a" if value is None else ("pass" if ok(value) else "FAIL")}

    return [
        row("marginal cost per victim-agent-step <= 5 PCG64 draws", res["marginal_draws_per_agent_step"],
            "{:.1f} draws", lambda x: x <= 5),
        row("average cost per victim-agent-step <= 20 PCG64 draws", res["draws_per_agent_step"], "{:.1f} draws",
            lambda x: x <= 20),
        row(">= 100x faster than the Mesa reference", res["speedup_vs_mesa"], "{:.1f}x", lambda x: x >= 100),
        row("16x population in <= 16x time", res["time_ratio_16x"], "{:.2f}x", lambda x: x <= 16),
        row("parallel efficiency (2 workers) >= 85 %", res["parallel_efficiency"], "{:.0%}", lambda x: x >= 0.85),
        row("model memory at full scale < 200 MB", res["model_mb"], "{:.0f} MB", lambda x: x < 200),
    ]


def kernels_label(res: dict) -> str:
    """``numba 0.68.1`` or ``numpy``: the kernels every measurement but the kernels comparison ran."""
    return f"numba {res['numba_version']}" if res["kernels"] == "numba" else res["kernels"]


def kernels_markdown(kc: dict) -> list[str]:
    """Section 3: model time with the numpy and with the numba kernels."""
    lines = [
        "## 3. Kernels: numpy reference against numba",
        "",
        "The monthly victim pass in plain numpy (`thbsim/kernels/reference.py`, the reference) and fused into loops by "
        "numba (`thbsim/kernels/compiled.py`); the two give the same results for a seed, bit for bit. Model time at "
        "each scale with `kernels=\"numpy\"` and with `kernels=\"numba\"`, each run in its own fresh subprocess after "
        "the process warm-up (the one-off kernel load of each side's process is shown apart), the two sides alternating"
        + (f"; numba {kc['numba_version']}." if kc["numba_installed"] else "."),
        "",
    ]
    if not kc["numba_installed"]:
        lines += ["numba not installed (`pip install \"thbsim[fast]\"`): numpy only.", ""]
    lines += ["| scale | runs | victim-agent-steps | numpy model time | numba model time | numpy / numba | "
              "ns per agent-step, numpy / numba | one-off kernel load, numpy / numba | same victim-agent-steps | "
              "same indicators |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in kc["rows"]:
        npy, nba = r["numpy"], r["numba"]
        if nba is None:
            lines.append(f"| {r['scale']:g} | best of {r['runs']} | {npy['agent_steps']:,.0f} | {npy['wall_s']:.2f} s | "
                         f"numba not installed | | {npy['ns_per_agent_step']:.0f} / - | {npy['kernel_load_s']:.2f} s / - | | |")
            continue
        lines.append(
            f"| {r['scale']:g} | best of {r['runs']} | {npy['agent_steps']:,.0f} | {npy['wall_s']:.2f} s | {nba['wall_s']:.2f} s | "
            f"**{r['numba_speedup']:.2f}** | {npy['ns_per_agent_step']:.0f} / {nba['ns_per_agent_step']:.0f} | "
            f"{npy['kernel_load_s']:.2f} s / {nba['kernel_load_s']:.2f} s | {'yes' if r['same_agent_steps'] else 'NO'} | "
            f"{'yes' if r['same_results'] else 'NO'} |")
    if kc["numba_installed"]:
        lines += ["", "Same indicators: every recorded indicator array of the two runs is equal (a SHA-256 digest of them)."]
    return lines


def mesa_markdown(res: dict) -> list[str]:
    """Section 4: the Mesa reference at each scale, then the details at scale 1."""
    ref = res["mesa_reference"]
    lines = [
        "## 4. Mesa reference (bench/mesa_reference.py)",
        "",
        "One `mesa.Agent` per victim applying thbsim's victim transitions with thbsim's probabilities, scheduled with "
        "`model.agents.shuffle_do(\"step\")`, counts per state recorded each month with `agents.groupby(\"state\")"
        ".count()`, recruits replacing the expected outflow. It starts from the victims of a thbsim model after its "
        "warm-up months and is timed against thbsim (warm, kernels " + kernels_label(res) + ") over the same months, "
        "in the same process, both built before either is timed and the side timed first alternating between runs (the "
        "second starts with the caches the first filled). "
        "It models victims only (no groups, raids, demand, justice or money), so it flatters Mesa.",
        "",
        "| scale | victims (start) | months | runs | Mesa ns per agent-step | thbsim ns per agent-step | Mesa / thbsim |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in res["mesa_reference_by_scale"]:
        lines.append(f"| {r['scale']:g} | {r['agents_start']:,} | {r['months']} from {r['start_month']} | best of {r['runs']} | "
                     f"{r['mesa_ns_per_agent_step']:,.0f} | {r['thbsim_ns_per_agent_step']:,.0f} | **{r['speedup']:.1f}x** |")
    lines += [
        "",
        "Details at scale 1:",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| victims (start / end) | {ref['agents_start']:,} / {ref['agents_end']:,} |",
        f"| months | {ref['months']} from {ref['start_month']} |",
        f"| Mesa reference | {ref['mesa_ns_per_agent_step']:,.0f} ns per agent-step ({MESA_QUOTE}) |",
        f"| thbsim, same months | {ref['thbsim_ns_per_agent_step']:,.0f} ns per agent-step |",
        f"| identifications in these months | Mesa {ref['mesa_identified']:,} (no raids); thbsim "
        f"{ref['thbsim_identified']:,.0f} (police raids included) |",
        f"| victims' detection strata agree with thbsim's hazard keys | {'yes' if ref['hazard_keys_match_thbsim'] else 'NO'} |",
        f"| speed ratio | **{res['speedup_vs_mesa']:.1f}x** |",
    ]
    return lines


def markdown(res: dict) -> str:
    """performance.md from the results."""
    m, b = res["machine"], res["baseline"]
    lo, hi = res["scales"][0], res["scales"][-1]
    loads = res["kernel_load_s_all"]
    lines = [
        "# thbsim performance",
        "",
        f"*Written by `python bench/run.py{' --quick' if res['mode'] == 'quick' else ''}"
        f"{'' if res['kernels_requested'] == 'auto' else ' --kernels ' + res['kernels_requested']}` on {res['date']}; "
        "do not edit by hand.*",
        "",
        f"thbsim {res['thbsim_version']} (commit {res['git']['commit']}"
        f"{', thbsim/ modified' if res['git']['thbsim_modified'] else ''}), mode **{res['mode']}**, "
        f"kernels **{kernels_label(res)}**; {m['cpu']}, {m['usable_cpus']} usable CPUs, {m['memory_gb']} GB; "
        f"Python {m['python']}, numpy {m['numpy']}, Mesa {m['mesa']}, pandas {m['pandas']}; "
        f"load average at start {m['load_average_at_start']}.",
        "",
        "A victim-agent-step is one victim in the system (recruited, exploited, identified or supported) for one "
        "month. Model time is building the model plus running every month, the model's warm-up months included, with "
        "the in-step recording of indicators; the tidy results table is timed apart. Costs in draws divide by the "
        f"time of one numpy PCG64 uniform draw measured in the same run: **{res['pcg64_ns_per_draw']:.2f} ns** "
        f"(`Generator.random(out=buffer)`, 10^7 draws into a buffer whose pages are already mapped; drawing "
        f"into a fresh array each time, as this benchmark did before, measured "
        f"{res['pcg64_ns_per_draw_fresh_array']:.2f} ns: the operating system mapping new pages, not the draw). "
        f"The unit is the fastest of {len(res['pcg64_ns_measurements'])} measurements: in the benchmark's process "
        f"at the start ({res['pcg64_ns_first']:.2f} ns) and in each scaling run's process right after its run "
        f"({min(res['pcg64_ns_measurements'][1:]):.2f} to {max(res['pcg64_ns_measurements'][1:]):.2f} ns), as each "
        "run's time is the fastest of its processes: the machine's neighbours only add time, to a draw as to a run.",
        "",
        f"Kernels. The monthly victim pass runs in numpy or in numba-compiled kernels (`thbsim/kernels`, same results); "
        f"`--kernels {res['kernels_requested']}` ran **{res['kernels']}** in every measurement but section 3, which "
        "compares the two. Warm-up: each process that times the model first loads the kernels (it imports them and "
        f"runs a tiny model, scale {res['warm_scale']:g}, through the whole horizon twice), so the one-off load is not in "
        "the model times. With numba this one-off is importing numba and loading each compiled kernel from numba's "
        "on-disk cache (or compiling it, several seconds, when there is no cache); with numpy only first-call costs. "
        f"A throwaway process loaded the kernels first ({res['kernel_cache_s']:.1f} s), so that numba's cache was "
        "filled before any measured process started. "
        f"One-off kernel load per process: **{res['kernel_load_s']:.2f} s** (median of {len(loads)} fresh processes, "
        f"{min(loads):.2f}-{max(loads):.2f} s; the import plus the first tiny run minus the second).",
        "",
        "## 1. Full-scale baseline (scale 1)",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| model time (build + run) | {b['wall_s']:.2f} s (build {b['build_s']:.2f} s; best of {b['runs']}) |",
        f"| one-off kernel load in this process (not in the model time) | {b['kernel_load_s']:.2f} s ({b['kernels']}) |",
        f"| results table (`results_table()`) | {b['table_s']:.2f} s, {b['table_rows']:,} rows, {b['table_mb']:.0f} MB |",
        f"| months | {b['months']} |",
        f"| victim-agent-steps | {b['agent_steps']:,.0f} |",
        f"| average cost per victim-agent-step | {res['ns_per_agent_step']:.0f} ns = "
        f"{res['draws_per_agent_step']:.1f} PCG64 draws |",
        f"| the same in the first measurement of the unit alone ({res['pcg64_ns_first']:.2f} ns, as this benchmark "
        f"reported before) | {res['with_first_unit']['draws_per_agent_step']:.1f} draws (marginal "
        f"{res['with_first_unit']['marginal_draws_per_agent_step']:.1f}) |",
        f"| peak RSS | {b['peak_rss_mb']:.0f} MB (after imports {b['rss_after_imports_mb']:.0f} MB, after the warm-up "
        f"{b['rss_after_warm_up_mb']:.0f} MB) |",
        f"| model memory (peak RSS minus RSS after imports, numba included) | {b['model_mb']:.0f} MB; "
        f"{b['model_run_mb']:.0f} MB before the results table is built |",
        f"| fixed cost per month: a warm run at scale {res['warm_scale']:g} (a few hundred victims), what a month "
        f"costs whatever the population | {res['fixed_ms_per_month']:.2f} ms a month (median of "
        f"{res['fixed_processes']} processes), {res['fixed_share_of_full_scale_month']:.0%} of a full-scale month |",
        f"| victim rows / crime-group rows | {b['victim_rows']:,} ({b['victims_mb']:.1f} MB) / {b['group_rows']:,} |",
        f"| recorder arrays | {b['recorder_mb']:.1f} MB |",
        "",
        "## 2. Scaling (each run in its own subprocess)",
        "",
        "| scale | model time | runs | victim-agent-steps | ns per agent-step | time ratio | population ratio | "
        "results table | peak RSS | model memory |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    s0 = res["scaling"][0]
    for s in res["scaling"]:
        lines.append(
            f"| {s['scale']:g} | {s['wall_s']:.2f} s | best of {s['runs']} | {s['agent_steps']:,.0f} | "
            f"{s['ns_per_agent_step']:.0f} | {s['wall_s'] / s0['wall_s']:.2f} | {s['agent_steps'] / s0['agent_steps']:.2f} | "
            f"{s['table_s']:.2f} s | {s['peak_rss_mb']:.0f} MB | {s['model_mb']:.0f} MB |")
    lines += [
        "",
        f"Marginal cost per victim-agent-step, (T{hi:g} - T{lo:g}) / (A{hi:g} - A{lo:g}): "
        f"**{res['marginal_ns_per_agent_step']:.0f} ns = {res['marginal_draws_per_agent_step']:.1f} PCG64 draws**; "
        f"time ratios {res['time_ratio_4x']:.2f} (4x) and {res['time_ratio_16x']:.2f} (16x).",
        "",
    ]
    lines += kernels_markdown(res["kernels_comparison"]) + [""] + mesa_markdown(res) + [""]
    lines += ["## 5. Sweep throughput (full-scale `run_one`, warm process pool)", ""]
    if res["sweep"]:
        lines += ["Each worker is warmed up (kernels loaded) before the timed runs; the pool start-up includes it.", "",
                  "| workers | runs | elapsed | runs per hour | seconds per run (in the worker) | pool start-up | "
                  "CPU used by other processes meanwhile |", "|---|---|---|---|---|---|---|"]
        for sw in res["sweep"]:
            lines.append(f"| {sw['workers']} | {sw['runs']} | {sw['elapsed_s']:.1f} s | {sw['runs_per_hour']:,.0f} "
                         f"(best of {sw['tries']}) | {', '.join(f'{x:.2f}' for x in sw['run_s'])} | "
                         f"{sw['pool_startup_s']:.1f} s | {sw['other_processes_cpu_s']:.1f} CPU-s |")
        lines += ["", f"Parallel efficiency, throughput(2) / (2 x throughput(1)): **{res['parallel_efficiency']:.0%}**, "
                  "the median over rounds of a 1-worker and a 2-worker sweep next to each other (1 worker then 2, "
                  "then 2 then 1, and so on) of each round's ratio: "
                  f"{', '.join(f'{x:.0%}' for x in res.get('parallel_efficiency_rounds', []))}. The ratio of the best "
                  f"sweep of each, which may pair sweeps from different spells of the machine: "
                  f"{res['parallel_efficiency_best_of']:.0%}."]
    else:
        lines.append("Not measured (`--skip-parallel`).")
    if res.get("profile"):
        lines += [""] + profile_markdown(res["profile"])
    lines += ["", "## Targets of the performance issue", "", "| target | measured | status |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['shown']} | {t['status']} |" for t in res["targets"]]
    lines += ["", f"The benchmark took {res['benchmark_s']:.0f} s; other processes used {res['other_processes_cpu_s']:.0f} "
              f"CPU-seconds of the machine meanwhile (load average {m['load_average_at_start']} at start, "
              f"{m['load_average_at_end']} at the end): a busy machine slows the timings down, the parallel ones most."]
    if res["mode"] == "quick":
        kscales = ", ".join(f"{r['scale']:g}" for r in res["kernels_comparison"]["rows"])
        lines += ["", f"Quick mode: scaling at scales {', '.join(f'{s:g}' for s in res['scales'])}, kernels at scales "
                  f"{kscales}, single runs, fewer Mesa months and sweep runs; the ratios are those of these scales."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fast smoke mode: scales 0.25/1/4, single runs, fewer runs")
    ap.add_argument("--skip-parallel", action="store_true", help="skip the sweep throughput with worker processes")
    ap.add_argument("--out", default=str(ROOT / "docs"), help="directory for performance.json and performance.md")
    ap.add_argument("--kernels", choices=KERNELS, default="auto",
                    help="kernels of the victim pass in every measurement but the kernels comparison (default: auto, "
                         "numba when installed unless THBSIM_KERNELS says otherwise)")
    ap.add_argument("--child", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--profile-child", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child_run(args.child, args.seed, args.kernels)))
        return
    if args.profile_child is not None:
        print(json.dumps(child_profile(args.profile_child, args.seed, args.kernels)))
        return

    import thbsim
    from bench.mesa_reference import WARM_SCALE, kernels_name
    from thbsim.kernels import load as load_kernels
    from thbsim.rng import replicate_seeds

    try:  # resolved once: every measurement then asks for these kernels by name
        kernels = kernels_name(load_kernels(args.kernels))
    except ImportError as e:
        ap.error(str(e))

    def say(msg: str = "") -> None:
        print(msg, flush=True)

    started = time.perf_counter()
    cpu_start = cpu_seconds()
    quick = args.quick
    base = 0.25 if quick else 1.0
    scales = (base, 4 * base, 16 * base)
    res: dict = {"mode": "quick" if quick else "full", "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                 "thbsim_version": thbsim.__version__, "machine": machine_info(), "git": git_info(),
                 "kernels_requested": args.kernels, "kernels": kernels,
                 "numba_version": numba_version() if kernels == "numba" else None, "warm_scale": WARM_SCALE}
    say(f"thbsim {res['thbsim_version']} benchmark ({res['mode']}), {res['machine']['cpu']}, "
        f"{res['machine']['usable_cpus']} CPUs, load {res['machine']['load_average_at_start']}")
    say(f"kernels: {kernels_label(res)} (--kernels {args.kernels}); every process warms up (kernels loaded, tiny model "
        f"at scale {WARM_SCALE:g} run twice) before timing")

    draw, draw_fresh = pcg64_ns_per_draw()
    res["pcg64_ns_per_draw"], res["pcg64_ns_per_draw_fresh_array"] = draw, draw_fresh
    say(f"PCG64: {draw:.3f} ns per uniform draw (Generator(PCG64()).random(out=buffer), 10**7, best of 5; "
        f"into a fresh array, as measured before: {draw_fresh:.3f} ns); measured again after each scaling run")

    res["kernel_cache_s"] = prime = prime_kernel_cache(kernels)
    say(f"kernel cache primed in a throwaway process ({prime:.1f} s): no timed or measured process compiles")
    say(f"scaling: scales {', '.join(f'{s:g}' for s in scales)}, each run in a fresh subprocess")
    # a busy machine only slows a run down: the fastest of several fresh processes estimates the cost, and
    # more runs where a run is cheap (full scale: best of 5; the same full-scale run took 0.34 to 0.71 s on one day)
    repeats = dict(zip(scales, (1, 1, 1) if quick else (5, 2, 3), strict=True))
    runs = scaling(scales, repeats, again_below_s=60.0, kernels=kernels, say=say)
    res["scales"] = list(scales)
    res["scaling"] = [runs[s] for s in scales]
    lo, mid, hi = (runs[s] for s in scales)
    res["baseline"] = b = runs[1.0]
    res["ns_per_agent_step"] = b["ns_per_agent_step"]
    # the unit: noise only adds time, to a draw as to a run, so like the runs' times (the fastest of their
    # processes) it is the fastest of its measurements in this run: here at the start, and in each scaling
    # run's own process right after its run (one measurement alone moved with the machine: 3.02 and 5.07 ns
    # in two runs of this benchmark with the same code, whose full-scale runs took 0.81 and 0.84 s)
    measured = [draw] + [x for s in scales for x in runs[s]["pcg64_ns_all"]]
    unit = res["pcg64_ns_per_draw"] = min(measured)
    res["pcg64_ns_first"], res["pcg64_ns_measurements"] = draw, measured
    res["draws_per_agent_step"] = b["ns_per_agent_step"] / unit
    res["marginal_ns_per_agent_step"] = (hi["wall_s"] - lo["wall_s"]) / (hi["agent_steps"] - lo["agent_steps"]) * 1e9
    res["marginal_draws_per_agent_step"] = res["marginal_ns_per_agent_step"] / unit
    res["with_first_unit"] = {"draws_per_agent_step": b["ns_per_agent_step"] / draw,
                              "marginal_draws_per_agent_step": res["marginal_ns_per_agent_step"] / draw}
    res["time_ratio_4x"] = mid["wall_s"] / lo["wall_s"]
    res["time_ratio_16x"] = hi["wall_s"] / lo["wall_s"]
    res["model_mb"], res["peak_rss_mb"] = b["model_mb"], b["peak_rss_mb"]
    say(f"  full scale: {b['wall_s']:.2f} s for {b['months']} months + {b['table_s']:.2f} s results table; "
        f"{b['ns_per_agent_step']:.0f} ns = {res['draws_per_agent_step']:.1f} draws per victim-agent-step; "
        f"marginal {res['marginal_ns_per_agent_step']:.0f} ns = {res['marginal_draws_per_agent_step']:.1f} draws; "
        f"time ratios {res['time_ratio_4x']:.2f} / {res['time_ratio_16x']:.2f}")
    wf = res["with_first_unit"]
    say(f"  PCG64 unit: {unit:.3f} ns, the fastest of {len(measured)} measurements in this run ({min(measured):.2f} to "
        f"{max(measured):.2f} ns; the first, {draw:.3f} ns, alone gives {wf['draws_per_agent_step']:.1f} draws per "
        f"victim-agent-step, marginal {wf['marginal_draws_per_agent_step']:.1f})")
    say(f"  memory at full scale: peak RSS {b['peak_rss_mb']:.0f} MB, model {b['model_mb']:.0f} MB "
        f"({b['model_run_mb']:.0f} MB before the results table)")
    res["kernel_load_s_all"] = loads = [x for s in scales for x in runs[s]["kernel_load_s_all"]]
    res["kernel_load_s"] = statistics.median(loads)
    say(f"  one-off kernel load per process ({kernels}, not in the model times): median {res['kernel_load_s']:.2f} s "
        f"({min(loads):.2f}-{max(loads):.2f} s over {len(loads)} processes)")
    # the warm-up's second run is a warm run at scale WARM_SCALE (a few hundred victims): what a month
    # costs whatever the population, the part the average pays and the marginal cost does not
    tiny = [x for s in scales for x in runs[s]["tiny_run_s_all"]]
    res["fixed_ms_per_month"], res["fixed_processes"] = statistics.median(tiny) / b["months"] * 1e3, len(tiny)
    res["fixed_share_of_full_scale_month"] = res["fixed_ms_per_month"] / (b["wall_s"] / b["months"] * 1e3)
    say(f"  fixed cost per month (a warm run at scale {WARM_SCALE:g}): median {res['fixed_ms_per_month']:.2f} ms "
        f"over {len(tiny)} processes, {res['fixed_share_of_full_scale_month']:.0%} of a full-scale month")

    kscales = (1.0, 4.0) if quick else (1.0, 16.0)
    krepeats = {1.0: 1 if quick else 2, kscales[1]: 1}
    say(f"kernels: numpy against numba at scales {', '.join(f'{s:g}' for s in kscales)}, each run in a fresh subprocess")
    res["kernels_comparison"] = kernels_comparison(kscales, krepeats, say)

    # (scale, months, runs): full scale, then the 10^5 to 10^6 agents of the issue's own measurements
    mesa_plan = (((1.0, 4, 1), (4.0, 3, 1)) if quick else ((1.0, 12, 3), (4.0, 6, 3), (16.0, 3, 2)))
    say(f"Mesa reference at scales {', '.join(f'{s:g} ({m} months)' for s, m, _ in mesa_plan)}, "
        "against thbsim on the same months")
    res["mesa_reference_by_scale"] = [mesa_comparison(s, m, n, kernels, say) for s, m, n in mesa_plan]
    ref = res["mesa_reference"] = res["mesa_reference_by_scale"][0]
    res["speedup_vs_mesa"] = ref["speedup"]
    res["speedup_vs_mesa_by_scale"] = {f"{r['scale']:g}": r["speedup"] for r in res["mesa_reference_by_scale"]}
    for r in res["mesa_reference_by_scale"]:
        say(f"  scale {r['scale']:g}, {r['agents_start']:,} victims: Mesa reference {r['mesa_ns_per_agent_step']:,.0f} ns "
            f"per agent-step; thbsim {r['thbsim_ns_per_agent_step']:,.0f} ns; speed ratio {r['speedup']:.1f}x")
        if not r["hazard_keys_match_thbsim"]:
            say("  warning: the reference's detection strata differ from thbsim's stored hazard keys")
    say(f"  ({MESA_QUOTE})")

    res["sweep"] = []
    res["runs_per_hour_1_worker"] = res["runs_per_hour_2_workers"] = res["parallel_efficiency"] = None
    res["parallel_efficiency_best_of"] = None
    if not args.skip_parallel:
        n_runs = 2 if quick else 8
        seeds = replicate_seeds(load_seed(), n_runs)
        repeats = 1 if quick else 5
        say(f"sweep: {n_runs} full-scale runs of run_one with 1 and with 2 worker processes, best of {repeats}, "
            "alternating")
        res["sweep"], res["parallel_efficiency_rounds"] = best_sweeps(n_runs, 1.0, seeds, repeats, kernels, say)
        r1, r2 = (sw["runs_per_hour"] for sw in res["sweep"])
        res["runs_per_hour_1_worker"], res["runs_per_hour_2_workers"] = r1, r2
        res["parallel_efficiency"] = statistics.median(res["parallel_efficiency_rounds"])
        res["parallel_efficiency_best_of"] = r2 / (2 * r1)
        say(f"  parallel efficiency {res['parallel_efficiency']:.0%}, the median of each round's "
            f"({', '.join(f'{x:.0%}' for x in res['parallel_efficiency_rounds'])}); the best sweeps' ratio "
            f"{res['parallel_efficiency_best_of']:.0%}")

    pscales = (base, 16 * base)
    say(f"profile: where a month's time goes at scales {', '.join(f'{x:g}' for x in pscales)} (cProfile, months after the warm-up)")
    res["profile"] = []
    for x in pscales:
        pr = profile_in_subprocess(x, 1, kernels)
        res["profile"].append(pr)
        top = ", ".join(f"{k} {v:.2f}" for k, v in list(pr["callees_ms_per_month"].items())[:6])
        say(f"  scale {x:g}: {pr['step_ms_per_month']:.2f} ms a month under the profiler; step itself "
            f"{pr['step_own_ms_per_month']:.2f} ms; largest callees (ms): {top}")
        say(f"  scale {x:g} without the profiler: {pr['timed_ms_per_month']:.2f} ms a month, "
            f"{pr['kernels_ms_per_month']:.2f} in kernels, {pr['outside_kernels_ms_per_month']:.2f} outside them")

    res["targets"] = targets(res)
    res["benchmark_s"] = time.perf_counter() - started
    cpu_end = cpu_seconds()
    res["other_processes_cpu_s"] = max(cpu_end[0] - cpu_start[0] - (cpu_end[1] - cpu_start[1]), 0.0)
    res["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "performance.json").write_text(json.dumps(res, indent=2) + "\n")
    md = markdown(res)
    (out / "performance.md").write_text(md)
    say()
    say(md)
    say(f"benchmark took {res['benchmark_s']:.0f} s; wrote {out / 'performance.json'} and {out / 'performance.md'}")


def load_seed() -> int:
    """The baseline scenario's root seed."""
    from thbsim.scenario import load

    return load(SCENARIO).seed


if __name__ == "__main__":
    main()
