"""If-Match names a version this server handed out, or the update is refused with a 412."""

from __future__ import annotations

import pytest
from litestar import Request

from shared.http.problems import Problem
from shared.http.versions import etag, sent_version


def request_with(if_match: str | None) -> Request[object, object, object]:
    headers = [] if if_match is None else [(b"if-match", if_match.encode("latin-1"))]
    return Request({"type": "http", "method": "PUT", "path": "/", "headers": headers})  # type: ignore[typeddict-item]


@pytest.mark.parametrize("version", [1, 7, 2**31 - 1])
def test_the_etag_handed_out_names_its_version(version: int) -> None:
    assert sent_version(request_with(etag(version))) == version
    assert sent_version(request_with(f"W/{etag(version)}")) == version


def test_no_if_match_is_no_version() -> None:
    assert sent_version(request_with(None)) is None


@pytest.mark.parametrize(
    "if_match", ['"abc"', "*", '"²"', '"¹0"', '"' + "9" * 5000 + '"', '"99999999999"', '"-1"']
)
def test_any_other_tag_is_a_412(if_match: str) -> None:
    with pytest.raises(Problem) as raised:
        sent_version(request_with(if_match))
    assert raised.value.status_code == 412
