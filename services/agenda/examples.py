"""Example request bodies agenda publishing's OpenAPI document shows (seeds/000's workshop);
a test checks each against its operation's schema."""

from __future__ import annotations

from typing import Any, Final

AGENDA: Final[dict[str, Any]] = {
    "first day": {
        "items": [
            {
                "key": "opening",
                "kind": "opening",
                "title": "Открытие интернет-мастерской",
                "at": "2030-10-01T10:00",
                "timezone": "Europe/Moscow",
                "duration": "PT15M",
                "speakers": [
                    {
                        "name": "Алехина Ирина Леонидовна",
                        "organization": "Липецкая областная детская библиотека",
                    }
                ],
            },
            {
                "key": "quest",
                "kind": "quest-task",
                "title": "Виртуальное путешествие по Липецку",
                "at": "2030-10-01T10:15",
                "timezone": "Europe/Moscow",
                "duration": "PT45M",
                "materials": [{"title": "Задание квеста", "url": "https://lodb.example/quest/1"}],
            },
        ],
        "publish": True,
    }
}

SUMMARY: Final[dict[str, Any]] = {
    "outcomes": {
        "outcomes": {
            "ru": "Участники собрали «портфель» методических материалов.",
            "en": "The participants put together a portfolio of teaching materials.",
        },
        "publish": True,
    }
}
