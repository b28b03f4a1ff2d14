"""The lever interface: a start, an optional end, a scope, an intensity, and ``apply``.

Concrete kinds subclass ``Lever`` and register with ``@register``. The model
calls ``active(model, t)`` and, when active, ``apply(model)`` each month, before
anything else moves.
"""

from __future__ import annotations

from typing import Any, ClassVar

LEVERS: dict[str, type[Lever]] = {}


class Lever:
    kind: ClassVar[str] = ""
    start: str
    end: str | None = None

    def active(self, model, t: int) -> bool:
        if t < model.month_index(self.start):
            return False
        return self.end is None or t <= model.month_index(self.end)

    def apply(self, model) -> None:  # pragma: no cover - each kind defines it
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


def register(cls: type[Lever]) -> type[Lever]:
    LEVERS[cls.kind] = cls
    return cls


def lever_from_dict(item: Any, where: str = "[[levers]]") -> Lever:
    """Build a lever from a scenario table; unknown kinds are refused with the list of known ones."""
    if not isinstance(item, dict) or "kind" not in item:
        raise ValueError(f"{where}: expected a table with a 'kind' key")
    kind = item["kind"]
    cls = LEVERS.get(kind)
    if cls is None:
        known = ", ".join(sorted(LEVERS)) or "none in this version"
        raise ValueError(f"{where}: kind = {kind!r} is not a known lever; known kinds: {known}")
    return cls.from_dict(item, where)
