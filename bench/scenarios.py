"""The scenarios of issue 15, each measured beside its baseline in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import uvloop

from bench import load, outbox_relay
from bench.bare import SERVERS
from bench.data import Api, Loaded, json_request, meeting_body, until_known
from bench.load import Load, LoadResult
from bench.results import Figure, Report, Section, flag_of, latency, load_figure, ms, rate, share
from bench.sampling import sampling, summary
from bench.stack import DATABASE, Arrival, Stack, bare_server, cpu_used, radicale
from telebridge.embedded import EmbeddedNats

SLOT_WINDOW = timedelta(weeks=8)
SLOT_STEP = timedelta(minutes=15)
SLOT_DURATION = timedelta(minutes=60)
PROPAGATION_PEOPLE = 10
"""People signed up in the propagation scenario, each with a feed of their own."""
POLL_INTERVAL = 0.025
"""How often the propagation scenario polls each person's feed."""


@dataclass(frozen=True)
class Sizes:
    small_feed: int
    large_feed: int
    duration: float
    """Seconds each load is measured, after `warmup`."""
    warmup: float
    propagation: float
    """Seconds of sign-ups at each rate."""
    sign_up_people: int
    relay_events: int
    searches: int
    radicale: float
    """Seconds Radicale is measured: it answers a large collection in seconds."""


FULL = Sizes(1000, 10000, 8.0, 2.0, 10.0, 100, 20000, 5, 20.0)
QUICK = Sizes(20, 60, 1.0, 0.3, 0.5, 10, 500, 1, 1.0)


@dataclass
class Bench:
    stack: Stack
    sizes: Sizes
    report: Report
    folder: Path
    workers: int
    profile: bool
    loaded: Loaded
    bare: dict[str, dict[str, LoadResult]] = field(default_factory=dict)
    """Per server, per measure: the bare app's figures."""
    bare_rss: int = 0
    servers: tuple[str, ...] = SERVERS
    """Servers the bare app is measured under."""

    def run(
        self, port: int, requests: list[bytes], connections: int, expected: set[int], **kw: float
    ) -> LoadResult:
        return load.run(
            Load(
                port,
                requests,
                connections,
                duration=kw.get("duration", self.sizes.duration),
                warmup=kw.get("warmup", self.sizes.warmup),
                expected=frozenset(expected),
                cycle=bool(kw.get("cycle", True)),
            )
        )

    @contextlib.contextmanager
    def profiled(self, section: Section, service: str, name: str) -> Iterator[None]:
        """Under --profile, the service is sampled meanwhile (bench/sampling.py); where its
        CPU time went goes into the section."""
        pid = self.stack.services[service].pid
        if not self.profile or pid is None:
            yield
            return
        with sampling(pid, self.folder / f"profile-{service}-{name}.txt") as sampled:
            yield
        section.profiles.append((f"{service}, {name}", summary(sampled)))

    def best_bare(self, measure: str) -> tuple[str, LoadResult]:
        server = max(self.bare, key=lambda name: self.bare[name][measure].rate)
        return server, self.bare[server][measure]


def calendar_path(url: str) -> str:
    return "/calendars/" + url.split("/calendars/", 1)[1]


# Feeds -------------------------------------------------------------------------------


def feeds(bench: Bench) -> None:
    section = bench.report.section("Feed GET")
    stack, loaded = bench.stack, bench.loaded
    port = stack.port("scheduling")

    async def prepare() -> dict[str, tuple[str, bytes, str]]:
        async with Api(stack) as api:
            found = {}
            for label, organization in (("small", loaded.small), ("large", loaded.host)):
                body = {"kind": "organization", "organization_id": organization}
                feed = await api.call("POST", "scheduling", "/feeds", body, 201)
                path = calendar_path(feed["url"])
                response = await api.client.get(stack.url("scheduling") + path)
                found[label] = (path, response.content, response.headers["ETag"])
            return found

    prepared = asyncio.run(prepare())
    step("feeds created")
    feeds_folder = bench.folder / "feeds"
    feeds_folder.mkdir(exist_ok=True)
    for label, (_, body, _) in prepared.items():
        (feeds_folder / f"{label}.ics").write_bytes(body)

    ours: dict[str, dict[str, LoadResult]] = {}
    with bench.profiled(section, "scheduling", "feeds"):
        for label, (path, _, etag) in prepared.items():
            get = [load.request("GET", path)]
            conditional = [load.request("GET", path, headers={"If-None-Match": etag})]
            ours[label] = {
                "200": bench.run(port, get, 32, {200}),
                "304": bench.run(port, conditional, 32, {304}),
                "one": bench.run(port, get, 1, {200}),
            }
        cold = cold_gets(bench, prepared)

    step("telebridge measured")
    for server in bench.servers:
        with bare_server(server, feeds_folder, bench.workers, bench.folder / "bare.log") as bare:
            step(f"bare app up under {server}")
            results = {}
            for label, (_, body, _) in prepared.items():
                tag = bare_tag(body)
                results[f"{label} 200"] = bench.run(
                    bare, [load.request("GET", f"/feeds/{label}")], 32, {200}
                )
                results[f"{label} 304"] = bench.run(
                    bare,
                    [load.request("GET", f"/feeds/{label}", headers={"If-None-Match": tag})],
                    32,
                    {304},
                )
            body = meeting_body(0, loaded.plan[0])
            results["json"] = bench.run(bare, [json_request("POST", "/json", body, "x")], 16, {201})
            bench.bare[server] = results
            bench.bare_rss = max(bench.bare_rss, rss_of_port_owner(stack, bare))

    step("bare app measured")
    radicale_results = radicale_gets(bench, prepared)
    step("Radicale measured")

    feed_figures(
        bench, section, prepared=prepared, ours=ours, cold=cold, radicale_results=radicale_results
    )
    section.notes.append(
        f"The bare app (bench/bare.py) serves the very bytes of each feed, under each server "
        f"with {bench.workers} worker(s), as the services run; the best server is the ceiling. "
        "Radicale serves the same events as one calendar collection (one file per event)."
    )
    servers = bench.report.section("Servers, on the bare app")
    first = bench.servers[0]
    for measure in ("small 200", "small 304", "large 200", "json"):
        base = bench.bare[first][measure]
        for server in bench.servers:
            result = bench.bare[server][measure]
            servers.add(
                Figure(
                    f"{measure.replace('small', 'feed small').replace('large', 'feed large')}"
                    f", {server}",
                    load_figure(result),
                    f"{first}: {rate(base)}",
                    share(result.rate, base.rate),
                    flag=flag_of(result),
                )
            )
    servers.notes.append(
        "The services run uvicorn on uvloop with httptools (shared/serve.py); "
        "the JSON POST decodes the create-meeting body at 16 connections."
    )


def feed_figures(
    bench: Bench,
    section: Section,
    *,
    prepared: dict[str, tuple[str, bytes, str]],
    ours: dict[str, dict[str, LoadResult]],
    cold: dict[str, float],
    radicale_results: dict[str, LoadResult],
) -> None:
    sizes = {"small": bench.sizes.small_feed, "large": bench.sizes.large_feed}
    for label, count in sizes.items():
        mine = ours[label]
        best_server, best = bench.best_bare(f"{label} 200")
        theirs = radicale_results[label]
        small = label == "small"
        meets = (
            mine["200"].rate >= 0.5 * best.rate and mine["200"].rate >= 300 * theirs.rate
            if small
            else None
        )
        section.add(
            Figure(
                f"feed GET, {count:,} events ({megabytes(len(prepared[label][1]))}), "
                "32 connections",
                load_figure(mine["200"]),
                f"bare ({best_server}): {load_figure(best)}; "
                f"Radicale{'' if small else ' (4 connections)'}: {load_figure(theirs)}",
                f"{share(mine['200'].rate, best.rate)} of bare; "
                f"{share(mine['200'].rate, theirs.rate)} Radicale",
                "≥ 50% of bare, ≥ 300× Radicale" if small else "",
                meets,
                flag_of(mine["200"]) or flag_of(theirs),
            )
        )
        best_server, best = bench.best_bare(f"{label} 304")
        section.add(
            Figure(
                f"feed 304 (If-None-Match), {count:,} events, 32 connections",
                load_figure(mine["304"]),
                f"bare ({best_server}): {load_figure(best)}",
                share(mine["304"].rate, best.rate),
                "≥ 80% of bare",
                mine["304"].rate >= 0.8 * best.rate,
                flag_of(mine["304"]),
            )
        )
        one = mine["one"]
        section.add(
            Figure(
                f"feed GET, {count:,} events, one connection (warm)",
                latency(one),
                f"Radicale, one GET: {ms(theirs.percentile(0.5))}",
                share(1 / one.percentile(0.5), 1 / theirs.percentile(0.5)) + " Radicale",
                "" if small else "≤ 20 ms",
                None if small else one.percentile(0.5) <= 0.020,
                flag_of(one),
            )
        )
        section.add(
            Figure(
                f"feed GET, {count:,} events, first GET right after a change (cold)",
                ms(cold[label]),
                f"warm: {ms(one.percentile(0.5))}",
                f"{cold[label] / one.percentile(0.5):.1f}× the warm GET",
                "" if small else "≤ 1 s",
                None if small else cold[label] <= 1.0,
            )
        )


_last_step = time.monotonic()


def step(what: str) -> None:
    """Progress on the console, with the seconds since the last step."""
    global _last_step  # noqa: PLW0603 - console progress only
    now = time.monotonic()
    print(f"  {what} (+{now - _last_step:.0f} s)", flush=True)
    _last_step = now


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


def bare_tag(body: bytes) -> str:
    import hashlib  # noqa: PLC0415 - the bare app's own rule, repeated

    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def rss_of_port_owner(stack: Stack, port: int) -> int:
    import psutil  # noqa: PLC0415

    total = 0
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if "bench.bare" in cmdline and str(port) in cmdline:
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
                total += sum(child.memory_info().rss for child in process.children(True))
    return total


def cold_gets(bench: Bench, prepared: dict[str, tuple[str, bytes, str]]) -> dict[str, float]:
    """One meeting more in both feeds, then the first GET of each."""
    loaded = bench.loaded
    planned = loaded.plan[0]
    body = meeting_body(len(loaded.plan), planned)
    body["sites"] = [{"organization_id": site} for site in (loaded.host, loaded.small)]
    body["title"] = "Телемост после изменения"

    async def change() -> None:
        async with Api(bench.stack) as api:
            await api.call("POST", "scheduling", "/meetings", body, 201)

    asyncio.run(change())
    port = bench.stack.port("scheduling")
    return {
        label: load.once(port, load.request("GET", path))
        for label, (path, _, _) in prepared.items()
    }


def radicale_gets(
    bench: Bench, prepared: dict[str, tuple[str, bytes, str]]
) -> dict[str, LoadResult]:
    calendars = {label: split_calendar(body) for label, (_, body, _) in prepared.items()}
    results = {}
    with radicale(bench.folder / "radicale", calendars) as port:
        auth = {"Authorization": "Basic YmVuY2g6eA=="}  # bench:x
        for label in calendars:
            get = [load.request("GET", f"/bench/{label}/", headers=auth)]
            # Its first answer builds Radicale's cache of the collection.
            load.once(port, get[0])
            # Radicale answers a large collection in seconds: a longer run to count any, and
            # fewer connections, or each would wait minutes for its one answer.
            connections = 32 if label == "small" else 4
            results[label] = bench.run(port, get, connections, {200}, duration=bench.sizes.radicale)
    return results


_COMPONENT = re.compile(rb"BEGIN:(VEVENT|VTIMEZONE)\r\n.*?END:\1\r\n", re.DOTALL)


def split_calendar(body: bytes) -> list[bytes]:
    """One calendar object per event, with every time zone, as a CalDAV store keeps them."""
    timezones, events = [], []
    for found in _COMPONENT.finditer(body):
        (events if found.group(1) == b"VEVENT" else timezones).append(found.group(0))
    head = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//radicale//EN\r\n"
    zones = b"".join(timezones)
    return [head + zones + event + b"END:VCALENDAR\r\n" for event in events]


# Writes ------------------------------------------------------------------------------


def writes(bench: Bench) -> None:
    section = bench.report.section("Writes, 16 connections")
    stack, loaded, sizes = bench.stack, bench.loaded, bench.sizes
    if not bench.bare:
        bare_json(bench)
    best_server, best = bench.best_bare("json")
    key = stack.operator_key
    meetings = loaded.meetings
    # Long enough for a slow write to be answered within a short (--quick) run.
    writing = max(sizes.duration, 4.0)
    # Sign-ups spread over the meetings, each person once per meeting; the last people
    # are the propagation scenario's.
    signing = loaded.people[:-PROPAGATION_PEOPLE]
    sign_ups = [
        json_request(
            "POST",
            f"/meetings/{meetings[index % len(meetings)]}/registrations",
            {"person_id": signing[index // len(meetings)][0]},
            key,
        )
        for index in range(len(meetings) * len(signing))
    ]
    cpu = stack.cpu_seconds()
    with bench.profiled(section, "registry", "sign-up"):
        signed = bench.run(
            stack.port("registry"), sign_ups, 16, {201}, cycle=False, duration=writing
        )
    signed_cpu = cpu_used(cpu, stack.cpu_seconds())
    agendas = [
        json_request("PUT", f"/meetings/{meeting}/agenda", agenda_body(), key)
        for meeting in meetings[1:]
    ]
    cpu = stack.cpu_seconds()
    with bench.profiled(section, "agenda", "agenda"):
        put = bench.run(
            stack.port("agenda"), agendas, 16, {200, 201}, cycle=False, duration=writing
        )
    put_cpu = cpu_used(cpu, stack.cpu_seconds())
    create = loaded.create
    assert create is not None
    for what, result in (
        (f"create meeting (while loading {len(loaded.plan):,})", create),
        ("sign-up", signed),
        ("agenda PUT (3 items, published)", put),
    ):
        section.add(
            Figure(
                what,
                load_figure(result),
                f"bare JSON POST ({best_server}): {load_figure(best)}",
                share(result.rate, best.rate),
                "≥ 25% of bare",
                result.rate >= 0.25 * best.rate,
                flag_of(result),
            )
        )
    section.notes += [
        cpu_note("meeting created", loaded.create_cpu, len(create.latencies)),
        cpu_note("sign-up", signed_cpu, len(signed.latencies)),
        cpu_note("agenda PUT", put_cpu, len(put.latencies)),
    ]
    section.notes.append(
        f"Create meeting is measured while the bench loads its {len(loaded.plan):,} meetings "
        f"(loading took {loaded.seconds.get('meetings', 0):.0f} s); the bare app decodes that "
        f"body. Sign-ups are {sizes.sign_up_people} people × the meetings, agenda PUTs one "
        "per meeting, each request once."
    )


def cpu_note(what: str, used: dict[str, float], count: int) -> str:
    """Where the CPU time of `count` requests went, per request and part of the stack, and
    what that allows on this machine's cores."""
    if not count:
        return f"{what}: no request answered, no CPU time to share out."
    parts = sorted(used.items(), key=lambda item: -item[1])
    total = sum(used.values())
    shown = ", ".join(f"{name} {1000 * seconds / count:.2f} ms" for name, seconds in parts)
    cores = os.cpu_count() or 1
    return (
        f"CPU time per {what}, by part of the stack: {shown}; {1000 * total / count:.2f} ms in "
        f"all, so {cores} cores serve at most {cores * count / total:,.0f} a second."
    )


def bare_json(bench: Bench) -> None:
    """The bare JSON ceiling alone, when the feed section (which measures it) did not run."""
    (bench.folder / "feeds").mkdir(exist_ok=True)
    body = meeting_body(0, bench.loaded.plan[0])
    for server in bench.servers:
        with bare_server(
            server, bench.folder / "feeds", bench.workers, bench.folder / "bare.log"
        ) as port:
            bench.bare[server] = {
                "json": bench.run(port, [json_request("POST", "/json", body, "x")], 16, {201})
            }


def agenda_body() -> dict[str, object]:
    return {
        "items": [
            {"title": "Открытие", "kind": "opening", "offset": "PT0S", "duration": "PT5M"},
            {"title": "Доклад", "offset": "PT5M", "duration": "PT15M"},
            {"title": "Вопросы", "offset": "PT20M", "duration": "PT10M"},
        ],
        "publish": True,
    }


# Propagation -------------------------------------------------------------------------


@dataclass
class SignUp:
    person: str
    email: str
    feed: str
    meeting: str
    accepted: float = 0.0
    in_feed: float = 0.0
    in_mail: float = 0.0


def propagation(bench: Bench) -> None:
    section = bench.report.section("Propagation: sign-up accepted → attendee in feed and invite")
    bench.stack.mail.wait_quiet()
    with (
        bench.profiled(section, "registry", "propagation"),
        bench.profiled(section, "scheduling", "propagation"),
    ):
        outcome = uvloop.run(_propagation(bench, section))
    for rate_per_second, (signups, answers) in outcome.items():
        feed = sorted(s.in_feed - s.accepted for s in signups if s.in_feed)
        mail = sorted(s.in_mail - s.accepted for s in signups if s.in_mail)
        for what, delays in (("feed", feed), ("invite (mail)", mail)):
            missing = len(signups) - len(delays)
            p99 = percentile(delays, 0.99)
            section.add(
                Figure(
                    f"→ {what}, {rate_per_second} sign-ups/s ({len(signups)})",
                    f"p50 {ms(percentile(delays, 0.5))}, p99 {ms(p99)}",
                    f"the sign-up's own answer: {latency(answers)}",
                    "",
                    "p99 ≤ 100 ms" if rate_per_second == 100 else "",
                    p99 <= 0.1 if rate_per_second == 100 and not missing else None,
                    f"{missing} never arrived" if missing else flag_of(answers),
                )
            )
    section.notes.append(
        f"Each person's feed is polled every {POLL_INTERVAL * 1000:.0f} ms with If-None-Match "
        "(so a delay is known to that much); mails are timed as the bench's SMTP sink "
        "accepts them. Sign-ups are sent open-loop at the rate, as partners send them."
    )


def percentile(values: list[float], share_of: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(share_of * len(values)))]


async def _propagation(
    bench: Bench, section: Section
) -> dict[int, tuple[list[SignUp], LoadResult]]:
    stack, loaded = bench.stack, bench.loaded
    people = loaded.people[-PROPAGATION_PEOPLE:]
    async with Api(stack) as api:
        feeds = [
            calendar_path(
                (
                    await api.call(
                        "POST", "scheduling", "/feeds", {"kind": "person", "person_id": person}, 201
                    )
                )["url"]
            )
            for person, _ in people
        ]
    # Meetings from the end of the list: the sign-up scenario starts from the front.
    meetings = iter(reversed(loaded.meetings))
    outcome = {}
    for rate_per_second in (20, 100):
        count = max(int(rate_per_second * bench.sizes.propagation), len(people))
        signups = []
        while len(signups) < count:
            meeting = next(meetings)
            signups += [
                SignUp(person, email, feed, meeting)
                for (person, email), feed in zip(people, feeds, strict=True)
            ]
        cpu, began = stack.cpu_seconds(), time.monotonic()
        outcome[rate_per_second] = await _propagate(bench, signups[:count], rate_per_second)
        used, seconds = cpu_used(cpu, stack.cpu_seconds()), time.monotonic() - began
        shown = ", ".join(
            f"{name} {spent / seconds:.2f}"
            for name, spent in sorted(used.items(), key=lambda i: -i[1])
        )
        section.notes.append(
            f"At {rate_per_second} sign-ups/s, over the {seconds:.0f} s until the last arrived "
            f"(the feeds' polling included), the stack kept {sum(used.values()) / seconds:.2f} "
            f"of the {os.cpu_count()} cores busy: {shown}."
        )
    return outcome


async def _propagate(
    bench: Bench, signups: list[SignUp], per_second: int
) -> tuple[list[SignUp], LoadResult]:
    """Send the sign-ups open-loop at `per_second` while every person's feed is polled,
    and note when each shows in the feed and in a mail. The requests go through the load
    generator's light client (bench/load.py): at 100 sign-ups a second and 400 polls,
    httpx took a core of this process and delayed the very requests it timed."""
    stack = bench.stack
    mail_from = len(stack.mail.arrivals)
    answers = LoadResult(0.0, [])
    began = time.perf_counter()
    registry = stack.port("registry")

    async def sign_up(index: int, signup: SignUp) -> None:
        await asyncio.sleep(max(0.0, began + index / per_second - time.perf_counter()))
        payload = json_request(
            "POST",
            f"/meetings/{signup.meeting}/registrations",
            {"person_id": signup.person},
            stack.operator_key,
        )
        sent = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", registry)
            try:
                response = await load.exchange(reader, writer, payload)
            finally:
                writer.close()
        except (OSError, asyncio.IncompleteReadError) as error:
            answers.errors[type(error).__name__] += 1
            return
        signup.accepted = time.perf_counter()
        answers.latencies.append(signup.accepted - sent)
        if response.status != 201:
            answers.unexpected[response.status] += 1
            signup.accepted = 0.0

    by_feed: dict[str, list[SignUp]] = {}
    for signup in signups:
        by_feed.setdefault(signup.feed, []).append(signup)
    done = asyncio.Event()
    pollers = [
        asyncio.create_task(poll(stack.port("scheduling"), feed, waiting, done))
        for feed, waiting in by_feed.items()
    ]
    await asyncio.gather(*(sign_up(index, signup) for index, signup in enumerate(signups)))
    answers.seconds = time.perf_counter() - began
    answers.latencies.sort()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        arrivals = stack.mail.arrivals[mail_from:]
        mail_from += len(arrivals)
        match_mail(arrivals, signups)
        accepted = [s for s in signups if s.accepted]
        if all(s.in_feed and s.in_mail for s in accepted):
            break
        await asyncio.sleep(0.2)
    done.set()
    await asyncio.gather(*pollers)
    return [s for s in signups if s.accepted], answers


async def poll(port: int, path: str, waiting: list[SignUp], done: asyncio.Event) -> None:
    """Poll one person's feed until `done`, noting when each meeting first shows in it."""
    tag = None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not done.is_set():
            headers = {"If-None-Match": tag} if tag else {}
            response = await load.exchange(
                reader, writer, load.request("GET", path, headers=headers)
            )
            seen = time.perf_counter()
            if response.status == 200:
                tag = response.headers.get(b"etag", b"").decode() or None
                text = response.body.decode()
                for signup in waiting:
                    if signup.accepted and not signup.in_feed and signup.meeting in text:
                        signup.in_feed = seen
            await asyncio.sleep(POLL_INTERVAL)
    finally:
        writer.close()


def match_mail(arrivals: list[Arrival], signups: list[SignUp]) -> None:
    """Note, for each sign-up, when the first mail to the person about the meeting came."""
    pending: dict[str, list[SignUp]] = {}
    for signup in signups:
        if not signup.in_mail:
            pending.setdefault(signup.email, []).append(signup)
    for arrival in arrivals:
        matching = [s for r in arrival.recipients for s in pending.get(r, [])]
        if not matching:
            continue
        text = arrival.text()
        for signup in matching:
            if not signup.in_mail and signup.meeting in text:
                signup.in_mail = arrival.at


# Slot search -------------------------------------------------------------------------


def slots(bench: Bench) -> None:
    section = bench.report.section("Slot search")
    loaded = bench.loaded
    organizations = [organization for organization, _ in loaded.slot_organizations]
    start = loaded.window_start
    body = {
        "organization_ids": organizations,
        "duration_minutes": int(SLOT_DURATION.total_seconds() // 60),
        "window_start": start.isoformat(),
        "window_end": (start + SLOT_WINDOW).isoformat(),
        "granularity_minutes": int(SLOT_STEP.total_seconds() // 60),
        "limit": 10,
    }
    request = json_request("POST", "/slots", body, bench.stack.operator_key)
    port = bench.stack.port("scheduling")
    with bench.profiled(section, "scheduling", "slots"):
        load.once(port, request)
        searched = bench.run(
            port, [request] * bench.sizes.searches, 1, {200}, warmup=0.0, duration=600, cycle=False
        )
    began = time.perf_counter()
    found = brute_force_slots(loaded)
    brute = time.perf_counter() - began
    per_organization = len(loaded.plan) * 2 // len(organizations)
    section.add(
        Figure(
            f"{len(organizations)} organizations, {len({z for _, z in loaded.slot_organizations})}"
            f" zones, 8 weeks, 15-minute steps, {per_organization:,} meetings each",
            latency(searched) + f" ({searched.count} searches)",
            f"minute-by-minute brute force in Python: {ms(brute)} ({found} slots fit)",
            share(1 / searched.percentile(0.5), 1 / brute) + " the brute force",
            "≤ 50 ms",
            searched.percentile(0.99) <= 0.050,
            flag_of(searched),
        )
    )
    section.notes.append(
        f"Loading: organizations and people {loaded.seconds.get('organizations', 0):.1f} s, "
        f"{len(loaded.plan):,} meetings {loaded.seconds.get('meetings', 0):.1f} s "
        "(16 concurrent API calls). The brute force checks every minute of every candidate "
        "against each site's 9-to-18 weekday hours in its zone and its meetings; it knows "
        "no public holidays, so it does less than the service."
    )


def brute_force_slots(loaded: Loaded) -> int:
    zones = dict(loaded.slot_organizations)
    busy: dict[str, set[int]] = {organization: set() for organization in zones}
    start = loaded.window_start
    for meeting in loaded.plan:
        first = int((meeting.starts_at - start).total_seconds() // 60)
        last = int((meeting.ends_at - start).total_seconds() // 60)
        for site in meeting.sites:
            if site in busy:
                busy[site].update(range(first, last))
    minutes = int(SLOT_DURATION.total_seconds() // 60)
    fitting = 0
    candidate = start
    while candidate + SLOT_DURATION <= start + SLOT_WINDOW:
        offset = int((candidate - start).total_seconds() // 60)
        if all(
            free_minute(candidate + timedelta(minutes=minute), zones[organization])
            and offset + minute not in busy[organization]
            for organization in zones
            for minute in range(minutes)
        ):
            fitting += 1
        candidate += SLOT_STEP
    return fitting


def free_minute(moment: object, zone: str) -> bool:
    local = moment.astimezone(ZoneInfo(zone))  # type: ignore[attr-defined]
    return local.weekday() < 5 and 9 <= local.hour < 18


# Outbox relay ------------------------------------------------------------------------


RELAY_BATCH = 500
"""The services' relay batch (shared.bus.outbox.OutboxRelay)."""


def relay(bench: Bench) -> None:
    section = bench.report.section("Outbox relay")
    stack, events = bench.stack, bench.sizes.relay_events
    database_url = stack.postgres.url(DATABASE)
    # A NATS server of its own: the relay's events must not reach the services.
    server = EmbeddedNats(bench.folder / "relay-nats")
    server.start()
    try:
        aggregates = max(events // 10, 1)

        def measured(relays: int, *, baseline: bool) -> float:
            return asyncio.run(
                outbox_relay.run(
                    events=events,
                    aggregates=aggregates,
                    relays=relays,
                    batch_size=RELAY_BATCH,
                    baseline=baseline,
                    database_url=database_url,
                    nats_url=server.url,
                )
            )

        rates = {relays: measured(relays, baseline=False) for relays in (1, 2)}
        sequential = measured(1, baseline=True)
    finally:
        server.stop()
    for relays, throughput in rates.items():
        section.add(
            Figure(
                f"{relays} relay{'s' if relays > 1 else ''}, {events:,} events",
                f"{throughput:,.0f} events/s",
                f"a relay awaiting each publish in turn: {sequential:,.0f} events/s",
                share(throughput, sequential),
                "≥ 5,000 events/s",
                throughput >= 5000,
            )
        )
    section.notes.append(
        f"bench/outbox_relay.py: {events:,} events of {aggregates:,} aggregates written, then "
        "relays, each a process of its own, drain the outbox into JetStream in batches of "
        f"{RELAY_BATCH}, publishing each round together. The baseline is the same relay "
        "awaiting each acknowledgement before the next publish."
    )


# Memory ------------------------------------------------------------------------------


def memory(bench: Bench, idle: dict[str, int]) -> None:
    section = bench.report.section("Memory (RSS)")
    after = bench.stack.rss()
    bare = f"bare app after its load: {bench.bare_rss / 2**20:,.0f} MiB" if bench.bare_rss else ""
    for name, before in idle.items():
        section.add(
            Figure(
                f"{name}, idle → after the load",
                f"{before / 2**20:,.0f} MiB → {after.get(name, 0) / 2**20:,.0f} MiB",
                bare or "—",
                share(after.get(name, 0), bench.bare_rss) + " of bare" if bench.bare_rss else "",
            )
        )
    section.notes.append(
        f"Each service with its {bench.workers} worker process(es); the bare app likewise."
    )


async def wait_until_known(stack: Stack, meeting: str) -> None:
    """Until the registry and the agenda have heard of `meeting`."""

    async with Api(stack) as api:

        async def known() -> bool:
            response = await api.client.get(f"{stack.url('registry')}/meetings/{meeting}")
            return response.status_code == 200

        # The registry and the agenda catch up on thousands of events: minutes on a busy
        # machine.
        await until_known(known, timeout=1800)
        await api.call("PUT", "agenda", f"/meetings/{meeting}/agenda", agenda_body())
