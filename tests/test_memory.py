"""A finished model's memory is freed when its results are taken, not at the next full garbage collection.

Mesa keeps references from a model to itself, so without ``TraffickingModel.close`` a worker running model
after model holds several at once (each with its arrays and records). With the cyclic garbage collector
off, only reference counting frees anything: these tests fail if a closed model, or one the runners made,
is still alive.
"""

from __future__ import annotations

import gc
import weakref
from contextlib import contextmanager

import pytest

from thbsim.model import TraffickingModel
from thbsim.results import run_one
from thbsim.runner import RunSpec, simulate
from thbsim.scenario import Scenario

SCENARIO = Scenario().with_params(scale=0.01)  # the whole horizon: the runners compute the targets' years


@contextmanager
def no_cyclic_gc():
    was_enabled = gc.isenabled()
    gc.collect()  # models left by other tests
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def models_alive() -> int:
    return sum(isinstance(obj, TraffickingModel) for obj in gc.get_objects())


def test_an_unclosed_model_needs_the_garbage_collector():
    """The premise: without ``close`` a dropped model outlives its last reference (if Mesa ever stops
    making the cycle, this fails, and ``close`` is no longer needed)."""
    with no_cyclic_gc():
        model = TraffickingModel(SCENARIO, seed=1)
        model.step()
        ref = weakref.ref(model)
        del model
        assert ref() is not None
        gc.collect()
        assert ref() is None


def test_a_closed_model_is_freed_by_reference_counting():
    with no_cyclic_gc():
        model = TraffickingModel(SCENARIO, seed=1)
        model.run()
        table = model.results_table()
        ref, recorder = weakref.ref(model), weakref.ref(model.recorder)
        model.close()
        assert model.running is False
        del model
        assert ref() is None and recorder() is None
    assert table["value"].sum() > 0  # the results taken before closing stay


def test_with_closes_the_model():
    with no_cyclic_gc():
        with TraffickingModel(SCENARIO, seed=1) as model:
            model.step()
            ref = weakref.ref(model)
        with pytest.raises(AttributeError):
            model.step()  # closed: its state is gone
        del model
        assert ref() is None


@pytest.mark.parametrize("runner", ["run_one", "simulate"])
def test_the_runners_leave_no_model_behind(runner):
    with no_cyclic_gc():
        before = models_alive()
        if runner == "run_one":
            table = run_one(SCENARIO, seed=3)
        else:
            table = simulate(RunSpec(run_id=0, scenario=SCENARIO, seed=3))
        assert len(table) > 0
        assert models_alive() == before
