"""What calendars and conference apps know a published item by, across versions: a UID, an
event number, and a sequence that rises whenever what its event says changes. Pure.

Each publication is matched against every item published before for the meeting (not only
the last version), so that an item keeps its UID through edits, through versions that drop
it for a while, and through withdrawing and publishing again. Items are matched by `key`,
then by title, then by time and track, as the agenda's diff matches them (see
`services.agenda.agendas.diff`); where several could match, the one in the last publication and
nearest in time wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from uuid import UUID, uuid5

from services.agenda.schemas import ScheduledItem, Speaker

NAMESPACE = UUID("5b1f6a2e-8a0e-4f3a-9a57-6f1d0c7e9b21")
"""Of the UIDs: an item first published before UIDs were stored keeps the one it had."""

SpeakerKey = tuple[UUID | None, str | None, str | None]
"""A registered person by id; an external speaker by name and organization."""


@dataclass(frozen=True)
class Identity:
    uid: UUID
    """The ICS UID and the frab event GUID."""
    number: int
    """The frab event id: a positive integer, unique within the meeting."""
    sequence: int
    """The ICS SEQUENCE: how many published changes the item has had."""


@dataclass(frozen=True)
class KnownItem:
    """An item as the meeting's last publication that had it showed it."""

    identity: Identity
    item: ScheduledItem
    in_last_publication: bool


def identities(
    meeting_id: UUID, known: Sequence[KnownItem], items: Sequence[ScheduledItem]
) -> list[Identity]:
    """The identities of a version's `items` (in their order) as it is published after
    everything in `known`."""
    matched = _matched(known, items)
    taken_uids = {k.identity.uid for k in known}
    last_number = max((k.identity.number for k in known), default=0)
    found: list[Identity] = []
    for position, item in enumerate(items):
        same = matched.get(position)
        if same is not None:
            changed = event_content(same.item) != event_content(item)
            identity = same.identity
            sequence = identity.sequence + 1 if changed else identity.sequence
            found.append(Identity(identity.uid, identity.number, sequence))
            continue
        last_number += 1
        uid = _first_uid(meeting_id, item, position)
        if uid in taken_uids:
            uid = uuid5(NAMESPACE, f"{meeting_id}#{last_number}")
        taken_uids.add(uid)
        found.append(Identity(uid, last_number, 0))
    return found


def event_content(item: ScheduledItem) -> tuple[object, ...]:
    """What the item's calendar event says: its time, title and place, and what its
    description lists. A change to any of it is one a calendar must take."""
    return (
        item.starts_at,
        item.ends_at,
        item.title,
        item.track,
        item.kind,
        tuple(item.speakers),
        tuple(item.materials),
    )


def speaker_key(speaker: Speaker) -> SpeakerKey:
    if speaker.person_id is not None:
        return (speaker.person_id, None, None)
    return (None, speaker.name, speaker.organization)


def _first_uid(meeting_id: UUID, item: ScheduledItem, position: int) -> UUID:
    """The UID the item had before UIDs were stored: by key, or by its place."""
    return uuid5(NAMESPACE, f"{meeting_id}:{item.key or position}")


def _by_key(item: ScheduledItem) -> Hashable:
    return item.key


def _by_title(item: ScheduledItem) -> Hashable:
    return item.title


def _by_slot(item: ScheduledItem) -> Hashable:
    return (item.starts_at, item.track)


_RULES: list[tuple[Callable[[ScheduledItem], Hashable], bool]] = [
    (_by_key, False),
    (_by_title, True),
    (_by_slot, True),
]
"""How an item is followed, in order: what must be equal, and whether that is enough only
when one of the two has no key (two different keys are two different items)."""


def _matched(known: Sequence[KnownItem], items: Sequence[ScheduledItem]) -> dict[int, KnownItem]:
    """The known item each of `items` (by position) continues; unmatched ones are new."""
    matched: dict[int, KnownItem] = {}
    free = set(range(len(known)))
    for value, unless_both_keyed in _RULES:
        by_value: dict[Hashable, list[int]] = defaultdict(list)
        for index in free:
            by_value[value(known[index].item)].append(index)
        candidates: list[tuple[bool, float, int, int, int]] = []
        for position, item in enumerate(items):
            if position in matched or value(item) is None:
                continue
            for index in by_value.get(value(item), []):
                old = known[index]
                if unless_both_keyed and old.item.key is not None and item.key is not None:
                    continue
                distance = abs((old.item.starts_at - item.starts_at).total_seconds())
                preference = (not old.in_last_publication, distance, old.identity.number)
                candidates.append((*preference, position, index))
        for *_, position, index in sorted(candidates):
            if position not in matched and index in free:
                matched[position] = known[index]
                free.remove(index)
    return matched
