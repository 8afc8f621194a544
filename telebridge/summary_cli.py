"""`telebridge summary …`: operators read a meeting's post-event summary and publish it,
with the outcomes they write in a file (YAML: `ru`, `en`; see `telebridge.agenda_file`).

Where the server is, which key, and the exit codes: see `telebridge.client`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from uuid import UUID

import httpx
import msgspec
import typer

from services.agenda.schemas import Outcomes, SummaryVersion
from shared.events import Language
from telebridge.agenda_file import OutcomesFile, parse_outcomes_file
from telebridge.client import (
    AGENDA,
    AgendaServerOption,
    ConfigOption,
    KeyOption,
    check_response,
    client_for,
    connection,
    decoded,
    ending,
    out,
    read_file,
    request,
    usage_error,
)

summary_app = typer.Typer(
    help="Post-event summaries: read them, add outcomes, publish.", no_args_is_help=True
)

MeetingArgument = Annotated[
    UUID | None,
    typer.Argument(help="The meeting's id; with --outcomes, `meeting:` in the file will do."),
]
LanguageOption = Annotated[
    Language, typer.Option("--lang", help="The language of the text: ru or en.")
]


@summary_app.command("show")
def show(
    meeting: Annotated[UUID, typer.Argument(help="The meeting's id.")],
    *,
    draft: Annotated[
        bool, typer.Option("--draft", help="The latest version, published or not.")
    ] = False,
    lang: LanguageOption = "ru",
    as_json: Annotated[bool, typer.Option("--json", help="The version as JSON.")] = False,
    server: AgendaServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """The published summary of a meeting as Markdown (or the latest draft, or JSON). The
    published one is public: no key is needed for it."""
    with ending(), client_for(connection(AGENDA, server, key, config, key_needed=draft)) as client:
        path = f"/meetings/{meeting}/summary"
        if not draft:
            response = request(
                client,
                "GET",
                path if as_json else f"{path}.md",
                params=None if as_json else {"lang": lang},
            )
            check_response(response)
            out.print(response.text.rstrip("\n"), markup=False)
            return
        found = _summary(client, f"{path}/versions/latest")
        if as_json:
            out.print(msgspec.json.encode(found).decode(), markup=False)
            return
        text = request(
            client, "GET", f"{path}/versions/{found.version}/markdown", params={"lang": lang}
        )
        check_response(text)
        state = "published" if found.published else "a draft, not published"
        out.print(f"<!-- version {found.version}, {state} -->", markup=False)
        out.print(text.text.rstrip("\n"), markup=False)


@summary_app.command("publish")
def publish(
    meeting: MeetingArgument = None,
    *,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            "--outcomes",
            exists=True,
            dir_okay=False,
            readable=True,
            help="A YAML file with the outcomes in `ru` and `en`.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and say what would be published.")
    ] = False,
    server: AgendaServerOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Publish the latest version of the summary, with the file's outcomes if given."""
    with ending():
        parsed = _read(outcomes) if outcomes else None
        meeting_id = meeting or (parsed.meeting if parsed else None)
        if meeting_id is None:
            raise usage_error("which meeting? give MEETING or `meeting:` in the file", "MEETING")
        path = f"/meetings/{meeting_id}/summary"
        with client_for(connection(AGENDA, server, key, config)) as client:
            latest_response = request(client, "GET", f"{path}/versions/latest")
            check_response(latest_response)
            latest = decoded(latest_response, SummaryVersion)
            wanted = parsed.applied_to(latest.outcomes) if parsed else latest.outcomes
            if latest.published and wanted == latest.outcomes:
                out.print(f"meeting {meeting_id}: version {latest.version} is published already")
                return
            _print_changes(latest, wanted)
            if dry_run:
                new = latest.version + (wanted != latest.outcomes)
                out.print(f"dry run: version {new} would be published")
                return
            if wanted == latest.outcomes:
                response = request(client, "POST", f"{path}/versions/{latest.version}/publish")
                check_response(response)
            else:
                response = request(
                    client,
                    "PUT",
                    path,
                    json={"outcomes": msgspec.to_builtins(wanted), "publish": True},
                    headers={"If-Match": latest_response.headers["ETag"]},
                )
                check_response(response, parsed.line_of if parsed else None, outcomes)
        published = decoded(response, SummaryVersion)
        out.print(f"meeting {meeting_id}: version {published.version} published")
        out.print(published.links.html, markup=False)


def _summary(client: httpx.Client, url: str) -> SummaryVersion:
    response = request(client, "GET", url)
    check_response(response)
    return decoded(response, SummaryVersion)


def _read(file: Path) -> OutcomesFile:
    return read_file(file, parse_outcomes_file)


def _print_changes(latest: SummaryVersion, wanted: Outcomes) -> None:
    content = latest.content
    out.print(
        f"version {latest.version}: {content.participants} registered, "
        f"{content.attended} checked in, {content.headcount} in the sites' rooms, "
        f"{len(content.organizations)} organizations, {len(content.regions)} regions, "
        f"{len(content.items_delivered)} items delivered",
        markup=False,
    )
    for language in ("ru", "en"):
        before, after = getattr(latest.outcomes, language), getattr(wanted, language)
        if before != after:
            change = "added" if before is None else "removed" if after is None else "rewritten"
            out.print(f"outcomes ({language}): {change}", markup=False)
