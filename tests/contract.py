"""Every answer a test receives must be one its service's OpenAPI document lists.

`serving` checks each response of the in-process services against the document the app
serves at `/schema/openapi.json`: the status must be listed for the operation, the answer
sent as the media type listed (for errors, a problem document), and each header the status
lists as required must be sent. So every test of an
error (the 409 of a full meeting, the 410 of a revoked feed) is also a test of the contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Litestar

_PARAMETER = re.compile(r"\{\w+\}")


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    literal: int
    operations: dict[str, Any]


class Contract:
    """One service's OpenAPI document, as a response checker."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.templates = [
            _Template(
                re.compile(
                    "^"
                    + "/".join(
                        "[^/]+" if _PARAMETER.fullmatch(part) else re.escape(part)
                        for part in path.split("/")
                    )
                    + "$"
                ),
                len(_PARAMETER.sub("", path)),
                item,
            )
            for path, item in document["paths"].items()
        ]

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        """The operation serving `method path`: the most literal template that matches."""
        found = [
            template
            for template in self.templates
            if method.lower() in template.operations and template.pattern.match(path)
        ]
        if not found:
            return None
        best: dict[str, Any] = max(found, key=lambda template: template.literal).operations[
            method.lower()
        ]
        return best

    def response(self, status: int, operation: dict[str, Any]) -> dict[str, Any] | None:
        listed = operation["responses"].get(str(status))
        return None if listed is None else self._resolved(listed)

    def _resolved(self, item: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in item:
            item = self._resolve(item["$ref"])
        return item

    def _resolve(self, ref: str) -> Any:
        found: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            found = found[part]
        return found

    def violations(self, method: str, path: str, status: int, headers: Any) -> list[str]:
        """What in this answer the document does not say; empty when it says it all."""
        operation = self.operation(method, path)
        if operation is None:
            return []
        listed = self.response(status, operation)
        if listed is None:
            return [
                f"{method} {path} answered {status}, which its operation "
                f"({operation.get('operationId')}) does not list: {sorted(operation['responses'])}"
            ]
        problems = []
        content_type = headers.get("content-type", "").split(";")[0].strip()
        media_types = set(listed.get("content") or {})
        if media_types and content_type not in media_types:
            problems.append(
                f"{method} {path} answered {status} as {content_type or 'no content type'}, "
                f"not as {sorted(media_types)}"
            )
        problems += [
            f"{method} {path} answered {status} without its required header {name}"
            for name, header in (listed.get("headers") or {}).items()
            if self._resolved(header).get("required") and name.lower() not in headers
        ]
        return problems


def contract_of(app: Litestar) -> Contract:
    """The app's document as a checker, made once per app."""
    found: Contract | None = app.state.get(_STATE)
    if found is None:
        found = Contract(app.openapi_schema.to_schema())
        app.state[_STATE] = found
    return found


_STATE = "tests.contract"
