"""What changed between two versions of an agenda, item by item and field by field.

Items are followed by their `key` where both versions give one, then by title, in order of
time. What is left is added or removed. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from services.agenda.schemas import ScheduledItem

COMPARED = (
    "title",
    "kind",
    "starts_at",
    "ends_at",
    "timezone",
    "session_id",
    "track",
    "speakers",
    "materials",
)


class FieldChange(msgspec.Struct, frozen=True):
    field: str
    before: Any
    after: Any


class ItemChange(msgspec.Struct, frozen=True):
    before: ScheduledItem
    after: ScheduledItem
    changes: list[FieldChange]


class AgendaDiff(msgspec.Struct, frozen=True):
    added: list[ScheduledItem]
    removed: list[ScheduledItem]
    changed: list[ItemChange]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(before: Sequence[ScheduledItem], after: Sequence[ScheduledItem]) -> AgendaDiff:
    pairs, removed, added = _matched(list(before), list(after))
    changed = [
        ItemChange(before=old, after=new, changes=changes)
        for old, new in pairs
        if (changes := _field_changes(old, new))
    ]
    changed.sort(key=lambda change: change.after.starts_at)
    return AgendaDiff(added=added, removed=removed, changed=changed)


def _matched(
    before: list[ScheduledItem], after: list[ScheduledItem]
) -> tuple[list[tuple[ScheduledItem, ScheduledItem]], list[ScheduledItem], list[ScheduledItem]]:
    pairs: list[tuple[ScheduledItem, ScheduledItem]] = []
    for same in (_same_key, _same_title):
        for new in list(after):
            old = next((old for old in before if same(old, new)), None)
            if old is not None:
                pairs.append((old, new))
                before.remove(old)
                after.remove(new)
    return pairs, before, after


def _same_key(old: ScheduledItem, new: ScheduledItem) -> bool:
    return old.key is not None and old.key == new.key


def _same_title(old: ScheduledItem, new: ScheduledItem) -> bool:
    return (old.key is None or new.key is None) and old.title == new.title


def _field_changes(old: ScheduledItem, new: ScheduledItem) -> list[FieldChange]:
    before, after = msgspec.to_builtins(old), msgspec.to_builtins(new)
    return [
        FieldChange(field=name, before=before.get(name), after=after.get(name))
        for name in COMPARED
        if before.get(name) != after.get(name)
    ]
