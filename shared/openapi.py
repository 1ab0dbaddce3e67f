"""Every service's OpenAPI document, made to tell the truth (one post-processing step, applied
where every service's app is built):

* the bearer scheme, on every operation that needs a token, with its 401 and 403;
* every status a route can answer (400 for a NUL character, a byte-order mark or a key given
  twice; 404 for an id nobody has; 409 for a refusal; 413 for a body too large; 422 for
  invalid input; 428 for a missing ``If-Match``; 202 when a command is stored but not yet
  readable; 503 when the log or the database is down; 504 when an append's outcome is unknown),
  all with the one error body the services return (:func:`shared.http.error_body`);
* the ``If-Match`` and ``Idempotency-Key`` request headers and the ``ETag`` response header on
  the routes that read or write them (found by following what the route's code calls);
* the closed code lists of request bodies as enums that name their ``/reference`` list.

FastAPI's own guess (``HTTPValidationError``, which no service ever sends) is removed."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from shared.openapi_code_lists import close_code_lists
from shared.openapi_declarations import (
    BEARER,
    DESCRIPTIONS,
    ERROR_REF,
    ETAG,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    IF_MATCH_WHEN_EXISTS,
    OPERATIONS,
    WRITE_METHODS,
    AcceptedOut,
    ErrorOut,
    HealthOut,
    document_operations,
)
from shared.openapi_routes import (
    CREATES_OR_UPDATES,
    TAGS_ETAG,
    USES_IF_MATCH,
    USES_KEY,
    reaches,
    route_guard,
)

# -- the document ---------------------------------------------------------------------------


def _schemas_of(*models: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _error(status: str) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": ERROR_REF}},
    }


def _add(responses: dict[str, Any], status: str, answer: dict[str, Any] | None = None) -> None:
    if status not in responses:
        responses[status] = answer or _error(status)


def _add_parameter(operation: dict[str, Any], parameter: dict[str, Any]) -> None:
    params = operation.setdefault("parameters", [])
    if not any(p.get("name", "").lower() == parameter["name"].lower() for p in params):
        params.append(dict(parameter))


def make_truthful(doc: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Rewrite ``doc`` (FastAPI's document for ``routes``) in place, and return it."""
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_schemas_of(ErrorOut, AcceptedOut, HealthOut))
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token naming the user, agency and roles (relais token, or OIDC)",
    }
    by_operation: dict[tuple[str, str], APIRoute] = {}
    # Routers stay nested in the app (FastAPI's include contexts): each route with its prefix.
    for context in iter_route_contexts(routes):
        original = context.original_route
        if isinstance(original, APIRoute) and original.include_in_schema:
            for method in context.methods or ():
                by_operation[(str(context.path_format), method.lower())] = original

    for path, method, operation in document_operations(doc):
        responses: dict[str, Any] = operation.setdefault("responses", {})
        route = by_operation.get((path, method))
        # FastAPI's validation error body is not what any service sends.
        responses.pop("422", None)
        if method == "get" and path in OPERATIONS:
            responses.update(OPERATIONS[path])
        _add(responses, "400")
        _add(responses, "503")
        has_input = bool(operation.get("parameters")) or "requestBody" in operation
        if route is None:
            if has_input:
                _add(responses, "422")
            continue
        guard = route_guard(route)
        if guard is not None:
            operation["security"] = [{BEARER: []}]
            _add(responses, "401")
            if guard == "action":
                _add(responses, "403")
        if "{" in path:
            _add(responses, "404")
        reached = reaches(route.endpoint, USES_IF_MATCH | USES_KEY | TAGS_ETAG)
        if reached & USES_IF_MATCH:
            if CREATES_OR_UPDATES in reached:
                _add_parameter(operation, IF_MATCH_WHEN_EXISTS)
            _add_parameter(operation, IF_MATCH)
            _add(responses, "428")
            _add(responses, "409")
        if reached & USES_KEY:
            _add_parameter(operation, IDEMPOTENCY_KEY)
        if "requestBody" in operation:
            _add(responses, "413")
        if method in WRITE_METHODS and guard is not None:
            _add(responses, "409")
            _add(
                responses,
                "202",
                {
                    "description": DESCRIPTIONS["202"],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/AcceptedOut"}}
                    },
                },
            )
            _add(responses, "504")
        if guard is not None or operation.get("parameters") or "requestBody" in operation:
            _add(responses, "422")
        # An error a route declares itself (a 404 without an id in the path) has the one body.
        for status, answer in responses.items():
            if status[0] in "45" and "content" not in answer:
                answer["content"] = {"application/json": {"schema": ERROR_REF}}
        if reached & TAGS_ETAG:
            for status, answer in responses.items():
                if status.startswith("2") and status != "202":
                    answer.setdefault("headers", {})["ETag"] = dict(ETAG)

    for unused in ("HTTPValidationError", "ValidationError"):
        if not _referenced(doc, unused):
            schemas.pop(unused, None)
    close_code_lists(doc)
    return doc


def _referenced(doc: dict[str, Any], name: str) -> bool:
    ref = f"#/components/schemas/{name}"

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return node.get("$ref") == ref or any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return walk({k: v for k, v in doc.items() if k != "components"}) or any(
        walk(s) for n, s in doc.get("components", {}).get("schemas", {}).items() if n != name
    )


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the truthful document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = make_truthful(doc, list(app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
