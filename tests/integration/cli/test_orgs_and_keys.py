"""`telebridge orgs import` and `telebridge keys create-admin` against a real registry.

The registry runs in-process under uvicorn on a free port, in a thread of its own, against
the test's PostgreSQL and NATS: the commands talk to it over HTTP as they would to a
deployed one. They run in a worker thread so the test's event loop stays free.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import pytest
import uvicorn
from litestar import Litestar
from nats.js import JetStreamContext
from typer.testing import CliRunner, Result

from services.registry.app import create_app
from shared.events import REGISTRY
from shared.keys import prefix_of
from shared.settings import RegistrySettings
from telebridge.cli import app as cli
from telebridge.client import ExitCode
from telebridge.orgs import ImportSummary, import_file
from tests.integration.api import Published, published
from tests.support import OPERATOR, OPERATOR_KEY, eventually, settings_for

UPSERTED = "registry.organization.upserted"
ISSUED = "registry.apikey.issued"
HEADER = (
    "external_id,name,short_name,kind,region,city,timezone,working_hours,blackout_dates,"
    "contact_name,contact_email,contact_phone,public"
)
LIPETSK = (
    "lip-1,Липецкая областная детская библиотека,ЛОДБ,library,Липецкая область,Липецк,,"
    '"mon-fri 09:00-18:00; sat 10:00-16:00",2026-01-07 2026-01-08,'
    "Ольга Арутинова,olga@example.org,+7 4742 22-33-44,да"
)
PRIMORYE = (
    "pri-1,Приморская краевая публичная библиотека им. А. М. Горького,,library,25,"
    "Владивосток,Asia/Vladivostok,пн-пт 10:00-19:00,,,,,yes"
)
MUSEUM = "msk-1,Музей Москвы,,museum,RU-MOW,Москва,,,,,,,no"
GOOD = [LIPETSK, PRIMORYE, MUSEUM]


@dataclass
class Registry:
    url: str
    database_url: str
    js: JetStreamContext
    database: asyncpg.Connection

    async def request(
        self, method: str, path: str, key: str = OPERATOR_KEY, **options: Any
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.url) as client:
            return await client.request(
                method, path, headers={"Authorization": f"Bearer {key}"}, **options
            )

    async def organizations(self) -> dict[str, dict[str, Any]]:
        rows = await self.database.fetch("SELECT * FROM registry.organizations")
        return {row["external_id"]: dict(row) for row in rows}

    async def written(self, subject: str) -> int:
        """Events with `subject` the registry wrote to its outbox, sent or not."""
        count: int = await self.database.fetchval(
            "SELECT count(*) FROM registry.outbox WHERE subject = $1", subject
        )
        return count

    async def relayed(self, subject: str, count: int) -> list[Published]:
        """The stream's events with `subject`, once there are `count` of them."""

        async def enough() -> list[Published] | None:
            found = [m for m in await published(self.js, REGISTRY) if m.subject == subject]
            return found if len(found) >= count else None

        return await eventually(enough)

    async def all_relayed(self) -> None:
        async def none_unsent() -> bool:
            unsent: int = await self.database.fetchval(
                "SELECT count(*) FROM registry.outbox WHERE sent_at IS NULL"
            )
            return unsent == 0

        await eventually(none_unsent)


@asynccontextmanager
async def over_http(app: Litestar) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free port in a thread of its own; yield its URL."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listening]}, name="registry", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive(), "the registry stopped while starting"
            assert time.monotonic() < deadline, "the registry did not start within 60s"
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)
        listening.close()


@asynccontextmanager
async def running_registry(
    database_url: str, nats_url: str, **overrides: Any
) -> AsyncIterator[Registry]:
    app = create_app(settings_for(RegistrySettings, database_url, nats_url, **overrides))
    client = await nats.connect(nats_url)
    database = await asyncpg.connect(database_url)
    try:
        async with over_http(app) as url:
            yield Registry(url, database_url, client.jetstream(), database)
    finally:
        await database.close()
        await client.close()


@pytest.fixture
async def registry(database_url: str, nats_url: str) -> AsyncIterator[Registry]:
    async with running_registry(database_url, nats_url) as running:
        yield running


async def telebridge(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the command in a worker thread, as a shell would, and return what it printed."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def import_csv(registry: Registry, path: Path, *options: str) -> Result:
    return await telebridge(
        "orgs", "import", str(path), "--server", registry.url, "--key", OPERATOR_KEY, *options
    )


def secret_in(result: Result) -> str:
    """The key a command printed on standard output (the registry's log may be there too)."""
    [secret] = [line for line in result.stdout.splitlines() if line.startswith("tb_")]
    return secret


def csv_file(tmp_path: Path, *rows: str, name: str = "orgs.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


# --- orgs import ----------------------------------------------------------------------


async def test_good_rows_go_in_and_bad_ones_are_reported_with_their_row_numbers(
    registry: Registry, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path,
        LIPETSK,  # row 2
        PRIMORYE,  # row 3
        "bad-hours,Библиотека,,library,RU-LIP,,,mon-fri 9-18,,,,,",  # row 4
        "bad-region,Атлантида,,other,Atlantis,,,,,,,,",  # row 5
        "bad-zone,Библиотека на Марсе,,library,RU-LIP,,Mars/Olympus,,,,,,",  # row 6
        "lip-1,Липецкая библиотека ещё раз,,library,RU-LIP,,,,,,,,",  # row 7
        MUSEUM,  # row 8
    )

    result = await import_csv(registry, path)

    assert result.exit_code == 1, result.output
    assert "created 3, updated 0, unchanged 0, invalid 4" in result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("row ")] == [
        "row 4",
        "row 5",
        "row 6",
        "row 7",
    ]
    assert "row 4: working_hours: '9' is not a time as HH:MM" in lines
    assert any(line.startswith("row 5: region: 'Atlantis' is not a region") for line in lines)
    # The CLI leaves time zones to the registry, which reports them by the row's number.
    assert any(line.startswith("row 6: timezone: 'Mars/Olympus'") for line in lines), lines
    assert "row 7: external_id 'lip-1' was already given on row 2" in lines

    stored = await registry.organizations()
    assert sorted(stored) == ["lip-1", "msk-1", "pri-1"]
    lipetsk = stored["lip-1"]
    assert lipetsk["name"] == "Липецкая областная детская библиотека"
    assert lipetsk["region_code"] == "RU-LIP"
    assert lipetsk["timezone"] == "Europe/Moscow"  # the region's, as none was given
    assert lipetsk["public"] is True
    assert [day.isoformat() for day in lipetsk["blackout_dates"]] == ["2026-01-07", "2026-01-08"]
    assert stored["pri-1"]["region_code"] == "RU-PRI"
    assert stored["pri-1"]["timezone"] == "Asia/Vladivostok"
    assert stored["msk-1"]["public"] is False
    assert stored["msk-1"]["kind"] == "museum"

    organization = (await registry.request("GET", f"/organizations/{lipetsk['id']}")).json()
    assert organization["working_hours"]["sat"] == [{"start": "10:00", "end": "16:00"}]
    assert organization["working_hours"]["sun"] == []
    assert organization["contacts"] == [
        {"name": "Ольга Арутинова", "email": "olga@example.org", "phone": "+7 4742 22-33-44"}
    ]

    events = await registry.relayed(UPSERTED, 3)
    assert sorted(m.event["aggregate_id"] for m in events) == sorted(
        str(row["id"]) for row in stored.values()
    )


async def test_importing_a_file_again_changes_nothing_and_a_changed_row_updates_only_it(
    registry: Registry, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, *GOOD)
    first = await import_csv(registry, path)
    assert first.exit_code == 0, first.output
    assert "created 3, updated 0, unchanged 0, invalid 0" in first.output
    await registry.relayed(UPSERTED, 3)
    before = await registry.organizations()

    again = await import_csv(registry, path)

    assert again.exit_code == 0, again.output
    assert "created 0, updated 0, unchanged 3, invalid 0" in again.output
    assert await registry.written(UPSERTED) == 3
    assert await registry.organizations() == before
    await registry.all_relayed()
    assert len(await registry.relayed(UPSERTED, 3)) == 3

    path = csv_file(tmp_path, LIPETSK, PRIMORYE.replace("10:00-19:00", "09:00-19:00"), MUSEUM)
    changed = await import_csv(registry, path)

    assert changed.exit_code == 0, changed.output
    assert "created 0, updated 1, unchanged 2, invalid 0" in changed.output
    after = await registry.organizations()
    assert {key: row["version"] for key, row in after.items()} == {
        "lip-1": 1,
        "pri-1": 2,
        "msk-1": 1,
    }
    assert await registry.written(UPSERTED) == 4
    events = await registry.relayed(UPSERTED, 4)
    assert events[-1].event["aggregate_id"] == str(after["pri-1"]["id"])
    assert events[-1].event["aggregate_version"] == 2
    assert events[-1].event["working_hours"]["mon"] == [{"start": "09:00:00", "end": "19:00:00"}]


async def test_a_dry_run_reports_what_would_happen_and_changes_nothing(
    registry: Registry, tmp_path: Path
) -> None:
    assert (await import_csv(registry, csv_file(tmp_path, LIPETSK, MUSEUM))).exit_code == 0
    await registry.all_relayed()
    before = await registry.organizations()
    path = csv_file(
        tmp_path,
        LIPETSK,
        MUSEUM.replace("Музей Москвы", "Музей Москвы на Зубовском"),
        PRIMORYE,
        "bad-zone,Библиотека на Марсе,,library,RU-LIP,,Mars/Olympus,,,,,,",
        name="changed.csv",
    )

    result = await import_csv(registry, path, "--dry-run")

    assert result.exit_code == 1, result.output
    assert "dry run, nothing was changed" in result.output
    assert "created 1, updated 1, unchanged 1, invalid 1" in result.output
    assert any(line.startswith("row 5: timezone:") for line in result.output.splitlines())
    assert await registry.organizations() == before
    assert await registry.written(UPSERTED) == 2


async def test_rows_go_in_batches_through_any_client(registry: Registry, tmp_path: Path) -> None:
    rows = [f"org-{n},Библиотека {n},,library,RU-LIP,,,,,,,," for n in range(5)]
    path = csv_file(tmp_path, *rows, "org-1,Дубликат,,library,RU-LIP,,,,,,,,")

    def send() -> ImportSummary:
        with httpx.Client(base_url=registry.url, headers=OPERATOR) as client:
            return import_file(path, client, batch_size=2)

    summary = await asyncio.to_thread(send)

    assert (summary.created, summary.updated, summary.unchanged) == (5, 0, 0)
    assert [(p.row, p.reason) for p in summary.problems] == [
        (7, "external_id 'org-1' was already given on row 3")
    ]
    assert len(await registry.organizations()) == 5


async def test_a_key_the_registry_does_not_know_is_refused_with_its_detail(
    registry: Registry, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, *GOOD)

    result = await telebridge(
        "orgs", "import", str(path), "--server", registry.url, "--key", "tb_nope"
    )

    assert result.exit_code == ExitCode.REFUSED, result.output
    assert "refused: 401 Unauthorized: this API key is not known" in result.output
    assert await registry.organizations() == {}


async def test_a_partner_key_is_refused_as_forbidden(registry: Registry, tmp_path: Path) -> None:
    created = await registry.request(
        "POST", "/organizations", json={"name": "Библиотека", "region": "RU-LIP"}
    )
    admin = await telebridge(
        "keys", "create-admin", env={"TELEBRIDGE_DATABASE_URL": registry.database_url}
    )
    partner = await registry.request(
        "POST",
        "/keys",
        secret_in(admin),
        json={"name": "partner", "organization_id": created.json()["id"]},
    )
    assert partner.status_code == 201, partner.text

    result = await telebridge(
        "orgs",
        "import",
        str(csv_file(tmp_path, *GOOD)),
        "--server",
        registry.url,
        "--key",
        partner.json()["secret"],
    )

    assert result.exit_code == ExitCode.REFUSED, result.output
    assert "refused: 403 Forbidden: only operator and admin keys may do this" in result.output


async def test_the_key_and_url_come_from_the_environment(
    registry: Registry, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, MUSEUM)

    result = await telebridge(
        "orgs",
        "import",
        str(path),
        env={"TELEBRIDGE_REGISTRY_URL": registry.url, "TELEBRIDGE_API_KEY": OPERATOR_KEY},
    )

    assert result.exit_code == 0, result.output
    assert "created 1" in result.output


async def test_the_key_and_url_come_from_the_config_file(
    registry: Registry, tmp_path: Path
) -> None:
    config = tmp_path / "telebridge.toml"
    config.write_text(f'registry_url = "{registry.url}"\nkey = "{OPERATOR_KEY}"\n', "utf-8")

    result = await telebridge(
        "orgs", "import", str(csv_file(tmp_path, MUSEUM)), "--config", str(config)
    )

    assert result.exit_code == 0, result.output
    assert "created 1" in result.output


async def test_registry_url_still_works_and_says_it_is_deprecated(
    registry: Registry, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, MUSEUM)

    result = await telebridge(
        "orgs", "import", str(path), "--registry-url", registry.url, "--key", OPERATOR_KEY
    )

    assert result.exit_code == 0, result.output
    assert "--registry-url is deprecated: use --server" in result.stderr


# --- the command's surface, without a registry -----------------------------------------


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["orgs", "import", str(tmp_path / "none.csv"), "--key", "k"])

    assert result.exit_code == ExitCode.USAGE
    assert "Invalid value for 'file'" in result.output


def test_missing_header_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text("name,city\nБиблиотека,Липецк\n", encoding="utf-8")

    result = CliRunner().invoke(cli, ["orgs", "import", str(path), "--key", "k"])

    assert result.exit_code == ExitCode.INVALID
    assert "lacks the required columns external_id, region" in result.output


def test_a_workbook_is_not_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "orgs.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00binary")

    result = CliRunner().invoke(cli, ["orgs", "import", str(path), "--key", "k"])

    assert result.exit_code == ExitCode.INVALID
    assert "not CSV" in result.output


def test_a_delimiter_other_than_comma_or_semicolon_is_refused(tmp_path: Path) -> None:
    path = csv_file(tmp_path, MUSEUM)

    result = CliRunner().invoke(
        cli, ["orgs", "import", str(path), "--key", "k", "--delimiter", "|"]
    )

    assert result.exit_code == ExitCode.USAGE


def test_semicolons_are_read_with_the_delimiter_option(tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text("external_id;name;region\na;A;RU-LIP\n", encoding="utf-8")
    unreachable = ["--server", "http://127.0.0.1:9", "--key", "k"]

    guessed = CliRunner().invoke(cli, ["orgs", "import", str(path), *unreachable])
    told = CliRunner().invoke(cli, ["orgs", "import", str(path), *unreachable, "--delimiter", ";"])

    assert guessed.exit_code == ExitCode.INVALID
    assert "try --delimiter ';'" in guessed.output
    assert told.exit_code == ExitCode.UNREACHABLE  # the file was read; the registry is not there
    assert "did not answer" in told.output


def test_without_a_key_nothing_is_sent(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["orgs", "import", str(csv_file(tmp_path, MUSEUM))], env={"TELEBRIDGE_API_KEY": ""}
    )

    assert result.exit_code == ExitCode.REFUSED
    assert "no key: pass --key" in result.output


def test_an_unreachable_registry_is_unreachable(tmp_path: Path) -> None:
    path = csv_file(tmp_path, MUSEUM)

    result = CliRunner().invoke(
        cli, ["orgs", "import", str(path), "--server", "http://127.0.0.1:9", "--key", "k"]
    )

    assert result.exit_code == ExitCode.UNREACHABLE
    assert "unreachable: http://127.0.0.1:9 did not answer" in result.output


def test_a_file_of_bad_rows_only_sends_nothing(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "x,Атлантида,,other,Atlantis,,,,,,,,")

    result = CliRunner().invoke(
        cli, ["orgs", "import", str(path), "--server", "http://127.0.0.1:9", "--key", "k"]
    )

    assert result.exit_code == ExitCode.INVALID, result.output
    assert "created 0, updated 0, unchanged 0, invalid 1" in result.output
    assert "row 2: region: 'Atlantis' is not a region" in result.output


# --- keys create-admin ----------------------------------------------------------------


async def test_create_admin_issues_a_key_that_works_and_announces_it(
    registry: Registry, database_url: str
) -> None:
    result = await telebridge(
        "keys",
        "create-admin",
        "--name",
        "first admin",
        env={"TELEBRIDGE_DATABASE_URL": database_url},
    )

    assert result.exit_code == 0, result.output
    secret = secret_in(result)
    prefix = prefix_of(secret)
    assert prefix is not None
    assert "will not be shown again" in result.stderr
    keys = await registry.request("GET", "/keys", secret)
    assert keys.status_code == 200, keys.text
    [key] = keys.json()
    assert (key["name"], key["prefix"], key["role"]) == ("first admin", prefix, "admin")
    assert len(key["scopes"]) == 6
    [event] = await registry.relayed(ISSUED, 1)
    assert event.event["aggregate_id"] == key["id"]
    assert event.event["role"] == "admin"
    assert event.event["prefix"] == prefix


async def test_create_admin_before_the_registry_ever_ran_says_to_start_it(
    database_url: str,
) -> None:
    result = await telebridge("keys", "create-admin", env={"TELEBRIDGE_DATABASE_URL": database_url})

    assert result.exit_code == ExitCode.CONFLICT, result.output
    assert "start the registry once first" in result.output


async def test_create_admin_without_a_database_says_where_it_looked() -> None:
    result = await telebridge(
        "keys",
        "create-admin",
        env={"TELEBRIDGE_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/telebridge"},
    )

    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    assert "cannot reach the registry's database at 127.0.0.1:9/telebridge" in result.output


def test_a_key_name_the_registry_would_refuse_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["keys", "create-admin", "--name", "x" * 201])

    assert result.exit_code == ExitCode.USAGE, result.output
    assert "must be one line of 1 to 200 characters" in result.output


async def test_a_printed_key_becomes_the_admin_key_the_registry_registers(
    database_url: str, nats_url: str
) -> None:
    printed = await telebridge("keys", "create-admin", "--print-only")
    secret = secret_in(printed)
    assert printed.exit_code == 0
    assert prefix_of(secret) is not None
    assert "TELEBRIDGE_REGISTRY_ADMIN_KEY" in printed.stderr

    async with running_registry(database_url, nats_url, admin_key=secret) as registry:
        keys = await registry.request("GET", "/keys", secret)

    assert keys.status_code == 200, keys.text
