"""The agenda and summary pages in a real browser: Debian's Chromium driven by Playwright
renders them with their Cyrillic intact and no console error; screenshots and print PDFs
are kept in `test-artifacts/`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from httpx import Response
from playwright.async_api import ConsoleMessage, Page, async_playwright

from tests.events import TITLE
from tests.integration.agenda.support import ITEMS, OUTCOMES, Agenda, ended_with_two, known
from tests.integration.api import body
from tests.support import http_server

ARTIFACTS = Path(__file__).parents[3] / "test-artifacts"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; installed from Debian's packages where it is missing and the
    tests may do so (root with apt-get), as on CI."""
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        # With its recommended packages: the fonts that draw Cyrillic come with them.
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, check=False, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
            subprocess.run(install, check=True, capture_output=True, timeout=600)
        found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is needed: apt-get install chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return found


@contextmanager
def served(content: bytes, content_type: str) -> Iterator[str]:
    """One page over real HTTP, with the headers the service gave it."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    with http_server(Page) as url:
        yield f"{url}/agenda.html"


@asynccontextmanager
async def in_chromium(chromium: str, response: Response, name: str) -> AsyncIterator[Page]:
    """The page the service answered with, open in Chromium over HTTP. On leaving: no
    console error or warning, and a screenshot and a print PDF kept as `name`.png/.pdf."""
    assert response.status_code == 200
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"{message.type}: {message.text}")

    with served(response.content, response.headers["content-type"]) as url:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox"]
            )
            try:
                page = await browser.new_page(viewport={"width": 1200, "height": 800})
                page.on("console", console)
                page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                await page.goto(url, wait_until="load")
                yield page
                ARTIFACTS.mkdir(exist_ok=True)
                shot = ARTIFACTS / f"{name}.png"
                await page.screenshot(path=str(shot), full_page=True)
                await page.emulate_media(media="print")
                await page.pdf(path=str(ARTIFACTS / f"{name}.pdf"))
            finally:
                await browser.close()
    assert problems == []
    assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_the_agenda_page_renders_in_chromium(
    agenda: Agenda, chromium: str, language: str
) -> None:
    meeting_id = await known(agenda)
    body(await agenda.put(meeting_id, ITEMS))
    response = await agenda.client.get(
        f"/meetings/{meeting_id}/agenda.html", params={"lang": language}
    )
    async with in_chromium(chromium, response, f"agenda-page-{language}") as page:
        assert await page.inner_text("h1") == TITLE
        headers = await page.locator("th").all_inner_texts()
        clocks = ["Москва", "Владивосток"] if language == "ru" else ["Moscow", "Vladivostok"]
        assert headers[:2] == clocks
        assert "Виртуальная экскурсия по Владивостоку" in await page.inner_text("main")


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_the_summary_page_renders_in_chromium(
    agenda: Agenda, chromium: str, language: str
) -> None:
    meeting = await ended_with_two(agenda)
    await agenda.draft(meeting.aggregate_id, participants=2)
    body(await agenda.add_outcomes(meeting.aggregate_id, OUTCOMES, version=1))
    response = await agenda.client.get(
        f"/meetings/{meeting.aggregate_id}/summary.html", params={"lang": language}
    )
    async with in_chromium(chromium, response, f"summary-page-{language}") as page:
        assert await page.inner_text("h1") == TITLE
        main = await page.inner_text("main")
        if language == "ru":
            assert "Дети из Георгиевска и Владивостока обменялись рисунками." in main
            assert "Откуда: 2 организации из 2 регионов" in main
        else:
            assert "Children of Georgievsk and Vladivostok exchanged drawings." in main
            assert "From: 2 organizations in 2 regions" in main
        assert await page.locator("strong", has_text="обменялись").count() == (language == "ru")
