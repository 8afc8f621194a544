"""Optimistic concurrency over HTTP: a resource's version is its ETag, `If-Match` guards updates.

A client reads a resource, keeps its `ETag`, and sends it back as `If-Match` with the
change; if someone changed the resource in between, the update is refused with a 412
instead of silently overwriting their change.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar
from uuid import UUID

from litestar import Request, Response

from shared.errors import require_version
from shared.http.params import MAX_INT4
from shared.http.problems import Problem


def etag(version: int) -> str:
    return f'"{version}"'


class Versioned(Protocol):
    @property
    def id(self) -> UUID: ...

    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)


def with_etag(resource: V, status: int = 200) -> Response[V]:
    """The resource, with its version as the ETag a next change sends as If-Match."""
    return Response(resource, status_code=status, headers={"ETag": etag(resource.version)})


def created(resource: V, collection: str) -> Response[V]:
    """A 201 naming in `Location` where the new resource is read from."""
    response = with_etag(resource, status=201)
    response.headers["Location"] = f"/{collection}/{resource.id}"
    return response


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
