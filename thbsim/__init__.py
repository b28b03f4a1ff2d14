"""thbsim: agent-based model of trafficking in human beings in the EU-27."""

from thbsim import levers
from thbsim.model import TraffickingModel
from thbsim.params import PARAMETERS, PARAMS, Param, ParamSet
from thbsim.scenario import Scenario, ScenarioError, load, save

__version__ = "0.1.0"
load_scenario = load

__all__ = [
    "PARAMETERS", "PARAMS", "Param", "ParamSet", "Scenario", "ScenarioError", "TraffickingModel",
    "levers", "load", "load_scenario", "save", "__version__",
]
