"""What one HTTP request has stored in the log so far, so that its answer can be honest
whatever fails afterwards: once an append is acknowledged, the request answers ``202
Accepted`` (stored, read model late) rather than an error, since an error invites a retry
that would store it twice.

The event store notes every acknowledged append here; the HTTP layer opens a ledger per
request (:func:`open_ledger`) and reads it when something goes wrong (:mod:`shared.outages`).
Outside a request (background loops) nothing is noted."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StoredEvent:
    stream: str
    seq: int
    id: str
    type: str
    aggregate_type: str
    aggregate_id: str


@dataclass
class RequestLedger:
    stored: list[StoredEvent] = field(default_factory=list)
    # An append was sent but the log went away before answering: it may be stored.
    uncertain: bool = False

    @property
    def first(self) -> StoredEvent | None:
        return self.stored[0] if self.stored else None


_current: ContextVar[RequestLedger | None] = ContextVar("relais_request_ledger", default=None)


def open_ledger() -> tuple[RequestLedger, Token[RequestLedger | None]]:
    ledger = RequestLedger()
    return ledger, _current.set(ledger)


def close_ledger(token: Token[RequestLedger | None]) -> None:
    _current.reset(token)


def current() -> RequestLedger | None:
    return _current.get()


def note_stored(events: list[StoredEvent]) -> None:
    ledger = _current.get()
    if ledger is not None:
        ledger.stored.extend(events)


def note_uncertain() -> None:
    ledger = _current.get()
    if ledger is not None:
        ledger.uncertain = True
