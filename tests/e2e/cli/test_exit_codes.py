"""The table of exit codes, each code produced by the case it names: `telebridge` run as a
script runs it, against the three services as real processes.

    0 done, 1 invalid, 2 usage error, 3 unreachable, 4 refused, 5 not found, 6 conflict,
    7 server error
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from shared.version import VERSION
from telebridge.client import ExitCode
from telebridge.embedded import free_port
from tests.e2e.conftest import System
from tests.e2e.test_dev import TELEBRIDGE
from tests.support import ADMIN, OPERATOR, OPERATOR_KEY, eventually

UNKNOWN_MEETING = "01a203f3-0000-7000-8000-000000000000"
HEADER = "external_id,name,region,city,timezone"
ORGANIZATIONS = [
    "lip-1,Липецкая областная детская библиотека,RU-LIP,Липецк,",
    "pri-1,Приморская краевая публичная библиотека,RU-PRI,Владивосток,Asia/Vladivostok",
]


class Script:
    """Runs `telebridge …` as a shell script would, with the servers and the operator's key
    in the environment (the folder, the home and the rest are the test's own)."""

    def __init__(self, system: System) -> None:
        self.environment = {
            **os.environ,
            "TELEBRIDGE_REGISTRY_URL": system.url("registry"),
            "TELEBRIDGE_AGENDA_URL": system.url("agenda"),
            "TELEBRIDGE_API_KEY": OPERATOR_KEY,
            "COLUMNS": "200",
        }

    async def run(self, *arguments: str, expect: ExitCode) -> str:
        done = await asyncio.to_thread(
            subprocess.run,
            [TELEBRIDGE, *arguments],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == expect, f"{arguments}: exit {done.returncode}\n{output}"
        return output


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def test_each_exit_code_is_produced_by_the_case_it_names(
    system: System, postgres_admin_url: str, tmp_path: Path
) -> None:
    script = Script(system)
    registry, scheduling = system.url("registry"), system.url("scheduling")

    # 0 done
    assert f"telebridge {VERSION}" in await script.run("--version", expect=ExitCode.OK)
    organizations = write(tmp_path / "orgs.csv", "\n".join([HEADER, *ORGANIZATIONS]) + "\n")
    done = await script.run("orgs", "import", str(organizations), expect=ExitCode.OK)
    assert "created 2, updated 0, unchanged 0, invalid 0" in done
    meeting = await new_meeting(registry, scheduling)
    agenda = write(tmp_path / "agenda.yaml", agenda_file(meeting, last_offset="30m"))
    done = await script.run("agenda", "publish", str(agenda), expect=ExitCode.OK)
    assert "version 1 published" in done

    # 1 invalid: each problem with its row or line, and its field
    bad_rows = write(
        tmp_path / "bad.csv",
        f"{HEADER}\nmsk-1,Музей,Атлантида,,\nmsk-2,Музей на Марсе,RU-MOW,,Mars/Olympus\n",
    )
    refused = await script.run("orgs", "import", str(bad_rows), expect=ExitCode.INVALID)
    assert "row 2: region: 'Атлантида' is not a region" in refused
    assert "row 3: timezone: 'Mars/Olympus'" in refused  # the registry's finding
    late = write(tmp_path / "late.yaml", agenda_file(meeting, last_offset="3h"))
    refused = await script.run("agenda", "publish", str(late), expect=ExitCode.INVALID)
    assert f"{late}: line 8: items[1]" in refused
    assert "is not inside its session" in refused

    # 2 usage error: Click's own, never a server's answer
    refused = await script.run("agenda", "show", "not-a-uuid", expect=ExitCode.USAGE)
    assert "Invalid value for 'meeting'" in refused
    await script.run("agenda", "show", meeting, "--bogus", expect=ExitCode.USAGE)
    await script.run("orgs", "import", str(tmp_path / "none.csv"), expect=ExitCode.USAGE)
    await script.run("summary", "publish", expect=ExitCode.USAGE)  # which meeting?

    # 3 unreachable
    nowhere = f"http://127.0.0.1:{free_port()}"
    for command in (
        ["agenda", "show", meeting, "--server", nowhere],
        ["orgs", "import", str(organizations), "--server", nowhere],
    ):
        refused = await script.run(*command, expect=ExitCode.UNREACHABLE)
        assert f"unreachable: {nowhere} did not answer" in refused

    # 4 refused: a key nobody issued, a partner's key where staff's is needed, no key
    refused = await script.run(
        "agenda", "show", meeting, "--key", "tb_nope", expect=ExitCode.REFUSED
    )
    assert "refused: 401" in refused
    partner = await partner_key(registry)
    refused = await script.run(
        "orgs", "import", str(organizations), "--key", partner, expect=ExitCode.REFUSED
    )
    assert "refused: 403 Forbidden: only operator and admin keys may do this" in refused
    del script.environment["TELEBRIDGE_API_KEY"]
    refused = await script.run("agenda", "show", meeting, expect=ExitCode.REFUSED)
    assert "no key" in refused
    script.environment["TELEBRIDGE_API_KEY"] = OPERATOR_KEY

    # 5 not found
    refused = await script.run("agenda", "show", UNKNOWN_MEETING, expect=ExitCode.NOT_FOUND)
    assert "not found: 404" in refused
    await script.run("summary", "show", UNKNOWN_MEETING, expect=ExitCode.NOT_FOUND)

    # 6 conflict: the meeting has not ended, so its summary is not written yet
    refused = await script.run("summary", "publish", meeting, expect=ExitCode.CONFLICT)
    assert "its summary is written when it ends" in refused
    await script.run("summary", "show", meeting, "--draft", expect=ExitCode.CONFLICT)

    # 7 server error: the services' database refuses every connection, and they say 5xx
    async with database_down(postgres_admin_url, system.database_url):
        refused = await script.run("agenda", "show", meeting, expect=ExitCode.SERVER_ERROR)
    assert "server error: 50" in refused


def agenda_file(meeting: str, *, last_offset: str) -> str:
    return f"""\
meeting: {meeting}
timezone: Europe/Moscow
items:
  - offset: 0m
    duration: 30m
    kind: opening
    title: Открытие
  - offset: {last_offset}
    duration: 30m
    kind: talk
    title: Доклад
"""


async def new_meeting(registry: str, scheduling: str) -> str:
    """A telebridge two hours long, next week, between the two imported organizations."""
    async with httpx.AsyncClient(headers=OPERATOR, timeout=30) as client:
        listed = await client.get(f"{registry}/organizations")
        assert listed.status_code == 200, listed.text
        ids = {item["name"]: item["id"] for item in listed.json()["items"]}
        host, site = sorted(ids.values())
        starts = (datetime.now(UTC) + timedelta(days=7)).replace(
            hour=8, minute=0, second=0, microsecond=0
        )
        body: dict[str, Any] = {
            "title": "Телемост",
            "kind": "telebridge",
            "host_organization_id": host,
            "sites": [{"organization_id": site}],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "force": True,
        }

        async def created() -> str | None:
            response = await client.post(f"{scheduling}/meetings", json=body)
            if response.status_code == 201:
                return str(response.json()["id"])
            assert response.status_code in (404, 422, 503), response.text  # not heard of yet
            return None

        return await eventually(created, timeout=30)


async def partner_key(registry: str) -> str:
    async with httpx.AsyncClient(headers=ADMIN, timeout=30) as client:
        organization = await client.post(
            f"{registry}/organizations", json={"name": "Библиотека", "region": "RU-LIP"}
        )
        assert organization.status_code == 201, organization.text
        issued = await client.post(
            f"{registry}/keys",
            json={"name": "partner", "organization_id": organization.json()["id"]},
        )
        assert issued.status_code == 201, issued.text
        return str(issued.json()["secret"])


@asynccontextmanager
async def database_down(admin_url: str, database_url: str) -> AsyncIterator[None]:
    """The test's database takes no connection, and has none open, until the block ends."""
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
