"""Example request bodies the registry's OpenAPI document shows partners (seeds/000's
workshop); a test checks each against its operation's schema."""

from __future__ import annotations

from typing import Any, Final

from shared.examples import LIPETSK, PERSON, SESSION

ORGANIZATION: Final[dict[str, Any]] = {
    "lipetsk": {
        "name": "Липецкая областная детская библиотека",
        "short_name": "ЛОДБ",
        "kind": "library",
        "region": "RU-LIP",
        "city": "Липецк",
        "timezone": "Europe/Moscow",
        "working_hours": {
            day: [{"start": "09:00", "end": "18:00"}] for day in ("mon", "tue", "wed", "thu", "fri")
        },
        "contacts": [{"name": "Методический отдел", "email": "metod@lodb.example"}],
        "external_id": "lodb",
    }
}

PERSON_CREATE: Final[dict[str, Any]] = {
    "librarian": {
        "surname": "Алехина",
        "given_name": "Ирина",
        "patronymic": "Леонидовна",
        "email": "alekhina@lodb.example",
        "position": "заведующая отделом",
    },
    "staff key names the organization": {
        "organization_id": LIPETSK,
        "surname": "Умеренко",
        "given_name": "Светлана",
        "email": "umerenko@lodb.example",
        "language": "ru",
    },
}

KEY: Final[dict[str, Any]] = {
    "partner": {
        "name": "Сайт Липецкой областной детской библиотеки",
        "role": "partner",
        "organization_id": LIPETSK,
        "scopes": ["registry:read", "registry:write", "scheduling:read", "scheduling:write"],
    }
}

SIGN_UP: Final[dict[str, Any]] = {
    "participant": {"person_id": PERSON},
    "speaker": {"person_id": PERSON, "role": "speaker"},
}

RSVP: Final[dict[str, Any]] = {"accepted": {"rsvp": "accepted"}, "declined": {"rsvp": "declined"}}

CHECK_INS: Final[dict[str, Any]] = {
    "one session": {"person_ids": [PERSON], "session_id": SESSION},
    "taken back": {"person_ids": [PERSON], "session_id": SESSION, "attended": False},
}
