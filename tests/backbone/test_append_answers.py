"""The log's answer to an append, read strictly: stored sequences or a definite refusal."""

from __future__ import annotations

import pytest

from shared.eventstore import EventStoreError
from shared.nats_store import _InProcess, _NotSent, _stored_sequences
from shared.sealing_store import AlreadyPublished, WrongLastSequence

pytestmark = pytest.mark.domain


@pytest.mark.parametrize(
    ("answer", "count", "expected"),
    [
        (b'{"stream":"INTAKE","seq":7}', 1, [7]),
        (b'{"stream":"INTAKE","seq":9,"count":3}', 3, [7, 8, 9]),
        (b'{"error":{"code":400,"err_code":10071,"description":"wrong last"}}', 1, "conflict"),
        (b'{"error":{"code":400,"err_code":10164,"description":"wrong last"}}', 1, "in process"),
        (b'{"error":{"code":400,"err_code":10201,"description":"dup batch"}}', 2, "duplicate"),
        (b'{"stream":"INTAKE","seq":7,"duplicate":true}', 1, "duplicate"),
        (b'{"error":{"code":503,"err_code":10008,"description":"unavailable"}}', 1, "not sent"),
        (b'{"error":{"code":500,"err_code":10077,"description":"other"}}', 1, "refused"),
        (b'{"stream":"INTAKE","seq":9,"count":2}', 3, "refused"),  # part of a batch
        (b"", 1, "refused"),
        (b"[7]", 1, "refused"),
        (b"not json", 1, "refused"),
        (b'{"seq":"7"}', 1, "refused"),
        (b'{"seq":9,"count":"3"}', 3, "refused"),
    ],
)
def test_the_logs_answer_to_an_append_is_read_strictly(
    answer: bytes, count: int, expected: list[int] | str
) -> None:
    """Every answer is stored sequences or a definite refusal: an unexpected answer is an
    error the caller reports, never a sequence guessed or a crash."""
    outcomes = {
        "conflict": WrongLastSequence,
        "in process": _InProcess,
        "duplicate": AlreadyPublished,
        "not sent": _NotSent,
        "refused": EventStoreError,
    }
    if isinstance(expected, list):
        assert _stored_sequences(answer, count) == expected
    else:
        with pytest.raises(outcomes[expected]):
            _stored_sequences(answer, count)
