"""Policy levers and context shocks: objects that act on the model's mechanisms.

Each kind is a frozen dataclass registered by its ``kind`` name; scenario files
declare levers as ``[[levers]]`` tables with that ``kind``::

    import thbsim as tb
    lever = tb.levers.CriminaliseUsers(start="2025-01", enforcement=0.05, penalty_eur=2000)
"""

from thbsim.levers.base import LEVERS, Lever, lever_from_dict
from thbsim.levers.cooperation import JointInvestigations
from thbsim.levers.demand import CriminaliseUsers
from thbsim.levers.finance import AssetConfiscation
from thbsim.levers.inspection import LabourInspections
from thbsim.levers.prevention import PreventionAwareness
from thbsim.levers.shocks import EconomicDownturn, MigrationSurge
from thbsim.levers.victims import IdentificationReferral, OnlineMonitoring, VictimSupport

__all__ = [
    "LEVERS", "AssetConfiscation", "CriminaliseUsers", "EconomicDownturn", "IdentificationReferral",
    "JointInvestigations", "LabourInspections", "Lever", "MigrationSurge", "OnlineMonitoring",
    "PreventionAwareness", "VictimSupport", "lever_from_dict",
]
