"""docs/partners.md runs as written: its shell steps in order, in one shell, against the
three running services, with its Python webhook receiver saved as receiver.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from telebridge.embedded import free_port
from tests.e2e.conftest import System
from tests.support import ADMIN_KEY, ROOT

GUIDE = ROOT / "docs" / "partners.md"
_BLOCK = re.compile(r"^```(?P<language>\w+)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks(language: str) -> list[str]:
    return [
        match["code"]
        for match in _BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))
        if match["language"] == language
    ]


def test_the_partners_guide_runs_as_written(system: System, tmp_path: Path) -> None:
    [receiver] = _blocks("python")
    (tmp_path / "receiver.py").write_text(receiver, encoding="utf-8")
    steps = [block for block in _blocks("sh") if not block.startswith("uv run telebridge dev")]
    (tmp_path / "guide.sh").write_text("\n".join(steps), encoding="utf-8")
    environment = {
        **os.environ,
        "REGISTRY": system.url("registry"),
        "SCHEDULING": system.url("scheduling"),
        "TELEBRIDGE_DATABASE_URL": system.database_url,
        "ADMIN": ADMIN_KEY,
        "PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "guide.sh"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "422 application/problem+json" in output
    assert "registered" in output
    assert "304" in output
    received = (tmp_path / "received.txt").read_text(encoding="utf-8")
    assert received.startswith("meeting.cancelled "), received
    assert "Алехина И. Л.\nСветлана Умеренко\n" in result.stdout
    assert result.stdout.rstrip().endswith("delivered"), output
