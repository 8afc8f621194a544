"""Parameter types that handlers share, declared explicitly for Litestar and OpenAPI."""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from shared.db import Connection
from shared.http import auth

AnyRequest: TypeAlias = Request[Any, Any, Any]

Transaction = NamedDependency[Connection]
"""The request's connection, in a transaction committed when the handler succeeds."""

Caller = NamedDependency[auth.Caller]
"""The verified key of the request, with this service's read (GET) or write scope: else 401/403."""
Visitor = NamedDependency[auth.Caller | None]
"""The verified key of the request if one was sent (a bad one is a 401), else None."""

Cursor = Annotated[
    str | None, QueryParameter(description="`next_cursor` of the previous page; omit for the first")
]
PageSize = Annotated[int, QueryParameter(ge=1, le=200, description="Items per page, at most 200")]
DEFAULT_PAGE_SIZE = 50
