"""What the routes of agendas and summaries share: the base URL links are made from, the
language a page is asked in, and how a page or a version is answered."""

from __future__ import annotations

from typing import Annotated, TypeVar

from litestar import Response
from litestar.params import QueryParameter

from services.agenda.schemas import AgendaVersion, SummaryVersion
from shared.events import Language
from shared.http.media import HTML
from shared.http.params import AnyRequest
from shared.http.versions import etag
from shared.settings import AgendaSettings

PageLanguage = Annotated[Language, QueryParameter(description="ru or en")]
Versioned = TypeVar("Versioned", AgendaVersion, SummaryVersion)

PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""Pages need nothing but their own inline style: no script, no frame, no form runs."""


def base_url(request: AnyRequest) -> str:
    settings: AgendaSettings = request.app.state.settings
    return settings.http.base_url


def in_language(text: str, media_type: str, language: str) -> Response[str]:
    headers = {"Content-Language": language}
    if media_type == HTML:
        headers["Content-Security-Policy"] = PAGE_POLICY
    return Response(text, media_type=media_type, headers=headers)


def versioned(found: Versioned) -> Response[Versioned]:
    """A version, with the ETag a next PUT sends as If-Match when it is the latest."""
    headers = {"ETag": etag(found.version)} if found.latest else {}
    return Response(found, headers=headers)
