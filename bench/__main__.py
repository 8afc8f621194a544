"""`uv run python -m bench`: start a stack of our own, load data through the APIs, measure
every figure of issue 15 beside its baseline from the same run, write bench/RESULTS.md.

    uv run python -m bench [--quick] [--only feeds,writes,...] [--out PATH] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import load
from bench.data import (
    Api,
    Loaded,
    api_key,
    json_request,
    meeting_body,
    organizations,
    people,
    plan,
    window_start,
)
from bench.results import Report, machine
from bench.scenarios import (
    FULL,
    QUICK,
    Bench,
    Sizes,
    feeds,
    memory,
    propagation,
    relay,
    slots,
    wait_until_known,
    writes,
)
from bench.stack import Stack, cpu_used, running_stack
from telebridge.embedded import nats_server_binary, postgres_binaries

SCENARIOS: dict[str, Callable[[Bench], None]] = {
    "feeds": feeds,
    # Before the writes: their sign-ups leave invites queued for a while.
    "propagation": propagation,
    "writes": writes,
    "slots": slots,
    "relay": relay,
}
RESULTS = Path(__file__).parent / "RESULTS.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(SCENARIOS)}, memory")
    parser.add_argument("--out", type=Path, default=RESULTS, help="a .md file, or a folder")
    parser.add_argument("--profile", action="store_true", help="sample each service with py-spy")
    parser.add_argument("--workers", type=int, default=1, help="server processes per service")
    arguments = parser.parse_args()
    chosen = set(arguments.only.split(",")) if arguments.only else {*SCENARIOS, "memory"}
    unknown = chosen - {*SCENARIOS, "memory"}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    out: Path = arguments.out
    if out.suffix != ".md":
        out = out / "RESULTS.md"
    # Made before the run, not after half an hour of it.
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if arguments.quick else FULL
    began = time.monotonic()
    failed = False
    with (
        tempfile.TemporaryDirectory(prefix="telebridge-bench-") as folder,
        running_stack(Path(folder), arguments.workers) as stack,
    ):
        print(f"stack up in {folder}", flush=True)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        idle = stack.rss()
        report = Report(machine=machine(_version(postgres_binaries() / "postgres"), _nats()))
        loaded = load_data(stack, sizes)
        bench = Bench(
            stack, sizes, report, Path(folder), arguments.workers, arguments.profile, loaded
        )
        if arguments.quick:
            # The services' own server only: starting each server costs seconds.
            bench.servers = ("uvicorn-httptools",)
        for name, scenario in SCENARIOS.items():
            if name in chosen:
                # What a scenario's writes cause (events, invites) keeps the services busy
                # after it: each scenario starts once that is done, or it measures both.
                stack.wait_settled()
                failed |= _run(name, lambda scenario=scenario: scenario(bench), report)
                # What is measured so far, should a long run be stopped.
                out.write_text(report.render(), encoding="utf-8")
        if "memory" in chosen:
            failed |= _run("memory", lambda: memory(bench, idle), report)
        report.notes += [
            f"{'Quick run (--quick): small sizes, short loads; not the figures of record.' if arguments.quick else 'Full run.'} "  # noqa: E501
            f"Each load: {sizes.warmup:g} s warm-up, then {sizes.duration:g} s measured; "
            f"{arguments.workers} server process(es) per service; the whole run took "
            f"{time.monotonic() - began:.0f} s.",
            "Load generator: bench/load.py, keep-alive HTTP/1.1 on uvloop in a process of its "
            "own; a figure with ⚠ had statuses other than expected or connection errors.",
        ]
        out.write_text(report.render(), encoding="utf-8")
    print(f"wrote {out} in {time.monotonic() - began:.0f} s", flush=True)
    if failed:
        sys.exit(1)


def _run(name: str, scenario: Callable[[], None], report: Report) -> bool:
    print(f"{name}…", flush=True)
    started = time.monotonic()
    try:
        scenario()
    except Exception:  # one failed scenario must not lose the others' figures
        report.section(f"{name}: failed").notes.append(
            "```\n" + traceback.format_exc(limit=6) + "```"
        )
        print(traceback.format_exc(), file=sys.stderr, flush=True)
        return True
    print(f"{name} took {time.monotonic() - started:.0f} s", flush=True)
    return False


def load_data(stack: Stack, sizes: Sizes) -> Loaded:
    began = time.monotonic()
    loaded = asyncio.run(_registry_data(stack, sizes))
    loaded.seconds["organizations"] = time.monotonic() - began
    print(f"organizations and people in {loaded.seconds['organizations']:.1f} s", flush=True)
    began = time.monotonic()
    requests = [
        json_request("POST", "/meetings", meeting_body(number, meeting), stack.operator_key)
        for number, meeting in enumerate(loaded.plan)
    ]
    cpu = stack.cpu_seconds()
    loaded.create = load.run(
        load.Load(
            stack.port("scheduling"),
            requests,
            16,
            duration=3600,
            expected=frozenset({201}),
            cycle=False,
        )
    )
    loaded.create_cpu = cpu_used(cpu, stack.cpu_seconds())
    asyncio.run(_meetings(stack, loaded))
    loaded.seconds["meetings"] = time.monotonic() - began
    print(f"{len(loaded.meetings)} meetings in {loaded.seconds['meetings']:.1f} s", flush=True)
    return loaded


async def _registry_data(stack: Stack, sizes: Sizes) -> Loaded:
    async with Api(stack) as api:
        host, small, slot_organizations = await organizations(api)
        slot_ids = [organization for organization, _ in slot_organizations]
        start = window_start()
        loaded = Loaded(
            host,
            small,
            slot_organizations,
            plan(
                sizes.large_feed,
                sizes.small_feed,
                host=host,
                small_org=small,
                slot_ids=slot_ids,
                start=start,
            ),
            window_start=start,
        )
        loaded.people = await people(api, small, sizes.sign_up_people + 10, "p")
        await api_key(api, small)
        # Until scheduling has heard of every organization (the call is retried meanwhile).
        await api.call(
            "POST",
            "scheduling",
            "/slots",
            {
                "organization_ids": [host, small, *slot_ids],
                "duration_minutes": 60,
                "window_start": start.isoformat(),
                "window_end": loaded.plan[-1].ends_at.isoformat(),
            },
        )
        return loaded


async def _meetings(stack: Stack, loaded: Loaded) -> None:
    async with Api(stack) as api:
        # One meeting more, in no feed the bench reads: once the registry and the agenda
        # know it, they know every meeting before it.
        sentinel = meeting_body(len(loaded.plan), loaded.plan[0])
        sites = [organization for organization, _ in loaded.slot_organizations[:2]]
        sentinel |= {
            "title": "Последняя",
            "host_organization_id": sites[0],
            "sites": [{"organization_id": site} for site in sites],
        }
        last = await api.call("POST", "scheduling", "/meetings", sentinel, 201)
        await wait_until_known(stack, str(last["id"]))
        listed = await api.all("scheduling", "/meetings")
        loaded.meetings = [
            str(meeting["id"]) for meeting in listed if meeting["title"].startswith("Телемост №")
        ]


def _version(binary: Path | str) -> str:
    try:
        return subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _nats() -> str:
    return _version(nats_server_binary())


if __name__ == "__main__":
    main()
