"""Ids the services' example requests share (`services/*/examples.py`), so that the examples
of the three OpenAPI documents tell one story: the Lipetsk workshop of seeds/000."""

from __future__ import annotations

from typing import Final

LIPETSK: Final = "0192f1d2-7a00-7000-8000-000000000001"
"""Липецкая областная детская библиотека, the host."""
ASTRAKHAN: Final = "0192f1d2-7a00-7000-8000-000000000005"
"""Астраханская областная библиотека для детей и молодёжи, a site."""
PERSON: Final = "0192f1d2-7a00-7000-8000-000000000002"
SESSION: Final = "0192f1d2-7a00-7000-8000-000000000004"
