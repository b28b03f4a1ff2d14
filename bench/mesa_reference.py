"""A reference for thbsim's speed: the victims' monthly life cycle written in idiomatic Mesa 3.3.

One ``mesa.Agent`` object per victim. Each month ``model.agents.shuffle_do("step")``
calls every victim's ``step``, which applies thbsim's victim transitions with the
same probabilities as thbsim (thbsim/model.py, steps 6 and 9):

- recruited -> exploited;
- exploited -> identified with the per-stratum probability of identification of
  ``Enforcement.detection_tables()`` (stratum = the victim's hazard key, child or adult),
  and the detection channel drawn from the table's cumulative channel shares;
  exploited -> out of the system (exit unidentified) with the probability of any event
  minus that of identification; otherwise one more month exploited;
- identified -> supported with ``victims.accept_support``, else out;
- supported -> out with 1 / ``victims.support_months``; re-trafficked (back to recruited,
  with a random group of the victim's market) with ``victims.retrafficking_rate``.

New recruits arrive each month in the number of the month's expected outflow, so the
population stays stationary; counts per state are recorded each month with
``agents.groupby("state").count()``. Only the victims are modelled here: no crime groups,
demand, justice or money, which thbsim's step also does, so the comparison flatters Mesa.

The module also holds the worker functions of the sweep benchmark (``warm_worker``, ``sweep_run``):
Mesa sets the ``spawn`` start method, so a worker must be importable from a module; and the
process warm-up shared by bench/run.py and bench/baseline.py (``warm_up``): it loads thbsim's
kernels (thbsim/kernels: numpy, or numba compiled and cached on disk) into a process before
anything is timed, so their one-off load is reported apart and not counted in a model's time.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from types import ModuleType

import mesa
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "baseline.toml"
ADULT_MONTHS = 18 * 12
STOCKS = ("victims_recruited", "victims_exploited", "victims_identified", "victims_supported")

RECRUITED, EXPLOITED, IDENTIFIED, SUPPORTED = "recruited", "exploited", "identified", "supported"


class Victim(mesa.Agent):
    """One victim: state, detection stratum, birth month, market (member state x form) and group."""

    def __init__(self, model: ReferenceModel, state: str, stratum: int, birth_month: int, cell: int, group: int) -> None:
        super().__init__(model)
        self.state = state
        self.stratum = stratum  # row of the detection table is 2 * stratum + adult
        self.birth_month = birth_month
        self.cell = cell
        self.group = group
        self.months_exploited = 0
        self.channel = -1
        self.times_trafficked = 1

    def step(self) -> None:
        model = self.model
        u = self.random.random()
        if self.state == EXPLOITED:
            row = 2 * self.stratum + (model.t - self.birth_month >= ADULT_MONTHS)
            p_ident, p_event = model.p_ident[row], model.p_event[row]
            model.expected_outflow += p_event - p_ident
            if u < p_ident:
                self.state = IDENTIFIED
                shares = model.shares[row]
                x = u / p_ident
                self.channel = 1 + next((k for k, s in enumerate(shares) if x < s), len(shares) - 1)
                model.identified += 1
            elif u < p_event:
                model.outflow += 1
                self.remove()
            else:
                self.months_exploited += 1
        elif self.state == RECRUITED:
            self.state = EXPLOITED
        elif self.state == IDENTIFIED:
            model.expected_outflow += 1 - model.accept_support
            if u < model.accept_support:
                self.state = SUPPORTED
            else:
                model.outflow += 1
                self.remove()
        elif self.state == SUPPORTED:
            model.expected_outflow += model.support_exit
            if u < model.support_exit:
                model.outflow += 1
                self.remove()
            elif u < model.support_exit + model.retrafficking:
                groups = model.groups_by_cell.get(self.cell)
                if groups:
                    self.group = self.random.choice(groups)
                    self.state = RECRUITED
                    self.times_trafficked += 1
                    self.months_exploited = 0


class ReferenceModel(mesa.Model):
    """Victims of a thbsim model as Mesa agents, from the thbsim model's current month on."""

    def __init__(self, thbsim_model, seed: int = 1) -> None:
        super().__init__(seed=seed)
        from thbsim.actors.enforcement import hazard_key
        from thbsim.geography import FORMS
        from thbsim.population import EXPLOITED as T_EXPLOITED
        from thbsim.population import IDENTIFIED as T_IDENTIFIED
        from thbsim.population import RECRUITED as T_RECRUITED
        from thbsim.population import SUPPORTED as T_SUPPORTED

        tm = thbsim_model
        p = tm.p
        self.t = tm.t
        p_ident, p_event, shares = tm.enforcement.detection_tables()
        self.p_ident, self.p_event = p_ident.tolist(), p_event.tolist()
        self.shares = [tuple(r) for r in shares.tolist()]
        self.accept_support = float(p["victims.accept_support"])
        self.support_exit = 1 / float(p["victims.support_months"])
        self.retrafficking = float(p["victims.retrafficking_rate"])
        g = tm.groups
        alive = np.flatnonzero(g.alive[: g.used])
        self.groups_by_cell: dict[int, list[int]] = {}
        for row, c in zip(alive.tolist(), (g.member_state[alive].astype(np.int64) * len(FORMS) + g.form[alive]).tolist(),
                          strict=True):
            self.groups_by_cell.setdefault(c, []).append(row)

        v = tm.victims
        names = {T_RECRUITED: RECRUITED, T_EXPLOITED: EXPLOITED, T_IDENTIFIED: IDENTIFIED, T_SUPPORTED: SUPPORTED}
        rows = np.flatnonzero(np.isin(v.state, list(names)))
        stratum = hazard_key(v.member_state[rows], v.form[rows], v.sector[rows], v.channel[rows]).astype(np.int64)
        cell = v.member_state[rows].astype(np.int64) * len(FORMS) + v.form[rows]
        stored = v.hazard_key[rows].astype(np.int64)  # thbsim stores the stratum, or twice it (row = key + adult)
        self.keys_match = bool(np.array_equal(stored, stratum) or np.array_equal(stored, 2 * stratum))
        self.templates = list(zip(stratum.tolist(), (v.birth_month[rows].astype(np.int64) - self.t).tolist(),
                                  cell.tolist(), v.group[rows].tolist(), strict=True))
        for s, (k, b, c, grp) in zip(v.state[rows].tolist(), self.templates, strict=True):
            Victim(self, names[s], k, b + self.t, c, grp)
        self.counts: list[dict[str, int]] = []
        self.agent_steps = 0
        self.identified = self.outflow = 0
        self.expected_outflow = 0.0

    def step(self) -> None:
        self.expected_outflow = 0.0
        self.agent_steps += len(self.agents)
        self.agents.shuffle_do("step")
        # recruits replace the expected outflow, so the population stays stationary
        for _ in range(round(self.expected_outflow)):
            k, b, c, grp = self.random.choice(self.templates)
            Victim(self, RECRUITED, k, b + self.t, c, grp)
        self.counts.append(self.agents.groupby("state").count())
        self.t += 1


def reference_benchmark(scale: float = 1.0, seed: int = 1, warmup: int | None = None, months: int = 12,
                        kernels: str = "auto", thbsim_first: bool = False) -> dict:
    """Time thbsim and the Mesa reference on the same victims over the same months, in this process.

    The process is warmed up first (``warm_up``: thbsim's kernels loaded). A thbsim model is run
    through its warm-up (to the scenario's ``output_from``); the Mesa reference starts from its
    victims; then ``months`` months of each are timed, the Mesa reference first unless ``thbsim_first``.
    Both models are built before either is timed, and the garbage collector has run, so neither side's
    timed months include building the other; whichever runs second starts with caches the first filled
    (one month after the Mesa reference's took thbsim up to twice its usual time): callers alternate the order.
    """
    from thbsim.model import TraffickingModel
    from thbsim.scenario import load

    warm = warm_up(kernels)
    scenario = load(SCENARIO).with_params(scale=scale)
    tm = TraffickingModel(scenario, seed=seed, kernels=kernels)
    warmup = tm.month_index(scenario.output_from) if warmup is None else warmup
    months = min(months, len(tm.months) - warmup)
    for _ in range(warmup):
        tm.step()

    t0 = time.perf_counter()
    ref = ReferenceModel(tm, seed=seed)
    build_s = time.perf_counter() - t0
    start_agents = len(ref.agents)
    before = kernel_signatures(tm.kernels)
    gc.collect()

    def time_months(model) -> float:
        t0 = time.perf_counter()
        for _ in range(months):
            model.step()
        return time.perf_counter() - t0

    if thbsim_first:
        thb_s = time_months(tm)
        ref_s = time_months(ref)
    else:
        ref_s = time_months(ref)
        thb_s = time_months(tm)
    window = slice(warmup, warmup + months)
    thb_steps = sum(float(tm.recorder.data[s][window].sum()) for s in STOCKS)
    return {
        "scale": scale, "seed": seed, "start_month": str(tm.months[warmup]), "months": months,
        "timed_first": "thbsim" if thbsim_first else "mesa",
        "agents_start": start_agents, "agents_end": len(ref.agents),
        "mesa_build_s": build_s, "mesa_s": ref_s, "mesa_agent_steps": ref.agent_steps,
        "mesa_ns_per_agent_step": ref_s / ref.agent_steps * 1e9,
        "mesa_identified": ref.identified, "hazard_keys_match_thbsim": ref.keys_match, "mesa_outflow": ref.outflow,
        "mesa_last_counts": {str(k): int(n) for k, n in sorted(ref.counts[-1].items())},
        "thbsim_s": thb_s, "thbsim_agent_steps": thb_steps,
        "thbsim_ns_per_agent_step": thb_s / thb_steps * 1e9,
        "thbsim_identified": float(tm.recorder.data["identified"][window].sum()),
        "thbsim_kernels": kernels_name(tm.kernels), "thbsim_kernel_load_s": warm["kernel_load_s"],
        "thbsim_kernels_loaded_while_timed": newly_loaded(before, tm.kernels),
    }


# ---------------------------------------------------------------------------- process warm-up
WARM_SCALE = 0.01
"""Scale of the tiny model of the warm-up (a few hundred victims)."""
_WARM: dict[str, dict] = {}


def kernels_name(module: ModuleType) -> str:
    """"numba" or "numpy": which implementation a kernel module (``model.kernels``) is."""
    return "numba" if module.__name__.endswith(".compiled") else "numpy"


def kernel_signatures(module: ModuleType) -> dict[str, int]:
    """Signatures loaded or compiled so far per numba kernel of ``module`` (none for numpy)."""
    return {name: len(f.signatures) for name, f in vars(module).items() if hasattr(f, "signatures")}


def newly_loaded(before: dict[str, int], module: ModuleType) -> list[str]:
    """The kernels of ``module`` loaded or compiled since ``before`` (``kernel_signatures``): none if warm."""
    return sorted(name for name, n in kernel_signatures(module).items() if n > before.get(name, 0))


def warm_up(kernels: str = "auto") -> dict:
    """Load thbsim's kernels into this process before anything is timed (once per process and kernels).

    Imports the kernel module, then runs a tiny model (scale ``WARM_SCALE``) through the whole
    horizon twice: a few months would not call every kernel (some run only once groups are
    dismantled or users report). ``kernel_load_s`` is the one-off cost per process: the import
    plus the first tiny run minus the second (with numba: importing numba and loading each kernel
    from its on-disk cache, or compiling it when there is none; with numpy: first-call costs only).
    """
    from thbsim.kernels import load as load_kernels

    t0 = time.perf_counter()
    module = load_kernels(kernels)
    name = kernels_name(module)
    if name in _WARM:
        return _WARM[name]
    import_s = time.perf_counter() - t0

    from thbsim.model import TraffickingModel
    from thbsim.scenario import load

    scenario = load(SCENARIO).with_params(scale=WARM_SCALE)
    runs = []
    for _ in range(2):
        t0 = time.perf_counter()
        TraffickingModel(scenario, seed=1, kernels=name).run()
        runs.append(time.perf_counter() - t0)
    gc.collect()
    numba_version = None
    if name == "numba":
        import numba

        numba_version = numba.__version__
    _WARM[name] = {
        "kernels": name, "numba_version": numba_version, "warm_scale": WARM_SCALE, "import_s": import_s,
        "first_run_s": runs[0], "second_run_s": runs[1], "kernel_load_s": max(import_s + runs[0] - runs[1], 0.0),
        "kernels_loaded": sorted(k for k, n in kernel_signatures(module).items() if n),
    }
    return _WARM[name]


# ---------------------------------------------------------------------------- sweep worker
def warm_worker(pause: float, kernels: str) -> dict:
    """Warm a worker (``warm_up`` with ``kernels``, which ``run_one`` then gets through THBSIM_KERNELS)
    and hold it a moment, so every worker of a pool gets one."""
    import thbsim.results  # noqa: F401

    os.environ["THBSIM_KERNELS"] = kernels
    warm = warm_up(kernels)
    time.sleep(pause)
    return {"pid": os.getpid(), "kernels": warm["kernels"], "kernel_load_s": warm["kernel_load_s"]}


def sweep_run(job: tuple[float, int, int, str]) -> dict:
    """One replicate through ``thbsim.results.run_one`` (model run and tidy table), in a worker process.

    ``run_one`` builds its model with ``kernels="auto"``: the job's kernels reach it through THBSIM_KERNELS.
    """
    from thbsim.results import run_one
    from thbsim.scenario import load

    scale, seed, replicate, kernels = job
    os.environ["THBSIM_KERNELS"] = kernels
    scenario = load(SCENARIO).with_params(scale=scale)
    t0 = time.perf_counter()
    table = run_one(scenario, seed, replicate)
    return {"pid": os.getpid(), "seconds": time.perf_counter() - t0, "rows": len(table)}
