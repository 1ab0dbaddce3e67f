"""Commands on a referral: make one, answer it (accept, decline, complete), withdraw it. Each
is decided on the referral folded from the log (the domain's ``evolve``), through the one
application layer. Accepting takes a place at the unit first (capacity aggregate), and
completing or withdrawing gives it back after (see ``capacity.py`` for what an interruption
between the two appends leaves, and how the sweep puts it right)."""

from __future__ import annotations

from collections.abc import Callable

from services.referral.app import capacity as places
from services.referral.app.aggregates import REFERRAL
from services.referral.app.referring import ReferBody, make_command
from services.referral.config import ReferralConfig
from services.referral.domain import Accept, Command, Referral, decide
from shared.causation import continue_chain, correlation_of
from shared.commands import Expect, Outcome
from shared.envelope import Actor
from shared.eventstore import ConcurrencyConflict
from shared.process import Ports

Visible = Callable[[Referral | None], bool]


async def make(
    ports: Ports,
    config: ReferralConfig,
    body: ReferBody,
    *,
    referral_id: str,
    from_agency: str,
    actor: Actor,
    key: str | None,
) -> Outcome[Referral | None]:
    assert ports.commands is not None and ports.engine is not None
    command = await make_command(
        ports.engine, config, body, referral_id=referral_id, from_agency=from_agency
    )
    return await ports.commands.execute(
        REFERRAL,
        referral_id,
        lambda state: decide(state, command),
        expect=Expect.new(),
        actor=actor,
        key=key,
    )


async def transition(
    ports: Ports,
    referral_id: str,
    command: Command,
    *,
    expect: Expect,
    actor: Actor,
    key: str | None,
    visible: Visible,
) -> Outcome[Referral | None]:
    assert ports.commands is not None
    return await ports.commands.execute(
        REFERRAL,
        referral_id,
        lambda state: decide(state, command),
        expect=expect,
        actor=actor,
        key=key,
        visible=visible,
    )


async def accept(
    ports: Ports,
    referral_id: str,
    command: Accept,
    *,
    to_unit: str,
    expect: Expect,
    actor: Actor,
    key: str | None,
    visible: Visible,
) -> Outcome[Referral | None]:
    """Take a place, then accept. The transition is checked before the place is taken; if
    the referral moved first (withdrawn, or accepted by a colleague), the place is given back
    unless it is accepted after all. Other failures keep the place (the acceptance may be
    stored); if it was not, the capacity sweep gives it back after its grace period."""
    assert ports.commands is not None
    loaded = await ports.commands.load(REFERRAL, referral_id)
    if loaded.exists and visible(loaded.state):
        # Refuse an illegal transition before reserving, on the referral as the caller saw it
        # (a retry of an acceptance already stored is answered as the first time).
        as_seen = [r for r in loaded.recorded if expect.kind != "seen" or r.seq <= expect.version]
        decide(REFERRAL.fold(as_seen), command)
        # The place is taken for this referral's story: its events carry the referral's chain.
        continue_chain(correlation_of(loaded.recorded[-1]))
    await places.reserve(ports, actor, to_unit, referral_id, command.override_reason)
    try:
        return await transition(
            ports, referral_id, command, expect=expect, actor=actor, key=key, visible=visible
        )
    except ConcurrencyConflict:
        await places.release_unless_accepted(ports, actor, to_unit, referral_id)
        raise
