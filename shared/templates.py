"""HTML from Jinja2 templates with autoescape: pages and mail bodies, never f-strings.

Each service keeps its templates in a `templates/` folder of its package; one environment
per folder, built once, escapes every value unless a template marks it safe.
"""

from __future__ import annotations

from functools import cache

import jinja2


@cache
def environment(package: str) -> jinja2.Environment:
    """The templates of `package` (e.g. "services.agenda"), from its `templates/` folder."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(package: str, template: str, /, **values: object) -> str:
    return environment(package).get_template(template).render(**values)
