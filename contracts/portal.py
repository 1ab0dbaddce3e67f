"""The portal's events: account events, who gave whom which access. They go on the AUDIT
stream (context ``audit``, aggregate ``account``), signed by the portal's instance key like
every event, so an auditor reads every account change from the log. Passwords, their hashes
and sessions never appear here: they stay in the portal's own database."""

from __future__ import annotations

from pydantic import Field

from shared.events import DomainEvent, event_type

Roles = list[str]


@event_type(
    context="audit",
    aggregate="account",
    en="An agency administrator (or the operator, for an agency's first one) created a user "
    "account with its roles.",
    fr="Un administrateur de structure (ou l'exploitant, pour le premier d'une structure) a "
    "créé un compte utilisateur avec ses rôles.",
)
class AccountCreated(DomainEvent):
    account_id: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254)
    display_name: str | None = Field(default=None, max_length=200)
    agency: str = Field(min_length=1, max_length=200)
    unit: str | None = Field(default=None, max_length=200)
    roles: Roles = Field(min_length=1)
    setup_link_expires_at: str = Field(description="Until when the set-up link works (UTC)")


@event_type(
    context="audit",
    aggregate="account",
    en="An agency administrator changed the roles or the unit of a user account.",
    fr="Un administrateur de structure a modifié les rôles ou l'unité d'un compte utilisateur.",
)
class AccountRolesChanged(DomainEvent):
    roles: Roles = Field(min_length=1)
    unit: str | None = Field(default=None, max_length=200)
    previous_roles: Roles
    previous_unit: str | None = None


@event_type(
    context="audit",
    aggregate="account",
    en="An agency administrator disabled a user account: it can no longer sign in, and its "
    "sessions ended.",
    fr="Un administrateur de structure a désactivé un compte utilisateur : il ne peut plus se "
    "connecter et ses sessions ont pris fin.",
)
class AccountDisabled(DomainEvent):
    reason: str | None = Field(default=None, max_length=500)


@event_type(
    context="audit",
    aggregate="account",
    en="An agency administrator enabled a disabled user account again.",
    fr="Un administrateur de structure a réactivé un compte utilisateur désactivé.",
)
class AccountEnabled(DomainEvent):
    pass


@event_type(
    context="audit",
    aggregate="account",
    en="An agency administrator issued a password reset link for a user account.",
    fr="Un administrateur de structure a émis un lien de réinitialisation du mot de passe d'un "
    "compte utilisateur.",
)
class PasswordResetIssued(DomainEvent):
    expires_at: str = Field(description="Until when the link works (UTC)")


@event_type(
    context="audit",
    aggregate="account",
    en="A user chose the password of their account through a set-up or reset link.",
    fr="Un utilisateur a choisi le mot de passe de son compte au moyen d'un lien de création "
    "ou de réinitialisation.",
)
class PasswordSet(DomainEvent):
    pass
