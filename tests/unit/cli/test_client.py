"""Where a command finds its server and key, and how it ends when the server says no: the
exit code a script acts on, what the server's problem document says, and the lines of the
file a 422 names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from telebridge.client import (
    AGENDA,
    LABELS,
    REGISTRY,
    Connection,
    ExitCode,
    Stop,
    check_response,
    connection,
    decoded,
    request,
)
from tests.support import ROOT


def answer(status: int, problem_type: str = "about:blank", **fields: Any) -> httpx.Response:
    document = {"type": problem_type, "title": "", "status": status, "detail": "why"} | fields
    return httpx.Response(status, json=document)


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (answer(400, "/problems/validation"), ExitCode.INVALID),
        (answer(401, "/problems/unauthorized"), ExitCode.REFUSED),
        (answer(403, "/problems/not-the-host"), ExitCode.REFUSED),
        (answer(413, "/problems/body-too-large"), ExitCode.INVALID),
        (answer(404, "/problems/unknown-meeting"), ExitCode.NOT_FOUND),
        (answer(410, "/problems/feed-revoked"), ExitCode.NOT_FOUND),
        (answer(404, "/problems/no-summary-yet"), ExitCode.CONFLICT),
        (answer(409, "/problems/no-summary-yet"), ExitCode.CONFLICT),
        (answer(409, "/problems/conflict"), ExitCode.CONFLICT),
        (answer(412, "/problems/version-mismatch"), ExitCode.CONFLICT),
        (answer(428, "/problems/if-match-required"), ExitCode.CONFLICT),
        (answer(500), ExitCode.SERVER_ERROR),
        (answer(503, "/problems/not-yet-known"), ExitCode.SERVER_ERROR),
        (httpx.Response(502, text="Bad Gateway"), ExitCode.SERVER_ERROR),
        (answer(405), ExitCode.SERVER_ERROR),
    ],
)
def test_each_refusal_ends_with_its_exit_code(response: httpx.Response, code: ExitCode) -> None:
    with pytest.raises(Stop) as stopped:
        check_response(response)
    assert stopped.value.code == code


def test_the_message_says_what_the_problem_document_says() -> None:
    response = answer(
        422,
        "/problems/validation",
        title="Unprocessable Content",
        detail="2 fields are invalid",
        errors=[
            {"field": "rows[0].region", "message": "not a region", "source": "body"},
            {"message": "the body as a whole"},
        ],
    )
    with pytest.raises(Stop) as stopped:
        check_response(response)
    assert str(stopped.value).splitlines() == [
        "invalid: 422 Unprocessable Content: 2 fields are invalid",
        "  rows[0].region: not a region",
        "  (request): the body as a whole",
    ]


def test_a_5xx_says_when_to_retry_and_a_page_is_quoted() -> None:
    retry = httpx.Response(
        503,
        json={"type": "x", "title": "Service Unavailable", "status": 503, "detail": "wait"},
        headers={"Retry-After": "5"},
    )
    with pytest.raises(Stop) as stopped:
        check_response(retry)
    assert str(stopped.value) == "server error: 503 Service Unavailable: wait (retry after 5 s)"
    with pytest.raises(Stop) as stopped:
        check_response(httpx.Response(502, text="<h1>Bad Gateway</h1>"))
    assert str(stopped.value) == "server error: 502 Bad Gateway: <h1>Bad Gateway</h1>"


def test_a_body_the_command_cannot_read_is_a_server_error() -> None:
    with pytest.raises(Stop) as stopped:
        decoded(httpx.Response(200, text="<html>", request=httpx.Request("GET", "http://x/")), dict)
    assert stopped.value.code == ExitCode.SERVER_ERROR


def test_a_422_names_the_line_of_each_field() -> None:
    response = answer(
        422,
        "/problems/validation",
        errors=[{"field": "outcomes.ru", "message": "too long", "source": "body"}],
    )
    lines = {"outcomes.ru": 3}
    with pytest.raises(Stop) as stopped:
        check_response(response, lines.get, None)
    assert stopped.value.code == ExitCode.INVALID
    assert str(stopped.value) == "None: line 3: outcomes.ru: too long"


def test_a_success_ends_nothing() -> None:
    check_response(httpx.Response(200, json={}))


def test_the_key_comes_from_the_flag_then_the_config_then_telebridge_dev(
    own_folder_and_home: Path,
) -> None:
    home = own_folder_and_home  # and the working folder is the test's own too
    with pytest.raises(Stop) as stopped:
        connection(AGENDA, None, None, None)
    assert stopped.value.code == ExitCode.REFUSED
    dev_agenda, dev_registry = "http://127.0.0.1:8003", "http://127.0.0.1:8001"
    assert connection(AGENDA, None, None, None, key_needed=False) == Connection(dev_agenda, "")

    Path(".telebridge").mkdir()
    Path(".telebridge/operator-key").write_text("tb_dev\n", encoding="utf-8")
    assert connection(AGENDA, None, None, None) == Connection(dev_agenda, "tb_dev")
    assert connection(REGISTRY, None, None, None) == Connection(dev_registry, "tb_dev")

    config = home / ".config" / "telebridge" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        'agenda_url = "https://agenda.example"\nregistry_url = "https://registry.example"\n'
        'key = "tb_config"\n',
        "utf-8",
    )
    assert connection(AGENDA, None, None, None) == Connection("https://agenda.example", "tb_config")
    assert connection(REGISTRY, None, None, None) == Connection(
        "https://registry.example", "tb_config"
    )
    assert connection(AGENDA, "http://127.0.0.1:9", "tb_flag", None) == Connection(
        "http://127.0.0.1:9", "tb_flag"
    )

    other = Path("other.toml")
    other.write_text('registry_url = "http://10.0.0.1:8001"\n', "utf-8")
    assert connection(REGISTRY, None, None, other) == Connection("http://10.0.0.1:8001", "tb_dev")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('key = "tb"\nagenda_url = \n', "Invalid value (at line 2, column 14)"),
        ("key = 1\n", "key: not a string"),
        ('agenda_url = "agenda.example"\n', "agenda_url: 'agenda.example' is not an http(s) URL"),
    ],
)
def test_a_config_file_that_cannot_be_used_is_invalid_input(text: str, said: str) -> None:
    config = Path("config.toml")
    config.write_text(text, encoding="utf-8")
    with pytest.raises(Stop) as stopped:
        connection(AGENDA, None, "tb_flag", config)
    assert stopped.value.code == ExitCode.INVALID
    assert str(stopped.value) == f"{config}: {said}"


PROBE = """
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from telebridge.cli import app

MEETING = "01a203f3-0000-7000-8000-000000000000"


def test_the_command_finds_no_key_where_pytest_was_started() -> None:
    for command in (["agenda", "show", MEETING], ["orgs", "import", "orgs.csv"]):
        Path("orgs.csv").write_text("external_id,name,region\\na,A,RU-LIP\\n", encoding="utf-8")
        in_process = CliRunner().invoke(app, command)
        assert in_process.exit_code == 4, in_process.output
        assert "no key" in in_process.output
        telebridge = str(Path(sys.executable).parent / "telebridge")
        done = subprocess.run([telebridge, *command], capture_output=True, text=True, check=False)
        assert done.returncode == 4, done.stdout + done.stderr
"""


def test_no_test_sees_what_telebridge_dev_and_the_shell_left(tmp_path: Path) -> None:
    """`uv run telebridge dev`, then `uv run pytest` in the same folder by a user with a config
    file and a key in the shell: a test that runs an operator command sees none of them."""
    started_in = tmp_path / "checkout"
    (started_in / ".telebridge").mkdir(parents=True)
    (started_in / ".telebridge" / "operator-key").write_text("tb_left_by_dev\n", "utf-8")
    users_home = tmp_path / "user"
    config = users_home / ".config" / "telebridge" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('agenda_url = "http://127.0.0.1:9"\nkey = "tb_in_config"\n', "utf-8")
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent(PROBE), encoding="utf-8")
    environment = {
        **{name: value for name, value in os.environ.items() if name != "PYTEST_ADDOPTS"},
        "HOME": str(users_home),
        "XDG_CONFIG_HOME": str(users_home / ".config"),
        "TELEBRIDGE_API_KEY": "tb_in_the_shell",
        "TELEBRIDGE_AUTH_OPERATOR_KEY": "tb_operator_in_the_shell",
        "TELEBRIDGE_AGENDA_URL": "http://127.0.0.1:9",
        "TELEBRIDGE_REGISTRY_URL": "http://127.0.0.1:9",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [
            sys.executable, "-m", "pytest", str(probe), "-c", str(ROOT / "pyproject.toml"),
            "-p", "tests.conftest", "-p", "no:cacheprovider",
            f"--basetemp={tmp_path / 'inner'}", "-q",
        ],
        cwd=started_in,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_has_the_table_of_exit_codes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ([^:|]+?) ?[:|]", readme, re.MULTILINE)
    assert [(int(code), label) for code, label in rows] == [
        (code, LABELS[code]) for code in ExitCode
    ]


def server_answering(*answers: httpx.Response) -> tuple[httpx.Client, list[httpx.Request]]:
    """A client whose server gives `answers` in turn, and the requests it received."""
    received: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return answers[min(len(received), len(answers)) - 1]

    return httpx.Client(
        base_url="http://partner.test", transport=httpx.MockTransport(handle)
    ), received


def asked_again(status: int, problem_type: str, retry_after: str) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    document = {"type": problem_type, "title": "", "status": status, "detail": "later"}
    return httpx.Response(status, json=document, headers=headers)


@pytest.mark.parametrize(
    "first",
    [
        asked_again(429, "/problems/rate-limited", "0"),
        asked_again(503, "/problems/not-yet-known", "0.01"),
    ],
)
def test_an_answer_to_send_again_later_is_followed(first: httpx.Response) -> None:
    client, received = server_answering(first, first, httpx.Response(201, json={"id": 1}))
    response = request(client, "POST", "/meetings/1/agenda", content=b"agenda")
    assert response.status_code == 201
    assert len(received) == 3
    assert {sent.content for sent in received} == {b"agenda"}


@pytest.mark.parametrize(
    "refusal",
    [
        asked_again(503, "/problems/database-unavailable", "1"),  # it may have been acted on
        asked_again(429, "/problems/rate-limited", ""),  # no Retry-After: not ours to guess
        asked_again(429, "/problems/rate-limited", "Fri, 04 Dec 2026 10:00:00 GMT"),
        asked_again(429, "/problems/rate-limited", "61"),  # longer than a command waits
        asked_again(500, "/problems/rate-limited", "0"),
    ],
)
def test_other_refusals_are_reported_at_once(refusal: httpx.Response) -> None:
    client, received = server_answering(refusal, httpx.Response(200))
    assert request(client, "GET", "/meetings").status_code == refusal.status_code
    assert len(received) == 1


def test_a_command_waits_no_longer_than_its_patience() -> None:
    client, received = server_answering(asked_again(429, "/problems/rate-limited", "0.02"))
    response = request(client, "GET", "/meetings", patience=0.05)
    assert response.status_code == 429
    assert len(received) == 3  # sent, waited .02, sent, waited .04, sent: .06 is too long
