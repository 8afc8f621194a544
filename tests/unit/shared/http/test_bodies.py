"""What the kernel takes as a JSON body: its media type, its bytes, its depth."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.http.bodies import (
    MAX_DEPTH,
    json_refusal,
    media_type_refusal,
    nested_deeper_than,
    nul_field,
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('[]{}"\\ab,:')),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet=st.sampled_from('[]{}"\\x')), children, max_size=3)
    ),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


@hypothesis_settings(max_examples=300)
@given(JSON_VALUES, st.integers(min_value=0, max_value=8))
def test_the_depth_found_in_the_bytes_is_that_of_the_document(value: Any, limit: int) -> None:
    document = msgspec.json.encode(value)
    assert nested_deeper_than(document, limit) == (depth(value) > limit)


@pytest.mark.parametrize(
    ("document", "deeper_than_two"),
    [
        (b"1", False),
        (b'"[[[[[["', False),
        (b'{"a": "]]]", "b": [[]]}', True),
        (b'[{"x": "\\"[[["}]', False),
        (b"[[], [], {}]", False),
        (b'[{"a": []}]', True),
    ],
)
def test_brackets_in_strings_do_not_count(document: bytes, deeper_than_two: bool) -> None:
    assert nested_deeper_than(document, 2) == deeper_than_two


def test_every_body_the_apis_take_is_shallow_enough() -> None:
    # An import row with working hours, the deepest body of the three services.
    row = {"rows": [{"working_hours": {"mon": [{"start": "09:00", "end": "18:00"}]}}]}
    assert depth(row) == 6 < MAX_DEPTH
    assert json_refusal(msgspec.json.encode(row)) is None


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        b"application/json",
        b"application/json; charset=utf-8",
        b'APPLICATION/JSON;charset="UTF-8"',
        b"application/problem+json",
        b"application/vnd.api+json",
    ],
)
def test_json_and_its_suffixed_types_are_json(content_type: bytes | None) -> None:
    assert media_type_refusal(content_type) is None


@pytest.mark.parametrize(
    "content_type",
    [
        b"",
        b"text/plain",
        b"text/json",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"application/jsonp",
        b"application/json; charset=windows-1251",
    ],
)
def test_other_types_and_charsets_are_refused(content_type: bytes) -> None:
    assert media_type_refusal(content_type)


@pytest.mark.parametrize(
    "body",
    [b'"\xff"', b"[" * 2000 + b"]" * 2000, b"[" * 33 + b"]" * 33, b"{", b"1" * 5000],
    ids=["not-utf-8", "recursion", "too-deep", "truncated", "huge-integer"],
)
def test_what_a_parser_downstream_would_fail_on_is_refused(body: bytes) -> None:
    assert json_refusal(body)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"outcomes": {"ru": "a\\u0000b"}}', "outcomes.ru"),
        (b'{"items": [{"title": "x"}, {"speakers": ["\\u0000"]}]}', "items[1].speakers[0]"),
        (b'{"rows": [{"na\\u0000me": 1}]}', "rows[0].na\x00me"),
        (b'"\\u0000"', ""),
    ],
)
def test_the_first_string_holding_a_nul_is_found(body: bytes, field: str) -> None:
    assert nul_field(body) == field


@pytest.mark.parametrize("body", [b'{"a": "\\\\u0000"}', b'{"a": "u0000"}', b"[0]"])
def test_an_escaped_backslash_before_u0000_is_no_nul(body: bytes) -> None:
    assert nul_field(body) is None
