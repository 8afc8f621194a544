"""Example request bodies scheduling's OpenAPI document shows partners (seeds/000's
workshop); a test checks each against its operation's schema."""

from __future__ import annotations

from typing import Any, Final

from shared.examples import ASTRAKHAN, LIPETSK, PERSON

_WORKSHOP: Final[dict[str, Any]] = {
    "title": "Интернет-мастерская «Читаем вместе»",
    "kind": "workshop",
    "host_organization_id": LIPETSK,
    "sites": [{"organization_id": ASTRAKHAN, "room": "Читальный зал"}],
    "conference": {"url": "https://telemost.yandex.ru/j/12345678901234", "platform": "telemost"},
}

MEETING: Final[dict[str, Any]] = {
    "one session": _WORKSHOP
    | {"starts_at": "2030-10-01T10:00:00+03:00", "ends_at": "2030-10-01T12:00:00+03:00"},
    "local times with a zone": _WORKSHOP
    | {
        "starts_at": "2030-10-01T10:00",
        "ends_at": "2030-10-01T12:00",
        "timezone": "Europe/Moscow",
    },
    "several days": _WORKSHOP
    | {
        "sessions": [
            {"starts_at": "2030-10-01T10:00:00+03:00", "ends_at": "2030-10-01T12:00:00+03:00"},
            {"starts_at": "2030-10-02T10:00:00+03:00", "ends_at": "2030-10-02T12:00:00+03:00"},
        ]
    },
}

SLOTS: Final[dict[str, Any]] = {
    "two hours this week": {
        "organization_ids": [LIPETSK, ASTRAKHAN],
        "duration_minutes": 120,
        "window_start": "2030-10-01T00:00:00Z",
        "window_end": "2030-10-08T00:00:00Z",
    }
}

FEED: Final[dict[str, Any]] = {
    "the organization's meetings": {"kind": "organization", "organization_id": LIPETSK},
    "one person's meetings": {"kind": "person", "person_id": PERSON},
}
