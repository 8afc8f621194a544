"""Parameter types that handlers share, declared explicitly for Litestar and OpenAPI."""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from shared import access
from shared.db import Connection

AnyRequest: TypeAlias = Request[Any, Any, Any]

Transaction = NamedDependency[Connection]
"""The request's connection, in a transaction committed when the handler succeeds."""

Caller = NamedDependency[access.Caller]
"""The verified key of the request, with this service's read (GET) or write scope: else 401/403."""
Visitor = NamedDependency[access.Caller | None]
"""The verified key of the request if one was sent (a bad one is a 401), else None."""

MAX_INT4: Final = 2**31 - 1
"""PostgreSQL's largest `integer`. Every integer a client sends is bounded by it (or less):
asyncpg cannot send a larger one to an `integer` column and raises OverflowError, a 500.
A test holds every documented integer parameter to this bound."""

VersionNumber = Annotated[
    int, PathParameter(ge=1, le=MAX_INT4, description="A version number, 1 for the first")
]
"""A version of a resource, in a path."""

Cursor = Annotated[
    str | None,
    QueryParameter(
        description="`next_cursor` of the previous page; omit for the first",
        pattern=r"^[A-Za-z0-9_-]{22}$",
    ),
]
ChangeCursor = Annotated[
    str | None,
    QueryParameter(
        description="`next_cursor` of the previous page; omit for the first. A change "
        "feed's cursor (`updated_since`) goes on in the order of change.",
        pattern=r"^([A-Za-z0-9_-]{22}|[A-Za-z0-9_-]{32})$",
    ),
]
"""The cursor of a list that is also a change feed (`shared.http.pagination.UpdatedSince`)."""
PageSize = Annotated[int, QueryParameter(ge=1, le=200, description="Items per page, at most 200")]
"""Bounded far below `MAX_INT4`, as every integer parameter is."""
DEFAULT_PAGE_SIZE = 50
