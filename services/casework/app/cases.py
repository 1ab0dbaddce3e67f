"""Commands on a case: every one goes through the one application layer
(``shared.commands``), decided by the domain's ``decide`` on the case folded from the log,
with casework's standards."""

from __future__ import annotations

from collections.abc import Callable

from services.casework import domain as d
from services.casework.config import load_rules
from shared.commands import AggregateKind, Expect, Key, Outcome
from shared.envelope import Actor
from shared.i18n import Message
from shared.process import Ports
from shared.recorded import RecordedEvent

NOT_FOUND = Message(en="No such case.", fr="Dossier introuvable.")


def _evolve(state: d.CaseState, recorded: RecordedEvent) -> d.CaseState:
    # The envelope's user: the four-eyes rule needs who did what.
    return d.evolve(state, recorded.event, actor=recorded.actor.user)


CASE = AggregateKind(
    "casework", "case", d.CaseState(), _evolve, not_found=NOT_FOUND, not_found_code="case_not_found"
)


async def run(
    ports: Ports,
    case_id: str,
    command: d.Command,
    *,
    expect: Expect,
    actor: Actor,
    key: Key[d.CaseState] = None,
    visible: Callable[[d.CaseState], bool] | None = None,
    retry: bool = False,
) -> Outcome[d.CaseState]:
    """Decide ``command`` on the case and append its events (nothing when it changes
    nothing); ``visible``: who may act on the case as it now stands (a transfer may have
    moved it since the caller read it)."""
    assert ports.commands is not None
    rules = load_rules(ports.settings)
    return await ports.commands.execute(
        CASE,
        case_id,
        lambda state: d.decide(state, command, rules),
        expect=expect,
        actor=actor,
        key=key,
        visible=visible,
        retry=retry,
    )
