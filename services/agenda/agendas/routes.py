"""Agendas' REST API: versions of a meeting's agenda, and the published agenda's pages."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from services.agenda.access import hosted_meeting
from services.agenda.agendas import agendas, renderings
from services.agenda.agendas.diff import AgendaDiff
from services.agenda.examples import AGENDA
from services.agenda.routes import PageLanguage, base_url, in_language, versioned
from services.agenda.schemas import AgendaVersion, AgendaWrite
from shared.errors import Conflict
from shared.http.contract import answers
from shared.http.media import CALENDAR, HTML, MARKDOWN, XML
from shared.http.params import MAX_INT4, AnyRequest, Transaction, VersionNumber, Visitor
from shared.http.params import Caller as CallerParam
from shared.http.versions import sent_version


class AgendaController(Controller):
    path = "/meetings/{meeting_id:uuid}/agenda"
    tags = ["agendas"]

    @put(
        "/",
        summary="Write a new version of a meeting's agenda, published at once if asked",
        opt=answers(if_match=True, etag=True, dry_run=True, examples=AGENDA),
        description="Every version is kept. Once the agenda has a version, send the ETag of "
        "the latest (from this or GET /versions/latest) as If-Match.",
    )
    async def put_agenda(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        data: JSONBody[AgendaWrite],
        dry_run: Annotated[
            bool,
            QueryParameter(description="Check everything, answer as if written, write nothing"),
        ] = False,
    ) -> Response[AgendaVersion]:
        written = await agendas.put_agenda(
            connection,
            meeting_id,
            data,
            caller=caller,
            expected_version=sent_version(request),
            base_url=base_url(request),
            dry_run=dry_run,
        )
        return versioned(written) if not dry_run else Response(written)

    @get("/", summary="The published version of a meeting's agenda")
    async def get_agenda(
        self, connection: Transaction, visitor: Visitor, meeting_id: FromPath[UUID]
    ) -> AgendaVersion:
        return await agendas.published_version(connection, meeting_id, visitor)

    @get("/versions", summary="Every version of the agenda, newest first")
    async def list_versions(
        self, connection: Transaction, caller: CallerParam, meeting_id: FromPath[UUID]
    ) -> list[AgendaVersion]:
        await hosted_meeting(connection, caller, meeting_id)
        return await agendas.every_version(connection, meeting_id)

    @get(
        "/versions/latest",
        summary="The latest version, draft or published, with its ETag",
        opt=answers(etag=True),
    )
    async def latest_version(
        self, connection: Transaction, caller: CallerParam, meeting_id: FromPath[UUID]
    ) -> Response[AgendaVersion]:
        await hosted_meeting(connection, caller, meeting_id)
        return versioned(await agendas.latest_version(connection, meeting_id))

    @get("/versions/{version:int}", summary="One version of the agenda")
    async def get_version(
        self,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        version: VersionNumber,
    ) -> AgendaVersion:
        await hosted_meeting(connection, caller, meeting_id)
        return await agendas.agenda_version(connection, meeting_id, version)

    @post(
        "/versions/{version:int}/publish",
        summary="Publish a version: pages and invites show it",
        status_code=200,
    )
    async def publish_version(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        version: VersionNumber,
    ) -> AgendaVersion:
        return await agendas.publish_version(
            connection, meeting_id, version, caller, base_url(request)
        )

    @post(
        "/unpublish",
        summary="Withdraw the published agenda; every version stays kept",
        opt=answers(Conflict),
        status_code=204,
    )
    async def unpublish(
        self, connection: Transaction, caller: CallerParam, meeting_id: FromPath[UUID]
    ) -> None:
        await agendas.unpublish(connection, meeting_id, caller)

    @get(
        "/diff",
        summary="What changed between two versions, item by item",
    )
    async def diff_versions(
        self,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        from_version: Annotated[
            int, QueryParameter(name="from", ge=1, le=MAX_INT4, description="The earlier version")
        ],
        to_version: Annotated[
            int, QueryParameter(name="to", ge=1, le=MAX_INT4, description="The later version")
        ],
    ) -> AgendaDiff:
        await hosted_meeting(connection, caller, meeting_id)
        return await agendas.changes(connection, meeting_id, from_version, to_version)


class AgendaPageController(Controller):
    """The published agenda for people and programs: pages, Markdown, ICS and frab XML."""

    path = "/meetings/{meeting_id:uuid}"
    tags = ["agendas"]

    @get("/agenda.html", summary="The published agenda as a page", media_type=HTML)
    async def agenda_page(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
        lang: PageLanguage = "ru",
    ) -> Response[str]:
        programme = await agendas.published_programme(
            connection, meeting_id, base_url(request), visitor
        )
        return in_language(renderings.render_html(programme, lang), HTML, lang)

    @get("/agenda.md", summary="The published agenda as Markdown", media_type=MARKDOWN)
    async def agenda_markdown(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
        lang: PageLanguage = "ru",
    ) -> Response[str]:
        programme = await agendas.published_programme(
            connection, meeting_id, base_url(request), visitor
        )
        return in_language(renderings.render_markdown(programme, lang), MARKDOWN, lang)

    @get(
        "/agenda.ics",
        summary="The published agenda's items as calendar events",
        media_type=CALENDAR,
    )
    async def agenda_calendar(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
    ) -> Response[bytes]:
        programme = await agendas.published_programme(
            connection, meeting_id, base_url(request), visitor
        )
        return Response(renderings.render_ics(programme), media_type=CALENDAR)

    @get(
        "/agenda.xml", summary="The published agenda as a frab (pentabarf) schedule", media_type=XML
    )
    async def agenda_frab(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
        lang: PageLanguage = "ru",
    ) -> Response[bytes]:
        programme = await agendas.published_programme(
            connection, meeting_id, base_url(request), visitor
        )
        return Response(renderings.render_frab(programme, lang), media_type=XML)
