"""Where a case goes at screening: the screener names the agency that will own it (and,
if they wish, its unit), chosen from the service directory.

An agency can receive a case when at least one of its units handles child protection: a
unit whose service kinds include case-holding work, ``social_support`` (social workers who
follow a child: social promotion centres, the OCPM, NGO child protection units) or
``judicial_protection`` (the police and gendarmerie child protection units, juvenile
justice). Units that only deliver a service to a child another agency follows (medical,
education, shelter...) are reached by referral, never by owning the case. The agency's own
kind (police, government, NGO...) does not decide it: a ministry with no such unit cannot
hold a case, an NGO with one can (``docs/decisions/0017``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.domain import DomainError
from shared.i18n import Message

CASE_HOLDING_SERVICES = frozenset({"social_support", "judicial_protection"})


def handles_child_protection(service_kinds: Iterable[str]) -> bool:
    return not CASE_HOLDING_SERVICES.isdisjoint(service_kinds)


@dataclass(frozen=True)
class KnownAgency:
    """What the directory says of an agency: its units and the services each offers."""

    agency_id: str
    units: Mapping[str, frozenset[str]]

    @property
    def protects_children(self) -> bool:
        return any(handles_child_protection(kinds) for kinds in self.units.values())


@dataclass(frozen=True)
class Receiver:
    agency: str
    unit: str | None


def _refusal(field: str, code: str, en: str, fr: str) -> DomainError:
    return DomainError(code, Message(en=en, fr=fr), status=422, field=field)


def choose_receiver(
    *,
    screener_agency: str,
    screener_unit: str | None,
    asked_agency: str | None,
    asked_unit: str | None,
    known: KnownAgency | None,
) -> Receiver:
    """The agency (and unit) a case opens at. ``known`` is the directory's entry for the
    agency asked for (the screener's own when only a unit is named), or None if the directory
    does not know it. Nothing asked: the screener's agency and unit, as before routing."""
    if asked_agency is None and asked_unit is None:
        return Receiver(screener_agency, screener_unit)
    agency = asked_agency or screener_agency
    if asked_agency is not None:
        if known is None:
            raise _refusal(
                "receiving_agency",
                "unknown_agency",
                "No agency of the directory has this identifier.",
                "Aucune structure de l'annuaire n'a cet identifiant.",
            )
        if not known.protects_children:
            raise _refusal(
                "receiving_agency",
                "agency_without_child_protection",
                "This agency has no unit that handles child protection (social support or "
                "judicial protection): it cannot receive a case.",
                "Cette structure n'a aucune unité chargée de la protection de l'enfant "
                "(accompagnement social ou protection judiciaire) : elle ne peut pas recevoir "
                "de dossier.",
            )
    if asked_unit is None:
        return Receiver(agency, None)
    kinds = known.units.get(asked_unit) if known is not None else None
    if kinds is None:
        raise _refusal(
            "receiving_unit",
            "unit_not_of_agency",
            "This unit is not one of the receiving agency's units.",
            "Cette unité n'est pas une unité de la structure destinataire.",
        )
    if not handles_child_protection(kinds):
        raise _refusal(
            "receiving_unit",
            "unit_without_child_protection",
            "This unit does not handle child protection (social support or judicial "
            "protection): name another unit, or none.",
            "Cette unité n'est pas chargée de la protection de l'enfant (accompagnement social "
            "ou protection judiciaire) : indiquez-en une autre, ou aucune.",
        )
    return Receiver(agency, asked_unit)
