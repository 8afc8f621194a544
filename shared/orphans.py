"""No process outlives the one that started it: a child asks the kernel for SIGTERM when
its parent dies, so a crashed supervisor leaves no server holding its port or data."""

from __future__ import annotations

import contextlib
import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGTERM this process when its parent dies (Linux; elsewhere nothing happens).

    Safe between fork and exec (`preexec_fn`) and at the start of a spawned worker."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
