"""The code lists every service serves: ``GET /reference`` names them, ``GET /reference/{list}``
gives one with its French and English labels. The same data the services check requests
against (:mod:`shared.reference`, :mod:`shared.auth`), so a client generated from the OpenAPI
document finds what a closed field accepts without reading ``/statistics``."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shared.auth import ROLE_LABELS, Principal, Role
from shared.i18n import Message
from shared.reference import codes, frameworks, locations


class CodeList(StrEnum):
    communes = "communes"
    departments = "departments"
    concerns = "concerns"
    vulnerabilities = "vulnerabilities"
    channels = "channels"
    urgencies = "urgencies"
    sexes = "sexes"
    service_kinds = "service_kinds"
    closure_reasons = "closure_reasons"
    age_bands = "age_bands"
    competencies = "competencies"
    competency_levels = "competency_levels"
    sectors = "sectors"
    roles = "roles"


class LabelOut(BaseModel):
    en: str
    fr: str


class CodeOut(BaseModel):
    code: str
    label: LabelOut
    parent: str | None = Field(
        default=None, description="The enclosing code (a commune's department, a concern's group)"
    )


class CodeListOut(BaseModel):
    name: CodeList
    label: LabelOut
    codes: list[CodeOut]


class CodeListSummaryOut(BaseModel):
    name: CodeList
    label: LabelOut
    href: str
    count: int


class ReferenceIndexOut(BaseModel):
    lists: list[CodeListSummaryOut]


def _label(message: Message) -> LabelOut:
    return LabelOut(en=message.en, fr=message.fr)


def _named(name: str) -> LabelOut:
    # Place names are proper nouns: the same in both languages.
    return LabelOut(en=name, fr=name)


def _from(
    entries: dict[str, Message], parent: Callable[[str], str | None] | None = None
) -> list[CodeOut]:
    return [
        CodeOut(code=c, label=_label(m), parent=parent(c) if parent else None)
        for c, m in entries.items()
    ]


UNKNOWN = Message(en="Unknown", fr="Inconnu(e)")

TITLES: dict[CodeList, Message] = {
    CodeList.communes: Message(en="Communes", fr="Communes"),
    CodeList.departments: Message(en="Departments", fr="Départements"),
    CodeList.concerns: Message(en="Concern categories", fr="Catégories de préoccupation"),
    CodeList.vulnerabilities: Message(en="Vulnerability factors", fr="Facteurs de vulnérabilité"),
    CodeList.channels: Message(en="Reporting channels", fr="Canaux de signalement"),
    CodeList.urgencies: Message(en="Urgency levels", fr="Niveaux d'urgence"),
    CodeList.sexes: Message(en="Sexes", fr="Sexes"),
    CodeList.service_kinds: Message(en="Service kinds", fr="Types de service"),
    CodeList.closure_reasons: Message(en="Case closure reasons", fr="Motifs de clôture"),
    CodeList.age_bands: Message(en="Age bands", fr="Tranches d'âge"),
    CodeList.competencies: Message(en="Competencies", fr="Compétences"),
    CodeList.competency_levels: Message(en="Competency levels", fr="Niveaux de compétence"),
    CodeList.sectors: Message(en="Competency sectors", fr="Secteurs de compétence"),
    CodeList.roles: Message(en="Roles", fr="Rôles"),
}


def code_list(which: CodeList) -> list[CodeOut]:
    """The codes of one list, in their reference order."""
    c = codes()
    match which:
        case CodeList.communes:
            where = locations()
            return [
                CodeOut(code=a.code, label=_named(a.name), parent=a.parent)
                for a in where.at_level(1)
            ] + [CodeOut(code="unknown", label=_label(UNKNOWN))]
        case CodeList.departments:
            return [CodeOut(code=a.code, label=_named(a.name)) for a in locations().at_level(0)]
        case CodeList.concerns:
            return _from(c.concerns, c.concern_groups.get)
        case CodeList.vulnerabilities:
            return _from(c.vulnerabilities)
        case CodeList.channels:
            return _from(c.channels)
        case CodeList.urgencies:
            return _from(c.urgencies)
        case CodeList.sexes:
            return _from(c.sexes)
        case CodeList.service_kinds:
            return _from(c.service_kinds)
        case CodeList.closure_reasons:
            return _from(c.closure_reasons)
        case CodeList.age_bands:
            return [
                CodeOut(code=code, label=LabelOut(en=f"{lo}-{hi} years", fr=f"{lo}-{hi} ans"))
                for code, lo, hi in c.age_bands
            ]
        case CodeList.competencies:
            f = frameworks()
            return [
                CodeOut(code=k, label=_label(v.label), parent=v.sector)
                for k, v in f.competencies.items()
            ]
        case CodeList.competency_levels:
            return _from(frameworks().level_labels)
        case CodeList.sectors:
            return _from(frameworks().sectors)
        case CodeList.roles:
            return [
                CodeOut(code=r.value, label=_label(ROLE_LABELS.get(r, Message(en=r, fr=r))))
                for r in Role
            ]


def codes_of(which: CodeList) -> list[str]:
    return [entry.code for entry in code_list(which)]


def signed_in(request: Request) -> Principal:
    """Any valid token: code lists are no secret, but every route names its caller."""
    from shared.access import authenticate

    return authenticate(request)


signed_in.relais_signed_in = True  # type: ignore[attr-defined]  # read by shared.openapi

router = APIRouter(prefix="/reference", tags=["reference"])


@router.get("")
async def reference_index(
    principal: Annotated[Principal, Depends(signed_in)],
) -> ReferenceIndexOut:
    """Every code list this service knows, with where to read it."""
    return ReferenceIndexOut(
        lists=[
            CodeListSummaryOut(
                name=which,
                label=_label(TITLES[which]),
                href=f"/reference/{which.value}",
                count=len(code_list(which)),
            )
            for which in CodeList
        ]
    )


@router.get("/{list_name}")
async def reference_list(
    list_name: CodeList,
    principal: Annotated[Principal, Depends(signed_in)],
) -> CodeListOut:
    """One code list: each code with its French and English label (and its parent code, where
    the list is a hierarchy)."""
    return CodeListOut(name=list_name, label=_label(TITLES[list_name]), codes=code_list(list_name))
