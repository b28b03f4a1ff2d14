"""Victims as rows of numpy arrays (a structure of arrays), recycled when they leave.

One row is one victim. Rows of victims who have left the system are marked
``FREE`` and reused by later recruits, so memory follows the number of victims
in the system, not the length of the horizon.
"""

from __future__ import annotations

import numpy as np

# victim states; FREE marks a recyclable row (the victim has exited)
FREE, RECRUITED, EXPLOITED, IDENTIFIED, SUPPORTED = 0, 1, 2, 3, 4
STATES = ("free", "recruited", "exploited", "identified", "supported")
IN_SYSTEM = (RECRUITED, EXPLOITED, IDENTIFIED, SUPPORTED)

_FIELDS: dict[str, type] = {
    "state": np.int8,
    "citizenship": np.int8,  # origin index; < 27 means an EU member state
    "member_state": np.int8,  # member state of exploitation
    "sex": np.int8,  # 0 female, 1 male
    "birth_month": np.int16,  # model month of birth (negative before the start)
    "form": np.int8,  # 0 sexual, 1 labour, 2 other
    "sector": np.int8,  # labour sector, -1 for other forms
    "channel": np.int8,  # 0 offline, 1 online recruitment
    "group": np.int32,  # controlling crime group row, -1 none
    "cell": np.int16,  # member_state * 3 + form: the market the victim is exploited in
    "exploited_since": np.int16,  # model month the current exploitation episode began
    "months_exploited": np.int16,  # months exploited in finished episodes (add t - exploited_since if exploited)
    "state_since": np.int16,  # model month of the last state change
    "times_trafficked": np.int8,
    "hazard_key": np.int16,  # 2 x stratum of the detection table; + 1 for adults gives the row
}


def first_free(state: np.ndarray, n: int) -> np.ndarray:
    """The lowest ``n`` free rows (fewer if there are not that many)."""
    return np.flatnonzero(state == FREE)[:n]


class Victims:
    """Victim rows: ``v.state``, ``v.form``, ... are arrays of length ``v.used``."""

    def __init__(self, capacity: int = 1024, find_free=first_free) -> None:
        self.capacity = max(int(capacity), 16)
        self.find_free = find_free  # (state, n) -> the lowest n free rows; a compiled kernel may stand in
        self.used = 0  # rows ever used; rows >= used are untouched
        for name, dtype in _FIELDS.items():
            setattr(self, "_" + name, np.zeros(self.capacity, dtype))
        self._group[:] = -1
        self._backing = self._backing_arrays()

    def months_exploited_at(self, t: int) -> np.ndarray:
        """Months exploited so far, for every row (finished episodes plus the current one)."""
        current = np.where(self.state == EXPLOITED, t - self.exploited_since, 0)
        return self.months_exploited + current

    def count(self, state: int) -> int:
        return int(np.count_nonzero(self.state == state))

    @property
    def in_system(self) -> int:
        return int(np.count_nonzero(self.state != FREE))

    def nbytes(self) -> int:
        return sum(getattr(self, "_" + f).nbytes for f in _FIELDS)

    def allocate(self, n: int) -> np.ndarray:
        """Row indices for ``n`` new victims: free rows first, then fresh ones."""
        free = self.find_free(self.state, n)
        extra = n - free.size
        if extra > 0:
            need = self.used + extra
            if need > self.capacity:
                self._grow(max(need, int(self.capacity * 1.5)))
            fresh = np.arange(self.used, need)
            self.used = need
            free = np.concatenate([free, fresh])
        return free

    def _grow(self, capacity: int) -> None:
        for name in _FIELDS:
            old = getattr(self, "_" + name)
            new = np.zeros(capacity, old.dtype)
            new[: old.size] = old
            if name == "group":
                new[old.size :] = -1
            setattr(self, "_" + name, new)
        self.capacity = capacity
        self._backing = self._backing_arrays()

    def compact(self) -> None:
        """Move the rows of victims in the system to the front, in order (rows become reusable
        from the end: memory and every per-row pass follow the victims in the system)."""
        keep = np.flatnonzero(self.state != FREE)
        k = keep.size
        for name in _FIELDS:
            arr = getattr(self, "_" + name)
            arr[:k] = arr[keep]
            arr[k:self.used] = -1 if name == "group" else 0
        self.used = k

    def fields(self) -> tuple[np.ndarray, ...]:
        """The backing arrays of every field, in the order of ``_FIELDS`` (for kernels that write rows; kept
        as one tuple, made again only when the rows grow)."""
        return self._backing

    def _backing_arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, "_" + name) for name in _FIELDS)


def _field_view(name: str) -> property:
    private = "_" + name

    def view(self: Victims) -> np.ndarray:
        return getattr(self, private)[: self.used]

    return property(view, doc=f"``{name}`` of the rows in use (a view)")


for _name in _FIELDS:  # v.state, v.form, ...: properties (an attribute lookup, not a failed one and a fallback)
    setattr(Victims, _name, _field_view(_name))
