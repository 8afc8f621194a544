"""What calendars and conference apps know an item by across publications: its UID and event
number stay while it lasts, and its sequence rises exactly when its event changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

from hypothesis import given, settings
from hypothesis import strategies as st

from services.agenda.agendas.identities import (
    NAMESPACE,
    Identity,
    KnownItem,
    event_content,
    identities,
)
from services.agenda.schemas import Material, ScheduledItem, Speaker

MEETING = UUID(int=7)
START = datetime(2020, 10, 1, 7, 0, tzinfo=UTC)


def item(minutes: int, title: str, *, key: str | None = None, **fields: object) -> ScheduledItem:
    values: dict[str, object] = {
        "title": title,
        "kind": "talk",
        "key": key,
        "starts_at": START + timedelta(minutes=minutes),
        "ends_at": START + timedelta(minutes=minutes + 30),
        "timezone": "Europe/Moscow",
        "session_id": UUID(int=1),
        "track": None,
        "speakers": [],
        "materials": [],
    } | fields
    return ScheduledItem(**values)  # type: ignore[arg-type]


class Publications:
    """What the store keeps of a meeting's publications: every item published, as last
    published, and which were in the last one."""

    def __init__(self) -> None:
        self.known: dict[UUID, KnownItem] = {}

    def publish(self, items: Sequence[ScheduledItem]) -> list[Identity]:
        found = identities(MEETING, list(self.known.values()), items)
        for uid, known in self.known.items():
            self.known[uid] = replace(known, in_last_publication=False)
        for published, identity in zip(items, found, strict=True):
            self.known[identity.uid] = KnownItem(identity, published, in_last_publication=True)
        return found


def test_a_first_publication_keeps_the_uids_items_always_had_and_numbers_them_in_order() -> None:
    items = [item(0, "Открытие", key="opening"), item(30, "Доклад")]
    assert identities(MEETING, [], items) == [
        Identity(uuid5(NAMESPACE, f"{MEETING}:opening"), 1, 0),
        Identity(uuid5(NAMESPACE, f"{MEETING}:1"), 2, 0),
    ]


def test_the_sequence_rises_when_time_title_or_place_changes_and_only_then() -> None:
    publications = Publications()
    first = [
        item(0, "Открытие", key="opening"),
        item(30, "Доклад о краеведении"),
        item(60, "Экскурсия", track="Площадка 1"),
        item(90, "Закрытие"),
    ]
    before = publications.publish(first)
    changed = [
        item(0, "Открытие", key="opening", ends_at=START + timedelta(minutes=20)),  # time
        item(30, "Доклад о краеведении Георгиевска"),  # title, followed by its time
        item(60, "Экскурсия", track="Площадка 2"),  # place
        item(90, "Закрытие"),  # unchanged
    ]
    after = publications.publish(changed)
    assert [i.uid for i in after] == [i.uid for i in before]
    assert [i.number for i in after] == [1, 2, 3, 4]
    assert [i.sequence for i in after] == [1, 1, 1, 0]
    again = publications.publish(changed)
    assert again == after


def test_an_item_put_in_front_takes_no_one_elses_uid() -> None:
    publications = Publications()
    before = publications.publish([item(0, "Доклад"), item(30, "Обсуждение")])
    after = publications.publish(
        [item(-30, "Приветствие"), item(0, "Доклад"), item(30, "Обсуждение")]
    )
    assert after[1:] == before
    assert after[0].uid not in {i.uid for i in before}
    assert (after[0].number, after[0].sequence) == (3, 0)


def test_an_item_that_comes_back_gets_its_uid_back_with_its_changes_counted() -> None:
    publications = Publications()
    [_, talk] = publications.publish([item(0, "Открытие"), item(30, "Доклад", key="talk")])
    publications.publish([item(0, "Открытие")])
    [_, back] = publications.publish(
        [item(0, "Открытие"), item(45, "Доклад", key="talk")]  # back, and later
    )
    assert (back.uid, back.number, back.sequence) == (talk.uid, talk.number, 1)


def test_breaks_of_the_same_title_keep_theirs_when_one_is_added() -> None:
    publications = Publications()
    before = publications.publish([item(60, "Перерыв"), item(180, "Перерыв")])
    after = publications.publish([item(0, "Перерыв"), item(60, "Перерыв"), item(180, "Перерыв")])
    assert after[1:] == before
    assert after[0].uid not in {i.uid for i in before}


def test_the_item_of_the_last_publication_wins_over_one_dropped_earlier() -> None:
    publications = Publications()
    [dropped] = publications.publish([item(0, "Доклад", key="first")])
    [kept] = publications.publish([item(300, "Доклад", key="second")])
    assert kept.uid != dropped.uid  # two keys: two items
    [again] = publications.publish([item(0, "Доклад")])
    assert again.uid == kept.uid


# --- the rule, over any run of publications -----------------------------------------------

TITLES = ["Открытие", "Доклад", "Перерыв", "Экскурсия", "Обсуждение"]
KEYS = [None, None, "opening", "talk", "closing"]
TRACKS = [None, "Площадка 1", "Площадка 2"]
SPEAKERS = [[], [Speaker(name="Анна Ким", organization="ПКПБ", external=True)]]
MATERIALS = [[], [Material(title="Маршрут", url="https://pkpb.example/tour")]]

items_strategy = st.builds(
    lambda slot, length, title, key, track, kind, speakers, materials: item(
        slot * 30,
        title,
        key=key,
        ends_at=START + timedelta(minutes=slot * 30 + length),
        track=track,
        kind=kind,
        speakers=speakers,
        materials=materials,
    ),
    st.integers(0, 8),
    st.sampled_from([15, 30]),
    st.sampled_from(TITLES),
    st.sampled_from(KEYS),
    st.sampled_from(TRACKS),
    st.sampled_from(["talk", "break"]),
    st.sampled_from(SPEAKERS),
    st.sampled_from(MATERIALS),
)
# As an agenda is accepted: no two items overlap (each slot is as long as the longest item).
versions_strategy = st.lists(
    st.lists(items_strategy, max_size=8, unique_by=lambda item: item.starts_at),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(versions_strategy)
def test_over_any_publications_uids_last_and_sequences_count_changes(
    versions: list[list[ScheduledItem]],
) -> None:
    publications = Publications()
    number_of: dict[UUID, int] = {}
    for items in versions:
        last = dict(publications.known)
        found = publications.publish(items)
        assert len({i.uid for i in found}) == len(found)
        assert len({i.number for i in found}) == len(found)
        for published, identity in zip(items, found, strict=True):
            assert identity.number > 0
            # A UID has one number for good, and a number one UID.
            assert number_of.setdefault(identity.uid, identity.number) == identity.number
            before = last.get(identity.uid)
            if before is None:
                assert identity.sequence == 0
                assert identity.number not in {k.identity.number for k in last.values()}
            else:
                changed = event_content(before.item) != event_content(published)
                assert identity.sequence == before.identity.sequence + changed
            # An item with a key keeps the UID of the one it had before (keys are meant to be
            # one item's; where a version repeats one, any of its holders may continue it).
            holders = {uid for uid, known in last.items() if known.item.key == published.key}
            if published.key is not None and holders:
                assert identity.uid in holders or [i.key for i in items].count(published.key) > 1


@settings(max_examples=300, deadline=None)
@given(versions_strategy)
def test_publishing_the_same_items_again_changes_nothing(
    versions: list[list[ScheduledItem]],
) -> None:
    publications = Publications()
    for items in versions:
        found = publications.publish(items)
        assert publications.publish(items) == found
