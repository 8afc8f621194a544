"""Where an operator command finds its server and key, and how it ends when the server
says no: the exit code a script acts on, and the lines of the file a 422 names."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from telebridge.operator_client import (
    DEV_AGENDA_URL,
    Connection,
    ExitCode,
    Stop,
    check_response,
    connection,
)

ROOT = Path(__file__).parents[2]


def answer(status: int, problem_type: str = "about:blank", **fields: Any) -> httpx.Response:
    document = {"type": problem_type, "title": "", "status": status, "detail": "why"} | fields
    return httpx.Response(status, json=document)


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (answer(400, "/problems/validation"), ExitCode.INVALID),
        (answer(401, "/problems/unauthorized"), ExitCode.REFUSED),
        (answer(403, "/problems/not-the-host"), ExitCode.REFUSED),
        (answer(404, "/problems/unknown-meeting"), ExitCode.NOT_FOUND),
        (answer(404, "/problems/no-summary-yet"), ExitCode.CONFLICT),
        (answer(409, "/problems/no-summary-yet"), ExitCode.CONFLICT),
        (answer(412, "/problems/version-mismatch"), ExitCode.CONFLICT),
        (answer(428, "/problems/if-match-required"), ExitCode.CONFLICT),
        (answer(503), ExitCode.UNREACHABLE),
        (httpx.Response(502, text="Bad Gateway"), ExitCode.UNREACHABLE),
    ],
)
def test_each_refusal_ends_with_its_exit_code(response: httpx.Response, code: ExitCode) -> None:
    with pytest.raises(Stop) as stopped:
        check_response(response)
    assert stopped.value.code == code


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
        connection(None, None, None)
    assert stopped.value.code == ExitCode.REFUSED
    assert connection(None, None, None, key_needed=False) == Connection(DEV_AGENDA_URL, "")

    Path(".telebridge").mkdir()
    Path(".telebridge/operator-key").write_text("tb_dev\n", encoding="utf-8")
    assert connection(None, None, None) == Connection(DEV_AGENDA_URL, "tb_dev")

    config = home / ".config" / "telebridge" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('agenda_url = "https://agenda.example"\nkey = "tb_config"\n', "utf-8")
    assert connection(None, None, None) == Connection("https://agenda.example", "tb_config")
    assert connection("http://127.0.0.1:9", "tb_flag", None) == Connection(
        "http://127.0.0.1:9", "tb_flag"
    )


PROBE = """
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from telebridge.cli import app

MEETING = "01a203f3-0000-7000-8000-000000000000"


def test_the_command_finds_no_key_where_pytest_was_started() -> None:
    in_process = CliRunner().invoke(app, ["agenda", "show", MEETING])
    assert in_process.exit_code == 4, in_process.output
    assert "no key" in in_process.output
    telebridge = str(Path(sys.executable).parent / "telebridge")
    done = subprocess.run(
        [telebridge, "agenda", "show", MEETING], capture_output=True, text=True, check=False
    )
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
