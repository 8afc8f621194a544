"""Organizations name their time zone; a wrong name is caught with a useful hint."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shared.timezones import known_zones, timezone_error, zone_label


@pytest.mark.parametrize(
    "name", ["Europe/Moscow", "Asia/Vladivostok", "Europe/Samara", "Asia/Kamchatka", "UTC"]
)
def test_iana_zones_are_accepted(name: str) -> None:
    assert timezone_error(name) is None
    assert name in known_zones()


def test_a_name_that_is_not_in_the_iana_database_is_rejected() -> None:
    message = timezone_error("Europe/Luhansk")

    assert message is not None
    assert "'Europe/Luhansk' is not an IANA time zone" in message


def test_a_typo_gets_a_suggestion() -> None:
    message = timezone_error("Asia/Vladivostock")

    assert message is not None
    assert "Asia/Vladivostock" in message
    assert "did you mean" in message
    assert "Asia/Vladivostok" in message.split("did you mean", 1)[1]


@pytest.mark.parametrize("name", ["", "MSK+7", "Nowhere/At_All_Really"])
def test_nonsense_gets_no_suggestion(name: str) -> None:
    message = timezone_error(name)

    assert message is not None
    assert "did you mean" not in message


def test_names_are_case_sensitive() -> None:
    message = timezone_error("europe/moscow")

    assert message is not None
    assert "Europe/Moscow" in message


@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules"])
def test_names_that_are_not_places_are_refused(name: str) -> None:
    """Such files may sit in a host's tz folder, but no other host can load them."""
    assert timezone_error(name) is not None


@pytest.mark.parametrize(
    ("zone", "language", "label"),
    [
        ("Europe/Moscow", "ru", "Москва, UTC+3"),
        ("Europe/Moscow", "en", "Moscow, UTC+3"),
        ("Asia/Kamchatka", "ru", "Петропавловск-Камчатский, UTC+12"),
        ("Asia/Kolkata", "en", "Kolkata, UTC+5:30"),
        ("Europe/Berlin", "ru", "Берлин, UTC+2"),  # summer time on 1 October
        ("America/St_Johns", "en", "St. John’s, UTC-2:30"),
        ("UTC", "ru", "UTC"),
        ("Etc/GMT-3", "ru", "UTC+3"),
    ],
)
def test_a_zone_is_named_by_its_place_and_its_offset_then(
    zone: str, language: str, label: str
) -> None:
    assert zone_label(ZoneInfo(zone), datetime(2020, 10, 1, 7, tzinfo=UTC), language) == label
