"""The AsyncAPI document integrators build on: every event type, its subject pattern, its
envelope and data schema, its version and its description in French and English."""

from __future__ import annotations

from typing import Any, Literal

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, create_model

from shared.events import DomainEvent, EventRegistry, registry


class CloudEventEnvelope(BaseModel):
    """CloudEvents 1.0 structured JSON, with Relais's extension attributes."""

    specversion: Literal["1.0"]
    id: str = Field(description="UUIDv7, or derived from the command's idempotency key")
    source: str = Field(description="/relais/<site>/<service>/<instance>")
    type: str = Field(description="org.relais.<context>.<EventName>.v<version>")
    subject: str = Field(description="The aggregate's id")
    time: str = Field(description="RFC 3339, UTC")
    datacontenttype: Literal["application/json"]
    aggregatetype: str
    aggregateversion: int = Field(ge=1, description="Position of the event in its aggregate")
    actor: str = Field(description="User who caused the event")
    actoragency: str
    actorrole: str
    correlationid: str
    causationid: str | None = None
    traceparent: str | None = Field(default=None, description="W3C trace context")
    prevhash: str = Field(description="SHA-256 (hex) of the aggregate's previous stored event")
    keyid: str = Field(description="Id of the Ed25519 key that signed this event")
    signature: str = Field(description="Ed25519 over the canonical JSON without signature")


def subject_pattern(model: type[DomainEvent]) -> str:
    return f"{model.context}.*.{model.aggregate}.*.{model.name}"


def envelope_model(model: type[DomainEvent]) -> type[BaseModel]:
    return create_model(
        f"{model.context}.{model.name}.v{model.version}",
        __base__=CloudEventEnvelope,
        type=(Literal[model.type_name()], ...),  # type: ignore[arg-type]
        data=(model, ...),
    )


def build_asyncapi(
    reg: EventRegistry = registry, *, server: str = "nats://127.0.0.1:4222"
) -> dict[str, Any]:
    broker = NatsBroker(server)
    for model in reg.all():
        broker.publisher(
            subject_pattern(model),
            schema=envelope_model(model),
            title=f"{model.context}.{model.name}",
            description=(
                f"{model.description['en']} / {model.description['fr']} "
                f"(type {model.type_name()}, stream {model.context.upper()})"
            ),
        )
    spec = AsyncAPI(
        broker,
        title="Relais events / Événements Relais",
        version="1",
        schema_version="3.0.0",
        description=(
            "Every event of the Relais log. Subjects: "
            "<context>.<site>.<aggregate>.<aggregate_id>.<EventName>. "
            "Tous les événements du journal Relais."
        ),
    )
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document
