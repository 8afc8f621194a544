"""The version of Telebridge, said once: in pyproject.toml, read here from the installed
package's metadata for the services (OpenAPI, NATS micro services, contracts) and for
`telebridge --version`.

This module imports nothing of the services, so the CLI can print the version quickly.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Final

VERSION: Final = version("telebridge")
