"""Agenda publishing's REST API: agendas and summaries, their versions and their pages."""

from __future__ import annotations

from typing import Annotated, TypeVar
from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from services.agenda import publishing, renderings, store, summaries, summary_text
from services.agenda.access import hosted_meeting, visible_meeting
from services.agenda.diff import AgendaDiff, diff
from services.agenda.schemas import AgendaVersion, AgendaWrite, SummaryVersion, SummaryWrite
from shared.errors import NotFound
from shared.events import Language
from shared.http.auth import KEY_SECURITY
from shared.http.media import CALENDAR, HTML, MARKDOWN, XML
from shared.http.params import MAX_INT4, AnyRequest, Transaction, VersionNumber, Visitor
from shared.http.params import Caller as CallerParam
from shared.http.versions import etag, sent_version
from shared.settings import AgendaSettings

PageLanguage = Annotated[Language, QueryParameter(description="ru or en")]
Versioned = TypeVar("Versioned", AgendaVersion, SummaryVersion)


def _base_url(request: AnyRequest) -> str:
    settings: AgendaSettings = request.app.state.settings
    return settings.http.base_url


class AgendaController(Controller):
    path = "/meetings/{meeting_id:uuid}/agenda"
    tags = ["agendas"]

    @put(
        "/",
        summary="Write a new version of a meeting's agenda, published at once if asked",
        description="Every version is kept. Once the agenda has a version, send the ETag of "
        "the latest (from this or GET /versions/latest) as If-Match.",
        security=KEY_SECURITY,
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
        written = await publishing.put_agenda(
            connection,
            meeting_id,
            data,
            caller=caller,
            expected_version=sent_version(request),
            base_url=_base_url(request),
            dry_run=dry_run,
        )
        return _versioned(written) if not dry_run else Response(written)

    @get("/", summary="The published version of a meeting's agenda")
    async def get_agenda(
        self, connection: Transaction, visitor: Visitor, meeting_id: FromPath[UUID]
    ) -> AgendaVersion:
        await visible_meeting(connection, visitor, meeting_id)
        found = await store.published_version(connection, meeting_id)
        if found is None:
            raise NotFound("no-agenda", f"meeting {meeting_id} has no published agenda")
        return await publishing.agenda_version(connection, meeting_id, found["version"])

    @get("/versions", summary="Every version of the agenda, newest first", security=KEY_SECURITY)
    async def list_versions(
        self, connection: Transaction, caller: CallerParam, meeting_id: FromPath[UUID]
    ) -> list[AgendaVersion]:
        await hosted_meeting(connection, caller, meeting_id)
        head = await store.agenda(connection, meeting_id)
        if head is None:
            return []
        return [
            publishing.version_view(found, head)
            for found in await store.versions(connection, meeting_id)
        ]

    @get(
        "/versions/latest",
        summary="The latest version, draft or published, with its ETag",
        security=KEY_SECURITY,
    )
    async def latest_version(
        self, connection: Transaction, caller: CallerParam, meeting_id: FromPath[UUID]
    ) -> Response[AgendaVersion]:
        await hosted_meeting(connection, caller, meeting_id)
        head = await store.agenda(connection, meeting_id)
        if head is None or not head["latest_version"]:
            raise NotFound("no-agenda", f"meeting {meeting_id} has no agenda yet")
        return _versioned(
            await publishing.agenda_version(connection, meeting_id, head["latest_version"])
        )

    @get("/versions/{version:int}", summary="One version of the agenda", security=KEY_SECURITY)
    async def get_version(
        self,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        version: VersionNumber,
    ) -> AgendaVersion:
        await hosted_meeting(connection, caller, meeting_id)
        return await publishing.agenda_version(connection, meeting_id, version)

    @post(
        "/versions/{version:int}/publish",
        summary="Publish a version: pages and invites show it",
        security=KEY_SECURITY,
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
        return await publishing.publish_version(
            connection, meeting_id, version, caller, _base_url(request)
        )

    @post(
        "/unpublish",
        summary="Withdraw the published agenda; every version stays kept",
        security=KEY_SECURITY,
        status_code=204,
    )
    async def unpublish(
        self, connection: Transaction, caller: CallerParam, meeting_id: FromPath[UUID]
    ) -> None:
        await publishing.unpublish(connection, meeting_id, caller)

    @get(
        "/diff",
        summary="What changed between two versions, item by item",
        security=KEY_SECURITY,
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
        before = await publishing.agenda_version(connection, meeting_id, from_version)
        after = await publishing.agenda_version(connection, meeting_id, to_version)
        return diff(before.items, after.items)


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
        programme = await publishing.published_programme(
            connection, meeting_id, _base_url(request), visitor
        )
        return _in_language(renderings.render_html(programme, lang), HTML, lang)

    @get("/agenda.md", summary="The published agenda as Markdown", media_type=MARKDOWN)
    async def agenda_markdown(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
        lang: PageLanguage = "ru",
    ) -> Response[str]:
        programme = await publishing.published_programme(
            connection, meeting_id, _base_url(request), visitor
        )
        return _in_language(renderings.render_markdown(programme, lang), MARKDOWN, lang)

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
        programme = await publishing.published_programme(
            connection, meeting_id, _base_url(request), visitor
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
        programme = await publishing.published_programme(
            connection, meeting_id, _base_url(request), visitor
        )
        return Response(renderings.render_frab(programme, lang), media_type=XML)


PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""Pages need nothing but their own inline style: no script, no frame, no form runs."""


def _in_language(text: str, media_type: str, language: str) -> Response[str]:
    headers = {"Content-Language": language}
    if media_type == HTML:
        headers["Content-Security-Policy"] = PAGE_POLICY
    return Response(text, media_type=media_type, headers=headers)


def _versioned(found: Versioned) -> Response[Versioned]:
    """A version, with the ETag a next PUT sends as If-Match when it is the latest."""
    headers = {"ETag": etag(found.version)} if found.latest else {}
    return Response(found, headers=headers)


class SummaryController(Controller):
    """The published summary for everyone; its versions for the host and operators."""

    path = "/meetings/{meeting_id:uuid}/summary"
    tags = ["summaries"]

    @get("/", summary="The published post-event summary")
    async def get_summary(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
    ) -> SummaryVersion:
        return await summaries.published_version(
            connection, meeting_id, _base_url(request), visitor
        )

    @put(
        "/",
        summary="Add outcomes to the summary: a new version, published at once if asked",
        description="The new version has the latest version's facts and these outcomes. "
        "Send the ETag of the latest version (GET /versions/latest) as If-Match.",
        security=KEY_SECURITY,
    )
    async def put_summary(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        data: JSONBody[SummaryWrite],
    ) -> Response[SummaryVersion]:
        written = await summaries.put_outcomes(
            connection,
            meeting_id,
            data,
            caller=caller,
            expected_version=sent_version(request),
            base_url=_base_url(request),
        )
        return _versioned(written)

    @get("/versions", summary="Every version of the summary, newest first", security=KEY_SECURITY)
    async def list_versions(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
    ) -> list[SummaryVersion]:
        await hosted_meeting(connection, caller, meeting_id)
        return await summaries.versions(connection, meeting_id, _base_url(request))

    @get(
        "/versions/latest",
        summary="The latest version, draft or published, with its ETag",
        security=KEY_SECURITY,
    )
    async def latest_version(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
    ) -> Response[SummaryVersion]:
        meeting = await hosted_meeting(connection, caller, meeting_id)
        return _versioned(await summaries.latest_version(connection, meeting, _base_url(request)))

    @get("/versions/{version:int}", summary="One version of the summary", security=KEY_SECURITY)
    async def get_version(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        version: VersionNumber,
    ) -> SummaryVersion:
        await hosted_meeting(connection, caller, meeting_id)
        return await summaries.summary_version(connection, meeting_id, version, _base_url(request))

    @get(
        "/versions/{version:int}/markdown",
        summary="One version of the summary as Markdown, to read before publishing it",
        media_type=MARKDOWN,
        security=KEY_SECURITY,
    )
    async def get_version_markdown(
        self,
        *,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        version: VersionNumber,
        lang: PageLanguage = "ru",
    ) -> Response[str]:
        await hosted_meeting(connection, caller, meeting_id)
        found = await summaries.summary_version(connection, meeting_id, version, _base_url(request))
        return _in_language(
            summary_text.render_markdown(summaries.text_of(found), lang), MARKDOWN, lang
        )

    @post(
        "/versions/{version:int}/publish",
        summary="Publish a version: the summary's page shows it, invites link to it",
        security=KEY_SECURITY,
        status_code=200,
    )
    async def publish_version(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        version: VersionNumber,
    ) -> SummaryVersion:
        return await summaries.publish_version(
            connection, meeting_id, version, caller, _base_url(request)
        )


class SummaryPageController(Controller):
    """The published summary for people: a page and Markdown."""

    path = "/meetings/{meeting_id:uuid}"
    tags = ["summaries"]

    @get("/summary.html", summary="The published summary as a page", media_type=HTML)
    async def summary_page(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
        lang: PageLanguage = "ru",
    ) -> Response[str]:
        found = await summaries.published_version(
            connection, meeting_id, _base_url(request), visitor
        )
        return _in_language(summary_text.render_html(summaries.text_of(found), lang), HTML, lang)

    @get("/summary.md", summary="The published summary as Markdown", media_type=MARKDOWN)
    async def summary_markdown(
        self,
        request: AnyRequest,
        connection: Transaction,
        visitor: Visitor,
        meeting_id: FromPath[UUID],
        lang: PageLanguage = "ru",
    ) -> Response[str]:
        found = await summaries.published_version(
            connection, meeting_id, _base_url(request), visitor
        )
        return _in_language(
            summary_text.render_markdown(summaries.text_of(found), lang), MARKDOWN, lang
        )
