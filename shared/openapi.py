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

import types
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from shared import command_http
from shared.commands import Expect
from shared.reference_api import CodeList, codes_of


class FieldProblemOut(BaseModel):
    field: str = Field(description="Where the problem is: a body path (a.b.0), a parameter name")
    reason: str = Field(description="Why, in the caller's language (Accept-Language)")
    type: str | None = Field(default=None, description="A stable code for the kind of problem")


class ErrorDetailOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="A stable code, e.g. invalid_request, version_required")
    message: str = Field(description="What happened, in French or English (Accept-Language)")
    field: str | None = Field(default=None, description="The field or header at fault")
    fields: list[FieldProblemOut] | None = Field(
        default=None, description="Each invalid field, for invalid_request"
    )


class ErrorOut(BaseModel):
    """The one error body every service returns, whatever the status."""

    error: ErrorDetailOut


class AcceptedOut(BaseModel):
    """The command is stored, but this service's read model has not shown it yet: it will."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description='Always "accepted"')
    resource: dict[str, Any]
    location: str | None = None
    events: list[dict[str, Any]]
    message: str


class ProjectorHealthOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    projection: str
    stream: str
    checkpoint: int
    lag: int | None
    active: bool
    dead_letters: int
    halted: str | None


class HealthOut(BaseModel):
    """What ``/health`` answers, 200 when everything works and 503 when something does not."""

    model_config = ConfigDict(extra="allow")

    service: str
    status: str = Field(description="ok, unavailable or starting")
    problems: list[str]
    projectors: list[ProjectorHealthOut] = Field(default_factory=list)


ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
# The operations routes answer plain JSON or text; their shapes, said once here.
OPERATIONS: dict[str, dict[str, Any]] = {
    "/health": {
        "200": {
            "description": "Everything this service needs works",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HealthOut"}}},
        },
        "503": {
            "description": "Something this service needs does not work: see problems",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HealthOut"}}},
        },
    },
    "/metrics": {
        "200": {
            "description": "Prometheus text exposition",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
    },
    "/asyncapi.json": {
        "200": {
            "description": "The AsyncAPI 3.0 document of the events integrators may read",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["asyncapi"],
                        "additionalProperties": True,
                    }
                }
            },
        },
    },
}
BEARER = "bearer"

DESCRIPTIONS = {
    "202": "Stored, but not yet shown by this service's read model (it will be)",
    "400": "A NUL character, a byte-order mark, or a JSON key given twice",
    "401": "No valid bearer token",
    "403": "The caller's role or agency does not allow this",
    "404": "Not found, or not yours to see",
    "409": "Refused in the record's current state, or a stale If-Match",
    "413": "The request body is too large",
    "422": "Invalid input: each field and why",
    "428": "If-Match is required: send the version you last read",
    "503": "The event log or the database is unavailable: nothing was stored; retry later",
    "504": "The append's outcome is unknown: retry with the same Idempotency-Key",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}

IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": 'The version you last read (the ETag of your last read, e.g. "12"); a '
    "stale one is refused with 409 and the current version",
    "schema": {"type": "string", "pattern": '^(W/)?"?[0-9]{1,18}"?$', "maxLength": 24},
}
IF_MATCH_WHEN_EXISTS = {
    **IF_MATCH,
    "required": False,
    "description": "Required when the record already exists (428 without it): the version you "
    'last read, e.g. "12"; not sent when the command creates the record',
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key sent again by the same user on the same route is the same "
    "command: stored once",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
ETAG = {
    "description": 'The version of the record this answer shows, e.g. "12": send it as If-Match',
    "schema": {"type": "string"},
}


# -- what a route's code uses -----------------------------------------------------------------


def _reaches(func: Callable[..., Any], targets: set[int], depth: int = 4) -> set[int]:
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


def _guard(route: APIRoute) -> str | None:
    """ "action" for a route guarded by a permission table, "signed-in" for one that only
    needs a valid token, None for an open route."""
    for dependency in route.dependant.dependencies:
        call = dependency.call
        if getattr(call, "relais_action", None) is not None:
            return "action"
        if getattr(call, "relais_signed_in", False):
            return "signed-in"
    return None


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


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method in WRITE_METHODS | {"get", "head"}:
                yield path, method, operation


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

    for path, method, operation in _operations(doc):
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
        guard = _guard(route)
        if guard is not None:
            operation["security"] = [{BEARER: []}]
            _add(responses, "401")
            if guard == "action":
                _add(responses, "403")
        if "{" in path:
            _add(responses, "404")
        reached = _reaches(route.endpoint, USES_IF_MATCH | USES_KEY | TAGS_ETAG)
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
    _closed_lists(doc)
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


# -- closed code lists ------------------------------------------------------------------------

# (schema, property) -> the list its values come from; "*" for any request schema. Only fields
# whose validator checks the same list (shared.validation, the services' bodies).
CLOSED: dict[tuple[str, str], tuple[CodeList, ...]] = {
    ("*", "channel"): (CodeList.channels,),
    ("*", "commune"): (CodeList.communes,),
    ("AgencyBody", "commune"): (CodeList.departments, CodeList.communes),
    ("UnitBody", "commune"): (CodeList.departments, CodeList.communes),
    ("*", "concerns"): (CodeList.concerns,),
    ("*", "concern"): (CodeList.concerns,),
    ("*", "sex"): (CodeList.sexes,),
    ("*", "child_sex"): (CodeList.sexes,),
    ("*", "sexes"): (CodeList.sexes,),
    ("*", "urgency"): (CodeList.urgencies,),
    ("*", "vulnerabilities"): (CodeList.vulnerabilities,),
    ("ReferBody", "service_kind"): (CodeList.service_kinds,),
    # Query filters, by path.
    ("/units", "commune"): (CodeList.departments, CodeList.communes),
    ("/units", "service_kind"): (CodeList.service_kinds,),
    ("*", "service_kinds"): (CodeList.service_kinds,),
    ("*", "expected_services"): (CodeList.service_kinds,),
    ("*", "competency"): (CodeList.competencies,),
    ("AssessmentBody", "level"): (CodeList.competency_levels,),
    ("StaffBody", "sector"): (CodeList.sectors,),
    ("TrainingBody", "sector"): (CodeList.sectors,),
    ("*", "child_age_band"): (CodeList.age_bands,),
}
EXTRA_VALUES: dict[tuple[str, str], list[str]] = {("*", "child_age_band"): ["unknown"]}


def _request_schemas(doc: dict[str, Any]) -> set[str]:
    schemas = doc.get("components", {}).get("schemas", {})
    todo: list[str] = []

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"].rsplit("/", 1)[-1]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for _, _, operation in _operations(doc):
        if "requestBody" in operation:
            todo.extend(refs(operation["requestBody"]))
    found: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in found and name in schemas:
            found.add(name)
            todo.extend(refs(schemas[name]))
    return found


# Lists a deployment supplies in its own files (RELAIS_LOCATIONS_FILE,
# RELAIS_COMPETENCIES_FILE): named by their reference endpoint, not frozen into the contract.
DEPLOYMENT_LISTS = frozenset(
    {
        CodeList.communes,
        CodeList.departments,
        CodeList.competencies,
        CodeList.competency_levels,
        CodeList.sectors,
    }
)


def _enumerate(node: dict[str, Any], values: list[str] | None, href: str) -> bool:
    """Give the string schema in ``node`` (or in its array items, or its non-null branch) an
    enum (or, for ``values`` None, only the reference list's address); False if it is not a
    string schema."""
    if node.get("type") == "string" and "enum" not in node:
        if values is not None:
            node["enum"] = values
        else:
            node["description"] = (node.get("description", "") + f" A code of GET {href}.").strip()
        node["x-reference"] = href
        return True
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return _enumerate(node["items"], values, href)
    return any(
        _enumerate(branch, values, href)
        for branch in node.get("anyOf", [])
        if isinstance(branch, dict) and branch.get("type") != "null"
    )


def _values(key: tuple[str, str], lists: tuple[CodeList, ...]) -> list[str] | None:
    if any(which in DEPLOYMENT_LISTS for which in lists):
        return None
    values = [code for which in lists for code in codes_of(which)]
    return values + [v for v in EXTRA_VALUES.get(key, []) if v not in values]


def _closed_lists(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    # Query filters on a closed list: a value outside it is refused (invalid_filter).
    for path, _, operation in _operations(doc):
        for parameter in operation.get("parameters", []):
            name = parameter.get("name", "")
            key = (path, name) if (path, name) in CLOSED else ("*", name)
            if parameter.get("in") == "query" and key in CLOSED:
                href = f"/reference/{CLOSED[key][-1].value}"
                _enumerate(parameter.get("schema", {}), _values(key, CLOSED[key]), href)
    for name in _request_schemas(doc):
        for prop, node in schemas[name].get("properties", {}).items():
            key = (name, prop) if (name, prop) in CLOSED else ("*", prop)
            lists = CLOSED.get(key)
            if lists is None:
                continue
            _enumerate(node, _values(key, lists), f"/reference/{lists[-1].value}")


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
