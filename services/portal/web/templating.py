"""The Jinja2 environment (autoescaped, gettext from the catalogues) and the versioned URLs of
the static assets, which are cached for good by browsers: a new release changes the URL."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from services.portal.web import i18n
from shared.ids import new_id

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"


@cache
def static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/static/{static_version()}/{name}"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext_, ngettext=i18n.ngettext_, newstyle=True
    )
    env.globals.update(
        static_url=static_url,
        label=i18n.label,
        when=i18n.when,
        day=i18n.day,
        new_key=new_id,
    )
    return env


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(context)
