"""Each media type the services answer with reaches the client with one charset at most,
whether the handler declares it or returns a `Response` with it (tests/e2e/test_media_types.py
checks every answer of the running services)."""

from __future__ import annotations

import pytest
from litestar import Response, get
from litestar.testing import create_test_client

from shared.http import media
from tests.media_types import media_type

TYPES = [value for name, value in vars(media).items() if name.isupper()]


@pytest.mark.parametrize("declared", TYPES)
def test_an_answer_of_each_type_names_it_once_with_one_charset_for_text(declared: str) -> None:
    @get("/declared", media_type=declared, sync_to_thread=False)
    def by_the_handler() -> str:
        return "{}"

    @get("/returned", sync_to_thread=False)
    def by_the_response() -> Response[str]:
        return Response("{}", media_type=declared)

    with create_test_client([by_the_handler, by_the_response]) as client:
        for path in ("/declared", "/returned"):
            [value] = client.get(path).headers.get_list("content-type")
            kind, parameters = media_type(value)
            declared_kind, declared_parameters = media_type(declared)
            assert kind == declared_kind
            charset = {"charset": "utf-8"} if declared.startswith("text/") else {}
            assert parameters == declared_parameters | charset, value


@pytest.mark.parametrize(
    "value",
    [
        "text/calendar; charset=utf-8; charset=utf-8",
        "text/calendar; charset=utf-8; CHARSET=UTF-8",
        "text/calendar charset=utf-8",
        "text/calendar; charset",
        "calendar",
    ],
)
def test_the_strict_reader_refuses_what_go_refuses(value: str) -> None:
    with pytest.raises(ValueError, match=r"twice|parameter|type"):
        media_type(value)


def test_the_strict_reader_reads_parameters_quoted_or_not() -> None:
    assert media_type('Text/Calendar; method="REQUEST";charset=UTF-8') == (
        "text/calendar",
        {"method": "REQUEST", "charset": "UTF-8"},
    )
