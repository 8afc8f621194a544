"""Agenda publishing's REST API: agendas, and summaries as JSON and Markdown."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, put
from litestar.params import FromPath, JSONBody, QueryParameter

from services.agenda import publishing, store
from services.agenda.schemas import Agenda, AgendaPut, Summary
from services.agenda.summary import Language, render_markdown
from shared.db import Connection
from shared.http.params import AnyRequest, Transaction
from shared.http.problems import Problem
from shared.settings import AgendaSettings

MARKDOWN = "text/markdown; charset=utf-8"
SummaryLanguage = Annotated[Language, QueryParameter(description="ru or en")]


def _base_url(request: AnyRequest) -> str:
    settings: AgendaSettings = request.app.state.settings
    return settings.http.base_url


class AgendaController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["agendas"]

    @put("/agenda", summary="Put a meeting's agenda (replaces the previous one)")
    async def put_agenda(
        self,
        request: AnyRequest,
        connection: Transaction,
        meeting_id: FromPath[UUID],
        data: JSONBody[AgendaPut],
    ) -> Agenda:
        return await publishing.put_agenda(connection, meeting_id, data, _base_url(request))

    @get("/agenda", summary="A meeting's agenda")
    async def get_agenda(self, connection: Transaction, meeting_id: FromPath[UUID]) -> Agenda:
        await publishing.known_meeting(connection, meeting_id)
        agenda = await store.agenda(connection, meeting_id)
        if agenda is None:
            raise Problem(404, "no-agenda", f"meeting {meeting_id} has no agenda yet")
        return Agenda(
            meeting_id=meeting_id,
            items=store.items_of(agenda),
            version=agenda["version"],
            updated_at=agenda["updated_at"],
        )


class SummaryController(Controller):
    path = "/meetings/{meeting_id:uuid}"
    tags = ["summaries"]

    @get("/summary", summary="The post-event summary")
    async def get_summary(
        self,
        request: AnyRequest,
        connection: Transaction,
        meeting_id: FromPath[UUID],
    ) -> Summary:
        summary = await _summary(connection, meeting_id)
        return Summary(
            meeting_id=meeting_id,
            version=summary["version"],
            published_at=summary["published_at"],
            content=store.content_of(summary),
            markdown_url=f"{publishing.summary_url(_base_url(request), meeting_id)}.md",
        )

    @get("/summary.md", summary="The post-event summary as Markdown", media_type=MARKDOWN)
    async def get_summary_markdown(
        self, connection: Transaction, meeting_id: FromPath[UUID], lang: SummaryLanguage = "ru"
    ) -> Response[str]:
        summary = await _summary(connection, meeting_id)
        return Response(
            render_markdown(store.content_of(summary), lang),
            media_type=MARKDOWN,
            headers={"Content-Language": lang},
        )


async def _summary(connection: Connection, meeting_id: UUID) -> asyncpg.Record:
    meeting = await publishing.known_meeting(connection, meeting_id)
    summary = await store.summary(connection, meeting_id)
    if summary is None:
        status = meeting["status"]
        detail = (
            "it has ended; its summary is being written"
            if status == "ended"
            else f"it is {status}: its summary is written when it ends"
        )
        raise Problem(404, "no-summary-yet", f"meeting {meeting_id}: {detail}")
    return summary
