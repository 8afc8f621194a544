"""`telebridge --version` says the version pyproject.toml states, as the services do."""

from __future__ import annotations

import tomllib

from typer.testing import CliRunner

from shared.version import VERSION
from telebridge.cli import app
from tests.support import ROOT


def test_the_version_is_the_one_pyproject_states() -> None:
    stated = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert stated["project"]["version"] == VERSION


def test_telebridge_version_prints_it_and_exits_0() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"telebridge {VERSION}\n"


def test_the_services_document_the_same_version() -> None:
    from services.agenda.app import create_app
    from shared.settings import AgendaSettings

    schema = create_app(AgendaSettings()).openapi_schema
    assert schema.info.version == VERSION
