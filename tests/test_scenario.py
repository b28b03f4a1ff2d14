"""Scenario files: loading, ``extends``, round-tripping, and every kind of bad input.

Each bad input must raise ``ScenarioError`` whose message names the key, the
bad value and what is allowed; nothing runs on a bad file (the CLI included).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thbsim.geography import USERS_OFFENCE_2017
from thbsim.params import ParamSet
from thbsim.scenario import Scenario, ScenarioError, dumps, load, save

REPO = Path(__file__).parent.parent
SCENARIOS = REPO / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str, name: str = "bad.toml") -> ScenarioError:
    """Load ``text`` as a scenario file and return the ScenarioError it must raise."""
    path = write(tmp_path / name, text)
    with pytest.raises(ScenarioError) as info:
        load(path)
    return info.value


def assert_names(err: ScenarioError, *parts: str) -> None:
    message = str(err)
    missing = [p for p in parts if p not in message]
    assert not missing, f"message lacks {missing}:\n{message}"


# --------------------------------------------------------------------------- loading


def test_load_baseline():
    s = load(BASELINE)
    assert isinstance(s, Scenario)
    assert s.name == "baseline"
    assert (s.start, s.end, s.output_from) == ("2008-01", "2030-12", "2012-01")
    assert s.seed == 20201020
    assert s.replicates == 10
    assert s.users_offence == USERS_OFFENCE_2017
    assert s.params == ParamSet()
    assert s.levers == ()
    assert s.description  # the file has one


def test_default_scenario_is_the_baseline_file():
    assert load(BASELINE).replace(description="") == Scenario()


def test_extends_merges_params_and_overrides(tmp_path):
    write(tmp_path / "base.toml", """
[scenario]
name = "base"
description = "the base"
start = "2009-01"
end = "2020-12"
output_from = "2010-01"
seed = 7
replicates = 3

[params]
scale = 0.5
"recruit.success" = 0.6
groups.adjust_rate = 0.3

[policy]
users_offence = ["SE", "IE"]
""")
    child = write(tmp_path / "variants" / "child.toml", """
[scenario]
name = "child"
extends = "../base.toml"
seed = 11
end = "2025-12"

[params]
"recruit.success" = 0.7
"police.detention" = 0.5
""")
    s = load(child)
    # this file's values override the base ...
    assert s.name == "child"
    assert s.seed == 11
    assert s.end == "2025-12"
    assert s.params["recruit.success"] == 0.7
    assert s.params["police.detention"] == 0.5
    # ... and everything it does not set comes from the base
    assert s.description == "the base"
    assert (s.start, s.output_from, s.replicates) == ("2009-01", "2010-01", 3)
    assert s.params["scale"] == 0.5
    assert s.params["groups.adjust_rate"] == 0.3
    assert s.users_offence == ("SE", "IE")
    assert s.params.overrides() == {"scale": 0.5, "recruit.success": 0.7, "groups.adjust_rate": 0.3,
                                    "police.detention": 0.5}
    # the resolved scenario saves without ``extends`` and loads back equal
    assert "extends" not in dumps(s)
    save(s, tmp_path / "resolved.toml")
    assert load(tmp_path / "resolved.toml") == s


def test_extends_policy_override(tmp_path):
    write(tmp_path / "base.toml", '[policy]\nusers_offence = ["SE"]\n')
    child = write(tmp_path / "child.toml", '[scenario]\nextends = "base.toml"\n[policy]\nusers_offence = ["FR", "SE"]\n')
    assert load(child).users_offence == ("FR", "SE")


# --------------------------------------------------------------------------- round trip


def test_round_trip_baseline(tmp_path):
    s = load(BASELINE)
    save(s, tmp_path / "again.toml")
    assert load(tmp_path / "again.toml") == s


@pytest.mark.parametrize("scenario", [
    Scenario().with_params(scale=0.05, **{"recruit.success": 0.7, "pool.turnover": 1 / 48}).replace(
        name="variant", description='quotes "and" unicode: é, ü', start="2010-03", end="2015-06",
        output_from="2012-02", seed=123456789, replicates=4, users_offence=("SE", "FR", "IE")),
    Scenario().with_params(**{"victims.retrafficking_rate": 0.0, "finance.freeze_share": 1.0}).replace(users_offence=()),
], ids=["many-overrides", "bounds-and-empty-policy"])
def test_round_trip_with_overrides(tmp_path, scenario):
    path = tmp_path / "s.toml"
    save(scenario, path)
    again = load(path)
    assert again == scenario
    assert again.params.overrides() == scenario.params.overrides()


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load(tmp_path / "nowhere.toml")
    assert_names(info.value, "nowhere.toml")


def test_unknown_top_level_table(tmp_path):
    err = load_error(tmp_path, "[scenarios]\nname = 'x'\n")
    assert_names(err, "[scenarios]", "allowed", "scenario", "params", "policy", "levers")


def test_unknown_scenario_key(tmp_path):
    err = load_error(tmp_path, "[scenario]\nsede = 5\n")
    assert_names(err, "[scenario]", "'sede'", "allowed", "seed", "output_from", "replicates")


@pytest.mark.parametrize(("line", "key", "value", "allowed"), [
    ('seed = "abc"', "seed", "'abc'", "int"),
    ("replicates = 1.5", "replicates", "1.5", "int"),
    ("seed = true", "seed", "True", "int"),
    ("name = 3", "name", "3", "str"),
    ("start = 200801", "start", "200801", "str"),
    ("seed = -1", "seed", "-1", "non-negative integer"),
    ("replicates = 0", "replicates", "0", "from 1 to 100000"),
])
def test_wrong_type_or_value_in_scenario(tmp_path, line, key, value, allowed):
    err = load_error(tmp_path, f"[scenario]\n{line}\n")
    assert_names(err, f"{key} = {value}", allowed)
    assert len(err.problems) == 1


@pytest.mark.parametrize("text", ['[params]\n"recruit.sucess" = 0.5\n', "[params]\nrecruit.sucess = 0.5\n"],
                         ids=["quoted-key", "dotted-key"])
def test_unknown_parameter_with_suggestion(tmp_path, text):
    err = load_error(tmp_path, text)
    assert_names(err, "[params]", "'recruit.sucess'", "did you mean", "recruit.success?")


def test_parameter_of_wrong_type(tmp_path):
    err = load_error(tmp_path, '[params]\nscale = "big"\n')
    assert_names(err, "'scale'", "'big'", "expected a number")


@pytest.mark.parametrize(("key", "value", "bounds"), [
    ("recruit.success", "1.5", "[0.05, 1]"),
    ("recruit.success", "-0.1", "[0.05, 1]"),
    ("recruit.success", "0.0", "[0.05, 1]"),  # below the declared lower bound though inside [0, 1]
    ("police.detention", "1.01", "[0, 1]"),
    ("victims.accept_support", "-0.5", "[0.1, 1]"),
])
def test_probability_out_of_range(tmp_path, key, value, bounds):
    err = load_error(tmp_path, f'[params]\n"{key}" = {value}\n')
    assert_names(err, f"'{key}'", value, bounds, "probability")


@pytest.mark.parametrize("code", ["XY", "UK", "GB", "se"])
def test_unknown_member_state(tmp_path, code):
    err = load_error(tmp_path, f'[policy]\nusers_offence = ["SE", "{code}"]\n')
    assert_names(err, "users_offence", f"'{code}'", "not a member state", "allowed", "AT", "SE", "EL")
    assert f"'{code}'" in err.problems[0]
    assert "'SE' not" not in str(err)  # only the bad code is blamed


def test_users_offence_not_a_list(tmp_path):
    err = load_error(tmp_path, '[policy]\nusers_offence = "SE"\n')
    assert_names(err, "users_offence", "'SE'", "list of member-state codes")


def test_policy_must_be_a_table(tmp_path):
    err = load_error(tmp_path, 'policy = "SE"\n')
    assert_names(err, "policy", "table")


def test_unknown_policy_key(tmp_path):
    err = load_error(tmp_path, '[policy]\nuser_offence = ["SE"]\n')
    assert_names(err, "[policy]", "'user_offence'", "allowed: users_offence")


@pytest.mark.parametrize(("lines", "key", "value", "allowed"), [
    ('output_from = "2007-12"', "output_from", "'2007-12'", "outside the horizon 2008-01 to 2030-12"),
    ('output_from = "2031-01"', "output_from", "'2031-01'", "outside the horizon 2008-01 to 2030-12"),
    ('start = "2010-01"\noutput_from = "2009-06"', "output_from", "'2009-06'", "outside the horizon 2010-01 to 2030-12"),
    ('start = "1999-12"', "start", "'1999-12'", "between 2000-01 and 2050-12"),
    ('end = "2051-01"', "end", "'2051-01'", "between 2000-01 and 2050-12"),
])
def test_date_outside_horizon(tmp_path, lines, key, value, allowed):
    err = load_error(tmp_path, f"[scenario]\n{lines}\n")
    assert_names(err, f"{key} = {value}", allowed)


@pytest.mark.parametrize("value", [
    "2010-13", "2010-00", "2010-1", "201001", "Jan 2010", "2010-01-01", "next year",
    "2010/01", "2010.01", "10-2010", "2010 01", "Jan2010",  # parseable by pandas, but not 'YYYY-MM'
])
def test_malformed_date(tmp_path, value):
    err = load_error(tmp_path, f'[scenario]\nstart = "{value}"\n')
    assert_names(err, f"start = {value!r}", "'YYYY-MM'")


def test_end_before_start(tmp_path):
    err = load_error(tmp_path, '[scenario]\nstart = "2012-01"\nend = "2011-12"\noutput_from = "2012-01"\n')
    assert_names(err, "end = '2011-12'", "start = '2012-01'", "at least a year after start")


def test_invalid_toml(tmp_path):
    err = load_error(tmp_path, '[scenario\nname = "x"\n', name="broken.toml")
    assert_names(err, "broken.toml", "not valid TOML", "line 1")


def test_missing_extends_file(tmp_path):
    err = load_error(tmp_path, '[scenario]\nextends = "nope.toml"\nseed = 3\n')
    assert_names(err, "extends = 'nope.toml'", "no such file")


def test_bad_base_file_is_reported(tmp_path):
    write(tmp_path / "base.toml", '[scenario]\nseed = "abc"\n')
    err = load_error(tmp_path, '[scenario]\nextends = "base.toml"\n', name="child.toml")
    assert_names(err, "base.toml", "seed = 'abc'")


def test_several_problems_at_once(tmp_path):
    err = load_error(tmp_path, """
[scenario]
seed = "abc"
replicates = 1.5
colour = "red"

[params]
"recruit.success" = 1.5
"recruit.sucess" = 0.5

[policy]
users_offence = ["XY", "UK", "SE"]

[extras]
""")
    assert len(err.problems) == 7, err.problems
    assert str(err).splitlines()[0].endswith("7 problems")
    assert_names(err, "seed = 'abc'", "replicates = 1.5", "'colour'", "'recruit.success': 1.5", "'recruit.sucess'",
                 "'XY', 'UK' not a member state", "[extras]")


def test_several_problems_at_once_including_dates(tmp_path):
    """A type error does not hide a bad horizon."""
    err = load_error(tmp_path, '[scenario]\nseed = "abc"\nstart = "2012-01"\nend = "2011-12"\noutput_from = "2013-01"\n'
                     '[params]\nscale = 0\n')
    assert_names(err, "seed = 'abc'", "end = '2011-12'", "output_from = '2013-01'", "'scale': 0")
    assert len(err.problems) == 4, err.problems


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("out_exists", [False, True], ids=["new-out", "existing-empty-out"])
def test_cli_refuses_bad_scenario(tmp_path, out_exists):
    bad = write(tmp_path / "bad.toml", '[scenario]\nseed = "abc"\nend = "2030-12"\n[params]\n"recruit.success" = 1.5\n')
    out = tmp_path / "out"
    if out_exists:
        out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "thbsim.cli", "run", str(bad), "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode != 0
    assert "seed = 'abc'" in proc.stderr
    assert "'recruit.success': 1.5" in proc.stderr
    assert out.exists() == out_exists
    if out_exists:
        assert list(out.iterdir()) == []
