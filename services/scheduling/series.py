"""Recurring meetings: an RFC 5545 RRULE expanded into occurrences. Pure: no I/O.

A series recurs on the wall clock of its zone, as calendar programs expand it: a meeting
every second Tuesday at 11:00 in Europe/Berlin stays at 11:00 local when Berlin changes
its clocks, and so moves by an hour for Moscow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

MAX_OCCURRENCES = 400
"""A series may not be longer: a weekly meeting for about eight years."""
_FREQUENCIES = frozenset({"DAILY", "WEEKLY", "MONTHLY", "YEARLY"})


class RecurrenceError(ValueError):
    """The rule is not one Telebridge can expand into meetings."""


@dataclass(frozen=True)
class Occurrence:
    recurrence_id: datetime
    """Its start as the rule gives it, in UTC."""
    starts_at: datetime
    ends_at: datetime


def normalized_rule(text: str) -> str:
    """The rule in the form written to calendars (`FREQ=…;…`), or a RecurrenceError.

    A `RRULE:` prefix is accepted. The rule must end (COUNT or UNTIL); UNTIL must be a UTC
    date-time, as RFC 5545 requires with a zoned start.
    """
    rule = text.strip().upper().removeprefix("RRULE:")
    parts = dict(_part(part) for part in rule.split(";") if part)
    frequency = parts.get("FREQ")
    if frequency not in _FREQUENCIES:
        raise RecurrenceError(
            f"FREQ must be one of {', '.join(sorted(_FREQUENCIES))}, not {frequency or 'missing'}"
        )
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise RecurrenceError(
            "the series must end: give COUNT (how many times) or UNTIL (a UTC date-time)"
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("give COUNT or UNTIL, not both (RFC 5545)")
    if (until := parts.get("UNTIL")) is not None and not until.endswith("Z"):
        raise RecurrenceError(f"UNTIL must be a UTC date-time such as 20271231T235959Z: {until}")
    normalized = ";".join(f"{key}={value}" for key, value in parts.items())
    try:
        rrulestr(normalized, dtstart=datetime(2000, 1, 1, tzinfo=UTC))
    except (ValueError, TypeError) as error:
        raise RecurrenceError(f"not a valid RRULE: {error}") from error
    return normalized


def _part(part: str) -> tuple[str, str]:
    key, separator, value = part.partition("=")
    if not separator or not key or not value:
        raise RecurrenceError(f"not a valid RRULE part: {part!r} (expected NAME=VALUE)")
    return key, value


def occurrences(
    rule: str, starts_at: datetime, ends_at: datetime, zone: ZoneInfo
) -> list[Occurrence]:
    """Every occurrence of the series whose first one is `starts_at`–`ends_at`, in UTC.

    Each occurrence keeps the first one's local start and its length in wall-clock time.
    """
    local_start = starts_at.astimezone(zone)
    local_length = ends_at.astimezone(zone).replace(tzinfo=None) - local_start.replace(tzinfo=None)
    expanded = rrulestr(normalized_rule(rule), dtstart=local_start)
    assert isinstance(expanded, rrule)
    found: list[Occurrence] = []
    for start in expanded:
        if len(found) == MAX_OCCURRENCES:
            raise RecurrenceError(
                f"the series has more than {MAX_OCCURRENCES} occurrences: end it sooner"
            )
        found.append(
            Occurrence(
                recurrence_id=_utc(start),
                starts_at=_utc(start),
                ends_at=_utc(start + local_length),
            )
        )
    if not found:
        raise RecurrenceError("the rule gives no occurrence from the meeting's start on")
    return found


def _utc(local: datetime) -> datetime:
    """A wall-clock time of the zone as UTC; a time in a spring-forward gap is read with the
    offset before the gap, as RFC 5545 section 3.3.5 prescribes."""
    return local.astimezone(UTC)
