"""Agenda publishing's health endpoints and OpenAPI document."""

from __future__ import annotations

from tests.integration.agenda.support import Agenda
from tests.integration.api import assert_live_and_ready, openapi_operations, served_operations

# --- health and schema ----------------------------------------------------------------


async def test_live_ready_and_the_openapi_document(agenda: Agenda) -> None:
    await assert_live_and_ready(agenda.client, "agenda")
    operations = await openapi_operations(agenda.client)
    assert operations == served_operations(agenda.client)
    assert operations == {
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
        ("PUT", "/meetings/{meeting_id}/agenda"),
        ("GET", "/meetings/{meeting_id}/agenda"),
        ("GET", "/meetings/{meeting_id}/agenda/versions"),
        ("GET", "/meetings/{meeting_id}/agenda/versions/latest"),
        ("GET", "/meetings/{meeting_id}/agenda/versions/{version}"),
        ("POST", "/meetings/{meeting_id}/agenda/versions/{version}/publish"),
        ("POST", "/meetings/{meeting_id}/agenda/unpublish"),
        ("GET", "/meetings/{meeting_id}/agenda/diff"),
        ("GET", "/meetings/{meeting_id}/agenda.html"),
        ("GET", "/meetings/{meeting_id}/agenda.md"),
        ("GET", "/meetings/{meeting_id}/agenda.ics"),
        ("GET", "/meetings/{meeting_id}/agenda.xml"),
        ("GET", "/meetings/{meeting_id}/summary"),
        ("PUT", "/meetings/{meeting_id}/summary"),
        ("GET", "/meetings/{meeting_id}/summary/versions"),
        ("GET", "/meetings/{meeting_id}/summary/versions/latest"),
        ("GET", "/meetings/{meeting_id}/summary/versions/{version}"),
        ("GET", "/meetings/{meeting_id}/summary/versions/{version}/markdown"),
        ("POST", "/meetings/{meeting_id}/summary/versions/{version}/publish"),
        ("GET", "/meetings/{meeting_id}/summary.html"),
        ("GET", "/meetings/{meeting_id}/summary.md"),
    }
