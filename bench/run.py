"""Benchmark suite of thbsim: speed, scaling, memory, a Mesa reference and sweep throughput.

Run by hand: ``python bench/run.py [--quick] [--skip-parallel] [--out docs]``. It prints what
it measures and writes ``performance.json`` and ``performance.md`` to ``--out``. It asserts
nothing: the last table compares the measured values with the targets of the performance
issue and says pass or FAIL.

1. full-scale baseline: scale 1, the whole horizon (warm-up included) with the in-step
   recording of indicators; the tidy results table (``results_table()``) is timed apart;
   memory is measured in a fresh subprocess (peak RSS minus RSS after imports);
2. scaling: scale 1, 4 and 16 (quick: 0.25, 1 and 4), each run in its own subprocess;
3. costs in units of one numpy PCG64 uniform draw, measured in the same run;
4. a reference model in idiomatic Mesa (bench/mesa_reference.py) on the same victims;
5. sweep throughput: full-scale runs per hour with 1 and 2 worker processes.

A victim-agent-step is one victim in the system for one month: the sum over months of the
stocks ``victims_recruited``, ``victims_exploited``, ``victims_identified`` and ``victims_supported``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
def child_run(scale: float, seed: int) -> dict:
    """One full run (build, every month, results table) with its times and memory; run in a fresh process."""
    import numpy as np  # noqa: F401  (imports are counted in the RSS after imports)

    from thbsim.model import TraffickingModel
    from thbsim.scenario import load

    rss_imports = _status_mb("VmRSS")
    scenario = load(SCENARIO).with_params(scale=scale)
    t0 = time.perf_counter()
    model = TraffickingModel(scenario, seed=seed)
    t1 = time.perf_counter()
    model.run()
    t2 = time.perf_counter()
    hwm_run = _status_mb("VmHWM")
    table = model.results_table()
    t3 = time.perf_counter()
    hwm_all = _status_mb("VmHWM")
    agent_steps = sum(float(model.recorder.data[s].sum()) for s in STOCKS)
    groups = getattr(model, "groups", None)
    return {
        "scale": scale, "seed": seed, "months": len(model.months),
        "build_s": t1 - t0, "run_s": t2 - t1, "wall_s": t2 - t0, "table_s": t3 - t2,
        "agent_steps": agent_steps, "ns_per_agent_step": (t2 - t0) / agent_steps * 1e9,
        "table_rows": len(table), "table_mb": table.memory_usage(deep=True).sum() / 2**20,
        "rss_after_imports_mb": rss_imports, "peak_rss_run_mb": hwm_run, "peak_rss_mb": hwm_all,
        "model_mb": hwm_all - rss_imports, "model_run_mb": hwm_run - rss_imports,
        "victim_rows": int(model.victims.used), "victims_mb": model.victims.nbytes() / 2**20,
        "group_rows": int(groups.used) if groups is not None else None,
        "recorder_mb": model.recorder.nbytes() / 2**20,
    }


def run_in_subprocess(scale: float, seed: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", repr(scale), "--seed", str(seed)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run at scale {scale:g} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- parts
def pcg64_ns_per_draw(n: int = 10**7, repeats: int = 5) -> float:
    """ns per uniform double of numpy's PCG64 (``Generator.random``), best of ``repeats``."""
    import numpy as np

    gen = np.random.Generator(np.random.PCG64(20201020))
    gen.random(n)  # warm the allocator and caches
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        gen.random(n)
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e9


def scaling(scales: tuple[float, ...], repeats: dict[float, int], again_below_s: float, say) -> dict[float, dict]:
    """Best-of-``repeats`` runs per scale, each in its own subprocess; the largest scale runs again only if fast."""
    out: dict[float, dict] = {}
    for scale in scales:
        runs = []
        for i in range(repeats[scale]):
            if i > 0 and scale == scales[-1] and runs[0]["wall_s"] > again_below_s:
                break
            r = run_in_subprocess(scale, seed=1)
            runs.append(r)
            say(f"  scale {scale:>5g}  run {i + 1}: {r['wall_s']:6.2f} s model, {r['table_s']:5.2f} s table, "
                f"{r['agent_steps']:>13,.0f} victim-agent-steps, {r['ns_per_agent_step']:6.0f} ns each, "
                f"peak RSS {r['peak_rss_mb']:.0f} MB")
        best = dict(min(runs, key=lambda r: r["wall_s"]))
        best["runs"] = len(runs)
        best["wall_s_all"] = [r["wall_s"] for r in runs]
        # memory: the largest of the fresh processes
        for k in ("peak_rss_mb", "model_mb", "model_run_mb", "peak_rss_run_mb"):
            best[k] = max(r[k] for r in runs)
        out[scale] = best
    return out


def mesa_comparison(months: int, repeats: int, say) -> dict:
    from bench.mesa_reference import reference_benchmark

    runs = []
    for i in range(repeats):
        r = reference_benchmark(scale=1.0, seed=1, months=months)
        runs.append(r)
        say(f"  run {i + 1}: Mesa {r['mesa_ns_per_agent_step']:,.0f} ns, thbsim {r['thbsim_ns_per_agent_step']:,.0f} ns "
            f"per agent-step ({r['agents_start']:,} victims, {r['months']} months from {r['start_month']})")
    best = dict(min(runs, key=lambda r: r["mesa_ns_per_agent_step"]))
    best["thbsim_ns_per_agent_step"] = min(r["thbsim_ns_per_agent_step"] for r in runs)
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


def sweep(workers: int, n_runs: int, scale: float, seeds: list[int]) -> dict:
    """Runs per hour of ``run_one`` with a warm pool of ``workers`` spawned processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from bench.mesa_reference import sweep_run, warm_worker

    jobs = [(scale, seeds[i], i) for i in range(n_runs)]
    busy0, own0 = cpu_seconds()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        t0 = time.perf_counter()
        pids: set[int] = set()
        for _ in range(5):  # until every worker has imported thbsim
            pids |= set(pool.map(warm_worker, [1.0] * workers))
            if len(pids) >= workers:
                break
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = list(pool.map(sweep_run, jobs))
        elapsed = time.perf_counter() - t0
    busy1, own1 = cpu_seconds()  # the pool's workers are reaped: their CPU time is in RUSAGE_CHILDREN
    return {
        "workers": workers, "runs": n_runs, "scale": scale, "elapsed_s": elapsed, "pool_startup_s": startup,
        "warm_workers": len(pids), "run_s": [r["seconds"] for r in results],
        "runs_per_hour": 3600 * n_runs / elapsed,
        "other_processes_cpu_s": max(busy1 - busy0 - (own1 - own0), 0.0),
    }


def best_sweep(workers: int, n_runs: int, scale: float, seeds: list[int], repeats: int, say) -> dict:
    """The best of ``repeats`` sweeps (a busy machine only slows a sweep down)."""
    tries = []
    for _ in range(repeats):
        sw = sweep(workers, n_runs, scale, seeds)
        tries.append(sw)
        say(f"  {workers} worker{'s' if workers > 1 else ''}: {sw['elapsed_s']:.1f} s, "
            f"{sw['runs_per_hour']:,.0f} runs per hour (pool start-up {sw['pool_startup_s']:.1f} s, "
            f"runs {', '.join(f'{x:.1f}' for x in sw['run_s'])} s; other processes used {sw['other_processes_cpu_s']:.1f} "
            "CPU-s meanwhile)")
    best = dict(max(tries, key=lambda sw: sw["runs_per_hour"]))
    best["tries"] = len(tries)
    best["runs_per_hour_all"] = [sw["runs_per_hour"] for sw in tries]
    return best


# ---------------------------------------------------------------------------- report
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
        "numpy": np.__version__, "mesa": mesa.__version__, "pandas": pd.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def git_info() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "thbsim_modified": bool(git("status", "--porcelain", "--", "thbsim"))}


def targets(res: dict) -> list[dict]:
    def row(name, value, fmt, ok):
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


def markdown(res: dict) -> str:
    m, b, ref = res["machine"], res["baseline"], res["mesa_reference"]
    lo, hi = res["scales"][0], res["scales"][-1]
    lines = [
        "# thbsim performance",
        "",
        f"*Written by `python bench/run.py{' --quick' if res['mode'] == 'quick' else ''}` on {res['date']}; "
        "do not edit by hand.*",
        "",
        f"thbsim {res['thbsim_version']} (commit {res['git']['commit']}"
        f"{', thbsim/ modified' if res['git']['thbsim_modified'] else ''}), mode **{res['mode']}**; "
        f"{m['cpu']}, {m['usable_cpus']} usable CPUs, {m['memory_gb']} GB; Python {m['python']}, numpy {m['numpy']}, "
        f"Mesa {m['mesa']}, pandas {m['pandas']}; load average at start {m['load_average_at_start']}.",
        "",
        "A victim-agent-step is one victim in the system (recruited, exploited, identified or supported) for one "
        "month. Model time is building the model plus running every month, warm-up included, with the in-step "
        "recording of indicators; the tidy results table is timed apart. Costs in draws divide by the time of one "
        f"numpy PCG64 uniform draw measured in the same run: **{res['pcg64_ns_per_draw']:.2f} ns**.",
        "",
        "## 1. Full-scale baseline (scale 1)",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| model time (build + run) | {b['wall_s']:.2f} s (build {b['build_s']:.2f} s; best of {b['runs']}) |",
        f"| results table (`results_table()`) | {b['table_s']:.2f} s, {b['table_rows']:,} rows, {b['table_mb']:.0f} MB |",
        f"| months | {b['months']} |",
        f"| victim-agent-steps | {b['agent_steps']:,.0f} |",
        f"| average cost per victim-agent-step | {res['ns_per_agent_step']:.0f} ns = "
        f"{res['draws_per_agent_step']:.1f} PCG64 draws |",
        f"| peak RSS | {b['peak_rss_mb']:.0f} MB (after imports {b['rss_after_imports_mb']:.0f} MB) |",
        f"| model memory (peak RSS minus RSS after imports) | {b['model_mb']:.0f} MB; "
        f"{b['model_run_mb']:.0f} MB before the results table is built |",
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
        "## 3. Mesa reference (bench/mesa_reference.py)",
        "",
        "One `mesa.Agent` per victim applying thbsim's victim transitions with thbsim's probabilities, scheduled with "
        "`model.agents.shuffle_do(\"step\")`, counts per state recorded each month with `agents.groupby(\"state\")"
        ".count()`, recruits replacing the expected outflow. It starts from the victims of a thbsim model after its "
        "warm-up and is timed against thbsim over the same months, in the same process. It models victims only "
        "(no groups, raids, demand, justice or money), so it flatters Mesa.",
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
        "",
        "## 4. Sweep throughput (full-scale `run_one`, warm process pool)",
        "",
    ]
    if res["sweep"]:
        lines += ["| workers | runs | elapsed | runs per hour | seconds per run (in the worker) | pool start-up | "
                  "CPU used by other processes meanwhile |", "|---|---|---|---|---|---|---|"]
        for sw in res["sweep"]:
            lines.append(f"| {sw['workers']} | {sw['runs']} | {sw['elapsed_s']:.1f} s | {sw['runs_per_hour']:,.0f} "
                         f"(best of {sw['tries']}) | {', '.join(f'{x:.2f}' for x in sw['run_s'])} | "
                         f"{sw['pool_startup_s']:.1f} s | {sw['other_processes_cpu_s']:.1f} CPU-s |")
        lines += ["", f"Parallel efficiency, throughput(2) / (2 x throughput(1)): **{res['parallel_efficiency']:.0%}**."]
    else:
        lines.append("Not measured (`--skip-parallel`).")
    lines += ["", "## Targets of the performance issue", "", "| target | measured | status |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['shown']} | {t['status']} |" for t in res["targets"]]
    lines += ["", f"The benchmark took {res['benchmark_s']:.0f} s; other processes used {res['other_processes_cpu_s']:.0f} "
              f"CPU-seconds of the machine meanwhile (load average {m['load_average_at_start']} at start, "
              f"{m['load_average_at_end']} at the end): a busy machine slows the timings down, the parallel ones most."]
    if res["mode"] == "quick":
        lines += ["", f"Quick mode: scaling at scales {', '.join(f'{s:g}' for s in res['scales'])}, single runs, "
                  "fewer Mesa months and sweep runs; the ratios are those of these scales."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fast smoke mode: scales 0.25/1/4, single runs, fewer runs")
    ap.add_argument("--skip-parallel", action="store_true", help="skip the sweep throughput with worker processes")
    ap.add_argument("--out", default=str(ROOT / "docs"), help="directory for performance.json and performance.md")
    ap.add_argument("--child", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child_run(args.child, args.seed)))
        return
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    import thbsim
    from thbsim.rng import replicate_seeds

    def say(msg: str = "") -> None:
        print(msg, flush=True)

    started = time.perf_counter()
    cpu_start = cpu_seconds()
    quick = args.quick
    base = 0.25 if quick else 1.0
    scales = (base, 4 * base, 16 * base)
    res: dict = {"mode": "quick" if quick else "full", "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                 "thbsim_version": thbsim.__version__, "machine": machine_info(), "git": git_info()}
    say(f"thbsim {res['thbsim_version']} benchmark ({res['mode']}), {res['machine']['cpu']}, "
        f"{res['machine']['usable_cpus']} CPUs, load {res['machine']['load_average_at_start']}")

    res["pcg64_ns_per_draw"] = draw = pcg64_ns_per_draw()
    say(f"PCG64: {draw:.3f} ns per uniform draw (Generator(PCG64()).random(10**7), best of 5)")

    say(f"scaling: scales {', '.join(f'{s:g}' for s in scales)}, each run in a fresh subprocess")
    repeats = dict.fromkeys(scales, 1 if quick else 2)
    runs = scaling(scales, repeats, again_below_s=60.0, say=say)
    res["scales"] = list(scales)
    res["scaling"] = [runs[s] for s in scales]
    lo, mid, hi = (runs[s] for s in scales)
    res["baseline"] = b = runs[1.0]
    res["ns_per_agent_step"] = b["ns_per_agent_step"]
    res["draws_per_agent_step"] = b["ns_per_agent_step"] / draw
    res["marginal_ns_per_agent_step"] = (hi["wall_s"] - lo["wall_s"]) / (hi["agent_steps"] - lo["agent_steps"]) * 1e9
    res["marginal_draws_per_agent_step"] = res["marginal_ns_per_agent_step"] / draw
    res["time_ratio_4x"] = mid["wall_s"] / lo["wall_s"]
    res["time_ratio_16x"] = hi["wall_s"] / lo["wall_s"]
    res["model_mb"], res["peak_rss_mb"] = b["model_mb"], b["peak_rss_mb"]
    say(f"  full scale: {b['wall_s']:.2f} s for {b['months']} months + {b['table_s']:.2f} s results table; "
        f"{b['ns_per_agent_step']:.0f} ns = {res['draws_per_agent_step']:.1f} draws per victim-agent-step; "
        f"marginal {res['marginal_ns_per_agent_step']:.0f} ns = {res['marginal_draws_per_agent_step']:.1f} draws; "
        f"time ratios {res['time_ratio_4x']:.2f} / {res['time_ratio_16x']:.2f}")
    say(f"  memory at full scale: peak RSS {b['peak_rss_mb']:.0f} MB, model {b['model_mb']:.0f} MB "
        f"({b['model_run_mb']:.0f} MB before the results table)")

    months = 4 if quick else 12
    say(f"Mesa reference: {months} months at the full-scale population, against thbsim on the same months")
    ref = res["mesa_reference"] = mesa_comparison(months, 1 if quick else 2, say)
    res["speedup_vs_mesa"] = ref["speedup"]
    say(f"  Mesa reference {ref['mesa_ns_per_agent_step']:,.0f} ns per agent-step ({MESA_QUOTE}); "
        f"thbsim {ref['thbsim_ns_per_agent_step']:,.0f} ns; speed ratio {ref['speedup']:.1f}x")
    if not ref["hazard_keys_match_thbsim"]:
        say("  warning: the reference's detection strata differ from thbsim's stored hazard keys")

    res["sweep"] = []
    res["runs_per_hour_1_worker"] = res["runs_per_hour_2_workers"] = res["parallel_efficiency"] = None
    if not args.skip_parallel:
        n_runs = 2 if quick else 4
        seeds = replicate_seeds(load_seed(), n_runs)
        say(f"sweep: {n_runs} full-scale runs of run_one with 1 and with 2 worker processes, best of {1 if quick else 2}")
        for workers in (1, 2):
            res["sweep"].append(best_sweep(workers, n_runs, 1.0, seeds, 1 if quick else 2, say))
        r1, r2 = (sw["runs_per_hour"] for sw in res["sweep"])
        res["runs_per_hour_1_worker"], res["runs_per_hour_2_workers"] = r1, r2
        res["parallel_efficiency"] = r2 / (2 * r1)
        say(f"  parallel efficiency {res['parallel_efficiency']:.0%}")

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
    from thbsim.scenario import load

    return load(SCENARIO).seed


if __name__ == "__main__":
    main()
