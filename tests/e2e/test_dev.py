"""`telebridge dev --demo` as a user runs it: everything comes up, the seed events are
there with their summaries, Ctrl-C leaves no process behind, and a restart keeps the data."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import psutil

from telebridge.embedded import free_port

TELEBRIDGE = str(Path(sys.executable).parent / "telebridge")


@contextmanager
def telebridge_dev(
    data_dir: Path, ports: dict[str, int], *, demo: bool = True, **settings: str
) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    environment = {
        **os.environ,
        "TELEBRIDGE_DATA_DIR": str(data_dir),
        "COLUMNS": "200",
        **settings,
    }
    for name, port in ports.items():
        environment[f"TELEBRIDGE_{name.upper()}_HTTP_PORT"] = str(port)
    process = subprocess.Popen(
        [TELEBRIDGE, "dev", *(["--demo"] if demo else [])],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def wait_for_line(lines: queue.Queue[str], text: str, timeout: float = 180) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} not printed within {timeout}s; output:\n{''.join(seen)}")


def stop(process: subprocess.Popen[str]) -> list[psutil.Process]:
    """Ctrl-C; returns the processes it had started, to check that none is left."""
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    return children


def wait_for_summary(client: httpx.Client, agenda: str, meeting_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = client.get(f"{agenda}/meetings/{meeting_id}/summary")
        if response.status_code == 200:
            content: dict[str, object] = response.json()["content"]
            return content
        time.sleep(0.5)
    raise AssertionError(f"no summary for {meeting_id}")


def wait_for_summary_link(client: httpx.Client, scheduling: str, meeting_id: str) -> str:
    """The summary's address, once scheduling has heard it was published."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        url: str | None = client.get(f"{scheduling}/meetings/{meeting_id}").json()["summary_url"]
        if url:
            return url
        time.sleep(0.5)
    raise AssertionError(f"scheduling never linked the summary of {meeting_id}")


def test_dev_runs_the_demo_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("registry", "scheduling", "agenda")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    data_dir = tmp_path / "dev"

    with telebridge_dev(data_dir, ports) as (process, lines):
        output = "".join(wait_for_line(lines, "Running."))
        assert "demo loaded" in output
        with httpx.Client(timeout=10) as client:
            for url in urls.values():
                assert client.get(f"{url}/health/ready").status_code == 200
            meetings = client.get(f"{urls['scheduling']}/meetings").json()["items"]
            assert sorted(m["kind"] for m in meetings) == [
                "telebridge",
                "videoconference",
                "workshop",
            ]
            workshop = next(m for m in meetings if m["kind"] == "workshop")
            summary = wait_for_summary(client, urls["agenda"], workshop["id"])
            assert summary["participants"] == 115
            assert len(summary["regions"]) == 18  # type: ignore[arg-type]
            markdown = client.get(f"{urls['agenda']}/meetings/{workshop['id']}/summary.md")
            assert "- **Откуда:** 25 организаций из 18 регионов" in markdown.text
            # The seed's own phrase, from ../shared/seeds/000-lipetsk-internet-workshop.txt.
            assert (
                "более ста участников из Астрахани, Брянска, Владимира, Иванова, Краснодара, "
                "Красноярска, Курска, Луганска, Орла, Пензы, Тамбова, Липецкой, Саратовской, "
                "Тульской, Ульяновской областей, Приморского края, республик Крым, Тыва."
            ) in markdown.text
            # The operator's outcomes, published by the loader, in both languages.
            assert "собрали «портфель» методических материалов" in markdown.text
            page = client.get(
                f"{urls['agenda']}/meetings/{workshop['id']}/summary.html", params={"lang": "en"}
            )
            assert "From October 1 to 9, 2020, more than a hundred participants" in page.text
            assert "<h2>Outcomes</h2>" in page.text
            linked = wait_for_summary_link(client, urls["scheduling"], workshop["id"])
            assert linked.endswith(f"/meetings/{workshop['id']}/summary.html")
        started = stop(process)
    assert started, "telebridge dev should have started servers and services"
    assert not [child for child in started if child.is_running() and child.status() != "zombie"]

    with telebridge_dev(data_dir, ports) as (process, lines):
        output = "".join(wait_for_line(lines, "Running."))
        assert "it was there already" in output
        with httpx.Client(timeout=10) as client:
            again = client.get(f"{urls['scheduling']}/meetings").json()["items"]
        assert sorted(m["id"] for m in again) == sorted(m["id"] for m in meetings)
        # With no option, `telebridge status` finds the replicas on the NATS dev runs.
        status = subprocess.run(
            [TELEBRIDGE, "status", "--json"],
            env={**os.environ, "TELEBRIDGE_DATA_DIR": str(data_dir)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        replicas = json.loads(status.stdout)["replicas"]
        assert sorted((each["service"], each["http"], each["health"]) for each in replicas) == [
            (name, urls[name], "ok") for name in sorted(urls)
        ]
        stop(process)


def free_ports() -> dict[str, int]:
    return {name: free_port() for name in ("registry", "scheduling", "agenda")}


def test_ctrl_c_while_starting_stops_everything(tmp_path: Path) -> None:
    # NATS never answers: the services wait for it, and the user gives up.
    unreachable = f"nats://127.0.0.1:{free_port()}"
    with telebridge_dev(tmp_path / "dev", free_ports(), TELEBRIDGE_NATS_URL=unreachable) as (
        process,
        lines,
    ):
        wait_for_line(lines, "starting registry, scheduling, agenda")
        time.sleep(2)
        started = stop(process)
    assert started
    assert not [child for child in started if child.is_running() and child.status() != "zombie"]


def test_a_bad_setting_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    with telebridge_dev(tmp_path / "dev", free_ports(), TELEBRIDGE_NATS_MAX_DELIVERIES="abc") as (
        process,
        lines,
    ):
        assert process.wait(timeout=120) == 1
        output = "".join(wait_for_line(lines, "Expected `int`"))
    assert "TELEBRIDGE_NATS_MAX_DELIVERIES" in output
    assert "Traceback" not in output


def test_dev_restarts_a_service_and_postgresql_killed_under_it(tmp_path: Path) -> None:
    ports = free_ports()
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    operator = {"Authorization": "Bearer dev-test-operator"}
    with telebridge_dev(
        tmp_path / "dev", ports, demo=False, TELEBRIDGE_AUTH_OPERATOR_KEY="dev-test-operator"
    ) as (process, lines):
        wait_for_line(lines, "Running.")
        dev = psutil.Process(process.pid)

        [scheduling] = [
            child for child in dev.children() if "services.scheduling" in " ".join(child.cmdline())
        ]
        scheduling.kill()
        wait_for_line(lines, "scheduling restarted", timeout=60)
        with httpx.Client(timeout=10) as client:
            wait_until_ready(client, urls["scheduling"])

        [postgres] = [child for child in dev.children() if child.name() == "postgres"]
        postgres.kill()
        wait_for_line(lines, "PostgreSQL restarted", timeout=120)
        with httpx.Client(timeout=10) as client:
            for url in urls.values():
                wait_until_ready(client, url)
            created = client.post(
                f"{urls['registry']}/organizations",
                headers=operator,
                json={"name": "Тамбовская библиотека", "region": "RU-TAM",
                      "timezone": "Europe/Moscow"},
            )  # fmt: skip
            assert created.status_code == 201, created.text
        started = stop(process)
    assert not [child for child in started if child.is_running() and child.status() != "zombie"]


def wait_until_ready(client: httpx.Client, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if client.get(f"{url}/health/ready").status_code == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready within {timeout}s")
