"""The portal's rules without I/O: accounts, the sign-in throttle, set-up links, reading the
report form, communes, two child records side by side, the case's next step and timeline, and
the screening body (where the case goes is sent only when it is chosen)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.portal.app.links import Link, LinkSigner
from services.portal.domain import accounts as rules
from services.portal.domain.signin import Attempts, Throttle, after_failure, may_try
from services.portal.web import case_view, duplicates, i18n, places, report_form
from services.portal.web.forms import FormState
from services.portal.web.routes_screening import screening_body
from shared.domain import DomainError

pytestmark = pytest.mark.domain

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("Africa/Porto-Novo")


@pytest.fixture(autouse=True)
def english() -> None:
    i18n.current_language.set("en")


def created(roles: list[str], *, by_operator: bool = False) -> rules.Account:
    events = rules.create(
        rules.Account(),
        account_id="a1",
        email=" Awa@Example.org ",
        display_name="Awa",
        agency="ocpm",
        unit=None,
        roles=roles,
        by_operator=by_operator,
        link_expires=NOW,
    )
    return rules.fold([(events[0], "2026-03-01T12:00:00.000000Z")])


def test_accounts_are_created_with_a_normalised_email_and_grantable_roles() -> None:
    account = created(["screener", "screener", "case_worker"])
    assert account.email == "awa@example.org" and account.roles == ("case_worker", "screener")
    with pytest.raises(DomainError) as refused:
        created(["auditor"])
    assert refused.value.field == "roles"
    assert created(["auditor"], by_operator=True).roles == ("auditor",)
    # The complaint desk is the portal itself (decision 0025): nobody is given its role.
    for by_operator in (False, True):
        with pytest.raises(DomainError) as desk:
            created(["complaint_desk"], by_operator=by_operator)
        assert desk.value.code == "role_not_a_person"
    with pytest.raises(DomainError):
        created([])
    with pytest.raises(DomainError) as exists:
        rules.create(
            created(["screener"]),
            account_id="a1",
            email="awa@example.org",
            display_name=None,
            agency="ocpm",
            unit=None,
            roles=["screener"],
            by_operator=False,
            link_expires=NOW,
        )
    assert exists.value.code == "account_exists"


def test_an_administrator_manages_only_her_agency_and_keeps_her_own_access() -> None:
    account = created(["agency_admin"])
    with pytest.raises(DomainError) as foreign:
        rules.disable(account, reason=None, admin_agency="police", admin_id="x")
    assert foreign.value.status == 404
    with pytest.raises(DomainError):
        rules.change_roles(
            account, roles=["screener"], unit=None, admin_agency="ocpm", admin_id="a1"
        )
    with pytest.raises(DomainError):
        rules.disable(account, reason=None, admin_agency="ocpm", admin_id="a1")
    same = rules.change_roles(
        account, roles=["agency_admin"], unit=None, admin_agency="ocpm", admin_id="b2"
    )
    assert same == []  # nothing changed, nothing recorded
    auditor = created(["auditor"], by_operator=True)
    [changed] = rules.change_roles(
        auditor, roles=["screener"], unit="u1", admin_agency="ocpm", admin_id="b2"
    )
    assert changed.roles == ["auditor", "screener"]  # an operator's role stays


def test_a_link_works_once_and_only_the_latest() -> None:
    account = created(["screener"])
    first = account.links_valid_from
    assert rules.link_usable(account, first)
    later = rules.evolve(
        account, rules.ev.PasswordResetIssued(expires_at="x"), "2026-03-02T00:00:00.000000Z"
    )
    assert not rules.link_usable(later, first)
    assert rules.link_usable(later, "2026-03-02T00:00:00.000000Z")
    used = rules.evolve(later, rules.ev.PasswordSet(), "2026-03-02T00:01:00.000000Z")
    assert not rules.link_usable(used, "2026-03-02T00:00:00.000000Z")
    disabled = rules.evolve(later, rules.ev.AccountDisabled(), "2026-03-02T00:00:30.000000Z")
    assert not rules.link_usable(disabled, "2026-03-02T00:00:00.000000Z")


def test_signed_links_refuse_tampering_and_expiry() -> None:
    signer = LinkSigner(b"k" * 32)
    token = signer.sign(Link("a1", "2026-03-01T12:00:00Z", NOW + timedelta(hours=1)))
    assert signer.read(token, NOW) == Link("a1", "2026-03-01T12:00:00Z", NOW + timedelta(hours=1))
    assert signer.read(token, NOW + timedelta(hours=2)) is None
    payload, mac = token.split(".")
    assert signer.read(f"{payload}x.{mac}", NOW) is None
    assert LinkSigner(b"o" * 32).read(token, NOW) is None
    assert signer.read("garbage", NOW) is None


def test_the_throttle_waits_then_locks_then_forgets() -> None:
    throttle = Throttle(lockout_after=4, lockout=timedelta(minutes=15), backoff_base_s=1.0)
    state = after_failure(Attempts(), NOW, throttle)
    assert may_try(state, NOW).allowed  # one slip costs nothing
    state = after_failure(state, NOW, throttle)
    assert not may_try(state, NOW).allowed and may_try(state, NOW + timedelta(seconds=1)).allowed
    state = after_failure(state, NOW + timedelta(seconds=1), throttle)
    assert may_try(state, NOW + timedelta(seconds=2)).wait_s == pytest.approx(1.0)
    state = after_failure(state, NOW + timedelta(seconds=5), throttle)
    verdict = may_try(state, NOW + timedelta(minutes=5))
    assert not verdict.allowed and verdict.locked_until == NOW + timedelta(seconds=5, minutes=15)
    fresh = after_failure(state, NOW + timedelta(hours=1), throttle)
    assert fresh.failures == 1 and fresh.locked_until is None


def test_communes_are_found_without_accents_by_their_department_too() -> None:
    assert places.resolve("Sèmè-Kpodji — Ouémé") == places.resolve("seme-kpodji")
    assert places.resolve("cotonou") == "bj-littoral-cotonou"
    assert places.resolve("Commune inconnue") == "unknown"
    assert places.resolve("Atlantis") is None
    assert {p.label.split(" — ")[1] for p in places.search("donga")} == {"Donga"}
    assert places.search("za-k")[0].label == "Za-Kpota — Zou"


def values(**pairs: str | list[str]) -> dict[str, list[str]]:
    return {k.replace("__", "."): v if isinstance(v, list) else [v] for k, v in pairs.items()}


def test_the_report_form_needs_five_things_and_reads_children() -> None:
    empty = report_form.read_report(values(children__0__sex="unknown"), ZONE)
    assert set(empty.errors) == {"channel", "received_at", "commune", "concerns", "children.0.name"}
    read = report_form.read_report(
        values(
            channel="hotline_116",
            received_at="2026-03-01T09:30",
            commune="Djougou — Donga",
            concerns=["neglect", "child_labour"],
            children__0__name="Kossi",
            children__0__age_years="11",
            children__2__unidentified="1",
            children__2__age_range__min="5",
            children__2__age_range__max="7",
        ),
        ZONE,
    )
    assert read.errors == {}
    assert read.body["received_at"] == "2026-03-01T09:30:00+01:00"
    assert read.body["commune"] == "bj-donga-djougou"
    assert read.body["children"] == [
        {"name": "Kossi", "age_years": 11},
        {"unidentified": True, "age_range": {"min": 5, "max": 7}},
    ]
    # Intake numbers the children it got; the form's second one was its third.
    renamed = report_form.renamed_paths(
        values(children__0__name="a", children__2__name="b", children__1__sex="unknown")
    )
    f = FormState.of({})
    from services.portal.app.api import Answer

    refusal = {
        "error": {
            "message": "x",
            "fields": [{"field": "children.1.age_years", "reason": "too old"}],
        }
    }
    f.refused(Answer(422, refusal), ["children.2", "children.2.age_years"], renamed)
    assert f.errors == {"children.2.age_years": "too old"}


def test_a_named_child_needs_no_age_and_an_unnamed_one_is_flagged() -> None:
    read = report_form.read_report(
        values(
            channel="x",
            received_at="2026-03-01T09:30",
            commune="cotonou",
            concerns="neglect",
            children__0__age_years="4",
        ),
        ZONE,
    )
    assert "children.0.name" in read.errors


def test_two_records_side_by_side_say_what_agrees() -> None:
    left = {
        "commune": "bj-littoral-cotonou",
        "received_at": "2026-02-01T10:00:00Z",
        "details": {"name": "Kossi Agbodjan", "sex": "male", "age_years": 11},
    }
    right = {
        "commune": "bj-littoral-cotonou",
        "received_at": "2025-11-01T10:00:00Z",
        "details": {"name": "Kosi Agbodjan", "sex": "male", "date_of_birth": "2014-06-01"},
    }
    rows = duplicates.compare(left, right, date(2026, 3, 1))
    assert duplicates.matched(rows) == ["Name", "Sex", "Age", "Commune"]


def case(**fields: object) -> dict[str, object]:
    return {"status": "open", "stage": "registration", "worker_id": "w", **fields}


def test_the_next_step_follows_the_stage() -> None:
    assert case_view.next_step(case(worker_id=None)).form == "assignment"
    assert case_view.next_step(case()).to_stage == "initial_assessment"
    assert case_view.next_step(case(stage="initial_assessment")).form == "assessment"
    assessed = case(stage="initial_assessment", assessments=[{"kind": "initial"}])
    assert case_view.next_step(assessed).to_stage == "comprehensive_assessment"
    deep = case(stage="comprehensive_assessment", assessments=[{"kind": "comprehensive"}])
    step = case_view.next_step(deep)
    assert (step.to_stage, step.also) == ("best_interests", "case_plan")
    assert case_view.next_step(case(stage="case_plan")).form == "goal"
    assert case_view.next_step(case(stage="case_plan", goals=[{"actions": []}])).form == "action"
    assert case_view.next_step(case(status="closure_requested")).form == ""


def test_the_timeline_names_who_and_when_newest_first() -> None:
    entries = case_view.timeline(
        case(
            opened_at="2026-03-01T10:00:00Z",
            assessments=[
                {
                    "kind": "initial",
                    "risk_level": "high",
                    "child_views": "x",
                    "at": "2026-03-02T10:00:00Z",
                    "by": "w",
                }
            ],
        ),
        [{"sensitivity": "restricted", "written_at": "2026-03-03T10:00:00Z", "author": "w"}],
        {"w": "Koffi"},
    )
    assert [(e.who, e.text) for e in entries] == [
        ("Koffi", "Note added (Restricted)"),
        ("Koffi", "Initial assessment recorded: risk High; the child's views are recorded"),
        ("", "Case opened from an accepted report"),
    ]


def test_the_case_forms_send_what_casework_expects() -> None:
    form = case_view.CASE_FORMS["assessment"]
    sent = {
        "kind": "initial",
        "risk_level": "low",
        "needs": "school\nfood, care",
        "views_not_heard_reason": "age",
    }
    assert form.body(lambda name: sent.get(name, "")) == {
        "kind": "initial",
        "risk_level": "low",
        "needs": ["school", "food", "care"],
        "views_not_heard_reason": "age",
    }
    visit = case_view.CASE_FORMS["visit"].body(
        lambda name: {"visited_on": "2026-03-01", "child_seen": "no"}.get(name, "")
    )
    assert visit == {"visited_on": "2026-03-01", "child_seen": False}


def test_where_the_case_goes_is_sent_only_when_chosen() -> None:
    base = {
        "decision": "protection_concern",
        "urgency": "high",
        "rationale": "why not",
        "version": "7",
    }
    body, errors = screening_body(FormState.of(base), "ocpm")
    assert errors == {} and body == {
        "decision": "protection_concern",
        "urgency": "high",
        "rationale": "why not",
    }  # the version the screener saw travels as If-Match, never in the body
    own, _ = screening_body(FormState.of({**base, "receiving_agency": "ocpm"}), "ocpm")
    assert "receiving_agency" not in own
    other, _ = screening_body(
        FormState.of({**base, "receiving_agency": "police", "receiving_unit": "bpm"}), "ocpm"
    )
    assert (other["receiving_agency"], other["receiving_unit"]) == ("police", "bpm")
    _, missing = screening_body(FormState.of({"rationale": "x"}), "ocpm")
    assert set(missing) == {"decision", "urgency", "rationale"}
