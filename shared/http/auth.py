"""Operator endpoints: a bearer key from the settings guards them.

Partner keys issued and replicated by the registry come later; until then operator
endpoints are closed unless `TELEBRIDGE_AUTH_OPERATOR_KEY` is set.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import SecurityRequirement

from shared.http.problems import Problem

OPERATOR_SECURITY: list[SecurityRequirement] = [{"operatorKey": []}]
"""OpenAPI security requirement of operator endpoints."""


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _operator_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    key: str = connection.app.state.settings.auth.operator_key
    return key


def is_operator(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    expected = _operator_key(connection)
    token = bearer_token(connection)
    return bool(expected and token) and hmac.compare_digest(
        (token or "").encode(), expected.encode()
    )


def operator_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not _operator_key(connection):
        raise Problem(403, "operator-disabled", "operator endpoints are disabled on this server")
    if bearer_token(connection) is None:
        raise Problem(
            401,
            "unauthenticated",
            "send the operator key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="telebridge"'},
        )
    if not is_operator(connection):
        raise Problem(403, "forbidden", "this key may not use operator endpoints")
