"""contracts/ is generated from the code; this fails as soon as the two differ."""

from shared.events import ALL_EVENTS
from telebridge.contracts import drifted, generate


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
