"""The command line: a small run writes the table, figures and targets; --check-targets fails on misses."""

import subprocess
import sys

import pandas as pd

from thbsim.cli import main
from thbsim.results import Results

SMALL = """
[scenario]
name = "small"
start = "2010-01"
end = "2019-12"
output_from = "2012-01"
replicates = 2
[params]
scale = 0.05
"""


def test_run_writes_outputs(tmp_path, capsys):
    scen = tmp_path / "small.toml"
    scen.write_text(SMALL)
    out = tmp_path / "out"
    assert main(["run", str(scen), "--out", str(out), "--quiet", "--seed", "7"]) == 0
    for name in ("results.parquet", "summary.csv", "targets.csv", "registered_by_form.png", "justice_funnel.png",
                 "cost_by_category.png", "true_and_registered.png"):
        assert (out / name).stat().st_size > 0, name
    res = Results.from_parquet(out / "results.parquet")
    assert set(res.table["replicate"]) == {0, 1}
    assert res.meta["root_seed"] == 7 and res.meta["scenario"] == "small"
    printed = capsys.readouterr().out
    assert "registered_victims_2017_2018" in printed and "targets within tolerance" in printed
    targets = pd.read_csv(out / "targets.csv")
    assert len(targets) > 20


def test_check_targets_fails_when_targets_are_missed(tmp_path):
    """At 5 % of the real scale the counts cannot match the report: --check-targets must say so."""
    scen = tmp_path / "small.toml"
    scen.write_text(SMALL.replace("replicates = 2", "replicates = 1"))
    proc = subprocess.run([sys.executable, "-m", "thbsim.cli", "run", str(scen), "--out", str(tmp_path / "o"),
                           "--quiet", "--check-targets"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "outside tolerance" in proc.stderr


def test_validate(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(SMALL)
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL + '\n[policy]\nusers_offence = ["XY"]\n')
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(bad)]) == 2
