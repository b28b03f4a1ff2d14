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


BLOCKS: dict[str, tuple[str, ...]] = {
    # indicators the model writes together, kept side by side in one array (one write a month for each block)
    "stocks": ("victims_recruited", "victims_exploited", "victims_identified", "victims_supported"),
    "victim_flows": ("transit", "identified", "exited_unidentified", "support_entered", "support_declined",
                     "support_exited"),
    "group_flows": ("groups_dismantled", "group_revenue", "group_profit", "group_spending", "assets_frozen"),
    "group_stocks": ("groups_active", "group_members", "group_assets"),
    "by_member_state": ("suspects", "prosecutions", "convictions", "user_suspects", "user_prosecutions",
                        "user_convictions", "investigations", "raids", "assets_confiscated", "users", "knowing_users",
                        "employers_willing", "inspection_checks"),
    "moves": ("moved_out_recruited", "moved_in_recruited", "moved_out_exploited", "moved_in_exploited",
              "groups_moved_out", "groups_moved_in"),
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
        # the indicators of a block are views of one array: month x indicator x breakdown (``blocks``)
        self.blocks = {}
        in_block = {}
        for block, names in BLOCKS.items():
            dims = INDICATORS[names[0]][0]
            if any(INDICATORS[name][0] != dims for name in names):
                raise ValueError(f"recorder block {block!r}: its indicators have different breakdowns")
            self.blocks[block] = np.zeros((n_months, len(names), *self.shapes[dims]))
            in_block.update({name: self.blocks[block][:, j] for j, name in enumerate(names)})
        self.data = {
            name: in_block[name] if name in in_block
            else np.zeros((n_months, *self.shapes[dims]), np.float32 if dims == "registered" else np.float64)
            for name, (dims, _, _) in INDICATORS.items()
        }

    def __setitem__(self, key: tuple[str, int], value) -> None:
        name, t = key
        self.data[name][t] = value

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.data.values())

    def table(self, months: pd.PeriodIndex, first: int = 0) -> pd.DataFrame:
        """Tidy long table of months ``first`` onward: one row per month, indicator and breakdown.

        Label columns are categoricals built from integer codes (no per-row Python strings), with
        the categories that occur, in sorted order (the indicator's too).

        Each indicator's rows are a block of the table: a dense indicator's labels are those of one month's
        cells repeated month after month, so they are worked out once per cell and the categories that occur
        are known before any column is built; each column is then written block by block into one array.
        """
        n = self.n_months - first
        vocab = {col: sorted({"all", *(lab for dims in DIMS for c, labs in zip(DIMS[dims], _labels(dims), strict=True)
                                        if c == col for lab in labs)}) for col in COLUMNS}
        where = {col: {lab: i for i, lab in enumerate(vocab[col])} for col in COLUMNS}
        used = {col: np.zeros(len(vocab[col]), bool) for col in COLUMNS}
        blocks = []  # per indicator: its name, months and values, and per column its labels' codes (into vocab)
        for name, (dims, _, _) in INDICATORS.items():
            flat = self.data[name][first:].reshape(n, -1)
            width = flat.shape[1]
            labels = dict(zip(DIMS[dims], _labels(dims), strict=True))
            if dims == "registered":  # sparse: the non-zero cells only, month by month
                nonzero = np.flatnonzero(flat != 0)  # as np.flatnonzero(flat), some 4 times faster on floats
                t_idx, cell = np.divmod(nonzero, width)
                value = flat.reshape(-1)[nonzero].astype(np.float64)
            else:  # every cell of every month, in the order of the rows
                t_idx, cell = None, np.arange(width)
                value = flat.astype(np.float64).reshape(-1)
            if value.size == 0:
                continue
            coords = dict(zip(DIMS[dims], np.unravel_index(cell, self.shapes[dims]), strict=True))
            codes = {}
            for col in COLUMNS:
                if col in coords:
                    lookup = np.array([where[col][lab] for lab in labels[col]], np.int16)
                    codes[col] = lookup[coords[col]]  # per cell (dense) or per row (sparse)
                else:
                    codes[col] = where[col]["all"]
                used[col][codes[col]] = True
            blocks.append((name, t_idx, width, value, codes))
        renumber = {col: np.cumsum(used[col], dtype=np.int16) - 1 for col in COLUMNS}
        indicators = sorted(name for name, *_ in blocks)
        sizes = [value.size for _, _, _, value, _ in blocks]
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        total = int(bounds[-1])
        t = np.empty(total, np.int64)
        indicator = np.empty(total, np.int16)
        value_col = np.empty(total, np.float64)
        label_codes = {col: np.empty(total, np.int16) for col in COLUMNS}
        for (name, t_idx, width, value, codes), lo, hi in zip(blocks, bounds[:-1], bounds[1:], strict=True):
            if t_idx is None:
                t[lo:hi].reshape(n, width)[:] = np.arange(first, first + n)[:, None]
            else:
                t[lo:hi] = t_idx + first
            indicator[lo:hi] = indicators.index(name)
            value_col[lo:hi] = value
            for col in COLUMNS:
                new_codes = renumber[col][codes[col]]
                if np.ndim(new_codes) and t_idx is None:  # one month's cells, every month alike
                    label_codes[col][lo:hi].reshape(n, width)[:] = new_codes
                else:
                    label_codes[col][lo:hi] = new_codes
        # year and month of each of the horizon's months, then per row by its month (not per row from periods)
        df = pd.DataFrame({"t": t, "year": months.year.to_numpy().astype(np.int16)[t],
                           "month": months.month.to_numpy().astype(np.int8)[t],
                           "indicator": pd.Categorical.from_codes(indicator, indicators)}
                          | {col: pd.Categorical.from_codes(label_codes[col], [lab for lab, u in
                                                                                zip(vocab[col], used[col], strict=True) if u])
                             for col in COLUMNS}
                          | {"value": value_col}, copy=False)  # the arrays are the table's own
        return df
