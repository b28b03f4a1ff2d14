"""Policy levers and context shocks: objects that act on the model's mechanisms.

A lever kind is registered by its ``kind`` name; scenario files declare levers
as ``[[levers]]`` tables with that ``kind``.
"""

from thbsim.levers.base import LEVERS, Lever, lever_from_dict

__all__ = ["LEVERS", "Lever", "lever_from_dict"]
