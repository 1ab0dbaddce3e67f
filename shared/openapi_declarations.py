"""What the services' OpenAPI documents declare, said once: the one error body and the other
answer bodies, the shapes of the operations routes, a description for every status, and the
``If-Match``, ``Idempotency-Key`` and ``ETag`` headers. :mod:`shared.openapi` puts them on
the routes that answer or read them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


def document_operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every operation of an OpenAPI document that reads or writes: (path, method, operation)."""
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method in WRITE_METHODS | {"get", "head"}:
                yield path, method, operation
