"""The three services as child processes: start, wait until ready, stop, or kill.

Used by `telebridge dev` and by the end-to-end tests, so both run the services exactly as
a deployment does: `python -m services.<name>`, configured only through the environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from shared.orphans import die_with_parent
from telebridge.embedded import ChildProcess, EmbeddedServerError, answers_ok, stop_process, tail

DEFAULT_PORTS = {"registry": 8001, "scheduling": 8002, "agenda": 8003}


def stop_all(services: list[ServiceProcess], timeout: float = 15.0) -> None:
    """SIGTERM to all at once, then wait; whatever still runs after its grace is killed.

    A service still starting (waiting for PostgreSQL or NATS) acts on SIGTERM only once its
    start-up ends, so it gets a few seconds, not the whole grace period.
    """
    deadlines = {}
    for service in services:
        grace = timeout if service.ready else min(timeout, 3.0)
        deadlines[service.name] = time.monotonic() + grace
        service.terminate()
    for service in services:
        service.reap(deadlines[service.name])


class Interrupted(Exception):  # noqa: N818 - not an error: the user asked to stop
    """Ctrl-C arrived while waiting."""


@dataclass
class ServiceProcess(ChildProcess):
    name: str
    port: int
    environment: dict[str, str]
    log_path: Path
    runner: tuple[str, ...] = ()
    """Arguments between the interpreter and `-m services.<name>`, e.g. a profiler's."""
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restart(self) -> None:
        """Start again after the process ended on its own (a crash, a kill)."""
        self.reap(time.monotonic())
        self.start()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        prefix = f"TELEBRIDGE_{self.name.upper()}_HTTP"
        environment = {
            **os.environ,
            **self.environment,
            f"{prefix}_PORT": str(self.port),
            f"{prefix}_HOST": "127.0.0.1",
        }
        self._process = subprocess.Popen(  # noqa: S603
            [sys.executable, *self.runner, "-m", f"services.{self.name}"],
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # noqa: PLW1509
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0, stopping: threading.Event | None = None) -> None:
        """Wait until /health/ready answers 200; `stopping`, once set, gives up at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"{self.name} exited; the end of {self.log_path}:\n{tail(self.log_path, 5)}"
                )
            if answers_ok(f"{self.url}/health/ready"):
                return
            if stopping is not None and stopping.wait(0.1):
                raise Interrupted
        raise EmbeddedServerError(
            f"{self.name} was not ready within {timeout}s; the end of {self.log_path}:\n"
            f"{tail(self.log_path, 5)}"
        )

    @property
    def ready(self) -> bool:
        return self.running and answers_ok(f"{self.url}/health/ready")

    def stop(self) -> None:
        """SIGTERM: the service finishes its requests and closes its connections."""
        stop_all([self])

    def terminate(self) -> None:
        """Send SIGTERM and return; `reap` waits for the end."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)

    def reap(self, deadline: float) -> None:
        """Wait for the process to end until `deadline` (monotonic), then kill it."""
        if self._process is not None:
            try:
                self._process.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self._close_log()

    def pause(self) -> None:
        """SIGSTOP: the process stands still, as a machine that stalls; `resume` goes on."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything, as in a crash."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL, timeout=15)
            self._process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
