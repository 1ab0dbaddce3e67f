"""Agency administrators: their agency's users. Create (with a one-time set-up link to hand
over), change roles and unit, disable and enable, issue a password reset link. Each change is
an account event on the log, naming the administrator who made it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.portal.app import sessions
from services.portal.domain.accounts import GRANTABLE_ROLES
from services.portal.read import accounts as account_rows
from services.portal.web import i18n
from services.portal.web.calling import call
from services.portal.web.context import Viewer, portal_of
from services.portal.web.forms import FormState
from services.portal.web.i18n import _
from services.portal.web.pages import forbidden, message_page, not_found, page
from services.portal.web.routes_screening import REFERRAL_PAGE, valid_id
from services.portal.web.security import posted, signed_in
from shared.auth import ROLE_LABELS, Role
from shared.domain import DomainError
from shared.envelope import Actor
from shared.eventstore import EventStoreError
from shared.service import ReadYourWritesTimeout

log = logging.getLogger(__name__)
router = APIRouter()
ADMIN = "agency_admin"
USER_FIELDS = ("email", "display_name", "roles", "unit", "reason")


def role_options() -> list[tuple[str, str]]:
    return [(r.value, i18n.localised(ROLE_LABELS[r])) for r in GRANTABLE_ROLES]


def role_name(code: str) -> str:
    return i18n.localised(ROLE_LABELS[Role(code)]) if code in Role.__members__ else code


def _admin(viewer: Viewer) -> Actor:
    return Actor(user=viewer.user, agency=viewer.agency, role=ADMIN)


async def _units(request: Request, viewer: Viewer) -> list[tuple[str, str]]:
    answer = await call(
        request,
        viewer,
        "referral",
        "GET",
        "/units",
        params={"agency_id": viewer.agency, "page_size": REFERRAL_PAGE},
    )
    return [
        (str(u["unit_id"]), str(u.get("name") or u["unit_id"]))
        for u in answer.data.get("items", [])
        if isinstance(u, dict) and u.get("unit_id")
    ]


async def _users_page(
    request: Request, viewer: Viewer, f: FormState | None = None, *, status: int = 200
) -> Response:
    portal = portal_of(request)
    people = await account_rows.of_agency(portal.engine, viewer.agency)
    return page(
        request,
        "admin/users.html",
        viewer,
        status=status,
        title=_("Users"),
        people=people,
        f=f or FormState.of(),
        roles=role_options(),
        role_name=role_name,
        units=await _units(request, viewer),
        oidc=portal.oidc is not None,
        done=request.query_params.get("done", ""),
    )


def _guard(viewer: Viewer) -> bool:
    return viewer.has(ADMIN) and viewer.local


@router.get("/admin/users", response_class=HTMLResponse)
async def users(request: Request) -> Response:
    viewer = await signed_in(request)
    if not viewer.has(ADMIN):
        return forbidden(request, viewer)
    return await _users_page(request, viewer)


def _failed(f: FormState, exc: Exception) -> int:
    if isinstance(exc, DomainError):
        f.add(exc.field or "", i18n.localised(exc.message)) if exc.field else f.general.append(
            i18n.localised(exc.message)
        )
        return exc.status if exc.status != 409 else 422
    f.general.append(_("Not saved: the system could not store it right now. Try again."))
    return 503


def _link_page(request: Request, viewer: Viewer, email: str, link: str, kind: str) -> Response:
    return page(
        request,
        "admin/link.html",
        viewer,
        title=_("A link to hand over"),
        email=email,
        link=link,
        kind=kind,
    )


@router.post("/admin/users", response_class=HTMLResponse)
async def create_user(request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not _guard(viewer):
        return forbidden(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    if p.review:
        return await _users_page(request, viewer, f)
    portal = portal_of(request)
    try:
        issued = await portal.accounts.create(
            email=p.get("email"),
            display_name=p.get("display_name"),
            agency=viewer.agency,
            unit=p.get("unit"),
            roles=p.all("roles"),
            actor=_admin(viewer),
            key=f.idem,
        )
    except ReadYourWritesTimeout:
        return RedirectResponse("/admin/users?done=later", status_code=303)
    except (DomainError, EventStoreError) as exc:
        return await _users_page(request, viewer, f, status=_failed(f, exc))
    log.info("account created through the portal")
    return _link_page(request, viewer, p.get("email").lower(), issued.link, "setup")


@router.post("/admin/users/{account_id}/{change}", response_class=HTMLResponse)
async def change_user(account_id: str, change: str, request: Request) -> Response:
    p = await posted(request)
    viewer = p.viewer
    if not _guard(viewer):
        return forbidden(request, viewer)
    portal = portal_of(request)
    row = await account_rows.by_id(portal.engine, account_id) if valid_id(account_id) else None
    if row is None or row.agency != viewer.agency:
        return not_found(request, viewer)
    f = FormState.of(p.form, idem=p.idempotency_key)
    admin = _admin(viewer)
    book = portal.accounts
    try:
        if change == "roles":
            await book.change_roles(
                account_id, roles=p.all("roles"), unit=p.get("unit"), admin=admin, key=f.idem
            )
        elif change == "disable":
            await book.disable(account_id, reason=p.get("reason"), admin=admin, key=f.idem)
            await sessions.end_all(portal.engine, account_id)
        elif change == "enable":
            await book.enable(account_id, admin=admin, key=f.idem)
        elif change == "reset":
            issued = await book.issue_reset(account_id, admin=admin, key=f.idem)
            await sessions.end_all(portal.engine, account_id)
            return _link_page(request, viewer, row.email, issued.link, "reset")
        else:
            return not_found(request, viewer)
    except ReadYourWritesTimeout:
        return RedirectResponse("/admin/users?done=later", status_code=303)
    except (DomainError, EventStoreError) as exc:
        status = _failed(f, exc)
        return message_page(
            request,
            viewer,
            status=status,
            title=_("Not changed"),
            text="; ".join(t for _n, t in f.error_list),
            link=("/admin/users", _("Back to the users")),
        )
    log.info("account changed through the portal: %s", change)
    return RedirectResponse("/admin/users?done=saved", status_code=303)
