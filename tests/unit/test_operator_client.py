"""How an operator command ends when the server says no: the exit code a script acts on,
and the lines of the file a 422 names."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from telebridge.operator_client import ExitCode, Stop, check_response


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
