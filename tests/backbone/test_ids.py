"""Derived ids are RFC 9562 version 5 UUIDs, exactly ``uuid.uuid5``'s: every stored event id
derived from an idempotency key depends on it, forever."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ids import _NAMESPACE, derived_id

pytestmark = pytest.mark.domain

_text = st.text(st.characters(exclude_categories=("Cs",)))  # no lone surrogates: not UTF-8


@settings(max_examples=500, deadline=None)
@given(st.lists(_text, min_size=1, max_size=4))
def test_a_derived_id_is_the_standard_name_based_uuid(parts: list[str]) -> None:
    assert derived_id(*parts) == str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def test_a_known_id_never_changes() -> None:
    assert derived_id("intake.hq.report.r-1.*", "key-1", "0") == str(
        uuid.uuid5(
            uuid.UUID("9b0c1f0e-5a55-4c1e-9d8e-72656c616973"),
            "intake.hq.report.r-1.*\x1fkey-1\x1f0",
        )
    )
