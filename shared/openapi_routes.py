"""What a route's code uses, found by following what it calls: the ``If-Match``,
``Idempotency-Key`` and ``ETag`` helpers of :mod:`shared.command_http`, and the guard of
its dependencies (a permission table, a signed-in user, or none)."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute

from shared import command_http
from shared.commands import Expect


def reaches(func: Callable[..., Any], targets: set[int], depth: int = 4) -> set[int]:
    """Which of ``targets`` (ids of functions) the code of ``func`` calls, directly or through
    the project's own functions it calls (a few levels deep)."""
    found: set[int] = set()
    seen: set[int] = set()

    def walk(code: types.CodeType, globals_: dict[str, Any], level: int) -> None:
        if id(code) in seen or level > depth:
            return
        seen.add(id(code))
        # ``seen(request) if exists else Expect.new()``: If-Match only for an existing record.
        if "new" in code.co_names and globals_.get("Expect") is Expect:
            found.add(CREATES_OR_UPDATES)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const, globals_, level)
        for name in code.co_names:
            obj = globals_.get(name)
            if obj is None:
                continue
            if id(obj) in targets:
                found.add(id(obj))
                continue
            inner = getattr(obj, "__wrapped__", obj)
            module = getattr(inner, "__module__", "") or ""
            if isinstance(inner, types.FunctionType) and module.startswith(
                ("services.", "shared.")
            ):
                walk(inner.__code__, inner.__globals__, level + 1)
            elif isinstance(obj, types.ModuleType) and obj.__name__.startswith("services."):
                # ``module.function``: the attribute names are in co_names too.
                for attr in code.co_names:
                    member = getattr(obj, attr, None)
                    if isinstance(member, types.FunctionType):
                        if id(member) in targets:
                            found.add(id(member))
                        else:
                            walk(member.__code__, member.__globals__, level + 1)

    target = getattr(func, "__wrapped__", func)
    if isinstance(target, types.FunctionType):
        walk(target.__code__, target.__globals__, 0)
    return found


USES_IF_MATCH = {id(command_http.seen), id(command_http.if_match)}
CREATES_OR_UPDATES = -1  # a marker among the ids: the route may also create the record
USES_KEY = {id(command_http.command_key)}
TAGS_ETAG = {id(command_http.tag)}


def route_guard(route: APIRoute) -> str | None:
    """ "action" for a route guarded by a permission table, "signed-in" for one that only
    needs a valid token, None for an open route."""
    for dependency in route.dependant.dependencies:
        call = dependency.call
        if getattr(call, "relais_action", None) is not None:
            return "action"
        if getattr(call, "relais_signed_in", False):
            return "signed-in"
    return None
