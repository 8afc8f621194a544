"""Everything a client sends has bounds, declared where OpenAPI shows them: the rules hold
for every operation of the three services, so a new endpoint is held to them too."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import msgspec
import pytest

from shared.http.params import MAX_INT4
from telebridge.contracts import openapi_documents
from tests.integration.api import HTTP_METHODS


@cache
def documents() -> dict[str, dict[str, Any]]:
    return {
        path.removeprefix("openapi/").removesuffix(".json"): msgspec.json.decode(text)
        for path, text in openapi_documents().items()
    }


def document(service: str) -> dict[str, Any]:
    return documents()[service]


SERVICES = ["registry", "scheduling", "agenda"]


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [schema, *schema.get("oneOf", ()), *schema.get("anyOf", ())]


@pytest.mark.parametrize("service", SERVICES)
def test_every_integer_parameter_fits_a_postgresql_integer(service: str) -> None:
    unbounded = [
        f"{where} {parameter['in']} {parameter['name']}"
        for where, operation in operations(document(service))
        for parameter in operation.get("parameters", ())
        for option in options(parameter["schema"])
        if option.get("type") == "integer"
        and not (
            option.get("maximum", MAX_INT4 + 1) <= MAX_INT4
            and option.get("minimum", -MAX_INT4 - 2) >= -MAX_INT4 - 1
        )
    ]
    assert unbounded == [], "integer parameters without minimum and maximum within int4"
