"""Member states, origin countries, forms of exploitation and labour sectors.

The 27 member states are both places of exploitation and origins; they come
first in the origin index, so that a victim is domestic when
``citizenship == member_state``. The non-EU origins are those the report names,
plus an aggregate rest of the world.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

import numpy as np

FORMS = ("sexual", "labour", "other")
SEXUAL, LABOUR, OTHER = 0, 1, 2
SEXES = ("female", "male")
AGES = ("child", "adult")
CHANNELS = ("offline", "online")
SECTORS = ("agriculture", "construction", "hospitality", "cleaning", "domestic_care", "manufacturing", "other_sectors")
SECTOR_SHARE = np.array([0.22, 0.16, 0.15, 0.10, 0.15, 0.15, 0.07])
"""Share of high-risk-sector jobs by sector (assumption: EU employment in the sectors report 2.2 names)."""
SECTOR_RISK = np.array([1.6, 1.2, 1.0, 1.0, 1.0, 0.6, 0.8])
"""Relative risk that a job in the sector is taken by a victim (assumption: report 2.2 lists agriculture first)."""
DETECTION_CHANNELS = ("police", "inspection", "referral", "online", "user_report")
REST_OF_WORLD = "XX"
LEVER_KINDS = ("criminalise_users", "asset_confiscation", "labour_inspections", "identification_referral",
               "joint_investigations", "online_monitoring", "prevention_awareness", "victim_support",
               "economic_downturn", "migration_surge")
"""Every lever and shock kind, in the order of the lever_cost breakdown."""


@dataclass(frozen=True)
class Geography:
    iso: tuple[str, ...]
    names: tuple[str, ...]
    is_eu: np.ndarray
    population_m: np.ndarray
    propensity: np.ndarray
    enforcement_index: np.ndarray
    sources: tuple[str, ...]

    @property
    def n_origins(self) -> int:
        return len(self.iso)

    @cached_property
    def n_states(self) -> int:  # asked for every month: counted once
        return int(self.is_eu.sum())

    @property
    def member_states(self) -> tuple[str, ...]:
        return self.iso[: self.n_states]

    def index(self, iso: str) -> int:
        return self.iso.index(iso)

    def state_mask(self, codes: list[str] | str) -> np.ndarray:
        """Boolean mask over member states for a list of ISO codes or ``"all"``."""
        if codes == "all":
            return np.ones(self.n_states, bool)
        mask = np.zeros(self.n_states, bool)
        for c in codes:
            mask[self.member_states.index(c)] = True
        return mask


@cache
def geography() -> Geography:
    """The countries table shipped in ``thbsim/data/countries.csv``."""
    text = resources.files("thbsim.data").joinpath("countries.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    eu_first = [r for r in rows if r["eu"] == "1"] + [r for r in rows if r["eu"] != "1"]
    return Geography(
        iso=tuple(r["iso"] for r in eu_first),
        names=tuple(r["name"] for r in eu_first),
        is_eu=np.array([r["eu"] == "1" for r in eu_first]),
        population_m=np.array([float(r["population_m"]) for r in eu_first]),
        propensity=np.array([float(r["recruitment_propensity"]) for r in eu_first]),
        enforcement_index=np.array([float(r["enforcement_index"]) for r in eu_first if r["eu"] == "1"]),
        sources=tuple(r["source"] for r in eu_first),
    )


MEMBER_STATES = geography().member_states
USERS_OFFENCE_2017 = ("BG", "CY", "EL", "FI", "HR", "IE", "LT", "MT", "PT", "RO", "SI")
"""Member states where knowing use of victims' services was an offence in 2017-2018.

Nine criminalise the knowing use of services of victims of all forms (COM(2016) 719,
ten with the UK: BG, EL, HR, CY, LT, MT, PT, RO, SI); Finland (Criminal Code ch. 20
s. 8, since 2006) and Ireland (Criminal Law (Human Trafficking) Act 2008, s. 5)
have a knowledge-based offence for sexual services. The report's eleven are not
listed by name; this is our reconstruction (docs/data.md).
"""
