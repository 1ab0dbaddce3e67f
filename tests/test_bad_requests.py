"""Bad input gets a clear answer, on every route of every service: malformed bodies, wrong
types, junk query parameters and odd path ids, sent by a caller who is allowed to use the
route, get a 4xx with a readable error and never a 500. Generated from the routes, so a new
route is covered without editing this test."""

from __future__ import annotations

import httpx
from fastapi.routing import APIRoute

from shared.access import Permissions
from shared.auth import LocalIssuer, Role
from shared.service import ServiceSpec
from tests.test_access_matrix import _principal, concrete, guarded_routes, running

__all__ = ["running"]  # the fixture, shared with the access matrix

BODIES: list[tuple[str, bytes]] = [
    ("not json", b"{not json"),
    ("a list", b"[]"),
    ("a string", b'"text"'),
    ("null", b"null"),
    ("a number", b"42"),
    ("unknown field", b'{"surely_not_a_field": 1}'),
    ("deep nesting", b"[" * 500 + b"]" * 500),
    ("nulls", b'{"reason": null, "changes": null, "items": null, "name": null}'),
    ("wrong types", b'{"reason": 5, "changes": "x", "items": {}, "name": ["a"], "total": "y"}'),
    ("5 MB", b'{"reason": "' + b"a" * 5_000_000 + b'"}'),
    ("bad unicode", b'{"reason": "\xff\xfe"}'),
    ("NUL escaped", b'{"reason": "a\\u0000b", "name": "x\\u0000"}'),
    ("NUL raw", b'{"reason": "a\x00b"}'),
    ("a key twice", b'{"reason": "a", "reason": "b"}'),
    ("byte-order mark", b'\xef\xbb\xbf{"reason": "a"}'),
]
QUERIES = [
    {"page": "-1", "page_size": "abc"},
    {"page": "99999999999999999999", "page_size": "0"},
    {"from": "not-a-date", "to": "2026-13-45", "status": "\u0000", "urgency": "x" * 5000},
    {"at": "yesterday", "limit": "-5", "format": "pdf"},
]
ODD_IDS = ["..", "a.b", "%00", "é" * 300, "x" * 5000, "'; drop table x; --"]


def allowed_token(issuer: LocalIssuer, action: str, permissions: Permissions) -> str | None:
    roles = [role.value for role in Role if permissions.allows(action, _principal(role))]
    if not roles:
        return None
    return issuer.mint(user="fuzz", agency="agency-a", roles=roles)


def check(answer: httpx.Response, what: str) -> None:
    assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:300]}"
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert error["code"] and error["message"], what
        assert "Traceback" not in answer.text, what


async def test_no_bad_request_gets_a_500_on_any_route(
    running: tuple[ServiceSpec, httpx.AsyncClient, LocalIssuer],
) -> None:
    spec, client, issuer = running
    sent = 0
    for route, action, permissions in guarded_routes(spec):
        assert isinstance(route, APIRoute)
        token = allowed_token(issuer, action, permissions)
        if token is None:
            continue
        headers = {"Authorization": f"Bearer {token}", "If-Match": "1"}
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            path = concrete(route.path)
            if method in ("POST", "PUT", "PATCH"):
                for name, body in BODIES:
                    answer = await client.request(
                        method,
                        path,
                        content=body,
                        headers={**headers, "Content-Type": "application/json"},
                    )
                    check(answer, f"{spec.name} {method} {route.path} with {name}")
                    sent += 1
            for params in QUERIES:
                answer = await client.request(method, path, params=params, headers=headers)
                check(answer, f"{spec.name} {method} {route.path} with {params}")
                sent += 1
            if "{" in route.path:
                for odd in ODD_IDS:
                    odd_path = route.path
                    while "{" in odd_path:
                        start, end = odd_path.index("{"), odd_path.index("}")
                        odd_path = odd_path[:start] + odd + odd_path[end + 1 :]
                    answer = await client.request(method, odd_path, headers=headers, json={})
                    check(answer, f"{spec.name} {method} {route.path} with id {odd[:20]!r}")
                    sent += 1
    print(f"{spec.name}: {sent} bad requests, none answered 500")
    assert sent > 0


async def test_a_nul_character_is_refused_wherever_it_is_sent(
    running: tuple[ServiceSpec, httpx.AsyncClient, LocalIssuer],
) -> None:
    # PostgreSQL cannot store it: accepted into the log, it would be an event no read model
    # could ever hold.
    spec, client, issuer = running
    route, action, permissions = next(
        (r, a, p) for r, a, p in guarded_routes(spec) if "POST" in r.methods
    )
    token = allowed_token(issuer, action, permissions)
    assert token is not None
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    path = concrete(route.path)
    attempts = [
        client.post(path, content=b'{"reason": "a\\u0000"}', headers=headers),
        client.post(path, content=b'{"reason": "a\x00"}', headers=headers),
        client.post(path, json={}, params={"q": "a\x00"}, headers=headers),
        client.get("/cases/a%00b", headers=headers),
    ]
    for attempt in attempts:
        answer = await attempt
        assert answer.status_code == 400, (spec.name, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "nul_character"
        assert error["message"].startswith("The request holds a NUL character")
