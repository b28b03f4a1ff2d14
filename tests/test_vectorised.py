"""The monthly step has no Python loop over victims: measured by counting Python calls, not time.

A loop over victims (or anything with a Python call per victim) makes the calls
per step grow with the number of victims; array code keeps them constant.
"""

from __future__ import annotations

import sys

import pytest

from thbsim.model import TraffickingModel
from thbsim.scenario import Scenario

SMALL, LARGE = 0.05, 0.4  # 8x the victims
WARM_UP, MEASURED = 3, 6


def calls_per_step(scale: float) -> tuple[float, int]:
    """Python function calls per ``model.step()`` and victims in the system afterwards."""
    scenario = Scenario().with_params(scale=scale).replace(start="2008-01", end="2012-12", output_from="2010-01")
    model = TraffickingModel(scenario)
    for _ in range(WARM_UP):
        model.step()
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event == "call":
            calls += 1

    previous = sys.getprofile()
    sys.setprofile(count)
    try:
        for _ in range(MEASURED):
            model.step()
    finally:
        sys.setprofile(previous)
    return calls / MEASURED, model.victims.in_system


@pytest.fixture(scope="module")
def measured() -> dict[float, tuple[float, int]]:
    return {scale: calls_per_step(scale) for scale in (SMALL, LARGE)}


def test_larger_model_has_about_8x_the_victims(measured):
    small, large = measured[SMALL][1], measured[LARGE][1]
    assert small > 500
    assert 6.5 < large / small < 9.5, (small, large)


def test_python_calls_per_step_do_not_grow_with_victims(measured):
    small, large = measured[SMALL][0], measured[LARGE][0]
    assert small > 50  # the profiler did see the step
    assert large < 1.5 * small, f"{small:.0f} Python calls per step at scale {SMALL}, {large:.0f} at {LARGE}"
