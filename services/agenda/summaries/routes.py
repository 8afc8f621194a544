"""Summaries' REST API: the published summary and its pages, its versions for the host."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, JSONBody

from services.agenda.access import hosted_meeting
from services.agenda.examples import SUMMARY
from services.agenda.routes import PageLanguage, base_url, in_language, versioned
from services.agenda.schemas import SummaryVersion, SummaryWrite
from services.agenda.summaries import summaries, text
from shared.errors import Conflict
from shared.http.contract import answers
from shared.http.media import HTML, MARKDOWN
from shared.http.params import AnyRequest, Transaction, VersionNumber, Visitor
from shared.http.params import Caller as CallerParam
from shared.http.versions import sent_version


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
        return await summaries.published_version(connection, meeting_id, base_url(request), visitor)

    @put(
        "/",
        summary="Add outcomes to the summary: a new version, published at once if asked",
        opt=answers(Conflict, if_match=True, etag=True, examples=SUMMARY),
        description="The new version has the latest version's facts and these outcomes. "
        "Send the ETag of the latest version (GET /versions/latest) as If-Match.",
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
            base_url=base_url(request),
        )
        return versioned(written)

    @get("/versions", summary="Every version of the summary, newest first")
    async def list_versions(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
    ) -> list[SummaryVersion]:
        await hosted_meeting(connection, caller, meeting_id)
        return await summaries.every_version(connection, meeting_id, base_url(request))

    @get(
        "/versions/latest",
        summary="The latest version, draft or published, with its ETag",
        opt=answers(etag=True),
    )
    async def latest_version(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
    ) -> Response[SummaryVersion]:
        meeting = await hosted_meeting(connection, caller, meeting_id)
        return versioned(await summaries.latest_version(connection, meeting, base_url(request)))

    @get("/versions/{version:int}", summary="One version of the summary")
    async def get_version(
        self,
        request: AnyRequest,
        connection: Transaction,
        caller: CallerParam,
        meeting_id: FromPath[UUID],
        version: VersionNumber,
    ) -> SummaryVersion:
        await hosted_meeting(connection, caller, meeting_id)
        return await summaries.summary_version(connection, meeting_id, version, base_url(request))

    @get(
        "/versions/{version:int}/markdown",
        summary="One version of the summary as Markdown, to read before publishing it",
        media_type=MARKDOWN,
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
        found = await summaries.summary_version(connection, meeting_id, version, base_url(request))
        return in_language(text.render_markdown(summaries.text_of(found), lang), MARKDOWN, lang)

    @post(
        "/versions/{version:int}/publish",
        summary="Publish a version: the summary's page shows it, invites link to it",
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
            connection, meeting_id, version, caller, base_url(request)
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
            connection, meeting_id, base_url(request), visitor
        )
        return in_language(text.render_html(summaries.text_of(found), lang), HTML, lang)

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
            connection, meeting_id, base_url(request), visitor
        )
        return in_language(text.render_markdown(summaries.text_of(found), lang), MARKDOWN, lang)
