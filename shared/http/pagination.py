"""Cursor pagination: a page of items and an opaque cursor for the next one.

Lists are ordered by id (UUIDv7, so by creation); the cursor is the last id of the page,
encoded so that clients treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii
from typing import Generic, TypeVar
from uuid import UUID

import msgspec

from shared.http.problems import Problem

T = TypeVar("T")


class Page(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    next_cursor: str | None
    """Pass as `cursor` to get the next page; null on the last page."""


def encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> UUID | None:
    if not cursor:
        return None
    try:
        return UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as error:
        raise Problem(400, "bad-cursor", "cursor is not one this server handed out") from error


def page_of(items: list[T], ids: list[UUID], limit: int) -> Page[T]:
    """The first `limit` items, given `limit + 1` fetched, with the cursor after them."""
    has_more = len(items) > limit
    return Page(
        items=items[:limit], next_cursor=encode_cursor(ids[limit - 1]) if has_more else None
    )
