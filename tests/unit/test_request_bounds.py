"""Everything a client sends has bounds, declared where OpenAPI shows them: the rules hold
for every operation of the three services, so a new endpoint is held to them too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from msgspec import inspect

from services.agenda.app import create_app as agenda
from services.registry.app import create_app as registry
from services.registry.schemas import ImportRow
from services.scheduling.app import create_app as scheduling
from shared.http.params import MAX_INT4
from telebridge.contracts import openapi_documents
from tests.integration.api import HTTP_METHODS, request_bodies


@cache
def documents() -> dict[str, dict[str, Any]]:
    return {
        path.removeprefix("openapi/").removesuffix(".json"): msgspec.json.decode(text)
        for path, text in openapi_documents().items()
    }


def document(service: str) -> dict[str, Any]:
    return documents()[service]


FACTORIES: dict[str, Callable[[], Litestar]] = {
    "registry": registry,
    "scheduling": scheduling,
    "agenda": agenda,
}
SERVICES = list(FACTORIES)


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


def unbounded_in(body_type: Any, where: str) -> list[str]:
    """Where in what `body_type` validates a list, a map, a string or a number has no
    upper bound (msgspec's own view of the type: what validates the body)."""
    found: list[str] = []
    seen: set[type] = set()

    def visit(info: inspect.Type, at: str) -> None:
        if isinstance(info, inspect.StructType):
            if info.cls in seen:
                return
            seen.add(info.cls)
        if problem := _unbounded(info):
            found.append(f"{at}: {problem}")
        for child, step in _parts(info):
            visit(child, f"{at}{step}")

    visit(inspect.type_info(body_type), where)
    return found


_SEQUENCES = (inspect.ListType, inspect.SetType, inspect.FrozenSetType, inspect.VarTupleType)


def _unbounded(info: inspect.Type) -> str | None:
    if isinstance(info, (*_SEQUENCES, inspect.DictType, inspect.StrType)):
        return "no max_length" if info.max_length is None else None
    if isinstance(info, inspect.IntType):
        highest = info.le if info.lt is None else info.lt - 1
        lowest = info.ge if info.gt is None else info.gt + 1
        within = highest is not None and lowest is not None
        return (
            None
            if within and highest <= MAX_INT4 and lowest >= -MAX_INT4 - 1
            else ("not within int4")
        )
    if isinstance(info, inspect.FloatType):
        return "no maximum" if info.le is None and info.lt is None else None
    return "anything" if isinstance(info, inspect.AnyType) else None


def _parts(info: inspect.Type) -> list[tuple[inspect.Type, str]]:
    if isinstance(info, inspect.Metadata):  # descriptions and examples around a type
        return [(info.type, "")]
    if isinstance(info, inspect.StructType):
        return [(field.type, f".{field.encode_name}") for field in info.fields]
    if isinstance(info, inspect.UnionType):
        return [(option, "") for option in info.types]
    if isinstance(info, _SEQUENCES):
        return [(info.item_type, "[]")]
    if isinstance(info, inspect.DictType):
        return [(info.key_type, " (key)"), (info.value_type, ".*")]
    return []


CHECKED_LATER: dict[str, Any] = {"POST /organizations/import": ImportRow}
"""Bodies with a part taken as anything, each checked on its own afterwards as this type."""


@pytest.mark.parametrize("service", SERVICES)
def test_every_list_string_and_number_in_a_request_body_is_bounded(service: str) -> None:
    # The constraints are msgspec's, where they reach the JSON Schema; Litestar's OpenAPI
    # rendering leaves some out (those of list items, a minimum of 0 on an optional field).
    bodies = request_bodies(FACTORIES[service]())
    assert bodies, f"{service} takes no body"
    unbounded = []
    for (method, path), body_type in bodies.items():
        where = f"{method} {path}"
        found = unbounded_in(body_type, where)
        if where in CHECKED_LATER:
            found = [entry for entry in found if not entry.endswith(": anything")]
            found += unbounded_in(CHECKED_LATER[where], f"{where} (each row)")
        unbounded += found
    assert unbounded == []
