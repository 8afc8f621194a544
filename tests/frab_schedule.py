"""Checks of a frab schedule (agenda.xml) as conference apps read it: against the frab
schedule XSD where it is at hand, and always against the rules apps depend on most (event
ids and GUIDs unique, a person's id an integer that stands for that person alone).

The XSD is voc/schedule's `validator/xsd/schedule.xml.xsd` (EUPL-1.2); see
tests/fixtures/frab/README.md for where it is looked for and why it may be missing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lxml import etree

_REPOSITORY = Path(__file__).parents[1]
_PLACES = [
    *([Path(os.environ["FRAB_SCHEDULE_XSD"])] if os.environ.get("FRAB_SCHEDULE_XSD") else []),
    _REPOSITORY / "tests" / "fixtures" / "frab" / "schedule.xml.xsd",
    _REPOSITORY.parent / "shared" / "frab" / "schedule.xml.xsd",
]
SCHEMA_PATH = next((path for path in _PLACES if path.is_file()), None)
SCHEMA = etree.XMLSchema(etree.parse(str(SCHEMA_PATH))) if SCHEMA_PATH else None
_UUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")

requires_schema = pytest.mark.skipif(
    SCHEMA is None,
    reason="the frab schedule XSD is in none of "
    + ", ".join(str(path) for path in _PLACES)
    + " (see tests/fixtures/frab/README.md)",
)


def schema_errors(data: bytes) -> list[str]:
    """What the XSD finds wrong with `data`; nothing when the XSD is not at hand."""
    if SCHEMA is None:
        return []
    document = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    if SCHEMA.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in SCHEMA.error_log]


def check_schedule(data: bytes) -> etree._Element:
    """`data` as apps need it, or AssertionError saying what is wrong; the parsed schedule."""
    assert schema_errors(data) == []
    schedule = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
    events = schedule.findall("day/room/event")
    ids = [event.get("id") or "" for event in events]
    assert all(id_.isdigit() and int(id_) > 0 for id_ in ids), ids
    assert len(set(ids)) == len(ids), ids
    guids = [event.get("guid") or "" for event in events]
    assert all(_UUID.match(guid) for guid in guids), guids
    assert len(set(guids)) == len(guids), guids
    assert schedule.findall("day"), "a schedule has at least one day"
    people: dict[str, str] = {}
    for person in schedule.iter("person"):
        person_id = person.get("id") or ""
        assert person_id.isdigit(), f"person {person.text!r} has id {person_id!r}"
        # One id, one person: the same id never stands for two names.
        assert people.setdefault(person_id, person.text or "") == (person.text or ""), (
            f"id {person_id} is both {people[person_id]!r} and {person.text!r}"
        )
    return schedule


def person_ids(schedule: etree._Element) -> dict[str, set[str]]:
    """Each person's name (as the schedule gives it) with the ids it has."""
    found: dict[str, set[str]] = {}
    for person in schedule.iter("person"):
        found.setdefault(person.text or "", set()).add(person.get("id") or "")
    return found
