"""contracts/ is generated from the code; this fails as soon as the two differ, or as soon
as a document is not valid by its specification (OpenAPI 3.1, AsyncAPI 3.0)."""

import json
from typing import Any

import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from shared.events import ALL_EVENTS
from telebridge.contracts import drifted, generate
from tests.support import ROOT


def test_contracts_match_the_code() -> None:
    stale = drifted()
    assert stale == [], f"contracts/ is out of date in {stale}: run `uv run telebridge contracts`"


def test_every_event_has_a_schema_and_an_asyncapi_channel() -> None:
    files = generate()
    schemas = [path for path in files if path.startswith("schemas/")]
    assert len(schemas) == len(ALL_EVENTS)
    for path in schemas:
        subject = path.removeprefix("schemas/").removesuffix(".json")
        assert f"  {subject}:\n    address: {subject}\n" in files["asyncapi.yaml"]


def _openapi_documents() -> dict[str, dict[str, Any]]:
    return {
        path: json.loads(text) for path, text in generate().items() if path.startswith("openapi/")
    }


def test_the_openapi_documents_are_valid_openapi_3_1() -> None:
    for document in _openapi_documents().values():
        validate(document)


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    schema = json.loads((ROOT / "tests/fixtures/asyncapi/3.0.0.json").read_text(encoding="utf-8"))
    document = yaml.safe_load(generate()["asyncapi.yaml"])
    errors = sorted(Draft7Validator(schema).iter_errors(document), key=lambda error: error.path)
    assert errors == [], [f"{list(error.path)}: {error.message}" for error in errors[:5]]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
    ]


def test_every_error_is_a_problem_document_and_every_operation_says_who_may_call_it() -> None:
    for name, document in _openapi_documents().items():
        responses = document["components"]["responses"]
        for method, path, operation in _operations(document):
            where = f"{name}: {method} {path}"
            errors = {code: r for code, r in operation["responses"].items() if code >= "400"}
            assert "503" in errors, where
            for code, response in errors.items():
                if path == "/health/ready" and code == "503":
                    continue  # not ready: the health document itself, as load balancers read
                listed = responses[response["$ref"].rsplit("/", 1)[-1]]
                assert list(listed["content"]) == ["application/problem+json"], (where, code)
                assert listed["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
            if "401" in errors:
                assert operation["security"] in ([{"apiKey": []}], [{}, {"apiKey": []}]), where
            else:
                assert "security" not in operation, where
            if method == "POST":
                assert "Idempotency-Key" in _header_names(operation), where


def _header_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def test_every_example_is_valid_against_its_schema() -> None:
    examples = 0
    for name, document in _openapi_documents().items():
        registry = Registry().with_resource("urn:document", DRAFT202012.create_resource(document))
        for method, path, operation in _operations(document):
            for media in operation.get("requestBody", {}).get("content", {}).values():
                inline = media["schema"]
                schema = {"$ref": "urn:document" + inline["$ref"]} if "$ref" in inline else inline
                validator = Draft202012Validator(schema, registry=registry)
                for example_name, example in media.get("examples", {}).items():
                    errors = [error.message for error in validator.iter_errors(example["value"])]
                    assert errors == [], f"{name}: {method} {path} example {example_name}: {errors}"
                    examples += 1
    assert examples >= 10


def _all_schemas(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found += _all_schemas(item)
    elif isinstance(value, list):
        for item in value:
            found += _all_schemas(item)
    return found


def test_bounds_of_an_optional_value_are_on_the_value_and_zero_bounds_are_kept() -> None:
    bounds = {"minimum", "maximum", "minLength", "maxLength", "pattern", "exclusiveMinimum"}
    for name, document in _openapi_documents().items():
        for schema in _all_schemas(document):
            if "oneOf" in schema or "anyOf" in schema:
                assert not bounds & set(schema), (name, schema)
    registry = _openapi_documents()["openapi/registry.json"]["components"]["schemas"]
    capacity = registry["CapacityFields"]["properties"]["capacity"]["oneOf"][0]
    assert (capacity["minimum"], capacity["maximum"]) == (0, 1_000_000)
