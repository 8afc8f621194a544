"""Optimistic concurrency over HTTP: a resource's version is its ETag, `If-Match` guards updates.

A client reads a resource, keeps its `ETag`, and sends it back as `If-Match` with the
change; if someone changed the resource in between, the update is refused with a 412
instead of silently overwriting their change.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from shared.errors import require_version
from shared.http.params import MAX_INT4
from shared.http.problems import Problem


def etag(version: int) -> str:
    return f'"{version}"'


def sent_version(request: Request[Any, Any, Any]) -> int | None:
    """The version `If-Match` names, None when it is not sent; 412 for a tag this server
    never handed out."""
    header = request.headers.get("if-match", "").strip()
    if not header:
        return None
    tag = header.removeprefix("W/").strip('"')
    # isdigit() alone takes "²" and digits beyond what int() reads or any version reaches.
    if not (tag.isascii() and tag.isdigit() and len(tag) <= len(str(MAX_INT4))):
        raise Problem(
            412, "version-mismatch", f"If-Match {header} is not a version of this resource"
        )
    return int(tag)


def check_version(request: Request[Any, Any, Any], current: int) -> None:
    """Refuse an update based on another version than `current` (see `require_version`)."""
    require_version(current, sent_version(request))
