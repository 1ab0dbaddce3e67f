"""Services offered against services expected, for a hub or a unit: a pure calculation.

A hub (a regional justice and security hub, say) is a unit that other units name as their
``hub_id``. What the hub is expected to provide is its own ``expected_services``; what it
offers is every service kind of the hub and of its member units that can take a child now.

"Can take a child now" is the rule a worker would use: a unit that counts its places offers
its services while at least one is free; a unit that has never set a capacity does not
count places (legal aid, a hotline) and always offers its services. A unit whose capacity
was set to zero offers nothing until it has a place again."""

from __future__ import annotations

from dataclasses import dataclass

from shared.i18n import Message


@dataclass(frozen=True)
class Member:
    unit_id: str
    name: str
    service_kinds: tuple[str, ...]
    available: int | None  # None: the unit does not count its places

    @property
    def takes_children(self) -> bool:
        return self.available is None or self.available > 0


@dataclass(frozen=True)
class Availability:
    expected: tuple[str, ...]
    offered: tuple[str, ...]  # the expected kinds offered now, in the expected order
    missing: tuple[str, ...]
    label: Message


def label(offered: int, expected: int) -> Message:
    # English agrees with the total ("1 of 1 service"), French with the count ("2 services").
    return Message(
        en=f"{offered} of {expected} service{'' if expected == 1 else 's'} available",
        fr=f"{offered} service{'s' if offered > 1 else ''} sur {expected} "
        f"disponible{'s' if offered > 1 else ''}",
    )


def availability(expected: list[str], members: list[Member]) -> Availability:
    wanted = tuple(dict.fromkeys(expected))
    now = {kind for m in members if m.takes_children for kind in m.service_kinds}
    offered = tuple(k for k in wanted if k in now)
    missing = tuple(k for k in wanted if k not in now)
    return Availability(wanted, offered, missing, label(len(offered), len(wanted)))
