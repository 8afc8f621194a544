"""Cursor pagination: opaque cursors that come back as the id they stand for."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.changes import Changes, Position
from shared.events import new_id
from shared.http.pagination import change_page, decode_cursor, encode_cursor, list_order, page_of
from shared.http.problems import Problem


@hypothesis_settings(max_examples=200)
@given(st.uuids())
def test_a_cursor_decodes_to_the_id_it_was_made_from(identifier: UUID) -> None:
    cursor = encode_cursor(identifier)

    assert decode_cursor(cursor) == identifier
    assert cursor.isascii()
    assert "=" not in cursor  # nothing to escape in a query string
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_no_cursor_means_the_first_page() -> None:
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


@pytest.mark.parametrize("cursor", ["!!!!", "A", "AAAA", "é", "x" * 30, "====", "null"])
def test_a_cursor_this_server_did_not_make_is_a_400(cursor: str) -> None:
    with pytest.raises(Problem) as raised:
        decode_cursor(cursor)

    assert raised.value.status_code == 400
    assert raised.value.slug == "bad-cursor"


@hypothesis_settings(max_examples=200)
@given(st.text(max_size=40))
def test_any_text_is_either_an_id_or_a_400(cursor: str) -> None:
    outcome: object
    try:
        outcome = decode_cursor(cursor)
    except Problem as problem:
        outcome = problem.status_code
    assert outcome is None or isinstance(outcome, UUID) or outcome == 400


def test_a_full_page_has_a_cursor_after_its_last_item() -> None:
    ids = [new_id() for _ in range(4)]
    page = page_of([str(i) for i in ids], ids, limit=3)

    assert page.items == [str(i) for i in ids[:3]]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor) == ids[2]


@pytest.mark.parametrize("fetched", [0, 1, 3])
def test_the_last_page_has_no_cursor(fetched: int) -> None:
    ids = [new_id() for _ in range(fetched)]
    page = page_of(ids, ids, limit=3)

    assert page.items == ids
    assert page.next_cursor is None


@hypothesis_settings(max_examples=100)
@given(st.lists(st.uuids(), max_size=30, unique=True), st.integers(min_value=1, max_value=10))
def test_walking_the_pages_visits_every_item_once(ids: list[UUID], limit: int) -> None:
    ordered = sorted(ids)
    seen: list[UUID] = []
    after: UUID | None = None
    for _ in range(len(ordered) + 1):
        rest = [i for i in ordered if after is None or i > after]
        fetched = rest[: limit + 1]  # what a `WHERE id > $cursor LIMIT limit + 1` returns
        page = page_of(fetched, fetched, limit)
        assert len(page.items) <= limit
        seen += page.items
        if page.next_cursor is None:
            break
        after = decode_cursor(page.next_cursor)
    assert seen == ordered


@hypothesis_settings(max_examples=200)
@given(st.uuids(), st.integers(min_value=0, max_value=2**63 - 1))
def test_a_change_feed_cursor_resumes_where_it_was_handed_out(after: UUID, changed_in: int) -> None:
    page = change_page([], Changes(items=[], positions=[], horizon=changed_in), 50, None)
    assert page.next_cursor is not None
    order = list_order(page.next_cursor, None)
    assert order.after_change == Position(changed_in, UUID(int=0))
    assert list_order(None, "2030-10-01T09:00:00+03:00").after_change == Position(0, UUID(int=0))
    assert list_order(encode_cursor(after), None).after_id == after
