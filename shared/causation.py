"""Causation and correlation: which event caused an event, and which chain it belongs to,
set in one place for every append (the event store asks :func:`resolve`).

* ``causationid`` names the event that caused this one: the request a reaction answers
  (casework's ``CaseOpened`` names intake's ``ReportAccepted``), the event whose deadline a
  sweep flags (``StageOverdue`` names the event that began the stage), the report that owed
  a child record. An event a person started (their command over HTTP) has none.
* ``correlationid`` names the chain: the id of the first event of the first command, carried
  by everything that follows from it. A reaction carries its cause's; a person's command on
  an existing aggregate carries the aggregate's (that of its last event), so a case's whole
  story, across services, shares the report's; a command creating an aggregate outside any
  chain starts one (its first event's id).

How an append learns them, in order of precedence:

1. ids given to the append itself (a pending row that kept the request's ids);
2. the ambient chain: :func:`caused_by` around a reaction or a sweep's flag, or the chain of
   the HTTP request (:func:`command_scope`, entered for every request by the service), which
   the request's first append fixes so that its later appends (a report's child records,
   an accepted referral's place) carry the same correlation;
3. the aggregate's own correlation (that of its last event), then a new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from shared.recorded import RecordedEvent


@dataclass
class Chain:
    """The chain the appends of one command or one reaction belong to."""

    correlation_id: str | None = None
    causation_id: str | None = None


_chain: ContextVar[Chain | None] = ContextVar("relais_chain", default=None)


@contextmanager
def caused_by(event_id: str, correlation_id: str | None = None) -> Iterator[None]:
    """Appends inside name ``event_id`` as their cause and carry its chain (``correlation_id``,
    or the cause itself when it started a chain)."""
    token = _chain.set(Chain(correlation_id or event_id, event_id))
    try:
        yield
    finally:
        _chain.reset(token)


def caused_by_event(event: RecordedEvent) -> Any:
    """:func:`caused_by` the stored ``event``."""
    return caused_by(event.id, correlation_of(event))


@contextmanager
def command_scope() -> Iterator[Chain]:
    """One person's command: no cause; its first append fixes the chain for the others."""
    chain = Chain()
    token = _chain.set(chain)
    try:
        yield chain
    finally:
        _chain.reset(token)


def continue_chain(correlation_id: str | None) -> None:
    """The command acts on behalf of this chain (its first append is on an aggregate that
    belongs to another story, such as a unit's places): later appends carry it."""
    chain = _chain.get()
    if chain is not None and chain.correlation_id is None and correlation_id:
        chain.correlation_id = correlation_id


def correlation_of(event: RecordedEvent) -> str:
    return str(event.envelope.get("correlationid") or event.id)


def resolve(
    correlation_id: str | None, causation_id: str | None, aggregate_correlation: str | None
) -> tuple[str | None, str | None]:
    """The (correlation, causation) an append writes; a correlation of None means a new
    chain, named after the append's first event."""
    chain = _chain.get()
    cause = causation_id or (chain.causation_id if chain else None)
    chained = chain.correlation_id if chain else None
    return correlation_id or chained or aggregate_correlation, cause


def appended(correlation_id: str) -> None:
    """Called by the event store after sealing an append: the command's chain is now fixed."""
    chain = _chain.get()
    if chain is not None and chain.correlation_id is None:
        chain.correlation_id = correlation_id
