"""RFC 5545 section 3.1 at the byte level, without any iCalendar library."""

from __future__ import annotations

MAX_OCTETS = 75


def line_problems(data: bytes) -> list[str]:
    """Every way the file breaks the content-line rules, with the line it happens on."""
    problems = []
    if not data.endswith(b"\r\n"):
        problems.append("the file does not end with CRLF")
    physical = data.removesuffix(b"\r\n").split(b"\r\n")
    for number, line in enumerate(physical, start=1):
        if b"\r" in line or b"\n" in line:
            problems.append(f"line {number}: a bare CR or LF")
        if len(line) > MAX_OCTETS:
            problems.append(f"line {number}: {len(line)} octets")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"line {number}: a UTF-8 character split by folding")
        if number > 1 and line[:1] in (b" ", b"\t"):
            before = physical[number - 2]
            trailing = len(before) - len(before.rstrip(b"\\"))
            if trailing % 2:
                problems.append(f"line {number}: an escape split by folding")
    return problems


def unfolded(data: bytes) -> list[str]:
    """The content lines, each unfolded."""
    text = data.replace(b"\r\n ", b"").replace(b"\r\n\t", b"")
    return text.decode("utf-8").removesuffix("\r\n").split("\r\n")
