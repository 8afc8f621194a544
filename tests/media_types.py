"""A Content-Type read as strictly as the strictest clients read it (Go's
`mime.ParseMediaType`, which refuses a parameter given twice): RFC 9110 section 8.3."""

from __future__ import annotations

import re

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'
_TYPE = re.compile(rf"(?P<type>{_TOKEN})/(?P<subtype>{_TOKEN})")
_PARAMETER = re.compile(rf"[ \t]*;[ \t]*(?P<name>{_TOKEN})=(?P<value>{_TOKEN}|{_QUOTED})")


def media_type(value: str) -> tuple[str, dict[str, str]]:
    """The media type, lower-cased, and its parameters by lower-cased name; ValueError for
    anything RFC 9110 does not allow, or a parameter named twice (in any case)."""
    found = _TYPE.match(value)
    if found is None:
        raise ValueError(f"no type/subtype in {value!r}")
    parameters: dict[str, str] = {}
    position = found.end()
    while position < len(value.rstrip(" \t")):
        parameter = _PARAMETER.match(value, position)
        if parameter is None:
            raise ValueError(f"not a parameter at {value[position:]!r} in {value!r}")
        name = parameter["name"].lower()
        if name in parameters:
            raise ValueError(f"parameter {name!r} given twice in {value!r}")
        parameters[name] = parameter["value"].removeprefix('"').removesuffix('"')
        position = parameter.end()
    return f"{found['type']}/{found['subtype']}".lower(), parameters
