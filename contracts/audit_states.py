"""What each event of intake, casework and referral does to its aggregate's state as an
auditor reads it (``DomainEvent.audit_state``, folded by ``shared/audit_history.py``): the
rules of ``shared/audit_state.py``, as data, in one place an auditor can read.

After a transfer the owner is the new agency, after a stage change the stage is the new one,
the opening report stays the opening report: each event says which state fields it sets from
which of its own. An event type left out here is listed as not folded (a test keeps every
type of these contexts declared)."""

from __future__ import annotations

from contracts import casework, intake, referral
from shared.audit_state import Add, Count, Entry, Highest, Merge, Remove, Set, SetAll, Value

# -- intake ------------------------------------------------------------------------------
intake.ReportAccepted.audit_state = (
    # The agency and unit the case went to: not the report's own agency.
    Set("receiving_agency", "agency"),
    Set("receiving_unit", "unit"),
    Set("accepted_at"),
    Value("accepted", True),
)
intake.ReportRegistered.audit_state = (SetAll(), Value("status", "received"))
intake.ReportScreened.audit_state = (
    Set("status", "decision"),
    Set("decision"),
    Set("urgency"),
    Set("rationale"),
    Set("redirect_to"),
    Set("screening_deadline", "deadline"),
    Set("screened_at"),
    Set("within_deadline"),
    Set("rescreen_by"),
)
intake.ReportAmended.audit_state = (Merge(None, "changes"),)
intake.ScreeningOverdue.audit_state = (Value("overdue", True),)
intake.RescreeningOverdue.audit_state = (Value("rescreen_overdue", True),)
intake.ChildRecorded.audit_state = (SetAll(),)
intake.DuplicateSuggested.audit_state = (
    Entry(
        "duplicates",
        "candidate_id",
        {"score": "score", "reasons": "reasons", "weights_id": "weights_id"},
        {"status": "pending"},
    ),
)
intake.DuplicateConfirmed.audit_state = (
    Entry("duplicates", "candidate_id", values={"status": "confirmed"}),
)
intake.DuplicateRejected.audit_state = (
    Entry("duplicates", "candidate_id", values={"status": "rejected"}),
)
intake.ChildDetailsCorrected.audit_state = (Merge("details", "changes"),)
intake.ChildCorrectionRefused.audit_state = (
    Entry("refused_corrections", "request_id", {"case_id": "case_id", "code": "code"}),
)
intake.ComplaintFiled.audit_state = (SetAll(), Value("status", "filed"))
intake.ComplaintAcknowledged.audit_state = (
    Value("status", "acknowledged"),
    Set("acknowledgement_note", "note"),
)
intake.ComplaintResolved.audit_state = (Value("status", "resolved"), Set("upheld"), Set("outcome"))
# The matcher's weights, re-estimated from people's decisions: each estimate replaces the last.
intake.MatchWeightsEstimated.audit_state = (SetAll(),)

# -- casework ----------------------------------------------------------------------------
casework.CaseOpened.audit_state = (
    SetAll(frozenset({"report_id", "initial_risk", "registration_due_at"})),
    # The report the case opened from stays the opening report; ``reports`` grows.
    Set("opening_report", "report_id"),
    Add("reports", "report_id"),
    Set("risk_level", "initial_risk"),
    Value("stage", "registration"),
    Set("stage_due_at", "registration_due_at"),
    Value("stage_overdue", False),
    Value("status", "open"),
)
casework.ReportAttachedToCase.audit_state = (
    Add("reports", "report_id"),
    Add("concerns"),
    Highest("urgency", ("normal", "high", "emergency")),
)
casework.CaseAssigned.audit_state = (
    Set("worker_id"),
    Set("supervisor_id"),
    Set("required_competencies"),
    Set("missing_competencies"),
    Set("override_reason"),
)
casework.StageChanged.audit_state = (
    Set("stage", "to_stage"),
    Set("stage_due_at", "due_at"),
    Value("stage_overdue", False),
)
casework.StageOverdue.audit_state = (Value("stage_overdue", True),)
casework.AssessmentRecorded.audit_state = (
    Set("risk_level"),
    Entry("assessments", "assessment_id", all_fields=True),
)
casework.BestInterestsDetermined.audit_state = (
    Entry("determinations", "determination_id", all_fields=True),
)
casework.PlanGoalAdded.audit_state = (Entry("goals", "goal_id", all_fields=True),)
casework.PlanActionAdded.audit_state = (Entry("actions", "action_id", all_fields=True),)
casework.ClosureRequested.audit_state = (
    Value("status", "closure_requested"),
    Set("closure_reason", "reason"),
    Set("closure_note", "note"),
)
casework.ClosureRejected.audit_state = (
    Value("status", "open"),
    Value("closure_reason", None),
    Value("closure_note", None),
)
casework.CaseClosed.audit_state = (
    Value("status", "closed"),
    Value("stage", "closure"),
    Value("stage_due_at", None),
    Set("closure_reason", "reason"),
    Set("closure_requested_by", "requested_by"),
    Set("closure_approved_by", "approved_by"),
)
casework.CaseReopened.audit_state = (
    Value("status", "open"),
    Value("stage", "initial_assessment"),
    Set("stage_due_at", "due_at"),
    Value("stage_overdue", False),
    Value("closure_reason", None),
    Set("reopening_reason", "reason"),
)
casework.ChildIdentified.audit_state = (Set("identified_child", "child_id"),)
casework.ServiceDelivered.audit_state = (Entry("services", "service_id", all_fields=True),)
casework.FollowUpVisitRecorded.audit_state = (
    Entry("visits", "visit_id", all_fields=True),
    Set("risk_level", given=True),
    Set("next_visit_due"),
    Value("visit_overdue", False),
)
casework.CaseNoteAdded.audit_state = (Entry("notes", "note_id", {"sensitivity": "sensitivity"}),)
casework.FollowUpVisitOverdue.audit_state = (Value("visit_overdue", True),)
casework.TransferRequested.audit_state = (
    Entry(
        "transfers",
        "transfer_id",
        {"to_agency": "to_agency", "to_unit": "to_unit", "reason": "reason"},
        {"status": "requested"},
    ),
    Set("pending_transfer", "transfer_id"),
)
casework.TransferAccepted.audit_state = (
    # The receiving agency owns the case now, and chooses its own worker.
    Set("agency", "to_agency"),
    Set("unit", "to_unit"),
    Value("worker_id", None),
    Value("supervisor_id", None),
    Value("pending_transfer", None),
    Entry("transfers", "transfer_id", {"accepted_by": "accepted_by"}, {"status": "accepted"}),
)
casework.TransferDeclined.audit_state = (
    Value("pending_transfer", None),
    Entry("transfers", "transfer_id", {"answer": "reason"}, {"status": "declined"}),
)
casework.TransferWithdrawn.audit_state = (
    Value("pending_transfer", None),
    Entry("transfers", "transfer_id", {"answer": "reason"}, {"status": "withdrawn"}),
)
# A site transfer moves where the case is changed (its log's site), not who is responsible.
casework.CaseReleasedToSite.audit_state = (Set("released_to_site", "to_site"),)
casework.CaseTakenOverFromSite.audit_state = (
    Set("taken_over_from_site", "from_site"),
    Value("released_to_site", None),
)
casework.ReferralRequested.audit_state = (
    Entry(
        "referral_requests",
        "referral_id",
        {"action_id": "action_id", "to_unit": "to_unit", "service_kind": "service_kind"},
    ),
)
casework.ChildDetailsReported.audit_state = (Count("child_corrections_reported"),)

# -- referral ----------------------------------------------------------------------------
referral.StaffMemberRegistered.audit_state = (SetAll(),)
referral.CompetencyAssessed.audit_state = (
    Entry(
        "competencies",
        "competency",
        {"level": "level", "assessor": "assessor", "assessed_on": "assessed_on"},
    ),
)
referral.ReferralMade.audit_state = (SetAll(), Value("status", "made"))
referral.ReferralAccepted.audit_state = (
    Value("status", "accepted"),
    Set("capacity_override_reason"),
)
referral.ReferralDeclined.audit_state = (
    Value("status", "declined"),
    Set("decline_reason", "reason"),
    Set("suggested_unit"),
)
referral.ReferralCompleted.audit_state = (Value("status", "completed"), Set("outcome"))
referral.ReferralWithdrawn.audit_state = (
    Value("status", "withdrawn"),
    Set("withdrawal_reason", "reason"),
)
referral.AgencyRegistered.audit_state = (SetAll(),)
referral.UnitDescribed.audit_state = (SetAll(),)
referral.CapacitySet.audit_state = (Set("total"), Set("occupied_outside"))
referral.PlaceReserved.audit_state = (Add("reserved_for", "referral_id"),)
referral.PlaceReleased.audit_state = (Remove("reserved_for", "referral_id"),)
referral.PlaceHeld.audit_state = (Add("held", "hold_id"),)
referral.PlaceFreed.audit_state = (Remove("held", "hold_id"),)
referral.TrainingSessionHeld.audit_state = (SetAll(),)
referral.ReferralDetailsShared.audit_state = (SetAll(frozenset({"referral_id"})),)
referral.ReferralOverdue.audit_state = (Value("overdue", True),)
referral.ReferralEscalated.audit_state = (Value("escalated", True), Set("escalated_to"))
referral.ReferralRequestRefused.audit_state = (
    Value("status", "refused"),
    Set("action_id"),
    Set("refusal_code", "code"),
    Set("refusal_en", "message_en"),
    Set("refusal_fr", "message_fr"),
)
