"""docs/data.md is generated from the declarations and must match them; docs/model.md names every parameter group."""

from pathlib import Path

from thbsim.datadoc import render
from thbsim.params import PARAMETERS
from thbsim.targets import TARGETS

DOCS = Path(__file__).parent.parent / "docs"


def test_data_md_matches_declarations():
    assert (DOCS / "data.md").read_text() == render(), "docs/data.md is stale: run `thbsim datadoc`"


def test_data_md_lists_every_parameter_and_target():
    text = (DOCS / "data.md").read_text()
    for p in PARAMETERS:
        assert f"`{p.name}`" in text
    for t in TARGETS:
        assert f"`{t.name}`" in text


def test_every_parameter_has_a_source_and_consistent_bounds():
    for p in PARAMETERS:
        assert p.source.startswith(("FACTS", "assumption")), p.name
        assert p.low <= p.default <= p.high, p.name


def test_model_md_follows_odd():
    text = (DOCS / "model.md").read_text()
    for heading in ("Overview", "Design concepts", "Details", "Initialisation", "Submodels"):
        assert heading.lower() in text.lower(), heading
