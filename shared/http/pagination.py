"""Cursor pagination: a page of items and an opaque cursor for the next one.

Lists are ordered by id (UUIDv7, so by creation); the cursor is the last id of the page,
encoded so that clients treat it as opaque. A list asked for with `updated_since` is a
change feed instead (`shared.changes`): ordered by change, its cursor a position in that
order, and handed out on every page, the last included, so that a poller resumes from it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

import msgspec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter

from shared.changes import NIL, Changes, Position
from shared.errors import FieldError, invalid_fields
from shared.http.problems import Problem

T = TypeVar("T")


class Page(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page. In a change feed
    (`updated_since`) it is never null: poll with it later for what changed since."""


UpdatedSince = Annotated[
    str | None,
    QueryParameter(
        description="Only what changed at or after this instant (RFC 3339, with its offset), "
        "in the order of change rather than of creation: a change feed. Keep polling with "
        "`next_cursor`, which every page has: nothing is missed and nothing comes twice (a "
        "thing that changed again comes again, as it is now).",
        pattern=r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
        format="date-time",
        examples=[Example(value="2030-10-01T09:00:00+03:00")],
    ),
]


def encode_cursor(last_id: UUID) -> str:
    return _encode(last_id.bytes)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _raw(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error) as error:
        raise _bad_cursor() from error


def _bad_cursor() -> Problem:
    return Problem(400, "bad-cursor", "cursor is not one this server handed out")


def decode_cursor(cursor: str | None) -> UUID | None:
    """The id a page of a list by id starts after."""
    if not cursor:
        return None
    raw = _raw(cursor)
    if len(raw) != _ID_BYTES:
        raise _bad_cursor()
    return UUID(bytes=raw)


_ID_BYTES = 16
_XID_BYTES = 8


class ListOrder(msgspec.Struct, frozen=True):
    """Where a page starts: after an id (by creation), or after a position in change order."""

    after_id: UUID | None = None
    after_change: Position | None = None
    since: datetime | None = None


def list_order(cursor: str | None, updated_since: str | None) -> ListOrder:
    """The order a list is asked in: by change when `updated_since` is sent or the cursor is
    one of a change feed, else by id."""
    since = _instant(updated_since) if updated_since is not None else None
    raw = _raw(cursor) if cursor else b""
    if len(raw) == _XID_BYTES + _ID_BYTES:
        changed_in = int.from_bytes(raw[:_XID_BYTES], "big")
        return ListOrder(
            after_change=Position(changed_in, UUID(bytes=raw[_XID_BYTES:])), since=since
        )
    if since is not None:
        if raw:
            raise invalid_fields(
                [
                    FieldError(
                        message="this cursor pages a list by creation; send updated_since "
                        "without it to start a change feed, then its cursors",
                        field="cursor",
                        source="query",
                    )
                ]
            )
        return ListOrder(after_change=Position(0, NIL), since=since)
    return ListOrder(after_id=decode_cursor(cursor))


def _instant(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise Problem(
            400,
            "validation",
            f"updated_since: {value} is not an RFC 3339 instant",
            errors=[
                FieldError(
                    message="not an RFC 3339 instant, such as 2030-10-01T09:00:00+03:00",
                    field="updated_since",
                    source="query",
                )
            ],
        ) from error


def change_page(
    items: list[T], changes: Changes[Any], limit: int, after: Position | None
) -> Page[T]:
    """The first `limit` of `items` (`changes`' rows as the API shows them), given `limit + 1`
    fetched, with the position to resume from: after the last one, or the horizon once every
    change before it was handed out."""
    if len(items) > limit:
        resume = changes.positions[limit - 1]
    else:
        resume = max(Position(changes.horizon, NIL), after or Position(0, NIL))
    raw = resume.changed_in.to_bytes(_XID_BYTES, "big") + resume.id.bytes
    return Page(items=items[:limit], next_cursor=_encode(raw))


def page_of(items: list[T], ids: list[UUID], limit: int) -> Page[T]:
    """The first `limit` items, given `limit + 1` fetched, with the cursor after them."""
    has_more = len(items) > limit
    return Page(
        items=items[:limit], next_cursor=encode_cursor(ids[limit - 1]) if has_more else None
    )
