"""User accounts as a fold of their events, and the decisions on them: who may create which
account, change roles, disable, enable, and hand out a password link."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from contracts import portal as ev
from shared.auth import Role
from shared.domain import refuse
from shared.events import DomainEvent

# Roles whose reach crosses agencies (they read every agency's records, or receive complaints
# about any of them): given by the operator of the system, never by an agency administrator.
OPERATOR_ONLY_ROLES = frozenset({Role.auditor, Role.oversight})
# Roles no person holds: the public complaint desk is the portal itself (decision 0025).
NOT_A_PERSON = frozenset({Role.complaint_desk})
GRANTABLE_ROLES: tuple[Role, ...] = tuple(
    r for r in Role if r not in OPERATOR_ONLY_ROLES and r not in NOT_A_PERSON
)
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{1,63}$")
PASSWORD_MIN, PASSWORD_MAX = 10, 200


@dataclass(frozen=True)
class Account:
    exists: bool = False
    account_id: str = ""
    email: str = ""
    display_name: str | None = None
    agency: str = ""
    unit: str | None = None
    roles: tuple[str, ...] = ()
    disabled: bool = False
    links_valid_from: str = ""  # a link issued before this instant no longer works
    password_set_at: str = ""


def evolve(state: Account, event: DomainEvent, at: str) -> Account:
    if isinstance(event, ev.AccountCreated):
        return Account(
            exists=True,
            account_id=event.account_id,
            email=event.email,
            display_name=event.display_name,
            agency=event.agency,
            unit=event.unit,
            roles=tuple(event.roles),
            links_valid_from=at,
        )
    if isinstance(event, ev.AccountRolesChanged):
        return replace(state, roles=tuple(event.roles), unit=event.unit)
    if isinstance(event, ev.AccountDisabled):
        return replace(state, disabled=True)
    if isinstance(event, ev.AccountEnabled):
        return replace(state, disabled=False)
    if isinstance(event, ev.PasswordResetIssued):
        return replace(state, links_valid_from=at)
    if isinstance(event, ev.PasswordSet):
        return replace(state, password_set_at=at)
    return state


def fold(events: Iterable[tuple[DomainEvent, str]]) -> Account:
    state = Account()
    for event, at in events:
        state = evolve(state, event, at)
    return state


def normalise_email(value: str) -> str:
    return value.strip().lower()


def check_email(value: str) -> str:
    email = normalise_email(value)
    if not EMAIL.match(email):
        refuse(
            "invalid_email",
            "Give an email address such as awa.dossou@example.org.",
            "Indiquez une adresse électronique comme awa.dossou@exemple.org.",
            status=422,
            field="email",
        )
    return email


def check_roles(roles: Iterable[str], *, by_operator: bool) -> list[str]:
    chosen = list(dict.fromkeys(r for r in roles if r))
    if not chosen:
        refuse(
            "roles_required",
            "Choose at least one role.",
            "Choisissez au moins un rôle.",
            status=422,
            field="roles",
        )
    if any(r in {a.value for a in NOT_A_PERSON} for r in chosen):
        refuse(
            "role_not_a_person",
            "No person holds this role: the public complaint desk is the portal itself.",
            "Aucune personne ne détient ce rôle : le guichet public des plaintes est le "
            "portail lui-même.",
            status=422,
            field="roles",
        )
    allowed = set(Role) if by_operator else set(GRANTABLE_ROLES)
    if any(r not in {a.value for a in allowed} for r in chosen):
        refuse(
            "role_not_grantable",
            "An agency administrator cannot give this role (auditors and oversight bodies "
            "are set up by the system's operator).",
            "Un administrateur de structure ne peut pas attribuer ce rôle (les auditeurs et "
            "organes de contrôle sont créés par l'exploitant du système).",
            status=422,
            field="roles",
        )
    return sorted(chosen)


def check_password(password: str, confirmation: str) -> None:
    if len(password) < PASSWORD_MIN:
        refuse(
            "password_too_short",
            f"At least {PASSWORD_MIN} characters: a short sentence is easy to remember.",
            f"Au moins {PASSWORD_MIN} caractères : une courte phrase se retient facilement.",
            status=422,
            field="password",
        )
    if len(password) > PASSWORD_MAX:
        refuse(
            "password_too_long",
            f"At most {PASSWORD_MAX} characters.",
            f"Au plus {PASSWORD_MAX} caractères.",
            status=422,
            field="password",
        )
    if password != confirmation:
        refuse(
            "passwords_differ",
            "The two passwords differ.",
            "Les deux mots de passe diffèrent.",
            status=422,
            field="confirmation",
        )


def create(
    state: Account,
    *,
    account_id: str,
    email: str,
    display_name: str | None,
    agency: str,
    unit: str | None,
    roles: Iterable[str],
    by_operator: bool,
    link_expires: datetime,
) -> list[DomainEvent]:
    if state.exists:
        refuse(
            "account_exists",
            "An account with this email address already exists.",
            "Un compte existe déjà avec cette adresse électronique.",
            status=409,
            field="email",
        )
    return [
        ev.AccountCreated(
            account_id=account_id,
            email=check_email(email),
            display_name=(display_name or "").strip() or None,
            agency=agency,
            unit=(unit or "").strip() or None,
            roles=check_roles(roles, by_operator=by_operator),
            setup_link_expires_at=iso(link_expires),
        )
    ]


def _managed(state: Account, admin_agency: str) -> None:
    # Another agency's account answers as a missing one.
    if not state.exists or state.agency != admin_agency:
        refuse("account_not_found", "No such account.", "Compte introuvable.", status=404)


def change_roles(
    state: Account, *, roles: Iterable[str], unit: str | None, admin_agency: str, admin_id: str
) -> list[DomainEvent]:
    _managed(state, admin_agency)
    chosen = check_roles(roles, by_operator=False)
    # An operator-only role already held stays: an agency administrator neither gives nor
    # takes it away.
    kept = sorted({*chosen, *(r for r in state.roles if Role(r) in OPERATOR_ONLY_ROLES)})
    if state.account_id == admin_id and Role.agency_admin.value not in kept:
        refuse(
            "own_admin_role",
            "You cannot take away your own administrator role: ask another administrator.",
            "Vous ne pouvez pas retirer votre propre rôle d'administrateur : demandez à un "
            "autre administrateur.",
            status=422,
            field="roles",
        )
    unit = (unit or "").strip() or None
    if tuple(kept) == tuple(sorted(state.roles)) and unit == state.unit:
        return []
    return [
        ev.AccountRolesChanged(
            roles=kept, unit=unit, previous_roles=sorted(state.roles), previous_unit=state.unit
        )
    ]


def disable(
    state: Account, *, reason: str | None, admin_agency: str, admin_id: str
) -> list[DomainEvent]:
    _managed(state, admin_agency)
    if state.account_id == admin_id:
        refuse(
            "own_account",
            "You cannot disable your own account.",
            "Vous ne pouvez pas désactiver votre propre compte.",
            status=422,
        )
    if state.disabled:
        return []
    return [ev.AccountDisabled(reason=(reason or "").strip() or None)]


def enable(state: Account, *, admin_agency: str) -> list[DomainEvent]:
    _managed(state, admin_agency)
    return [ev.AccountEnabled()] if state.disabled else []


def issue_reset(state: Account, *, admin_agency: str, expires: datetime) -> list[DomainEvent]:
    _managed(state, admin_agency)
    if state.disabled:
        refuse(
            "account_disabled",
            "Enable the account first.",
            "Réactivez d'abord le compte.",
            status=422,
        )
    return [ev.PasswordResetIssued(expires_at=iso(expires))]


def set_password(state: Account, *, link_issued_at: str) -> list[DomainEvent]:
    """Through a link: only the latest one, only once, only for an enabled account."""
    if not link_usable(state, link_issued_at):
        refuse(
            "link_used",
            "This link has already been used or replaced by a newer one. Ask your "
            "administrator for a new link.",
            "Ce lien a déjà servi ou a été remplacé par un plus récent. Demandez un nouveau "
            "lien à votre administrateur.",
            status=410,
        )
    return [ev.PasswordSet()]


def link_usable(state: Account, link_issued_at: str) -> bool:
    return (
        state.exists
        and not state.disabled
        and link_issued_at >= state.links_valid_from
        and (not state.password_set_at or state.password_set_at < link_issued_at)
    )


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
