"""What child events do to the child records (for duplicate matching and search), their
suggested duplicates and links, and the child records still owed (pending children).

Casework's ``ChildIdentified`` comes from another stream, in no particular order relative to
intake's: a pending child is therefore "owed" only while no child record of that id exists
(an anti-join at read time), never a status one stream's handler has to flip for the
other. Casework's ``ChildDetailsReported`` is owed the same way: while no correction or
refusal of the child names it as its cause."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.casework import ChildDetailsReported, ChildIdentified
from contracts.intake import (
    ChildCorrectionRefused,
    ChildDetailsCorrected,
    ChildRecorded,
    DuplicateConfirmed,
    DuplicateRejected,
    DuplicateSuggested,
    MatchWeightsEstimated,
    ReportedChild,
)
from services.intake.domain import age_range, apply_correction, child_from_identified, parse_time
from services.intake.domain.matching import birth_window
from services.intake.read.match_profiles import stored_keys
from services.intake.read.tables import (
    child_keys,
    children,
    links,
    match_weights,
    pending_children,
    pending_corrections,
    projection,
    suggestions,
)
from shared.causation import correlation_of
from shared.recorded import RecordedEvent


@projection.on("casework", "ChildIdentified")
async def _identified(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ChildIdentified)
    await owe(conn, e, "case", [child_from_identified(e.aggregate.id, ev)])


@projection.on("casework", "ChildDetailsReported")
async def _reported(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ChildDetailsReported)
    await conn.execute(
        insert(pending_corrections)
        .values(
            request_id=e.id,
            correlation_id=correlation_of(e),
            child_id=ev.child_id,
            case_id=ev.case_id,
            site=e.aggregate.site,
            requested_at=parse_time(e.time),
            # Who asked: the correction is theirs, intake only applies it.
            actor=e.actor.model_dump(),
            changes=ev.changes,
            reason=ev.reason,
            traceparent=e.envelope.get("traceparent"),
        )
        .on_conflict_do_nothing()
    )


async def owe(
    conn: AsyncConnection, e: RecordedEvent, source: str, records: list[ChildRecorded]
) -> None:
    if not records:
        return
    await conn.execute(
        insert(pending_children).on_conflict_do_nothing(), owed_rows(e, source, records)
    )


def owed_rows(e: RecordedEvent, source: str, records: list[ChildRecorded]) -> list[dict[str, Any]]:
    """The ``intake_pending_children`` rows of the child records ``e`` makes owed."""
    return [
        {
            "child_id": r.child_id,
            "site": e.aggregate.site,
            "source": source,
            "request_id": e.id,
            "correlation_id": correlation_of(e),
            "requested_at": parse_time(e.time),
            "event": r.model_dump(mode="json"),
            "traceparent": e.envelope.get("traceparent"),
        }
        for r in records
    ]


def _matchable(d: ReportedChild, received_at: str) -> dict[str, Any]:
    """The columns matching and search use, derived from the child as it now reads."""
    received = parse_time(received_at).date()
    known = age_range(d, received)
    born = birth_window(
        received,
        date.fromisoformat(d.date_of_birth) if d.date_of_birth else None,
        known[0] if known else None,
        known[1] if known else None,
    )
    return {
        "sex": d.sex,
        "unidentified": d.unidentified or not (d.name or d.alias),
        "born_from": born[0] if born else None,
        "born_to": born[1] if born else None,
        "details": d.model_dump(mode="json"),
    }


def key_rows(
    child_id: str, report_id: str | None, d: ReportedChild, received_at: str
) -> list[dict[str, Any]]:
    """The ``intake_child_keys`` rows of a child as it now reads: the matcher's index."""
    found = _matchable(d, received_at)
    return [
        {
            "key": k,
            "child_id": child_id,
            "sex": found["sex"],
            "matchable": not found["unidentified"],
            "report_id": report_id,
            "received_at": parse_time(received_at),
        }
        for k in stored_keys(d, received_at)
    ]


def child_row(e: RecordedEvent) -> dict[str, Any]:
    """The ``intake_children`` row of a ``ChildRecorded`` (applied in batches:
    :mod:`.registrations`, which also settles the child's pending row)."""
    ev = e.event
    assert isinstance(ev, ChildRecorded)
    return {
        "child_id": ev.child_id,
        "report_id": ev.report_id,
        "case_id": ev.case_id,
        "agency": ev.agency,
        "commune": ev.commune,
        "corrections": [],
        "refusals": [],
        "received_at": parse_time(ev.received_at),
        "version": e.seq,
        **_matchable(ev.details, ev.received_at),
    }


@projection.on("intake", "ChildDetailsCorrected")
async def _corrected(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ChildDetailsCorrected)
    row = (await conn.execute(select(children).where(children.c.child_id == ev.child_id))).one()
    details = apply_correction(ReportedChild.model_validate(row.details), ev.changes)
    # The casework request it answers, if any: what the child corrector's anti-join reads.
    request_id = e.envelope.get("causationid")
    history = [
        *row.corrections,
        {
            "fields": ev.fields,
            "reason": ev.reason,
            "at": e.time,
            "by": e.actor.model_dump(),
            "request_id": request_id,
        },
    ]
    await conn.execute(
        update(children)
        .where(children.c.child_id == ev.child_id)
        .values(
            corrections=history,
            version=e.seq,
            **_matchable(details, row.received_at.isoformat()),
        )
    )
    # The index follows the child as it now reads: its old keys go, its new ones come.
    await conn.execute(delete(child_keys).where(child_keys.c.child_id == ev.child_id))
    keys = key_rows(ev.child_id, row.report_id, details, row.received_at.isoformat())
    if keys:
        await conn.execute(insert(child_keys).on_conflict_do_nothing(), keys)
    if request_id:
        await conn.execute(
            delete(pending_corrections).where(pending_corrections.c.request_id == request_id)
        )


@projection.on("intake", "ChildCorrectionRefused")
async def _correction_refused(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, ChildCorrectionRefused)
    row = (
        await conn.execute(select(children.c.refusals).where(children.c.child_id == ev.child_id))
    ).one()
    refusal = {
        "request_id": ev.request_id,
        "case_id": ev.case_id,
        "code": ev.code,
        "reason": {"en": ev.reason_en, "fr": ev.reason_fr},
        "at": e.time,
    }
    await conn.execute(
        update(children)
        .where(children.c.child_id == ev.child_id)
        .values(refusals=[*row.refusals, refusal], version=e.seq)
    )
    await conn.execute(
        delete(pending_corrections).where(pending_corrections.c.request_id == ev.request_id)
    )


def suggestion_row(e: RecordedEvent) -> dict[str, Any]:
    """The ``intake_duplicate_suggestions`` row of a ``DuplicateSuggested`` (applied in
    batches: :mod:`.registrations`, which also sets the child's version)."""
    ev = e.event
    assert isinstance(ev, DuplicateSuggested)
    return {
        "child_id": ev.child_id,
        "candidate_id": ev.candidate_id,
        "score": ev.score,
        "reasons": ev.reasons,
        "status": "pending",
        "explanation": {"en": ev.explanation_en, "fr": ev.explanation_fr},
        "comparison": ev.comparison,
        "weights_id": ev.weights_id,
    }


async def _child_version(conn: AsyncConnection, child_id: str, seq: int) -> None:
    await conn.execute(update(children).where(children.c.child_id == child_id).values(version=seq))


async def _resolve(conn: AsyncConnection, e: RecordedEvent, status: str) -> None:
    ev = e.event
    assert isinstance(ev, DuplicateConfirmed | DuplicateRejected)
    await conn.execute(
        update(suggestions)
        .where(suggestions.c.child_id == ev.child_id)
        .where(suggestions.c.candidate_id == ev.candidate_id)
        .values(status=status, decided_seq=e.seq)
    )
    if status == "confirmed":  # a link both ways; both records and histories stay
        await conn.execute(
            insert(links)
            .values(
                [
                    {"child_id": ev.child_id, "other_id": ev.candidate_id},
                    {"child_id": ev.candidate_id, "other_id": ev.child_id},
                ]
            )
            .on_conflict_do_nothing()
        )
    await _child_version(conn, ev.child_id, e.seq)


@projection.on("intake", "DuplicateConfirmed")
async def _confirmed(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _resolve(conn, e, "confirmed")


@projection.on("intake", "DuplicateRejected")
async def _rejected(conn: AsyncConnection, e: RecordedEvent) -> None:
    await _resolve(conn, e, "rejected")


@projection.on("intake", "MatchWeightsEstimated")
async def _weights(conn: AsyncConnection, e: RecordedEvent) -> None:
    ev = e.event
    assert isinstance(ev, MatchWeightsEstimated)
    await conn.execute(
        insert(match_weights)
        .values(
            seq=e.seq,
            weights_id=ev.weights_id,
            weights=ev.model_dump(mode="json"),
            estimated_at=parse_time(ev.estimated_at),
        )
        .on_conflict_do_nothing()
    )
