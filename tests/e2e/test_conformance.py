"""Schemathesis against each running service: every phase (examples, coverage, fuzzing, and
the stateful one that follows the documents' links), every check.

The rule: whatever a client sends, valid or not, no answer is a 5xx, and every answer is
one the service's OpenAPI document lists, with its media type, headers and schema (errors
as problem documents). Schemathesis runs from its own environment (tests/conformance), with
the settings and the reasons for them in tests/conformance/schemathesis.toml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from shared.events import SERVICES
from tests.e2e.conftest import System
from tests.e2e.partners import ok, retry_until_known
from tests.support import ADMIN, ADMIN_KEY, ROOT

pytestmark = pytest.mark.conformance

CONFORMANCE = ROOT / "tests" / "conformance"


async def _data(system: System) -> dict[str, str]:
    """One of each thing the APIs name by id, made through the APIs: the ids to try."""
    registry, scheduling, agenda = (
        system.url(name) for name in ("registry", "scheduling", "agenda")
    )
    async with httpx.AsyncClient(headers=ADMIN, timeout=30) as client:
        host = ok(
            await client.post(
                f"{registry}/organizations",
                json={"name": "Липецкая областная детская библиотека", "region": "RU-LIP"},
            ),
            201,
        )
        site = ok(
            await client.post(
                f"{registry}/organizations",
                json={"name": "Брянская областная детская библиотека", "region": "RU-BRY"},
            ),
            201,
        )
        person = ok(
            await client.post(
                f"{registry}/people",
                json={
                    "organization_id": host["id"],
                    "surname": "Алехина",
                    "given_name": "Ирина",
                    "email": "alekhina@lodb.example",
                },
            ),
            201,
        )
        key = ok(
            await client.post(
                f"{registry}/keys", json={"name": "сайт ЛОДБ", "organization_id": host["id"]}
            ),
            201,
        )
        meeting = ok(
            await retry_until_known(
                client,
                "POST",
                f"{scheduling}/meetings",
                {
                    "title": "Интернет-мастерская «Читаем вместе»",
                    "kind": "workshop",
                    "host_organization_id": host["id"],
                    "sites": [{"organization_id": site["id"]}],
                    "starts_at": "2031-10-01T10:00:00+03:00",
                    "ends_at": "2031-10-01T12:00:00+03:00",
                    "force": True,
                },
            ),
            201,
        )
        registration = ok(
            await retry_until_known(
                client,
                "POST",
                f"{registry}/meetings/{meeting['id']}/registrations",
                {"person_id": person["id"]},
            ),
            201,
        )
        link = ok(await client.get(f"{registry}/registrations/{registration['id']}/rsvp-link"))
        feed = ok(
            await client.post(
                f"{scheduling}/feeds", json={"kind": "organization", "organization_id": host["id"]}
            ),
            201,
        )
        ok(
            await retry_until_known(
                client,
                "PUT",
                f"{agenda}/meetings/{meeting['id']}/agenda",
                {
                    "items": [{"title": "Открытие", "offset": "PT0M", "duration": "PT30M"}],
                    "publish": True,
                },
            )
        )
    return {
        "MEETING": meeting["id"],
        "SESSION": meeting["sessions"][0]["id"],
        "ORGANIZATION": host["id"],
        "PERSON": person["id"],
        "REGISTRATION": registration["id"],
        "API_KEY": key["id"],
        "FEED": feed["id"],
        "RSVP_TOKEN": link["token"],
        "CALENDAR_TOKEN": urlsplit(feed["url"]).path.rsplit("/", 1)[-1],
    }


def _schemathesis(arguments: list[str], environment: dict[str, str], tmp_path: Path) -> Any:
    """Schemathesis with tests/conformance/schemathesis.toml, its `${...}` filled in (it fills
    in only some of its settings itself)."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv runs schemathesis from tests/conformance"
    settings = tmp_path / "schemathesis.toml"
    settings.write_text(
        Template((CONFORMANCE / "schemathesis.toml").read_text(encoding="utf-8")).substitute(
            environment
        ),
        encoding="utf-8",
    )
    return subprocess.run(
        [
            uv,
            "run",
            "--project",
            str(CONFORMANCE),
            "--locked",
            "--quiet",
            "schemathesis",
            "--config-file",
            str(settings),
            *arguments,
        ],
        env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_every_answer_is_one_the_document_lists(
    system: System, service: str, tmp_path: Path
) -> None:
    made = await _data(system)
    environment = {f"TELEBRIDGE_CONFORMANCE_{name}": value for name, value in made.items()}
    environment["TELEBRIDGE_CONFORMANCE_KEY"] = ADMIN_KEY
    result = _schemathesis(
        [
            "run",
            f"{system.url(service)}/schema/openapi.json",
            "--checks",
            "all",
            # DELETE /registrations/{id} cancels a sign-up: the registration stays readable,
            # as cancelled, so that partners see what became of it (as the operation says).
            "--exclude-checks",
            "use_after_free",
            "--report",
            "har",
            "--report-dir",
            str(tmp_path),
        ],
        environment,
        tmp_path,
    )
    report = result.stdout + result.stderr
    (tmp_path / "report.txt").write_text(report, encoding="utf-8")
    assert result.returncode == 0, report[-12000:]
    assert "No issues found" in report or "passed" in report, report[-4000:]
