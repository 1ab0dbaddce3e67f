"""Intake's read model tables, and the one projection that fills them from the handler
modules of this package."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.projection import Projection

metadata = MetaData()
reports = Table(
    "intake_reports",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("agency", String(200), nullable=False, index=True),
    Column("unit", String(200)),
    Column("channel", String(50), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("commune", String(100), nullable=False),
    Column("concerns", ARRAY(String(100)), nullable=False),
    Column("status", String(50), nullable=False, index=True),
    Column("urgency", String(20), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False, index=True),
    Column("screened_at", DateTime(timezone=True)),
    Column("within_deadline", Boolean),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("rescreen_by", DateTime(timezone=True), index=True),  # waiting for more information
    Column("rescreen_overdue", Boolean, nullable=False, default=False),
    Column("immediate_danger", Boolean, nullable=False),
    Column("children_count", Integer, nullable=False),
    Column("document", JSONB, nullable=False),  # the report as it now reads, amendments applied
    Column("version", BigInteger, nullable=False),  # last stream sequence: expected version
)
children = Table(
    "intake_children",
    metadata,
    Column("child_id", String(64), primary_key=True),
    Column("report_id", String(64), index=True),  # none for a child found by a case worker
    Column("case_id", String(64)),  # the case opened directly for the child, if any
    Column("agency", String(200), nullable=False),
    Column("commune", String(100), nullable=False),
    Column("sex", String(20), nullable=False),
    Column("unidentified", Boolean, nullable=False),
    Column("born_from", Float),
    Column("born_to", Float),
    Column("details", JSONB, nullable=False),  # as it now reads, corrections applied
    Column("corrections", JSONB, nullable=False, default=list),  # fields, reason, when, who
    # Corrections casework sent that intake refused: request, case, code, reason; no value.
    Column("refusals", JSONB, nullable=False, default=list),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
)
# The matcher's index (decision 0032): one narrow row per blocking key of a child record, a
# name code by birth year (``m:SN|2011``), with what the candidate query filters and ranks by
# (copied from the child row; a correction rewrites the child's rows). The unique index on
# (key, child_id) carries those columns (INCLUDE), so that ``key = ANY(...)`` is answered,
# filtered, counted and ranked by an index-only scan; only the best 200 children are then
# read, by primary key. Never a scan of similar records.
child_keys = Table(
    "intake_child_keys",
    metadata,
    Column("key", String(48), nullable=False),
    Column("child_id", String(64), nullable=False),
    Column("sex", String(20), nullable=False),
    Column("matchable", Boolean, nullable=False),  # not unidentified
    Column("report_id", String(64)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index(
        "ux_intake_child_keys",
        "key",
        text("received_at DESC"),
        "child_id",
        unique=True,  # a child's rows all carry its own received time: one row per key
        postgresql_include=["sex", "matchable", "report_id"],
    ),
    Index("ix_intake_child_keys_child", "child_id"),  # what a correction rewrites
)
pending_children = Table(
    "intake_pending_children",
    metadata,
    Column("child_id", String(64), primary_key=True),
    Column("site", String(100), nullable=False),  # the site that must answer the request
    Column("source", String(10), nullable=False),  # report or case
    Column("request_id", String(64), nullable=False),  # the asking event: the causation
    Column("correlation_id", String(64)),  # and its chain
    Column("requested_at", DateTime(timezone=True), nullable=False, index=True),
    Column("event", JSONB, nullable=False),  # the ChildRecorded to append
    Column("traceparent", String(64)),  # the asking event's trace: the record continues it
)
# Corrections casework reported (``ChildDetailsReported``), one per request, for the child
# corrector to answer. Owed while neither the child's corrections nor its refusals name the
# request (an anti-join at read time, as for pending children: the two streams arrive in any
# order); an answer seen after its request deletes the row.
pending_corrections = Table(
    "intake_pending_corrections",
    metadata,
    Column("request_id", String(64), primary_key=True),  # the casework event: the causation
    Column("correlation_id", String(64)),  # and its chain
    Column("child_id", String(64), nullable=False, index=True),
    Column("case_id", String(64), nullable=False),
    Column("site", String(100), nullable=False),  # the site that must answer the request
    Column("requested_at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", JSONB, nullable=False),  # the worker, from casework's envelope
    Column("changes", JSONB, nullable=False),  # as intake's correction body names them
    Column("reason", Text, nullable=False),
    Column("traceparent", String(64)),  # the request's trace: the answer continues it
)
suggestions = Table(
    "intake_duplicate_suggestions",
    metadata,
    Column("child_id", String(64), primary_key=True),
    Column("candidate_id", String(64), primary_key=True),
    Column("score", Float, nullable=False),
    Column("reasons", ARRAY(String(20)), nullable=False),
    Column("status", String(20), nullable=False),
    Column("explanation", JSONB, nullable=False),  # {"en": ..., "fr": ...}: names children
    Column("comparison", JSONB, nullable=False),  # field -> level, what a decision teaches
    Column("weights_id", String(40), nullable=False),
    Column("decided_seq", BigInteger),  # the confirmation or rejection: training data order
)
# The duplicate matcher's weights, as estimated from decisions: the last row is in force.
match_weights = Table(
    "intake_match_weights",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # stream sequence of MatchWeightsEstimated
    Column("weights_id", String(40), nullable=False, unique=True),
    Column("weights", JSONB, nullable=False),
    Column("estimated_at", DateTime(timezone=True), nullable=False),
)
links = Table(
    "intake_child_links",
    metadata,
    Column("child_id", String(64), primary_key=True),
    Column("other_id", String(64), primary_key=True),
)
complaints = Table(
    "intake_complaints",
    metadata,
    Column("complaint_id", String(64), primary_key=True),
    Column("about_user", String(200), nullable=False),
    Column("about_agency", String(200), nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, index=True),  # filed, acknowledged, resolved
    Column("upheld", Boolean),
    Column("document", JSONB, nullable=False),
    Column("version", BigInteger, nullable=False),
)

# v2: pending children, corrections, re-screen deadlines, complaint follow-up.
# v3: corrections casework reported, and which request each correction answered.
# v4: refusals of those corrections are answers too (the child's refusals); pending
#     corrections no longer keep a status of their own.
# v5: the matcher's index (name codes by birth year, GIN), suggestions' explanations and
#     comparisons, the matcher's weights.
# v6: the trace of what each pending child and correction answers.
# v7: pending children and corrections keep the chain (correlation id) of their request.
# v8: the matcher's index is a key table (intake_child_keys, B-tree) instead of an array
#     column with a GIN index.
# v9: the key table's index is ordered by received time within a key, newest first, so that
#     a key's lookup can stop at the children most recently received (decision 0033).
projection = Projection(name="intake.main", version=9, metadata=metadata)
