"""Profiles of a running service, sampled from outside with py-spy while a scenario loads
it: the same processes (workers included) serving the same load, nothing restarted, and the
figures measured meanwhile barely touched (py-spy reads the process's memory; it does not
stop it).

A sample is where a process was on CPU; waiting (for the database, the network, the next
request) is not sampled. So the shares say where the service's CPU time goes.
"""

from __future__ import annotations

import contextlib
import select
import shutil
import signal
import subprocess
import sysconfig
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RATE = 200
"""Samples a second per process."""
ROOT = Path(__file__).resolve().parents[1]
OURS = ("services/", "shared/")


@dataclass
class Sampled:
    """What a sampling wrote, once it has ended; `problem` says why there is none."""

    path: Path
    problem: str | None = None


@contextlib.contextmanager
def sampling(pid: int, path: Path) -> Iterator[Sampled]:
    """Sample process `pid` and its children until the block ends, into `path` (py-spy's
    raw format: one line per distinct stack, with its count)."""
    sampled = Sampled(path)
    binary = shutil.which("py-spy", path=sysconfig.get_path("scripts")) or shutil.which("py-spy")
    if binary is None:
        sampled.problem = "py-spy is not installed"
        yield sampled
        return
    process = subprocess.Popen(
        [
            binary, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
            "--rate", str(RATE), "--format", "raw", "--output", str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    started = _wait_for_start(process, timeout=15)
    try:
        yield sampled
    finally:
        # SIGINT ends py-spy's recording and has it write what it sampled.
        process.send_signal(signal.SIGINT)
        try:
            _, errors = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
        errors = started + (errors or b"")
        if not path.exists():
            # Typically no permission to read another process (ptrace), e.g. in a container.
            sampled.problem = errors.decode(errors="replace").strip()[-300:] or (
                f"py-spy exited with {process.returncode} and wrote nothing"
            )


def _wait_for_start(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """Wait until py-spy says it samples (or ends): it takes a moment to attach, and a
    SIGINT before that ends it with nothing written. Returns what it said meanwhile."""
    assert process.stderr is not None
    said = b""
    deadline = time.monotonic() + timeout
    while b"Sampling" not in said and process.poll() is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([process.stderr], [], [], remaining)[0]:
            break
        line = process.stderr.readline()
        if not line:
            break
        said += line
    return said


def summary(sampled: Sampled, lines: int = 30) -> str:
    """The functions that took the largest shares of the samples, counting a function
    wherever it is on the stack (inclusive), then where the samples ended (self)."""
    if sampled.problem:
        return f"(no profile: {sampled.problem})"
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in sampled.path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(frame) for frame in stack.split(";")]
        leaves[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "(no samples: the service was idle)"
    # Frames (nearly) every sample has, the interpreter's and the server's entry, say nothing.
    telling = [(frame, count) for frame, count in inclusive.most_common() if count < 0.99 * total]
    ours = [(frame, count) for frame, count in telling if _ours(frame)]
    shown = [f"{total:,} samples at {RATE}/s on CPU, all processes of the service", ""]
    shown += ["inclusive, the service's own code:"]
    shown += [f"  {100 * count / total:5.1f}%  {frame}" for frame, count in ours[:lines]]
    shown += ["", "inclusive, everything (the largest):"]
    shown += [f"  {100 * count / total:5.1f}%  {frame}" for frame, count in telling[:lines]]
    shown += ["", "self (where the samples were):"]
    shown += [f"  {100 * count / total:5.1f}%  {frame}" for frame, count in leaves.most_common(15)]
    return "\n".join(shown)


def _frame(raw: str) -> str:
    """`function (path/to/file.py:line)` → `function  file path`, without the line: one
    entry per function, whichever line of it was running."""
    function, _, place = raw.partition(" (")
    where = place.rsplit(":", 1)[0].rstrip(")")
    for marker in (f"{ROOT}/", "site-packages/", "/lib/python3.11/", "/lib/python3.12/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{function}  {where}"


def _ours(frame: str) -> bool:
    return frame.split("  ", 1)[-1].startswith(OURS)
