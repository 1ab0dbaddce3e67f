"""The HTTP side of commands, the same on every route of every service.

* ``If-Match``: every mutating route of an existing aggregate needs the version the client
  last read (the ``ETag`` of that read, or the ``version`` of a command's answer). Missing:
  428; not a version: 422; stale: 409 with the current version (``shared.http``).
* ``ETag``: every read of an aggregate, and every command's answer, carries its version.
* ``Idempotency-Key``: one scope everywhere, the user and the route. The same key sent again
  by the same user to the same route is the same command (stored once); the same key from
  another user or on another route is another command."""

from __future__ import annotations

import re

from fastapi import Request, Response

from shared.auth import Principal
from shared.commands import Expect
from shared.envelope import Actor
from shared.http import ApiError, idempotency_key
from shared.i18n import Message
from shared.ids import derived_id, new_id

SITE_TAG = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
VERSION_REQUIRED = Message(
    en="Send the version you last read in the If-Match header (the ETag of your last read).",
    fr="Indiquez dans l'en-tête If-Match la version que vous avez lue en dernier (l'ETag de "
    "votre dernière lecture).",
)
VERSION_INVALID = Message(
    en='If-Match must be a version, a whole number such as "12".',
    fr='If-Match doit être une version, un nombre entier comme "12".',
)


def if_match(request: Request) -> int:
    """The version the client states it saw."""
    raw = request.headers.get("if-match")
    if raw is None:
        raise ApiError(428, "version_required", VERSION_REQUIRED, field="If-Match")
    value = raw.strip().removeprefix("W/").strip('"')
    # "<site>.<n>": the ETag of a command forwarded to the site that owns the aggregate, in
    # that site's numbering (shared/forwarding.py translates it on the way back there).
    site, _, number = value.rpartition(".")
    if site and SITE_TAG.match(site):
        value = number
    if not value.isdigit() or len(value) > 18:
        raise ApiError(422, "invalid_version", VERSION_INVALID, field="If-Match")
    return int(value)


def seen(request: Request) -> Expect:
    """:class:`Expect` for a command on an existing aggregate: the version in ``If-Match``."""
    return Expect.seen(if_match(request))


def etag(version: int) -> str:
    return f'"{version}"'


def tag(response: Response, version: int) -> None:
    """Say which version of the aggregate an answer shows."""
    response.headers["ETag"] = etag(version)


def scoped_key(user: str, method: str, route: str, key: str) -> str:
    """A client's key in its one scope: the user and the route (its path template)."""
    return "\x1f".join(("http", user, method, route, key))


def command_key(request: Request, principal: Principal) -> str | None:
    """The request's ``Idempotency-Key`` in its one scope: this user, this route."""
    key = idempotency_key(request)
    if key is None:
        return None
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    return scoped_key(principal.user, request.method, template, key)


def new_aggregate_id(key: str | None, *parts: str) -> str:
    """The id of an aggregate a command creates: derived from its key, so that a retry names
    the same aggregate; a fresh time-ordered id without one."""
    return derived_id(key, *parts) if key else new_id()


def actor_of(principal: Principal) -> Actor:
    return Actor(user=principal.user, agency=principal.agency, role=principal.primary_role)
