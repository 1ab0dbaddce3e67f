"""Complaint follow-up by the oversight body: acknowledged, then resolved (upheld or not, with
an outcome); illegal steps refused with 409; the actor complained about never sees it."""

from __future__ import annotations

from typing import Any

import pytest

from shared.envelope import Aggregate
from tests.intake.conftest import Intake

pytestmark = pytest.mark.connected

EN = {"Accept-Language": "en"}


def _complaint(about: str) -> dict[str, Any]:
    return {
        "about_user": about,
        "about_agency": "police-parakou",
        "complainant": "family",
        "account": "L'agent a frappé l'enfant pendant l'audition.",
    }


async def test_oversight_acknowledges_then_resolves_and_lists_by_status(intake: Intake) -> None:
    filer = intake.as_("case_worker")
    filed = (await filer.post("/complaints", _complaint("agent-7"))).json()
    first, seen = filed["complaint_id"], filed["version"]
    second = (await filer.post("/complaints", _complaint("agent-9"))).json()["complaint_id"]
    ombud = intake.as_("oversight", user="ombud-1", agency="inspection")

    async def listed(**params: Any) -> list[str]:
        answer = await ombud.get("/complaints", **params)
        assert answer.status_code == 200, answer.text
        return [c["complaint_id"] for c in answer.json()["items"]]

    assert set(await listed(status="filed")) == {first, second}
    early = await ombud.post(
        f"/complaints/{first}/resolution",
        {"upheld": True, "outcome": "Sanction"},
        version=seen,
        **EN,
    )
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_acknowledged"
    assert early.json()["error"]["message"] == "Acknowledge the complaint before resolving it."
    acked = await ombud.post(
        f"/complaints/{first}/acknowledgement", {"note": "Dossier ouvert"}, version=seen
    )
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    twice = await ombud.post(
        f"/complaints/{first}/acknowledgement", version=acked.json()["version"]
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_acknowledged"
    assert twice.json()["error"]["message"] == "La réception de cette plainte a déjà été accusée."
    assert await listed(status="acknowledged") == [first]
    assert await listed(status="filed") == [second]
    resolved = await ombud.post(
        f"/complaints/{first}/resolution",
        {"upheld": True, "outcome": "Agent suspendu, famille informée"},
        version=acked.json()["version"],
    )
    assert resolved.status_code == 200, resolved.text
    assert await listed(status="resolved") == [first]
    view = (await ombud.get(f"/complaints/{first}")).json()
    assert view["status"] == "resolved" and view["resolved"]["upheld"] is True
    assert view["resolved"]["outcome"] == "Agent suspendu, famille informée"
    assert view["acknowledged"]["by"]["user"] == "ombud-1"
    for step, body in (
        ("acknowledgement", {}),
        ("resolution", {"upheld": False, "outcome": "Non"}),
    ):
        late = await ombud.post(
            f"/complaints/{first}/{step}", body, version=resolved.json()["version"]
        )
        assert late.status_code == 409 and late.json()["error"]["code"] == "complaint_resolved"
    stored = await intake.runtime.store.load(Aggregate("intake", "hq", "complaint", first))
    assert [e.event.name for e in stored] == [
        "ComplaintFiled",
        "ComplaintAcknowledged",
        "ComplaintResolved",
    ]
    # A decision on a stale view of the complaint is refused with the current version.
    stale = await ombud.post(f"/complaints/{second}/acknowledgement", {}, version=1)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    assert (
        stale.json()["error"]["current_version"]
        == (await ombud.get(f"/complaints/{second}")).json()["version"]
    )


async def test_the_accused_never_sees_or_handles_the_complaint(intake: Intake) -> None:
    filer = intake.as_("hotline_operator")
    filed = (await filer.post("/complaints", _complaint("agent-7"))).json()
    cid, seen = filed["complaint_id"], filed["version"]
    accused = intake.as_("oversight", user="agent-7", agency="police-parakou")
    assert (await accused.get("/complaints")).json()["items"] == []
    assert (await accused.get("/complaints", status="filed")).json()["total"] == 0
    assert (await accused.get(f"/complaints/{cid}")).status_code == 404
    ack = await accused.post(f"/complaints/{cid}/acknowledgement", version=seen)
    assert ack.status_code == 404 and ack.json()["error"]["code"] == "not_found"
    resolve = await accused.post(
        f"/complaints/{cid}/resolution", {"upheld": False, "outcome": "Rien"}, version=seen
    )
    assert resolve.status_code == 404
    # Other people's complaints: the same answer as for one that does not exist.
    unknown = "00000000-0000-7000-8000-000000000000"
    missing = await accused.post(f"/complaints/{unknown}/acknowledgement", version=seen)
    assert missing.status_code == 404
    stored = await intake.runtime.store.load(Aggregate("intake", "hq", "complaint", cid))
    assert [e.event.name for e in stored] == ["ComplaintFiled"]
    auditor = intake.as_("auditor", agency="inspection")
    assert (await auditor.get(f"/complaints/{cid}")).status_code == 200
    for role in ("auditor", "hotline_operator", "supervisor", "case_worker"):
        refused = await intake.as_(role).post(f"/complaints/{cid}/acknowledgement", version=seen)
        assert refused.status_code == 403, role


async def test_bad_follow_up_bodies_and_filters(intake: Intake) -> None:
    filer = intake.as_("hotline_operator")
    filed = (await filer.post("/complaints", _complaint("agent-7"))).json()
    cid = filed["complaint_id"]
    ombud = intake.as_("oversight", user="ombud-1")
    await ombud.post(f"/complaints/{cid}/acknowledgement", version=filed["version"])
    url = f"/complaints/{cid}/resolution"
    for body, field in [
        ({"upheld": True}, "outcome"),
        ({"outcome": "Sanction"}, "upheld"),
        ({"upheld": "perhaps", "outcome": "Sanction"}, "upheld"),
        ({"upheld": True, "outcome": "ok"}, "outcome"),
        ({"upheld": True, "outcome": "x" * 20_001}, "outcome"),
        ({"upheld": True, "outcome": "Sanction", "blame": "x"}, "blame"),
    ]:
        answer = await ombud.post(url, body, **EN)
        assert answer.status_code == 422, answer.text
        assert field in {f["field"] for f in answer.json()["error"]["fields"]}
    long_note = await ombud.post(f"/complaints/{cid}/acknowledgement", {"note": "x" * 3000})
    assert long_note.status_code == 422
    assert (await ombud.get("/complaints", status="lost")).status_code == 422
    assert (await ombud.get("/complaints", page_size=1000)).status_code == 422
    assert (await ombud.post("/complaints/nope/acknowledgement")).status_code == 422
    assert (await ombud.get("/complaints/00000000-0000-7000-8000-000000000000")).status_code == 404
    stored = await intake.runtime.store.load(Aggregate("intake", "hq", "complaint", cid))
    assert [e.event.name for e in stored] == ["ComplaintFiled", "ComplaintAcknowledged"]


async def test_the_public_complaint_desk_files_and_reads_a_status_by_code_only(
    intake: Intake,
) -> None:
    """Decision 0025: the desk files, and reads a status by tracking code; nothing else."""
    desk = intake.as_("complaint_desk", user="complaint-desk", agency="public")
    code = "ABCD-EFGH-JKMN-PQRS"
    filed = await desk.post("/complaints", {**_complaint("agent-7"), "tracking_code": code})
    assert filed.status_code == 201, filed.text
    cid = filed.json()["complaint_id"]
    status = await desk.post("/complaints/tracking", {"tracking_code": code})
    assert status.status_code == 200, status.text
    assert status.json() == {
        "status": "filed",
        "filed_at": status.json()["filed_at"],
        "acknowledged_at": None,
        "resolved_at": None,
    }
    wrong = await desk.post("/complaints/tracking", {"tracking_code": "ABCD-EFGH-JKMN-PQRT"}, **EN)
    assert wrong.status_code == 404
    assert wrong.json()["error"]["field"] == "tracking_code"
    bad = await desk.post("/complaints/tracking", {"tracking_code": "x"})
    assert bad.status_code == 422
    # The desk reads no complaint, list or child record, and handles nothing.
    assert (await desk.get("/complaints")).status_code == 403
    assert (await desk.get(f"/complaints/{cid}")).status_code == 403
    assert (await desk.post(f"/complaints/{cid}/acknowledgement", version=1)).status_code == 403
    assert (await desk.get("/reports")).status_code == 403
    # Only the code's hash is on the log, and oversight does not see even that.
    stored = await intake.runtime.store.load(Aggregate("intake", "hq", "complaint", cid))
    assert code not in stored[0].event.model_dump_json()
    ombud = intake.as_("oversight", user="ombud-1")
    view = (await ombud.get(f"/complaints/{cid}")).json()
    assert "tracking_hash" not in view and view["filed_by_agency"] == "public"
    acked = await ombud.post(f"/complaints/{cid}/acknowledgement", {}, version=view["version"])
    assert acked.status_code == 200
    later = (await desk.post("/complaints/tracking", {"tracking_code": code})).json()
    assert later["status"] == "acknowledged" and later["acknowledged_at"]
    # Any other role may not look a code up.
    assert (
        await intake.as_("oversight").post("/complaints/tracking", {"tracking_code": code})
    ).status_code == 403
