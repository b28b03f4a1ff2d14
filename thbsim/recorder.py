"""Monthly indicators, recorded into preallocated arrays and turned into a tidy table.

Every indicator is recorded per month with a fixed breakdown (member state,
form, channel, cost category, ...). ``Recorder.table()`` turns the arrays into
one long table with a row per (month, indicator, breakdown) and non-zero value
for the sparse registered-victims breakdown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from thbsim.geography import AGES, DETECTION_CHANNELS, FORMS, LEVER_KINDS, SEXES, geography
from thbsim.money import COST_CATEGORIES

FORMS_RECORDED = (*FORMS, "not_recorded")
DIMS = {
    "ms": ("member_state",),
    "ms_form": ("member_state", "form"),
    "ms_channel": ("member_state", "detail"),
    "ms_cost": ("member_state", "detail"),
    "ms_lever": ("member_state", "detail"),
    "registered": ("member_state", "form", "sex", "age", "citizenship"),
}
COLUMNS = ("member_state", "form", "sex", "age", "citizenship", "detail")

INDICATORS: dict[str, tuple[str, str, str]] = {
    # name: (dims, unit, meaning)
    "victims_recruited": ("ms_form", "victims", "stock: in transit at the end of the month"),
    "victims_exploited": ("ms_form", "victims", "stock: exploited at the end of the month"),
    "victims_identified": ("ms_form", "victims", "stock: identified and registered this month, awaiting support"),
    "victims_supported": ("ms_form", "victims", "stock: in support at the end of the month"),
    "recruited": ("ms_form", "victims", "flow: new recruits"),
    "retrafficked": ("ms_form", "victims", "flow: supported victims trafficked again"),
    "transit": ("ms_form", "victims", "flow: recruited -> exploited"),
    "identified": ("ms_form", "victims", "flow: exploited -> identified (registered), by true form"),
    "exited_unidentified": ("ms_form", "victims", "flow: exploited -> out of the system, never identified"),
    "support_entered": ("ms_form", "victims", "flow: identified -> supported"),
    "support_declined": ("ms_form", "victims", "flow: identified -> out of the system"),
    "support_exited": ("ms_form", "victims", "flow: supported -> out of the system"),
    "moved_in_recruited": ("ms_form", "victims", "flow: in transit, moved here with a relocating group"),
    "moved_out_recruited": ("ms_form", "victims", "flow: in transit, moved away with a relocating group"),
    "moved_in_exploited": ("ms_form", "victims", "flow: exploited, moved here with a relocating group"),
    "moved_out_exploited": ("ms_form", "victims", "flow: exploited, moved away with a relocating group"),
    "identified_by_channel": ("ms_channel", "victims", "flow: identifications by detection channel"),
    "registered": ("registered", "victims", "flow: registered victims by recorded form, sex, age, citizenship"),
    "suspects": ("ms", "persons", "flow: traffickers named as suspects"),
    "prosecutions": ("ms", "persons", "flow: suspects prosecuted"),
    "convictions": ("ms", "persons", "flow: prosecuted traffickers convicted"),
    "user_suspects": ("ms", "persons", "flow: knowing users of victims' services named as suspects"),
    "user_prosecutions": ("ms", "persons", "flow: users prosecuted"),
    "user_convictions": ("ms", "persons", "flow: users convicted"),
    "investigations": ("ms", "groups", "flow: crime groups investigated (raids and cases opened by identifications)"),
    "raids": ("ms", "groups", "flow: proactive police investigations of groups"),
    "groups_active": ("ms_form", "groups", "stock: active crime groups"),
    "group_members": ("ms_form", "persons", "stock: members of active groups"),
    "groups_entered": ("ms_form", "groups", "flow: new groups"),
    "groups_dismantled": ("ms_form", "groups", "flow: groups dismantled"),
    "groups_moved_in": ("ms_form", "groups", "flow: groups that moved here from another member state"),
    "groups_moved_out": ("ms_form", "groups", "flow: groups that moved to another member state"),
    "group_revenue": ("ms_form", "EUR", "flow: criminal proceeds (revenue) of groups"),
    "group_profit": ("ms_form", "EUR", "flow: revenue minus operating costs"),
    "group_spending": ("ms_form", "EUR", "flow: recruitment spending and payouts to members"),
    "group_assets": ("ms_form", "EUR", "stock: assets of active groups at the end of the month"),
    "entry_capital": ("ms_form", "EUR", "flow: capital of new groups"),
    "assets_frozen": ("ms_form", "EUR", "flow: group assets frozen"),
    "assets_confiscated": ("ms", "EUR", "flow: frozen assets finally confiscated"),
    "users": ("ms", "persons", "stock: users of sexual services"),
    "knowing_users": ("ms", "persons", "users who knowingly bought from victims this month"),
    "employers_willing": ("ms", "employers", "stock: employers in high-risk sectors willing to use forced labour"),
    "price": ("ms_form", "EUR per victim-month", "revenue a victim brings a group"),
    "demand_capacity": ("ms_form", "victims", "victims the market takes at the reference price"),
    "inspection_checks": ("ms", "persons", "flow: workers checked by labour inspections"),
    "social_cost": ("ms_cost", "EUR", "flow: social cost by category (cost study's categories)"),
    "lever_cost": ("ms_lever", "EUR", "flow: cost of the activity levers bought, by lever kind"),
}


def _labels(dims: str) -> list[tuple[str, ...]]:
    geo = geography()
    ms = geo.member_states
    return {
        "ms": [ms],
        "ms_form": [ms, FORMS],
        "ms_channel": [ms, DETECTION_CHANNELS],
        "ms_cost": [ms, COST_CATEGORIES],
        "ms_lever": [ms, LEVER_KINDS],
        "registered": [ms, FORMS_RECORDED, SEXES, AGES, geo.iso],
    }[dims]


class Recorder:
    def __init__(self, n_months: int) -> None:
        self.n_months = n_months
        self.shapes = {d: tuple(len(x) for x in _labels(d)) for d in DIMS}
        self.data = {
            name: np.zeros((n_months, *self.shapes[dims]), np.float32 if dims == "registered" else np.float64)
            for name, (dims, _, _) in INDICATORS.items()
        }

    def __setitem__(self, key: tuple[str, int], value) -> None:
        name, t = key
        self.data[name][t] = value

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.data.values())

    def table(self, months: pd.PeriodIndex, first: int = 0) -> pd.DataFrame:
        """Tidy long table of months ``first`` onward: one row per month, indicator and breakdown."""
        parts = []
        n = self.n_months - first
        for name, (dims, _, _) in INDICATORS.items():
            arr = self.data[name][first:]
            labels = _labels(dims)
            flat = arr.reshape(n, -1)
            if dims == "registered":
                t_idx, cell = np.nonzero(flat)
            else:
                t_idx = np.repeat(np.arange(n), flat.shape[1])
                cell = np.tile(np.arange(flat.shape[1]), n)
            values = flat[t_idx, cell].astype(np.float64)
            coords = np.unravel_index(cell, self.shapes[dims])
            cols = dict.fromkeys(COLUMNS, None)
            for col, lab, c in zip(DIMS[dims], labels, coords, strict=True):
                cols[col] = np.asarray(lab, dtype=object)[c]
            part = {"t": t_idx + first, "indicator": name}
            for col in COLUMNS:
                part[col] = cols[col] if cols[col] is not None else "all"
            part["value"] = values
            parts.append(pd.DataFrame(part))
        df = pd.concat(parts, ignore_index=True)
        period = months[df["t"].to_numpy()]
        df.insert(1, "year", period.year.astype(np.int16))
        df.insert(2, "month", period.month.astype(np.int8))
        for col in ("indicator", *COLUMNS):
            df[col] = df[col].astype("category")
        return df
