"""An operator's script against `telebridge dev --demo`: each seed event's agenda file is
validated, diffed, published, edited and republished through `telebridge agenda`; a
summary gets new outcomes through `telebridge summary`; and every way it can go wrong ends
with the exit code a script acts on."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from telebridge.client import ExitCode, Stop, check_response
from telebridge.demo import demo_plan
from telebridge.embedded import free_port
from tests.e2e.test_dev import TELEBRIDGE, stop, telebridge_dev, wait_for_line
from tests.frab_schedule import check_schedule
from tests.support import ROOT

EXAMPLES = ROOT / "examples" / "agendas"


class Script:
    """Runs `telebridge agenda …` as a shell script would, with the server and key in the
    environment (the folder, the home and the rest of the environment are the test's own:
    see `own_folder_and_home`)."""

    def __init__(self, agenda_url: str, key: str) -> None:
        self.environment = {
            **os.environ,
            "TELEBRIDGE_AGENDA_URL": agenda_url,
            "TELEBRIDGE_API_KEY": key,
            "COLUMNS": "200",
        }

    def run(self, *arguments: str, expect: ExitCode = ExitCode.OK) -> str:
        return self.command("agenda", *arguments, expect=expect)

    def summary(
        self, *arguments: str, expect: ExitCode = ExitCode.OK, with_key: bool = True
    ) -> str:
        return self.command("summary", *arguments, expect=expect, with_key=with_key)

    def command(self, group: str, *arguments: str, expect: ExitCode, with_key: bool = True) -> str:
        environment = dict(self.environment)
        if not with_key:
            del environment["TELEBRIDGE_API_KEY"]
        done = subprocess.run(
            [TELEBRIDGE, group, *arguments],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == expect, f"{arguments}: exit {done.returncode}\n{output}"
        return output


def test_an_operator_script_publishes_diffs_and_republishes_each_seed_agenda(
    tmp_path: Path,
) -> None:
    ports = {name: free_port() for name in ("registry", "scheduling", "agenda")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    data_dir = tmp_path / "dev"
    with telebridge_dev(data_dir, ports) as (process, lines):
        wait_for_line(lines, "Running.")
        key = (data_dir / "operator-key").read_text(encoding="utf-8").strip()
        script = Script(urls["agenda"], key)
        meetings = seed_meetings(urls["scheduling"], key)

        for seed, meeting_id in meetings.items():
            file = EXAMPLES / f"{seed}.yaml"
            assert "valid for meeting" in script.run("validate", str(file), "--meeting", meeting_id)
            published_by_demo = exports(urls["agenda"], meeting_id)
            # The demo published the seed's programme without kinds: version 1.
            assert "changes from version 1" in script.run(
                "diff", str(file), "--meeting", meeting_id
            )
            dry = script.run("publish", str(file), "--meeting", meeting_id, "--dry-run")
            assert "dry run: version 2 would be published" in dry
            assert "version 2 published" in script.run(
                "publish", str(file), "--meeting", meeting_id
            )
            from_file = exports(urls["agenda"], meeting_id)
            for title in from_file.keys() & published_by_demo.keys():
                assert from_file[title][0] == published_by_demo[title][0]
            assert "no change from version 2" in script.run(
                "diff", str(file), "--meeting", meeting_id
            )
            assert "version 2 says it already" in script.run(
                "publish", str(file), "--meeting", meeting_id
            )

            edited = tmp_path / f"{seed}.yaml"
            text = file.read_text(encoding="utf-8")
            # The opening item renamed: its key follows it.
            edited.write_text(text.replace("    title: ", "    title: Обновлено — ", 1), "utf-8")
            changes = script.run("diff", str(edited), "--meeting", meeting_id)
            assert "Обновлено — " in changes
            assert "(title)" in changes
            assert "version 3 published" in script.run(
                "publish", str(edited), "--meeting", meeting_id
            )
            # Calendars take the renamed opening as the same event, changed; nothing else.
            renamed = exports(urls["agenda"], meeting_id)
            [title] = [title for title in renamed if title.startswith("Обновлено — ")]
            uid, sequence = from_file.pop(title.removeprefix("Обновлено — "))
            assert renamed.pop(title) == (uid, sequence + 1)
            assert renamed == from_file
            shown = json.loads(script.run("show", meeting_id, "--json"))
            assert shown["version"] == 3
            assert shown["published"] is True

        georgievsk = meetings["georgievsk-antratsit"]
        file = EXAMPLES / "georgievsk-antratsit.yaml"
        table = script.run("show", georgievsk)
        assert "Виртуальное путешествие по Георгиевску" in table
        assert "25.08 11:30–12:00 Europe/Moscow" in table

        late = tmp_path / "late.yaml"
        late.write_text(
            file.read_text(encoding="utf-8").replace("2023-08-25 12:40", "2023-08-25 13:40"),
            encoding="utf-8",
        )
        refused = script.run("publish", str(late), "--meeting", georgievsk, expect=ExitCode.INVALID)
        assert f"{late}: line 32: items[4].at: " in refused
        assert "is not inside its session" in refused

        # An unknown kind used to hide the item outside its session until it was fixed:
        # every problem of the file comes in one round, each with its line and field.
        late_and_unknown = tmp_path / "late-and-unknown.yaml"
        late_and_unknown.write_text(
            late.read_text(encoding="utf-8").replace("kind: tour", "kind: excursion"),
            encoding="utf-8",
        )
        for command in ("validate", "publish"):
            refused = script.run(
                command, str(late_and_unknown), "--meeting", georgievsk, expect=ExitCode.INVALID
            )
            assert f"{late_and_unknown}: line 24: items[2].kind: 'excursion' is not one of: " in (
                refused
            )
            assert "master-class, opening, other, presentation, quest-task, talk, tour" in refused
            assert f"{late_and_unknown}: line 32: items[4].at: " in refused
            assert "is not inside its session" in refused

        broken = tmp_path / "broken.yaml"
        broken.write_text("items:\n  - title: Без длительности\n", encoding="utf-8")
        assert "line 2" in script.run("validate", str(broken), expect=ExitCode.INVALID)
        script.run("publish", str(file), expect=ExitCode.USAGE)  # which meeting?

        script.run(
            "publish", str(file), "--meeting", georgievsk, "--server", "http://127.0.0.1:1",
            expect=ExitCode.UNREACHABLE,
        )  # fmt: skip
        script.run("show", georgievsk, "--key", "tb_not_a_key", expect=ExitCode.REFUSED)
        script.run(
            "publish", str(file), "--meeting", "01a203f3-0000-7000-8000-000000000000",
            expect=ExitCode.NOT_FOUND,
        )  # fmt: skip
        # Someone published between the script's read and its write: the server's 412.
        stale = httpx.put(
            f"{urls['agenda']}/meetings/{georgievsk}/agenda",
            json={"items": [], "publish": True},
            headers={"Authorization": f"Bearer {key}", "If-Match": '"1"'},
            timeout=10,
        )
        with pytest.raises(Stop) as stopped:
            check_response(stale)
        assert stopped.value.code == ExitCode.CONFLICT

        publish_new_outcomes(script, georgievsk, tmp_path)
        stop(process)


def exports(agenda_url: str, meeting_id: str) -> dict[str, tuple[str, int]]:
    """The published agenda.xml, checked as conference apps read it (against the frab XSD
    where it is at hand); the ICS events' UID and SEQUENCE by title, each stamped with a
    time in UTC that has passed."""
    schedule = httpx.get(f"{agenda_url}/meetings/{meeting_id}/agenda.xml", timeout=10)
    check_schedule(schedule.content)
    ics = httpx.get(f"{agenda_url}/meetings/{meeting_id}/agenda.ics", timeout=10)
    events = Calendar.from_ical(ics.content).walk("VEVENT")
    assert events
    for event in events:
        assert event["DTSTAMP"].to_ical().endswith(b"Z")
        assert event["DTSTAMP"].dt <= datetime.now(UTC)
    return {str(event["SUMMARY"]): (str(event["UID"]), int(event["SEQUENCE"])) for event in events}


def publish_new_outcomes(script: Script, meeting_id: str, folder: Path) -> None:
    """The demo published the telebridge's summary with the seed's outcomes; the operator
    rewrites them from a file once the draft has caught up with the republished agenda."""
    shown = script.summary("show", meeting_id, with_key=False)  # the published one is public
    assert "Библиотекари познакомились друг с другом" in shown
    assert "Телемост · Итоги, версия " in shown

    def caught_up() -> dict[str, Any] | None:
        draft = json.loads(script.summary("show", meeting_id, "--draft", "--json"))
        titles = [item["title"] for item in draft["content"]["items_delivered"]]
        return draft if any(title.startswith("Обновлено — ") for title in titles) else None

    draft = eventually_sync(caught_up)
    outcomes = folder / "outcomes.yaml"
    outcomes.write_text(
        "ru: |\n  Договорились провести следующий телемост весной.\n"
        "en: |\n  They agreed to hold the next telebridge in spring.\n",
        encoding="utf-8",
    )
    dry = script.summary("publish", meeting_id, "--outcomes", str(outcomes), "--dry-run")
    assert "outcomes (ru): rewritten" in dry
    assert f"dry run: version {draft['version'] + 1} would be published" in dry
    published = script.summary("publish", meeting_id, "--outcomes", str(outcomes))
    assert f"version {draft['version'] + 1} published" in published
    assert f"/meetings/{meeting_id}/summary.html" in published
    assert "Договорились провести следующий телемост весной." in script.summary("show", meeting_id)
    english = script.summary("show", meeting_id, "--lang", "en")
    assert "They agreed to hold the next telebridge in spring." in english
    again = script.summary("publish", meeting_id, "--outcomes", str(outcomes))
    assert "is published already" in again
    # A file with one language leaves the other's text as it was.
    russian_only = folder / "outcomes-ru.yaml"
    russian_only.write_text("ru: Встреча весной подтверждена.\n", encoding="utf-8")
    changes = script.summary("publish", meeting_id, "--outcomes", str(russian_only))
    assert "outcomes (ru): rewritten" in changes
    assert "outcomes (en)" not in changes
    assert "They agreed to hold the next telebridge in spring." in script.summary(
        "show", meeting_id, "--lang", "en"
    )
    draft_text = script.summary("show", meeting_id, "--draft")
    assert ", published -->" in draft_text
    assert "Встреча весной подтверждена." in draft_text

    broken = folder / "broken-outcomes.yaml"
    broken.write_text("ru: Итоги\nde: Ergebnisse\n", encoding="utf-8")
    refused = script.summary(
        "publish", meeting_id, "--outcomes", str(broken), expect=ExitCode.INVALID
    )
    assert f"{broken}: line 2: de: not a field of an outcomes file" in refused
    unknown = "01a203f3-0000-7000-8000-000000000000"
    script.summary("show", unknown, expect=ExitCode.NOT_FOUND)
    script.summary("publish", expect=ExitCode.USAGE)  # which meeting?


def eventually_sync(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(0.5)
    raise AssertionError("the draft never caught up")


def seed_meetings(scheduling: str, key: str) -> dict[str, str]:
    """Each seed event's meeting id, by the demo's key for it."""
    titles = {meeting.title: meeting.key for meeting in demo_plan().meetings}
    response = httpx.get(
        f"{scheduling}/meetings", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    response.raise_for_status()
    return {
        titles[meeting["title"]]: meeting["id"]
        for meeting in response.json()["items"]
        if meeting["title"] in titles
    }
