"""Sweeps: designs, seeds and run ids, the experiment file, identical results on every backend,
resume after SIGKILL, failed runs recorded without stopping the others, and `thbsim sweep`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pandas.testing import assert_frame_equal

import thbsim.runner
from thbsim.cli import main
from thbsim.experiments import (
    Experiment,
    ExperimentError,
    ParamRange,
    _read_journal,
    load_design,
    load_experiment,
    load_failures,
    load_results,
    loads,
    read_manifest,
    run_experiment,
)
from thbsim.params import PARAMS
from thbsim.rng import replicate_seeds
from thbsim.scenario import Scenario

ROOT = Path(__file__).parent.parent
# tiny runs: 1 % of the real scale, 2015-2018 (the targets need 2015-2018), about 0.15 s each
TINY = Scenario(name="tiny").replace(start="2015-01", end="2018-12", output_from="2015-01").with_params(scale=0.01)
POLICE = TINY.replace(name="tiny_police").with_params(**{"police.investigations_per_million": 0.3})
VARIED = {"referral.rate_sexual": None, "demand.elasticity": (1.0, 3.0)}
EXP = Experiment("tiny_sweep", (TINY, POLICE), VARIED, design="lhs", samples=2, replicates=2, seed=11)  # 8 runs


def _table(out_dir) -> pd.DataFrame:
    return load_results(out_dir).drop(columns="pid")


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory) -> Path:
    """The experiment run serially in this process, uninterrupted."""
    out = tmp_path_factory.mktemp("serial")
    summary = run_experiment(EXP, out, progress=False, shard_size=4)
    assert summary.complete and summary.failed == 0 and summary.ran == 8
    return out


@pytest.fixture(scope="module")
def reference(reference_dir) -> pd.DataFrame:
    table = load_results(reference_dir)
    assert set(table["pid"]) == {os.getpid()}
    assert table["run_id"].tolist() == sorted(table["run_id"]) and table["run_id"].nunique() == 8
    return table.drop(columns="pid")


# ------------------------------------------------------------------------------------------------
# designs, seeds and run ids

BOUNDS = {"referral.rate_sexual": (0.001, 0.02), "demand.elasticity": (1.0, 3.0), "groups.adjust_rate": (0.1, 0.5)}


def _exp(design, **kw) -> Experiment:
    return Experiment("d", TINY, BOUNDS, design=design, **kw)


def _in_bounds(m: pd.DataFrame) -> bool:
    return all(m[k].between(lo, hi).all() for k, (lo, hi) in BOUNDS.items())


@pytest.mark.parametrize(("design", "kw", "n"), [
    ("lhs", {"samples": 7}, 7),
    ("sobol", {"samples": 8}, 8),
    ("factorial", {"levels": 3}, 27),
    ("morris", {"samples": 5}, 5 * (3 + 1)),  # trajectories x (k + 1)
])
def test_designs_have_the_expected_samples_within_bounds_reproducibly(design, kw, n):
    m = _exp(design, seed=5, **kw).design_matrix()
    assert m.shape == (n, 3) and list(m.columns) == list(BOUNDS)
    assert _in_bounds(m)
    assert_frame_equal(_exp(design, seed=5, **kw).design_matrix(), m)  # same root seed, same design
    if design != "factorial":
        assert not np.array_equal(_exp(design, seed=6, **kw).design_matrix().to_numpy(), m.to_numpy())
    assert len(m.drop_duplicates()) > n // 2


def test_lhs_has_one_point_per_stratum_and_factorial_hits_the_corners():
    m = _exp("lhs", samples=10, seed=1).design_matrix()
    for k, (lo, hi) in BOUNDS.items():
        strata = np.floor((m[k] - lo) / (hi - lo) * 10).astype(int)
        assert sorted(strata) == list(range(10)), k
    f = Experiment("f", TINY, {"demand.elasticity": {"low": 1.0, "high": 3.0, "levels": 5},
                               "groups.adjust_rate": (0.1, 0.5)}, design="factorial", levels=2).design_matrix()
    assert len(f) == 10
    assert sorted(set(f["demand.elasticity"])) == [1.0, 1.5, 2.0, 2.5, 3.0]
    assert sorted(set(f["groups.adjust_rate"])) == [0.1, 0.5]


def test_morris_points_lie_on_the_grid():
    m = _exp("morris", samples=4, levels=4, seed=2).design_matrix()
    for k, (lo, hi) in BOUNDS.items():
        steps = (m[k] - lo) / (hi - lo) * 3
        assert np.allclose(steps, np.round(steps)), k


def test_declared_bounds_are_the_default():
    e = Experiment("x", TINY, ["referral.rate_sexual"], samples=4)
    p = PARAMS["referral.rate_sexual"]
    assert e.parameters == (ParamRange("referral.rate_sexual", p.low, p.high),)


def test_specs_have_stable_run_ids_and_common_random_numbers():
    e = Experiment("x", (TINY, POLICE), VARIED, samples=3, replicates=4, seed=99)
    specs = e.specs()
    assert [s.run_id for s in specs] == list(range(2 * 3 * 4)) == list(range(e.n_runs))
    by = {(s.scenario.name, s.sample, s.replicate): s for s in specs}
    design = e.design_matrix()
    rep_seeds = replicate_seeds(99, 4)
    for (name, i, r), s in by.items():
        assert s.seed == rep_seeds[r] == e.seed_of(i, r)  # spawned from the root seed by replicate id
        assert s.seed == by[("tiny", i, r)].seed  # the same seed in every scenario
        assert s.params == design.loc[i].to_dict()
        assert s.run_id == ((name == "tiny_police") * 3 + i) * 4 + r
    assert s.resolved().params["police.investigations_per_million"] == 0.3  # the scenario's levers and overrides stay
    assert len({s.seed for s in specs}) == 4
    per_sample = e.replace(seed_by="sample").specs()
    assert len({s.seed for s in per_sample}) == 3 * 4  # a seed per sample and replicate...
    assert all(s.seed == e.replace(seed_by="sample").seed_of(s.sample, s.replicate) for s in per_sample)
    assert all(a.seed == b.seed for a, b in zip(per_sample[:12], per_sample[12:], strict=True))  # ...shared by scenarios


def test_python_constructor_refuses_bad_parameters_all_at_once():
    with pytest.raises(ExperimentError) as err:
        Experiment("bad", TINY, {"scale": (0.01, 0.1), "referral.rate_sexal": None, "demand.elasticity": (0.1, 3.0),
                                 "groups.adjust_rate": (0.5, 0.2)}, design="sobol", samples=6)
    text = str(err.value)
    assert "5 problems" in text
    assert "'scale' is not an uncertain parameter" in text
    assert "unknown parameter 'referral.rate_sexal'; did you mean referral.rate_sexual" in text
    assert "demand.elasticity low = 0.1: outside the declared range [0.5, 5]" in text
    assert "groups.adjust_rate = [0.5, 0.2]: expected low < high" in text
    assert "samples = 6: a Sobol design needs a power of two" in text


# ------------------------------------------------------------------------------------------------
# the experiment file

GOOD = """
[experiment]
name = "file_sweep"
scenarios = ["scen/tiny.toml"]
design = "factorial"
levels = 2
replicates = 1
seed = 3

[parameters]
"demand.elasticity" = [1.0, 2.0]
referral.rate_sexual = "declared"
"""

TINY_TOML = """
[scenario]
name = "tiny"
start = "2015-01"
end = "2018-12"
output_from = "2015-01"
[params]
scale = 0.01
"""


def _write_experiment(tmp_path, text=GOOD) -> Path:
    (tmp_path / "scen").mkdir(exist_ok=True)
    (tmp_path / "scen" / "tiny.toml").write_text(TINY_TOML)
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_experiment_file_loads_with_paths_relative_to_it(tmp_path):
    e = load_experiment(_write_experiment(tmp_path))
    assert e.scenarios == (TINY,)
    assert e.parameter_names == ["demand.elasticity", "referral.rate_sexual"]
    assert e.n_samples == 4 and e.n_runs == 4
    again = loads(e.to_toml())  # the stored definition (scenarios embedded) loads back to the same experiment
    assert again == e and again.to_toml() == e.to_toml()


def test_example_experiment_file_is_valid():
    e = load_experiment(ROOT / "scenarios" / "experiments" / "example_sweep.toml")
    assert [s.name for s in e.scenarios] == ["baseline", "more_police"]
    assert e.n_runs == 2 * 8 * 2
    assert _in_range(e.design_matrix())


def _in_range(m: pd.DataFrame) -> bool:
    return all(m[k].between(PARAMS[k].low, PARAMS[k].high).all() for k in m.columns)


def test_bad_experiment_file_lists_every_problem(tmp_path):
    bad = """
[experiment]
name = "bad"
scenarios = ["scen/tiny.toml", "scen/missing.toml"]
design = "latin"
samples = "ten"
replicates = 0
colour = "blue"

[parameters]
scale = [0.01, 0.1]
"demand.elasticity" = [1.0, 99.0]
"referral.rate_sexual" = 0.01
"not.a_parameter" = "declared"

[levers]
"""
    with pytest.raises(ExperimentError) as err:
        load_experiment(_write_experiment(tmp_path, bad))
    text = str(err.value)
    for expected in (
        "unknown table [levers]",
        "[experiment] unknown key 'colour'",
        "[experiment] samples = 'ten': expected int",
        "scenarios #2 = 'scen/missing.toml': no such file",
        "[experiment] design = 'latin': expected one of factorial, lhs, sobol, morris, given",
        "[experiment] replicates = 0: expected an integer from 1 to 100000",
        "'scale' is not an uncertain parameter",
        "demand.elasticity high = 99.0: outside the declared range",
        "referral.rate_sexual = 0.01: expected [low, high]",
        "unknown parameter 'not.a_parameter'",
    ):
        assert expected in text, expected
    assert text.startswith(f"{tmp_path / 'exp.toml'}: 10 problems")


def test_experiment_file_errors_name_the_problem(tmp_path):
    with pytest.raises(ExperimentError, match="name: required"):
        load_experiment(_write_experiment(tmp_path, '[experiment]\nscenarios = ["scen/tiny.toml"]\nsamples = 2\n'))
    with pytest.raises(ExperimentError, match="not valid TOML"):
        load_experiment(_write_experiment(tmp_path, "[experiment\n"))
    with pytest.raises(ExperimentError, match=r"scenarios #1: \[scenario\] end = '2014-06': expected at least a year"):
        load_experiment(_write_experiment(tmp_path, GOOD.replace('"scen/tiny.toml"',
                                                                  '{ scenario = { name = "x", start = "2014-01", '
                                                                  'end = "2014-06", output_from = "2014-01" } }')))


# ------------------------------------------------------------------------------------------------
# backends


@pytest.mark.parametrize("backend", ["processes", "dask"])
def test_same_table_on_every_backend(backend, reference, tmp_path, record_property):
    if backend == "dask":
        pytest.importorskip("distributed")
    summary = run_experiment(EXP, tmp_path, backend=backend, workers=2, progress=False, shard_size=4)
    assert summary.complete and summary.ran == 8
    table = load_results(tmp_path)
    pids = sorted(set(table["pid"]))
    record_property("worker_pids", pids)
    print(f"{backend}: runs made by worker processes {pids} (main process {os.getpid()})")
    assert os.getpid() not in pids, "runs must leave the main process"
    assert_frame_equal(table.drop(columns="pid"), reference, check_exact=True)
    assert table["run_id"].nunique() == 8 and len(read_manifest(tmp_path)["shards"]) == 2


# ------------------------------------------------------------------------------------------------
# resume


def test_sigkill_part_way_then_resume_gives_the_same_table(reference, tmp_path):
    """`thbsim sweep` in a subprocess, killed with SIGKILL after the first shard and before the last."""
    exp_file = tmp_path / "exp.toml"
    exp_file.write_text(EXP.to_toml())
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "thbsim.cli", "sweep", str(exp_file), "--out", str(out), "--quiet", "--shard-size", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    finished_at_kill = None
    while time.monotonic() < deadline and proc.poll() is None:
        if any((out / "shards").glob("part-*.parquet")):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            finished_at_kill = len(list((out / "shards").glob("part-*.parquet")))  # the manifest may lag one shard
            break
        time.sleep(0.005)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    assert 1 <= finished_at_kill < 4, "killed after at least one shard and before the last"
    summary = run_experiment(EXP, out, progress=False, shard_size=2)
    assert summary.complete and summary.failed == 0
    assert summary.ran < 8  # the finished runs were not run again
    table = _table(out)
    assert table.groupby("run_id").size().eq(len(reference) // 8).all()  # every run exactly once
    assert_frame_equal(table, reference, check_exact=True)
    assert not (out / "journal.arrow").exists()
    assert main(["sweep", str(exp_file), "--out", str(out), "--quiet"]) == 0  # nothing left: a no-op
    assert_frame_equal(_table(out), reference, check_exact=True)


KILL_AT_RUN_5 = textwrap.dedent("""
    import os, signal, sys
    import thbsim.runner
    from thbsim.experiments import loads, run_experiment

    real = thbsim.runner.simulate

    def simulate(spec):
        if spec.run_id == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(spec)

    if __name__ == "__main__":
        thbsim.runner.simulate = simulate
        run_experiment(loads(open(sys.argv[1]).read()), sys.argv[2], progress=False, shard_size=4)
""")


def test_a_kill_loses_only_the_run_in_flight(reference, tmp_path):
    """Runs 0-4 finish (0-3 in a shard, 4 in the journal), run 5 is in flight when the process is killed:
    on resume only runs 5-7 are run again."""
    exp_file = tmp_path / "exp.toml"
    exp_file.write_text(EXP.to_toml())
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", KILL_AT_RUN_5, str(exp_file), str(out)], stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, stderr
    assert len(read_manifest(out)["shards"]) == 1 and len(_read_journal(out / "journal.arrow")) == 1
    summary = run_experiment(EXP, out, progress=False, shard_size=4)
    assert summary.ran == 3 and summary.complete
    table = load_results(out)
    pid_of = table.groupby("run_id")["pid"].first()
    assert (pid_of.loc[:4] == proc.pid).all() and (pid_of.loc[5:] == os.getpid()).all()
    assert_frame_equal(table.drop(columns="pid"), reference, check_exact=True)


def test_shard_written_but_not_in_the_manifest_is_adopted(reference_dir, reference, tmp_path, monkeypatch):
    tmp_path = Path(shutil.copytree(reference_dir, tmp_path / "copy"))
    manifest = read_manifest(tmp_path)
    manifest["shards"] = manifest["shards"][:1]  # as if killed between the shard's rename and the manifest's
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(thbsim.runner, "simulate", lambda spec: pytest.fail("a finished run was run again"))
    summary = run_experiment(EXP, tmp_path, progress=False)
    assert summary.ran == 0 and summary.complete
    assert_frame_equal(_table(tmp_path), reference, check_exact=True)


def test_journal_cut_short_keeps_whole_runs(tmp_path):
    path = tmp_path / "j.arrow"
    with pa.OSFile(str(path), "wb") as f, pa.ipc.new_stream(f, pa.schema([("run_id", pa.int64())])) as w:
        for i in range(3):
            w.write_batch(pa.record_batch([pa.array([i] * 50, pa.int64())], names=["run_id"]))
    data = path.read_bytes()
    path.write_bytes(data[:-30])  # the last run cut off mid-write
    assert [b.column(0)[0].as_py() for b in _read_journal(path)] == [0, 1]
    path.write_bytes(data[:5])
    assert _read_journal(path) == []


def test_resume_refuses_another_definition(tmp_path):
    small = EXP.replace(scenarios=(TINY,), samples=1, replicates=1)
    run_experiment(small, tmp_path, progress=False)
    with pytest.raises(ExperimentError, match=r"another definition(.|\n)*-replicates = 1(.|\n)*\+replicates = 2"):
        run_experiment(small.replace(replicates=2), tmp_path, progress=False)
    assert read_manifest(tmp_path)["runs"] == 1


def test_output_folder_without_manifest_but_with_shards_is_refused(tmp_path):
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "part-000000.parquet").write_bytes(b"x")
    with pytest.raises(ExperimentError, match="no manifest.json"):
        run_experiment(EXP, tmp_path, progress=False)


# ------------------------------------------------------------------------------------------------
# failures


def _failing_at(run_id):
    real = thbsim.runner.simulate

    def simulate(spec):
        if spec.run_id == run_id:
            raise RuntimeError(f"boom in run {spec.run_id}")
        return real(spec)

    return simulate


def test_a_run_that_raises_is_recorded_and_the_others_finish(reference, tmp_path, monkeypatch):
    monkeypatch.setattr(thbsim.runner, "simulate", _failing_at(3))
    summary = run_experiment(EXP, tmp_path, progress=False, shard_size=4)
    assert summary.failed == 1 and summary.finished == 7 and not summary.complete
    failures = load_failures(tmp_path)
    assert failures["run_id"].tolist() == [3]
    assert "RuntimeError: boom in run 3" in failures["error"].iloc[0] and "Traceback" in failures["error"].iloc[0]
    assert read_manifest(tmp_path)["failed"] == [[3, 3]]
    assert_frame_equal(_table(tmp_path), reference[reference["run_id"] != 3].reset_index(drop=True), check_exact=True)
    # resuming keeps the failure recorded; --retry-failed runs it again
    assert run_experiment(EXP, tmp_path, progress=False).ran == 0
    monkeypatch.undo()
    summary = run_experiment(EXP, tmp_path, progress=False, retry_failed=True)
    assert summary.ran == 1 and summary.complete and summary.failed == 0
    assert load_failures(tmp_path).empty and read_manifest(tmp_path)["failed"] == []
    assert_frame_equal(_table(tmp_path), reference, check_exact=True)


class _LosesRun1(ThreadPoolExecutor):
    """An executor whose worker is lost while running the task holding run 1."""

    def submit(self, fn, *args, **kwargs):
        if any(s.run_id == 1 for s in args[0]):
            return super().submit(_lost_worker)
        return super().submit(fn, *args, **kwargs)


def _lost_worker():
    raise ConnectionError("worker lost")


def test_a_task_the_backend_loses_is_recorded_as_failed(tmp_path):
    e = Experiment("lost", TINY, VARIED, samples=3, seed=2)
    with _LosesRun1(2) as pool:
        summary = run_experiment(e, tmp_path, backend=pool, progress=False)
    assert summary.failed == 1 and summary.finished == 2
    error = load_failures(tmp_path).set_index("run_id").loc[1, "error"]
    assert "the backend failed to run this task" in error and "ConnectionError: worker lost" in error
    assert sorted(set(load_results(tmp_path)["run_id"])) == [0, 2]


# ------------------------------------------------------------------------------------------------
# reading and the command line


def test_load_results_filters_outcomes_and_joins_parameters(tmp_path):
    e = Experiment("small", TINY, VARIED, design="sobol", samples=2, replicates=1, seed=4)
    run_experiment(e, tmp_path, progress=False)
    t = load_results(tmp_path, outcomes=["registered_victims"], with_params=True)
    assert set(t["outcome"]) == {"registered_victims"} and sorted(set(t["year"])) == list(range(2015, 2019))
    assert_frame_equal(load_design(tmp_path), e.design_matrix())
    for i, row in e.design_matrix().iterrows():
        assert (t.loc[t["sample"] == i, "demand.elasticity"] == row["demand.elasticity"]).all()
    assert t["value"].sum() > 0


def test_sweep_command_line(tmp_path, capsys):
    path = _write_experiment(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--backend", "serial"]) == 0
    printed = capsys.readouterr().out
    assert "4 of 4 runs finished, 0 failed" in printed and "factorial design over 2 parameter(s)" in printed
    table = load_results(out)
    assert table["run_id"].nunique() == 4 and set(table["scenario"]) == {"tiny"}
    assert read_manifest(out)["experiment"] == load_experiment(path).to_toml()
    (tmp_path / "bad.toml").write_text("[experiment]\nname = 'x'\nscenarios = []\n")
    assert main(["sweep", str(tmp_path / "bad.toml"), "--out", str(out)]) == 2
    assert "expected at least one scenario" in capsys.readouterr().err
    shutil.rmtree(out)


def test_detail_adds_member_state_breakdowns(tmp_path):
    e = Experiment("detail", TINY, detail=True)  # no parameters: the scenario as it is, one sample
    assert e.n_runs == 1 and "detail = true" in e.to_toml() and loads(e.to_toml()).detail
    run_experiment(e, tmp_path, progress=False)
    t = load_results(tmp_path)
    assert "member_state" in t.columns and {"EU", "DE", "RO"} <= set(t["member_state"])
    eu = t[(t["outcome"] == "registered_victims") & (t["member_state"] == "EU")].set_index("year")["value"]
    per_state = t[(t["outcome"] == "registered_victims") & (t["member_state"] != "EU")].groupby("year")["value"].sum()
    assert np.allclose(eu.sort_index(), per_state.sort_index())
