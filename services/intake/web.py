"""Small pieces every intake route uses: the runtime, the caller as an actor, loading an
aggregate's state from the log, and domain refusals turned into answers people can read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request

from services.intake.events import DuplicateSuggested
from shared.auth import Principal
from shared.envelope import Actor, Aggregate
from shared.events import DomainEvent
from shared.http import ApiError
from shared.i18n import Message
from shared.service import Runtime

S = TypeVar("S")

ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
NOT_FOUND = Message(en="Not found.", fr="Introuvable.")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def actor_of(principal: Principal) -> Actor:
    return Actor(user=principal.user, agency=principal.agency, role=principal.primary_role)


def aggregate(runtime: Runtime, kind: str, id_: str) -> Aggregate:
    return Aggregate("intake", runtime.settings.site, kind, id_)


async def load(
    runtime: Runtime, agg: Aggregate, fold: Callable[[list[DomainEvent]], S]
) -> tuple[S, int]:
    """The aggregate's state from the log (the truth) and its version for the next append."""
    assert runtime.store is not None
    recorded = await runtime.store.load(agg)
    return fold([r.event for r in recorded]), (recorded[-1].seq if recorded else 0)


def not_found() -> ApiError:
    # The same answer whether the record does not exist or belongs to another agency.
    return ApiError(404, "not_found", NOT_FOUND)


def suggestion_view(s: DuplicateSuggested) -> dict[str, Any]:
    """A suggested duplicate as answers show it: why, in both languages, and which weights
    scored it."""
    return {
        "candidate_id": s.candidate_id,
        "score": s.score,
        "reasons": s.reasons,
        "explanation": {"en": s.explanation_en, "fr": s.explanation_fr},
        "weights_id": s.weights_id,
    }
